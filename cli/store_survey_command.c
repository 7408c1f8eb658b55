/* ls and du: one command line (--format text|json, one STORE) and one
 * survey of the store; only what they print differs. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/store_survey_command.h"
#include "core/util/error.h"

int store_survey_command(int argc, char **argv, const struct survey_printer *printer)
{
	static const struct option longopts[] = {
		{"format", required_argument, NULL, 'F'},
		COMMON_LONG_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	struct common_options common;
	struct cache_options spec = {0};
	struct transport *t = NULL;
	struct progress *progress = NULL;
	struct store_survey survey = {0};
	bool json = false;
	int rc = 0, opt;
	common_options_init(&common);
	while (!rc && (opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (common_option(&common, opt, optarg, &rc))
			continue;
		if (opt == 'h') {
			fputs(printer->help, stdout);
			return EXIT_OK;
		}
		if (opt == 'F' && (strcmp(optarg, "json") == 0 || strcmp(optarg, "text") == 0))
			json = strcmp(optarg, "json") == 0;
		else if (opt == 'F')
			rc = error_set(ERR_USAGE, "%s: --format must be text or json, not \"%s\"", printer->name, optarg);
		else
			rc = bad_option(opt, argv);
	}
	if (!rc && optind != argc - 1)
		rc = error_set(ERR_USAGE, "%s takes exactly one STORE", printer->name);
	if (rc || (rc = progress_new(&progress, quiet_unless_asked(common.progress), stderr)))
		goto out;
	common_options_apply(&common, progress);
	if ((rc = store_open(&spec, &t, argv[optind], progress)) || (rc = store_survey(&survey, t)))
		goto out;
	if (json)
		rc = printer->json(&survey, t->display);
	else
		printer->text(&survey);
out:
	store_survey_free(&survey);
	transport_free(t);
	cache_options_free(&spec);
	progress_free(progress);
	return report_error(rc);
}
