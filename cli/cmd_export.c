/* cachectl export --from SRC... --export-cache DST... */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/util/error.h"
#include "transport/engine/cache_transfer.h"

static const char help[] =
	"usage: cachectl export --from SRC [--from SRC ...] --export-cache DST [--export-cache DST ...]\n"
	"\n"
	"Reads every SRC, merges them into one cache and writes it to every DST.\n"
	"\n"
	"  --from SRC, --import-cache SRC   a cache to read\n"
	"  --export-cache DST               where to write it\n"
	"\n"
	"SRC and DST are BuildKit's cache options, type= first:\n"
	"  type=local,src=DIR|dest=DIR[,tag=T][,digest=D]     OCI layout directory (docs/local.md)\n"
	"  type=registry,ref=NAME:TAG[,registry.insecure=true]  registry (docs/registry.md)\n"
	"  type=inline,ref=IMAGE|layout=DIR                    export only (docs/inline.md)\n"
	"  type=s3,bucket=B,region=R[,name=N;...][,prefix=P]    S3 and compatible stores (docs/s3.md)\n"
	"  type=gha[,scope=S][,url=U][,token=T][,version=1|2]  GitHub Actions cache (docs/gha.md)\n"
	"  type=azblob,account_url=U[,container=C][,name=N;...]  Azure Blob Storage (docs/azblob.md)\n"
	"Every DST also takes mode=min|max (default: keep everything), ignore-error=true|false,\n"
	"compression=uncompressed|gzip|zstd|estargz, compression-level=N, force-compression=true|false,\n"
	"estargz-lossless=true|false (docs/estargz.md); local and registry add oci-mediatypes=true|false\n"
	"and image-manifest=true|false.  A bare path means type=local.\n"
	"\n" COMMON_HELP;

static void free_all(struct transport **t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		transport_free(t[i]);
	free(t);
}

int cmd_export(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"from", required_argument, NULL, 'f'},
		{"import-cache", required_argument, NULL, 'f'},
		{"export-cache", required_argument, NULL, 'e'},
		COMMON_LONG_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	struct common_options common;
	const char **from = calloc((size_t)argc, sizeof(char *)), **to = calloc((size_t)argc, sizeof(char *));
	size_t n_from = 0, n_to = 0, n_src = 0, n_dst = 0;
	struct transport **sources = NULL;
	struct destination *dests = NULL;
	struct cache_options *specs = NULL;
	struct progress *progress = NULL;
	struct source_set set = {0};
	struct progress_totals totals = {0};
	int rc = 0, opt;
	common_options_init(&common);
	if (!from || !to) {
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
		case 'e':
			to[n_to++] = optarg;
			break;
		case 'h':
			fputs(help, stdout);
			goto out;
		default:
			rc = bad_option(opt, argv);
		}
	}
	if (!rc && optind < argc)
		rc = error_set(ERR_USAGE, "export: unexpected argument \"%s\"", argv[optind]);
	if (!rc && (!n_from || !n_to))
		rc = error_set(ERR_USAGE, "export needs at least one --from and one --export-cache");
	if (rc)
		goto out;

	specs = calloc(n_from + n_to, sizeof(*specs));
	sources = calloc(n_from, sizeof(*sources));
	dests = calloc(n_to, sizeof(*dests));
	if (!specs || !sources || !dests || progress_new(&progress, common.progress, stderr)) {
		rc = error_oom();
		goto out;
	}
	/* Every option is checked before anything is read or written. */
	for (size_t i = 0; i < n_to && !rc; i++) {
		struct cache_options *o = &specs[n_from + i];
		const struct transport_handler *h;
		if ((rc = cache_spec_parse(o, to[i], TRANSPORT_DESTINATION)))
			break;
		if (!(h = transport_handler_find(o->type))) {
			rc = error_set(ERR_USAGE, "unknown cache type \"%s\" in --export-cache %s", o->type, to[i]);
			break;
		}
		if ((rc = export_settings_parse(&dests[i].settings, o, h)) ||
		    (rc = transport_open(&dests[i].transport, o, TRANSPORT_DESTINATION, progress)))
			break;
		n_dst++;
		for (size_t k = 0; k < i; k++)
			if (strcmp(dests[k].transport->display, dests[i].transport->display) == 0)
				rc = error_set(ERR_USAGE, "duplicate --export-cache %s", to[i]);
	}
	if (!rc)
		rc = sources_open(sources, specs, &n_src, from, n_from, progress);
	if (rc)
		goto out;
	if ((rc = source_set_load(&set, sources, n_src, progress)))
		goto out;
	rc = cache_export(&set, dests, n_dst, common.jobs, progress, &totals);
	if (!rc)
		progress_summary(progress, "export", &totals);
out:
	source_set_free(&set);
	progress_free(progress);
	free_all(sources, n_src);
	for (size_t i = 0; i < n_dst; i++)
		transport_free(dests[i].transport);
	free(dests);
	if (specs)
		for (size_t i = 0; i < n_from + n_to; i++)
			cache_options_free(&specs[i]);
	free(specs);
	free(from);
	free(to);
	return report_error(rc);
}
