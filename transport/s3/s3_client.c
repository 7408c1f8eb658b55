#include "transport/s3/s3_client.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/util/error.h"
#include "core/util/spool.h"
#include "core/util/progress.h"
#include "transport/s3/aws_sigv4.h"
#include "transport/http/http.h"
#include "transport/s3/url_parts.h"
#include "transport/s3/xml_text.h"

#define APP_ATTEMPTS 4      /* retries of answers the HTTP layer does not retry */
#define MAX_HEADERS 16

struct s3_client {
	char *bucket;
	bool custom_endpoint;
	bool path_style_option;
	pthread_mutex_t lock; /* region, endpoint, skew */
	char *region;
	struct url_parts endpoint;
	bool path_style;     /* in effect for this endpoint and bucket */
	double skew;         /* seconds to add to our clock, learnt from the store */
	struct aws_credential_chain *credentials;
	struct http_client *http;
	struct progress *progress;
	bool debug;
};

/* ---- addressing --------------------------------------------------------- */

/* Whether the bucket can be a DNS label in front of the endpoint host
 * (dots break TLS certificate matching, so only over plain http). */
static bool virtual_hostable(const char *bucket, bool https)
{
	size_t n = strlen(bucket);
	if (n < 3 || n > 63 || bucket[0] == '-' || bucket[n - 1] == '-' || bucket[0] == '.' || bucket[n - 1] == '.')
		return false;
	bool all_digits_dots = true;
	for (const char *p = bucket; *p; p++) {
		if (*p == '.' && (https || p[1] == '.'))
			return false;
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-' || *p == '.'))
			return false;
		all_digits_dots = all_digits_dots && (isdigit((unsigned char)*p) || *p == '.');
	}
	return !all_digits_dots; /* looks like an IPv4 address */
}

/* Sets the endpoint for the current region; called with the lock held. */
static int set_endpoint(struct s3_client *c, const char *custom)
{
	char url[512];
	struct url_parts u;
	if (custom) {
		snprintf(url, sizeof(url), "%s", custom);
	} else {
		bool china = strncmp(c->region, "cn-", 3) == 0;
		snprintf(url, sizeof(url), "https://s3.%s.amazonaws.com%s", c->region, china ? ".cn" : "");
	}
	int rc = url_parts_parse(&u, url, custom ? "endpoint_url" : "S3 endpoint");
	if (rc)
		return rc;
	url_parts_free(&c->endpoint);
	c->endpoint = u;
	bool https = strcmp(u.scheme, "https") == 0;
	c->path_style = (c->custom_endpoint && (c->path_style_option || u.host_is_ip)) ||
			!virtual_hostable(c->bucket, https);
	return 0;
}

void s3_object_name(const struct s3_client *c, const char *key, char *out, size_t size)
{
	snprintf(out, size, "s3://%s/%s", c->bucket, key);
}

int s3_client_new(struct s3_client **out, const struct s3_client_options *o)
{
	struct s3_client *c = calloc(1, sizeof(*c));
	CHECK_ALLOC(c);
	pthread_mutex_init(&c->lock, NULL);
	c->bucket = strdup(o->bucket);
	c->region = strdup(o->region);
	c->custom_endpoint = o->endpoint_url && *o->endpoint_url;
	c->path_style_option = o->path_style;
	c->credentials = o->credentials;
	c->progress = o->progress;
	const char *debug = getenv("CACHECTL_DEBUG");
	c->debug = debug && strstr(debug, "s3");
	int rc = c->bucket && c->region ? 0 : error_oom();
	if (!rc)
		rc = set_endpoint(c, c->custom_endpoint ? o->endpoint_url : NULL);
	if (!rc) {
		char what[600];
		snprintf(what, sizeof(what), "s3 %s", c->endpoint.authority);
		struct http_client_options ho = {.max_attempts = o->max_attempts, .progress = o->progress, .what = what};
		rc = http_client_new(&c->http, &ho);
	}
	if (rc) {
		s3_client_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void s3_client_free(struct s3_client *c)
{
	if (!c)
		return;
	http_client_free(c->http);
	url_parts_free(&c->endpoint);
	free(c->bucket);
	free(c->region);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* ---- signing ------------------------------------------------------------ */

struct s3_call {
	const char *method;
	const char *key;
	const struct sigv4_param *query;
	size_t n_query;
	const struct sigv4_header *amz; /* extra x-amz-* headers: signed */
	size_t n_amz;
	const char *range;             /* Range value, not signed */
	const struct s3_body *body;
	bool error_in_200;             /* the store may answer 200 with an <Error> body */
	size_t capture_limit;
};

/* One request as sent: its URL and header lines, re-signed before every
 * attempt (the HTTP layer re-reads the lines it is given). */
struct signed_call {
	struct s3_client *c;
	const struct s3_call *call;
	char *url;
	char *lines[MAX_HEADERS];
	const char *headers[MAX_HEADERS + 1];
	bool force_refresh;
	char cred_source[160];
	char region[64];   /* the region it was signed for */
	double skew;       /* the clock offset it was signed with */
};

static void signed_call_clear_headers(struct signed_call *s)
{
	for (size_t i = 0; i < MAX_HEADERS; i++) {
		if (s->lines[i]) {
			OPENSSL_cleanse(s->lines[i], strlen(s->lines[i]));
			free(s->lines[i]);
		}
		s->lines[i] = NULL;
		s->headers[i] = NULL;
	}
}

static void signed_call_clear(struct signed_call *s)
{
	free(s->url);
	s->url = NULL;
	signed_call_clear_headers(s);
}

static void debug_trace(struct s3_client *c, const char *canonical, const char *token)
{
	/* The canonical request carries the session token: hide its value. */
	struct buffer b = BUFFER_INIT;
	const char *p = canonical;
	while (token && *token) {
		const char *hit = strstr(p, token);
		if (!hit)
			break;
		buffer_append(&b, p, (size_t)(hit - p));
		buffer_append_str(&b, "***");
		p = hit + strlen(token);
	}
	buffer_append_str(&b, p);
	progress_note(c->progress, "s3: canonical request:\n%s", b.data ? b.data : "");
	buffer_free(&b);
}

/* Where a key lives right now (the region and endpoint may have been
 * corrected by the store): the Host header, the encoded path -- sent as
 * it is signed, the key encoded once with '/' kept and ':' as %3A -- and
 * the region and clock offset to sign with. */
struct s3_address {
	char scheme[8];
	char host[600];
	struct buffer path;
	char region[64];
	double skew;
};

static int address_of(struct s3_client *c, const char *key, struct s3_address *a)
{
	int rc = 0;
	memset(a, 0, sizeof(*a));
	pthread_mutex_lock(&c->lock);
	snprintf(a->region, sizeof(a->region), "%s", c->region);
	snprintf(a->scheme, sizeof(a->scheme), "%s", c->endpoint.scheme);
	if (c->path_style)
		snprintf(a->host, sizeof(a->host), "%s", c->endpoint.authority);
	else
		snprintf(a->host, sizeof(a->host), "%s.%s", c->bucket, c->endpoint.authority);
	if (buffer_append_str(&a->path, c->endpoint.path) ||
	    (c->path_style && (buffer_append_str(&a->path, "/") || sigv4_uri_encode(&a->path, c->bucket, false))))
		rc = ERR_FAILURE;
	a->skew = c->skew;
	pthread_mutex_unlock(&c->lock);
	if (!rc && (buffer_append_str(&a->path, "/") || sigv4_uri_encode(&a->path, key, true)))
		rc = ERR_FAILURE;
	if (rc)
		buffer_free(&a->path);
	return rc;
}

int s3_object_url(struct s3_client *c, const char *key, struct buffer *url, char region[64])
{
	struct s3_address a;
	int rc = address_of(c, key, &a);
	if (!rc) {
		rc = buffer_appendf(url, "%s://%s%s", a.scheme, a.host, a.path.data);
		snprintf(region, 64, "%s", a.region);
	}
	buffer_free(&a.path);
	return rc;
}

/* Signs the call afresh.  On a retry (keep_url) the URL the HTTP layer
 * holds stays as it is: only the header lines are rewritten. */
static int sign_call(struct signed_call *s, bool keep_url)
{
	struct s3_client *c = s->c;
	const struct s3_call *call = s->call;
	struct aws_credentials cred;
	struct buffer path = BUFFER_INIT, query = BUFFER_INIT, auth = BUFFER_INIT, url = BUFFER_INIT;
	char date[SIGV4_DATE_BUF], region[64], host[600], scheme[8];
	struct sigv4_header h[MAX_HEADERS];
	size_t nh = 0, nl = 0;
	int rc = aws_credential_chain_get(c->credentials, &cred, s->force_refresh);
	s->force_refresh = false;
	if (rc)
		return rc;
	snprintf(s->cred_source, sizeof(s->cred_source), "%s", cred.source);
	if (keep_url)
		signed_call_clear_headers(s);
	else
		signed_call_clear(s);

	struct s3_address addr;
	rc = address_of(c, call->key, &addr);
	time_t now = (time_t)llround((double)time(NULL) + addr.skew);
	s->skew = addr.skew;
	snprintf(region, sizeof(region), "%s", addr.region);
	snprintf(s->region, sizeof(s->region), "%s", region);
	snprintf(host, sizeof(host), "%s", addr.host);
	snprintf(scheme, sizeof(scheme), "%s", addr.scheme);
	path = addr.path;
	if (!rc)
		rc = sigv4_canonical_query(&query, call->query, call->n_query);
	const char *payload = call->body ? call->body->sha256_hex : SIGV4_EMPTY_HASH;
	/* (PUT and POST without a body send an empty one: the same hash.) */
	sigv4_format_date(date, now);
	h[nh++] = (struct sigv4_header){"host", host};
	h[nh++] = (struct sigv4_header){"x-amz-content-sha256", payload};
	h[nh++] = (struct sigv4_header){"x-amz-date", date};
	if (cred.session_token)
		h[nh++] = (struct sigv4_header){"x-amz-security-token", cred.session_token};
	for (size_t i = 0; i < call->n_amz && nh < MAX_HEADERS - 2; i++)
		h[nh++] = call->amz[i];
	struct sigv4_request sr = {.method = call->method, .canonical_uri = path.data, .query = call->query,
				   .n_query = call->n_query, .headers = h, .n_headers = nh, .payload_hash = payload,
				   .amz_date = date, .region = region, .service = "s3"};
	if (!rc)
		rc = sigv4_authorization(&auth, &sr, cred.access_key_id, cred.secret_access_key);
	if (!rc && c->debug) {
		struct buffer cr = BUFFER_INIT, sh = BUFFER_INIT;
		if (!sigv4_canonical_request(&cr, &sh, &sr))
			debug_trace(c, cr.data, cred.session_token);
		buffer_free(&cr);
		buffer_free(&sh);
	}
	if (!rc)
		rc = buffer_appendf(&url, "%s://%s%s%s%s", scheme, host, path.data, query.len ? "?" : "",
				    query.len ? query.data : "");
	for (size_t i = 0; i < nh && !rc; i++) {
		struct buffer line = BUFFER_INIT;
		rc = buffer_appendf(&line, "%s: %s", h[i].name, h[i].value);
		s->lines[nl++] = buffer_detach(&line, NULL);
	}
	if (!rc) {
		struct buffer line = BUFFER_INIT;
		rc = buffer_appendf(&line, "Authorization: %s", auth.data);
		s->lines[nl++] = buffer_detach(&line, NULL);
	}
	if (!rc && call->range) {
		struct buffer line = BUFFER_INIT;
		rc = buffer_appendf(&line, "Range: %s", call->range);
		s->lines[nl++] = buffer_detach(&line, NULL);
	}
	for (size_t i = 0; i < nl; i++) {
		if (!s->lines[i])
			rc = error_oom();
		s->headers[i] = s->lines[i];
	}
	if (!rc && !keep_url && !(s->url = buffer_detach(&url, NULL)))
		rc = error_oom();
	buffer_free(&path);
	buffer_free(&query);
	buffer_free(&auth);
	buffer_free(&url);
	aws_credentials_clear(&cred);
	return rc;
}

static int before_retry(void *ctx, const struct http_response *failed)
{
	(void)failed;
	return sign_call(ctx, true);
}

/* ---- answers ------------------------------------------------------------ */

struct s3_answer_error {
	char *code, *message, *region;
};

static void answer_error_parse(struct s3_answer_error *e, const struct http_response *r)
{
	const char *body = r->body.data ? r->body.data : "";
	memset(e, 0, sizeof(*e));
	if (!xml_root_is(body, r->body.len, "Error"))
		return;
	e->code = xml_text(body, r->body.len, "Code");
	e->message = xml_text(body, r->body.len, "Message");
	e->region = xml_text(body, r->body.len, "Region");
}

static void answer_error_free(struct s3_answer_error *e)
{
	free(e->code);
	free(e->message);
	free(e->region);
}

static bool code_is(const struct s3_answer_error *e, const char *code)
{
	return e->code && strcmp(e->code, code) == 0;
}

/* The message for an answer that is an error. */
static int answer_fail(struct s3_client *c, const struct signed_call *s, const struct http_response *r, int code)
{
	struct s3_answer_error e;
	char name[1200], detail[700] = "";
	s3_object_name(c, s->call->key, name, sizeof(name));
	answer_error_parse(&e, r);
	if (e.code)
		snprintf(detail, sizeof(detail), " %s%s%s", e.code, e.message ? ": " : "", e.message ? e.message : "");
	else if (strcmp(s->call->method, "HEAD") == 0)
		snprintf(detail, sizeof(detail), " (HEAD answers carry no error detail)");
	bool auth = r->status == 403 || code_is(&e, "InvalidAccessKeyId") || code_is(&e, "SignatureDoesNotMatch") ||
		    code_is(&e, "AuthorizationHeaderMalformed");
	char creds[220] = "";
	if (auth && *s->cred_source)
		snprintf(creds, sizeof(creds), " [credentials from %s]", s->cred_source);
	int rc = error_set(code, "%s %s: HTTP %ld%s%s", s->call->method, name, r->status, detail, creds);
	answer_error_free(&e);
	return rc;
}

static void sleep_backoff(unsigned attempt)
{
	double cap = 0.25 * pow(2, attempt);
	if (cap > 8)
		cap = 8;
	double wait = cap * ((double)rand() / RAND_MAX);
	struct timespec ts = {(time_t)wait, (long)((wait - floor(wait)) * 1e9)};
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* Switches to the region the store named (once for all threads: the
 * others' requests signed for the old region are simply re-signed). */
static void adopt_region(struct s3_client *c, const char *region)
{
	char old[64] = "";
	bool changed = false;
	pthread_mutex_lock(&c->lock);
	if (strcmp(region, c->region) != 0 && strlen(region) < 64) {
		char *r = strdup(region);
		if (r) {
			snprintf(old, sizeof(old), "%s", c->region);
			free(c->region);
			c->region = r;
			changed = true;
			if (!c->custom_endpoint)
				set_endpoint(c, NULL);
		}
	}
	pthread_mutex_unlock(&c->lock);
	if (changed)
		progress_note(c->progress, "s3: bucket %s is in region %s, not %s: using %s", c->bucket, region, old,
			      region);
}

/* Takes the store's clock from an answer's Date (once for all threads). */
static bool adopt_clock(struct s3_client *c, const struct signed_call *s, const struct http_response *r)
{
	const char *date = http_response_header(r, "Date");
	time_t theirs = date ? curl_getdate(date, NULL) : -1;
	if (theirs == -1)
		return false;
	double skew = difftime(theirs, time(NULL));
	bool noted = false;
	pthread_mutex_lock(&c->lock);
	if (c->skew == s->skew) {
		/* Nobody corrected it since this request was signed. */
		c->skew = skew;
		noted = true;
	}
	pthread_mutex_unlock(&c->lock);
	if (noted)
		progress_note(c->progress,
			      "s3: this machine's clock is %.0f s off the store's; signing with the store's time",
			      fabs(skew));
	return true;
}

/* A 403 without detail (HEAD answers have no body) from a store whose
 * clock is far from the one the request was signed with. */
static bool clock_suspect(const struct signed_call *s, const struct http_response *r)
{
	const char *date = http_response_header(r, "Date");
	time_t theirs = date ? curl_getdate(date, NULL) : -1;
	return r->status == 403 && theirs != -1 && fabs(difftime(theirs, time(NULL)) - s->skew) > 300;
}

/* Performs a call: signs it, sends it (streamed when `stream`), and deals
 * with the answers S3 gives that mean "send it again differently".  Returns
 * 0 with the final answer in resp (any status); the caller judges it. */
static int perform(struct s3_client *c, const struct s3_call *call, struct http_response *resp,
		   struct byte_source **stream, struct signed_call *s)
{
	static const struct s3_body empty = {.data = "", .len = 0, .sha256_hex = SIGV4_EMPTY_HASH};
	bool region_retried = false, clock_retried = false, token_retried = false;
	const struct s3_body *body = call->body;
	struct byte_range range = {-1, NULL, 0, 0};
	if (!body && (strcmp(call->method, "PUT") == 0 || strcmp(call->method, "POST") == 0))
		body = &empty; /* an empty body, stated as such */
	memset(resp, 0, sizeof(*resp));
	memset(s, 0, sizeof(*s));
	s->c = c;
	s->call = call;
	for (unsigned attempt = 1;; attempt++) {
		int rc = sign_call(s, false);
		if (rc)
			return rc;
		struct http_request req = {
			.method = call->method,
			.url = s->url,
			.headers = s->headers,
			.capture_limit = call->capture_limit,
			.before_retry = before_retry,
			.retry_ctx = s,
		};
		if (body && body->data) {
			req.body = body->data;
			req.body_len = body->len;
		} else if (body) {
			range = (struct byte_range){body->fd, NULL, body->offset, body->length};
			req.body_open = byte_range_open;
			req.body_ctx = &range;
			req.body_size = body->length;
		}
		if (stream) {
			*stream = NULL;
			rc = http_open(c->http, &req, resp, stream);
		} else {
			rc = http_do(c->http, &req, resp);
		}
		if (rc) {
			char name[1200];
			s3_object_name(c, call->key, name, sizeof(name));
			return error_wrap(rc, "%s %s", call->method, name);
		}
		if (resp->status >= 200 && resp->status < 300) {
			struct s3_answer_error e;
			if (!call->error_in_200)
				return 0;
			answer_error_parse(&e, resp);
			bool failed = e.code != NULL;
			answer_error_free(&e);
			if (!failed)
				return 0;
			if (attempt >= APP_ATTEMPTS)
				return 0; /* the caller sees the <Error> */
			progress_note(c->progress, "s3: %s answered 200 with an error; trying again", call->method);
			http_response_free(resp);
			sleep_backoff(attempt);
			continue;
		}
		struct s3_answer_error e;
		answer_error_parse(&e, resp);
		const char *hint = http_response_header(resp, "x-amz-bucket-region");
		if (!hint)
			hint = e.region;
		bool again = false;
		if (!region_retried && (resp->status == 301 || resp->status == 307 || resp->status == 400 ||
					resp->status == 403) && hint && *hint && strcmp(hint, s->region) != 0) {
			adopt_region(c, hint);
			region_retried = again = true;
		} else if (!clock_retried && (code_is(&e, "RequestTimeTooSkewed") || clock_suspect(s, resp)) &&
			   adopt_clock(c, s, resp)) {
			clock_retried = again = true;
		} else if (!token_retried && (code_is(&e, "ExpiredToken") || code_is(&e, "TokenRefreshRequired"))) {
			token_retried = again = s->force_refresh = true;
		} else if (code_is(&e, "RequestTimeout") && attempt < APP_ATTEMPTS) {
			sleep_backoff(attempt);
			again = true;
		}
		answer_error_free(&e);
		if (!again)
			return 0;
		http_response_free(resp);
		if (stream && *stream) {
			source_close(*stream);
			*stream = NULL;
		}
	}
}

/* ---- operations --------------------------------------------------------- */

int s3_head_object(struct s3_client *c, const char *key, struct s3_object_info *info)
{
	struct http_response r;
	struct signed_call s;
	struct s3_call call = {.method = "HEAD", .key = key};
	int rc = perform(c, &call, &r, NULL, &s);
	memset(info, 0, sizeof(*info));
	if (!rc && r.status == 200) {
		const char *len = http_response_header(&r, "Content-Length");
		const char *lm = http_response_header(&r, "Last-Modified");
		info->size = len ? strtoll(len, NULL, 10) : -1;
		time_t t = lm ? curl_getdate(lm, NULL) : -1;
		info->last_modified = t == -1 ? 0 : (int64_t)t;
	} else if (!rc && r.status == 404) {
		char name[1200];
		s3_object_name(c, key, name, sizeof(name));
		rc = error_set(ERR_NOT_FOUND, "%s does not exist", name);
	} else if (!rc) {
		/* HEAD answers have no body: ask for one byte to learn why. */
		struct http_response g;
		struct signed_call gs;
		struct s3_call get = {.method = "GET", .key = key, .range = "bytes=0-0"};
		int grc = perform(c, &get, &g, NULL, &gs);
		if (!grc && (g.status == 404 || g.status == 416)) {
			/* It was a passing trouble (a region or clock learnt meanwhile). */
			char name[1200];
			s3_object_name(c, key, name, sizeof(name));
			struct s3_answer_error e;
			answer_error_parse(&e, &g);
			rc = code_is(&e, "NoSuchBucket") ? answer_fail(c, &gs, &g, ERR_FAILURE)
				: g.status == 404 ? error_set(ERR_NOT_FOUND, "%s does not exist", name)
						  : answer_fail(c, &s, &r, ERR_FAILURE);
			answer_error_free(&e);
		} else if (!grc && g.status >= 300 && g.body.len) {
			rc = answer_fail(c, &gs, &g, ERR_FAILURE);
		} else {
			rc = answer_fail(c, &s, &r, ERR_FAILURE);
		}
		http_response_free(&g);
		signed_call_clear(&gs);
	}
	http_response_free(&r);
	signed_call_clear(&s);
	return rc;
}

/* Drops the first n bytes of a source (a store that ignored Range). */
static int skip_bytes(struct byte_source *src, int64_t n)
{
	char buf[65536];
	while (n > 0) {
		ssize_t got = source_read(src, buf, n < (int64_t)sizeof(buf) ? (size_t)n : sizeof(buf));
		if (got < 0)
			return (int)got;
		if (got == 0)
			return error_set(ERR_FAILURE, "object ended before the requested offset");
		n -= got;
	}
	return 0;
}

/* The body of a GET, keeping alive the signed request the HTTP layer
 * re-reads when it resumes a broken download. */
struct get_source {
	struct byte_source base;
	struct byte_source *inner;
	struct signed_call *call;
	struct s3_call desc;
	char range[64];
	char *key;
	struct http_response resp; /* the first answer */
};

static ssize_t get_read(struct byte_source *src, void *buf, size_t len)
{
	struct get_source *g = (struct get_source *)src;
	return source_read(g->inner, buf, len);
}

static void get_close(struct byte_source *src)
{
	struct get_source *g = (struct get_source *)src;
	source_close(g->inner);
	http_response_free(&g->resp);
	signed_call_clear(g->call);
	free(g->call);
	free(g->key);
	free(g);
}

int s3_get_object(struct s3_client *c, const char *key, int64_t offset, struct byte_source **out)
{
	struct get_source *g = calloc(1, sizeof(*g));
	struct signed_call *s = calloc(1, sizeof(*s));
	char *k = strdup(key);
	if (!g || !s || !k) {
		free(g);
		free(s);
		free(k);
		return error_oom();
	}
	g->base.read = get_read;
	g->base.close = get_close;
	g->call = s;
	g->key = k;
	snprintf(g->range, sizeof(g->range), "bytes=%lld-", (long long)offset);
	g->desc = (struct s3_call){.method = "GET", .key = g->key, .range = offset > 0 ? g->range : NULL};
	int rc = perform(c, &g->desc, &g->resp, &g->inner, s);
	if (!rc && g->inner) {
		if (offset > 0 && g->resp.status == 200)
			rc = skip_bytes(g->inner, offset);
	} else if (!rc) {
		struct s3_answer_error e;
		answer_error_parse(&e, &g->resp);
		rc = answer_fail(c, s, &g->resp, g->resp.status == 404 && !code_is(&e, "NoSuchBucket") ? ERR_NOT_FOUND : ERR_FAILURE);
		answer_error_free(&e);
	}
	if (rc) {
		get_close(&g->base);
		return rc;
	}
	*out = &g->base;
	return 0;
}

int s3_get_small(struct s3_client *c, const char *key, size_t max, struct buffer *out)
{
	struct http_response r;
	struct signed_call s;
	struct s3_call call = {.method = "GET", .key = key, .capture_limit = max + 1};
	int rc = perform(c, &call, &r, NULL, &s);
	if (!rc && r.status == 200) {
		char name[1200];
		s3_object_name(c, key, name, sizeof(name));
		if (r.body.len > max) {
			rc = error_set(ERR_FAILURE, "%s is larger than %zu bytes", name, max);
		} else {
			buffer_reset(out);
			rc = buffer_append(out, r.body.data ? r.body.data : "", r.body.len);
		}
	} else if (!rc) {
		struct s3_answer_error e;
		answer_error_parse(&e, &r);
		rc = answer_fail(c, &s, &r, r.status == 404 && !code_is(&e, "NoSuchBucket") ? ERR_NOT_FOUND : ERR_FAILURE);
		answer_error_free(&e);
	}
	http_response_free(&r);
	signed_call_clear(&s);
	return rc;
}

/* Runs a call whose success is a 2xx without an <Error> body; the answer
 * is kept in *resp_out when given (to read ETag or UploadId). */
static int simple_call(struct s3_client *c, const struct s3_call *call, struct http_response *resp_out)
{
	struct http_response r;
	struct signed_call s;
	int rc = perform(c, call, &r, NULL, &s);
	if (!rc) {
		struct s3_answer_error e;
		answer_error_parse(&e, &r);
		if (r.status < 200 || r.status >= 300 || e.code)
			rc = answer_fail(c, &s, &r, ERR_FAILURE);
		answer_error_free(&e);
	}
	if (!rc && resp_out)
		*resp_out = r;
	else
		http_response_free(&r);
	signed_call_clear(&s);
	return rc;
}

int s3_put_object(struct s3_client *c, const char *key, const struct s3_body *body)
{
	struct s3_call call = {.method = "PUT", .key = key, .body = body};
	return simple_call(c, &call, NULL);
}

/* x-amz-copy-source: "<bucket>/<key>", percent-encoded except '/' and ':'
 * (stores decode it; some only as JavaScript's decodeURI, which leaves %3A). */
static int copy_source(struct buffer *out, const struct s3_client *c, const char *key)
{
	struct buffer enc = BUFFER_INIT;
	int rc = sigv4_uri_encode(&enc, c->bucket, false) || buffer_append_str(&enc, "/") ||
		 sigv4_uri_encode(&enc, key, true);
	for (size_t i = 0; !rc && i < enc.len; i++) {
		if (enc.data[i] == '%' && i + 2 < enc.len && enc.data[i + 1] == '3' && enc.data[i + 2] == 'A') {
			rc = buffer_append_str(out, ":");
			i += 2;
		} else {
			rc = buffer_append(out, &enc.data[i], 1);
		}
	}
	buffer_free(&enc);
	return rc ? error_oom() : 0;
}

int s3_copy_object_to_itself(struct s3_client *c, const char *key, const char *meta_name, const char *meta_value)
{
	struct buffer src = BUFFER_INIT, meta = BUFFER_INIT;
	int rc = copy_source(&src, c, key);
	if (!rc)
		rc = buffer_appendf(&meta, "x-amz-meta-%s", meta_name);
	if (!rc) {
		const struct sigv4_header amz[] = {
			{"x-amz-copy-source", src.data},
			{"x-amz-metadata-directive", "REPLACE"},
			{meta.data, meta_value},
		};
		struct s3_call call = {.method = "PUT", .key = key, .amz = amz, .n_amz = 3, .error_in_200 = true};
		rc = simple_call(c, &call, NULL);
	}
	buffer_free(&src);
	buffer_free(&meta);
	return rc;
}

int s3_multipart_create(struct s3_client *c, const char *key, const char *const *meta_names,
			const char *const *meta_values, size_t n_meta, char **upload_id)
{
	const struct sigv4_param q[] = {{"uploads", ""}};
	struct sigv4_header amz[4];
	struct buffer names[4] = {BUFFER_INIT, BUFFER_INIT, BUFFER_INIT, BUFFER_INIT};
	struct http_response r;
	int rc = n_meta > 4 ? error_set(ERR_FAILURE, "too much metadata") : 0;
	for (size_t i = 0; i < n_meta && !rc; i++) {
		rc = buffer_appendf(&names[i], "x-amz-meta-%s", meta_names[i]);
		amz[i] = (struct sigv4_header){names[i].data, meta_values[i]};
	}
	struct s3_call call = {.method = "POST", .key = key, .query = q, .n_query = 1, .amz = amz, .n_amz = n_meta};
	if (!rc)
		rc = simple_call(c, &call, &r);
	if (!rc) {
		*upload_id = xml_text(r.body.data ? r.body.data : "", r.body.len, "UploadId");
		if (!*upload_id || !**upload_id) {
			char name[1200];
			s3_object_name(c, key, name, sizeof(name));
			free(*upload_id);
			*upload_id = NULL;
			rc = error_set(ERR_FAILURE, "POST %s?uploads: the answer has no UploadId", name);
		}
		http_response_free(&r);
	}
	for (size_t i = 0; i < 4; i++)
		buffer_free(&names[i]);
	return rc;
}

static int part_etag(struct s3_client *c, const char *key, int part, struct http_response *r, bool in_body,
		     char **etag)
{
	const char *h = in_body ? NULL : http_response_header(r, "ETag");
	*etag = in_body ? xml_text(r->body.data ? r->body.data : "", r->body.len, "ETag") : h ? strdup(h) : NULL;
	http_response_free(r);
	if (!*etag || !**etag) {
		char name[1200];
		s3_object_name(c, key, name, sizeof(name));
		free(*etag);
		*etag = NULL;
		return error_set(ERR_FAILURE, "PUT %s part %d: the answer has no ETag", name, part);
	}
	return 0;
}

int s3_multipart_upload_part(struct s3_client *c, const char *key, const char *upload_id, int part,
			     const struct s3_body *body, char **etag)
{
	char num[16];
	struct http_response r;
	snprintf(num, sizeof(num), "%d", part);
	const struct sigv4_param q[] = {{"partNumber", num}, {"uploadId", upload_id}};
	struct s3_call call = {.method = "PUT", .key = key, .query = q, .n_query = 2, .body = body};
	int rc = simple_call(c, &call, &r);
	return rc ? error_wrap(rc, "part %d", part) : part_etag(c, key, part, &r, false, etag);
}

int s3_multipart_copy_part(struct s3_client *c, const char *key, const char *upload_id, int part, int64_t first,
			   int64_t last, char **etag)
{
	char num[16], range[80];
	struct buffer src = BUFFER_INIT;
	struct http_response r;
	snprintf(num, sizeof(num), "%d", part);
	snprintf(range, sizeof(range), "bytes=%lld-%lld", (long long)first, (long long)last);
	int rc = copy_source(&src, c, key);
	if (rc)
		return rc;
	const struct sigv4_param q[] = {{"partNumber", num}, {"uploadId", upload_id}};
	const struct sigv4_header amz[] = {{"x-amz-copy-source", src.data}, {"x-amz-copy-source-range", range}};
	struct s3_call call = {.method = "PUT", .key = key, .query = q, .n_query = 2, .amz = amz, .n_amz = 2,
			       .error_in_200 = true};
	rc = simple_call(c, &call, &r);
	buffer_free(&src);
	return rc ? error_wrap(rc, "copy part %d", part) : part_etag(c, key, part, &r, true, etag);
}

int s3_multipart_complete(struct s3_client *c, const char *key, const char *upload_id, char *const *etags,
			  int n_parts)
{
	struct buffer xml = BUFFER_INIT;
	char hash[SIGV4_HASH_BUF];
	int rc = buffer_append_str(&xml, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
	for (int i = 0; i < n_parts && !rc; i++) {
		/* ETags are quoted hex strings: nothing to escape but quotes. */
		rc = buffer_appendf(&xml, "<Part><PartNumber>%d</PartNumber><ETag>", i + 1);
		for (const char *p = etags[i]; *p && !rc; p++)
			rc = *p == '"' ? buffer_append_str(&xml, "&quot;") : buffer_append(&xml, p, 1);
		if (!rc)
			rc = buffer_append_str(&xml, "</ETag></Part>");
	}
	if (!rc)
		rc = buffer_append_str(&xml, "</CompleteMultipartUpload>");
	if (!rc)
		rc = sigv4_hash_hex(hash, xml.data, xml.len);
	if (!rc) {
		const struct sigv4_param q[] = {{"uploadId", upload_id}};
		struct s3_body body = {.data = xml.data, .len = xml.len, .sha256_hex = hash};
		struct s3_call call = {.method = "POST", .key = key, .query = q, .n_query = 1, .body = &body,
				       .error_in_200 = true};
		rc = simple_call(c, &call, NULL);
	}
	buffer_free(&xml);
	return rc;
}

int s3_multipart_abort(struct s3_client *c, const char *key, const char *upload_id)
{
	const struct sigv4_param q[] = {{"uploadId", upload_id}};
	struct s3_call call = {.method = "DELETE", .key = key, .query = q, .n_query = 1};
	return simple_call(c, &call, NULL);
}

/* ---- bucket-level calls (s3_bucket.c) ----------------------------------- */

int s3_client_request(struct s3_client *c, const struct s3_request *rq, struct http_response *out)
{
	struct s3_call call = {.method = rq->method, .key = rq->key, .query = rq->query, .n_query = rq->n_query,
			       .amz = rq->headers, .n_amz = rq->n_headers, .body = rq->body,
			       .error_in_200 = rq->error_in_200, .capture_limit = rq->capture_limit};
	return simple_call(c, &call, out);
}
