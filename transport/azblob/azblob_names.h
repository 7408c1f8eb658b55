/* How BuildKit's azblob cache names its blobs: Go's filepath.Join of the
 * prefixes and the digest or cache name, and Go's url.PathEscape of that
 * name in request paths (so "blobs/sha256:ab" is sent as
 * "blobs%2Fsha256:ab", as the Azure SDK for Go does). */
#ifndef CACHECTL_AZBLOB_NAMES_H
#define CACHECTL_AZBLOB_NAMES_H

#include <stddef.h>

#include "core/util/buffer.h"

/* Go filepath.Join on Linux: empty elements dropped, the rest joined with
 * '/', then cleaned (repeated '/' collapsed, "." removed, ".." resolved,
 * no trailing '/'; a leading '/' kept).  All elements empty: "".  *out is
 * a new string the caller frees. */
int azblob_path_join(char **out, const char *const *elems, size_t n);

/* Appends name escaped as Go's url.PathEscape does (unreserved characters
 * and $ & + : = @ kept; everything else, '/' included, as %XX). */
int azblob_escape_name(struct buffer *out, const char *name);

#endif
