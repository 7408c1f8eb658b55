#include "transport/options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/error.h"

void cache_options_free(struct cache_options *o)
{
	for (size_t i = 0; i < o->n; i++) {
		free(o->kv[i].key);
		free(o->kv[i].value);
	}
	free(o->kv);
	free(o->type);
	free(o->text);
	memset(o, 0, sizeof(*o));
}

int cache_options_add(struct cache_options *o, const char *key, const char *value)
{
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->kv[i].key, key) == 0)
			return error_set(ERR_USAGE, "option \"%s\" is given twice", key);
	struct option_kv *kv = realloc(o->kv, (o->n + 1) * sizeof(*kv));
	CHECK_ALLOC(kv);
	o->kv = kv;
	kv[o->n].key = strdup(key);
	kv[o->n].value = strdup(value);
	kv[o->n].used = false;
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
	for (size_t i = 0; i < o->n; i++) {
		if (strcmp(o->kv[i].key, key) == 0) {
			o->kv[i].used = true;
			return o->kv[i].value;
		}
	}
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
	return error_set(ERR_USAGE, "%s=\"%s\" is not a boolean (want true or false)", key, v);
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
	if (!*v || *end || errno || n < -2147483647L || n > 2147483647L)
		return error_set(ERR_USAGE, "%s=\"%s\" is not an integer", key, v);
	*out = (int)n;
	*set = true;
	return 0;
}

int options_check_unknown(const struct cache_options *o, const char *what)
{
	for (size_t i = 0; i < o->n; i++)
		if (!o->kv[i].used)
			return error_set(ERR_USAGE, "unknown option \"%s\" for %s type=%s", o->kv[i].key, what,
					 o->type);
	return 0;
}

/* Keys whose values are credentials and must never reach the screen. */
static bool is_secret(const char *key)
{
	static const char *const secret[] = {"secret_access_key", "session_token", "token", "ghtoken",
					     "password", "sas_token", NULL};
	for (size_t i = 0; secret[i]; i++)
		if (strcmp(key, secret[i]) == 0)
			return true;
	return false;
}

int options_display(const struct cache_options *o, char *out, size_t out_size)
{
	size_t n = (size_t)snprintf(out, out_size, "type=%s", o->type ? o->type : "?");
	for (size_t i = 0; i < o->n && n < out_size; i++)
		n += (size_t)snprintf(out + n, out_size - n, ",%s=%s", o->kv[i].key,
				      is_secret(o->kv[i].key) || strstr(o->kv[i].value, "sig=") ? "***"
											  : o->kv[i].value);
	return 0;
}
