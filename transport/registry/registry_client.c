#include "transport/registry/registry_client.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/buffer.h"
#include "core/util/progress.h"

char *registry_url_join(const char *a, const char *b, const char *c)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s%s%s", a, b, c);
	return s;
}


/* What the registry said went wrong: its error JSON ({"errors":[{"code",
 * "message","detail"}]}) when there is one, else the status and the start
 * of the body. */
static void describe_answer(char *out, size_t size, const struct http_response *resp)
{
	cJSON *doc = cJSON_ParseWithLength(resp->body.data ? resp->body.data : "", resp->body.len);
	const cJSON *errors = cJSON_GetObjectItemCaseSensitive(doc, "errors");
	size_t n = (size_t)snprintf(out, size, "HTTP %ld", resp->status);
	const cJSON *e;
	int count = 0;
	cJSON_ArrayForEach(e, errors) {
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
		const cJSON *detail = cJSON_GetObjectItemCaseSensitive(e, "detail");
		if (count++ == 2 || n >= size) {
			if (n < size)
				snprintf(out + n, size - n, " (and more)");
			break;
		}
		n += (size_t)snprintf(out + n, size - n, "%s%s%s%s", count > 1 ? ";" : "",
				      cJSON_IsString(code) ? " " : "", cJSON_IsString(code) ? code->valuestring : "",
				      cJSON_IsString(msg) ? ": " : "");
		if (n < size && cJSON_IsString(msg))
			n += (size_t)snprintf(out + n, size - n, "%s", msg->valuestring);
		if (n < size && detail && !cJSON_IsNull(detail)) {
			char *text = cJSON_IsString(detail) ? NULL : cJSON_PrintUnformatted(detail);
			n += (size_t)snprintf(out + n, size - n, " (detail: %.300s)",
					      text ? text : detail->valuestring);
			free(text);
		}
	}
	if (!count && resp->body.len && n < size) {
		/* Not the registry's JSON (a proxy's page?): a little of it. */
		char text[160];
		size_t k = 0;
		for (size_t i = 0; i < resp->body.len && k + 1 < sizeof(text); i++) {
			char c = resp->body.data[i];
			text[k++] = (c == '\n' || c == '\r' || c == '\t') ? ' ' : (c >= 32 && c < 127 ? c : '?');
		}
		text[k] = '\0';
		snprintf(out + n, size - n, ": %s", text);
	}
	cJSON_Delete(doc);
}

int registry_fail_answer(int code, const char *method, const char *url, const struct http_response *resp)
{
	char u[1024], why[1200];
	http_redact_url(u, sizeof(u), url);
	describe_answer(why, sizeof(why), resp);
	return error_set(code, "%s %s: %s", method, u, why);
}

int registry_set_scheme(struct registry_transport *r, const char *scheme)
{
	struct buffer b = BUFFER_INIT;
	free(r->origin);
	free(r->api);
	r->api = NULL;
	if (buffer_appendf(&b, "%s://%s", scheme, reference_api_host(&r->ref)) || !(r->origin = buffer_detach(&b, NULL)) ||
	    !(r->api = registry_url_join(r->origin, "/v2/", r->ref.path)))
		return error_oom();
	return 0;
}

/* registry.insecure=true: HTTPS without verification when the registry
 * speaks TLS, else plain HTTP -- BuildKit's order for insecure hosts. */
static int probe_scheme(struct registry_transport *r)
{
	struct http_response resp;
	char *url = registry_url_join(r->origin, "/v2/", "");
	CHECK_ALLOC(url);
	struct http_request req = {.method = "GET", .url = url, .no_retry = true};
	int rc = http_do(r->http, &req, &resp);
	free(url);
	if (!rc) {
		http_response_free(&resp);
		return 0;
	}
	progress_note(r->base.progress, "registry %s: no TLS answer (%s); using plain HTTP (registry.insecure=true)",
		      r->ref.domain, error_message());
	error_clear();
	return registry_set_scheme(r, "http");
}

/* Makes the HTTP client on first use (when the progress display is
 * known) and settles the scheme; every operation calls it before it
 * builds a URL. */
int registry_connect(struct registry_transport *r)
{
	int rc = 0;
	pthread_mutex_lock(&r->lock);
	if (!r->http) {
		char what[600];
		snprintf(what, sizeof(what), "registry %s", r->ref.domain);
		struct http_client_options ho = {.insecure = r->insecure, .progress = r->base.progress, .what = what,
						 .extra_ca_pem = r->certs.ca_pem.data,
						 .client_cert = r->certs.client_cert, .client_key = r->certs.client_key};
		if (!(rc = http_client_new(&r->http, &ho)) &&
		    !(rc = registry_auth_new(&r->auth, r->http, r->ref.domain, r->insecure)) &&
		    !(rc = registry_auth_add_scope(r->auth, r->scope)) && r->insecure)
			rc = probe_scheme(r);
		if (rc) {
			registry_auth_free(r->auth);
			http_client_free(r->http);
			r->auth = NULL;
			r->http = NULL;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

/* The headers of a request (ours, plus the Authorization line), kept
 * alive as long as the request is: for a streamed body that is until the
 * body is closed, since a broken download resumes with the same headers
 * and reports into the same response. */
struct call {
	struct byte_source base; /* a streamed body: wraps `inner` */
	struct byte_source *inner;
	struct registry_auth *auth;
	const char *headers[16];
	size_t auth_slot;
	char *line;
	struct http_response resp;
};

/* Before a retry (after a wait): the token may have expired meanwhile. */
static int refresh_auth(void *ctx, const struct http_response *failed)
{
	struct call *c = ctx;
	unsigned generation;
	char *line;
	(void)failed;
	int rc = registry_auth_header(c->auth, &line, &generation);
	if (rc)
		return rc;
	free(c->line);
	c->line = line;
	c->headers[c->auth_slot] = line;
	return 0;
}

static void call_free(struct call *c)
{
	if (!c)
		return;
	http_response_free(&c->resp);
	free(c->line);
	free(c);
}

static ssize_t call_read(struct byte_source *s, void *buf, size_t len)
{
	struct call *c = (struct call *)s;
	return source_read(c->inner, buf, len);
}

static void call_close(struct byte_source *s)
{
	struct call *c = (struct call *)s;
	source_close(c->inner);
	call_free(c);
}

/* One request with the registry's authorisation: a 401 is answered by the
 * challenge dance and the request sent again (twice at most).  With
 * `stream`, a 2xx body is returned as a source (http_open) and `resp`
 * gets a copy of nothing but the status; otherwise resp is the answer. */
static int call_run(struct registry_transport *r, const struct http_request *in, struct call *c, bool stream)
{
	size_t n = 0;
	int rc = registry_connect(r);
	if (rc)
		return rc;
	pthread_mutex_lock(&r->lock);
	bool down = r->unreachable;
	struct error_state down_error = r->unreachable_error;
	pthread_mutex_unlock(&r->lock);
	if (down)
		return error_restore(&down_error);
	c->auth = r->auth;
	for (const char *const *h = in->headers; h && *h && n < 14; h++)
		c->headers[n++] = *h;
	c->auth_slot = n;
	/* Credentials go to the registry only: an upload Location or a
	 * redirect may name a storage host, which gets none (as containerd). */
	bool ours = http_same_origin(in->url, r->origin);
	for (unsigned attempt = 0;; attempt++) {
		unsigned generation = 0;
		free(c->line);
		c->line = NULL;
		if (ours && (rc = registry_auth_header(r->auth, &c->line, &generation)))
			return rc;
		c->headers[n] = c->line;
		c->headers[n + 1] = NULL;
		struct http_request req = *in;
		req.headers = c->headers;
		req.before_retry = ours ? refresh_auth : NULL;
		req.retry_ctx = c;
		rc = stream ? http_open(r->http, &req, &c->resp, &c->inner) : http_do(r->http, &req, &c->resp);
		if (rc && !c->resp.status) {
			/* No answer at all, retries included: nobody else need wait. */
			pthread_mutex_lock(&r->lock);
			if (!r->unreachable) {
				r->unreachable = true;
				error_save(&r->unreachable_error, rc);
			}
			pthread_mutex_unlock(&r->lock);
		}
		if (rc || c->resp.status != 401 || attempt == 2 || !ours)
			return rc;
		if ((rc = registry_auth_challenge(r->auth, &c->resp, generation))) {
			char u[1024], why[1200];
			http_redact_url(u, sizeof(u), in->url);
			describe_answer(why, sizeof(why), &c->resp);
			return error_wrap(rc, "%s %s: %s", in->method, u, why);
		}
		http_response_free(&c->resp);
	}
}

int registry_call(struct registry_transport *r, const struct http_request *in, struct http_response *resp)
{
	struct call *c = calloc(1, sizeof(*c));
	CHECK_ALLOC(c);
	int rc = call_run(r, in, c, false);
	if (!rc) {
		*resp = c->resp;
		memset(&c->resp, 0, sizeof(c->resp));
	}
	call_free(c);
	return rc;
}

/* A GET whose 2xx body streams (*body); for other answers *body is NULL
 * and resp holds the answer. */
int registry_call_streamed(struct registry_transport *r, const struct http_request *in, struct http_response *resp,
		    struct byte_source **body)
{
	struct call *c = calloc(1, sizeof(*c));
	*body = NULL;
	memset(resp, 0, sizeof(*resp));
	CHECK_ALLOC(c);
	int rc = call_run(r, in, c, true);
	if (rc || !c->inner) {
		if (!rc) {
			*resp = c->resp;
			memset(&c->resp, 0, sizeof(c->resp));
		}
		call_free(c);
		return rc;
	}
	resp->status = c->resp.status;
	c->base.read = call_read;
	c->base.close = call_close;
	*body = &c->base;
	return 0;
}

/* The absolute URL a Location header means, relative to the URL that
 * answered (absolute, scheme-relative, absolute-path or relative). */
char *registry_resolve_location(const char *base, const char *loc)
{
	if (strncmp(loc, "http://", 7) == 0 || strncmp(loc, "https://", 8) == 0)
		return strdup(loc);
	const char *scheme_end = strstr(base, "://");
	if (!scheme_end)
		return NULL;
	if (strncmp(loc, "//", 2) == 0) {
		size_t n = (size_t)(scheme_end - base) + 1 + strlen(loc) + 1;
		char *s = malloc(n);
		if (s)
			snprintf(s, n, "%.*s:%s", (int)(scheme_end - base), base, loc);
		return s;
	}
	const char *host = scheme_end + 3;
	size_t origin_len = (size_t)(host - base) + strcspn(host, "/?#");
	size_t n = origin_len + strlen(loc) + 2;
	if (loc[0] == '/') {
		char *s = malloc(n);
		if (s)
			snprintf(s, n, "%.*s%s", (int)origin_len, base, loc);
		return s;
	}
	/* Relative to the directory of the base path. */
	const char *q = base + origin_len + strcspn(base + origin_len, "?#");
	const char *slash = q;
	while (slash > base + origin_len && slash[-1] != '/')
		slash--;
	size_t dir_len = slash > base + origin_len ? (size_t)(slash - base) : origin_len;
	n = dir_len + strlen(loc) + 2;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%.*s%s%s", (int)dir_len, base, slash > base + origin_len ? "" : "/", loc);
	return s;
}

char *registry_url_with_query(const char *url, const char *param, const char *value)
{
	struct buffer b = BUFFER_INIT;
	if (buffer_appendf(&b, "%s%s%s=", url, strchr(url, '?') ? "&" : "?", param) ||
	    http_escape(&b, value, false)) {
		buffer_free(&b);
		return NULL;
	}
	return buffer_detach(&b, NULL);
}


int registry_check_stored_digest(const struct http_response *resp, const char *digest, const char *url)
{
	const char *got = http_response_header(resp, "Docker-Content-Digest");
	if (got && *got && strcmp(got, digest) != 0) {
		char u[1024];
		http_redact_url(u, sizeof(u), url);
		return error_set(ERR_CORRUPT, "PUT %s: the registry stored %s, not %s", u, got, digest);
	}
	return 0;
}
