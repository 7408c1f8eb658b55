#include "core/model/descriptor.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/array_grow.h"
#include "core/util/error.h"
#include "core/util/json_number.h"

void descriptor_init(struct descriptor *d)
{
	memset(d, 0, sizeof(*d));
}

static void free_strings(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void platform_free(struct platform *p)
{
	if (!p)
		return;
	free(p->architecture);
	free(p->os);
	free(p->os_version);
	free_strings(p->os_features, p->n_os_features);
	free(p->variant);
	free(p);
}

void descriptor_free(struct descriptor *d)
{
	free(d->media_type);
	free_strings(d->urls, d->n_urls);
	for (size_t i = 0; i < d->n_annotations; i++) {
		free(d->annotations[i].key);
		free(d->annotations[i].value);
	}
	free(d->annotations);
	free(d->data);
	platform_free(d->platform);
	free(d->artifact_type);
	descriptor_init(d);
}

static int dup_str(char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : error_oom();
}

static int dup_strings(char ***dst, size_t *n_dst, char *const *src, size_t n)
{
	int rc;
	*dst = NULL;
	*n_dst = 0;
	if (!n)
		return 0;
	*dst = calloc(n, sizeof(char *));
	CHECK_ALLOC(*dst);
	*n_dst = n;
	for (size_t i = 0; i < n; i++)
		if ((rc = dup_str(&(*dst)[i], src[i])))
			return rc;
	return 0;
}

int descriptor_copy(struct descriptor *dst, const struct descriptor *src)
{
	descriptor_init(dst);
	memcpy(dst->digest, src->digest, sizeof(dst->digest));
	dst->size = src->size;
	if (dup_str(&dst->media_type, src->media_type) ||
	    dup_strings(&dst->urls, &dst->n_urls, src->urls, src->n_urls) ||
	    dup_str(&dst->data, src->data) || dup_str(&dst->artifact_type, src->artifact_type))
		goto fail;
	for (size_t i = 0; i < src->n_annotations; i++)
		if (descriptor_annotation_set(dst, src->annotations[i].key, src->annotations[i].value))
			goto fail;
	if (src->platform) {
		const struct platform *s = src->platform;
		struct platform *p = calloc(1, sizeof(*p));
		if (!p)
			goto fail;
		dst->platform = p;
		if (dup_str(&p->architecture, s->architecture) || dup_str(&p->os, s->os) ||
		    dup_str(&p->os_version, s->os_version) || dup_str(&p->variant, s->variant) ||
		    dup_strings(&p->os_features, &p->n_os_features, s->os_features, s->n_os_features))
			goto fail;
	}
	return 0;
fail:
	descriptor_free(dst);
	return error_oom();
}

int descriptor_set_media_type(struct descriptor *d, const char *media_type)
{
	int rc;
	char *p = NULL;
	if ((rc = dup_str(&p, media_type)))
		return rc;
	free(d->media_type);
	d->media_type = p;
	return 0;
}

static size_t annotation_slot(const struct descriptor *d, const char *key, int *found)
{
	size_t lo = 0, hi = d->n_annotations;
	*found = 0;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(d->annotations[mid].key, key);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const char *descriptor_annotation(const struct descriptor *d, const char *key)
{
	int found;
	size_t i = annotation_slot(d, key, &found);
	return found ? d->annotations[i].value : NULL;
}

int descriptor_annotation_set(struct descriptor *d, const char *key, const char *value)
{
	int found;
	size_t i = annotation_slot(d, key, &found);
	char *v = strdup(value);
	CHECK_ALLOC(v);
	if (found) {
		free(d->annotations[i].value);
		d->annotations[i].value = v;
		return 0;
	}
	char *k = strdup(key);
	if (!k || ARRAY_RESERVE(d->annotations, d->cap_annotations, d->n_annotations + 1)) {
		free(k);
		free(v);
		return error_oom();
	}
	struct annotation *a = d->annotations;
	memmove(&a[i + 1], &a[i], (d->n_annotations - i) * sizeof(*a));
	a[i].key = k;
	a[i].value = v;
	d->n_annotations++;
	return 0;
}

void descriptor_annotation_remove(struct descriptor *d, const char *key)
{
	int found;
	size_t i = annotation_slot(d, key, &found);
	if (!found)
		return;
	free(d->annotations[i].key);
	free(d->annotations[i].value);
	memmove(&d->annotations[i], &d->annotations[i + 1],
		(d->n_annotations - i - 1) * sizeof(d->annotations[0]));
	d->n_annotations--;
}

void descriptor_write_json(struct json_out *j, const struct descriptor *d)
{
	json_object_begin(j);
	json_member_string(j, "mediaType", d->media_type ? d->media_type : "");
	json_member_string(j, "digest", d->digest);
	json_member_int(j, "size", d->size);
	if (d->n_urls) {
		json_key(j, "urls");
		json_array_begin(j);
		for (size_t i = 0; i < d->n_urls; i++)
			json_string(j, d->urls[i]);
		json_array_end(j);
	}
	if (d->n_annotations) {
		json_key(j, "annotations");
		json_object_begin(j);
		for (size_t i = 0; i < d->n_annotations; i++)
			json_member_string(j, d->annotations[i].key, d->annotations[i].value);
		json_object_end(j);
	}
	if (d->data && *d->data)
		json_member_string(j, "data", d->data);
	if (d->platform) {
		const struct platform *p = d->platform;
		json_key(j, "platform");
		json_object_begin(j);
		json_member_string(j, "architecture", p->architecture ? p->architecture : "");
		json_member_string(j, "os", p->os ? p->os : "");
		if (p->os_version && *p->os_version)
			json_member_string(j, "os.version", p->os_version);
		if (p->n_os_features) {
			json_key(j, "os.features");
			json_array_begin(j);
			for (size_t i = 0; i < p->n_os_features; i++)
				json_string(j, p->os_features[i]);
			json_array_end(j);
		}
		if (p->variant && *p->variant)
			json_member_string(j, "variant", p->variant);
		json_object_end(j);
	}
	if (d->artifact_type && *d->artifact_type)
		json_member_string(j, "artifactType", d->artifact_type);
	json_object_end(j);
}

/* Optional string member: absent or null is fine, another type is not. */
static int opt_string(char **out, const cJSON *obj, const char *name, const char *what)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	*out = NULL;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v))
		return error_set(ERR_FAILURE, "%s: \"%s\" is not a string", what, name);
	return dup_str(out, v->valuestring);
}

static int string_array(char ***out, size_t *n, const cJSON *arr, const char *what, const char *name)
{
	int rc;
	*out = NULL;
	*n = 0;
	if (!arr || cJSON_IsNull(arr))
		return 0;
	if (!cJSON_IsArray(arr))
		return error_set(ERR_FAILURE, "%s: \"%s\" is not an array", what, name);
	size_t count = (size_t)cJSON_GetArraySize(arr);
	if (!count)
		return 0;
	*out = calloc(count, sizeof(char *));
	CHECK_ALLOC(*out);
	const cJSON *it;
	cJSON_ArrayForEach(it, arr) {
		if (!cJSON_IsString(it))
			return error_set(ERR_FAILURE, "%s: \"%s\" holds a non-string", what, name);
		if ((rc = dup_str(&(*out)[(*n)++], it->valuestring)))
			return rc;
	}
	return 0;
}

static int parse_annotations(struct descriptor *d, const cJSON *ann, const char *what)
{
	if (!cJSON_IsObject(ann))
		return error_set(ERR_FAILURE, "%s: annotations is not an object", what);
	const cJSON *it;
	cJSON_ArrayForEach(it, ann) {
		if (!cJSON_IsString(it))
			return error_set(ERR_FAILURE, "%s: annotation %s is not a string", what, it->string);
		int rc = descriptor_annotation_set(d, it->string, it->valuestring);
		if (rc)
			return rc;
	}
	return 0;
}

static int parse_platform(struct descriptor *d, const cJSON *plat, const char *what)
{
	if (!cJSON_IsObject(plat))
		return error_set(ERR_FAILURE, "%s: platform is not an object", what);
	struct platform *p = calloc(1, sizeof(*p));
	CHECK_ALLOC(p);
	d->platform = p;
	int rc;
	if ((rc = opt_string(&p->architecture, plat, "architecture", what)) ||
	    (rc = opt_string(&p->os, plat, "os", what)) ||
	    (rc = opt_string(&p->os_version, plat, "os.version", what)) ||
	    (rc = opt_string(&p->variant, plat, "variant", what)))
		return rc;
	return string_array(&p->os_features, &p->n_os_features, cJSON_GetObjectItemCaseSensitive(plat, "os.features"),
			    what, "os.features");
}

int descriptor_parse_json(struct descriptor *d, const cJSON *obj, const char *what)
{
	int rc;
	descriptor_init(d);
	if (!cJSON_IsObject(obj))
		return error_set(ERR_FAILURE, "%s is not a JSON object", what);
	const cJSON *digest = cJSON_GetObjectItemCaseSensitive(obj, "digest");
	if (!cJSON_IsString(digest))
		return error_set(ERR_FAILURE, "%s has no digest", what);
	if ((rc = digest_check(digest->valuestring, ERR_FAILURE, what)))
		return rc;
	memcpy(d->digest, digest->valuestring, DIGEST_BUF);
	const cJSON *size = cJSON_GetObjectItemCaseSensitive(obj, "size");
	if (size && !cJSON_IsNull(size)) {
		if (!json_integer(size, 0, JSON_EXACT_MAX, &d->size))
			return error_set(ERR_FAILURE, "%s: size is not a byte count", what);
	}
	const cJSON *ann = cJSON_GetObjectItemCaseSensitive(obj, "annotations");
	const cJSON *plat = cJSON_GetObjectItemCaseSensitive(obj, "platform");
	if ((rc = opt_string(&d->media_type, obj, "mediaType", what)) ||
	    (rc = opt_string(&d->data, obj, "data", what)) ||
	    (rc = opt_string(&d->artifact_type, obj, "artifactType", what)) ||
	    (rc = string_array(&d->urls, &d->n_urls, cJSON_GetObjectItemCaseSensitive(obj, "urls"), what, "urls")) ||
	    (ann && !cJSON_IsNull(ann) && (rc = parse_annotations(d, ann, what))) ||
	    (plat && !cJSON_IsNull(plat) && (rc = parse_platform(d, plat, what))))
		descriptor_free(d);
	return rc;
}
