#include "transport/options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/array_grow.h"
#include "core/util/error.h"
#include "core/util/printable.h"

void cache_options_free(struct cache_options *o)
{
	for (size_t i = 0; i < o->n; i++) {
		free(o->kv[i].key);
		free(o->kv[i].value);
	}
	free(o->kv);
	free(o->type);
	memset(o, 0, sizeof(*o));
}

int cache_options_add(struct cache_options *o, const char *key, const char *value)
{
	char shown[80];
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->kv[i].key, key) == 0)
			return error_set(ERR_USAGE, "option \"%s\" is given twice", printable(shown, sizeof(shown), key, 0));
	int rc = ARRAY_RESERVE(o->kv, o->cap, o->n + 1);
	if (rc)
		return rc;
	struct option_kv *kv = o->kv;
	kv[o->n].key = strdup(key);
	kv[o->n].value = strdup(value);
	if (!kv[o->n].key || !kv[o->n].value) {
		free(kv[o->n].key);
		free(kv[o->n].value);
		return error_oom();
	}
	o->n++;
	return 0;
}

const char *options_get(struct cache_options *o, const char *key)
{
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->kv[i].key, key) == 0)
			return o->kv[i].value;
	return NULL;
}

int options_get_bool(struct cache_options *o, const char *key, bool dflt, int empty_means, bool *out)
{
	static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
	static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
	const char *v = options_get(o, key);
	*out = dflt;
	if (!v)
		return 0;
	if (!*v && empty_means >= 0) {
		*out = empty_means;
		return 0;
	}
	for (size_t i = 0; i < 6; i++) {
		if (strcmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(v, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	char shown[64];
	return error_set(ERR_USAGE, "%s=\"%s\" is not a boolean (want true or false)", key,
			 printable(shown, sizeof(shown), v, 0));
}

int options_get_int(struct cache_options *o, const char *key, bool *set, int *out)
{
	const char *v = options_get(o, key);
	*set = false;
	if (!v)
		return 0;
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	/* strtol skips leading spaces; Go's Atoi (BuildKit) does not. */
	bool starts_right = (*v >= '0' && *v <= '9') || *v == '-' || *v == '+';
	if (!starts_right || *end || errno || n < -2147483647L || n > 2147483647L) {
		char shown[64];
		return error_set(ERR_USAGE, "%s=\"%s\" is not an integer", key, printable(shown, sizeof(shown), v, 0));
	}
	*out = (int)n;
	*set = true;
	return 0;
}

bool option_key_looks_secret(const char *key)
{
	static const char *const secret_words[] = {"secret", "token", "password", "passwd", "credential",
						   "signature", "sas", "auth", NULL};
	for (size_t i = 0; secret_words[i]; i++)
		if (strstr(key, secret_words[i]))
			return true;
	return false;
}
