#include "formats/cache_manifest.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/array_grow.h"
#include "core/util/error.h"
#include "core/util/json_out.h"
#include "core/model/media_type.h"

int root_form_of(struct root_form *out, const char *root_media_type)
{
	out->convert_layers = false;
	if (root_media_type && strcmp(root_media_type, MT_OCI_MANIFEST) == 0) {
		out->oci_mediatypes = out->image_manifest = true;
	} else if (root_media_type && strcmp(root_media_type, MT_OCI_INDEX) == 0) {
		out->oci_mediatypes = true;
		out->image_manifest = false;
	} else if (root_media_type && strcmp(root_media_type, MT_DOCKER_LIST) == 0) {
		out->oci_mediatypes = out->image_manifest = false;
	} else {
		return error_set(ERR_FAILURE, "%s is not a cache root media type",
				 root_media_type ? root_media_type : "(none)");
	}
	return 0;
}

int cache_manifest_build(struct buffer *out, char **media_type_out, const struct cache *c,
			 const struct descriptor *config_desc, const struct root_form *form)
{
	int rc;
	const char *mt = form->image_manifest ? MT_OCI_MANIFEST
			 : form->oci_mediatypes ? MT_OCI_INDEX
						: MT_DOCKER_LIST;
	if (form->image_manifest && !form->oci_mediatypes)
		return error_set(ERR_USAGE, "OCI media types are required for the image-manifest cache form");
	struct json_out j;
	buffer_reset(out);
	json_out_init(&j, out);
	json_object_begin(&j);
	json_member_int(&j, "schemaVersion", 2);
	json_member_string(&j, "mediaType", mt);
	if (form->image_manifest) {
		json_key(&j, "config");
		descriptor_write_json(&j, config_desc);
		json_key(&j, "layers");
	} else {
		json_key(&j, "manifests");
	}
	json_array_begin(&j);
	for (size_t i = 0; i < c->config->n_layers; i++) {
		const struct descriptor *d = cache_blob(c, c->config->layers[i].blob);
		if (!d)
			return error_set(ERR_FAILURE, "cache config names blob %s that no descriptor describes",
					 c->config->layers[i].blob);
		struct descriptor layer = *d; /* shallow: only the media type differs */
		if (form->convert_layers && d->media_type)
			layer.media_type = (char *)media_type_convert(d->media_type, form->oci_mediatypes);
		descriptor_write_json(&j, &layer);
	}
	if (!form->image_manifest)
		descriptor_write_json(&j, config_desc);
	json_array_end(&j);
	json_object_end(&j);
	if ((rc = json_out_status(&j)))
		return rc;
	if (media_type_out && !(*media_type_out = strdup(mt)))
		return error_oom();
	return 0;
}

void cache_root_free(struct cache_root *r)
{
	free(r->media_type);
	descriptor_free(&r->config);
	descriptor_free(&r->image_config);
	for (size_t i = 0; i < r->n_blobs; i++)
		descriptor_free(&r->blobs[i]);
	free(r->blobs);
	memset(r, 0, sizeof(*r));
}

static int add_blob(struct cache_root *r, const cJSON *obj, const char *what)
{
	int rc;
	if ((rc = ARRAY_RESERVE(r->blobs, r->cap_blobs, r->n_blobs + 1)))
		return rc;
	if ((rc = descriptor_parse_json(&r->blobs[r->n_blobs], obj, what)))
		return rc;
	r->n_blobs++;
	return 0;
}

static bool is_list_type(const char *mt)
{
	return strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0;
}

static bool is_manifest_type(const char *mt)
{
	return strcmp(mt, MT_OCI_MANIFEST) == 0 || strcmp(mt, MT_DOCKER_MANIFEST) == 0;
}

/* The image-manifest form: a config (the cache config, or an image config
 * for inline caches) and the layers. */
static int parse_manifest_form(struct cache_root *out, const cJSON *config, const cJSON *layers)
{
	int rc;
	if (config && !cJSON_IsNull(config)) {
		struct descriptor d;
		if ((rc = descriptor_parse_json(&d, config, "root config descriptor")))
			return rc;
		if (d.media_type && strcmp(d.media_type, MT_CACHE_CONFIG) == 0) {
			out->config = d;
			out->has_config = true;
		} else {
			out->image_config = d;
			out->has_image_config = true;
		}
	}
	if (layers && !cJSON_IsNull(layers) && !cJSON_IsArray(layers))
		return error_set(ERR_FAILURE, "root document: layers is not an array");
	const cJSON *it;
	cJSON_ArrayForEach(it, layers) {
		if ((rc = add_blob(out, it, "root layer descriptor")))
			return rc;
	}
	return 0;
}

/* The index form: every entry a blob, except the cache config's. */
static int parse_index_form(struct cache_root *out, const cJSON *manifests)
{
	if (manifests && !cJSON_IsNull(manifests) && !cJSON_IsArray(manifests))
		return error_set(ERR_FAILURE, "root document: manifests is not an array");
	const cJSON *it;
	cJSON_ArrayForEach(it, manifests) {
		const cJSON *emt = cJSON_GetObjectItemCaseSensitive(it, "mediaType");
		int rc;
		if (cJSON_IsString(emt) && strcmp(emt->valuestring, MT_CACHE_CONFIG) == 0) {
			/* Several config entries: the last one wins, as in BuildKit. */
			descriptor_free(&out->config);
			if ((rc = descriptor_parse_json(&out->config, it, "root config descriptor")))
				return rc;
			out->has_config = true;
		} else if ((rc = add_blob(out, it, "root entry"))) {
			return rc;
		}
	}
	return 0;
}

/* The media type of the root: what it says it is, when that agrees with
 * its shape (BuildKit's structural detection), else what its shape says. */
static int root_kind(const char **kind, const cJSON *mt, bool manifest)
{
	*kind = manifest ? MT_OCI_MANIFEST : MT_OCI_INDEX;
	if (!cJSON_IsString(mt) || !(is_list_type(mt->valuestring) || is_manifest_type(mt->valuestring)))
		return 0;
	if (manifest != is_manifest_type(mt->valuestring))
		return error_set(ERR_FAILURE, "root document says it is %s but is shaped like %s", mt->valuestring,
				 manifest ? "a manifest" : "an index");
	*kind = mt->valuestring;
	return 0;
}

int cache_manifest_parse(struct cache_root *out, const char *bytes, size_t len)
{
	memset(out, 0, sizeof(*out));
	cJSON *doc = cJSON_ParseWithLength(bytes, len);
	if (!doc)
		return error_set(ERR_FAILURE, "root document is not valid JSON");
	int rc;
	const char *kind;
	if (!cJSON_IsObject(doc)) {
		rc = error_set(ERR_FAILURE, "root document is not a JSON object");
		goto out;
	}
	/* Members count when present, even as null. */
	const cJSON *config = cJSON_GetObjectItemCaseSensitive(doc, "config");
	const cJSON *layers = cJSON_GetObjectItemCaseSensitive(doc, "layers");
	const cJSON *manifests = cJSON_GetObjectItemCaseSensitive(doc, "manifests");
	bool manifest = config || layers;
	if (manifest && manifests) {
		rc = error_set(ERR_FAILURE, "root document has both manifests and config/layers");
		goto out;
	}
	if ((rc = root_kind(&kind, cJSON_GetObjectItemCaseSensitive(doc, "mediaType"), manifest)))
		goto out;
	if (!(out->media_type = strdup(kind))) {
		rc = error_oom();
		goto out;
	}
	rc = manifest ? parse_manifest_form(out, config, layers) : parse_index_form(out, manifests);
out:
	cJSON_Delete(doc);
	if (rc)
		cache_root_free(out);
	return rc;
}
