/* The root documents of local and registry caches: an OCI image manifest
 * whose config is the cache config (BuildKit's default), an OCI index, or a
 * Docker manifest list whose entries are the layers plus the config. */
#ifndef CACHECTL_CACHE_MANIFEST_H
#define CACHECTL_CACHE_MANIFEST_H

#include "core/util/error.h"

#include <stdbool.h>

#include "core/util/buffer.h"
#include "core/model/cache.h"
#include "core/model/descriptor.h"

/* Largest root or config BuildKit's local and registry importers accept. */
#define CACHE_DOCUMENT_MAX (1u << 20)
/* Largest cache config cachectl reads: far above BuildKit's limit and any
 * real build (a mode=max build of a thousand steps writes a few MB), so
 * that a config BuildKit refuses can still be inspected and trimmed. */
#define CACHE_CONFIG_READ_MAX (64u << 20)

struct root_form {
	bool oci_mediatypes;  /* OCI (true) or Docker media types */
	bool image_manifest;  /* image manifest (true) or index / manifest list */
	bool convert_layers;  /* rewrite layer media types to the chosen family */
};

/* The form a root of this media type has (for keeping it on import). */
CACHECTL_MUST_CHECK int root_form_of(struct root_form *out, const char *root_media_type);

/* Builds the root for cache c whose config blob is config_desc; layer
 * descriptors follow c's config layer order, one per chain node. */
CACHECTL_MUST_CHECK int cache_manifest_build(struct buffer *out, char **media_type_out, const struct cache *c,
			 const struct descriptor *config_desc, const struct root_form *form);

struct cache_root {
	char *media_type;          /* the detected kind */
	bool has_config;
	struct descriptor config;  /* the cache config, when has_config */
	struct descriptor *blobs;  /* every other entry (layers) */
	size_t n_blobs, cap_blobs;
	struct descriptor image_config; /* an image manifest's non-cache config */
	bool has_image_config;
};

/* Detects the kind from the JSON itself as BuildKit does and collects the
 * descriptors.  A root without a cache config is an image (inline cache). */
CACHECTL_MUST_CHECK int cache_manifest_parse(struct cache_root *out, const char *bytes, size_t len);
void cache_root_free(struct cache_root *r);

#endif
