/* Moving caches: read every source, merge them, and write the result to
 * every destination -- blobs first (in parallel, each read once however
 * many destinations want it, re-encoded on the way where asked), then the
 * cache document. */
#ifndef CACHECTL_CACHE_TRANSFER_H
#define CACHECTL_CACHE_TRANSFER_H

#include <stdbool.h>

#include "core/model/cache.h"
#include "core/codec/codec.h"
#include "core/util/progress.h"
#include "transport/engine/export_settings.h"
#include "transport/transport.h"

struct source_set {
	struct cache *merged;
	struct transport **sources;
	size_t n_sources;
	struct strmap origin; /* blob digest -> index of the source that has it */
};

/* Reads each source (one without a cache is a note; none with a cache is
 * ERR_NOT_FOUND) and merges them.  Does not take ownership of sources. */
int source_set_load(struct source_set *out, struct transport **sources, size_t n, struct progress *p);
void source_set_free(struct source_set *s);
int source_set_open_blob(struct source_set *s, const struct descriptor *d, struct byte_source **out);

int cache_export(struct source_set *src, struct destination *dests, size_t n, unsigned jobs,
		 struct progress *p, struct progress_totals *totals);

#endif
