/* The blobs a destination already holds, found by content: a re-encode
 * whose result is there already -- a blob with the same diffID in the
 * requested encoding -- is not done again.  The level a blob was written
 * with is not known, so it is not compared. */
#ifndef CACHECTL_BLOB_REUSE_H
#define CACHECTL_BLOB_REUSE_H

#include <stdbool.h>

#include "core/model/cache.h"
#include "core/util/progress.h"
#include "core/util/strmap.h"
#include "transport/transport.h"

struct existing_blobs {
	bool loaded;
	struct cache *cache;      /* the destination's cache; NULL when none */
	struct strmap by_content; /* "<encoding>@<diffID>" -> position in cache->blobs */
};

/* Reads t's cache the first time (later calls return at once).  A
 * destination without a cache has no blobs to offer; one whose cache cannot
 * be read neither (a note says so: its layers are then re-encoded). */
int existing_blobs_load(struct existing_blobs *e, struct transport *t, struct progress *p);

/* The destination's blob holding the layer whose uncompressed bytes hash to
 * diff_id, in `encoding`, when the store has it whole (blob_stat: same
 * size); else NULL.  eStargz is never found: converting a layer to it
 * changes its diffID. */
const struct descriptor *existing_blobs_find(const struct existing_blobs *e, struct transport *t,
					     const char *diff_id, enum compression encoding);

void existing_blobs_free(struct existing_blobs *e);

#endif
