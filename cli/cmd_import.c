/* cachectl import --import-cache SRC... --dest DIR */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/util/error.h"
#include "transport/engine/cache_transfer.h"

static const char help_head[] =
	"usage: cachectl import --import-cache SRC [--import-cache SRC ...] --dest DIR [--tag T]\n"
	"\n"
	"Pulls caches, merged, into the OCI layout DIR that BuildKit imports with\n"
	"--import-cache type=local,src=DIR.  Blobs are copied as they are; a single\n"
	"source keeps its document form.\n"
	"\n";

static const char help_tail[] =
	"                                   with BuildKit's options (see cachectl export --help)\n"
	"  --dest DIR                       the local cache to write (created if missing)\n"
	"  --tag T                          tag in DIR/index.json (default latest)\n" COMMON_HELP;

static void print_help(void)
{
	char types[256];
	known_types_text(types, sizeof(types), TRANSPORT_SOURCE);
	fputs(help_head, stdout);
	printf("  --import-cache SRC, --from SRC   a cache to read (type= %s)\n", types);
	fputs(help_tail, stdout);
}

int cmd_import(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"import-cache", required_argument, NULL, 'f'},
		{"from", required_argument, NULL, 'f'},
		{"dest", required_argument, NULL, 'd'},
		{"tag", required_argument, NULL, 't'},
		COMMON_LONG_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	struct common_options common;
	const char **from = calloc((size_t)argc, sizeof(char *));
	const char *dest_dir = NULL, *tag = NULL;
	size_t n_from = 0, n_src = 0;
	struct cache_options *specs = NULL, dest_spec = {0};
	struct transport **sources = NULL;
	struct destination dest = {0};
	struct progress *progress = NULL;
	struct source_set set = {0};
	struct progress_totals totals = {0};
	int rc = 0, opt;
	common_options_init(&common);
	if (!from) {
		rc = error_oom();
		goto out;
	}
	while (!rc && (opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (common_option(&common, opt, optarg, &rc))
			continue;
		switch (opt) {
		case 'f':
			from[n_from++] = optarg;
			break;
		case 'd':
			dest_dir = optarg;
			break;
		case 't':
			tag = optarg;
			break;
		case 'h':
			print_help();
			goto out;
		default:
			rc = bad_option(opt, argv);
		}
	}
	if (!rc && optind < argc)
		rc = error_set(ERR_USAGE, "import: unexpected argument \"%s\"", argv[optind]);
	if (!rc && !n_from)
		rc = error_set(ERR_USAGE, "import needs at least one --import-cache");
	if (!rc && (!dest_dir || !*dest_dir))
		rc = error_set(ERR_USAGE, "import needs --dest DIR");
	if (rc)
		goto out;
	specs = calloc(n_from, sizeof(*specs));
	sources = calloc(n_from, sizeof(*sources));
	if (!specs || !sources || progress_new(&progress, common.progress, stderr)) {
		rc = error_oom();
		goto out;
	}
	if (!(dest_spec.type = strdup("local")) || cache_options_add(&dest_spec, "dest", dest_dir) ||
	    (tag && cache_options_add(&dest_spec, "tag", tag)) ||
	    (rc = transport_open(&dest.transport, &dest_spec, TRANSPORT_DESTINATION, progress))) {
		rc = rc ? rc : ERR_FAILURE;
		goto out;
	}
	/* Copied as they are: no mode, no re-encoding, the source's form. */
	rc = sources_open(sources, specs, &n_src, from, n_from, progress);
	if (rc || (rc = source_set_load(&set, sources, n_src, progress)))
		goto out;
	rc = cache_export(&set, &dest, 1, common.jobs, progress, &totals);
	if (!rc)
		progress_summary(progress, "import", &totals);
out:
	source_set_free(&set);
	progress_free(progress);
	for (size_t i = 0; i < n_src; i++)
		transport_free(sources[i]);
	free(sources);
	transport_free(dest.transport);
	if (specs)
		for (size_t i = 0; i < n_from; i++)
			cache_options_free(&specs[i]);
	free(specs);
	cache_options_free(&dest_spec);
	free(from);
	return report_error(rc);
}
