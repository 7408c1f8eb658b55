/* Azure Storage Shared Key authorization: the documented string-to-sign
 * (verb, the standard headers, the x-ms-* headers, the canonicalized
 * resource) signed with HMAC-SHA256 under the decoded account key. */
#ifndef CACHECTL_AZBLOB_SHARED_KEY_H
#define CACHECTL_AZBLOB_SHARED_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "core/util/buffer.h"

struct azblob_signing {
	const char *method;
	const char *path;   /* the URL path exactly as sent (escaped) */
	const char *query;  /* the raw query without '?', or NULL */
	int64_t content_length;
	const char *const *headers; /* "Name: value" lines, NULL-terminated */
};

/* The string-to-sign for account (service version 2015-02-21 and later:
 * a zero Content-Length is an empty line).  Into out, replacing it. */
int azblob_string_to_sign(struct buffer *out, const struct azblob_signing *s, const char *account);

/* "Authorization: SharedKey <account>:<base64 signature>" into out. */
int azblob_shared_key_header(struct buffer *out, const struct azblob_signing *s, const char *account,
			     const unsigned char *key, size_t key_len);

#endif
