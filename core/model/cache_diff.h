/* Two caches compared by structure: which records (cache keys) and which
 * chains each has that the other lacks, and for every final result of B
 * where its chain leaves A's chains -- the first layer a build that had A
 * would have had to make anew.  Chains are matched by cache_graph's chain
 * ids, so the same layers stacked the same way match whatever their indexes. */
#ifndef CACHECTL_CACHE_DIFF_H
#define CACHECTL_CACHE_DIFF_H

#include <stddef.h>

#include "core/model/cache.h"
#include "core/model/cache_graph.h"

struct chain_divergence {
	int b_record;  /* a final record of B */
	int b_node;    /* the node its result ends on, in B */
	size_t depth;  /* layers in that chain */
	size_t shared; /* how many of them, from the base, A has as a chain too */
	int b_layer;   /* B's node where the chain leaves A (its layer number shared + 1);
			* -1 when A has the whole chain */
	int a_layer;   /* A's node standing where b_layer stands (same chain below it, the
			* nearest in compressed size when A has several); -1 when A's chains
			* stop there */
};

struct cache_diff {
	int *only_a, *only_b; /* record indexes, in config order */
	size_t n_only_a, n_only_b, n_shared_records;
	size_t chains_only_a, chains_only_b, chains_shared;
	struct chain_divergence *results;
	size_t n_results;
};

/* Compares a and b (their graphs built on their configs). */
int cache_diff_new(struct cache_diff **out, const struct cache *a, const struct cache_graph *ga,
		   const struct cache *b, const struct cache_graph *gb);
void cache_diff_free(struct cache_diff *d);

#endif
