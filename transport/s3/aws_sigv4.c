#include "transport/s3/aws_sigv4.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/error.h"

static const char HEX[] = "0123456789abcdef";

static void to_hex(char *out, const unsigned char *in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = HEX[in[i] >> 4];
		out[2 * i + 1] = HEX[in[i] & 15];
	}
	out[2 * n] = '\0';
}

void sigv4_format_date(char out[SIGV4_DATE_BUF], time_t t)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, SIGV4_DATE_BUF, "%Y%m%dT%H%M%SZ", &tm);
}

int sigv4_uri_encode(struct buffer *out, const char *s, bool keep_slash)
{
	static const char upper[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		bool keep = isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~' ||
			    (keep_slash && *p == '/');
		char enc[3] = {'%', upper[*p >> 4], upper[*p & 15]};
		int rc = keep ? buffer_append(out, p, 1) : buffer_append(out, enc, 3);
		if (rc)
			return rc;
	}
	return buffer_append(out, "", 0); /* terminated even when empty */
}

int sigv4_hash_hex(char out[SIGV4_HASH_BUF], const void *data, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL))
		return error_set(ERR_FAILURE, "SHA-256 failed");
	to_hex(out, md, n);
	return 0;
}

/* ---- canonical query ---------------------------------------------------- */

struct encoded_param {
	char *name, *value;
};

static int param_cmp(const void *a, const void *b)
{
	const struct encoded_param *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->value, y->value);
}

static char *encode_dup(const char *s)
{
	struct buffer b = BUFFER_INIT;
	if (sigv4_uri_encode(&b, s ? s : "", false)) {
		buffer_free(&b);
		return NULL;
	}
	return buffer_detach(&b, NULL);
}

int sigv4_canonical_query(struct buffer *out, const struct sigv4_param *query, size_t n)
{
	struct encoded_param *p = calloc(n + 1, sizeof(*p));
	CHECK_ALLOC(p);
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		p[i].name = encode_dup(query[i].name);
		p[i].value = encode_dup(query[i].value);
		if (!p[i].name || !p[i].value) {
			rc = error_oom();
			goto out;
		}
	}
	qsort(p, n, sizeof(*p), param_cmp);
	for (size_t i = 0; i < n; i++)
		if ((rc = buffer_appendf(out, "%s%s=%s", i ? "&" : "", p[i].name, p[i].value)))
			goto out;
	rc = buffer_append(out, "", 0);
out:
	for (size_t i = 0; i < n; i++) {
		free(p[i].name);
		free(p[i].value);
	}
	free(p);
	return rc;
}

/* ---- canonical headers -------------------------------------------------- */

struct canonical_header {
	char *name;  /* lower case */
	char *value; /* trimmed, inner runs of spaces folded */
	size_t order;
};

static int header_cmp(const void *a, const void *b)
{
	const struct canonical_header *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order; /* duplicates keep their order */
}

static char *trim_all(const char *v)
{
	size_t len = strlen(v), n = 0;
	char *out = malloc(len + 1);
	if (!out)
		return NULL;
	bool space = false;
	for (const char *p = v; *p; p++) {
		if (*p == ' ' || *p == '\t') {
			space = n > 0;
			continue;
		}
		if (space)
			out[n++] = ' ';
		space = false;
		out[n++] = *p;
	}
	out[n] = '\0';
	return out;
}

static void free_headers(struct canonical_header *h, size_t n)
{
	for (size_t i = 0; h && i < n; i++) {
		free(h[i].name);
		free(h[i].value);
	}
	free(h);
}

int sigv4_canonical_request(struct buffer *out, struct buffer *signed_headers,
			    const struct sigv4_request *r)
{
	struct canonical_header *h = calloc(r->n_headers + 1, sizeof(*h));
	CHECK_ALLOC(h);
	for (size_t i = 0; i < r->n_headers; i++) {
		h[i].order = i;
		h[i].name = strdup(r->headers[i].name);
		h[i].value = trim_all(r->headers[i].value);
		if (!h[i].name || !h[i].value) {
			free_headers(h, r->n_headers);
			return error_oom();
		}
		for (char *c = h[i].name; *c; c++)
			*c = (char)tolower((unsigned char)*c);
	}
	qsort(h, r->n_headers, sizeof(*h), header_cmp);

	int rc;
	buffer_reset(signed_headers);
	if ((rc = buffer_appendf(out, "%s\n%s\n", r->method, r->canonical_uri)) ||
	    (rc = sigv4_canonical_query(out, r->query, r->n_query)) || (rc = buffer_append_str(out, "\n")))
		goto out;
	for (size_t i = 0; i < r->n_headers; i++) {
		if (i > 0 && strcmp(h[i].name, h[i - 1].name) == 0) {
			/* A repeated header: one line, values joined by commas. */
			out->len--; /* the newline of the previous value */
			rc = buffer_appendf(out, ",%s\n", h[i].value);
		} else if (!(rc = buffer_appendf(out, "%s:%s\n", h[i].name, h[i].value))) {
			rc = buffer_appendf(signed_headers, "%s%s", signed_headers->len ? ";" : "", h[i].name);
		}
		if (rc)
			goto out;
	}
	rc = buffer_appendf(out, "\n%s\n%s", signed_headers->data ? signed_headers->data : "", r->payload_hash);
out:
	free_headers(h, r->n_headers);
	return rc;
}

int sigv4_string_to_sign(struct buffer *out, const struct sigv4_request *r, const char *canonical_request)
{
	int rc;
	char hash[SIGV4_HASH_BUF];
	if (strlen(r->amz_date) != SIGV4_DATE_BUF - 1)
		return error_set(ERR_FAILURE, "x-amz-date \"%s\" is not YYYYMMDDTHHMMSSZ", r->amz_date);
	if ((rc = sigv4_hash_hex(hash, canonical_request, strlen(canonical_request))))
		return rc;
	return buffer_appendf(out, "AWS4-HMAC-SHA256\n%s\n%.8s/%s/%s/aws4_request\n%s", r->amz_date, r->amz_date,
			      r->region, r->service, hash);
}

/* ---- the signature ------------------------------------------------------ */

static int hmac(unsigned char out[32], const void *key, size_t key_len, const char *msg)
{
	unsigned int n = 0;
	if (!HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)msg, strlen(msg), out, &n) || n != 32)
		return error_set(ERR_FAILURE, "HMAC-SHA256 failed");
	return 0;
}

int sigv4_authorization(struct buffer *out, const struct sigv4_request *r, const char *access_key_id,
			const char *secret_access_key)
{
	struct buffer canonical = BUFFER_INIT, signed_headers = BUFFER_INIT, sts = BUFFER_INIT;
	unsigned char k[32], sig[32];
	char date[9], hex[65];
	size_t secret_len = strlen(secret_access_key);
	char *seed = malloc(secret_len + 5);
	CHECK_ALLOC(seed);
	int rc;
	if ((rc = sigv4_canonical_request(&canonical, &signed_headers, r)) ||
	    (rc = sigv4_string_to_sign(&sts, r, canonical.data)))
		goto out;
	memcpy(seed, "AWS4", 4);
	memcpy(seed + 4, secret_access_key, secret_len + 1);
	memcpy(date, r->amz_date, 8);
	date[8] = '\0';
	/* The signing key: the secret through date, region, service, "aws4_request". */
	if ((rc = hmac(k, seed, secret_len + 4, date)) || (rc = hmac(k, k, sizeof(k), r->region)) ||
	    (rc = hmac(k, k, sizeof(k), r->service)) || (rc = hmac(k, k, sizeof(k), "aws4_request")) ||
	    (rc = hmac(sig, k, sizeof(k), sts.data)))
		goto out;
	to_hex(hex, sig, sizeof(sig));
	rc = buffer_appendf(out, "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, Signature=%s",
			    access_key_id, date, r->region, r->service, signed_headers.data, hex);
out:
	OPENSSL_cleanse(seed, secret_len + 5);
	free(seed);
	OPENSSL_cleanse(k, sizeof(k));
	buffer_free(&canonical);
	buffer_free(&signed_headers);
	buffer_free(&sts);
	return rc;
}
