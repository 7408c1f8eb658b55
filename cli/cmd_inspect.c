/* cachectl inspect [--format text|json] [--quick] SRC */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/util/error.h"
#include "core/util/json_out.h"
#include "core/codec/layer_pipeline.h"
#include "core/util/parallel.h"
#include "transport/engine/cache_transfer.h"

static const char help[] =
	"usage: cachectl inspect [--format text|json] [--quick] SRC\n"
	"\n"
	"Shows what a cache holds: its documents, every layer blob (encoding, sizes, diffID,\n"
	"creation time), the layer chains and the cache records with their inputs and results.\n"
	"\n"
	"  --format FORMAT   text (for people, the default) or json (stable, see docs/inspect-json.md)\n"
	"  --quick           do not read layer blobs: uncompressed sizes are then unknown\n" COMMON_HELP;

struct blob_facts {
	const struct descriptor *d;
	int64_t uncompressed; /* -1 unknown */
	char toc_digest[DIGEST_BUF]; /* eStargz: as measured */
	int64_t toc_entries;         /* eStargz: -1 unknown */
	char problem[256];
};

struct measure_ctx {
	struct source_set *set;
	struct blob_facts *facts;
};

static int measure_one(void *arg, size_t i)
{
	struct measure_ctx *m = arg;
	struct blob_facts *f = &m->facts[i];
	struct byte_source *src;
	struct layer_outcome o;
	enum compression enc = layer_encoding(f->d);
	if (enc == COMPRESSION_UNCOMPRESSED) {
		f->uncompressed = f->d->size;
		return 0;
	}
	if (enc == COMPRESSION_UNKNOWN)
		return 0;
	struct layer_task t = {.source = f->d, .encoding = enc, .want_diff_id = true};
	int rc = source_set_open_blob(m->set, f->d, &src);
	if (!rc)
		rc = layer_process(&o, src, &t, NULL);
	if (rc)
		snprintf(f->problem, sizeof(f->problem), "%s", error_message());
	else
		f->uncompressed = o.uncompressed_size;
	if (!rc && o.toc_entries >= 0) {
		memcpy(f->toc_digest, o.toc_digest, DIGEST_BUF);
		f->toc_entries = o.toc_entries;
	}
	return 0; /* inspect shows what it can; verify is for judging */
}

#define MAX_CHAIN 4096

/* The chain nodes of a result, top first (walked from it to its base). */
static size_t result_chain(int chain[MAX_CHAIN], const struct cache_config *cfg, int layer)
{
	size_t depth = 0;
	for (; layer != -1 && depth < MAX_CHAIN; layer = cfg->layers[layer].parent)
		chain[depth++] = layer;
	return depth;
}

static const char *short_digest(const char *d, char *buf)
{
	/* "sha256:" + 12 hex characters, as docker shows image IDs */
	snprintf(buf, 20, "%.19s", d ? d : "");
	return buf;
}

static void print_text(const struct cache *c, const char *source, struct blob_facts *facts, size_t n)
{
	char a[32], b[32], s1[24];
	int64_t total = 0, total_plain = 0;
	bool plain_known = true;
	for (size_t i = 0; i < n; i++) {
		total += facts[i].d->size;
		if (facts[i].uncompressed < 0)
			plain_known = false;
		else
			total_plain += facts[i].uncompressed;
	}
	printf("cache   %s\n", source);
	if (*c->source_root.digest) {
		format_bytes(a, sizeof(a), c->source_root.size);
		printf("root    %s  %s  %s\n", c->source_root.digest, c->root_media_type ? c->root_media_type : "",
		       a);
	}
	if (*c->source_config.digest) {
		format_bytes(a, sizeof(a), c->source_config.size);
		printf("config  %s  %s\n", c->source_config.digest, a);
	}
	format_bytes(a, sizeof(a), total);
	format_bytes(b, sizeof(b), total_plain);
	printf("\nlayers: %zu blobs, %s compressed, %s uncompressed\n", n, a, plain_known ? b : "unknown");
	for (size_t i = 0; i < n; i++) {
		const struct descriptor *d = facts[i].d;
		const char *diff = descriptor_annotation(d, ANN_UNCOMPRESSED);
		const char *created = descriptor_annotation(d, ANN_CREATED_AT);
		const char *toc = descriptor_annotation(d, ANN_STARGZ_TOC);
		enum compression enc = media_type_compression(d->media_type);
		format_bytes(a, sizeof(a), d->size);
		if (facts[i].uncompressed >= 0)
			format_bytes(b, sizeof(b), facts[i].uncompressed);
		else
			snprintf(b, sizeof(b), "?");
		printf("  %s\n", d->digest);
		printf("      %s (%s), %s -> %s uncompressed, created %s\n", d->media_type ? d->media_type : "?",
		       toc ? "estargz" : compression_name(enc), a, b, created ? created : "unknown");
		printf("      diffID %s\n", diff ? diff : "(missing: BuildKit will not load this layer)");
		if (toc && facts[i].toc_entries >= 0)
			printf("      estargz TOC %s, %lld entries\n"
			       "      (in another encoding the TOC and landmark entries are left out: other diffID)\n",
			       facts[i].toc_digest, (long long)facts[i].toc_entries);
		else if (toc)
			printf("      estargz TOC %s\n", toc);
		if (*facts[i].problem)
			printf("      unreadable: %s\n", facts[i].problem);
	}

	const struct cache_config *cfg = c->config;
	size_t with_results = 0;
	for (size_t i = 0; i < cfg->n_records; i++)
		with_results += cfg->records[i].n_results || cfg->records[i].n_chains;
	printf("\nchains: %zu nodes\n", cfg->n_layers);
	for (size_t i = 0; i < cfg->n_layers; i++) {
		if (cfg->layers[i].parent == -1)
			printf("  [%zu] %s (base)\n", i, short_digest(cfg->layers[i].blob, s1));
		else
			printf("  [%zu] %s on [%d]\n", i, short_digest(cfg->layers[i].blob, s1), cfg->layers[i].parent);
	}
	printf("\nrecords: %zu (%zu with results)\n", cfg->n_records, with_results);
	for (size_t i = 0; i < cfg->n_records; i++) {
		const struct cache_record *r = &cfg->records[i];
		printf("  [%zu] %s%s\n", i, r->digest, r->n_inputs ? "" : "  (no inputs)");
		for (size_t s = 0; s < r->n_inputs; s++) {
			printf("      input %zu:", s);
			for (size_t k = 0; k < r->inputs[s].n_alts; k++) {
				const struct cache_input *in = &r->inputs[s].alts[k];
				printf("%s [%d]", k ? " or" : "", in->link);
				if (in->selector)
					printf(" selector %s", short_digest(in->selector, s1));
			}
			printf("\n");
		}
		for (size_t k = 0; k < r->n_results; k++) {
			char when[TIMESTAMP_BUF];
			int chain[MAX_CHAIN];
			size_t depth = result_chain(chain, cfg, r->results[k].layer);
			timestamp_format(when, &r->results[k].created_at, false);
			printf("      result %s, %zu layers:", when, depth);
			while (depth)
				printf(" %s", short_digest(cfg->layers[chain[--depth]].blob, s1));
			printf("\n");
		}
	}
}

static void json_descriptor_brief(struct json_out *j, const struct descriptor *d, const char *mt)
{
	json_object_begin(j);
	json_member_string(j, "mediaType", mt ? mt : (d->media_type ? d->media_type : ""));
	json_member_string(j, "digest", d->digest);
	json_member_int(j, "size", d->size);
	json_object_end(j);
}

static int print_json(const struct cache *c, const char *source, struct blob_facts *facts, size_t n)
{
	struct buffer out = BUFFER_INIT;
	struct json_out j;
	const struct cache_config *cfg = c->config;
	int64_t total = 0, total_plain = 0;
	bool plain_known = true;
	size_t with_results = 0;
	json_out_init(&j, &out);
	json_object_begin(&j);
	json_member_string(&j, "source", source);
	json_key(&j, "root");
	if (*c->source_root.digest)
		json_descriptor_brief(&j, &c->source_root, c->root_media_type);
	else
		json_null(&j);
	json_key(&j, "config");
	if (*c->source_config.digest)
		json_descriptor_brief(&j, &c->source_config, NULL);
	else
		json_null(&j);
	json_key(&j, "layers");
	json_array_begin(&j);
	for (size_t i = 0; i < n; i++) {
		const struct descriptor *d = facts[i].d;
		const char *diff = descriptor_annotation(d, ANN_UNCOMPRESSED);
		const char *created = descriptor_annotation(d, ANN_CREATED_AT);
		const char *toc = descriptor_annotation(d, ANN_STARGZ_TOC);
		total += d->size;
		if (facts[i].uncompressed < 0)
			plain_known = false;
		else
			total_plain += facts[i].uncompressed;
		json_object_begin(&j);
		json_member_string(&j, "digest", d->digest);
		json_member_string(&j, "mediaType", d->media_type ? d->media_type : "");
		json_member_string(&j, "compression",
				   toc ? "estargz" : compression_name(media_type_compression(d->media_type)));
		json_member_int(&j, "size", d->size);
		json_key(&j, "uncompressedSize");
		if (facts[i].uncompressed >= 0)
			json_int(&j, facts[i].uncompressed);
		else
			json_null(&j);
		json_key(&j, "diffID");
		diff ? json_string(&j, diff) : json_null(&j);
		json_key(&j, "createdAt");
		created ? json_string(&j, created) : json_null(&j);
		json_key(&j, "annotations");
		json_object_begin(&j);
		for (size_t k = 0; k < d->n_annotations; k++)
			json_member_string(&j, d->annotations[k].key, d->annotations[k].value);
		json_object_end(&j);
		if (toc) {
			json_key(&j, "estargz");
			json_object_begin(&j);
			json_member_string(&j, "tocDigest", *facts[i].toc_digest ? facts[i].toc_digest : toc);
			json_key(&j, "tocEntries");
			facts[i].toc_entries >= 0 ? json_int(&j, facts[i].toc_entries) : json_null(&j);
			json_object_end(&j);
		}
		if (*facts[i].problem)
			json_member_string(&j, "problem", facts[i].problem);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_key(&j, "chains");
	json_array_begin(&j);
	for (size_t i = 0; i < cfg->n_layers; i++) {
		json_object_begin(&j);
		json_member_int(&j, "index", (int64_t)i);
		json_member_string(&j, "blob", cfg->layers[i].blob);
		json_member_int(&j, "parent", cfg->layers[i].parent);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_key(&j, "records");
	json_array_begin(&j);
	for (size_t i = 0; i < cfg->n_records; i++) {
		const struct cache_record *r = &cfg->records[i];
		with_results += r->n_results > 0;
		json_object_begin(&j);
		json_member_int(&j, "index", (int64_t)i);
		json_member_string(&j, "digest", r->digest);
		json_key(&j, "inputs");
		json_array_begin(&j);
		for (size_t s = 0; s < r->n_inputs; s++) {
			json_array_begin(&j);
			for (size_t k = 0; k < r->inputs[s].n_alts; k++) {
				const struct cache_input *in = &r->inputs[s].alts[k];
				json_object_begin(&j);
				json_key(&j, "selector");
				in->selector ? json_string(&j, in->selector) : json_null(&j);
				json_member_int(&j, "link", in->link);
				json_member_string(&j, "digest", cfg->records[in->link].digest);
				json_object_end(&j);
			}
			json_array_end(&j);
		}
		json_array_end(&j);
		json_key(&j, "results");
		json_array_begin(&j);
		for (size_t k = 0; k < r->n_results; k++) {
			char when[TIMESTAMP_BUF];
			int chain[MAX_CHAIN];
			size_t depth = result_chain(chain, cfg, r->results[k].layer);
			timestamp_format(when, &r->results[k].created_at, false);
			json_object_begin(&j);
			json_member_int(&j, "layer", r->results[k].layer);
			json_member_string(&j, "createdAt", when);
			json_key(&j, "chain");
			json_array_begin(&j);
			while (depth)
				json_string(&j, cfg->layers[chain[--depth]].blob);
			json_array_end(&j);
			json_object_end(&j);
		}
		json_array_end(&j);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_key(&j, "totals");
	json_object_begin(&j);
	json_member_int(&j, "records", (int64_t)cfg->n_records);
	json_member_int(&j, "recordsWithResults", (int64_t)with_results);
	json_member_int(&j, "chainNodes", (int64_t)cfg->n_layers);
	json_member_int(&j, "blobs", (int64_t)n);
	json_member_int(&j, "size", total);
	json_key(&j, "uncompressedSize");
	plain_known ? json_int(&j, total_plain) : json_null(&j);
	json_object_end(&j);
	json_object_end(&j);
	int rc = json_out_status(&j);
	if (!rc)
		printf("%s\n", out.data);
	buffer_free(&out);
	return rc;
}

int cmd_inspect(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"format", required_argument, NULL, 'F'},
		{"quick", no_argument, NULL, 'q'},
		COMMON_LONG_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	struct common_options common;
	const char *format = "text";
	bool quick = false;
	struct single_source src = {0};
	struct progress *progress = NULL;
	struct blob_facts *facts = NULL;
	int rc = 0, opt;
	common_options_init(&common);
	while (!rc && (opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (common_option(&common, opt, optarg, &rc))
			continue;
		switch (opt) {
		case 'F':
			format = optarg;
			break;
		case 'q':
			quick = true;
			break;
		case 'h':
			fputs(help, stdout);
			return EXIT_OK;
		default:
			rc = bad_option(opt, argv);
		}
	}
	if (!rc && strcmp(format, "text") != 0 && strcmp(format, "json") != 0)
		rc = error_set(ERR_USAGE, "--format %s is not text or json", format);
	if (!rc && optind != argc - 1)
		rc = error_set(ERR_USAGE, "inspect takes exactly one SRC");
	if (rc || (rc = progress_new(&progress, quiet_unless_asked(common.progress), stderr)))
		goto out;
	common_options_apply(&common, progress);
	if ((rc = single_source_load(&src, argv[optind], progress)))
		goto out;
	size_t n = src.n_blobs;
	if (!(facts = calloc(n + 1, sizeof(*facts)))) {
		rc = error_oom();
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		facts[i].d = src.blobs[i];
		facts[i].uncompressed = -1;
		facts[i].toc_entries = -1;
	}
	if (!quick) {
		struct measure_ctx m = {&src.set, facts};
		parallel_for(n, common.jobs, true, measure_one, &m);
	}
	if (strcmp(format, "json") == 0)
		rc = print_json(src.set.merged, src.transport->display, facts, n);
	else
		print_text(src.set.merged, src.transport->display, facts, n);
out:
	free(facts);
	single_source_free(&src);
	progress_free(progress);
	return report_error(rc);
}
