#include "core/util/json_out.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/util/error.h"

void json_out_init(struct json_out *j, struct buffer *buf)
{
	memset(j, 0, sizeof(*j));
	j->buf = buf;
	j->first[0] = true;
}

int json_out_status(const struct json_out *j)
{
	return j->status;
}

static void emit(struct json_out *j, const char *s, size_t n)
{
	if (!j->status)
		j->status = buffer_append(j->buf, s, n);
}

/* Comma handling: every value or key that is not the first in its container
 * is preceded by ','; a value right after its key is not. */
static void before_value(struct json_out *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (!j->first[j->depth])
		emit(j, ",", 1);
	j->first[j->depth] = false;
}

static void open_container(struct json_out *j, const char *c)
{
	before_value(j);
	emit(j, c, 1);
	if (j->depth + 1 >= JSON_OUT_MAX_DEPTH) {
		j->status = error_set(ERR_FAILURE, "JSON nesting too deep");
		return;
	}
	j->first[++j->depth] = true;
}

static void close_container(struct json_out *j, const char *c)
{
	if (j->depth > 0)
		j->depth--;
	emit(j, c, 1);
}

void json_object_begin(struct json_out *j) { open_container(j, "{"); }
void json_object_end(struct json_out *j) { close_container(j, "}"); }
void json_array_begin(struct json_out *j) { open_container(j, "["); }
void json_array_end(struct json_out *j) { close_container(j, "]"); }

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_sequence(const unsigned char *s, uint32_t *cp)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t v, min;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if ((c & 0xE0) == 0xC0) {
		n = 2, v = c & 0x1F, min = 0x80;
	} else if ((c & 0xF0) == 0xE0) {
		n = 3, v = c & 0x0F, min = 0x800;
	} else if ((c & 0xF8) == 0xF0) {
		n = 4, v = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return n;
}

int json_append_quoted(struct buffer *buf, const char *str)
{
	int rc;
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	if ((rc = buffer_append(buf, "\"", 1)))
		return rc;
	while (*s) {
		const unsigned char *run = s;
		/* Copy the longest run that needs no escaping in one go. */
		while (*s >= 0x20 && *s < 0x80 && *s != '"' && *s != '\\' && *s != '<' &&
		       *s != '>' && *s != '&')
			s++;
		if (s > run && (rc = buffer_append(buf, run, (size_t)(s - run))))
			return rc;
		if (!*s)
			break;
		char esc[8];
		const char *out = esc;
		size_t outlen;
		uint32_t cp;
		size_t seq = 1;
		switch (*s) {
		case '"': out = "\\\""; outlen = 2; break;
		case '\\': out = "\\\\"; outlen = 2; break;
		case '\n': out = "\\n"; outlen = 2; break;
		case '\r': out = "\\r"; outlen = 2; break;
		case '\t': out = "\\t"; outlen = 2; break;
		case '\b': out = "\\b"; outlen = 2; break;
		case '\f': out = "\\f"; outlen = 2; break;
		default:
			if (*s < 0x80) { /* control characters and <, >, & */
				snprintf(esc, sizeof(esc), "\\u00%c%c", hex[*s >> 4], hex[*s & 15]);
				outlen = 6;
				break;
			}
			seq = utf8_sequence(s, &cp);
			if (seq == 0) {
				out = "\\ufffd";
				outlen = 6;
				seq = 1;
			} else if (cp == 0x2028 || cp == 0x2029) {
				out = cp == 0x2028 ? "\\u2028" : "\\u2029";
				outlen = 6;
			} else {
				out = (const char *)s;
				outlen = seq;
			}
		}
		if ((rc = buffer_append(buf, out, outlen)))
			return rc;
		s += seq;
	}
	return buffer_append(buf, "\"", 1);
}

void json_key(struct json_out *j, const char *key)
{
	before_value(j);
	if (!j->status && json_append_quoted(j->buf, key))
		j->status = ERR_FAILURE;
	emit(j, ":", 1);
	j->after_key = true;
}

void json_string(struct json_out *j, const char *s)
{
	before_value(j);
	if (!j->status && json_append_quoted(j->buf, s ? s : ""))
		j->status = ERR_FAILURE;
}

void json_int(struct json_out *j, int64_t v)
{
	char tmp[32];
	before_value(j);
	int n = snprintf(tmp, sizeof(tmp), "%" PRId64, v);
	emit(j, tmp, (size_t)n);
}

void json_bool(struct json_out *j, bool v)
{
	before_value(j);
	emit(j, v ? "true" : "false", v ? 4 : 5);
}

void json_null(struct json_out *j)
{
	before_value(j);
	emit(j, "null", 4);
}

void json_raw(struct json_out *j, const char *text, size_t len)
{
	before_value(j);
	emit(j, text, len);
}

void json_member_string(struct json_out *j, const char *key, const char *s)
{
	json_key(j, key);
	json_string(j, s);
}

void json_member_int(struct json_out *j, const char *key, int64_t v)
{
	json_key(j, key);
	json_int(j, v);
}
