/* AWS Signature Version 4 (HMAC-SHA256 on libcrypto), as S3 and STS check
 * it: canonical request -> string to sign -> signature with a key derived
 * from the secret, date, region and service.
 *
 * The caller chooses what to sign; this file only computes.  For S3 that is
 * host, x-amz-content-sha256 (the hex SHA-256 of the body, never
 * STREAMING-* / aws-chunked), x-amz-date, x-amz-security-token and every
 * other x-amz-* header sent -- nothing a proxy might rewrite. */
#ifndef CACHECTL_AWS_SIGV4_H
#define CACHECTL_AWS_SIGV4_H

#include "core/util/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "core/util/buffer.h"

#define SIGV4_DATE_BUF 17 /* "20150830T123600Z" */
#define SIGV4_HASH_BUF 65 /* hex SHA-256 */
/* The payload hash of an empty body. */
#define SIGV4_EMPTY_HASH "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct sigv4_param {
	const char *name;  /* not encoded */
	const char *value; /* not encoded; "" for a bare ?uploads */
};

struct sigv4_header {
	const char *name;
	const char *value;
};

struct sigv4_request {
	const char *method;
	const char *canonical_uri;         /* the path exactly as sent (already encoded) */
	const struct sigv4_param *query;
	size_t n_query;
	const struct sigv4_header *headers; /* every header to sign, host included */
	size_t n_headers;
	const char *payload_hash;          /* hex SHA-256 of the body */
	const char *amz_date;              /* the x-amz-date value */
	const char *region;
	const char *service;               /* "s3", "sts" */
};

/* "YYYYMMDDTHHMMSSZ" of t in UTC. */
void sigv4_format_date(char out[SIGV4_DATE_BUF], time_t t);

/* RFC 3986 encoding as SigV4 wants it: unreserved characters kept, '/' kept
 * when keep_slash, everything else %XX with upper-case hex. */
CACHECTL_MUST_CHECK int sigv4_uri_encode(struct buffer *out, const char *s, bool keep_slash);

/* The query in canonical form (encoded, sorted by name then value), which
 * is also a valid query string to send. */
CACHECTL_MUST_CHECK int sigv4_canonical_query(struct buffer *out, const struct sigv4_param *query, size_t n);

/* The canonical request and the SignedHeaders list (exposed for tests and
 * for debug traces). */
CACHECTL_MUST_CHECK int sigv4_canonical_request(struct buffer *out, struct buffer *signed_headers,
			    const struct sigv4_request *r);

/* The string to sign for a canonical request. */
CACHECTL_MUST_CHECK int sigv4_string_to_sign(struct buffer *out, const struct sigv4_request *r, const char *canonical_request);

/* The value of the Authorization header: "AWS4-HMAC-SHA256 Credential=...,
 * SignedHeaders=..., Signature=...".  The secret is only used to derive the
 * signing key, which is wiped after use. */
CACHECTL_MUST_CHECK int sigv4_authorization(struct buffer *out, const struct sigv4_request *r, const char *access_key_id,
			const char *secret_access_key);

/* Hex SHA-256 of a buffer (for payload hashes). */
CACHECTL_MUST_CHECK int sigv4_hash_hex(char out[SIGV4_HASH_BUF], const void *data, size_t len);

#endif
