#include "formats/annotated_config.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/error.h"
#include "core/model/media_type.h"

int annotated_config_build(struct buffer *out, const struct cache *c)
{
	struct cache_config *cfg = NULL;
	int rc = cache_config_clone(&cfg, c->config);
	if (rc)
		return rc;
	for (size_t i = 0; i < cfg->n_layers && !rc; i++) {
		struct cache_layer *l = &cfg->layers[i];
		const struct descriptor *d = cache_blob(c, l->blob);
		const char *diff_id = d ? descriptor_annotation(d, ANN_UNCOMPRESSED) : NULL;
		const char *created = d ? descriptor_annotation(d, ANN_CREATED_AT) : NULL;
		if (!d) {
			rc = error_set(ERR_FAILURE, "cache config names blob %s that no descriptor describes", l->blob);
			break;
		}
		if (!diff_id || !*diff_id) {
			rc = error_set(ERR_FAILURE, "blob %s has no diffID (%s annotation): the importer needs it",
				       l->blob, ANN_UNCOMPRESSED);
			break;
		}
		struct cache_layer_annotations *a = calloc(1, sizeof(*a));
		if (!a || !(a->diff_id = strdup(diff_id)) ||
		    (d->media_type && !(a->media_type = strdup(d->media_type)))) {
			if (a)
				free(a->diff_id);
			free(a);
			rc = error_oom();
			break;
		}
		a->size = d->size;
		/* Unknown or unreadable: the zero time, which means unknown. */
		if (!created || timestamp_parse(&a->created_at, created)) {
			error_clear();
			rc = timestamp_parse(&a->created_at, TIMESTAMP_ZERO);
		}
		a->created_at.offset = 0;
		if (l->annotations) {
			free(l->annotations->media_type);
			free(l->annotations->diff_id);
			free(l->annotations);
		}
		l->annotations = a;
		if (rc)
			break;
	}
	if (!rc) {
		buffer_reset(out);
		rc = cache_config_serialize(cfg, out);
	}
	cache_config_free(cfg);
	return rc;
}

/* One JSON value and nothing but whitespace after it: BuildKit's importers
 * refuse the rest ("unexpected data after JSON object"). */
static int check_single_value(const char *bytes, size_t len, const char *what)
{
	const char *end = NULL;
	cJSON *doc = cJSON_ParseWithLengthOpts(bytes, len, &end, false);
	if (!doc)
		return error_set(ERR_FAILURE, "%s is not valid JSON", what);
	cJSON_Delete(doc);
	for (const char *p = end; p < bytes + len; p++)
		if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
			return error_set(ERR_FAILURE, "%s: unexpected data after JSON object", what);
	return 0;
}

int annotated_config_load(struct cache **out, const char *bytes, size_t len, const char *what)
{
	struct cache_config *cfg = NULL;
	struct cache *c = NULL;
	struct descriptor d;
	descriptor_init(&d);
	int rc = check_single_value(bytes, len, what);
	if (rc)
		return rc;
	rc = cache_config_parse(&cfg, bytes, len);
	if (rc)
		return error_wrap(rc, "%s", what);
	for (size_t i = 0; i < cfg->n_layers && !rc; i++) {
		const struct cache_layer *l = &cfg->layers[i];
		const struct cache_layer_annotations *a = l->annotations;
		if (!a)
			rc = error_set(ERR_FAILURE, "%s: cache layer %s has no annotations", what, l->blob);
		else if (!a->diff_id || !*a->diff_id)
			rc = error_set(ERR_FAILURE, "%s: cache layer %s has no diffID", what, l->blob);
		else if ((rc = digest_check(l->blob, ERR_FAILURE, "layer blob")) ||
			 (rc = digest_check(a->diff_id, ERR_FAILURE, "layer diffID")))
			rc = error_wrap(rc, "%s", what);
	}
	if (!rc)
		rc = cache_new(&c);
	for (size_t i = 0; i < cfg->n_layers && !rc; i++) {
		const struct cache_layer *l = &cfg->layers[i];
		const struct cache_layer_annotations *a = l->annotations;
		char created[TIMESTAMP_BUF];
		if (cache_blob(c, l->blob))
			continue;
		descriptor_free(&d);
		descriptor_init(&d);
		memcpy(d.digest, l->blob, DIGEST_BUF);
		d.size = a->size;
		if ((a->media_type && (rc = descriptor_set_media_type(&d, a->media_type))) ||
		    (rc = descriptor_annotation_set(&d, ANN_UNCOMPRESSED, a->diff_id)))
			break;
		if (!timestamp_is_zero(&a->created_at)) {
			timestamp_format(created, &a->created_at, false);
			if ((rc = descriptor_annotation_set(&d, ANN_CREATED_AT, created)))
				break;
		}
		rc = cache_add_blob(c, &d);
	}
	descriptor_free(&d);
	if (rc) {
		cache_config_free(cfg);
		cache_free(c);
		return rc;
	}
	/* The table now says what the annotations said: normalising drops them. */
	cache_set_config(c, cfg);
	size_t dropped = 0;
	if ((rc = cache_normalize(c, &dropped))) {
		cache_free(c);
		return error_wrap(rc, "%s", what);
	}
	c->dropped_results = dropped;
	*out = c;
	return 0;
}
