/* cachectl: export and import BuildKit remote build caches. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/util/debug_trace.h"
#include "core/util/error.h"
#include "core/util/temp_files.h"

static const char usage[] =
	"usage: cachectl <command> [options]\n"
	"\n"
	"Reads, re-encodes and writes BuildKit remote build caches, without a build daemon.\n"
	"\n"
	"commands:\n"
	"  export   --from SRC... --export-cache DST...   copy caches, merged, to every destination\n"
	"  import   --import-cache SRC... --dest DIR      pull caches into a local OCI layout\n"
	"  inspect  [--format text|json|dot|markdown] SRC show what a cache holds\n"
	"  files    SRC [LAYER...]                        list the files of layers, or --top N biggest\n"
	"  diff     A B                                   where two caches diverge, and the files that differ\n"
	"  verify   SRC                                   re-read every blob and check it\n"
	"  ls       STORE                                 every cache a store holds\n"
	"  du       STORE                                 bytes per cache: shared, unique, unreferenced\n"
	"  rm       SRC                                   remove one cache (its blobs go with prune)\n"
	"  prune    STORE [--keep-tag T] [--keep-since D] [--max-size S] [--grace D] [--dry-run]\n"
	"                                                 drop old caches, records and unreferenced blobs\n"
	"\n"
	"SRC and DST use BuildKit's syntax, e.g. type=local,src=DIR or type=local,dest=DIR,mode=max;\n"
	"a bare ./path is type=local.  `cachectl <command> --help` lists the options.\n"
	"\n"
	"exit status: 0 success, 1 failure, 2 usage or option error, 3 no cache found\n";

/* What a command printed must have reached its reader: a full disk or a
 * closed pipe behind stdout is a failure (exit 1), not a silent success. */
static int stdout_close(int code)
{
	int failed = fflush(stdout) != 0 || ferror(stdout);
	int err = errno;
	if (fclose(stdout) != 0 && !failed) {
		failed = 1;
		err = errno;
	}
	if (!failed || code != EXIT_OK)
		return code;
	return report_error(error_set_errno(ERR_FAILURE, err, "write to standard output"));
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} commands[] = {
		{"export", cmd_export},
		{"import", cmd_import},
		{"inspect", cmd_inspect},
		{"files", cmd_files},
		{"diff", cmd_diff},
		{"verify", cmd_verify},
		{"ls", cmd_ls},
		{"du", cmd_du},
		{"rm", cmd_rm},
		{"prune", cmd_prune},
	};
	/* ^C or a CI runner's SIGTERM removes this run's temporary files
	 * before the process dies by the signal. */
	if (temp_files_handle_signals())
		return report_error(ERR_FAILURE);
	errors_as_json_scan(argc, argv);
	if (argc < 2) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		fputs(usage, stdout);
		return stdout_close(EXIT_OK);
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		print_version();
		return stdout_close(EXIT_OK);
	}
	/* A misspelt CACHECTL_DEBUG must not silently trace nothing. */
	int rc = debug_trace_from_environment();
	if (rc)
		return report_error(rc);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return stdout_close(commands[i].fn(argc - 1, argv + 1));
	return report_error(error_set(ERR_USAGE, "unknown command \"%s\" (try cachectl --help)", argv[1]));
}
