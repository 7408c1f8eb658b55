/* cachectl verify SRC */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/util/error.h"
#include "core/codec/layer_pipeline.h"
#include "core/util/parallel.h"
#include "transport/engine/cache_transfer.h"
#include "core/util/printable.h"

static const char help[] =
	"usage: cachectl verify SRC\n"
	"\n"
	"Re-reads every blob the cache references and checks its digest, its size and, for\n"
	"layers, the diffID of its uncompressed content; eStargz layers are also checked\n"
	"against their TOC (its digest, every file's and chunk's digest and offset, the\n"
	"footer).  Names each damaged or missing blob; exits 1 if there is any.\n"
	"\n"
	"Progress is quiet unless asked (auto means quiet here): --progress plain, tty or json\n"
	"shows each blob as it is read.\n"
	"\n" COMMON_HELP;

struct verify_ctx {
	struct source_set *set;
	const struct descriptor **blobs;
	char (*problems)[512];
	struct progress *progress;
};

struct verify_task {
	struct progress *progress;
	int id;
};

static void on_bytes(void *ctx, int64_t n)
{
	struct verify_task *t = ctx;
	progress_task_add(t->progress, t->id, n);
}

static int verify_one(void *arg, size_t i)
{
	struct verify_ctx *v = arg;
	const struct descriptor *d = v->blobs[i];
	struct byte_source *src;
	struct layer_outcome o;
	enum compression enc = layer_encoding(d);
	struct verify_task vt = {v->progress, progress_task_begin(v->progress, d->digest, "verify", d->size)};
	struct layer_task t = {.source = d, .encoding = enc, .want_diff_id = true, .on_progress = on_bytes,
			       .progress_ctx = &vt};
	int rc = source_set_open_blob(v->set, d, &src);
	if (!rc)
		rc = layer_process(&o, src, &t, NULL);
	if (!rc && enc != COMPRESSION_UNKNOWN && !descriptor_annotation(d, ANN_UNCOMPRESSED))
		rc = error_set(ERR_CORRUPT, "layer %s has no %s annotation (BuildKit will not load it)", d->digest,
			       ANN_UNCOMPRESSED);
	if (rc)
		snprintf(v->problems[i], sizeof(v->problems[i]), "%s: %s",
			 rc == ERR_NOT_FOUND ? "missing" : "damaged", error_message());
	progress_task_end(v->progress, vt.id, rc ? "failed" : "ok", rc ? v->problems[i] : NULL);
	return rc;
}

int cmd_verify(int argc, char **argv)
{
	static const struct option longopts[] = {
		COMMON_LONG_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	struct common_options common;
	struct single_source src = {0};
	struct progress *progress = NULL;
	char (*problems)[512] = NULL;
	char shown[2048]; /* cache text, escaped: printable */
	size_t n = 0, bad = 0;
	int rc = 0, opt;
	common_options_init(&common);
	while (!rc && (opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (common_option(&common, opt, optarg, &rc))
			continue;
		if (opt == 'h') {
			fputs(help, stdout);
			return EXIT_OK;
		}
		rc = bad_option(opt, argv);
	}
	if (!rc && optind != argc - 1)
		rc = error_set(ERR_USAGE, "verify takes exactly one SRC");
	if (rc || (rc = progress_new(&progress, quiet_unless_asked(common.progress), stderr)))
		goto out;
	common_options_apply(&common, progress);
	if ((rc = single_source_load(&src, argv[optind], progress)))
		goto out;
	n = src.n_blobs;
	if (!(problems = calloc(n + 1, sizeof(*problems)))) {
		rc = error_oom();
		goto out;
	}
	struct verify_ctx v = {&src.set, src.blobs, problems, progress};
	parallel_for(n, common.jobs, true, verify_one, &v);
	for (size_t i = 0; i < n; i++) {
		if (problems[i][0]) {
			printf("%s\n", printable(shown, sizeof(shown), problems[i], 0));
			bad++;
		}
	}
	if (src.set.merged->dropped_results) {
		printf("damaged: %zu results name layers the root document does not list\n",
		       src.set.merged->dropped_results);
		bad++;
	}
	/* Only local and registry roots: BuildKit's s3, gha and azblob
	 * importers read configs of any size. */
	const struct cache *c = src.set.merged;
	bool too_large = c->root_media_type && c->source_config.size > BUILDKIT_CONFIG_MAX;
	if (too_large)
		printf("too large: config %s is %lld bytes, over the %lld BuildKit imports from a local or registry "
		       "cache (re-export it with max-config-size=1MiB)\n",
		       printable(shown, sizeof(shown), c->source_config.digest, 0), (long long)c->source_config.size, (long long)BUILDKIT_CONFIG_MAX);
	if (bad)
		rc = error_set(ERR_CORRUPT, "%s: %zu of %zu blobs damaged or missing", src.transport->display, bad, n);
	else if (too_large)
		rc = error_set(ERR_FAILURE, "%s: the cache config is over BuildKit's 1 MiB limit: BuildKit will not "
					    "import this cache", src.transport->display);
	else
		printf("ok: %zu blobs, root and config verified (%s)\n", n,
		       printable(shown, sizeof(shown), src.transport->display, 0));
out:
	free(problems);
	single_source_free(&src);
	progress_free(progress);
	return report_error(rc);
}
