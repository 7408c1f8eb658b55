/* inspect --raw: the flat lists -- every layer blob with its facts, every
 * chain node by index, every record with its inputs and results. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/inspect.h"
#include "core/model/media_type.h"
#include "core/util/progress.h"
#include "core/util/printable.h"

static void print_blobs(const struct inspect_view *v)
{
	char a[32], b[32];
	printf("\nblobs:\n");
	for (size_t i = 0; i < v->n_facts; i++) {
		const struct blob_facts *f = &v->facts[i];
		const struct descriptor *d = f->d;
		const char *diff = descriptor_annotation(d, ANN_UNCOMPRESSED);
		const char *created = descriptor_annotation(d, ANN_CREATED_AT);
		const char *toc = descriptor_annotation(d, ANN_STARGZ_TOC);
		format_bytes(a, sizeof(a), d->size);
		if (f->uncompressed >= 0)
			format_bytes(b, sizeof(b), f->uncompressed);
		char t1[512], t2[512];
		printf("  %s\n", printable(t1, sizeof(t1), d->digest, 0));
		printf("      %s (%s), %s -> %s uncompressed, created %s\n",
		       printable(t1, sizeof(t1), d->media_type ? d->media_type : "?", 0),
		       toc ? "estargz" : compression_name(media_type_compression(d->media_type)), a,
		       f->uncompressed >= 0 ? b : "?", printable(t2, sizeof(t2), created ? created : "unknown", 0));
		printf("      diffID %s\n",
		       diff ? printable(t1, sizeof(t1), diff, 0) : "(missing: BuildKit will not load this layer)");
	}
}

static void print_records(const struct inspect_view *v, int *chain)
{
	const struct cache_config *cfg = v->cache->config;
	char s[24];
	printf("\nrecord list: %zu\n", cfg->n_records);
	for (size_t i = 0; i < cfg->n_records; i++) {
		const struct cache_record *r = &cfg->records[i];
		printf("  [%zu] %s%s%s\n", i, r->digest, r->n_inputs ? "" : "  (no inputs)",
		       cache_graph_record_final(v->graph, (int)i) ? "  (final)" : "");
		for (size_t sl = 0; sl < r->n_inputs; sl++) {
			printf("      input %zu:", sl);
			for (size_t k = 0; k < r->inputs[sl].n_alts; k++) {
				const struct cache_input *in = &r->inputs[sl].alts[k];
				printf("%s [%d]", k ? " or" : "", in->link);
				if (in->selector)
					printf(" selector %s", short_digest(in->selector, s));
			}
			printf("\n");
		}
		for (size_t k = 0; k < r->n_results; k++) {
			char when[TIMESTAMP_BUF];
			int node = r->results[k].layer;
			size_t depth = cache_graph_depth(v->graph, node);
			cache_graph_chain(v->graph, node, chain);
			timestamp_format(when, &r->results[k].created_at, false);
			printf("      result %s, %zu layers:", when, depth);
			for (size_t l = 0; l < depth; l++)
				printf(" %s", short_digest(cfg->layers[chain[l]].blob, s));
			printf("\n");
		}
	}
}

void inspect_print_raw(const struct inspect_view *v)
{
	const struct cache_config *cfg = v->cache->config;
	char s[24];
	int *chain = calloc(cfg->n_layers + 1, sizeof(*chain));
	print_blobs(v);
	printf("\nchain nodes: %zu\n", cfg->n_layers);
	for (size_t i = 0; i < cfg->n_layers; i++) {
		if (cfg->layers[i].parent == -1)
			printf("  [%zu] %s (base)\n", i, short_digest(cfg->layers[i].blob, s));
		else
			printf("  [%zu] %s on [%d]\n", i, short_digest(cfg->layers[i].blob, s), cfg->layers[i].parent);
	}
	if (chain)
		print_records(v, chain);
	free(chain);
}
