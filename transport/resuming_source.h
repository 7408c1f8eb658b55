/* A blob download that survives a cut connection: when a read fails, the
 * rest (from the first byte not yet delivered) is asked for again, a few
 * times, with a note each time.  For stores whose GET takes a start offset
 * (s3, azblob); the store's own call opens each piece. */
#ifndef CACHECTL_RESUMING_SOURCE_H
#define CACHECTL_RESUMING_SOURCE_H

#include <stdint.h>

#include "core/util/stream.h"

struct progress;

/* Opens the object `name` from byte `offset` on. */
typedef int (*resume_open_fn)(void *store, const char *name, int64_t offset, struct byte_source **out);

/* Opens name from byte 0 through open_fn and returns a source that resumes
 * it.  Takes no ownership of store or progress; copies name.  The first
 * open's error (ERR_NOT_FOUND included) is returned as it is. */
CACHECTL_MUST_CHECK int resuming_source_new(struct byte_source **out, resume_open_fn open_fn, void *store,
					    const char *name, struct progress *progress);

#endif
