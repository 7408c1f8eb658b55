/* cachectl prune STORE [--keep-tag T ...] [--keep-since D] [--max-size S] [--grace D] [--dry-run] */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/util/duration.h"
#include "core/util/error.h"
#include "core/util/size.h"
#include "transport/engine/store_sweep.h"

/* An export running during a prune has uploaded some blobs and not yet its
 * document; an hour is far beyond any export's length. */
#define DEFAULT_GRACE_SECONDS 3600.0

static const char help[] =
	"usage: cachectl prune STORE [--keep-tag T ...] [--keep-since D] [--max-size S] [--grace D] [--dry-run]\n"
	"\n"
	"Mark and sweep: keeps every cache (or only the --keep-tag ones: the others are\n"
	"removed), drops from the kept ones the results older than --keep-since, then the\n"
	"oldest results while the store is over --max-size (a cache is rewritten keeping\n"
	"whole chains, as mode=min), and deletes every blob no cache or image references\n"
	"any more -- except those younger than --grace, which an export running meanwhile\n"
	"may be about to reference.\n"
	"\n"
	"  --keep-tag T      keep this cache (repeatable); caches not named are removed\n"
	"  --keep-since D    drop results older than D (90m, 36h, 7d)\n"
	"  --max-size S      drop the oldest results until the store's blobs fit S (10GB, 500MiB)\n"
	"  --grace D         never delete a blob younger than D (default 1h; s3: touch_refresh + 1h)\n"
	"  --dry-run         print what would be removed and the bytes freed; change nothing\n" COMMON_HELP;

/* Go's durations, plus days ("7d"): a cache is kept for days. */
static int age_parse(double *out, const char *text, const char *what)
{
	size_t n = strlen(text);
	if (n > 1 && text[n - 1] == 'd') {
		char *end;
		double days = strtod(text, &end);
		if (end == text + n - 1 && days >= 0) {
			*out = days * 86400;
			return 0;
		}
	}
	if (duration_parse(out, text, what))
		return error_set(ERR_USAGE, "%s=\"%s\" is not a duration (like 90m, 36h or 7d)", what, text);
	if (*out < 0)
		return error_set(ERR_USAGE, "%s=\"%s\" is negative", what, text);
	return 0;
}

static void print_summary(const struct prune_settings *s, const struct prune_report *r, const char *fate)
{
	char freed[32], spared[32];
	size_format(freed, sizeof(freed), r->bytes_freed);
	size_format(spared, sizeof(spared), r->bytes_spared);
	printf("%s: %zu caches removed, %zu trimmed (%zu results dropped), %zu blobs %s%s (%lld bytes, %s "
	       "freed); %zu unreferenced blobs younger than --grace kept (%s)\n",
	       s->dry_run ? "dry run" : "pruned", r->caches_removed, r->caches_trimmed, r->results_dropped,
	       r->blobs_deleted, s->dry_run ? "would be " : "", fate, (long long)r->bytes_freed, freed,
	       r->blobs_spared, spared);
}

static bool grace_given;

static int parse_args(struct prune_settings *s, struct common_options *common, const char **keep, int argc,
		      char **argv)
{
	static const struct option longopts[] = {
		{"keep-tag", required_argument, NULL, 't'},
		{"keep-since", required_argument, NULL, 's'},
		{"max-size", required_argument, NULL, 'm'},
		{"grace", required_argument, NULL, 'g'},
		{"dry-run", no_argument, NULL, 'n'},
		COMMON_LONG_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	int rc = 0, opt;
	s->grace = DEFAULT_GRACE_SECONDS;
	while (!rc && (opt = getopt_long(argc, argv, ":hn", longopts, NULL)) != -1) {
		if (common_option(common, opt, optarg, &rc))
			continue;
		switch (opt) {
		case 'h':
			fputs(help, stdout);
			return 1;
		case 't':
			keep[s->n_keep_tags++] = optarg;
			s->keep_tags = keep;
			break;
		case 's':
			s->keep_since_set = true;
			rc = age_parse(&s->keep_since, optarg, "--keep-since");
			break;
		case 'm':
			if (!(rc = size_parse(&s->max_size, optarg, "--max-size")) && s->max_size <= 0)
				rc = error_set(ERR_USAGE, "--max-size=%s must be more than 0 bytes", optarg);
			break;
		case 'g':
			grace_given = true;
			rc = age_parse(&s->grace, optarg, "--grace");
			break;
		case 'n':
			s->dry_run = true;
			break;
		default:
			rc = bad_option(opt, argv);
		}
	}
	if (!rc && optind != argc - 1)
		rc = error_set(ERR_USAGE, "prune takes exactly one STORE");
	return rc;
}

/* The store may need a longer grace than the default to keep exports
 * running meanwhile safe (s3: past the exporters' touch_refresh). */
static void apply_grace_floor(struct prune_settings *s, struct transport *t, struct progress *p)
{
	const struct store_ops *ops = t->ops->store;
	double floor = ops->grace_floor ? ops->grace_floor(t) : 0;
	if (!grace_given && s->grace < floor)
		s->grace = floor;
	else if (grace_given && s->grace < floor)
		progress_note(p,
			      "--grace is shorter than %.0f s: a blob an export running now reuses without refreshing it "
			      "may be deleted (see docs/housekeeping.md)",
			      floor);
}

int cmd_prune(int argc, char **argv)
{
	struct common_options common;
	struct prune_settings settings = {0};
	struct prune_report report;
	struct cache_options spec = {0};
	struct transport *t = NULL;
	struct progress *progress = NULL;
	const char **keep = calloc((size_t)argc + 1, sizeof(*keep));
	int rc;
	common_options_init(&common);
	if (!keep)
		return report_error(error_oom());
	rc = parse_args(&settings, &common, keep, argc, argv);
	if (rc == 1) {
		free(keep);
		return EXIT_OK;
	}
	if (rc || (rc = progress_new(&progress, common.progress, stderr)) ||
	    (rc = store_open(&spec, &t, argv[optind], progress)))
		goto out;
	apply_grace_floor(&settings, t, progress);
	if (!(rc = store_prune(t, &settings, &report, stdout, progress)))
		print_summary(&settings, &report, t->ops->store->blob_fate ? t->ops->store->blob_fate : "deleted");
out:
	transport_free(t);
	cache_options_free(&spec);
	progress_free(progress);
	free(keep);
	return report_error(rc);
}
