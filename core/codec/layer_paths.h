/* The path rules a layer tar must keep before cachectl rewrites it.
 *
 * A layer is unpacked under a root directory; entries that would land
 * outside it, hardlinks that point outside it or at nothing earlier in the
 * layer, and two entries for one path are refused with a message naming
 * the entry.  Symlink targets are data, not paths: any target (absolute,
 * dangling) is kept as it is. */
#ifndef CACHECTL_LAYER_PATHS_H
#define CACHECTL_LAYER_PATHS_H

#include <stdbool.h>

#include "core/util/strmap.h"

struct layer_paths {
	struct strmap seen; /* cleaned names of the entries so far */
};

#define LAYER_PATHS_INIT {STRMAP_INIT}

/* The name as Go's path.Clean("/" + name) gives it, without the leading
 * "/" ("" for the root).  *escapes tells whether a ".." climbed above the
 * root on the way.  The caller frees *out. */
int layer_path_clean(char **out, bool *escapes, const char *name);

/* Checks one entry (hardlink: target is its link name, else NULL) and
 * remembers its name; ERR_CORRUPT naming `what` and the entry when a rule
 * is broken. */
int layer_paths_check(struct layer_paths *p, const char *name, const char *hardlink_target, const char *what);

void layer_paths_free(struct layer_paths *p);

#endif
