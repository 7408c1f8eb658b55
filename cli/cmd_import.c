/* cachectl import --import-cache SRC... --dest DIR */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
	"  --tag T                          tag in DIR/index.json (default latest)\n" METADATA_FILE_HELP COMMON_HELP;

static void print_help(void)
{
	char types[256];
	known_types_text(types, sizeof(types), TRANSPORT_SOURCE);
	fputs(help_head, stdout);
	printf("  --import-cache SRC, --from SRC   a cache to read (type= %s)\n", types);
	fputs(help_tail, stdout);
}

struct import_args {
	struct common_options common;
	const char **from;
	size_t n_from;
	const char *dest_dir, *tag;
	const char *metadata_file; /* NULL: none */
	bool help;
};

/* `--dest type=local,dest=x` would make a directory of that name: a
 * directory that does not exist yet and reads as key=value fields is
 * refused.  (The spec is not quoted: it may hold credentials.) */
static int check_dest_dir(const char *dir)
{
	struct stat st;
	if (!*dir)
		return error_set(ERR_USAGE, "import needs --dest DIR (it is empty)");
	size_t key = strspn(dir, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-");
	bool spec_like = (key > 0 && dir[key] == '=') || strstr(dir, "type=");
	if (spec_like && stat(dir, &st) != 0)
		return error_set(ERR_USAGE, "--dest takes a directory, not a cache spec: write --dest DIR "
					    "(import always writes a local OCI layout)");
	return 0;
}

static int parse_args(struct import_args *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"import-cache", required_argument, NULL, 'f'},
		{"from", required_argument, NULL, 'f'},
		{"dest", required_argument, NULL, 'd'},
		{"tag", required_argument, NULL, 't'},
		{"metadata-file", required_argument, NULL, OPT_METADATA_FILE},
		COMMON_LONG_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	int rc = 0, opt;
	common_options_init(&a->common);
	if (!(a->from = calloc((size_t)argc, sizeof(char *))))
		return error_oom();
	while (!rc && !a->help && (opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (common_option(&a->common, opt, optarg, &rc))
			continue;
		if (opt == 'f')
			a->from[a->n_from++] = optarg;
		else if (opt == 'd')
			a->dest_dir = optarg;
		else if (opt == 't')
			a->tag = optarg;
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
		return error_set(ERR_USAGE, "import: unexpected argument \"%s\"", argv[optind]);
	if (!a->n_from)
		return error_set(ERR_USAGE, "import needs at least one --import-cache");
	if (!a->dest_dir)
		return error_set(ERR_USAGE, "import needs --dest DIR");
	if (a->tag && !*a->tag)
		return error_set(ERR_USAGE, "--tag is empty (leave it out for latest)");
	return check_dest_dir(a->dest_dir);
}

/* The local layout written: a spec built here, opened like any other. */
static int open_dest(struct destination *dest, struct cache_options *spec, const struct import_args *a,
		     struct progress *progress)
{
	int rc;
	if (!(spec->type = strdup("local")))
		return error_oom();
	if ((rc = cache_options_add(spec, "dest", a->dest_dir)) ||
	    (a->tag && (rc = cache_options_add(spec, "tag", a->tag))))
		return rc;
	/* Copied as they are: no mode, no re-encoding, the source's form. */
	if ((rc = transport_open(&dest->transport, spec, TRANSPORT_DESTINATION, progress)))
		return rc;
	destination_result_name(dest, spec);
	return 0;
}

int cmd_import(int argc, char **argv)
{
	struct import_args a = {0};
	size_t n_src = 0;
	struct cache_options *specs = NULL, dest_spec = {0};
	struct transport **sources = NULL;
	struct destination dest = {0};
	struct progress *progress = NULL;
	struct source_set set = {0};
	struct progress_totals totals = {0};
	int rc = parse_args(&a, argc, argv);
	if (rc || a.help) {
		if (a.help)
			print_help();
		goto out;
	}
	specs = calloc(a.n_from, sizeof(*specs));
	sources = calloc(a.n_from, sizeof(*sources));
	if (!specs || !sources || progress_new(&progress, a.common.progress, stderr)) {
		rc = error_oom();
		goto out;
	}
	common_options_apply(&a.common, progress);
	rc = open_dest(&dest, &dest_spec, &a, progress);
	if (!rc)
		rc = sources_open(sources, specs, &n_src, a.from, a.n_from, progress);
	if (!rc)
		rc = source_set_load(&set, sources, n_src, progress);
	if (!rc) {
		rc = cache_export(&set, &dest, 1, a.common.jobs, progress, &totals);
		int written = a.metadata_file ? metadata_file_write(a.metadata_file, "import", &dest, 1) : 0;
		if (!rc)
			rc = written;
	}
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
		for (size_t i = 0; i < a.n_from; i++)
			cache_options_free(&specs[i]);
	free(specs);
	cache_options_free(&dest_spec);
	free(a.from);
	return report_error(rc);
}
