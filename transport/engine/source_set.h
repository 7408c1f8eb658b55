/* The sources of one command, read and merged into one cache, with the
 * source each blob is to be read from. */
#ifndef CACHECTL_SOURCE_SET_H
#define CACHECTL_SOURCE_SET_H

#include <stddef.h>

#include "core/model/cache.h"
#include "core/util/progress.h"
#include "core/util/strmap.h"
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

/* The source that holds blob `digest` (the first that named it), or NULL. */
struct transport *source_set_origin(const struct source_set *s, const char *digest);

/* Opens blob d at its origin; ERR_NOT_FOUND when no source names it. */
int source_set_open_blob(struct source_set *s, const struct descriptor *d, struct byte_source **out);

#endif
