/* Signing an S3 call with Signature V4: the credentials of the moment, the
 * address and clock offset of the moment, and the header lines the HTTP
 * layer sends (rewritten on every retry). */
#include "transport/s3/s3_call.h"

#include <math.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util/progress.h"

static void signed_call_clear_headers(struct signed_call *s)
{
	for (size_t i = 0; i < S3_MAX_HEADERS; i++) {
		if (s->lines[i]) {
			OPENSSL_cleanse(s->lines[i], strlen(s->lines[i]));
			free(s->lines[i]);
		}
		s->lines[i] = NULL;
		s->headers[i] = NULL;
	}
}

void s3_signed_call_clear(struct signed_call *s)
{
	free(s->url);
	s->url = NULL;
	signed_call_clear_headers(s);
}

/* Shows the canonical request when CACHECTL_DEBUG names "s3"; it carries
 * the session token, whose value is hidden.  Best effort: out of memory,
 * nothing is shown. */
static void debug_trace(struct s3_client *c, const struct sigv4_request *sr, const char *token)
{
	struct buffer cr = BUFFER_INIT, sh = BUFFER_INIT, b = BUFFER_INIT;
	if (sigv4_canonical_request(&cr, &sh, sr))
		goto out;
	const char *p = cr.data;
	while (token && *token) {
		const char *hit = strstr(p, token);
		if (!hit)
			break;
		if (buffer_append(&b, p, (size_t)(hit - p)) || buffer_append_str(&b, "***"))
			goto out;
		p = hit + strlen(token);
	}
	if (buffer_append_str(&b, p))
		goto out;
	progress_note(c->progress, "s3: canonical request:\n%s", b.data);
out:
	buffer_free(&cr);
	buffer_free(&sh);
	buffer_free(&b);
}

/* Appends the header line "name: value". */
static int add_line(struct signed_call *s, size_t *n, const char *name, const char *value)
{
	struct buffer line = BUFFER_INIT;
	int rc = buffer_appendf(&line, "%s: %s", name, value);
	if (rc)
		return rc;
	s->lines[*n] = buffer_detach(&line, NULL);
	CHECK_ALLOC(s->lines[*n]);
	s->headers[*n] = s->lines[*n];
	(*n)++;
	return 0;
}

/* The lines sent: the signed headers, Authorization, and Range (which is
 * not signed). */
static int set_lines(struct signed_call *s, const struct sigv4_header *h, size_t nh, const char *authorization)
{
	size_t n = 0;
	int rc;
	for (size_t i = 0; i < nh; i++)
		if ((rc = add_line(s, &n, h[i].name, h[i].value)))
			return rc;
	if ((rc = add_line(s, &n, "Authorization", authorization)))
		return rc;
	if (s->call->range)
		return add_line(s, &n, "Range", s->call->range);
	return 0;
}

static int set_url(struct signed_call *s, const struct s3_address *addr, const struct buffer *query)
{
	struct buffer url = BUFFER_INIT;
	int rc = buffer_appendf(&url, "%s://%s%s%s%s", addr->scheme, addr->host, addr->path.data,
				query->len ? "?" : "", query->len ? query->data : "");
	if (rc)
		return rc;
	s->url = buffer_detach(&url, NULL);
	CHECK_ALLOC(s->url);
	return 0;
}

int s3_sign_call(struct signed_call *s, bool keep_url)
{
	struct s3_client *c = s->c;
	const struct s3_call *call = s->call;
	struct aws_credentials cred;
	struct s3_address addr = {.path = BUFFER_INIT};
	struct buffer query = BUFFER_INIT, auth = BUFFER_INIT;
	char date[SIGV4_DATE_BUF];
	struct sigv4_header h[S3_MAX_HEADERS];
	size_t nh = 0;
	/* (PUT and POST without a body send an empty one: the same hash.) */
	const char *payload = call->body ? call->body->sha256_hex : SIGV4_EMPTY_HASH;
	int rc = aws_credential_chain_get(c->credentials, &cred, s->force_refresh);
	s->force_refresh = false;
	if (rc)
		return rc;
	snprintf(s->cred_source, sizeof(s->cred_source), "%s", cred.source);
	if (keep_url)
		signed_call_clear_headers(s);
	else
		s3_signed_call_clear(s);
	if ((rc = s3_address_of(c, call->key, &addr)) ||
	    (rc = sigv4_canonical_query(&query, call->query, call->n_query)))
		goto out;
	s->skew = addr.skew;
	snprintf(s->region, sizeof(s->region), "%s", addr.region);
	sigv4_format_date(date, (time_t)llround((double)time(NULL) + addr.skew));
	h[nh++] = (struct sigv4_header){"host", addr.host};
	h[nh++] = (struct sigv4_header){"x-amz-content-sha256", payload};
	h[nh++] = (struct sigv4_header){"x-amz-date", date};
	if (cred.session_token)
		h[nh++] = (struct sigv4_header){"x-amz-security-token", cred.session_token};
	for (size_t i = 0; i < call->n_amz && nh < S3_MAX_HEADERS - 2; i++)
		h[nh++] = call->amz[i];
	struct sigv4_request sr = {.method = call->method, .canonical_uri = addr.path.data, .query = call->query,
				   .n_query = call->n_query, .headers = h, .n_headers = nh, .payload_hash = payload,
				   .amz_date = date, .region = addr.region, .service = "s3"};
	if ((rc = sigv4_authorization(&auth, &sr, cred.access_key_id, cred.secret_access_key)))
		goto out;
	if (c->debug)
		debug_trace(c, &sr, cred.session_token);
	if ((rc = set_lines(s, h, nh, auth.data)))
		goto out;
	if (!keep_url)
		rc = set_url(s, &addr, &query);
out:
	buffer_free(&addr.path);
	buffer_free(&query);
	buffer_free(&auth);
	aws_credentials_clear(&cred);
	return rc;
}
