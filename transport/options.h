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
};

/* One key a backend understands, in its handler's table (transport.h): the
 * table, not the code that reads the key, says which keys exist, so an
 * unknown or misspelt key is refused before anything is opened. */
#define OPTION_SOURCE 1u
#define OPTION_DESTINATION 2u
#define OPTION_BOTH (OPTION_SOURCE | OPTION_DESTINATION)
struct option_key {
	const char *name; /* NULL ends a table */
	unsigned directions; /* OPTION_SOURCE, OPTION_DESTINATION or both */
	bool secret;         /* a credential: its value is never printed */
	/* The key that says the same in the other direction (local's src and
	 * dest), named when this one is given where it does not apply. */
	const char *other_direction;
};

struct cache_options {
	char *type;
	struct option_kv *kv;
	size_t n, cap;
	/* (No copy of the text it came from: it may hold credentials, and
	 * messages quote fields through transport_spec_text.) */
};

void cache_options_free(struct cache_options *o);
int cache_options_add(struct cache_options *o, const char *key, const char *value);

/* The value, or NULL when absent. */
const char *options_get(struct cache_options *o, const char *key);
/* Go strconv.ParseBool; an empty value means empty_means (BuildKit's rule for
 * force-compression), or is an error when empty_means < 0. */
int options_get_bool(struct cache_options *o, const char *key, bool dflt, int empty_means, bool *out);
int options_get_int(struct cache_options *o, const char *key, bool *set, int *out);
/* Whether the value of `key` may be a credential: marked secret in a table,
 * or named like one (the check for keys of no table, such as the keys of an
 * unknown type). */
bool option_key_looks_secret(const char *key);

#endif
