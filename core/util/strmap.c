#include "core/util/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/error.h"

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct strmap_entry *find(const struct strmap *m, const char *key)
{
	size_t mask = m->cap - 1;
	for (size_t i = hash(key) & mask;; i = (i + 1) & mask)
		if (!m->slots[i].key || strcmp(m->slots[i].key, key) == 0)
			return &m->slots[i];
}

int strmap_get(const struct strmap *m, const char *key, size_t *value)
{
	if (!m->cap)
		return 0;
	struct strmap_entry *e = find(m, key);
	if (!e->key)
		return 0;
	*value = e->value;
	return 1;
}

static int grow(struct strmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	struct strmap old = *m;
	m->slots = calloc(cap, sizeof(*m->slots));
	if (!m->slots) {
		*m = old;
		return error_oom();
	}
	m->cap = cap;
	for (size_t i = 0; i < old.cap; i++)
		if (old.slots[i].key)
			*find(m, old.slots[i].key) = old.slots[i];
	free(old.slots);
	return 0;
}

int strmap_put(struct strmap *m, const char *key, size_t value)
{
	if ((m->count + 1) * 2 > m->cap) {
		int rc = grow(m);
		if (rc)
			return rc;
	}
	struct strmap_entry *e = find(m, key);
	if (!e->key) {
		e->key = strdup(key);
		CHECK_ALLOC(e->key);
		m->count++;
	}
	e->value = value;
	return 0;
}

void strmap_free(struct strmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].key);
	free(m->slots);
	m->slots = NULL;
	m->cap = m->count = 0;
}
