#include "formats/inline_config.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/array_grow.h"
#include "core/util/base64.h"
#include "core/util/error.h"
#include "core/util/json_span.h"
#include "core/model/media_type.h"

/* ---- reading ------------------------------------------------------------ */

static int string_array(char ***out, size_t *n, const cJSON *arr, const char *what)
{
	const cJSON *it;
	size_t count = (size_t)cJSON_GetArraySize(arr), i = 0;
	*out = calloc(count + 1, sizeof(char *));
	*n = 0;
	CHECK_ALLOC(*out);
	cJSON_ArrayForEach(it, arr) {
		if (!cJSON_IsString(it) || digest_is_valid(it->valuestring) != 0)
			return error_set(ERR_FAILURE, "%s: rootfs.diff_ids[%zu] is not a sha256 digest", what, i);
		if (!((*out)[i++] = strdup(it->valuestring)))
			return error_oom();
		*n = i;
	}
	return 0;
}

static void free_strings(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int diff_ids_of(char ***out, size_t *n, const cJSON *doc, const char *what)
{
	const cJSON *rootfs = cJSON_GetObjectItemCaseSensitive(doc, "rootfs");
	const cJSON *ids = cJSON_GetObjectItemCaseSensitive(rootfs, "diff_ids");
	if (!cJSON_IsArray(ids))
		return error_set(ERR_FAILURE, "%s: the image config has no rootfs.diff_ids", what);
	int rc = string_array(out, n, ids, what);
	if (rc) {
		free_strings(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

int image_config_diff_ids(char ***out, size_t *n, const char *config, size_t len)
{
	cJSON *doc = cJSON_ParseWithLength(config, len);
	if (!cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		return error_set(ERR_FAILURE, "the image config is not a JSON object");
	}
	int rc = diff_ids_of(out, n, doc, "image config");
	cJSON_Delete(doc);
	return rc;
}

/* The creation time of image layer i: that of the i-th history entry that
 * is not an empty layer, in Go's text form; NULL when unknown. */
static const char *layer_created(const cJSON *history, size_t i, char buf[TIMESTAMP_BUF])
{
	const cJSON *h;
	size_t k = 0;
	cJSON_ArrayForEach(h, history) {
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(h, "empty_layer")))
			continue;
		if (k++ != i)
			continue;
		const cJSON *created = cJSON_GetObjectItemCaseSensitive(h, "created");
		struct timestamp t;
		if (!cJSON_IsString(created) || timestamp_parse(&t, created->valuestring)) {
			error_clear();
			return NULL;
		}
		if (timestamp_is_zero(&t))
			return NULL;
		timestamp_format(buf, &t, false);
		return buf;
	}
	return NULL;
}

/* The cache config of an image: layer i on top of layer i-1, and the
 * records it carries. */
static int config_of_image(struct cache_config **out, const struct descriptor *layers, size_t n_layers,
			   const cJSON *records)
{
	struct cache_config *cfg;
	int rc = cache_config_new(&cfg);
	if (rc)
		return rc;
	for (size_t i = 0; i < n_layers && !rc; i++)
		rc = cache_config_add_layer(cfg, layers[i].digest, (int)i - 1, NULL);
	if (rc || (rc = cache_config_parse_records(cfg, records))) {
		cache_config_free(cfg);
		return rc;
	}
	*out = cfg;
	return 0;
}

/* The blob table: each image layer with its diffID and, when the history
 * says, its creation time. */
static int add_layer_blobs(struct cache *c, const struct descriptor *layers, size_t n_layers, char *const *diff_ids,
			   const cJSON *history)
{
	for (size_t i = 0; i < n_layers; i++) {
		struct descriptor d;
		char created[TIMESTAMP_BUF];
		const char *when = layer_created(history, i, created);
		int rc = descriptor_copy(&d, &layers[i]);
		if (rc)
			return rc;
		if (!(rc = descriptor_annotation_set(&d, ANN_UNCOMPRESSED, diff_ids[i])) && when)
			rc = descriptor_annotation_set(&d, ANN_CREATED_AT, when);
		if (!rc)
			rc = cache_add_blob(c, &d);
		descriptor_free(&d);
		if (rc)
			return rc;
	}
	return 0;
}

int inline_cache_from_image(struct cache **out, const struct descriptor *layers, size_t n_layers,
			    const char *config, size_t config_len, const char *what)
{
	struct buffer records = BUFFER_INIT;
	struct cache_config *cfg = NULL;
	struct cache *c = NULL;
	char **diff_ids = NULL;
	size_t n_diff = 0;
	cJSON *rec_doc = NULL;
	int rc;
	cJSON *doc = cJSON_ParseWithLength(config, config_len);
	if (!cJSON_IsObject(doc)) {
		rc = error_set(ERR_FAILURE, "%s: the image config is not a JSON object", what);
		goto out;
	}
	const cJSON *value = cJSON_GetObjectItemCaseSensitive(doc, INLINE_CACHE_KEY);
	if (!value || cJSON_IsNull(value)) {
		rc = error_set(ERR_NOT_FOUND, "%s carries no inline cache (no %s in its config)", what, INLINE_CACHE_KEY);
		goto out;
	}
	if (!cJSON_IsString(value)) {
		rc = error_set(ERR_FAILURE, "%s: %s is not a base64 string", what, INLINE_CACHE_KEY);
		goto out;
	}
	if ((rc = diff_ids_of(&diff_ids, &n_diff, doc, what)))
		goto out;
	if (n_diff != n_layers) {
		/* BuildKit skips such an image with a warning. */
		rc = error_set(ERR_NOT_FOUND, "%s: its config lists %zu diff_ids for %zu layers; inline cache skipped",
			       what, n_diff, n_layers);
		goto out;
	}
	if ((rc = base64_std_decode(&records, value->valuestring, strlen(value->valuestring)))) {
		rc = error_wrap(rc, "%s: %s", what, INLINE_CACHE_KEY);
		goto out;
	}
	rec_doc = cJSON_ParseWithLength(records.data ? records.data : "", records.len);
	if (!cJSON_IsArray(rec_doc)) {
		rc = error_set(ERR_FAILURE, "%s: %s does not hold a JSON array of cache records", what, INLINE_CACHE_KEY);
		goto out;
	}
	if ((rc = config_of_image(&cfg, layers, n_layers, rec_doc))) {
		rc = error_wrap(rc, "%s: %s", what, INLINE_CACHE_KEY);
		goto out;
	}
	if ((rc = cache_new(&c)))
		goto out;
	cache_set_config(c, cfg);
	cfg = NULL;
	if ((rc = add_layer_blobs(c, layers, n_layers, diff_ids, cJSON_GetObjectItemCaseSensitive(doc, "history"))))
		goto out;
	if ((rc = cache_normalize(c, NULL))) {
		rc = error_wrap(rc, "%s: %s", what, INLINE_CACHE_KEY);
		goto out;
	}
	*out = c;
	c = NULL;
out:
	cJSON_Delete(doc);
	cJSON_Delete(rec_doc);
	if (records.data)
		memset(records.data, 0, records.len);
	buffer_free(&records);
	free_strings(diff_ids, n_diff);
	cache_config_free(cfg);
	cache_free(c);
	return rc;
}

/* ---- writing: the records ----------------------------------------------- */

static bool blob_is_layer(const struct cache *c, const char *blob, const struct inline_image_layer *l)
{
	if (strcmp(blob, l->digest) == 0)
		return true;
	const char *diff = cache_blob_diff_id(c, blob);
	return diff && l->diff_id && strcmp(diff, l->diff_id) == 0;
}

static int add_chain(struct cache_record *r, const int *positions, size_t n, const struct timestamp *created)
{
	/* the cache config's own growth: records parsed and built alike */
	struct cache_chain *ch = array_grow_counted(r->chains, r->n_chains, sizeof(*ch));
	CHECK_ALLOC(ch);
	r->chains = ch;
	ch = &r->chains[r->n_chains];
	if (!(ch->layers = malloc((n ? n : 1) * sizeof(int))))
		return error_oom();
	memcpy(ch->layers, positions, n * sizeof(int));
	ch->n_layers = n;
	ch->created_at = *created;
	r->n_chains++;
	return 0;
}

/* One result of the reduced cache, as the image positions of its chain. */
static int place_result(struct cache_record *nr, const struct cache *w, const struct cache_result *res,
			const struct inline_image_layer *layers, size_t n_layers, size_t *kept, size_t *left)
{
	const struct cache_config *cfg = w->config;
	size_t n = 0;
	for (int l = res->layer; l != -1; l = cfg->layers[l].parent)
		n++;
	const char **chain = calloc(n + 1, sizeof(*chain));
	int *positions = calloc(n + 1, sizeof(int));
	int rc = 0;
	if (!chain || !positions) {
		rc = error_oom();
		goto out;
	}
	size_t k = n;
	for (int l = res->layer; l != -1; l = cfg->layers[l].parent)
		chain[--k] = cfg->layers[l].blob;
	bool prefix = n <= n_layers;
	for (size_t i = 0; i < n && prefix; i++)
		prefix = blob_is_layer(w, chain[i], &layers[i]);
	if (prefix) {
		/* BuildKit drops results that come out as the zero value. */
		if (n == 1 && timestamp_is_zero(&res->created_at)) {
			(*left)++;
			goto out;
		}
		rc = cache_record_add_result(nr, (int)n - 1, &res->created_at);
	} else {
		for (size_t i = 0; i < n; i++) {
			positions[i] = -1;
			for (size_t p = 0; p < n_layers; p++)
				if (blob_is_layer(w, chain[i], &layers[p]))
					positions[i] = (int)p; /* the last one, as BuildKit's map */
		}
		rc = add_chain(nr, positions, n, &res->created_at);
	}
	if (!rc)
		(*kept)++;
out:
	free(chain);
	free(positions);
	return rc;
}

int inline_records_build(struct buffer *out, const struct cache *c, const struct inline_image_layer *layers,
			 size_t n_layers, size_t *kept, size_t *left)
{
	struct cache *w = NULL;
	struct cache_config *cfg = NULL, *records = NULL;
	size_t dropped = 0;
	*kept = *left = 0;
	buffer_reset(out);
	/* The cache reduced to the blobs that are image layers: results
	 * that need any other blob drop out in the normalisation, which also
	 * gives BuildKit's canonical order. */
	int rc = cache_new(&w);
	if (!rc)
		rc = cache_config_clone(&cfg, c->config);
	if (rc)
		goto out;
	cache_set_config(w, cfg);
	cfg = NULL;
	for (size_t i = 0; i < c->n_blobs; i++) {
		bool in_image = false;
		for (size_t p = 0; p < n_layers && !in_image; p++)
			in_image = blob_is_layer(c, c->blobs[i].digest, &layers[p]);
		if (in_image && (rc = cache_add_blob(w, &c->blobs[i])))
			goto out;
	}
	if ((rc = cache_normalize(w, &dropped)))
		goto out;
	*left = dropped;
	if ((rc = cache_config_new(&records)))
		goto out;
	for (size_t i = 0; i < w->config->n_records; i++) {
		const struct cache_record *r = &w->config->records[i];
		int index;
		if ((rc = cache_config_add_record(records, r->digest, &index)))
			goto out;
		struct cache_record *nr = &records->records[index];
		if ((rc = cache_record_reserve_slots(nr, r->n_inputs)))
			goto out;
		for (size_t s = 0; s < r->n_inputs; s++)
			for (size_t a = 0; a < r->inputs[s].n_alts; a++)
				if ((rc = cache_record_add_input(nr, s, r->inputs[s].alts[a].selector, r->inputs[s].alts[a].link)))
					goto out;
		for (size_t k = 0; k < r->n_results; k++)
			if ((rc = place_result(nr, w, &r->results[k], layers, n_layers, kept, left)))
				goto out;
	}
	if (*kept)
		rc = cache_config_serialize_records(records, out);
out:
	cache_free(w);
	cache_config_free(cfg);
	cache_config_free(records);
	return rc;
}

int inline_records_left_out(struct buffer *out, const struct cache *c, const struct inline_image_layer *layers,
			    size_t n_layers)
{
	const struct cache_config *cfg = c->config;
	buffer_reset(out);
	for (size_t i = 0; i < cfg->n_records; i++) {
		const struct cache_record *r = &cfg->records[i];
		bool out_of_image = false;
		for (size_t k = 0; k < r->n_results && !out_of_image; k++)
			for (int l = r->results[k].layer; l >= 0 && (size_t)l < cfg->n_layers && !out_of_image;
			     l = cfg->layers[l].parent) {
				bool found = false;
				for (size_t p = 0; p < n_layers && !found; p++)
					found = blob_is_layer(c, cfg->layers[l].blob, &layers[p]);
				out_of_image = !found;
			}
		int rc = out_of_image ? buffer_appendf(out, "%s%s", out->len ? ", " : "", r->digest) : 0;
		if (rc)
			return rc;
	}
	return buffer_append(out, "", 0);
}

/* ---- writing: the documents --------------------------------------------- */

static int check_object(const char *text, size_t len, const char *what)
{
	cJSON *doc = cJSON_ParseWithLength(text, len);
	bool ok = cJSON_IsObject(doc);
	cJSON_Delete(doc);
	return ok ? 0 : error_set(ERR_FAILURE, "the %s is not a JSON object", what);
}

/* The whitespace the document puts before the key of member m. */
static void indent_before(const char *text, const struct json_member *m, size_t *start, size_t *end)
{
	size_t s = m->key_start;
	while (s > 0 && isspace((unsigned char)text[s - 1]))
		s--;
	*start = s;
	*end = m->key_start;
}

/* A run of bytes of the patched document. */
struct piece {
	const char *data;
	size_t len;
};

static int append_pieces(struct buffer *out, const struct piece *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int rc = buffer_append(out, p[i].data, p[i].len);
		if (rc)
			return rc;
	}
	return 0;
}

#define N_PIECES(a) (sizeof(a) / sizeof((a)[0]))

/* The index of the first member whose key sorts after ours (n: none). */
static int insertion_point(size_t *out, const char *config, const struct json_member *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *k;
		int rc = json_member_key(config, &m[i], &k);
		if (rc)
			return rc;
		bool after = strcmp(k, INLINE_CACHE_KEY) > 0;
		free(k);
		if (after) {
			*out = i;
			return 0;
		}
	}
	*out = n;
	return 0;
}

/* Our member inserted among the others (n > 0), with the spacing the
 * document uses around its neighbour. */
static int insert_member(struct buffer *out, const char *config, size_t len, const struct json_member *m, size_t n,
			 size_t next, const struct buffer *value)
{
	static const char key[] = "\"" INLINE_CACHE_KEY "\"";
	const struct json_member *ref = &m[next < n ? next : n - 1];
	size_t ws_start, ws_end;
	indent_before(config, ref, &ws_start, &ws_end);
	const char *sep = config + ref->key_end;
	size_t sep_len = ref->value_start - ref->key_end; /* ":" or ": " as the document spells it */
	if (next < n) {
		const struct piece before[] = {
			{config, ref->key_start}, {key, sizeof(key) - 1}, {sep, sep_len}, {value->data, value->len},
			{",", 1}, {config + ws_start, ws_end - ws_start}, {config + ref->key_start, len - ref->key_start},
		};
		return append_pieces(out, before, N_PIECES(before));
	}
	const struct piece after[] = {
		{config, ref->value_end}, {",", 1}, {config + ws_start, ws_end - ws_start}, {key, sizeof(key) - 1},
		{sep, sep_len}, {value->data, value->len}, {config + ref->value_end, len - ref->value_end},
	};
	return append_pieces(out, after, N_PIECES(after));
}

int inline_config_patch(struct buffer *out, const char *config, size_t len, const char *records, size_t records_len)
{
	static const char key[] = "\"" INLINE_CACHE_KEY "\"";
	struct json_member *m = NULL;
	struct buffer value = BUFFER_INIT;
	size_t n = 0, end, next = 0;
	int rc;
	if ((rc = check_object(config, len, "image config")) ||
	    (rc = json_object_members(config, len, 0, &m, &n, &end)))
		return rc;
	buffer_reset(out);
	if ((rc = buffer_append_str(&value, "\"")) || (rc = base64_std_encode(&value, records, records_len)) ||
	    (rc = buffer_append_str(&value, "\"")))
		goto out;
	long at = json_find_member(config, m, n, INLINE_CACHE_KEY);
	if (at >= 0) {
		const struct piece replaced[] = {
			{config, m[at].value_start}, {value.data, value.len},
			{config + m[at].value_end, len - m[at].value_end},
		};
		rc = append_pieces(out, replaced, N_PIECES(replaced));
	} else if (n == 0) {
		size_t brace = (size_t)(strchr(config, '{') - config) + 1;
		const struct piece only[] = {
			{config, brace}, {key, sizeof(key) - 1}, {":", 1}, {value.data, value.len},
			{config + brace, len - brace},
		};
		rc = append_pieces(out, only, N_PIECES(only));
	} else if (!(rc = insertion_point(&next, config, m, n))) {
		rc = insert_member(out, config, len, m, n, next, &value);
	}
out:
	free(m);
	buffer_free(&value);
	return rc;
}

int inline_manifest_set_config(struct buffer *out, const char *manifest, size_t len, const char *digest,
			       int64_t size)
{
	struct json_member *top = NULL, *cfg = NULL;
	size_t n_top = 0, n_cfg = 0, end;
	int rc = check_object(manifest, len, "image manifest");
	if (!rc)
		rc = json_object_members(manifest, len, 0, &top, &n_top, &end);
	if (rc)
		return rc;
	long c = json_find_member(manifest, top, n_top, "config");
	if (c < 0 || (rc = json_object_members(manifest, len, top[c].value_start, &cfg, &n_cfg, &end))) {
		rc = error_set(ERR_FAILURE, "the image manifest has no config descriptor");
		goto out;
	}
	long d = json_find_member(manifest, cfg, n_cfg, "digest");
	long s = json_find_member(manifest, cfg, n_cfg, "size");
	if (d < 0 || s < 0) {
		rc = error_set(ERR_FAILURE, "the image manifest's config descriptor has no digest or size");
		goto out;
	}
	char digest_text[DIGEST_BUF + 2], size_text[32];
	snprintf(digest_text, sizeof(digest_text), "\"%s\"", digest);
	snprintf(size_text, sizeof(size_text), "%lld", (long long)size);
	/* The two replacements, in the order they appear. */
	const struct json_member *first = cfg[d].value_start < cfg[s].value_start ? &cfg[d] : &cfg[s];
	const struct json_member *second = first == &cfg[d] ? &cfg[s] : &cfg[d];
	const char *first_text = first == &cfg[d] ? digest_text : size_text;
	const char *second_text = first == &cfg[d] ? size_text : digest_text;
	buffer_reset(out);
	if (buffer_append(out, manifest, first->value_start) || buffer_append_str(out, first_text) ||
	    buffer_append(out, manifest + first->value_end, second->value_start - first->value_end) ||
	    buffer_append_str(out, second_text) ||
	    buffer_append(out, manifest + second->value_end, len - second->value_end))
		rc = error_oom();
out:
	free(top);
	free(cfg);
	return rc;
}
