/* A destination's blobs by content: see blob_reuse.h. */
#include "transport/engine/blob_reuse.h"

#include "core/codec/layer_pipeline.h"
#include "core/util/buffer.h"
#include "core/util/error.h"

static int content_key(struct buffer *key, enum compression encoding, const char *diff_id)
{
	buffer_reset(key);
	return buffer_appendf(key, "%s@%s", compression_name(encoding), diff_id);
}

static int index_blobs(struct existing_blobs *e)
{
	struct buffer key = BUFFER_INIT;
	int rc = 0;
	for (size_t i = 0; i < e->cache->n_blobs && !rc; i++) {
		const struct descriptor *d = &e->cache->blobs[i];
		const char *diff_id = descriptor_annotation(d, ANN_UNCOMPRESSED);
		enum compression encoding = layer_encoding(d);
		if (!diff_id || encoding == COMPRESSION_UNKNOWN)
			continue;
		rc = content_key(&key, encoding, diff_id);
		if (!rc)
			rc = strmap_put(&e->by_content, key.data, i);
	}
	buffer_free(&key);
	return rc;
}

int existing_blobs_load(struct existing_blobs *e, struct transport *t, struct progress *p)
{
	if (e->loaded)
		return 0;
	e->loaded = true;
	int rc = t->ops->read_cache(t, &e->cache);
	if (rc == ERR_NOT_FOUND)
		return 0;
	if (rc) {
		progress_note(p, "%s: the cache already there cannot be read, so none of its blobs is reused: %s",
			      t->display, error_message());
		return 0;
	}
	return index_blobs(e);
}

const struct descriptor *existing_blobs_find(const struct existing_blobs *e, struct transport *t,
					     const char *diff_id, enum compression encoding)
{
	struct buffer key = BUFFER_INIT;
	size_t i;
	int64_t have;
	if (!e->cache || encoding == COMPRESSION_ESTARGZ)
		return NULL;
	bool known = !content_key(&key, encoding, diff_id) && strmap_get(&e->by_content, key.data, &i);
	buffer_free(&key);
	if (!known)
		return NULL;
	/* The document may name a blob the store lost: then it is made again. */
	const struct descriptor *d = &e->cache->blobs[i];
	if (t->ops->blob_stat(t, d->digest, &have) || have != d->size)
		return NULL;
	return d;
}

void existing_blobs_free(struct existing_blobs *e)
{
	cache_free(e->cache);
	strmap_free(&e->by_content);
	*e = (struct existing_blobs){0};
}
