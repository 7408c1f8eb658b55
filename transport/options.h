/* The key=value attributes of one cache source or destination, as BuildKit
 * receives them (type=local,dest=DIR,mode=max ...), with typed getters that
 * parse values the way BuildKit does and fail on anything else. */
#ifndef CACHECTL_OPTIONS_H
#define CACHECTL_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct option_kv {
	char *key;
	char *value;
	bool used;
};

struct cache_options {
	char *type;
	struct option_kv *kv;
	size_t n;
	char *text; /* the text it was parsed from, for messages */
};

void cache_options_free(struct cache_options *o);
int cache_options_add(struct cache_options *o, const char *key, const char *value);

/* The value, or NULL when absent; marks the key as understood. */
const char *options_get(struct cache_options *o, const char *key);
/* Go strconv.ParseBool; an empty value means empty_means (BuildKit's rule for
 * force-compression), or is an error when empty_means < 0. */
int options_get_bool(struct cache_options *o, const char *key, bool dflt, int empty_means, bool *out);
int options_get_int(struct cache_options *o, const char *key, bool *set, int *out);
/* ERR_USAGE naming the first key nobody asked for. */
int options_check_unknown(const struct cache_options *o, const char *what);
/* The options as text with secret values replaced by "***". */
int options_display(const struct cache_options *o, char *out, size_t out_size);

#endif
