/* inspect --format markdown: a summary for $GITHUB_STEP_SUMMARY -- sizes,
 * the final results with their chains, the biggest layers and warnings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/inspect.h"
#include "transport/engine/config_budget.h"
#include "core/model/media_type.h"
#include "core/util/progress.h"
#include "core/util/printable.h"

/* BuildKit's local and registry importers refuse a cache config larger than this. */
#define BIGGEST_LAYERS 10

/* Prints text inside a Markdown table cell: control bytes escaped first
 * (printable: a newline as \n, which also keeps the row one line), then
 * pipes, backticks, emphasis and backslashes escaped for Markdown. */
static void cell(const char *s)
{
	char shown[2048];
	for (const char *p = printable(shown, sizeof(shown), s, 0); *p; p++) {
		if (*p == '|' || *p == '`' || *p == '\\' || *p == '*' || *p == '_')
			putchar('\\');
		putchar(*p);
	}
}

static void md_totals(const struct inspect_view *v)
{
	const struct cache *c = v->cache;
	char a[32], b[32];
	size_t nb;
	cache_graph_bases(v->graph, &nb);
	format_bytes(a, sizeof(a), v->total_size);
	format_bytes(b, sizeof(b), v->total_uncompressed);
	printf("### BuildKit cache ");
	cell(v->source);
	printf("\n\n| | |\n|---|---|\n");
	printf("| layers | %zu blobs, %s compressed, %s uncompressed |\n", v->n_facts, a,
	       v->total_uncompressed >= 0 ? b : "unknown");
	printf("| records | %zu (%zu with results, %zu final) |\n", c->config->n_records,
	       cache_graph_records_with_results(v->graph), cache_graph_final_results(v->graph));
	printf("| chain nodes | %zu (base layers: %zu) |\n", c->config->n_layers, nb);
	if (*c->source_config.digest) {
		format_bytes(a, sizeof(a), c->source_config.size);
		printf("| cache config | %s", a);
		if (v->config_limited)
			printf(" (%.1f%% of BuildKit's 1 MiB import limit)",
			       100.0 * (double)c->source_config.size / BUILDKIT_CONFIG_MAX);
		printf(" |\n");
	}
}

static void md_finals(const struct inspect_view *v)
{
	const struct cache_config *cfg = v->cache->config;
	char s[24], a[32], b[32];
	printf("\n#### Final results\n\n| record | layers | top layer | compressed | uncompressed | created |\n"
	       "|---|---:|---|---:|---:|---|\n");
	for (size_t r = 0; r < cfg->n_records; r++) {
		const struct cache_record *rec = &cfg->records[r];
		if (!cache_graph_record_final(v->graph, (int)r))
			continue;
		for (size_t k = 0; k < rec->n_results; k++) {
			int node = rec->results[k].layer;
			int64_t plain, size = chain_size(v, node, &plain);
			char when[TIMESTAMP_BUF], top[24];
			timestamp_format(when, &rec->results[k].created_at, false);
			format_bytes(a, sizeof(a), size);
			format_bytes(b, sizeof(b), plain);
			printf("| `%s` | %zu | `%s` | %s | %s | %.19s |\n", short_digest(rec->digest, s),
			       cache_graph_depth(v->graph, node), short_digest(cfg->layers[node].blob, top), a,
			       plain >= 0 ? b : "?", when);
		}
	}
}

static int by_size_desc(const void *a, const void *b)
{
	const struct blob_facts *x = *(const struct blob_facts *const *)a, *y = *(const struct blob_facts *const *)b;
	if (x->d->size != y->d->size)
		return x->d->size < y->d->size ? 1 : -1;
	return strcmp(x->d->digest, y->d->digest);
}

static void md_biggest(const struct inspect_view *v)
{
	const struct blob_facts **order = malloc((v->n_facts + 1) * sizeof(*order));
	char s[24], a[32], b[32], when[24];
	if (!order)
		return;
	for (size_t i = 0; i < v->n_facts; i++)
		order[i] = &v->facts[i];
	qsort(order, v->n_facts, sizeof(*order), by_size_desc);
	size_t n = v->n_facts < BIGGEST_LAYERS ? v->n_facts : BIGGEST_LAYERS;
	printf("\n#### Biggest layers\n\n| layer | encoding | compressed | uncompressed | created |\n"
	       "|---|---|---:|---:|---|\n");
	for (size_t i = 0; i < n; i++) {
		const struct descriptor *d = order[i]->d;
		const char *created = descriptor_annotation(d, ANN_CREATED_AT);
		format_bytes(a, sizeof(a), d->size);
		format_bytes(b, sizeof(b), order[i]->uncompressed);
		printf("| `%s` | %s | %s | %s | %s |\n", short_digest(d->digest, s),
		       descriptor_annotation(d, ANN_STARGZ_TOC) ? "estargz"
								: compression_name(media_type_compression(d->media_type)),
		       a, order[i]->uncompressed >= 0 ? b : "?", plain_text(when, created, 19));
	}
	free(order);
}

static void md_warnings(const struct inspect_view *v)
{
	const struct cache *c = v->cache;
	size_t n = 0;
	char s[24];
	printf("\n#### Warnings\n\n");
	if (v->config_limited && *c->source_config.digest && c->source_config.size > BUILDKIT_CONFIG_MAX * 3 / 4)
		n += printf("- the cache config is %lld bytes, near BuildKit's 1 MiB import limit: export with "
			    "mode=min or prune old results\n",
			    (long long)c->source_config.size) > 0;
	for (size_t i = 0; i < v->n_facts; i++) {
		const struct blob_facts *f = &v->facts[i];
		if (!descriptor_annotation(f->d, ANN_UNCOMPRESSED))
			n += printf("- `%s` has no diffID annotation: BuildKit will not load this layer\n",
				    short_digest(f->d->digest, s)) > 0;
		if (*f->problem) {
			n += printf("- `%s` is unreadable: ", short_digest(f->d->digest, s)) > 0;
			cell(f->problem);
			printf("\n");
		}
	}
	if (c->dropped_results)
		n += printf("- %zu results name blobs the cache does not describe\n", c->dropped_results) > 0;
	if (!n)
		printf("None.\n");
}

void inspect_print_markdown(const struct inspect_view *v)
{
	md_totals(v);
	md_finals(v);
	md_biggest(v);
	md_warnings(v);
}
