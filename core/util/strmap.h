/* A string-keyed hash map to integer values, for digests and record keys. */
#ifndef CACHECTL_STRMAP_H
#define CACHECTL_STRMAP_H

#include "core/util/error.h"

#include <stddef.h>

struct strmap_entry {
	char *key;
	size_t value;
};

struct strmap {
	struct strmap_entry *slots;
	size_t cap;   /* power of two, or 0 */
	size_t count;
};

#define STRMAP_INIT {NULL, 0, 0}

/* 1 and *value set when present, 0 when absent. */
int strmap_get(const struct strmap *m, const char *key, size_t *value);
/* Inserts or replaces; the key is copied. */
CACHECTL_MUST_CHECK int strmap_put(struct strmap *m, const char *key, size_t value);
void strmap_free(struct strmap *m);

#endif
