#include "core/model/cache_diff.h"

#include <stdlib.h>
#include <string.h>

#include "core/util/error.h"
#include "core/util/strmap.h"

/* Records of `of` whose digest `other` lacks; counts the shared ones. */
static int records_only(int **out, size_t *n, size_t *shared, const struct cache_config *of,
			const struct cache_config *other)
{
	struct strmap have = STRMAP_INIT;
	int rc = 0;
	*out = calloc(of->n_records + 1, sizeof(**out));
	CHECK_ALLOC(*out);
	*n = *shared = 0;
	for (size_t i = 0; i < other->n_records && !rc; i++)
		rc = strmap_put(&have, other->records[i].digest, i);
	for (size_t i = 0; i < of->n_records && !rc; i++) {
		size_t at;
		if (strmap_get(&have, of->records[i].digest, &at))
			(*shared)++;
		else
			(*out)[(*n)++] = (int)i;
	}
	strmap_free(&have);
	return rc;
}

static size_t chains_missing(const struct cache_graph *of, const struct cache_graph *other)
{
	size_t n = 0, count = cache_graph_config(of)->n_layers;
	for (size_t i = 0; i < count; i++)
		n += cache_graph_find_chain(other, cache_graph_chain_id(of, (int)i)) < 0;
	return n;
}

static int64_t blob_size(const struct cache *c, const char *digest)
{
	const struct descriptor *d = cache_blob(c, digest);
	return d ? d->size : 0;
}

/* A's node standing where B's b_layer stands: a child of the shared node
 * (a base when nothing is shared), the nearest in compressed size. */
static int counterpart(const struct cache *a, const struct cache_graph *ga, int a_parent, const struct cache *b,
		       const char *b_blob)
{
	size_t n;
	const int *cands = a_parent < 0 ? cache_graph_bases(ga, &n) : cache_graph_children(ga, a_parent, &n);
	int64_t want = blob_size(b, b_blob), best_gap = -1;
	int best = -1;
	for (size_t i = 0; i < n; i++) {
		int64_t gap = llabs(blob_size(a, a->config->layers[cands[i]].blob) - want);
		if (best < 0 || gap < best_gap) {
			best = cands[i];
			best_gap = gap;
		}
	}
	return best;
}

static void diverge(struct chain_divergence *d, const struct cache *a, const struct cache_graph *ga,
		    const struct cache *b, const struct cache_graph *gb, int *chain)
{
	int a_below = -1;
	d->depth = cache_graph_depth(gb, d->b_node);
	cache_graph_chain(gb, d->b_node, chain);
	d->shared = 0;
	d->b_layer = d->a_layer = -1;
	for (size_t i = 0; i < d->depth; i++) {
		int in_a = cache_graph_find_chain(ga, cache_graph_chain_id(gb, chain[i]));
		if (in_a < 0) {
			d->b_layer = chain[i];
			d->a_layer = counterpart(a, ga, a_below, b, b->config->layers[chain[i]].blob);
			return;
		}
		a_below = in_a;
		d->shared++;
	}
}

static int divergences(struct cache_diff *d, const struct cache *a, const struct cache_graph *ga,
		       const struct cache *b, const struct cache_graph *gb)
{
	const struct cache_config *cfg = b->config;
	size_t n = 0;
	for (size_t r = 0; r < cfg->n_records; r++)
		if (cache_graph_record_final(gb, (int)r))
			n += cfg->records[r].n_results;
	d->results = calloc(n + 1, sizeof(*d->results));
	int *chain = calloc(cfg->n_layers + 1, sizeof(*chain));
	if (!d->results || !chain) {
		free(chain);
		return error_oom();
	}
	for (size_t r = 0; r < cfg->n_records; r++) {
		if (!cache_graph_record_final(gb, (int)r))
			continue;
		for (size_t k = 0; k < cfg->records[r].n_results; k++) {
			struct chain_divergence *v = &d->results[d->n_results++];
			v->b_record = (int)r;
			v->b_node = cfg->records[r].results[k].layer;
			diverge(v, a, ga, b, gb, chain);
		}
	}
	free(chain);
	return 0;
}

int cache_diff_new(struct cache_diff **out, const struct cache *a, const struct cache_graph *ga,
		   const struct cache *b, const struct cache_graph *gb)
{
	struct cache_diff *d = calloc(1, sizeof(*d));
	CHECK_ALLOC(d);
	int rc = records_only(&d->only_a, &d->n_only_a, &d->n_shared_records, a->config, b->config);
	if (!rc)
		rc = records_only(&d->only_b, &d->n_only_b, &d->n_shared_records, b->config, a->config);
	if (!rc) {
		d->chains_only_a = chains_missing(ga, gb);
		d->chains_only_b = chains_missing(gb, ga);
		d->chains_shared = a->config->n_layers - d->chains_only_a;
		rc = divergences(d, a, ga, b, gb);
	}
	if (rc) {
		cache_diff_free(d);
		return rc;
	}
	*out = d;
	return 0;
}

void cache_diff_free(struct cache_diff *d)
{
	if (!d)
		return;
	free(d->only_a);
	free(d->only_b);
	free(d->results);
	free(d);
}
