/* cachectl inspect [--format text|json|dot|markdown] [--quick] [--raw] [--full] SRC */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/inspect.h"
#include "core/util/error.h"
#include "core/codec/layer_pipeline.h"
#include "core/util/parallel.h"
#include "transport/engine/cache_transfer.h"

static const char help[] =
	"usage: cachectl inspect [--format text|json|dot|markdown] [--quick] [--raw] [--full] SRC\n"
	"\n"
	"Shows what a cache holds: its documents, the layer chains as a tree from the base layers\n"
	"up (sizes, encodings, creation times, the records whose results end on each layer, final\n"
	"results with their chain's totals) and what BuildKit would stumble on.\n"
	"\n"
	"  --format FORMAT   text (for people, the default), json (stable, see docs/inspect-json.md),\n"
	"                    dot (the record/chain graph for Graphviz) or markdown (a summary for\n"
	"                    $GITHUB_STEP_SUMMARY)\n"
	"  --quick           do not read layer blobs: uncompressed sizes are then unknown\n"
	"  --raw             text: also list every blob, chain node and record as stored\n"
	"  --full            text: do not fold wide fans (over 20 branches) or long chains (over 40)\n"
	"Progress is quiet unless asked (auto means quiet here): --progress plain, tty or json\n"
	"shows each layer as it is read.\n" COMMON_HELP;

struct measure_ctx {
	struct source_set *set;
	struct blob_facts *facts;
	struct progress *progress;
};

struct measure_task {
	struct progress *progress;
	int id;
};

static void on_bytes(void *ctx, int64_t n)
{
	struct measure_task *t = ctx;
	progress_task_add(t->progress, t->id, n);
}

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
	struct measure_task mt = {m->progress, progress_task_begin(m->progress, f->d->digest, "measure", f->d->size)};
	struct layer_task t = {.source = f->d, .encoding = enc, .want_diff_id = true, .on_progress = on_bytes,
			       .progress_ctx = &mt};
	int rc = source_set_open_blob(m->set, f->d, &src);
	if (!rc)
		rc = layer_process(&o, src, &t, NULL);
	if (rc)
		snprintf(f->problem, sizeof(f->problem), "%s", error_message());
	progress_task_end(m->progress, mt.id, rc ? "failed" : "ok", rc ? f->problem : NULL);
	if (!rc)
		f->uncompressed = o.uncompressed_size;
	if (!rc && o.toc_entries >= 0) {
		memcpy(f->toc_digest, o.toc_digest, DIGEST_BUF);
		f->toc_entries = o.toc_entries;
	}
	return 0; /* inspect shows what it can; verify is for judging */
}

static const struct {
	const char *name;
	enum inspect_format { FORMAT_TEXT, FORMAT_JSON, FORMAT_DOT, FORMAT_MARKDOWN } format;
} formats[] = {
	{"text", FORMAT_TEXT},
	{"json", FORMAT_JSON},
	{"dot", FORMAT_DOT},
	{"markdown", FORMAT_MARKDOWN},
};

static int parse_format(enum inspect_format *out, const char *name)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (strcmp(name, formats[i].name) == 0) {
			*out = formats[i].format;
			return 0;
		}
	return error_set(ERR_USAGE, "--format %s is not text, json, dot or markdown", name);
}

static int print_view(const struct single_source *src, struct blob_facts *facts, size_t n,
		      enum inspect_format format, const struct tree_options *tree)
{
	struct inspect_view v;
	int rc = inspect_view_init(&v, src->set.merged, src->transport->display, facts, n);
	v.config_limited = strcmp(src->spec.type, "local") == 0 || strcmp(src->spec.type, "registry") == 0;
	if (rc) {
		inspect_view_free(&v);
		return rc;
	}
	switch (format) {
	case FORMAT_JSON:
		rc = inspect_print_json(&v);
		break;
	case FORMAT_DOT:
		inspect_print_dot(&v);
		break;
	case FORMAT_MARKDOWN:
		inspect_print_markdown(&v);
		break;
	default:
		inspect_print_tree(&v, tree);
	}
	inspect_view_free(&v);
	return rc;
}

int cmd_inspect(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"format", required_argument, NULL, 'F'},
		{"quick", no_argument, NULL, 'q'},
		{"raw", no_argument, NULL, 'r'},
		{"full", no_argument, NULL, 'f'},
		COMMON_LONG_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	struct common_options common;
	enum inspect_format format = FORMAT_TEXT;
	struct tree_options tree = {.max_branches = 20, .max_run = 40};
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
			rc = parse_format(&format, optarg);
			break;
		case 'r':
			tree.raw = true;
			break;
		case 'f':
			tree.max_branches = tree.max_run = 0;
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
		struct measure_ctx m = {&src.set, facts, progress};
		parallel_for(n, common.jobs, true, measure_one, &m);
	}
	rc = print_view(&src, facts, n, format, &tree);
out:
	free(facts);
	single_source_free(&src);
	progress_free(progress);
	return report_error(rc);
}
