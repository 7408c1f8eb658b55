/* Where the members of a JSON object sit in its text, for editing a
 * document in place -- replacing one value, inserting one member -- while
 * every other byte stays as it was: member order, number spelling, string
 * escapes and spacing.  Re-serialising through a parser would change them,
 * and with them the digest of a document others point at.
 *
 * The text is expected to be valid JSON (check it with a parser first);
 * whatever it holds, the scanner reads nothing outside [0, len). */
#ifndef CACHECTL_JSON_SPAN_H
#define CACHECTL_JSON_SPAN_H

#include "core/util/error.h"

#include <stddef.h>

struct json_member {
	size_t key_start, key_end;     /* the key, quotes included */
	size_t value_start, value_end; /* the value */
};

/* The members of the object starting at text[pos] (whitespace allowed
 * before the '{'); *end is just past its '}'.  ERR_FAILURE when it is not
 * an object. */
CACHECTL_MUST_CHECK int json_object_members(const char *text, size_t len, size_t pos, struct json_member **out, size_t *n,
			size_t *end);

/* The member's key, unescaped (caller frees). */
CACHECTL_MUST_CHECK int json_member_key(const char *text, const struct json_member *m, char **out);

/* Calls each(ctx, start, length) for every element of the array starting
 * at text[pos] (whitespace allowed before the '['), in order, with the
 * element's text, so a large array can be read one element at a time;
 * stops at the first non-zero return and returns it.  ERR_FAILURE when the
 * text is not an array of elements separated by commas (the elements
 * themselves are the callback's to check). */
CACHECTL_MUST_CHECK int json_array_each(const char *text, size_t len, size_t pos,
					int (*each)(void *ctx, const char *element, size_t element_len), void *ctx);

/* The index of the member whose key is `key`, or -1. */
long json_find_member(const char *text, const struct json_member *m, size_t n, const char *key);

#endif
