/* Sending an S3 call and reading its answer: the <Error> documents, and
 * the answers that mean "send it again differently" (another region, the
 * store's clock, fresh credentials, a passing error). */
#include "transport/s3/s3_call.h"

#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util/progress.h"
#include "core/util/spool.h"
#include "transport/s3/xml_text.h"

#define APP_ATTEMPTS 4 /* retries of answers the HTTP layer does not retry */

static int before_retry(void *ctx, const struct http_response *failed)
{
	(void)failed;
	return s3_sign_call(ctx, true);
}

/* ---- answers ------------------------------------------------------------ */

void s3_answer_error_parse(struct s3_answer_error *e, const struct http_response *r)
{
	const char *body = r->body.data ? r->body.data : "";
	memset(e, 0, sizeof(*e));
	if (!xml_root_is(body, r->body.len, "Error"))
		return;
	e->code = xml_text(body, r->body.len, "Code");
	e->message = xml_text(body, r->body.len, "Message");
	e->region = xml_text(body, r->body.len, "Region");
}

void s3_answer_error_free(struct s3_answer_error *e)
{
	free(e->code);
	free(e->message);
	free(e->region);
}

bool s3_answer_code_is(const struct s3_answer_error *e, const char *code)
{
	return e->code && strcmp(e->code, code) == 0;
}

/* The message for an answer that is an error. */
int s3_answer_fail(struct s3_client *c, const struct signed_call *s, const struct http_response *r, int code)
{
	struct s3_answer_error e;
	char name[1200], detail[700] = "";
	s3_object_name(c, s->call->key, name, sizeof(name));
	s3_answer_error_parse(&e, r);
	if (e.code)
		snprintf(detail, sizeof(detail), " %s%s%s", e.code, e.message ? ": " : "", e.message ? e.message : "");
	else if (strcmp(s->call->method, "HEAD") == 0)
		snprintf(detail, sizeof(detail), " (HEAD answers carry no error detail)");
	bool auth = r->status == 403 || s3_answer_code_is(&e, "InvalidAccessKeyId") || s3_answer_code_is(&e, "SignatureDoesNotMatch") ||
		    s3_answer_code_is(&e, "AuthorizationHeaderMalformed");
	char creds[220] = "";
	if (auth && *s->cred_source)
		snprintf(creds, sizeof(creds), " [credentials from %s]", s->cred_source);
	int rc = error_set(code, "%s %s: HTTP %ld%s%s", s->call->method, name, r->status, detail, creds);
	s3_answer_error_free(&e);
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

/* Signs the call afresh and sends it once through the HTTP layer (which
 * retries what it retries). */
static int send_signed(struct s3_client *c, struct signed_call *s, const struct s3_body *body,
		       struct byte_range *range, struct http_response *resp, struct byte_source **stream)
{
	const struct s3_call *call = s->call;
	int rc = s3_sign_call(s, false);
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
		*range = (struct byte_range){body->fd, NULL, body->offset, body->length};
		req.body_open = byte_range_open;
		req.body_ctx = range;
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
	return 0;
}

/* The corrections already tried for one call: each at most once. */
struct resend_state {
	bool region, clock, token;
};

/* Whether a non-2xx answer means "send it again differently", after
 * making the difference (region, clock, credentials, a pause). */
static bool error_wants_resend(struct s3_client *c, struct signed_call *s, const struct http_response *resp,
			       unsigned attempt, struct resend_state *tried)
{
	struct s3_answer_error e;
	s3_answer_error_parse(&e, resp);
	const char *hint = http_response_header(resp, "x-amz-bucket-region");
	if (!hint)
		hint = e.region;
	bool again = false;
	bool moved = resp->status == 301 || resp->status == 307 || resp->status == 400 || resp->status == 403;
	if (!tried->region && moved && hint && *hint && strcmp(hint, s->region) != 0) {
		s3_adopt_region(c, hint);
		tried->region = again = true;
	} else if (!tried->clock && (s3_answer_code_is(&e, "RequestTimeTooSkewed") || clock_suspect(s, resp)) &&
		   adopt_clock(c, s, resp)) {
		tried->clock = again = true;
	} else if (!tried->token &&
		   (s3_answer_code_is(&e, "ExpiredToken") || s3_answer_code_is(&e, "TokenRefreshRequired"))) {
		tried->token = again = s->force_refresh = true;
	} else if (s3_answer_code_is(&e, "RequestTimeout") && attempt < APP_ATTEMPTS) {
		sleep_backoff(attempt);
		again = true;
	}
	s3_answer_error_free(&e);
	return again;
}

/* Whether a 2xx answer carries an <Error> body worth another try. */
static bool success_wants_resend(struct s3_client *c, const struct s3_call *call, const struct http_response *resp,
				 unsigned attempt)
{
	if (!call->error_in_200)
		return false;
	struct s3_answer_error e;
	s3_answer_error_parse(&e, resp);
	bool failed = e.code != NULL;
	s3_answer_error_free(&e);
	if (!failed || attempt >= APP_ATTEMPTS)
		return false; /* past the last try, the caller sees the <Error> */
	progress_note(c->progress, "s3: %s answered 200 with an error; trying again", call->method);
	sleep_backoff(attempt);
	return true;
}

int s3_perform(struct s3_client *c, const struct s3_call *call, struct http_response *resp,
	       struct byte_source **stream, struct signed_call *s)
{
	static const struct s3_body empty = {.data = "", .len = 0, .sha256_hex = SIGV4_EMPTY_HASH};
	struct resend_state tried = {false, false, false};
	const struct s3_body *body = call->body;
	struct byte_range range = {-1, NULL, 0, 0};
	if (!body && (strcmp(call->method, "PUT") == 0 || strcmp(call->method, "POST") == 0))
		body = &empty; /* an empty body, stated as such */
	memset(resp, 0, sizeof(*resp));
	memset(s, 0, sizeof(*s));
	s->c = c;
	s->call = call;
	for (unsigned attempt = 1;; attempt++) {
		int rc = send_signed(c, s, body, &range, resp, stream);
		if (rc)
			return rc;
		if (resp->status >= 200 && resp->status < 300) {
			if (!success_wants_resend(c, call, resp, attempt))
				return 0;
			http_response_free(resp);
			continue;
		}
		if (!error_wants_resend(c, s, resp, attempt, &tried))
			return 0;
		http_response_free(resp);
		if (stream && *stream) {
			source_close(*stream);
			*stream = NULL;
		}
	}
}
