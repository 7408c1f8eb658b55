/* Making a cache smaller by age: the results of its oldest records go
 * first.  Used by export (max-config-size=, so that BuildKit can import
 * the config) and by prune (--keep-since, --max-size).
 *
 * The rule is mode=min's: results are dropped whole, never a layer out of
 * a chain, so every result left still has every layer of its chain.  A
 * record without results stays while a record that keeps results links to
 * it (directly or not): it is part of that record's key.  Every other
 * record goes. */
#ifndef CACHECTL_CACHE_TRIM_H
#define CACHECTL_CACHE_TRIM_H

#include <stddef.h>
#include <stdint.h>

#include "core/model/cache.h"
#include "core/util/timestamp.h"

/* Drops every result created before `before` (a zero time counts as
 * oldest); *dropped_results (may be NULL) says how many went. */
int cache_drop_results_before(struct cache *c, const struct timestamp *before, size_t *dropped_results);

/* What a budget measures on a cache. */
typedef int (*cache_measure_fn)(int64_t *out, const struct cache *c);

/* The bytes of the config as cache_config_serialize writes it. */
int cache_measure_config(int64_t *out, const struct cache *c);
/* The bytes of the blobs the config references, each counted once. */
int cache_measure_blobs(int64_t *out, const struct cache *c);

/* Drops the results of the oldest records (by their newest result) until
 * measure(c) <= max, as few as possible.  *dropped_records says how many
 * records lost their results.  ERR_FAILURE naming `what` when even a cache
 * without results would not fit. */
int cache_trim_to_fit(struct cache *c, int64_t max, cache_measure_fn measure, const char *what,
		      size_t *dropped_records);

#endif
