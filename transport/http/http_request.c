/* Captured requests (http_do): the easy handle, request bodies, response
 * headers, and one attempt whose body is kept in memory. */
#include "transport/http/http_internal.h"
#include "core/util/array_grow.h"
#include "core/util/secrets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- responses ---------------------------------------------------------- */

void http_response_free(struct http_response *r)
{
	for (size_t i = 0; i < r->n_headers; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	free(r->headers);
	buffer_free(&r->body);
	free(r->effective_url);
	memset(r, 0, sizeof(*r));
}

void http_response_reset(struct http_response *r)
{
	unsigned attempts = r->attempts;
	double waited = r->waited;
	http_response_free(r);
	r->attempts = attempts;
	r->waited = waited;
}

bool http_response_timed_out(const struct http_response *r)
{
	return r->curl_code == CURLE_OPERATION_TIMEDOUT;
}

const char *http_response_header(const struct http_response *r, const char *name)
{
	for (size_t i = 0; i < r->n_headers; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

static size_t on_header(char *data, size_t size, size_t n, void *ctx)
{
	struct http_response *r = ctx;
	size_t len = size * n;
	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* A new response (after a redirect or a 100): forget the last one's. */
		for (size_t i = 0; i < r->n_headers; i++) {
			free(r->headers[i].name);
			free(r->headers[i].value);
		}
		r->n_headers = 0;
		return len;
	}
	const char *colon = memchr(data, ':', len);
	if (!colon)
		return len;
	const char *v = colon + 1, *end = data + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	if (ARRAY_RESERVE(r->headers, r->cap_headers, r->n_headers + 1))
		return 0;
	struct http_header *h = r->headers;
	h[r->n_headers].name = strndup(data, (size_t)(colon - data));
	h[r->n_headers].value = strndup(v, (size_t)(end - v));
	if (!h[r->n_headers].name || !h[r->n_headers].value) {
		free(h[r->n_headers].name);
		free(h[r->n_headers].value);
		return 0;
	}
	r->n_headers++;
	return len;
}

/* ---- request bodies ----------------------------------------------------- */

static size_t on_read(char *buf, size_t size, size_t n, void *ctx)
{
	struct http_body *b = ctx;
	size_t len = size * n;
	if (!b->req->body_open) {
		size_t left = b->req->body_len - b->pos;
		if (len > left)
			len = left;
		memcpy(buf, (const char *)b->req->body + b->pos, len);
		b->pos += len;
		return len;
	}
	ssize_t got = source_read(b->src, buf, len);
	if (got < 0) {
		b->error = (int)got;
		error_save(&b->err, (int)got);
		return CURL_READFUNC_ABORT;
	}
	return (size_t)got;
}

/* libcurl rewinds a body when it sends a request again by itself (a
 * reused connection the server had closed, an authentication round):
 * memory is re-read, a streamed body re-opened from its start. */
static int on_seek(void *ctx, curl_off_t offset, int origin)
{
	struct http_body *b = ctx;
	if (origin != SEEK_SET || offset < 0)
		return CURL_SEEKFUNC_CANTSEEK;
	if (!b->req->body_open) {
		if ((size_t)offset > b->req->body_len)
			return CURL_SEEKFUNC_FAIL;
		b->pos = (size_t)offset;
		return CURL_SEEKFUNC_OK;
	}
	if (offset != 0)
		return CURL_SEEKFUNC_CANTSEEK;
	struct byte_source *fresh;
	if (b->req->body_open(b->req->body_ctx, &fresh))
		return CURL_SEEKFUNC_FAIL;
	source_close(b->src);
	b->src = fresh;
	return CURL_SEEKFUNC_OK;
}

/* ---- captured requests -------------------------------------------------- */

struct capture {
	struct buffer *body;
	size_t limit;
};

static size_t on_capture(char *data, size_t size, size_t n, void *ctx)
{
	struct capture *c = ctx;
	size_t len = size * n, room = c->body->len < c->limit ? c->limit - c->body->len : 0;
	if (buffer_append(c->body, data, len < room ? len : room))
		return 0;
	return len; /* beyond the limit: dropped, the transfer goes on */
}

CURL *http_easy_new(struct http_client *c, const struct http_request *req, struct curl_slist **headers,
		    struct http_body *body, struct http_response *resp)
{
	CURL *e = curl_easy_init();
	if (!e)
		return NULL;
	curl_easy_setopt(e, CURLOPT_URL, req->url);
	curl_easy_setopt(e, CURLOPT_SHARE, c->share);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "cachectl/" CACHECTL_VERSION);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, c->o.connect_timeout);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, c->o.idle_timeout);
	http_tls_apply(c, e);
	if (req->follow_redirects) {
		/* libcurl keeps Authorization (ours included) to the first host. */
		curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
	}
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, resp);

	*headers = NULL;
	for (const char *const *h = req->headers; h && *h; h++) {
		http_remember_credentials(*h);
		*headers = curl_slist_append(*headers, *h);
	}
	/* No 100-continue round trip; lengths are always known. */
	*headers = curl_slist_append(*headers, "Expect:");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, *headers);

	const char *m = req->method;
	bool has_body = req->body || req->body_open || strcmp(m, "PUT") == 0 || strcmp(m, "POST") == 0 ||
			strcmp(m, "PATCH") == 0;
	if (strcmp(m, "HEAD") == 0) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (has_body) {
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE,
				 (curl_off_t)(req->body_open ? req->body_size : (int64_t)req->body_len));
		curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(e, CURLOPT_READDATA, body);
		curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(e, CURLOPT_SEEKDATA, body);
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
	} else if (strcmp(m, "GET") != 0) {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
	}
	return e;
}

/* One attempt of a captured request (an http_try_fn): 0 with resp filled
 * (any status), or an error with *curl_rc telling the transport error. */
struct captured_try {
	struct http_client *client;
	const struct http_request *req;
};

static int attempt_once(void *ctx, struct http_response *resp, CURLcode *curl_rc)
{
	struct captured_try *t = ctx;
	const struct http_request *req = t->req;
	struct curl_slist *headers = NULL;
	struct http_body body = {.req = req};
	http_response_reset(resp);
	struct capture cap = {&resp->body, req->capture_limit ? req->capture_limit : HTTP_DEFAULT_CAPTURE};
	int rc = 0;
	*curl_rc = CURLE_OK;
	if (req->body_open && (rc = req->body_open(req->body_ctx, &body.src)))
		return rc;
	CURL *e = http_easy_new(t->client, req, &headers, &body, resp);
	if (!e) {
		source_close(body.src);
		curl_slist_free_all(headers);
		return error_oom();
	}
	char detail[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, detail);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_capture);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &cap);
	*curl_rc = curl_easy_perform(e);
	http_note_transfer(e, resp);
	if (body.error) {
		rc = error_restore(&body.err);
	} else if (*curl_rc != CURLE_OK) {
		char url[1024];
		http_redact_url(url, sizeof(url), req->url);
		char why[CURL_ERROR_SIZE + 200];
		http_tls_explain(why, sizeof(why), t->client, e, *curl_rc, detail);
		rc = error_set(ERR_FAILURE, "%s %s: %s", req->method, url, why);
	} else {
		char *eff = NULL;
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &resp->status);
		/* An error answer is quoted in messages: a server echoing our
		 * credentials must not get them printed (nor a prefix of them,
		 * once a message cuts the body short). */
		if (resp->status >= 300 && resp->body.data) {
			resp->body.len = secret_scrub_bytes(resp->body.data, resp->body.len);
			resp->body.data[resp->body.len] = '\0';
		}
		curl_easy_getinfo(e, CURLINFO_EFFECTIVE_URL, &eff);
		free(resp->effective_url);
		resp->effective_url = eff ? strdup(eff) : NULL;
	}
	curl_easy_cleanup(e);
	curl_slist_free_all(headers);
	source_close(body.src);
	return rc;
}

int http_do(struct http_client *c, const struct http_request *req, struct http_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	struct captured_try t = {c, req};
	return http_retry_run(c, req, resp, attempt_once, &t);
}
