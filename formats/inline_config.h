/* The inline cache: BuildKit's cache records carried inside an image config
 * under "moby.buildkit.cache.v0", as the standard base64 of a compact JSON
 * array of records whose layer indexes are positions in the image's own
 * layer list (layer i on top of layer i-1).  No blobs of its own: the
 * image's layers are the cache's layers. */
#ifndef CACHECTL_INLINE_CONFIG_H
#define CACHECTL_INLINE_CONFIG_H

#include "core/util/error.h"

#include <stddef.h>
#include <stdint.h>

#include "core/util/buffer.h"
#include "core/model/cache.h"

#define INLINE_CACHE_KEY "moby.buildkit.cache.v0"

/* ---- reading (import) --------------------------------------------------- */

/* Builds the cache an image carries: layers are the manifest's layer
 * descriptors with their diffID (rootfs.diff_ids[i]) and creation time
 * (the i-th history entry that is not an empty layer) added, as BuildKit's
 * importer does.  ERR_NOT_FOUND, with a message naming `what`, when the
 * config has no inline cache or its diff_ids do not match the layers. */
CACHECTL_MUST_CHECK int inline_cache_from_image(struct cache **out, const struct descriptor *layers, size_t n_layers,
			    const char *config, size_t config_len, const char *what);

/* ---- writing (export) --------------------------------------------------- */

struct inline_image_layer {
	const char *digest;  /* the manifest's layer blob */
	const char *diff_id; /* rootfs.diff_ids[i] */
};

/* The image config's rootfs.diff_ids (caller frees each and the array). */
CACHECTL_MUST_CHECK int image_config_diff_ids(char ***out, size_t *n, const char *config, size_t len);

/* The records array BuildKit's inline exporter writes for cache c onto an
 * image: a cache blob stands for image layer i when it is that layer's
 * blob or has its diffID; results whose whole chain is in the image are
 * kept (as {"layer": n-1} when the chain is the image's first n layers,
 * else as {"layers": [positions]} in "chains"), the others are dropped and
 * counted in *left.  out is empty when no result is kept. */
CACHECTL_MUST_CHECK int inline_records_build(struct buffer *out, const struct cache *c, const struct inline_image_layer *layers,
			 size_t n_layers, size_t *kept, size_t *left);

/* The records (digests, ", "-separated) with a result that
 * inline_records_build leaves out: one of its blobs is not in the image. */
CACHECTL_MUST_CHECK int inline_records_left_out(struct buffer *out, const struct cache *c, const struct inline_image_layer *layers,
			    size_t n_layers);

/* The config with "moby.buildkit.cache.v0" set to the base64 of records,
 * every other byte as it was: an existing value is replaced where it
 * stands, a new member goes before the first member whose key sorts after
 * it (its place in the sorted configs BuildKit writes), with the
 * document's own spacing. */
CACHECTL_MUST_CHECK int inline_config_patch(struct buffer *out, const char *config, size_t len, const char *records,
			size_t records_len);

/* The image manifest with its config descriptor's digest and size
 * replaced, every other byte as it was. */
CACHECTL_MUST_CHECK int inline_manifest_set_config(struct buffer *out, const char *manifest, size_t len, const char *digest,
			       int64_t size);

#endif
