#include "core/model/cache_trim_size.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/buffer.h"
#include "core/util/error.h"

struct trim_size {
	const struct cache_config *cfg;
	int64_t full;           /* bytes of cfg as it is */
	int64_t empty;          /* bytes of a config with nothing left */
	int64_t record_comma;   /* bytes between two records */
	int64_t *record_len;    /* a record's bytes, indexes as they are */
	int64_t *results_len;   /* what its results add to them */
	int64_t *layer_len;     /* a layer's bytes and one separator, its parent left out */
	int64_t *parent_member; /* what a parent adds to them besides its digits */
	unsigned char *dropped, *keep, *used;
	int *new_record, *new_layer;
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
		t->record_len[i] = one - none;
		t->results_len[i] = cfg->records[i].n_results ? one - without : 0;
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
		t->layer_len[i] = two - one;
		t->parent_member[i] = with_parent - one - digits(1);
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
	*out = NULL;
	if (has_chains(cfg))
		return 0;
	struct trim_size *t = calloc(1, sizeof(*t));
	CHECK_ALLOC(t);
	size_t nr = cfg->n_records + 1, nl = cfg->n_layers + 1;
	t->cfg = cfg;
	t->record_len = malloc(nr * sizeof(int64_t));
	t->results_len = malloc(nr * sizeof(int64_t));
	t->layer_len = malloc(nl * sizeof(int64_t));
	t->parent_member = malloc(nl * sizeof(int64_t));
	t->dropped = malloc(nr);
	t->keep = malloc(nr);
	t->used = malloc(nl);
	t->new_record = malloc(nr * sizeof(int));
	t->new_layer = malloc(nl * sizeof(int));
	t->stack = malloc(nr * sizeof(size_t));
	struct buffer b = BUFFER_INIT;
	struct cache_config empty = {0};
	int rc = t->record_len && t->results_len && t->layer_len && t->parent_member && t->dropped && t->keep &&
				 t->used && t->new_record && t->new_layer && t->stack
			 ? 0
			 : error_oom();
	if (!rc && !(rc = cache_config_serialize(&empty, &b)))
		t->empty = (int64_t)b.len;
	if (!rc && !(rc = cache_config_serialize(cfg, &b)))
		t->full = (int64_t)b.len;
	if (!rc && !(rc = measure_records(t, &b)))
		rc = measure_layers(t, &b);
	buffer_free(&b);
	if (rc) {
		trim_size_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

void trim_size_free(struct trim_size *t)
{
	if (!t)
		return;
	free(t->record_len);
	free(t->results_len);
	free(t->layer_len);
	free(t->parent_member);
	free(t->dropped);
	free(t->keep);
	free(t->used);
	free(t->new_record);
	free(t->new_layer);
	free(t->stack);
	free(t);
}

/* keep: records with results left and every record they reach; used: the
 * layers those results stand on.  New indexes count what is kept before. */
static void mark_kept(struct trim_size *t, size_t *n_kept)
{
	const struct cache_config *cfg = t->cfg;
	size_t top = 0;
	memset(t->keep, 0, cfg->n_records);
	memset(t->used, 0, cfg->n_layers);
	for (size_t i = 0; i < cfg->n_records; i++)
		if (cfg->records[i].n_results && !t->dropped[i]) {
			t->keep[i] = 1;
			t->stack[top++] = i;
			for (size_t k = 0; k < cfg->records[i].n_results; k++)
				for (int l = cfg->records[i].results[k].layer; l != -1 && !t->used[l]; l = cfg->layers[l].parent)
					t->used[l] = 1;
		}
	while (top) {
		const struct cache_record *r = &cfg->records[t->stack[--top]];
		for (size_t s = 0; s < r->n_inputs; s++)
			for (size_t k = 0; k < r->inputs[s].n_alts; k++) {
				size_t link = (size_t)r->inputs[s].alts[k].link;
				if (!t->keep[link]) {
					t->keep[link] = 1;
					t->stack[top++] = link;
				}
			}
	}
	int next = 0;
	for (size_t i = 0; i < cfg->n_records; i++)
		t->new_record[i] = t->keep[i] ? next++ : -1;
	*n_kept = (size_t)next;
	next = 0;
	for (size_t i = 0; i < cfg->n_layers; i++)
		t->new_layer[i] = t->used[i] ? next++ : -1;
}

/* What record i's bytes change by: gone, its results gone, or only the
 * digits of its indexes. */
static int64_t record_change(const struct trim_size *t, size_t i)
{
	const struct cache_record *r = &t->cfg->records[i];
	if (!t->keep[i])
		return -(t->record_len[i] + t->record_comma);
	int64_t change = 0;
	if (t->dropped[i])
		change -= t->results_len[i];
	else
		for (size_t k = 0; k < r->n_results; k++)
			change += digits(t->new_layer[r->results[k].layer]) - digits(r->results[k].layer);
	for (size_t s = 0; s < r->n_inputs; s++)
		for (size_t k = 0; k < r->inputs[s].n_alts; k++)
			change += digits(t->new_record[r->inputs[s].alts[k].link]) - digits(r->inputs[s].alts[k].link);
	return change;
}

/* A parent of 0 is left out of the document. */
static int64_t parent_bytes(const struct trim_size *t, size_t layer, int parent)
{
	return parent == 0 ? 0 : t->parent_member[layer] + digits(parent);
}

static int64_t layer_change(const struct trim_size *t, size_t i)
{
	int parent = t->cfg->layers[i].parent;
	if (!t->used[i])
		return -(t->layer_len[i] + parent_bytes(t, i, parent));
	return parent_bytes(t, i, parent == -1 ? -1 : t->new_layer[parent]) - parent_bytes(t, i, parent);
}

int trim_size_predict(int64_t *out, struct trim_size *t, const size_t *dropped, size_t n_dropped)
{
	const struct cache_config *cfg = t->cfg;
	size_t n_kept;
	memset(t->dropped, 0, cfg->n_records);
	for (size_t i = 0; i < n_dropped; i++) {
		if (dropped[i] >= cfg->n_records)
			return error_set(ERR_FAILURE, "trim size: record %zu of %zu", dropped[i], cfg->n_records);
		t->dropped[dropped[i]] = 1;
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
