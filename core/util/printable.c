#include "core/util/printable.h"

#include <stdio.h>
#include <string.h>

/* The length of the valid UTF-8 sequence starting at s (at most n bytes),
 * or 0 when it is not one: a stray byte is escaped rather than printed. */
static size_t utf8_length(const unsigned char *s, size_t n)
{
	size_t len = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 && s[0] < 0xe0 ? 2 : 0;
	if (!len || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/* The escape for one byte, or NULL when it is printed as it is. */
static const char *escape_of(unsigned char c, char buf[8])
{
	switch (c) {
	case '\n':
		return "\\n";
	case '\r':
		return "\\r";
	case '\t':
		return "\\t";
	case '\\':
		return "\\\\";
	default:
		if (c < 0x20 || c == 0x7f || c >= 0x80) {
			snprintf(buf, 8, "\\x%02x", c);
			return buf;
		}
		return NULL;
	}
}

char *printable(char *out, size_t out_size, const char *in, size_t max_in)
{
	static const char cut[] = "...";
	if (!out_size)
		return out;
	size_t n_in = strlen(in), o = 0, i = 0;
	size_t limit = max_in && max_in < n_in ? max_in : n_in;
	/* room kept for "..." and the NUL */
	size_t room = out_size > sizeof(cut) ? out_size - sizeof(cut) : 0;
	const unsigned char *s = (const unsigned char *)in;
	while (i < limit) {
		char buf[8];
		size_t u = s[i] >= 0x80 ? utf8_length(s + i, limit - i) : 0;
		const char *esc = u ? NULL : escape_of(s[i], buf);
		size_t len = u ? u : esc ? strlen(esc) : 1;
		if (o + len > room)
			break;
		memcpy(out + o, u ? in + i : esc ? esc : in + i, len);
		o += len;
		i += u ? u : 1;
	}
	if (i < n_in && out_size > sizeof(cut)) {
		memcpy(out + o, cut, sizeof(cut) - 1);
		o += sizeof(cut) - 1;
	}
	out[o < out_size ? o : out_size - 1] = '\0';
	return out;
}

int printable_fputs(const char *in, FILE *f)
{
	/* In pieces: each escapes at most 255 input bytes into 1024. */
	char piece[1024 + 8];
	int rc = 0;
	const char *p = in;
	while (*p) {
		size_t n = strnlen(p, 255);
		/* do not cut a UTF-8 sequence in two: back up to its first byte */
		while (p[n] && n > 1 && ((unsigned char)p[n] & 0xc0) == 0x80)
			n--;
		char chunk[256];
		memcpy(chunk, p, n);
		chunk[n] = '\0';
		printable(piece, sizeof(piece), chunk, 0);
		rc = fputs(piece, f);
		if (rc == EOF)
			return rc;
		p += n;
	}
	return rc;
}
