/* The one base64 of cachectl.  Standard base64 (RFC 4648 section 4: A-Z
 * a-z 0-9 + /, '=' padding), as Go's base64.StdEncoding writes and reads
 * it: inline caches, Basic credentials, the "auth" field of Docker's
 * config.json, Azure block IDs.  And a lenient reader for JWT payloads
 * (base64url, section 5, with or without padding). */
#ifndef CACHECTL_BASE64_H
#define CACHECTL_BASE64_H

#include "core/util/error.h"

#include <stddef.h>

#include "core/util/buffer.h"

/* Appends the encoding of data to out (no line breaks). */
CACHECTL_MUST_CHECK int base64_std_encode(struct buffer *out, const void *data, size_t len);

/* Appends the decoded bytes to out.  Padding is required and nothing but
 * the alphabet is accepted, except CR and LF which are skipped (Go's rule);
 * ERR_FAILURE (no message naming the text, which may be a secret) otherwise. */
CACHECTL_MUST_CHECK int base64_std_decode(struct buffer *out, const char *text, size_t len);

/* Appends the decoded bytes of base64url or standard base64, padded or not
 * (a JWT's parts); ERR_FAILURE, with no message naming the text, otherwise. */
CACHECTL_MUST_CHECK int base64_url_decode(struct buffer *out, const char *text, size_t len);

#endif
