/* The version of a library cachectl calls: what it was compiled against and
 * what the process runs with (a shared library may have been upgraded since).
 * Each layer lists the libraries it calls itself, so `cachectl --version`
 * asks every layer instead of linking them all. */
#ifndef CACHECTL_LIBRARY_VERSION_H
#define CACHECTL_LIBRARY_VERSION_H

#include <stddef.h>

struct library_version {
	const char *name;
	const char *built;   /* from the headers at compile time */
	const char *running; /* reported by the library now; static storage */
};

/* Fill out[0..max) and return how many entries there are (at most max). */
size_t util_library_versions(struct library_version *out, size_t max);

#endif
