#include "core/model/cache_graph.h"

#include <stdlib.h>
#include <string.h>

#include "core/util/error.h"
#include "core/util/strmap.h"

/* A list of ints per node packed in one array: items of node i are
 * items[start[i] .. start[i + 1]). */
struct packed_lists {
	size_t *start;
	int *items;
};

struct cache_graph {
	const struct cache_config *cfg;
	struct packed_lists children; /* one list per node, then the bases as list n_layers */
	struct packed_lists results;  /* records ending on each node */
	size_t *depth;
	bool *record_final;
	bool *node_final;
	size_t with_results, final_results;
	char (*chain_id)[DIGEST_BUF];
	struct strmap by_chain_id;
};

static void packed_free(struct packed_lists *p)
{
	free(p->start);
	free(p->items);
}

/* Lays out lists whose sizes are counts[0..n) (turned into starts). */
static int packed_alloc(struct packed_lists *p, const size_t *counts, size_t n)
{
	size_t total = 0;
	p->start = calloc(n + 1, sizeof(*p->start));
	CHECK_ALLOC(p->start);
	for (size_t i = 0; i < n; i++) {
		p->start[i] = total;
		total += counts[i];
	}
	p->start[n] = total;
	p->items = calloc(total + 1, sizeof(*p->items));
	CHECK_ALLOC(p->items);
	return 0;
}

static int build_children(struct cache_graph *g, size_t *fill)
{
	const struct cache_config *cfg = g->cfg;
	size_t n = cfg->n_layers;
	memset(fill, 0, (n + 1) * sizeof(*fill));
	for (size_t i = 0; i < n; i++)
		fill[cfg->layers[i].parent < 0 ? n : (size_t)cfg->layers[i].parent]++;
	int rc = packed_alloc(&g->children, fill, n + 1);
	if (rc)
		return rc;
	memset(fill, 0, (n + 1) * sizeof(*fill));
	for (size_t i = 0; i < n; i++) {
		size_t owner = cfg->layers[i].parent < 0 ? n : (size_t)cfg->layers[i].parent;
		g->children.items[g->children.start[owner] + fill[owner]++] = (int)i;
	}
	return 0;
}

static int build_results(struct cache_graph *g, size_t *fill)
{
	const struct cache_config *cfg = g->cfg;
	size_t n = cfg->n_layers;
	memset(fill, 0, (n + 1) * sizeof(*fill));
	for (size_t r = 0; r < cfg->n_records; r++)
		for (size_t k = 0; k < cfg->records[r].n_results; k++)
			fill[cfg->records[r].results[k].layer]++;
	int rc = packed_alloc(&g->results, fill, n);
	if (rc)
		return rc;
	memset(fill, 0, (n + 1) * sizeof(*fill));
	for (size_t r = 0; r < cfg->n_records; r++)
		for (size_t k = 0; k < cfg->records[r].n_results; k++) {
			size_t node = (size_t)cfg->records[r].results[k].layer;
			g->results.items[g->results.start[node] + fill[node]++] = (int)r;
		}
	return 0;
}

static void mark_finals(struct cache_graph *g)
{
	const struct cache_config *cfg = g->cfg;
	for (size_t r = 0; r < cfg->n_records; r++)
		g->record_final[r] = true;
	for (size_t r = 0; r < cfg->n_records; r++)
		for (size_t s = 0; s < cfg->records[r].n_inputs; s++)
			for (size_t k = 0; k < cfg->records[r].inputs[s].n_alts; k++)
				g->record_final[cfg->records[r].inputs[s].alts[k].link] = false;
	for (size_t r = 0; r < cfg->n_records; r++) {
		const struct cache_record *rec = &cfg->records[r];
		if (!rec->n_results)
			continue;
		g->with_results++;
		if (!g->record_final[r])
			continue;
		g->final_results++;
		for (size_t k = 0; k < rec->n_results; k++)
			g->node_final[rec->results[k].layer] = true;
	}
}

/* Depths and chain ids, parents before children: a walk down from the
 * bases visits every node once (the config has no loops). */
static int build_chains(struct cache_graph *g, int *stack)
{
	const struct cache_config *cfg = g->cfg;
	size_t n = cfg->n_layers, top = 0;
	size_t nb;
	const int *bases = cache_graph_bases(g, &nb);
	for (size_t i = 0; i < nb; i++)
		stack[top++] = bases[i];
	while (top) {
		int node = stack[--top];
		int parent = cfg->layers[node].parent;
		struct sha256 *h;
		int rc = sha256_new(&h);
		if (rc)
			return rc;
		if (parent >= 0)
			rc = sha256_update(h, g->chain_id[parent], strlen(g->chain_id[parent]));
		if (!rc)
			rc = sha256_update(h, "\n", 1);
		if (!rc)
			rc = sha256_update(h, cfg->layers[node].blob, strlen(cfg->layers[node].blob));
		if (!rc)
			rc = sha256_final(h, g->chain_id[node]);
		sha256_free(h);
		if (rc || (rc = strmap_put(&g->by_chain_id, g->chain_id[node], (size_t)node)))
			return rc;
		g->depth[node] = parent >= 0 ? g->depth[parent] + 1 : 1;
		size_t nc;
		const int *kids = cache_graph_children(g, node, &nc);
		for (size_t i = 0; i < nc && top < n; i++)
			stack[top++] = kids[i];
	}
	return 0;
}

int cache_graph_new(struct cache_graph **out, const struct cache_config *cfg)
{
	struct cache_graph *g = calloc(1, sizeof(*g));
	CHECK_ALLOC(g);
	g->cfg = cfg;
	size_t n = cfg->n_layers;
	size_t *fill = calloc(n + 2, sizeof(*fill));
	int *stack = calloc(n + 1, sizeof(*stack));
	g->depth = calloc(n + 1, sizeof(*g->depth));
	g->node_final = calloc(n + 1, sizeof(*g->node_final));
	g->record_final = calloc(cfg->n_records + 1, sizeof(*g->record_final));
	g->chain_id = calloc(n + 1, sizeof(*g->chain_id));
	int rc = 0;
	if (!fill || !stack || !g->depth || !g->node_final || !g->record_final || !g->chain_id)
		rc = error_oom();
	if (!rc)
		rc = build_children(g, fill);
	if (!rc)
		rc = build_results(g, fill);
	if (!rc) {
		mark_finals(g);
		rc = build_chains(g, stack);
	}
	free(fill);
	free(stack);
	if (rc) {
		cache_graph_free(g);
		return rc;
	}
	*out = g;
	return 0;
}

void cache_graph_free(struct cache_graph *g)
{
	if (!g)
		return;
	packed_free(&g->children);
	packed_free(&g->results);
	free(g->depth);
	free(g->record_final);
	free(g->node_final);
	free(g->chain_id);
	strmap_free(&g->by_chain_id);
	free(g);
}

const struct cache_config *cache_graph_config(const struct cache_graph *g)
{
	return g->cfg;
}

static const int *list_of(const struct packed_lists *p, size_t i, size_t *n)
{
	*n = p->start[i + 1] - p->start[i];
	return p->items + p->start[i];
}

const int *cache_graph_bases(const struct cache_graph *g, size_t *n)
{
	return list_of(&g->children, g->cfg->n_layers, n);
}

const int *cache_graph_children(const struct cache_graph *g, int node, size_t *n)
{
	return list_of(&g->children, (size_t)node, n);
}

size_t cache_graph_depth(const struct cache_graph *g, int node)
{
	return g->depth[node];
}

const int *cache_graph_results_at(const struct cache_graph *g, int node, size_t *n)
{
	return list_of(&g->results, (size_t)node, n);
}

bool cache_graph_record_final(const struct cache_graph *g, int record)
{
	return g->record_final[record];
}

bool cache_graph_node_final(const struct cache_graph *g, int node)
{
	return g->node_final[node];
}

size_t cache_graph_records_with_results(const struct cache_graph *g)
{
	return g->with_results;
}

size_t cache_graph_final_results(const struct cache_graph *g)
{
	return g->final_results;
}

const char *cache_graph_chain_id(const struct cache_graph *g, int node)
{
	return g->chain_id[node];
}

int cache_graph_find_chain(const struct cache_graph *g, const char *chain_id)
{
	size_t v;
	return strmap_get(&g->by_chain_id, chain_id, &v) ? (int)v : -1;
}

void cache_graph_chain(const struct cache_graph *g, int node, int *chain)
{
	for (size_t i = g->depth[node]; i > 0 && node >= 0; i--, node = g->cfg->layers[node].parent)
		chain[i - 1] = node;
}
