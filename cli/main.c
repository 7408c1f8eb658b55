/* cachectl: export and import BuildKit remote build caches. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/util/error.h"

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
	"\n"
	"SRC and DST use BuildKit's syntax, e.g. type=local,src=DIR or type=local,dest=DIR,mode=max;\n"
	"a bare ./path is type=local.  `cachectl <command> --help` lists the options.\n"
	"\n"
	"exit status: 0 success, 1 failure, 2 usage or option error, 3 no cache found\n";

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
	};
	if (argc < 2) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		fputs(usage, stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("cachectl %s\n", CACHECTL_VERSION);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	return report_error(error_set(ERR_USAGE, "unknown command \"%s\" (try cachectl --help)", argv[1]));
}
