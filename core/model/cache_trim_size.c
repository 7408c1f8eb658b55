#include "core/model/cache_trim_size.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/buffer.h"
#include "core/util/error.h"

/* What one record weighs, and where a prediction leaves it. */
struct record_bytes {
	int64_t len;         /* its bytes, indexes as they are */
	int64_t results_len; /* what its results add to them */
	int new_index;       /* -1: gone */
	bool dropped, keep;
};

struct layer_bytes {
	int64_t len;           /* its bytes and one separator, its parent left out */
	int64_t parent_member; /* what a parent adds to them besides its digits */
	int new_index;         /* -1: gone */
	bool used;
};

struct trim_size {
	const struct cache_config *cfg;
	int64_t full;         /* bytes of cfg as it is */
	int64_t empty;        /* bytes of a config with nothing left */
	int64_t record_comma; /* bytes between two records */
	struct record_bytes *records;
	struct layer_bytes *layers;
	size_t *stack;
};

static int64_t digits(int64_t v)
{
	int64_t n = v < 0 ? 2 : 1;
	for (v = v < 0 ? -v : v; v >= 10; v /= 10)
		n++;
	return n;
}

/* The bytes of the records array holding `n` copies of r (none when r is
 * NULL), through the real serialiser. */
static int records_bytes(int64_t *out, struct buffer *b, const struct cache_record *r, size_t n)
{
	struct cache_record copies[2];
	struct cache_config view = {.records = copies, .n_records = r ? n : 0};
	for (size_t i = 0; r && i < n; i++)
		copies[i] = *r;
	int rc = cache_config_serialize_records(&view, b);
	*out = (int64_t)b->len;
	return rc;
}

/* The bytes of a config holding only `n` copies of layer l, its parent
 * replaced by `parent`. */
static int layers_bytes(int64_t *out, struct buffer *b, const struct cache_layer *l, int parent, size_t n)
{
	struct cache_layer copies[2];
	struct cache_config view = {.layers = copies, .n_layers = n};
	for (size_t i = 0; i < n; i++) {
		copies[i] = *l;
		copies[i].parent = parent;
	}
	int rc = cache_config_serialize(&view, b);
	*out = (int64_t)b->len;
	return rc;
}

static int measure_records(struct trim_size *t, struct buffer *b)
{
	const struct cache_config *cfg = t->cfg;
	int64_t none, one, two;
	int rc = records_bytes(&none, b, NULL, 0);
	if (rc || !cfg->n_records)
		return rc;
	if ((rc = records_bytes(&one, b, &cfg->records[0], 1)) || (rc = records_bytes(&two, b, &cfg->records[0], 2)))
		return rc;
	t->record_comma = two - 2 * one + none;
	for (size_t i = 0; i < cfg->n_records; i++) {
		struct cache_record bare = cfg->records[i];
		int64_t without = 0;
		bare.n_results = 0;
		if ((rc = records_bytes(&one, b, &cfg->records[i], 1)) ||
		    (cfg->records[i].n_results && (rc = records_bytes(&without, b, &bare, 1))))
			return rc;
		t->records[i].len = one - none;
		t->records[i].results_len = cfg->records[i].n_results ? one - without : 0;
	}
	return 0;
}

static int measure_layers(struct trim_size *t, struct buffer *b)
{
	for (size_t i = 0; i < t->cfg->n_layers; i++) {
		const struct cache_layer *l = &t->cfg->layers[i];
		int64_t one, two, with_parent;
		int rc = layers_bytes(&one, b, l, 0, 1);
		if (rc || (rc = layers_bytes(&two, b, l, 0, 2)) || (rc = layers_bytes(&with_parent, b, l, 1, 1)))
			return rc;
		t->layers[i].len = two - one;
		t->layers[i].parent_member = with_parent - one - digits(1);
	}
	return 0;
}

static bool has_chains(const struct cache_config *cfg)
{
	for (size_t i = 0; i < cfg->n_records; i++)
		if (cfg->records[i].n_chains)
			return true;
	return false;
}

int trim_size_new(struct trim_size **out, const struct cache_config *cfg)
{
	struct buffer b = BUFFER_INIT;
	struct cache_config empty = {0};
	*out = NULL;
	if (has_chains(cfg))
		return 0;
	struct trim_size *t = calloc(1, sizeof(*t));
	CHECK_ALLOC(t);
	t->cfg = cfg;
	t->records = calloc(cfg->n_records + 1, sizeof(*t->records));
	t->layers = calloc(cfg->n_layers + 1, sizeof(*t->layers));
	t->stack = malloc((cfg->n_records + 1) * sizeof(*t->stack));
	int rc = t->records && t->layers && t->stack ? 0 : error_oom();
	if (rc || (rc = cache_config_serialize(&empty, &b)))
		goto out;
	t->empty = (int64_t)b.len;
	if ((rc = cache_config_serialize(cfg, &b)))
		goto out;
	t->full = (int64_t)b.len;
	if ((rc = measure_records(t, &b)) || (rc = measure_layers(t, &b)))
		goto out;
	*out = t;
	t = NULL;
out:
	buffer_free(&b);
	trim_size_free(t);
	return rc;
}

void trim_size_free(struct trim_size *t)
{
	if (!t)
		return;
	free(t->records);
	free(t->layers);
	free(t->stack);
	free(t);
}

/* keep: records with results left and every record they reach; used: the
 * layers those results stand on.  New indexes count what is kept before. */
static void mark_kept(struct trim_size *t, size_t *n_kept)
{
	const struct cache_config *cfg = t->cfg;
	size_t top = 0;
	for (size_t i = 0; i < cfg->n_records; i++)
		t->records[i].keep = false;
	for (size_t i = 0; i < cfg->n_layers; i++)
		t->layers[i].used = false;
	for (size_t i = 0; i < cfg->n_records; i++)
		if (cfg->records[i].n_results && !t->records[i].dropped) {
			t->records[i].keep = true;
			t->stack[top++] = i;
			for (size_t k = 0; k < cfg->records[i].n_results; k++)
				for (int l = cfg->records[i].results[k].layer; l != -1 && !t->layers[l].used;
				     l = cfg->layers[l].parent)
					t->layers[l].used = true;
		}
	while (top) {
		const struct cache_record *r = &cfg->records[t->stack[--top]];
		for (size_t s = 0; s < r->n_inputs; s++)
			for (size_t k = 0; k < r->inputs[s].n_alts; k++) {
				size_t link = (size_t)r->inputs[s].alts[k].link;
				if (!t->records[link].keep) {
					t->records[link].keep = true;
					t->stack[top++] = link;
				}
			}
	}
	int next = 0;
	for (size_t i = 0; i < cfg->n_records; i++)
		t->records[i].new_index = t->records[i].keep ? next++ : -1;
	*n_kept = (size_t)next;
	next = 0;
	for (size_t i = 0; i < cfg->n_layers; i++)
		t->layers[i].new_index = t->layers[i].used ? next++ : -1;
}

/* What record i's bytes change by: gone, its results gone, or only the
 * digits of its indexes. */
static int64_t record_change(const struct trim_size *t, size_t i)
{
	const struct cache_record *r = &t->cfg->records[i];
	if (!t->records[i].keep)
		return -(t->records[i].len + t->record_comma);
	int64_t change = 0;
	if (t->records[i].dropped)
		change -= t->records[i].results_len;
	else
		for (size_t k = 0; k < r->n_results; k++)
			change += digits(t->layers[r->results[k].layer].new_index) - digits(r->results[k].layer);
	for (size_t s = 0; s < r->n_inputs; s++)
		for (size_t k = 0; k < r->inputs[s].n_alts; k++) {
			int link = r->inputs[s].alts[k].link;
			change += digits(t->records[link].new_index) - digits(link);
		}
	return change;
}

/* A parent of 0 is left out of the document. */
static int64_t parent_bytes(const struct trim_size *t, size_t layer, int parent)
{
	return parent == 0 ? 0 : t->layers[layer].parent_member + digits(parent);
}

static int64_t layer_change(const struct trim_size *t, size_t i)
{
	int parent = t->cfg->layers[i].parent;
	if (!t->layers[i].used)
		return -(t->layers[i].len + parent_bytes(t, i, parent));
	return parent_bytes(t, i, parent == -1 ? -1 : t->layers[parent].new_index) - parent_bytes(t, i, parent);
}

int trim_size_predict(int64_t *out, struct trim_size *t, const size_t *dropped, size_t n_dropped)
{
	const struct cache_config *cfg = t->cfg;
	size_t n_kept;
	for (size_t i = 0; i < cfg->n_records; i++)
		t->records[i].dropped = false;
	for (size_t i = 0; i < n_dropped; i++) {
		if (dropped[i] >= cfg->n_records)
			return error_set(ERR_FAILURE, "trim size: record %zu of %zu", dropped[i], cfg->n_records);
		t->records[dropped[i]].dropped = true;
	}
	mark_kept(t, &n_kept);
	if (!n_kept) {
		/* No result left: no layer either, an empty document. */
		*out = t->empty;
		return 0;
	}
	int64_t size = t->full;
	for (size_t i = 0; i < cfg->n_records; i++)
		size += record_change(t, i);
	for (size_t i = 0; i < cfg->n_layers; i++)
		size += layer_change(t, i);
	*out = size;
	return 0;
}
