/* The 1 MiB guard: BuildKit's local and registry importers refuse a cache
 * config larger than 1048576 bytes (cache/remotecache/import.go, readBlob),
 * so a bigger one exported there is a cache every later build silently
 * ignores.  Export fails such a destination unless it says how to fit:
 *   max-config-size=SIZE      drop the oldest records until the config fits
 *   allow-large-config=true   publish it anyway (builders known to take more) */
#ifndef CACHECTL_CONFIG_BUDGET_H
#define CACHECTL_CONFIG_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

#include "core/model/cache.h"
#include "core/util/progress.h"
#include "transport/options.h"
#include "transport/transport.h"

/* BuildKit's limit on a root or config blob it imports (local, registry). */
#define BUILDKIT_CONFIG_MAX ((int64_t)1 << 20)

struct config_budget {
	bool enforced;      /* the destination is one BuildKit reads with the limit */
	int64_t max;        /* the largest config allowed; 0: no limit */
	bool trim;          /* max-config-size= given: drop records to fit */
};

/* Reads max-config-size and allow-large-config, for a destination BuildKit
 * reads with the limit (local and registry: their export_settings hook;
 * BuildKit's s3, gha and azblob importers have no such limit). */
int config_budget_parse(struct config_budget *out, struct cache_options *o);

/* Makes c fit the budget (trimming, with a note) or fails naming the size
 * and the ways out; `display` names the destination. */
int config_budget_apply(struct cache *c, const struct config_budget *b, const char *display, struct progress *p);

/* Fails, as above, when c is over the budget's limit; never trims. */
int config_budget_check(const struct cache *c, const struct config_budget *b);

#endif
