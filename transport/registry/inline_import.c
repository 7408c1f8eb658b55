#include "transport/registry/inline_import.h"

#include <stdio.h>
#include <string.h>

#include "core/model/media_type.h"
#include "core/util/buffer.h"
#include "core/util/error.h"
#include "core/util/progress.h"
#include "formats/cache_manifest.h"
#include "formats/inline_config.h"
#include "transport/cache_io.h"
#include "transport/registry/registry.h"

#define IMAGE_CONFIG_MAX (32u << 20)
#define INLINE_DEPTH_MAX 4

/* An image without a cache config: the caches its configs carry inline
 * (every platform of an index, recursively), merged. */
static int read_inline(struct transport *t, const struct descriptor *desc, const char *bytes, size_t len,
		       int depth, struct cache **merged, size_t *images)
{
	struct cache_root root;
	int rc = cache_manifest_parse(&root, bytes, len);
	if (rc)
		return error_wrap(rc, "manifest %s of %s", desc->digest, registry_ref_text(t));
	bool list = strcmp(root.media_type, MT_OCI_INDEX) == 0 || strcmp(root.media_type, MT_DOCKER_LIST) == 0;
	if (list) {
		for (size_t i = 0; i < root.n_blobs && !rc; i++) {
			struct buffer child = BUFFER_INIT;
			struct descriptor cd;
			if (depth >= INLINE_DEPTH_MAX) {
				rc = error_set(ERR_FAILURE, "%s: indexes nested too deep", registry_ref_text(t));
				break;
			}
			rc = registry_get_manifest(t, root.blobs[i].digest, REGISTRY_MANIFEST_MAX, &child, &cd);
			if (!rc)
				rc = read_inline(t, &cd, child.data, child.len, depth + 1, merged, images);
			descriptor_free(&cd);
			buffer_free(&child);
		}
		cache_root_free(&root);
		return rc;
	}
	if (!root.has_image_config || root.n_blobs == 0) {
		cache_root_free(&root); /* an attestation or an empty image: no cache here */
		return 0;
	}
	struct buffer config = BUFFER_INIT;
	struct cache *c = NULL;
	char what[800];
	snprintf(what, sizeof(what), "image %s@%s", registry_ref_text(t), desc->digest);
	rc = transport_read_small_blob(t, &root.image_config, IMAGE_CONFIG_MAX, &config);
	if (!rc)
		rc = inline_cache_from_image(&c, root.blobs, root.n_blobs, config.data, config.len, what);
	if (rc == ERR_NOT_FOUND) {
		progress_note(t->progress, "%s", error_message());
		rc = 0;
	} else if (!rc) {
		if ((rc = descriptor_copy(&c->source_root, desc)) || (rc = descriptor_copy(&c->source_config, &root.image_config)))
			goto out;
		(*images)++;
		if (!*merged) {
			*merged = c;
			c = NULL;
		} else {
			rc = cache_merge(*merged, c);
		}
	}
out:
	cache_free(c);
	buffer_free(&config);
	cache_root_free(&root);
	return rc;
}

int inline_import_read(struct transport *t, const struct descriptor *desc, const char *bytes, size_t len,
		       struct cache **out)
{
	struct cache *merged = NULL;
	size_t images = 0;
	int rc = read_inline(t, desc, bytes, len, 0, &merged, &images);
	if (!rc && !merged)
		rc = error_set(ERR_NOT_FOUND, "no cache at %s: %s is an image without an inline cache (%s)",
			       registry_ref_text(t), desc->digest, desc->media_type ? desc->media_type : "unknown type");
	if (!rc && images > 1)
		rc = cache_normalize(merged, NULL);
	if (rc) {
		cache_free(merged);
		return rc;
	}
	*out = merged;
	return 0;
}
