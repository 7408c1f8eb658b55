#include "core/model/cache.h"

#include <stdlib.h>
#include <string.h>

#include "core/model/media_type.h"
#include "core/util/digest.h"
#include "core/util/error.h"
#include "core/util/printable.h"

int cache_new(struct cache **out)
{
	struct cache *c = calloc(1, sizeof(*c));
	CHECK_ALLOC(c);
	int rc = cache_config_new(&c->config);
	if (rc) {
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void cache_free(struct cache *c)
{
	if (!c)
		return;
	cache_config_free(c->config);
	for (size_t i = 0; i < c->n_blobs; i++)
		descriptor_free(&c->blobs[i]);
	free(c->blobs);
	strmap_free(&c->blob_index);
	free(c->root_media_type);
	descriptor_free(&c->source_root);
	descriptor_free(&c->source_config);
	free(c);
}

void cache_set_config(struct cache *c, struct cache_config *cfg)
{
	cache_config_free(c->config);
	c->config = cfg;
}

int cache_clone(struct cache **out, const struct cache *c)
{
	struct cache *n = calloc(1, sizeof(*n));
	CHECK_ALLOC(n);
	int rc = cache_config_clone(&n->config, c->config);
	if (rc)
		goto fail;
	for (size_t i = 0; i < c->n_blobs; i++)
		if ((rc = cache_add_blob(n, &c->blobs[i])))
			goto fail;
	if (c->root_media_type && !(n->root_media_type = strdup(c->root_media_type))) {
		rc = error_oom();
		goto fail;
	}
	if ((rc = descriptor_copy(&n->source_root, &c->source_root)) ||
	    (rc = descriptor_copy(&n->source_config, &c->source_config)))
		goto fail;
	n->dropped_results = c->dropped_results;
	*out = n;
	return 0;
fail:
	cache_free(n);
	return rc;
}

const struct descriptor *cache_blob(const struct cache *c, const char *digest)
{
	size_t i;
	if (!digest || !strmap_get(&c->blob_index, digest, &i))
		return NULL;
	return &c->blobs[i];
}

struct descriptor *cache_blob_mut(struct cache *c, const char *digest)
{
	return (struct descriptor *)cache_blob(c, digest);
}

int cache_add_blob(struct cache *c, const struct descriptor *d)
{
	int rc;
	if (cache_blob(c, d->digest))
		return 0;
	/* A diffID is printed (inspect, verify) and compared: it must be a
	 * digest, never free text with terminal escapes in it. */
	const char *diff_id = descriptor_annotation(d, ANN_UNCOMPRESSED);
	if (diff_id && digest_is_valid(diff_id)) {
		char shown[200];
		return error_set(ERR_CORRUPT, "blob %s: its %s annotation is not a sha256 digest: \"%s\"", d->digest,
				 ANN_UNCOMPRESSED, printable(shown, sizeof(shown), diff_id, 120));
	}
	if ((c->n_blobs & (c->n_blobs - 1)) == 0) {
		size_t cap = c->n_blobs ? c->n_blobs * 2 : 8;
		struct descriptor *p = realloc(c->blobs, cap * sizeof(*p));
		CHECK_ALLOC(p);
		c->blobs = p;
	}
	if ((rc = descriptor_copy(&c->blobs[c->n_blobs], d)))
		return rc;
	if ((rc = strmap_put(&c->blob_index, d->digest, c->n_blobs))) {
		descriptor_free(&c->blobs[c->n_blobs]);
		return rc;
	}
	c->n_blobs++;
	return 0;
}

const char *cache_blob_diff_id(const struct cache *c, const char *digest)
{
	const struct descriptor *d = cache_blob(c, digest);
	return d ? descriptor_annotation(d, ANN_UNCOMPRESSED) : NULL;
}

int cache_referenced_blobs(const struct cache *c, const struct descriptor ***out, size_t *n)
{
	struct strmap seen = STRMAP_INIT;
	const struct descriptor **list = calloc(c->config->n_layers + 1, sizeof(*list));
	size_t count = 0;
	CHECK_ALLOC(list);
	for (size_t i = 0; i < c->config->n_layers; i++) {
		const char *blob = c->config->layers[i].blob;
		size_t dummy;
		const struct descriptor *d = cache_blob(c, blob);
		if (!d) {
			strmap_free(&seen);
			free(list);
			return error_set(ERR_FAILURE, "cache config names blob %s that no descriptor describes", blob);
		}
		if (strmap_get(&seen, blob, &dummy))
			continue;
		int rc = strmap_put(&seen, blob, count);
		if (rc) {
			strmap_free(&seen);
			free(list);
			return rc;
		}
		list[count++] = d;
	}
	strmap_free(&seen);
	*out = list;
	*n = count;
	return 0;
}
