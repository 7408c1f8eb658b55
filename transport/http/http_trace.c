/* The --debug (CACHECTL_DEBUG=http) trace: one block on stderr per
 * attempt, written at once so parallel workers do not interleave lines.
 * Nothing in it is a credential: secret header values are replaced by
 * "***", URLs (in header values too) are redacted, and every value passes
 * secret_scrub (any credential this run knows) and printable (a server's
 * header cannot reach the terminal raw). */
#include "transport/http/http_internal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/util/buffer.h"
#include "core/util/printable.h"
#include "core/util/secrets.h"

#define TRACE_VALUE_MAX 512

bool http_secret_header(const char *name, size_t len)
{
	/* Substrings of a lower-cased name: authorization, proxy-authorization,
	 * x-ms-copy-source-authorization, x-amz-security-token,
	 * x-aws-ec2-metadata-token, cookie, set-cookie, x-ms-encryption-key,
	 * x-amz-server-side-encryption-customer-key ... */
	static const char *const words[] = {"authorization", "token", "cookie", "secret", "signature", "-key",
					    "password", "credential", NULL};
	char lower[128];
	if (len >= sizeof(lower))
		len = sizeof(lower) - 1;
	for (size_t i = 0; i < len; i++)
		lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
	lower[len] = '\0';
	for (size_t i = 0; words[i]; i++)
		if (strstr(lower, words[i]))
			return true;
	return false;
}

/* "  > Name: value" with the value hidden, redacted, scrubbed, escaped. */
static void trace_header(struct buffer *out, char dir, const char *name, size_t name_len, const char *value)
{
	char raw[TRACE_VALUE_MAX * 2], shown_name[160], shown[TRACE_VALUE_MAX * 4 + 8];
	if (http_secret_header(name, name_len))
		snprintf(raw, sizeof(raw), "***");
	else if (strstr(value, "://"))
		http_redact_url(raw, sizeof(raw), value);
	else
		snprintf(raw, sizeof(raw), "%s", value);
	secret_scrub(raw);
	char name_copy[128];
	snprintf(name_copy, sizeof(name_copy), "%.*s", (int)(name_len < 127 ? name_len : 127), name);
	(void)!buffer_appendf(out, "http:   %c %s: %s\n", dir, printable(shown_name, sizeof(shown_name), name_copy, 0),
			      printable(shown, sizeof(shown), raw, TRACE_VALUE_MAX));
}

static void flush_block(struct buffer *b)
{
	if (!b->data)
		return;
	flockfile(stderr);
	fwrite(b->data, 1, b->len, stderr);
	fflush(stderr);
	funlockfile(stderr);
}

void http_trace(struct http_client *c, const struct http_request *req, const struct http_response *resp,
		const char *outcome)
{
	if (!c->debug)
		return;
	char url[2048], shown_url[4096], shown_outcome[256];
	http_redact_url(url, sizeof(url), req->url);
	secret_scrub(url);
	struct buffer b = BUFFER_INIT;
	(void)!buffer_appendf(&b, "http: %s %s -> %s (try %u, sent %lld B, received %lld B, %.3f s)\n", req->method,
			      printable(shown_url, sizeof(shown_url), url, 0),
			      printable(shown_outcome, sizeof(shown_outcome), outcome, 0), resp->attempts,
			      (long long)resp->bytes_sent, (long long)resp->bytes_received, resp->seconds);
	for (const char *const *h = req->headers; h && *h; h++) {
		const char *colon = strchr(*h, ':');
		if (!colon)
			continue;
		const char *v = colon + 1;
		while (*v == ' ')
			v++;
		trace_header(&b, '>', *h, (size_t)(colon - *h), v);
	}
	for (size_t i = 0; i < resp->n_headers; i++)
		trace_header(&b, '<', resp->headers[i].name, strlen(resp->headers[i].name), resp->headers[i].value);
	flush_block(&b);
	buffer_free(&b);
}

void http_trace_stream_end(struct http_client *c, const char *url, int64_t delivered, double seconds,
			   unsigned resumes)
{
	if (!c->debug)
		return;
	char redacted[2048], shown[4096];
	http_redact_url(redacted, sizeof(redacted), url);
	secret_scrub(redacted);
	struct buffer b = BUFFER_INIT;
	(void)!buffer_appendf(&b, "http: GET %s: body closed after %lld B received in %.3f s (%u resumes)\n",
			      printable(shown, sizeof(shown), redacted, 0), (long long)delivered, seconds, resumes);
	flush_block(&b);
	buffer_free(&b);
}

void http_note_transfer(CURL *e, struct http_response *resp)
{
	curl_off_t up = 0, down = 0, usec = 0;
	curl_easy_getinfo(e, CURLINFO_SIZE_UPLOAD_T, &up);
	curl_easy_getinfo(e, CURLINFO_SIZE_DOWNLOAD_T, &down);
	curl_easy_getinfo(e, CURLINFO_TOTAL_TIME_T, &usec);
	resp->bytes_sent = (int64_t)up;
	resp->bytes_received = (int64_t)down;
	resp->seconds = (double)usec / 1e6;
}
