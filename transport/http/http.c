#include "transport/http/http.h"

#include <curl/curl.h>
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/util/error.h"
#include "core/util/progress.h"

#define STREAM_BUFFER (1u << 20)
#define DEFAULT_CAPTURE (1u << 20)

struct http_client {
	struct http_client_options o;
	char *what;
	CURLSH *share;
	pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
	pthread_mutex_t pause_lock;
	double pause_until; /* monotonic seconds: nobody starts a request before */
	bool debug;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_for(double seconds)
{
	if (seconds <= 0)
		return;
	struct timespec ts = {(time_t)seconds, (long)((seconds - floor(seconds)) * 1e9)};
	while (nanosleep(&ts, &ts) != 0)
		;
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ctx)
{
	(void)h;
	(void)access;
	pthread_mutex_lock(&((struct http_client *)ctx)->locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ctx)
{
	(void)h;
	pthread_mutex_unlock(&((struct http_client *)ctx)->locks[data]);
}

int http_client_new(struct http_client **out, const struct http_client_options *o)
{
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return error_set(ERR_FAILURE, "cannot initialise libcurl: %s", curl_easy_strerror(global_rc));
	struct http_client *c = calloc(1, sizeof(*c));
	CHECK_ALLOC(c);
	c->o = *o;
	if (!c->o.connect_timeout)
		c->o.connect_timeout = 30;
	if (!c->o.idle_timeout)
		c->o.idle_timeout = 60;
	if (!c->o.max_attempts)
		c->o.max_attempts = 5;
	if (c->o.backoff_base <= 0)
		c->o.backoff_base = 0.5;
	if (c->o.backoff_cap <= 0)
		c->o.backoff_cap = 30;
	if (c->o.retry_after_cap <= 0)
		c->o.retry_after_cap = 300;
	c->what = strdup(o->what ? o->what : "server");
	c->o.what = c->what;
	const char *debug = getenv("CACHECTL_DEBUG");
	c->debug = debug && strstr(debug, "http");
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&c->locks[i], NULL);
	pthread_mutex_init(&c->pause_lock, NULL);
	c->share = curl_share_init();
	if (!c->what || !c->share) {
		http_client_free(c);
		return error_oom();
	}
	curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	*out = c;
	return 0;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	if (c->share)
		curl_share_cleanup(c->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&c->locks[i]);
	pthread_mutex_destroy(&c->pause_lock);
	free(c->what);
	free(c);
}

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

static void response_reset(struct http_response *r)
{
	unsigned attempts = r->attempts;
	double waited = r->waited;
	http_response_free(r);
	r->attempts = attempts;
	r->waited = waited;
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
	struct http_header *h = realloc(r->headers, (r->n_headers + 1) * sizeof(*h));
	if (!h)
		return 0;
	r->headers = h;
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

struct body_state {
	const struct http_request *req;
	struct byte_source *src;
	size_t pos; /* in-memory body */
	int error;
	struct error_state err;
};

static size_t on_read(char *buf, size_t size, size_t n, void *ctx)
{
	struct body_state *b = ctx;
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
	struct body_state *b = ctx;
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

/* ---- one attempt -------------------------------------------------------- */

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

static void redact_for(char *out, size_t size, const struct http_request *req)
{
	http_redact_url(out, size, req->url);
}

static CURL *new_easy(struct http_client *c, const struct http_request *req, struct curl_slist **headers,
		      struct body_state *body, struct http_response *resp)
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
	if (c->o.insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (req->follow_redirects) {
		/* libcurl keeps Authorization (ours included) to the first host. */
		curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
	}
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, resp);

	*headers = NULL;
	for (const char *const *h = req->headers; h && *h; h++)
		*headers = curl_slist_append(*headers, *h);
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

static bool retryable_status(long status)
{
	return status == 408 || status == 429 || (status >= 500 && status != 501 && status != 505);
}

static bool retryable_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
	/* A reused connection died while sending: libcurl cannot rewind a
	 * streamed body, but the next attempt reopens it. */
	case CURLE_SEND_FAIL_REWIND:
		return true;
	default:
		return false;
	}
}

/* How long to wait before attempt `attempt` (1-based, the one that failed). */
static double backoff(struct http_client *c, unsigned attempt, const struct http_response *failed)
{
	const char *ra = failed ? http_response_header(failed, "Retry-After") : NULL;
	double wait = ra ? http_retry_after(ra) : -1;
	if (wait >= 0) {
		if (wait > c->o.retry_after_cap)
			wait = c->o.retry_after_cap;
	} else {
		double cap = c->o.backoff_base * pow(2, attempt - 1);
		if (cap > c->o.backoff_cap)
			cap = c->o.backoff_cap;
		wait = cap * ((double)rand() / RAND_MAX); /* full jitter */
	}
	if (failed && failed->status == 429) {
		/* Throttling concerns every worker: nobody starts before then. */
		pthread_mutex_lock(&c->pause_lock);
		if (now() + wait > c->pause_until)
			c->pause_until = now() + wait;
		pthread_mutex_unlock(&c->pause_lock);
	}
	return wait;
}

/* Whether a retryable failure gets another try, and after how long: at
 * most max attempts, except that throttling (429) is waited out for up to
 * max_throttle_wait seconds in all. */
static bool retry_wait(struct http_client *c, unsigned attempt, unsigned max, const struct http_response *failed,
		       double *wait)
{
	bool throttled = failed && failed->status == 429 && c->o.max_throttle_wait > 0 && max > 1;
	if (attempt >= max && !throttled)
		return false;
	*wait = backoff(c, attempt, failed);
	if (throttled && failed->waited + *wait > c->o.max_throttle_wait)
		return false;
	return true;
}

static void wait_for_pause(struct http_client *c)
{
	pthread_mutex_lock(&c->pause_lock);
	double until = c->pause_until;
	pthread_mutex_unlock(&c->pause_lock);
	sleep_for(until - now());
}

static void trace(struct http_client *c, const struct http_request *req, const char *outcome)
{
	if (!c->debug)
		return;
	char url[1024];
	redact_for(url, sizeof(url), req);
	fprintf(stderr, "http: %s %s -> %s\n", req->method, url, outcome);
}

/* One attempt of a captured request: 0 with resp filled (any status), or
 * ERR_FAILURE with *curl_rc telling the transport error. */
static int attempt_once(struct http_client *c, const struct http_request *req, struct http_response *resp,
			CURLcode *curl_rc)
{
	struct curl_slist *headers = NULL;
	struct body_state body = {.req = req};
	struct capture cap = {&resp->body, req->capture_limit ? req->capture_limit : DEFAULT_CAPTURE};
	int rc = 0;
	*curl_rc = CURLE_OK;
	if (req->body_open && (rc = req->body_open(req->body_ctx, &body.src)))
		return rc;
	CURL *e = new_easy(c, req, &headers, &body, resp);
	if (!e) {
		source_close(body.src);
		curl_slist_free_all(headers);
		return error_oom();
	}
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_capture);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &cap);
	*curl_rc = curl_easy_perform(e);
	if (body.error) {
		rc = error_restore(&body.err);
	} else if (*curl_rc != CURLE_OK) {
		char url[1024];
		redact_for(url, sizeof(url), req);
		rc = error_set(ERR_FAILURE, "%s %s: %s", req->method, url, curl_easy_strerror(*curl_rc));
	} else {
		char *eff = NULL;
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &resp->status);
		curl_easy_getinfo(e, CURLINFO_EFFECTIVE_URL, &eff);
		free(resp->effective_url);
		resp->effective_url = eff ? strdup(eff) : NULL;
	}
	curl_easy_cleanup(e);
	curl_slist_free_all(headers);
	source_close(body.src);
	return rc;
}

static void note_wait(struct http_client *c, const struct http_request *req, const struct http_response *resp,
		      double wait, unsigned attempt)
{
	char url[512], why[160];
	redact_for(url, sizeof(url), req);
	if (resp && resp->status)
		snprintf(why, sizeof(why), "HTTP %ld", resp->status);
	else
		snprintf(why, sizeof(why), "%.150s", error_message());
	progress_note(c->o.progress, "%s: %s; waiting %.1fs before try %u of %s %s", c->what, why, wait,
		      attempt + 1, req->method, url);
}

int http_do(struct http_client *c, const struct http_request *req, struct http_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	unsigned max = req->no_retry ? 1 : c->o.max_attempts;
	for (unsigned attempt = 1;; attempt++) {
		CURLcode crc;
		wait_for_pause(c);
		response_reset(resp);
		resp->attempts = attempt;
		int rc = attempt_once(c, req, resp, &crc);
		char outcome[64];
		if (rc)
			snprintf(outcome, sizeof(outcome), "%s", crc ? curl_easy_strerror(crc) : "failed");
		else
			snprintf(outcome, sizeof(outcome), "%ld", resp->status);
		trace(c, req, outcome);
		bool retry = rc ? (crc != CURLE_OK && retryable_curl(crc)) : retryable_status(resp->status);
		double wait;
		if (!retry || !retry_wait(c, attempt, max, rc ? NULL : resp, &wait))
			return rc;
		note_wait(c, req, rc ? NULL : resp, wait, attempt);
		sleep_for(wait);
		resp->waited += wait;
		if (req->before_retry && (rc = req->before_retry(req->retry_ctx, resp)))
			return rc;
	}
}

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
	struct body_state body;
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
};

static size_t on_stream(char *data, size_t size, size_t n, void *ctx)
{
	struct http_stream *s = ctx;
	size_t len = size * n;
	long status = 0;
	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status >= 300) {
		/* An error answer: keep (a bounded part of) it for the message. */
		size_t room = s->resp->body.len < DEFAULT_CAPTURE ? DEFAULT_CAPTURE - s->resp->body.len : 0;
		buffer_append(&s->resp->body, data, len < room ? len : room);
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
	response_reset(s->resp);
	s->done = s->got_data = s->paused = false;
	s->result = CURLE_OK;
	s->body.req = req;
	if (req->body_open && req->body_open(req->body_ctx, &s->body.src))
		return ERR_FAILURE;
	s->easy = new_easy(s->client, req, &s->headers, &s->body, s->resp);
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
			sleep_for(backoff(s->client, s->resumes, NULL));
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
	stream_cleanup_transfer(s);
	if (s->multi)
		curl_multi_cleanup(s->multi);
	free(s->range_headers);
	free(s->url);
	free(s->buf);
	http_response_free(&s->own);
	free(s);
}

int http_open(struct http_client *c, const struct http_request *req, struct http_response *resp,
	      struct byte_source **body)
{
	memset(resp, 0, sizeof(*resp));
	*body = NULL;
	struct http_stream *s = calloc(1, sizeof(*s));
	if (!s || !(s->url = strdup(req->url)) || !(s->buf = malloc(STREAM_BUFFER)) ||
	    !(s->multi = curl_multi_init())) {
		if (s) {
			free(s->url);
			free(s->buf);
			free(s);
		}
		return error_oom();
	}
	s->base.read = stream_read;
	s->base.close = stream_close;
	s->client = c;
	s->req = *req;
	s->req.url = s->url;
	s->resp = resp;
	s->cap = STREAM_BUFFER;
	s->length = -1;
	unsigned max = req->no_retry ? 1 : c->o.max_attempts;
	for (unsigned attempt = 1;; attempt++) {
		wait_for_pause(c);
		resp->attempts = attempt;
		int rc = stream_start(s, &s->req);
		while (!rc && !s->done && !s->got_data)
			rc = stream_pump(s);
		if (rc) {
			stream_close(&s->base);
			return rc;
		}
		long status = 0;
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
		resp->status = status;
		if (s->done && s->result != CURLE_OK && !(status >= 200 && status < 300 && s->got_data)) {
			char url[1024];
			http_redact_url(url, sizeof(url), req->url);
			error_set(ERR_FAILURE, "%s %s: %s", req->method, url, curl_easy_strerror(s->result));
			trace(c, req, curl_easy_strerror(s->result));
			if (!retryable_curl(s->result) || attempt >= max) {
				stream_close(&s->base);
				return ERR_FAILURE;
			}
			double wait = backoff(c, attempt, NULL);
			note_wait(c, req, NULL, wait, attempt);
			sleep_for(wait);
			resp->waited += wait;
			continue;
		}
		char outcome[32];
		snprintf(outcome, sizeof(outcome), "%ld", status);
		trace(c, req, outcome);
		char *eff = NULL;
		curl_easy_getinfo(s->easy, CURLINFO_EFFECTIVE_URL, &eff);
		free(resp->effective_url);
		resp->effective_url = eff ? strdup(eff) : NULL;
		if (status >= 200 && status < 300) {
			const char *cl = http_response_header(resp, "Content-Length");
			s->length = cl ? strtoll(cl, NULL, 10) : -1;
			/* From now on the stream answers for itself: the caller's
			 * response may go while the body is still being read. */
			s->resp = &s->own;
			curl_easy_setopt(s->easy, CURLOPT_HEADERDATA, &s->own);
			*body = &s->base;
			return 0;
		}
		/* An error answer: read it whole (bounded) for the caller. */
		while (!s->done)
			if ((rc = stream_pump(s))) {
				stream_close(&s->base);
				return rc;
			}
		double wait;
		if (retryable_status(status) && retry_wait(c, attempt, max, resp, &wait)) {
			note_wait(c, req, resp, wait, attempt);
			sleep_for(wait);
			resp->waited += wait;
			if (req->before_retry && (rc = req->before_retry(req->retry_ctx, resp))) {
				stream_close(&s->base);
				return rc;
			}
			continue;
		}
		/* Detach the response before the stream (which points at it) goes. */
		s->resp = NULL;
		stream_cleanup_transfer(s);
		curl_multi_cleanup(s->multi);
		s->multi = NULL;
		stream_close(&s->base);
		return 0;
	}
}

/* ---- helpers ------------------------------------------------------------ */

static bool secret_param(const char *name, size_t len)
{
	static const char *const words[] = {"sig", "token", "credential", "key", "secret", "password",
					    "auth", "code", NULL};
	char lower[64];
	if (len >= sizeof(lower))
		len = sizeof(lower) - 1;
	for (size_t i = 0; i < len; i++)
		lower[i] = (char)tolower((unsigned char)name[i]);
	lower[len] = '\0';
	for (size_t i = 0; words[i]; i++)
		if (strstr(lower, words[i]))
			return true;
	return false;
}

void http_redact_url(char *out, size_t size, const char *url)
{
	struct buffer b = BUFFER_INIT;
	const char *scheme = strstr(url, "://");
	const char *p = url;
	if (scheme) {
		const char *host = scheme + 3;
		const char *at = strchr(host, '@'), *slash = strchr(host, '/');
		buffer_append(&b, url, (size_t)(host - url));
		if (at && (!slash || at < slash)) {
			buffer_append_str(&b, "***@");
			p = at + 1;
		} else {
			p = host;
		}
	}
	const char *q = strchr(p, '?');
	if (!q) {
		buffer_append_str(&b, p);
	} else {
		buffer_append(&b, p, (size_t)(q - p + 1));
		for (const char *param = q + 1; *param;) {
			const char *amp = strchr(param, '&'), *end = amp ? amp : param + strlen(param);
			const char *eq = memchr(param, '=', (size_t)(end - param));
			if (eq && secret_param(param, (size_t)(eq - param))) {
				buffer_append(&b, param, (size_t)(eq - param + 1));
				buffer_append_str(&b, "***");
			} else {
				buffer_append(&b, param, (size_t)(end - param));
			}
			if (!amp)
				break;
			buffer_append_str(&b, "&");
			param = amp + 1;
		}
	}
	snprintf(out, size, "%s", b.data ? b.data : "");
	buffer_free(&b);
}

int http_escape(struct buffer *out, const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~' || (keep_slash && *p == '/')) {
			if (buffer_append(out, p, 1))
				return ERR_FAILURE;
		} else {
			char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			if (buffer_append(out, enc, 3))
				return ERR_FAILURE;
		}
	}
	return buffer_append(out, "", 0); /* NUL-terminated even when s is empty */
}

double http_retry_after(const char *value)
{
	char *end;
	while (*value == ' ')
		value++;
	double secs = strtod(value, &end);
	if (end != value && (*end == '\0' || *end == ' ') && secs >= 0)
		return secs;
	time_t when = curl_getdate(value, NULL);
	if (when == -1)
		return -1;
	double d = difftime(when, time(NULL));
	return d < 0 ? 0 : d;
}

bool http_same_origin(const char *url, const char *origin)
{
	size_t n = strlen(origin);
	while (n && origin[n - 1] == '/')
		n--;
	return strncasecmp(url, origin, n) == 0 && (url[n] == '\0' || url[n] == '/' || url[n] == '?' || url[n] == '#');
}
