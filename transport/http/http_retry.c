/* The one retry loop of the HTTP layer (http_do and http_open both run
 * it): which failures are retried, how long to wait, and the throttle
 * budget for 429 answers. */
#include "transport/http/http_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/progress.h"

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

double http_backoff(struct http_client *c, unsigned attempt, const struct http_response *failed)
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
		if (http_now() + wait > c->pause_until)
			c->pause_until = http_now() + wait;
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
	*wait = http_backoff(c, attempt, failed);
	if (throttled && failed->waited + *wait > c->o.max_throttle_wait)
		return false;
	return true;
}

static void note_wait(struct http_client *c, const struct http_request *req, const struct http_response *resp,
		      double wait, unsigned attempt)
{
	char url[512], why[512];
	http_redact_url(url, sizeof(url), req->url);
	/* The reason whole ("Could not resolve host: registry.example"): the
	 * message names the URL first, which the note names anyway. */
	const char *reason = error_message(), *named = strstr(reason, url);
	if (named && strstr(named + strlen(url), ": "))
		reason = strstr(named + strlen(url), ": ") + 2;
	if (resp && resp->status)
		snprintf(why, sizeof(why), "HTTP %ld", resp->status);
	else
		snprintf(why, sizeof(why), "%s", reason);
	progress_note(c->o.progress, "%s: %s; waiting %.1fs before try %u of %s %s", c->what, why, wait,
		      attempt + 1, req->method, url);
}

int http_retry_run(struct http_client *c, const struct http_request *req, struct http_response *resp,
		   http_try_fn try_once, void *ctx)
{
	unsigned max = req->no_retry ? 1 : c->o.max_attempts;
	for (unsigned attempt = 1;; attempt++) {
		CURLcode crc = CURLE_OK;
		http_wait_for_pause(c);
		resp->attempts = attempt;
		int rc = try_once(ctx, resp, &crc);
		resp->curl_code = (int)crc;
		char outcome[96];
		if (rc)
			snprintf(outcome, sizeof(outcome), "%s", crc ? curl_easy_strerror(crc) : "failed");
		else
			snprintf(outcome, sizeof(outcome), "%ld", resp->status);
		http_trace(c, req, resp, outcome);
		bool retry = rc ? (crc != CURLE_OK && retryable_curl(crc)) : retryable_status(resp->status);
		double wait;
		if (!retry || !retry_wait(c, attempt, max, rc ? NULL : resp, &wait))
			return rc;
		note_wait(c, req, rc ? NULL : resp, wait, attempt);
		http_sleep(wait);
		resp->waited += wait;
		if (req->before_retry && (rc = req->before_retry(req->retry_ctx, resp)))
			return rc;
	}
}
