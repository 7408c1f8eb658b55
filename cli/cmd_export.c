/* cachectl export --from SRC... --export-cache DST... */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/destination_overlap.h"
#include "core/util/error.h"
#include "transport/engine/cache_transfer.h"

static const char help_head[] =
	"usage: cachectl export --from SRC [--from SRC ...] --export-cache DST [--export-cache DST ...]\n"
	"\n"
	"Reads every SRC, merges them into one cache and writes it to every DST.\n"
	"\n"
	"  --from SRC, --import-cache SRC   a cache to read\n"
	"  --export-cache DST               where to write it\n"
	"\n"
	"SRC and DST are BuildKit's cache options, type= first:\n";

static const char help_tail[] =
	"Every DST also takes mode=min|max (default: keep everything), ignore-error=true|false,\n"
	"compression=uncompressed|gzip|zstd|estargz, compression-level=N, force-compression=true|false,\n"
	"estargz-lossless=true|false (docs/estargz.md); local and registry add oci-mediatypes=true|false\n"
	"and image-manifest=true|false.\n" BARE_WORD_HELP "\n" METADATA_FILE_HELP COMMON_HELP;

static void print_help(void)
{
	fputs(help_head, stdout);
	print_backend_lines(stdout);
	fputs(help_tail, stdout);
}

/* What the command line asked for. */
struct export_args {
	struct common_options common;
	const char **from, **to;
	size_t n_from, n_to;
	const char *metadata_file; /* NULL: none */
	bool help;
};

static int parse_args(struct export_args *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"from", required_argument, NULL, 'f'},
		{"import-cache", required_argument, NULL, 'f'},
		{"export-cache", required_argument, NULL, 'e'},
		{"metadata-file", required_argument, NULL, OPT_METADATA_FILE},
		COMMON_LONG_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	int rc = 0, opt;
	common_options_init(&a->common);
	a->from = calloc((size_t)argc, sizeof(char *));
	a->to = calloc((size_t)argc, sizeof(char *));
	if (!a->from || !a->to)
		return error_oom();
	while (!rc && !a->help && (opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (common_option(&a->common, opt, optarg, &rc))
			continue;
		if (opt == 'f')
			a->from[a->n_from++] = optarg;
		else if (opt == 'e')
			a->to[a->n_to++] = optarg;
		else if (opt == OPT_METADATA_FILE && !*optarg)
			rc = error_set(ERR_USAGE, "--metadata-file is empty (give a file name)");
		else if (opt == OPT_METADATA_FILE)
			a->metadata_file = optarg;
		else if (opt == 'h')
			a->help = true;
		else
			rc = bad_option(opt, argv);
	}
	if (rc || a->help)
		return rc;
	if (optind < argc)
		return error_set(ERR_USAGE, "export: unexpected argument \"%s\"", argv[optind]);
	if (!a->n_from || !a->n_to)
		return error_set(ERR_USAGE, "export needs at least one --from and one --export-cache");
	return 0;
}

/* Opens every destination (nothing sent anywhere yet) and refuses two that
 * would write the same place. */
static int open_destinations(struct destination *dests, size_t *n_open, struct cache_options *specs,
			     const char *const *texts, size_t n, struct progress *progress)
{
	*n_open = 0;
	for (size_t i = 0; i < n; i++) {
		int rc = cache_spec_parse(&specs[i], texts[i], TRANSPORT_DESTINATION);
		if (!rc)
			rc = destination_open(&dests[i], &specs[i], progress);
		if (rc)
			return n > 1 ? error_wrap(rc, "--export-cache #%zu", i + 1) : error_wrap(rc, "--export-cache");
		(*n_open)++;
		destination_result_name(&dests[i], &specs[i]);
		char why[PATH_MAX + 160];
		for (size_t k = 0; k < i; k++)
			if (destinations_overlap(dests[k].transport, &specs[k], dests[i].transport, &specs[i], why,
						 sizeof(why)))
				return error_set(ERR_USAGE, "duplicate destination: --export-cache #%zu and #%zu write the same place (%s)",
						 k + 1, i + 1, why);
	}
	return 0;
}

int cmd_export(int argc, char **argv)
{
	struct export_args a = {0};
	size_t n_src = 0, n_dst = 0;
	struct transport **sources = NULL;
	struct destination *dests = NULL;
	struct cache_options *specs = NULL;
	struct progress *progress = NULL;
	struct source_set set = {0};
	struct progress_totals totals = {0};
	int rc = parse_args(&a, argc, argv);
	if (rc || a.help) {
		if (a.help)
			print_help();
		goto out;
	}
	specs = calloc(a.n_from + a.n_to, sizeof(*specs));
	sources = calloc(a.n_from, sizeof(*sources));
	dests = calloc(a.n_to, sizeof(*dests));
	if (!specs || !sources || !dests || progress_new(&progress, a.common.progress, stderr)) {
		rc = error_oom();
		goto out;
	}
	common_options_apply(&a.common, progress);
	/* Every option is checked before anything is read or written. */
	rc = open_destinations(dests, &n_dst, specs + a.n_from, a.to, a.n_to, progress);
	if (!rc)
		rc = sources_open(sources, specs, &n_src, a.from, a.n_from, progress);
	if (!rc)
		rc = source_set_load(&set, sources, n_src, progress);
	if (!rc) {
		rc = cache_export(&set, dests, n_dst, a.common.jobs, progress, &totals);
		/* Failed destinations too: a CI reads which ones made it. */
		int written = a.metadata_file ? metadata_file_write(a.metadata_file, "export", dests, n_dst) : 0;
		if (!rc)
			rc = written;
	}
	if (!rc)
		progress_summary(progress, "export", &totals);
out:
	source_set_free(&set);
	progress_free(progress);
	for (size_t i = 0; i < n_src; i++)
		transport_free(sources[i]);
	free(sources);
	for (size_t i = 0; i < n_dst; i++)
		transport_free(dests[i].transport);
	free(dests);
	if (specs)
		for (size_t i = 0; i < a.n_from + a.n_to; i++)
			cache_options_free(&specs[i]);
	free(specs);
	free(a.from);
	free(a.to);
	return report_error(rc);
}
