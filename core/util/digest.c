#include "core/util/digest.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/error.h"

struct sha256 {
	EVP_MD_CTX *ctx;
};

int digest_is_valid(const char *s)
{
	if (!s || strncmp(s, DIGEST_PREFIX, 7) != 0 || strlen(s) != DIGEST_LEN)
		return -1;
	for (const char *p = s + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return -1;
	return 0;
}

int digest_check(const char *s, int code, const char *what)
{
	if (digest_is_valid(s) == 0)
		return 0;
	return error_set(code, "%s is not a sha256 digest: \"%.80s\"", what, s ? s : "");
}

int sha256_new(struct sha256 **out)
{
	struct sha256 *h = calloc(1, sizeof(*h));
	CHECK_ALLOC(h);
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
		sha256_free(h);
		return error_set(ERR_FAILURE, "cannot initialise SHA-256");
	}
	*out = h;
	return 0;
}

void sha256_free(struct sha256 *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

int sha256_reset(struct sha256 *h)
{
	if (EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1)
		return error_set(ERR_FAILURE, "cannot initialise SHA-256");
	return 0;
}

int sha256_update(struct sha256 *h, const void *data, size_t len)
{
	if (len && EVP_DigestUpdate(h->ctx, data, len) != 1)
		return error_set(ERR_FAILURE, "SHA-256 update failed");
	return 0;
}

int sha256_copy(struct sha256 *dst, const struct sha256 *src)
{
	if (EVP_MD_CTX_copy_ex(dst->ctx, src->ctx) != 1)
		return error_set(ERR_FAILURE, "SHA-256 state copy failed");
	return 0;
}

int sha256_final(struct sha256 *h, char out[DIGEST_BUF])
{
	unsigned char md[32];
	unsigned int n = 0;
	static const char hex[] = "0123456789abcdef";
	if (EVP_DigestFinal_ex(h->ctx, md, &n) != 1 || n != 32)
		return error_set(ERR_FAILURE, "SHA-256 finalisation failed");
	memcpy(out, DIGEST_PREFIX, 7);
	for (unsigned i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[md[i] >> 4];
		out[8 + 2 * i] = hex[md[i] & 15];
	}
	out[DIGEST_LEN] = '\0';
	return sha256_reset(h);
}

int digest_of_bytes(char out[DIGEST_BUF], const void *data, size_t len)
{
	struct sha256 *h = NULL;
	int rc = sha256_new(&h);
	if (rc)
		return rc;
	rc = sha256_update(h, data, len);
	if (!rc)
		rc = sha256_final(h, out);
	sha256_free(h);
	return rc;
}
