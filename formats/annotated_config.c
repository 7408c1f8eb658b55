#include "formats/annotated_config.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/media_type.h"

/* One JSON value and nothing but whitespace after it, as Go's decoder
 * followed by BuildKit's trailing-data check accepts. */
static int check_single_value(const char *json, size_t len)
{
	const char *end = NULL;
	cJSON *doc = cJSON_ParseWithLengthOpts(json, len, &end, false);
	if (!doc)
		return error_set(ERR_FAILURE, "cache document is not valid JSON");
	cJSON_Delete(doc);
	for (const char *p = end; p < json + len; p++)
		if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
			return error_set(ERR_FAILURE, "cache document: unexpected data after JSON object");
	return 0;
}

/* The table entry a node's annotations describe. */
static int descriptor_from_annotations(struct descriptor *d, const struct cache_layer *l, size_t index)
{
	const struct cache_layer_annotations *a = l->annotations;
	descriptor_init(d);
	if (!a)
		return error_set(ERR_FAILURE, "cache layer %zu (%s) with missing annotations", index, l->blob);
	if (!a->diff_id || !*a->diff_id)
		return error_set(ERR_FAILURE, "cache layer %zu (%s) with missing diffid", index, l->blob);
	if (digest_check(l->blob, ERR_FAILURE, "cache layer blob") ||
	    digest_check(a->diff_id, ERR_FAILURE, "cache layer diffID"))
		return ERR_FAILURE;
	memcpy(d->digest, l->blob, DIGEST_BUF);
	d->size = a->size;
	if ((a->media_type && *a->media_type && descriptor_set_media_type(d, a->media_type)) ||
	    descriptor_annotation_set(d, ANN_UNCOMPRESSED, a->diff_id))
		return ERR_FAILURE;
	if (!timestamp_is_zero(&a->created_at)) {
		char text[TIMESTAMP_BUF];
		timestamp_format(text, &a->created_at, false);
		if (descriptor_annotation_set(d, ANN_CREATED_AT, text))
			return ERR_FAILURE;
	}
	return 0;
}

int annotated_config_read(struct cache **out, const char *json, size_t len, size_t *dropped)
{
	struct cache_config *cfg = NULL;
	struct cache *c = NULL;
	int rc = check_single_value(json, len);
	if (!rc)
		rc = cache_config_parse(&cfg, json, len);
	if (!rc)
		rc = cache_new(&c);
	if (rc)
		goto out;
	cache_set_config(c, cfg);
	cfg = NULL;
	for (size_t i = 0; i < c->config->n_layers && !rc; i++) {
		struct descriptor d;
		rc = descriptor_from_annotations(&d, &c->config->layers[i], i);
		if (!rc)
			rc = cache_add_blob(c, &d); /* a blob under two parents is listed once */
		descriptor_free(&d);
	}
	if (!rc)
		rc = cache_normalize(c, dropped);
	if (!rc) {
		*out = c;
		c = NULL;
	}
out:
	cache_config_free(cfg);
	cache_free(c);
	return rc;
}

static int annotate(struct cache_layer *l, const struct cache *c)
{
	const struct descriptor *d = cache_blob(c, l->blob);
	const char *diff_id = d ? descriptor_annotation(d, ANN_UNCOMPRESSED) : NULL;
	const char *created = d ? descriptor_annotation(d, ANN_CREATED_AT) : NULL;
	if (!d)
		return error_set(ERR_FAILURE, "cache config names blob %s that no descriptor describes", l->blob);
	if (!diff_id)
		return error_set(ERR_FAILURE, "blob %s has no diffID (%s): BuildKit cannot import such a layer",
				 l->blob, ANN_UNCOMPRESSED);
	struct cache_layer_annotations *a = calloc(1, sizeof(*a));
	if (!a)
		return error_set(ERR_FAILURE, "out of memory");
	l->annotations = a;
	if ((d->media_type && !(a->media_type = strdup(d->media_type))) || !(a->diff_id = strdup(diff_id)))
		return error_set(ERR_FAILURE, "out of memory");
	a->size = d->size;
	if (created)
		return timestamp_parse(&a->created_at, created)
			       ? error_wrap(ERR_FAILURE, "blob %s: %s", l->blob, ANN_CREATED_AT)
			       : 0;
	return timestamp_parse(&a->created_at, TIMESTAMP_ZERO);
}

int annotated_config_write(struct buffer *out, const struct cache *c)
{
	/* Annotations are filled on a copy: the blob table stays the truth. */
	struct cache_config *cfg = NULL;
	int rc = cache_config_clone(&cfg, c->config);
	for (size_t i = 0; !rc && i < cfg->n_layers; i++) {
		struct cache_layer *l = &cfg->layers[i];
		if (l->annotations) {
			free(l->annotations->media_type);
			free(l->annotations->diff_id);
			free(l->annotations);
			l->annotations = NULL;
		}
		rc = annotate(l, c);
	}
	if (!rc)
		rc = cache_config_serialize(cfg, out);
	cache_config_free(cfg);
	return rc;
}
