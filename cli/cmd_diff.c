/* cachectl diff [--format text|json] [--no-files] A B */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/diff_print.h"
#include "core/util/error.h"

static const char help[] =
	"usage: cachectl diff [--format text|json] [--no-files] A B\n"
	"\n"
	"Compares two caches: the records (cache keys) and layer chains only in A, only in B and\n"
	"shared; for every final result of B, the first layer where its chain leaves A's chains (where\n"
	"a build that had A stopped hitting the cache); and the files that differ between that layer\n"
	"and A's layer in the same place (added, removed, changed: content, size, mode, owner, link\n"
	"target or modification time).  Only those layers are read.  Typically A is the cache of the\n"
	"main branch and B the one a pull request's build just wrote.\n"
	"\n"
	"  --format FORMAT   text (the default) or json\n"
	"  --no-files        compare records and chains only: read no layer\n" COMMON_HELP;

static int parse_args(struct diff_options *o, struct common_options *common, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"format", required_argument, NULL, 'F'},
		{"no-files", no_argument, NULL, 'n'},
		COMMON_LONG_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	int rc = 0, opt;
	while (!rc && (opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (common_option(common, opt, optarg, &rc))
			continue;
		switch (opt) {
		case 'F':
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0)
				rc = error_set(ERR_USAGE, "--format %s is not text or json", optarg);
			o->json = strcmp(optarg, "json") == 0;
			break;
		case 'n':
			o->no_files = true;
			break;
		case 'h':
			fputs(help, stdout);
			return 1;
		default:
			rc = bad_option(opt, argv);
		}
	}
	if (!rc && optind != argc - 2)
		rc = error_set(ERR_USAGE, "diff takes two caches, A and B (see cachectl diff --help)");
	return rc;
}

int cmd_diff(int argc, char **argv)
{
	struct common_options common;
	struct diff_options o = {0};
	struct single_source a = {0}, b = {0};
	struct progress *progress = NULL;
	common_options_init(&common);
	int rc = parse_args(&o, &common, argc, argv);
	if (rc == 1)
		return EXIT_OK;
	if (!rc)
		rc = progress_new(&progress, quiet_unless_asked(common.progress), stderr);
	/* the spec text may hold secrets: the messages below name the location themselves, redacted */
	if (!rc && (rc = single_source_load(&a, argv[optind], progress)))
		error_wrap(rc, "cache A");
	if (!rc && (rc = single_source_load(&b, argv[optind + 1], progress)))
		error_wrap(rc, "cache B");
	if (!rc)
		rc = diff_run(&a, &b, &o);
	single_source_free(&a);
	single_source_free(&b);
	progress_free(progress);
	return report_error(rc);
}
