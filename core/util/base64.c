#include "core/util/base64.h"

#include <stdbool.h>
#include <stdint.h>

#include "core/util/error.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_std_encode(struct buffer *out, const void *data, size_t len)
{
	int rc;
	const unsigned char *p = data;
	if ((rc = buffer_reserve(out, (len + 2) / 3 * 4)))
		return rc;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		char quad[4] = {alphabet[v >> 18], alphabet[(v >> 12) & 63],
				i + 1 < len ? alphabet[(v >> 6) & 63] : '=', i + 2 < len ? alphabet[v & 63] : '='};
		if ((rc = buffer_append(out, quad, 4)))
			return rc;
	}
	return 0;
}

static int value_of(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int base64_std_decode(struct buffer *out, const char *text, size_t len)
{
	int rc;
	int quad[4], n = 0;
	bool ended = false;
	if ((rc = buffer_reserve(out, len / 4 * 3 + 3)))
		return rc;
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (c == '\r' || c == '\n')
			continue;
		if (ended)
			return error_set(ERR_FAILURE, "base64: data after the padding");
		if (c == '=') {
			/* Padding completes the current group of four. */
			if (n < 2)
				return error_set(ERR_FAILURE, "base64: misplaced padding");
			quad[n++] = -2;
			if (n == 4)
				ended = true;
			continue;
		}
		int v = value_of(c);
		if (v < 0 || (n > 0 && quad[n - 1] == -2))
			return error_set(ERR_FAILURE, "base64: a character outside the alphabet");
		quad[n++] = v;
		if (n < 4)
			continue;
		unsigned char bytes[3] = {(unsigned char)(quad[0] << 2 | quad[1] >> 4),
					  (unsigned char)(quad[1] << 4 | quad[2] >> 2),
					  (unsigned char)(quad[2] << 6 | quad[3])};
		if ((rc = buffer_append(out, bytes, 3)))
			return rc;
		n = 0;
	}
	if (ended) {
		/* The last group had padding: 1 or 2 bytes. */
		unsigned char bytes[2] = {(unsigned char)(quad[0] << 2 | quad[1] >> 4),
					  (unsigned char)(quad[1] << 4 | (quad[2] < 0 ? 0 : quad[2]) >> 2)};
		/* Bits left over before the padding are ignored, as by Go's
		 * (non-strict) StdEncoding. */
		if ((rc = buffer_append(out, bytes, quad[2] == -2 ? 1 : 2)))
			return rc;
		return 0;
	}
	if (n != 0)
		return error_set(ERR_FAILURE, "base64: missing padding");
	return 0;
}

int base64_url_decode(struct buffer *out, const char *text, size_t len)
{
	/* Rewritten into the standard form, so that one decoder judges it. */
	struct buffer std = BUFFER_INIT;
	int rc = buffer_reserve(&std, len + 3);
	if (rc)
		return rc;
	for (size_t i = 0; i < len; i++) {
		char c = text[i] == '-' ? '+' : text[i] == '_' ? '/' : text[i];
		std.data[std.len++] = c;
	}
	while (std.len % 4)
		std.data[std.len++] = '=';
	std.data[std.len] = '\0';
	rc = base64_std_decode(out, std.data, std.len);
	buffer_free(&std);
	return rc;
}
