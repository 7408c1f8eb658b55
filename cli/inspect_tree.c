/* inspect (text): the cache as a tree of layer chains, base layers first,
 * each chain node with its size, encoding and creation time, the records
 * whose results end there, final ones with their chain's totals.  Straight
 * runs are printed flat and branches indented, so shared prefixes show as
 * shared stems; wide fans and long runs are folded into summary lines.
 * --raw adds the flat lists of blobs, chain nodes and records. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/inspect.h"
#include "core/model/media_type.h"
#include "core/util/error.h"
#include "core/util/progress.h"
#include "transport/engine/config_budget.h"
#include "core/util/printable.h"

/* Per-node sums over the node and everything above it in the tree. */
struct subtree {
	size_t nodes, results, finals;
	int64_t size;
};

struct tree_printer {
	const struct inspect_view *v;
	const struct tree_options *o;
	struct subtree *sub;
	int *run; /* scratch: the nodes of one straight run */
	char *prefix; /* the indentation of the current depth */
	size_t prefix_len, prefix_cap;
};

static const char *node_encoding(const struct inspect_view *v, int node)
{
	const struct blob_facts *f = inspect_blob(v, v->cache->config->layers[node].blob);
	if (!f)
		return "missing";
	if (descriptor_annotation(f->d, ANN_STARGZ_TOC))
		return "estargz";
	return compression_name(media_type_compression(f->d->media_type));
}

static void print_sizes(int64_t size, int64_t plain)
{
	char a[32], b[32];
	format_bytes(a, sizeof(a), size);
	if (plain >= 0)
		format_bytes(b, sizeof(b), plain);
	printf("%s -> %s", a, plain >= 0 ? b : "?");
}

static void print_results(const struct tree_printer *t, int node)
{
	const struct inspect_view *v = t->v;
	const struct cache_config *cfg = v->cache->config;
	size_t n;
	const int *recs = cache_graph_results_at(v->graph, node, &n);
	char s[24];
	for (size_t i = 0; i < n; i++) {
		bool final = cache_graph_record_final(v->graph, recs[i]);
		printf("%s record [%d] %s", i ? "," : "  <-", recs[i], short_hex(cfg->records[recs[i]].digest, s));
		if (final) {
			int64_t plain, size = chain_size(v, node, &plain);
			printf(" FINAL: %zu layers, ", cache_graph_depth(v->graph, node));
			print_sizes(size, plain);
		}
	}
}

static void print_node(const struct tree_printer *t, int node, const char *branch)
{
	const struct inspect_view *v = t->v;
	const char *blob = v->cache->config->layers[node].blob;
	const struct blob_facts *f = inspect_blob(v, blob);
	const char *created = f ? descriptor_annotation(f->d, ANN_CREATED_AT) : NULL;
	char s[24], when[24];
	printf("%.*s%s%s  %s ", (int)t->prefix_len, t->prefix, branch, short_digest(blob, s), node_encoding(v, node));
	print_sizes(f ? f->d->size : 0, f ? f->uncompressed : -1);
	/* seconds are enough to tell steps apart; the full time is in --raw and json */
	printf("  %s", created ? plain_text(when, created, 19) : "created unknown");
	print_results(t, node);
	printf("\n");
}

static void print_fold(const struct tree_printer *t, const char *lead, size_t nodes, size_t results, size_t finals,
		       int64_t size, const char *what)
{
	char a[32];
	format_bytes(a, sizeof(a), size);
	printf("%.*s%s... %zu %s folded: %s, %zu results (%zu final)\n", (int)t->prefix_len, t->prefix, lead, nodes,
	       what, a, results, finals);
}

static int prefix_push(struct tree_printer *t, const char *s)
{
	size_t len = strlen(s);
	if (t->prefix_len + len + 1 > t->prefix_cap) {
		size_t cap = (t->prefix_cap + len + 1) * 2;
		char *p = realloc(t->prefix, cap);
		CHECK_ALLOC(p);
		t->prefix = p;
		t->prefix_cap = cap;
	}
	memcpy(t->prefix + t->prefix_len, s, len);
	t->prefix_len += len;
	return 0;
}

/* Prints a straight run (every node but the last has one child), folding
 * its middle when it is longer than max_run lines. */
static void print_run(const struct tree_printer *t, const int *run, size_t n, const char *first, const char *rest)
{
	size_t keep = t->o->max_run && n > t->o->max_run ? t->o->max_run / 2 : n;
	for (size_t i = 0; i < n; i++) {
		if (i == keep && n - keep > keep) {
			/* the folded middle: run[keep .. n - keep) */
			const struct subtree *from = &t->sub[run[keep]], *to = &t->sub[run[n - keep]];
			print_fold(t, rest, n - 2 * keep, from->results - to->results, from->finals - to->finals,
				   from->size - to->size, "layers of a straight chain");
			i = n - keep;
		}
		print_node(t, run[i], i ? rest : first);
	}
}

/* One summary line for the sub-trees of the n nodes left out. */
static void print_folded_branches(const struct tree_printer *t, const int *nodes, size_t n, const char *lead,
				  const char *what)
{
	struct subtree sum = {0};
	char text[64];
	for (size_t i = 0; i < n; i++) {
		sum.nodes += t->sub[nodes[i]].nodes;
		sum.results += t->sub[nodes[i]].results;
		sum.finals += t->sub[nodes[i]].finals;
		sum.size += t->sub[nodes[i]].size;
	}
	snprintf(text, sizeof(text), "%s (%zu layers)", what, sum.nodes);
	print_fold(t, lead, n, sum.results, sum.finals, sum.size, text);
}

static int print_branch(struct tree_printer *t, int node, bool last, bool top)
{
	const struct inspect_view *v = t->v;
	size_t n = 0, nc;
	const int *kids;
	for (int at = node;; at = kids[0]) {
		t->run[n++] = at;
		kids = cache_graph_children(v->graph, at, &nc);
		if (nc != 1)
			break;
	}
	const char *first = top ? "" : last ? "`-- " : "|-- ";
	const char *rest = top ? "" : last ? "    " : "|   ";
	print_run(t, t->run, n, first, rest);
	size_t saved = t->prefix_len;
	int rc = prefix_push(t, rest);
	size_t shown = t->o->max_branches && nc > t->o->max_branches ? t->o->max_branches : nc;
	for (size_t i = 0; i < shown && !rc; i++)
		rc = print_branch(t, kids[i], i + 1 == nc, false);
	if (!rc && shown < nc)
		print_folded_branches(t, kids + shown, nc - shown, "`-- ", "more branches");
	t->prefix_len = saved;
	return rc;
}

/* Sums every subtree, deepest nodes first so each is complete before it is
 * added to its parent. */
static int sum_subtrees(struct tree_printer *t)
{
	const struct inspect_view *v = t->v;
	const struct cache_config *cfg = v->cache->config;
	size_t n = cfg->n_layers;
	/* a counting sort by depth, deepest first */
	size_t max_depth = 0;
	for (size_t i = 0; i < n; i++)
		if (cache_graph_depth(v->graph, (int)i) > max_depth)
			max_depth = cache_graph_depth(v->graph, (int)i);
	int *order = malloc((n + 1) * sizeof(*order));
	size_t *at = calloc(max_depth + 2, sizeof(*at));
	if (!order || !at) {
		free(order);
		free(at);
		return error_oom();
	}
	for (size_t i = 0; i < n; i++)
		at[max_depth - cache_graph_depth(v->graph, (int)i) + 1]++;
	for (size_t d = 1; d <= max_depth + 1; d++)
		at[d] += at[d - 1];
	for (size_t i = 0; i < n; i++)
		order[at[max_depth - cache_graph_depth(v->graph, (int)i)]++] = (int)i;
	free(at);
	for (size_t k = 0; k < n; k++) {
		int node = order[k];
		struct subtree *s = &t->sub[node];
		size_t nr;
		const int *recs = cache_graph_results_at(v->graph, node, &nr);
		const struct blob_facts *f = inspect_blob(v, cfg->layers[node].blob);
		s->nodes++;
		s->results += nr;
		for (size_t i = 0; i < nr; i++)
			s->finals += cache_graph_record_final(v->graph, recs[i]);
		s->size += f ? f->d->size : 0;
		int parent = cfg->layers[node].parent;
		if (parent >= 0) {
			t->sub[parent].nodes += s->nodes;
			t->sub[parent].results += s->results;
			t->sub[parent].finals += s->finals;
			t->sub[parent].size += s->size;
		}
	}
	free(order);
	return 0;
}

static void print_header(const struct inspect_view *v)
{
	const struct cache *c = v->cache;
	const struct cache_config *cfg = c->config;
	char a[32], b[32], shown[1024], shown2[512];
	printf("cache   %s\n", printable(shown, sizeof(shown), v->source, 0));
	if (*c->source_root.digest) {
		format_bytes(a, sizeof(a), c->source_root.size);
		printf("root    %s  %s  %s\n", printable(shown, sizeof(shown), c->source_root.digest, 0),
		       printable(shown2, sizeof(shown2), c->root_media_type ? c->root_media_type : "", 0), a);
	}
	if (*c->source_config.digest) {
		format_bytes(a, sizeof(a), c->source_config.size);
		printf("config  %s  %s\n", printable(shown, sizeof(shown), c->source_config.digest, 0), a);
		if (v->config_limited && c->source_config.size > BUILDKIT_CONFIG_MAX)
			printf("        too large for BuildKit: over the %lld bytes it imports from a local or registry "
			       "cache (re-export with max-config-size=1MiB)\n",
			       (long long)BUILDKIT_CONFIG_MAX);
	}
	format_bytes(a, sizeof(a), v->total_size);
	format_bytes(b, sizeof(b), v->total_uncompressed);
	printf("\nlayers: %zu blobs, %s compressed, %s uncompressed\n", v->n_facts, a,
	       v->total_uncompressed >= 0 ? b : "unknown");
	printf("records: %zu (%zu with results), final results: %zu\n", cfg->n_records,
	       cache_graph_records_with_results(v->graph), cache_graph_final_results(v->graph));
	size_t nb;
	cache_graph_bases(v->graph, &nb);
	printf("chains: %zu nodes, base layers: %zu\n", cfg->n_layers, nb);
}

/* What a reader should not miss: layers BuildKit cannot load, unreadable
 * blobs, eStargz diffIDs. */
static void print_notes(const struct inspect_view *v)
{
	bool any = false;
	for (size_t i = 0; i < v->n_facts; i++) {
		const struct blob_facts *f = &v->facts[i];
		const char *toc = descriptor_annotation(f->d, ANN_STARGZ_TOC);
		char s[24], shown[2048];
		if (!any && (!descriptor_annotation(f->d, ANN_UNCOMPRESSED) || *f->problem || toc)) {
			printf("\nnotes:\n");
			any = true;
		}
		short_digest(f->d->digest, s);
		if (!descriptor_annotation(f->d, ANN_UNCOMPRESSED))
			printf("  %s has no diffID annotation: BuildKit will not load this layer\n", s);
		if (*f->problem)
			printf("  %s unreadable: %s\n", s, printable(shown, sizeof(shown), f->problem, 0));
		if (toc && f->toc_entries >= 0)
			printf("  %s estargz TOC %s, %lld entries (in another encoding the TOC and landmark "
			       "entries are left out: other diffID)\n",
			       s, printable(shown, sizeof(shown), f->toc_digest, 0), (long long)f->toc_entries);
		else if (toc)
			printf("  %s estargz TOC %s\n", s, printable(shown, sizeof(shown), toc, 0));
	}
	if (v->cache->dropped_results)
		printf("%s  %zu results named blobs the cache does not describe and were left out\n",
		       any ? "" : "\nnotes:\n", v->cache->dropped_results);
}

void inspect_print_tree(const struct inspect_view *v, const struct tree_options *o)
{
	struct tree_printer t = {.v = v, .o = o};
	size_t n = v->cache->config->n_layers, nb;
	t.sub = calloc(n + 1, sizeof(*t.sub));
	t.run = calloc(n + 1, sizeof(*t.run));
	print_header(v);
	if (!t.sub || !t.run || sum_subtrees(&t)) {
		printf("(no memory for the tree: see --raw)\n");
	} else {
		const int *bases = cache_graph_bases(v->graph, &nb);
		printf("\nchains, base layer first (layer  encoding  compressed -> uncompressed  created  "
		       "<- records whose result ends there):\n");
		size_t shown = o->max_branches && nb > o->max_branches ? o->max_branches : nb;
		for (size_t i = 0; i < shown; i++) {
			printf("\n");
			if (print_branch(&t, bases[i], true, true))
				break;
		}
		if (shown < nb)
			print_folded_branches(&t, bases + shown, nb - shown, "", "more base layers");
	}
	print_notes(v);
	if (o->raw)
		inspect_print_raw(v);
	free(t.sub);
	free(t.run);
	free(t.prefix);
}
