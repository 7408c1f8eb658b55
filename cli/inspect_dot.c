/* inspect --format dot: the record/chain graph for Graphviz.  Layer chain
 * nodes are boxes (base layers at the top, each layer under its parent);
 * records are ellipses, final ones doubled, joined to the records they take
 * as inputs (dashed) and to the chain node their result ends on (blue). */
#include <stdio.h>

#include "cli/inspect.h"
#include "core/model/media_type.h"
#include "core/util/progress.h"

static void dot_layer(const struct inspect_view *v, int node)
{
	const char *blob = v->cache->config->layers[node].blob;
	const struct blob_facts *f = inspect_blob(v, blob);
	const char *created = f ? descriptor_annotation(f->d, ANN_CREATED_AT) : NULL;
	char s[24], size[32], when[24];
	format_bytes(size, sizeof(size), f ? f->d->size : 0);
	/* every text from the cache through plain_text: no quote or backslash reaches dot */
	printf("  l%d [label=\"%s\\n%s %s\\n%s\"%s];\n", node, short_digest(blob, s),
	       f ? (descriptor_annotation(f->d, ANN_STARGZ_TOC) ? "estargz"
							       : compression_name(media_type_compression(f->d->media_type)))
		 : "missing",
	       size, plain_text(when, created, 19), cache_graph_node_final(v->graph, node) ? ", style=filled, fillcolor=\"#d7ecd9\"" : "");
}

static void dot_record(const struct inspect_view *v, int r)
{
	const struct cache_record *rec = &v->cache->config->records[r];
	char s[24];
	bool final = cache_graph_record_final(v->graph, r) && rec->n_results;
	printf("  r%d [shape=ellipse, label=\"[%d] %s\"%s];\n", r, r, short_hex(rec->digest, s),
	       final ? ", peripheries=2, style=bold" : rec->n_results ? "" : ", color=gray, fontcolor=gray");
	for (size_t sl = 0; sl < rec->n_inputs; sl++)
		for (size_t k = 0; k < rec->inputs[sl].n_alts; k++)
			printf("  r%d -> r%d [style=dashed, color=gray];\n", rec->inputs[sl].alts[k].link, r);
	for (size_t k = 0; k < rec->n_results; k++)
		printf("  r%d -> l%d [color=blue, constraint=false];\n", r, rec->results[k].layer);
}

void inspect_print_dot(const struct inspect_view *v)
{
	const struct cache_config *cfg = v->cache->config;
	printf("digraph cache {\n");
	printf("  graph [rankdir=TB, fontname=\"monospace\", label=\"%zu chain nodes, %zu records (%zu with results, "
	       "%zu final)\", labelloc=t];\n",
	       cfg->n_layers, cfg->n_records, cache_graph_records_with_results(v->graph),
	       cache_graph_final_results(v->graph));
	printf("  node [shape=box, fontname=\"monospace\", fontsize=10];\n");
	for (size_t i = 0; i < cfg->n_layers; i++) {
		dot_layer(v, (int)i);
		if (cfg->layers[i].parent >= 0)
			printf("  l%d -> l%zu;\n", cfg->layers[i].parent, i);
	}
	for (size_t r = 0; r < cfg->n_records; r++)
		dot_record(v, (int)r);
	printf("}\n");
}
