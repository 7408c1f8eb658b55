/* cachectl --version: ours, and every library's as built and as running, so
 * a bug report says which zlib or libcurl produced what it shows. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/codec/codec.h"
#include "core/util/library_version.h"
#include "transport/http/http.h"

int print_version(void)
{
	struct library_version v[16];
	size_t n = 0;
	n += util_library_versions(v + n, sizeof(v) / sizeof(v[0]) - n);
	n += codec_library_versions(v + n, sizeof(v) / sizeof(v[0]) - n);
	n += http_library_versions(v + n, sizeof(v) / sizeof(v[0]) - n);
	printf("cachectl %s\n", CACHECTL_VERSION);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].built, v[i].running) == 0)
			printf("  %-11s %s\n", v[i].name, v[i].running);
		else
			printf("  %-11s %s (built with %s)\n", v[i].name, v[i].running, v[i].built);
	}
	return 0;
}
