/* A cache as cachectl holds it: the cache config plus what is known of
 * every blob it names (media type, size, diffID, creation time, other
 * annotations), whatever backend it came from. */
#ifndef CACHECTL_CACHE_H
#define CACHECTL_CACHE_H

#include "core/util/error.h"

#include <stdbool.h>
#include <stddef.h>

#include "core/model/cache_config.h"
#include "core/model/descriptor.h"
#include "core/model/media_type.h"
#include "core/util/strmap.h"

struct cache {
	struct cache_config *config;
	struct descriptor *blobs; /* one per distinct blob digest */
	size_t n_blobs;
	struct strmap blob_index; /* digest -> position in blobs */
	/* Media type of the root document the cache was read from (local and
	 * registry), so that an import can keep its form; NULL otherwise. */
	char *root_media_type;
	/* Where it was read from, for inspect (digest empty when unknown). */
	struct descriptor source_root;
	struct descriptor source_config;
	/* Results the source named with blobs it does not describe. */
	size_t dropped_results;
};

CACHECTL_MUST_CHECK int cache_new(struct cache **out);
void cache_free(struct cache *c);
CACHECTL_MUST_CHECK int cache_clone(struct cache **out, const struct cache *c);

/* Takes ownership of cfg. */
void cache_set_config(struct cache *c, struct cache_config *cfg);

const struct descriptor *cache_blob(const struct cache *c, const char *digest);
struct descriptor *cache_blob_mut(struct cache *c, const char *digest);
/* Copies d into the table; an entry already there for the digest is kept. */
CACHECTL_MUST_CHECK int cache_add_blob(struct cache *c, const struct descriptor *d);
/* The blob's diffID annotation, or NULL. */
const char *cache_blob_diff_id(const struct cache *c, const char *digest);

/* Brings the config to the form BuildKit's exporters write: results whose
 * chain names a blob missing from the table are dropped (counted in
 * *dropped when not NULL), explicit chains become chain nodes, identical
 * nodes and records are merged, nodes nothing uses are removed, and the
 * result is sorted canonically.  An already normal config is unchanged. */
CACHECTL_MUST_CHECK int cache_normalize(struct cache *c, size_t *dropped);

/* Adds every record, layer and blob of src to dst (then normalizes). */
CACHECTL_MUST_CHECK int cache_merge(struct cache *dst, const struct cache *src);

/* mode=min: keeps results only for final records (no record's input) and
 * for records whose result chain is a prefix of a final record's chain. */
CACHECTL_MUST_CHECK int cache_keep_min(struct cache *c);

/* Replaces blob `from` by the blob `to` describes, wherever the config names
 * it, and records `to` in the table (replacing from's descriptor when both
 * have the same digest). */
CACHECTL_MUST_CHECK int cache_replace_blob(struct cache *c, const char *from, const struct descriptor *to);

/* Blobs the config references, in config layer order, each once. */
CACHECTL_MUST_CHECK int cache_referenced_blobs(const struct cache *c, const struct descriptor ***out, size_t *n);

#endif
