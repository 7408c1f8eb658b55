/* The cache config seen as a graph: chain nodes with their children (a
 * forest rooted at base layers), the records whose results end on each
 * node, which records are final (no other record's input), and an identity
 * per chain that two caches can compare.
 *
 * BuildKit's config records no step names, so everything a person can learn
 * about "which build step is this" comes from this structure: shared chain
 * prefixes are shared build history, final records are the build's outputs. */
#ifndef CACHECTL_CACHE_GRAPH_H
#define CACHECTL_CACHE_GRAPH_H

#include <stdbool.h>
#include <stddef.h>

#include "core/model/cache_config.h"
#include "core/util/digest.h"

struct cache_graph;

/* Builds the graph of cfg, which must have passed cache_config_check (no
 * loops, indexes in range) and must outlive the graph.  Explicit result
 * chains (cache_chain) are not part of it: cache_normalize turns them into
 * chain nodes first.  Linear in the size of the config. */
int cache_graph_new(struct cache_graph **out, const struct cache_config *cfg);
void cache_graph_free(struct cache_graph *g);

const struct cache_config *cache_graph_config(const struct cache_graph *g);

/* Base nodes (parent -1), in config order. */
const int *cache_graph_bases(const struct cache_graph *g, size_t *n);
/* Nodes whose parent is `node`, in config order. */
const int *cache_graph_children(const struct cache_graph *g, int node, size_t *n);
/* Layers in the chain that ends at `node` (1 for a base). */
size_t cache_graph_depth(const struct cache_graph *g, int node);
/* Records with a result ending at `node`, in config order. */
const int *cache_graph_results_at(const struct cache_graph *g, int node, size_t *n);

/* A record no other record names as input: an output of a build. */
bool cache_graph_record_final(const struct cache_graph *g, int record);
/* A final record with at least one result ends at the node. */
bool cache_graph_node_final(const struct cache_graph *g, int node);
/* Records with results; final records with results. */
size_t cache_graph_records_with_results(const struct cache_graph *g);
size_t cache_graph_final_results(const struct cache_graph *g);

/* The chain's identity: SHA-256 over its blob digests, base first, so the
 * same layers stacked the same way have the same id in any cache.  The
 * returned text lives as long as the graph. */
const char *cache_graph_chain_id(const struct cache_graph *g, int node);
/* The node of this graph with that chain id, or -1. */
int cache_graph_find_chain(const struct cache_graph *g, const char *chain_id);

/* Fills chain[0..depth) with the nodes from the base (chain[0]) up to node;
 * chain must hold cache_graph_depth(g, node) entries. */
void cache_graph_chain(const struct cache_graph *g, int node, int *chain);

#endif
