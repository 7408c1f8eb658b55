#include "transport/cache_io.h"

#include <stdlib.h>
#include <string.h>

#include "core/util/error.h"
#include "core/util/progress.h"
#include "formats/cache_manifest.h"

int transport_read_small_blob(struct transport *t, const struct descriptor *d, size_t max,
			      struct buffer *out)
{
	struct byte_source *src;
	if (d->size > (int64_t)max)
		return error_set(ERR_FAILURE, "blob %s is %lld bytes, more than the %zu a cache document may have",
				 d->digest, (long long)d->size, max);
	int rc = t->ops->blob_open(t, d, &src);
	if (rc)
		return rc;
	if ((rc = verified_source_new(&src, src, d->digest, d->size)))
		return rc;
	buffer_reset(out);
	for (;;) {
		if ((rc = buffer_reserve(out, 65536)))
			break;
		ssize_t n = source_read(src, out->data + out->len, 65536);
		if (n < 0) {
			rc = (int)n;
			break;
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
		out->data[out->len] = '\0';
	}
	source_close(src);
	return rc;
}

int transport_write_small_blob(struct transport *t, struct descriptor *d, const char *media_type,
			       const void *bytes, size_t len)
{
	struct blob_writer *w;
	bool existed;
	descriptor_init(d);
	if (digest_of_bytes(d->digest, bytes, len) || descriptor_set_media_type(d, media_type))
		return ERR_FAILURE;
	d->size = (int64_t)len;
	int64_t have;
	int rc = t->ops->blob_stat(t, d->digest, &have);
	if (rc == 0 && have == d->size)
		return 0;
	if (rc && rc != ERR_NOT_FOUND)
		return rc;
	if ((rc = t->ops->blob_create(t, d, &w)))
		return rc;
	rc = sink_write(&w->sink, bytes, len);
	if (!rc)
		rc = sink_finish(&w->sink);
	if (!rc)
		rc = w->commit(w, d->digest, d->size, &existed);
	w->close(w);
	return rc;
}

int cache_load_from_root(struct cache **out, struct transport *t, const struct descriptor *root_desc,
			 const char *root_bytes, size_t root_len)
{
	struct cache_root root;
	struct buffer config = BUFFER_INIT;
	struct cache_config *cfg = NULL;
	struct cache *c = NULL;
	size_t dropped = 0;
	int rc = cache_manifest_parse(&root, root_bytes, root_len);
	if (rc)
		return error_wrap(rc, "root %s", root_desc->digest);
	if (!root.has_config) {
		rc = error_set(ERR_NOT_FOUND, "root %s (%s) holds no cache config: it is an image without a cache",
			       root_desc->digest, root.media_type);
		goto out;
	}
	if ((rc = transport_read_small_blob(t, &root.config, CACHE_CONFIG_READ_MAX, &config)) ||
	    (rc = cache_config_parse(&cfg, config.data, config.len)) || (rc = cache_new(&c)))
		goto out;
	cache_set_config(c, cfg);
	cfg = NULL;
	for (size_t i = 0; i < root.n_blobs; i++)
		if ((rc = cache_add_blob(c, &root.blobs[i])))
			goto out;
	if (!(c->root_media_type = strdup(root.media_type))) {
		rc = error_oom();
		goto out;
	}
	if ((rc = descriptor_copy(&c->source_root, root_desc)) ||
	    (rc = descriptor_copy(&c->source_config, &root.config)))
		goto out;
	if ((rc = cache_normalize(c, &dropped)))
		goto out;
	c->dropped_results = dropped;
	if (dropped)
		progress_note(t->progress, "%s: %zu results dropped: their layers are not listed in root %s",
			      t->display, dropped, root_desc->digest);
	*out = c;
	c = NULL;
out:
	if (rc && rc != ERR_NOT_FOUND && !strstr(error_message(), root_desc->digest))
		error_wrap(rc, "cache root %s", root_desc->digest);
	cache_root_free(&root);
	buffer_free(&config);
	cache_config_free(cfg);
	cache_free(c);
	return rc;
}

int cache_store_config_and_root(struct transport *t, const struct cache *c, const struct root_form *form,
				struct buffer *root, struct descriptor *root_desc)
{
	struct buffer config = BUFFER_INIT;
	struct descriptor config_desc;
	char *media_type = NULL;
	descriptor_init(&config_desc);
	int rc = cache_config_serialize(c->config, &config);
	if (!rc)
		rc = transport_write_small_blob(t, &config_desc, MT_CACHE_CONFIG, config.data, config.len);
	if (!rc)
		rc = cache_manifest_build(root, &media_type, c, &config_desc, form);
	if (!rc) {
		descriptor_init(root_desc);
		root_desc->media_type = media_type;
		root_desc->size = (int64_t)root->len;
		rc = digest_of_bytes(root_desc->digest, root->data, root->len);
	}
	if (!rc) {
		memcpy(t->written_root, root_desc->digest, DIGEST_BUF);
		memcpy(t->written_config, config_desc.digest, DIGEST_BUF);
	}
	buffer_free(&config);
	descriptor_free(&config_desc);
	return rc;
}
