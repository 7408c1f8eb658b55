/* Compact JSON output byte-compatible with Go's encoding/json, which wrote
 * every document BuildKit stores: no whitespace, members in the order the
 * caller emits them, strings escaped the Go way (including <, >, & and
 * U+2028/U+2029, invalid UTF-8 replaced by U+FFFD).  cJSON's printer differs
 * on those points, so documents whose digests must match BuildKit's go
 * through this writer.  Errors are sticky and reported by json_out_status. */
#ifndef CACHECTL_JSON_OUT_H
#define CACHECTL_JSON_OUT_H

#include "core/util/error.h"

#include <stdbool.h>
#include <stdint.h>

#include "core/util/buffer.h"

#define JSON_OUT_MAX_DEPTH 32

struct json_out {
	struct buffer *buf;
	int depth;
	bool first[JSON_OUT_MAX_DEPTH];
	bool after_key;
	int status;
};

void json_out_init(struct json_out *j, struct buffer *buf);
CACHECTL_MUST_CHECK int json_out_status(const struct json_out *j);

void json_object_begin(struct json_out *j);
void json_object_end(struct json_out *j);
void json_array_begin(struct json_out *j);
void json_array_end(struct json_out *j);
void json_key(struct json_out *j, const char *key);
void json_string(struct json_out *j, const char *s);
void json_int(struct json_out *j, int64_t v);
void json_bool(struct json_out *j, bool v);
void json_null(struct json_out *j);
/* Inserts already-encoded JSON text as one value. */
void json_raw(struct json_out *j, const char *text, size_t len);

/* Shorthands for "key": value members. */
void json_member_string(struct json_out *j, const char *key, const char *s);
void json_member_int(struct json_out *j, const char *key, int64_t v);

/* Appends s as a JSON string literal (with quotes) to buf. */
CACHECTL_MUST_CHECK int json_append_quoted(struct buffer *buf, const char *s);

#endif
