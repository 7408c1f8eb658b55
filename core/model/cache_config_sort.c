/* BuildKit's canonical order of a cache config (cache/remotecache/v1
 * sortConfig), so that the same cache always produces the same bytes.
 *
 * Layers sort by blob digest, ties by their parent index before sorting;
 * records by digest, then input count, then per slot the alternative count,
 * selectors and linked records' digests.  A config that is already in order
 * is left exactly as it is: re-sorting BuildKit's own output by the spec's
 * tie-breaks could reorder equal keys that BuildKit had ordered by indexes
 * we no longer know. */
#include <stdlib.h>
#include <string.h>

#include "core/model/cache_config.h"
#include "core/util/error.h"

static int str_cmp(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

static int layer_cmp(const void *pa, const void *pb, void *arg)
{
	const struct cache_config *cfg = arg;
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	int c = str_cmp(cfg->layers[a].blob, cfg->layers[b].blob);
	if (c)
		return c;
	if (cfg->layers[a].parent != cfg->layers[b].parent)
		return cfg->layers[a].parent < cfg->layers[b].parent ? -1 : 1;
	return a < b ? -1 : a > b; /* stable */
}

static const char *linked_digest(const struct cache_config *cfg, int link)
{
	if (link < 0 || (size_t)link >= cfg->n_records)
		return "";
	return cfg->records[link].digest;
}

static int record_order(const struct cache_config *cfg, size_t a, size_t b)
{
	const struct cache_record *x = &cfg->records[a], *y = &cfg->records[b];
	int c = str_cmp(x->digest, y->digest);
	if (c)
		return c;
	if (x->n_inputs != y->n_inputs)
		return x->n_inputs < y->n_inputs ? -1 : 1;
	for (size_t s = 0; s < x->n_inputs; s++) {
		const struct cache_slot *sx = &x->inputs[s], *sy = &y->inputs[s];
		if (sx->n_alts != sy->n_alts)
			return sx->n_alts < sy->n_alts ? -1 : 1;
		for (size_t k = 0; k < sx->n_alts; k++) {
			c = str_cmp(sx->alts[k].selector, sy->alts[k].selector);
			if (c)
				return c;
			c = str_cmp(linked_digest(cfg, sx->alts[k].link), linked_digest(cfg, sy->alts[k].link));
			if (c)
				return c;
		}
	}
	return 0;
}

static int record_cmp(const void *pa, const void *pb, void *arg)
{
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	int c = record_order(arg, a, b);
	return c ? c : (a < b ? -1 : a > b);
}

static int input_cmp(const void *pa, const void *pb)
{
	const struct cache_input *a = pa, *b = pb;
	return a->link < b->link ? -1 : a->link > b->link;
}

/* Fills map[old] = new from a sorted index array. */
static int *inverse(const size_t *order, size_t n)
{
	int *map = malloc((n ? n : 1) * sizeof(int));
	if (map)
		for (size_t i = 0; i < n; i++)
			map[order[i]] = (int)i;
	return map;
}

static size_t *identity(size_t n)
{
	size_t *order = malloc((n ? n : 1) * sizeof(size_t));
	if (order)
		for (size_t i = 0; i < n; i++)
			order[i] = i;
	return order;
}

/* Rearranges arr (n elements of size) by order: new[i] = old[order[i]]. */
static int permute(void *arr, const size_t *order, size_t n, size_t size)
{
	if (n == 0)
		return 0;
	char *tmp = malloc((n ? n : 1) * size);
	CHECK_ALLOC(tmp);
	for (size_t i = 0; i < n; i++)
		memcpy(tmp + i * size, (char *)arr + order[i] * size, size);
	memcpy(arr, tmp, n * size);
	free(tmp);
	return 0;
}

int cache_config_sort(struct cache_config *cfg)
{
	int rc = ERR_FAILURE;
	size_t *lorder = identity(cfg->n_layers), *rorder = identity(cfg->n_records);
	int *lmap = NULL, *rmap = NULL;
	if (!lorder || !rorder)
		goto oom;

	bool layers_sorted = true;
	for (size_t i = 1; i < cfg->n_layers && layers_sorted; i++)
		layers_sorted = str_cmp(cfg->layers[i - 1].blob, cfg->layers[i].blob) <= 0;
	if (!layers_sorted)
		qsort_r(lorder, cfg->n_layers, sizeof(size_t), layer_cmp, cfg);

	bool records_sorted = true;
	for (size_t i = 1; i < cfg->n_records && records_sorted; i++)
		records_sorted = record_order(cfg, i - 1, i) <= 0;
	if (!records_sorted)
		qsort_r(rorder, cfg->n_records, sizeof(size_t), record_cmp, cfg);

	if (!(lmap = inverse(lorder, cfg->n_layers)) || !(rmap = inverse(rorder, cfg->n_records)))
		goto oom;
	for (size_t i = 0; i < cfg->n_layers; i++) {
		int p = cfg->layers[i].parent;
		if (p >= 0 && (size_t)p < cfg->n_layers)
			cfg->layers[i].parent = lmap[p];
	}
	for (size_t i = 0; i < cfg->n_records; i++) {
		struct cache_record *r = &cfg->records[i];
		for (size_t k = 0; k < r->n_results; k++) {
			int l = r->results[k].layer;
			if (l >= 0 && (size_t)l < cfg->n_layers)
				r->results[k].layer = lmap[l];
		}
		/* BuildKit leaves chains alone because its exporters never write
		 * them; ours may carry them, and they must stay correct. */
		for (size_t k = 0; k < r->n_chains; k++) {
			for (size_t n = 0; n < r->chains[k].n_layers; n++) {
				int l = r->chains[k].layers[n];
				if (l >= 0 && (size_t)l < cfg->n_layers)
					r->chains[k].layers[n] = lmap[l];
			}
		}
		for (size_t s = 0; s < r->n_inputs; s++) {
			for (size_t k = 0; k < r->inputs[s].n_alts; k++) {
				int l = r->inputs[s].alts[k].link;
				if (l >= 0 && (size_t)l < cfg->n_records)
					r->inputs[s].alts[k].link = rmap[l];
			}
			/* Insertion sort: slots are short and this keeps it stable. */
			struct cache_input *alts = r->inputs[s].alts;
			for (size_t k = 1; k < r->inputs[s].n_alts; k++) {
				struct cache_input cur = alts[k];
				size_t m = k;
				for (; m > 0 && input_cmp(&alts[m - 1], &cur) > 0; m--)
					alts[m] = alts[m - 1];
				alts[m] = cur;
			}
		}
	}
	if ((rc = permute(cfg->layers, lorder, cfg->n_layers, sizeof(*cfg->layers))) ||
	    (rc = permute(cfg->records, rorder, cfg->n_records, sizeof(*cfg->records))))
		goto out;
	rc = 0;
	goto out;
oom:
	rc = error_oom();
out:
	free(lorder);
	free(rorder);
	free(lmap);
	free(rmap);
	return rc;
}
