/* Streamed downloads (http_open): the body is handed to the reader as it
 * arrives, through a bounded buffer, and a broken connection is resumed
 * with a Range request. */
#include "transport/http/http_internal.h"
#include "core/util/secrets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/progress.h"

#define STREAM_BUFFER (1u << 20)


/* ---- streamed downloads ------------------------------------------------- */

struct http_stream {
	struct byte_source base;
	struct http_client *client;
	struct http_request req;      /* shallow copy; headers rebuilt for ranges */
	const char **range_headers;   /* request headers + Range, for resuming */
	char *url;
	CURLM *multi;
	CURL *easy;
	struct curl_slist *headers;
	struct http_body body;
	struct http_response *resp;   /* the caller's until open returns, then `own` */
	struct http_response own;     /* answers to resumes, which the caller never sees */
	char *buf;                    /* bytes received, not yet read */
	size_t start, end, cap;
	bool paused, done, got_data;
	CURLcode result;
	int64_t delivered;            /* body bytes handed to the reader */
	int64_t skip;                 /* bytes to drop after a resume answered 200 */
	int64_t length;               /* Content-Length of the whole body, or -1 */
	unsigned resumes;
	double opened;                /* monotonic seconds, for the trace */
};

static size_t on_stream(char *data, size_t size, size_t n, void *ctx)
{
	struct http_stream *s = ctx;
	size_t len = size * n;
	long status = 0;
	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status >= 300) {
		/* An error answer: keep (a bounded part of) it for the message. */
		size_t room = s->resp->body.len < HTTP_DEFAULT_CAPTURE ? HTTP_DEFAULT_CAPTURE - s->resp->body.len : 0;
		if (buffer_append(&s->resp->body, data, len < room ? len : room))
			return 0; /* out of memory: the transfer stops with an error */
		s->got_data = true;
		return len;
	}
	if (s->skip > 0) {
		size_t drop = (int64_t)len < s->skip ? len : (size_t)s->skip;
		s->skip -= (int64_t)drop;
		data += drop;
		len -= drop;
		if (!len)
			return size * n;
	}
	if (s->start == s->end)
		s->start = s->end = 0;
	if (s->cap - s->end < len) {
		if (s->start > 0) {
			memmove(s->buf, s->buf + s->start, s->end - s->start);
			s->end -= s->start;
			s->start = 0;
		}
		if (s->cap - s->end < len) {
			if (s->end > 0) {
				s->paused = true;
				return CURL_WRITEFUNC_PAUSE; /* the reader drains first */
			}
			char *p = realloc(s->buf, len); /* one chunk larger than the buffer */
			if (!p)
				return 0;
			s->buf = p;
			s->cap = len;
		}
	}
	memcpy(s->buf + s->end, data, len);
	s->end += len;
	s->got_data = true;
	return size * n;
}

static void stream_cleanup_transfer(struct http_stream *s)
{
	if (s->easy) {
		curl_multi_remove_handle(s->multi, s->easy);
		curl_easy_cleanup(s->easy);
		s->easy = NULL;
	}
	curl_slist_free_all(s->headers);
	s->headers = NULL;
	source_close(s->body.src);
	s->body.src = NULL;
}

static int stream_start(struct http_stream *s, const struct http_request *req)
{
	stream_cleanup_transfer(s);
	http_response_reset(s->resp);
	s->done = s->got_data = s->paused = false;
	s->result = CURLE_OK;
	s->body.req = req;
	int rc = req->body_open ? req->body_open(req->body_ctx, &s->body.src) : 0;
	if (rc)
		return rc;
	s->easy = http_easy_new(s->client, req, &s->headers, &s->body, s->resp);
	CHECK_ALLOC(s->easy);
	curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_stream);
	curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
	if (curl_multi_add_handle(s->multi, s->easy) != CURLM_OK)
		return error_set(ERR_FAILURE, "cannot start a transfer");
	return 0;
}

/* Drives the transfer until it has data for the reader or is over. */
static int stream_pump(struct http_stream *s)
{
	while (!s->done && (s->start == s->end || !s->got_data)) {
		int running = 0, numfds;
		if (s->start == s->end)
			s->start = s->end = 0;
		if (s->paused) {
			/* The reader made room: let libcurl deliver what it holds. */
			s->paused = false;
			curl_easy_pause(s->easy, CURLPAUSE_CONT);
			if (s->start != s->end)
				return 0;
		}
		if (curl_multi_perform(s->multi, &running) != CURLM_OK)
			return error_set(ERR_FAILURE, "transfer failed");
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(s->multi, &left)))
			if (msg->msg == CURLMSG_DONE) {
				s->done = true;
				s->result = msg->data.result;
			}
		if (s->done || (s->got_data && s->start != s->end))
			break;
		if (curl_multi_poll(s->multi, NULL, 0, 1000, &numfds) != CURLM_OK)
			return error_set(ERR_FAILURE, "transfer failed");
	}
	return 0;
}

static int stream_resume(struct http_stream *s)
{
	/* Ask for the rest; a server that ignores Range sends it all again,
	 * and the part already delivered is dropped. */
	char range[64];
	size_t n = 0;
	for (const char *const *h = s->req.headers; h && *h; h++)
		n++;
	free(s->range_headers);
	s->range_headers = calloc(n + 2, sizeof(char *));
	CHECK_ALLOC(s->range_headers);
	for (size_t i = 0; i < n; i++)
		s->range_headers[i] = s->req.headers[i];
	snprintf(range, sizeof(range), "Range: bytes=%lld-", (long long)s->delivered);
	char *copy = strdup(range);
	CHECK_ALLOC(copy);
	s->range_headers[n] = copy;
	struct http_request r = s->req;
	r.headers = s->range_headers;
	int rc = stream_start(s, &r);
	free(copy);
	s->range_headers[n] = NULL;
	if (rc)
		return rc;
	/* Until the first byte we do not know whether it honoured the range. */
	while (!s->done && !s->got_data)
		if ((rc = stream_pump(s)))
			return rc;
	long status = 0;
	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status == 200) {
		/* Already delivered bytes arrive again: they were counted in the
		 * buffer by on_stream, so drop them from it here. */
		int64_t drop = s->delivered;
		int64_t have = (int64_t)(s->end - s->start);
		if (drop <= have) {
			s->start += (size_t)drop;
		} else {
			s->start = s->end;
			s->skip = drop - have;
		}
	} else if (status != 206) {
		char url[512];
		http_redact_url(url, sizeof(url), s->url);
		return error_set(ERR_FAILURE, "GET %s: resuming after a broken connection got HTTP %ld", url, status);
	}
	return 0;
}

static ssize_t stream_read(struct byte_source *src, void *buf, size_t len)
{
	struct http_stream *s = (struct http_stream *)src;
	for (;;) {
		if (s->start < s->end) {
			size_t n = s->end - s->start < len ? s->end - s->start : len;
			memcpy(buf, s->buf + s->start, n);
			s->start += n;
			s->delivered += (int64_t)n;
			return (ssize_t)n;
		}
		if (s->done) {
			bool short_body = s->length >= 0 && s->delivered < s->length;
			if (s->result == CURLE_OK && !short_body)
				return 0;
			char url[512];
			http_redact_url(url, sizeof(url), s->url);
			if (s->resumes + 1 >= s->client->o.max_attempts)
				return error_set(ERR_FAILURE, "GET %s: connection lost after %lld bytes: %s", url,
						 (long long)s->delivered,
						 s->result ? curl_easy_strerror(s->result) : "body ended early");
			s->resumes++;
			progress_note(s->client->o.progress, "%s: connection lost after %lld bytes of %s; resuming",
				      s->client->what, (long long)s->delivered, url);
			http_sleep(http_backoff(s->client, s->resumes, NULL));
			int rc = stream_resume(s);
			if (rc)
				return rc;
			continue;
		}
		int rc = stream_pump(s);
		if (rc)
			return rc;
	}
}

static void stream_close(struct byte_source *src)
{
	struct http_stream *s = (struct http_stream *)src;
	if (s->resp == &s->own) /* a body handed to a reader: what it moved */
		http_trace_stream_end(s->client, s->url, s->delivered, http_now() - s->opened, s->resumes);
	stream_cleanup_transfer(s);
	if (s->multi)
		curl_multi_cleanup(s->multi);
	free(s->range_headers);
	free(s->url);
	free(s->buf);
	http_response_free(&s->own);
	free(s);
}

/* One attempt of a streamed request (an http_try_fn): waits for the first
 * bytes of the answer; an error answer is read whole (bounded) so the
 * caller and the retry loop can judge it. */
static int open_try(void *ctx, struct http_response *resp, CURLcode *curl_rc)
{
	struct http_stream *s = ctx;
	int rc = stream_start(s, &s->req);
	while (!rc && !s->done && !s->got_data)
		rc = stream_pump(s);
	if (rc)
		return rc;
	long status = 0;
	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
	http_note_transfer(s->easy, resp);
	resp->status = status;
	bool success = status >= 200 && status < 300;
	if (s->done && s->result != CURLE_OK && !(success && s->got_data)) {
		/* No usable answer: a 2xx that already gave bytes is resumed by
		 * the reader instead. */
		char url[1024];
		http_redact_url(url, sizeof(url), s->req.url);
		*curl_rc = s->result;
		return error_set(ERR_FAILURE, "%s %s: %s", s->req.method, url, curl_easy_strerror(s->result));
	}
	char *eff = NULL;
	curl_easy_getinfo(s->easy, CURLINFO_EFFECTIVE_URL, &eff);
	free(resp->effective_url);
	resp->effective_url = eff ? strdup(eff) : NULL;
	while (!success && !s->done)
		if ((rc = stream_pump(s)))
			return rc;
	if (!success && resp->body.data) { /* quoted in messages: see http_request.c */
		resp->body.len = secret_scrub_bytes(resp->body.data, resp->body.len);
		resp->body.data[resp->body.len] = '\0';
	}
	return 0;
}

/* A stream for req, not started yet; NULL when out of memory. */
static struct http_stream *stream_new(struct http_client *c, const struct http_request *req,
				      struct http_response *resp)
{
	struct http_stream *s = calloc(1, sizeof(*s));
	if (!s || !(s->url = strdup(req->url)) || !(s->buf = malloc(STREAM_BUFFER)) ||
	    !(s->multi = curl_multi_init())) {
		if (s) {
			free(s->url);
			free(s->buf);
			free(s);
		}
		return NULL;
	}
	s->base.read = stream_read;
	s->base.close = stream_close;
	s->client = c;
	s->req = *req;
	s->req.url = s->url;
	s->resp = resp;
	s->cap = STREAM_BUFFER;
	s->length = -1;
	s->opened = http_now();
	return s;
}

int http_open(struct http_client *c, const struct http_request *req, struct http_response *resp,
	      struct byte_source **body)
{
	memset(resp, 0, sizeof(*resp));
	*body = NULL;
	struct http_stream *s = stream_new(c, req, resp);
	if (!s)
		return error_oom();
	int rc = http_retry_run(c, &s->req, resp, open_try, s);
	if (rc) {
		stream_close(&s->base);
		return rc;
	}
	if (resp->status >= 200 && resp->status < 300) {
		const char *cl = http_response_header(resp, "Content-Length");
		s->length = cl ? strtoll(cl, NULL, 10) : -1;
		/* From now on the stream answers for itself: the caller's
		 * response may go while the body is still being read. */
		s->resp = &s->own;
		curl_easy_setopt(s->easy, CURLOPT_HEADERDATA, &s->own);
		*body = &s->base;
		return 0;
	}
	/* Detach the response before the stream (which points at it) goes. */
	s->resp = NULL;
	stream_cleanup_transfer(s);
	curl_multi_cleanup(s->multi);
	s->multi = NULL;
	stream_close(&s->base);
	return 0;
}
