/* cachectl diff's comparison and its two outputs (text for people, json
 * for tools; docs/why-cache-miss.md shows both). */
#ifndef CACHECTL_DIFF_PRINT_H
#define CACHECTL_DIFF_PRINT_H

#include <stdbool.h>

#include "cli/cli.h"

struct diff_options {
	bool json;
	bool no_files; /* read no layer */
};

/* Compares the loaded caches a and b and prints the result. */
int diff_run(struct single_source *a, struct single_source *b, const struct diff_options *o);

#endif
