#include "core/model/cache_config.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/array_grow.h"
#include "core/util/error.h"
#include "core/util/json_out.h"
#include "core/util/json_number.h"

static const struct timestamp zero_time = {-62135596800LL, 0, 0};

int cache_config_new(struct cache_config **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : error_oom();
}

void cache_layer_clear(struct cache_layer *l)
{
	free(l->blob);
	if (l->annotations) {
		free(l->annotations->media_type);
		free(l->annotations->diff_id);
		free(l->annotations);
	}
	memset(l, 0, sizeof(*l));
}

void cache_record_clear(struct cache_record *r)
{
	free(r->digest);
	free(r->results);
	for (size_t i = 0; i < r->n_chains; i++)
		free(r->chains[i].layers);
	free(r->chains);
	for (size_t i = 0; i < r->n_inputs; i++) {
		for (size_t k = 0; k < r->inputs[i].n_alts; k++)
			free(r->inputs[i].alts[k].selector);
		free(r->inputs[i].alts);
	}
	free(r->inputs);
	memset(r, 0, sizeof(*r));
}

void cache_config_free(struct cache_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_layers; i++)
		cache_layer_clear(&cfg->layers[i]);
	for (size_t i = 0; i < cfg->n_records; i++)
		cache_record_clear(&cfg->records[i]);
	free(cfg->layers);
	free(cfg->records);
	free(cfg);
}

int cache_config_add_layer(struct cache_config *cfg, const char *blob, int parent, int *out)
{
	struct cache_layer *l = array_grow_counted(cfg->layers, cfg->n_layers, sizeof(*l));
	CHECK_ALLOC(l);
	cfg->layers = l;
	l = &cfg->layers[cfg->n_layers];
	memset(l, 0, sizeof(*l));
	l->blob = strdup(blob);
	CHECK_ALLOC(l->blob);
	l->parent = parent;
	if (out)
		*out = (int)cfg->n_layers;
	cfg->n_layers++;
	return 0;
}

int cache_config_add_record(struct cache_config *cfg, const char *digest, int *out)
{
	struct cache_record *r = array_grow_counted(cfg->records, cfg->n_records, sizeof(*r));
	CHECK_ALLOC(r);
	cfg->records = r;
	r = &cfg->records[cfg->n_records];
	memset(r, 0, sizeof(*r));
	r->digest = strdup(digest);
	CHECK_ALLOC(r->digest);
	if (out)
		*out = (int)cfg->n_records;
	cfg->n_records++;
	return 0;
}

int cache_record_add_result(struct cache_record *r, int layer, const struct timestamp *created)
{
	struct cache_result *res = array_grow_counted(r->results, r->n_results, sizeof(*res));
	CHECK_ALLOC(res);
	r->results = res;
	res[r->n_results].layer = layer;
	res[r->n_results].created_at = created ? *created : zero_time;
	r->n_results++;
	return 0;
}

int cache_record_reserve_slots(struct cache_record *r, size_t n)
{
	while (r->n_inputs < n) {
		struct cache_slot *s = array_grow_counted(r->inputs, r->n_inputs, sizeof(*s));
		CHECK_ALLOC(s);
		r->inputs = s;
		r->n_inputs++;
	}
	return 0;
}

int cache_record_add_input(struct cache_record *r, size_t slot, const char *selector, int link)
{
	int rc;
	if ((rc = cache_record_reserve_slots(r, slot + 1)))
		return rc;
	struct cache_slot *s = &r->inputs[slot];
	struct cache_input *a = array_grow_counted(s->alts, s->n_alts, sizeof(*a));
	CHECK_ALLOC(a);
	s->alts = a;
	a[s->n_alts].link = link;
	a[s->n_alts].selector = NULL;
	if (selector && *selector && !(a[s->n_alts].selector = strdup(selector)))
		return error_oom();
	s->n_alts++;
	return 0;
}

/* ---- parsing ------------------------------------------------------------ */

/* Go's decoder matches member names case-insensitively; so does cJSON's
 * plain lookup, which keeps us as lenient as BuildKit's importer. */
static const cJSON *member(const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItem(obj, name);
	return cJSON_IsNull(v) ? NULL : v;
}

static int get_int(int *out, const cJSON *obj, const char *name, int dflt, const char *what)
{
	const cJSON *v = member(obj, name);
	if (!v) {
		*out = dflt;
		return 0;
	}
	if (!cJSON_IsNumber(v) || floor(v->valuedouble) != v->valuedouble ||
	    v->valuedouble < -2147483648.0 || v->valuedouble > 2147483647.0)
		return error_set(ERR_FAILURE, "cache config: %s: \"%s\" is not an integer", what, name);
	*out = (int)v->valuedouble;
	return 0;
}

static int get_string(const char **out, const cJSON *obj, const char *name, const char *what)
{
	const cJSON *v = member(obj, name);
	*out = NULL;
	if (!v)
		return 0;
	if (!cJSON_IsString(v))
		return error_set(ERR_FAILURE, "cache config: %s: \"%s\" is not a string", what, name);
	*out = v->valuestring;
	return 0;
}

static int get_time(struct timestamp *out, const cJSON *obj, const char *name, const char *what)
{
	int rc;
	const char *s;
	*out = zero_time;
	if ((rc = get_string(&s, obj, name, what)))
		return rc;
	if (s && (rc = timestamp_parse(out, s)))
		return error_wrap(rc, "cache config: %s: %s", what, name);
	return 0;
}

static int get_array(const cJSON **out, const cJSON *obj, const char *name, const char *what)
{
	*out = member(obj, name);
	if (*out && !cJSON_IsArray(*out))
		return error_set(ERR_FAILURE, "cache config: %s: \"%s\" is not an array", what, name);
	return 0;
}

static int parse_layer_annotations(struct cache_layer *l, const cJSON *ann, const char *what)
{
	int rc;
	const char *mt, *diff;
	const cJSON *size = member(ann, "size");
	struct cache_layer_annotations *a = calloc(1, sizeof(*a));
	CHECK_ALLOC(a);
	l->annotations = a;
	if (!cJSON_IsObject(ann))
		return error_set(ERR_FAILURE, "cache config: %s: annotations is not an object", what);
	if ((rc = get_string(&mt, ann, "mediaType", what)) || (rc = get_string(&diff, ann, "diffID", what)) ||
	    (rc = get_time(&a->created_at, ann, "createdAt", what)))
		return rc;
	if (size) {
		if (!json_integer(size, 0, JSON_EXACT_MAX, &a->size))
			return error_set(ERR_FAILURE, "cache config: %s: size is not a byte count", what);
	}
	if ((mt && !(a->media_type = strdup(mt))) || (diff && !(a->diff_id = strdup(diff))))
		return error_oom();
	return 0;
}

static int parse_record(struct cache_record *r, const cJSON *obj, size_t index)
{
	int rc;
	char what[48];
	snprintf(what, sizeof(what), "record %zu", index);
	if (!cJSON_IsObject(obj))
		return error_set(ERR_FAILURE, "cache config: %s is not an object", what);
	const char *digest;
	const cJSON *results, *chains, *inputs, *it;
	if ((rc = get_string(&digest, obj, "digest", what)) || (rc = get_array(&results, obj, "layers", what)) ||
	    (rc = get_array(&chains, obj, "chains", what)) || (rc = get_array(&inputs, obj, "inputs", what)))
		return rc;
	if (!(r->digest = strdup(digest ? digest : "")))
		return error_oom();
	cJSON_ArrayForEach(it, results) {
		int layer = 0;
		struct timestamp t;
		if (!cJSON_IsObject(it))
			return error_set(ERR_FAILURE, "cache config: %s: a result is not an object", what);
		if ((rc = get_int(&layer, it, "layer", 0, what)) || (rc = get_time(&t, it, "createdAt", what)) ||
		    (rc = cache_record_add_result(r, layer, &t)))
			return rc;
	}
	cJSON_ArrayForEach(it, chains) {
		const cJSON *idx, *n;
		if (!cJSON_IsObject(it))
			return error_set(ERR_FAILURE, "cache config: %s: a chain is not an object", what);
		struct cache_chain *c = array_grow_counted(r->chains, r->n_chains, sizeof(*c));
		CHECK_ALLOC(c);
		r->chains = c;
		c = &r->chains[r->n_chains++];
		if ((rc = get_array(&idx, it, "layers", what)) ||
		    (rc = get_time(&c->created_at, it, "createdAt", what)))
			return rc;
		size_t count = idx ? (size_t)cJSON_GetArraySize(idx) : 0;
		if (count && !(c->layers = calloc(count, sizeof(int))))
			return error_oom();
		cJSON_ArrayForEach(n, idx) {
			if (!cJSON_IsNumber(n) || floor(n->valuedouble) != n->valuedouble ||
			    fabs(n->valuedouble) > 2147483647.0)
				return error_set(ERR_FAILURE, "cache config: %s: chain index is not an integer", what);
			c->layers[c->n_layers++] = (int)n->valuedouble;
		}
	}
	size_t slot = 0;
	cJSON_ArrayForEach(it, inputs) {
		const cJSON *alt;
		if (!cJSON_IsArray(it))
			return error_set(ERR_FAILURE, "cache config: %s: input slot %zu is not an array", what, slot);
		/* Keep empty slots: v0.23.2 tolerated them and the count matters. */
		if ((rc = cache_record_reserve_slots(r, slot + 1)))
			return rc;
		cJSON_ArrayForEach(alt, it) {
			const char *sel;
			int link = 0;
			if (!cJSON_IsObject(alt))
				return error_set(ERR_FAILURE, "cache config: %s: an input is not an object", what);
			if ((rc = get_string(&sel, alt, "selector", what)) ||
			    (rc = get_int(&link, alt, "link", 0, what)) ||
			    (rc = cache_record_add_input(r, slot, sel, link)))
				return rc;
		}
		slot++;
	}
	return 0;
}

int cache_config_parse_records(struct cache_config *cfg, const cJSON *records)
{
	int rc;
	const cJSON *it;
	cJSON_ArrayForEach(it, records) {
		struct cache_record *r = array_grow_counted(cfg->records, cfg->n_records, sizeof(*r));
		CHECK_ALLOC(r);
		cfg->records = r;
		/* Counted before parsing so that a half-parsed record is freed. */
		size_t index = cfg->n_records++;
		memset(&cfg->records[index], 0, sizeof(*r));
		if ((rc = parse_record(&cfg->records[index], it, index)))
			return rc;
	}
	return 0;
}

int cache_config_parse(struct cache_config **out, const char *json, size_t len)
{
	struct cache_config *cfg;
	const cJSON *layers, *records, *it;
	cJSON *doc = cJSON_ParseWithLength(json, len);
	if (!doc)
		return error_set(ERR_FAILURE, "cache config is not valid JSON");
	if (!cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		return error_set(ERR_FAILURE, "cache config is not a JSON object");
	}
	int rc = cache_config_new(&cfg);
	if (rc) {
		cJSON_Delete(doc);
		return rc;
	}
	if ((rc = get_array(&layers, doc, "layers", "document")) ||
	    (rc = get_array(&records, doc, "records", "document")))
		goto fail;
	cJSON_ArrayForEach(it, layers) {
		char what[48];
		const char *blob;
		int parent = -1, index = 0;
		const cJSON *ann;
		snprintf(what, sizeof(what), "layer %zu", cfg->n_layers);
		if (!cJSON_IsObject(it)) {
			rc = error_set(ERR_FAILURE, "cache config: %s is not an object", what);
			goto fail;
		}
		if ((rc = get_string(&blob, it, "blob", what)) || (rc = get_int(&parent, it, "parent", 0, what)) ||
		    (rc = cache_config_add_layer(cfg, blob ? blob : "", parent, &index)))
			goto fail;
		if ((ann = member(it, "annotations")) &&
		    (rc = parse_layer_annotations(&cfg->layers[index], ann, what)))
			goto fail;
	}
	if (records && (rc = cache_config_parse_records(cfg, records)))
		goto fail;
	cJSON_Delete(doc);
	*out = cfg;
	return 0;
fail:
	cJSON_Delete(doc);
	cache_config_free(cfg);
	return rc;
}

/* ---- serialising -------------------------------------------------------- */

static void write_time(struct json_out *j, const char *key, const struct timestamp *t, bool utc)
{
	char text[TIMESTAMP_BUF];
	timestamp_format(text, t, utc);
	json_member_string(j, key, text);
}

static void write_records(struct json_out *j, const struct cache_config *cfg)
{
	json_array_begin(j);
	for (size_t i = 0; i < cfg->n_records; i++) {
		const struct cache_record *r = &cfg->records[i];
		json_object_begin(j);
		if (r->n_results) {
			json_key(j, "layers");
			json_array_begin(j);
			for (size_t k = 0; k < r->n_results; k++) {
				json_object_begin(j);
				json_member_int(j, "layer", r->results[k].layer);
				write_time(j, "createdAt", &r->results[k].created_at, false);
				json_object_end(j);
			}
			json_array_end(j);
		}
		if (r->n_chains) {
			json_key(j, "chains");
			json_array_begin(j);
			for (size_t k = 0; k < r->n_chains; k++) {
				json_object_begin(j);
				json_key(j, "layers");
				json_array_begin(j);
				for (size_t n = 0; n < r->chains[k].n_layers; n++)
					json_int(j, r->chains[k].layers[n]);
				json_array_end(j);
				write_time(j, "createdAt", &r->chains[k].created_at, false);
				json_object_end(j);
			}
			json_array_end(j);
		}
		if (r->digest && *r->digest)
			json_member_string(j, "digest", r->digest);
		if (r->n_inputs) {
			json_key(j, "inputs");
			json_array_begin(j);
			for (size_t s = 0; s < r->n_inputs; s++) {
				json_array_begin(j);
				for (size_t a = 0; a < r->inputs[s].n_alts; a++) {
					const struct cache_input *in = &r->inputs[s].alts[a];
					json_object_begin(j);
					if (in->selector && *in->selector)
						json_member_string(j, "selector", in->selector);
					json_member_int(j, "link", in->link);
					json_object_end(j);
				}
				json_array_end(j);
			}
			json_array_end(j);
		}
		json_object_end(j);
	}
	json_array_end(j);
}

int cache_config_serialize(const struct cache_config *cfg, struct buffer *out)
{
	struct json_out j;
	buffer_reset(out);
	json_out_init(&j, out);
	json_object_begin(&j);
	if (cfg->n_layers) {
		json_key(&j, "layers");
		json_array_begin(&j);
		for (size_t i = 0; i < cfg->n_layers; i++) {
			const struct cache_layer *l = &cfg->layers[i];
			json_object_begin(&j);
			if (l->blob && *l->blob)
				json_member_string(&j, "blob", l->blob);
			if (l->parent != 0)
				json_member_int(&j, "parent", l->parent);
			if (l->annotations) {
				const struct cache_layer_annotations *a = l->annotations;
				json_key(&j, "annotations");
				json_object_begin(&j);
				if (a->media_type && *a->media_type)
					json_member_string(&j, "mediaType", a->media_type);
				if (a->diff_id && *a->diff_id)
					json_member_string(&j, "diffID", a->diff_id);
				if (a->size)
					json_member_int(&j, "size", a->size);
				write_time(&j, "createdAt", &a->created_at, true);
				json_object_end(&j);
			}
			json_object_end(&j);
		}
		json_array_end(&j);
	}
	if (cfg->n_records) {
		json_key(&j, "records");
		write_records(&j, cfg);
	}
	json_object_end(&j);
	return json_out_status(&j);
}

int cache_config_serialize_records(const struct cache_config *cfg, struct buffer *out)
{
	struct json_out j;
	buffer_reset(out);
	json_out_init(&j, out);
	write_records(&j, cfg);
	return json_out_status(&j);
}

/* ---- copying ------------------------------------------------------------ */

int cache_config_clone(struct cache_config **out, const struct cache_config *cfg)
{
	struct buffer text = BUFFER_INIT;
	/* The document is its own faithful deep-copy format, and every field
	 * survives a round trip; configs are small (at most a few MiB). */
	int rc = cache_config_serialize(cfg, &text);
	if (!rc)
		rc = cache_config_parse(out, text.data, text.len);
	buffer_free(&text);
	return rc;
}
