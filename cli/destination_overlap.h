/* Two destinations of one export that would write the same place, beyond
 * the same location given twice: checked before any traffic (exit 2). */
#ifndef CACHECTL_DESTINATION_OVERLAP_H
#define CACHECTL_DESTINATION_OVERLAP_H

#include <stdbool.h>
#include <stddef.h>

#include "transport/options.h"
#include "transport/transport.h"

/* Whether destinations a and b (opened from specs sa and sb) write the
 * same place: the same location; two s3 caches in one bucket and manifests
 * prefix whose name lists share a name (each would overwrite the other's
 * manifest there); an inline image in a layout (layout=DIR) and a local
 * cache in that same directory (both rewrite DIR/index.json, and the cache
 * takes the image's place under its tag).  When they do, *why (cap bytes)
 * says what they share. */
bool destinations_overlap(const struct transport *a, struct cache_options *sa, const struct transport *b,
			  struct cache_options *sb, char *why, size_t cap);

#endif
