/* cachectl rm SRC */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "core/util/error.h"
#include "transport/engine/store_sweep.h"

static const char help[] =
	"usage: cachectl rm SRC\n"
	"\n"
	"Removes the one cache SRC names (type=local,src=DIR,tag=T; type=registry,ref=REPO:TAG;\n"
	"type=s3,...,name=N; type=gha,scope=S).  Its blobs stay: other caches may share them;\n"
	"`cachectl prune` deletes those nothing references any more.  Exits 3 when there is no\n"
	"such cache.\n"
	"\n" COMMON_HELP;

int cmd_rm(int argc, char **argv)
{
	static const struct option longopts[] = {
		COMMON_LONG_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	struct common_options common;
	struct cache_options spec = {0};
	struct transport *t = NULL;
	struct progress *progress = NULL;
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
		rc = error_set(ERR_USAGE, "rm takes exactly one SRC");
	if (rc || (rc = progress_new(&progress, common.progress, stderr)) ||
	    (rc = store_open(&spec, &t, argv[optind], progress)))
		goto out;
	if (!t->ops->store->selected)
		rc = error_set(ERR_USAGE, "%s: this store cannot name one cache", t->display);
	else
		rc = store_remove_cache(t, t->ops->store->selected(t), stdout);
out:
	transport_free(t);
	cache_options_free(&spec);
	progress_free(progress);
	return report_error(rc);
}
