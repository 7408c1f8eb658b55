#include "core/util/array_grow.h"
#include "core/util/json_span.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/error.h"

static size_t skip_ws(const char *t, size_t len, size_t p)
{
	while (p < len && (t[p] == ' ' || t[p] == '\t' || t[p] == '\n' || t[p] == '\r'))
		p++;
	return p;
}

/* Past the string starting at t[p] (a quote); len when unterminated. */
static size_t skip_string(const char *t, size_t len, size_t p)
{
	for (p++; p < len; p++) {
		if (t[p] == '\\')
			p++;
		else if (t[p] == '"')
			return p + 1;
	}
	return len;
}

/* Past the value starting at t[p]. */
static size_t skip_value(const char *t, size_t len, size_t p)
{
	if (p >= len)
		return len;
	if (t[p] == '"')
		return skip_string(t, len, p);
	if (t[p] == '{' || t[p] == '[') {
		size_t depth = 0;
		while (p < len) {
			char c = t[p];
			if (c == '"') {
				p = skip_string(t, len, p);
				continue;
			}
			if (c == '{' || c == '[')
				depth++;
			else if ((c == '}' || c == ']') && --depth == 0)
				return p + 1;
			p++;
		}
		return len;
	}
	while (p < len && !strchr(",}] \t\r\n", t[p]))
		p++;
	return p;
}

int json_object_members(const char *text, size_t len, size_t pos, struct json_member **out, size_t *n,
			size_t *end)
{
	struct json_member *m = NULL;
	size_t count = 0, cap = 0;
	size_t p = skip_ws(text, len, pos);
	*out = NULL;
	*n = 0;
	if (p >= len || text[p] != '{')
		return error_set(ERR_FAILURE, "not a JSON object");
	p = skip_ws(text, len, p + 1);
	if (p < len && text[p] == '}') {
		*end = p + 1;
		return 0;
	}
	for (;;) {
		if (p >= len || text[p] != '"')
			goto bad;
		if (ARRAY_RESERVE(m, cap, count + 1)) {
			free(m);
			return error_oom();
		}
		m[count].key_start = p;
		p = m[count].key_end = skip_string(text, len, p);
		p = skip_ws(text, len, p);
		if (p >= len || text[p] != ':')
			goto bad;
		p = skip_ws(text, len, p + 1);
		m[count].value_start = p;
		p = m[count].value_end = skip_value(text, len, p);
		if (m[count].value_end == m[count].value_start)
			goto bad;
		count++;
		p = skip_ws(text, len, p);
		if (p < len && text[p] == ',') {
			p = skip_ws(text, len, p + 1);
			continue;
		}
		if (p < len && text[p] == '}') {
			*end = p + 1;
			*out = m;
			*n = count;
			return 0;
		}
		goto bad;
	}
bad:
	free(m);
	return error_set(ERR_FAILURE, "malformed JSON object");
}

int json_member_key(const char *text, const struct json_member *m, char **out)
{
	cJSON *s = cJSON_ParseWithLength(text + m->key_start, m->key_end - m->key_start);
	*out = cJSON_IsString(s) ? strdup(s->valuestring) : NULL;
	cJSON_Delete(s);
	return *out ? 0 : error_set(ERR_FAILURE, "unreadable JSON member name");
}

long json_find_member(const char *text, const struct json_member *m, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++) {
		char *k;
		if (json_member_key(text, &m[i], &k))
			return -1;
		bool same = strcmp(k, key) == 0;
		free(k);
		if (same)
			return (long)i;
	}
	return -1;
}

int json_array_each(const char *text, size_t len, size_t pos,
		    int (*each)(void *ctx, const char *element, size_t element_len), void *ctx)
{
	size_t p = skip_ws(text, len, pos);
	if (p >= len || text[p] != '[')
		return error_set(ERR_FAILURE, "not a JSON array");
	p = skip_ws(text, len, p + 1);
	if (p < len && text[p] == ']')
		return 0;
	for (;;) {
		if (p >= len || text[p] == ',' || text[p] == ']')
			return error_set(ERR_FAILURE, "not a JSON array");
		size_t end = skip_value(text, len, p);
		int rc = each(ctx, text + p, end - p);
		if (rc)
			return rc;
		p = skip_ws(text, len, end);
		if (p < len && text[p] == ']')
			return 0;
		if (p >= len || text[p] != ',')
			return error_set(ERR_FAILURE, "not a JSON array");
		p = skip_ws(text, len, p + 1);
	}
}
