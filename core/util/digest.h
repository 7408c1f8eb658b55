/* Content digests: "sha256:" followed by 64 lowercase hex characters, and
 * the streaming SHA-256 that produces them (libcrypto EVP). */
#ifndef CACHECTL_DIGEST_H
#define CACHECTL_DIGEST_H

#include "core/util/error.h"

#include <stddef.h>
#include <stdint.h>

#define DIGEST_PREFIX "sha256:"
#define DIGEST_HEX_LEN 64
#define DIGEST_LEN (7 + DIGEST_HEX_LEN)
#define DIGEST_BUF (DIGEST_LEN + 1)

/* 0 when s is a well-formed sha256 digest, -1 otherwise (no message recorded). */
CACHECTL_MUST_CHECK int digest_is_valid(const char *s);

/* Validates s and records "<what> is not a sha256 digest: <s>" on failure. */
CACHECTL_MUST_CHECK int digest_check(const char *s, int code, const char *what);

/* The 64 hex characters of a valid digest. */
static inline const char *digest_hex(const char *digest)
{
	return digest + 7;
}

struct sha256;

CACHECTL_MUST_CHECK int sha256_new(struct sha256 **out);
void sha256_free(struct sha256 *h);
CACHECTL_MUST_CHECK int sha256_reset(struct sha256 *h);
CACHECTL_MUST_CHECK int sha256_update(struct sha256 *h, const void *data, size_t len);
/* Makes dst continue from where src is (both stay usable). */
CACHECTL_MUST_CHECK int sha256_copy(struct sha256 *dst, const struct sha256 *src);
/* Writes "sha256:<hex>" into out (DIGEST_BUF bytes). */
CACHECTL_MUST_CHECK int sha256_final(struct sha256 *h, char out[DIGEST_BUF]);

/* One-shot digest of a buffer. */
CACHECTL_MUST_CHECK int digest_of_bytes(char out[DIGEST_BUF], const void *data, size_t len);

#endif
