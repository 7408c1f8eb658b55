/* A source that reads ahead on a thread of its own.
 *
 * A layer's pipeline is a chain of stages in one thread; put this in the
 * middle and the stages before it (reading the blob, checking its digest,
 * decompressing) run while the caller does the ones after it (hashing the
 * diffID, compressing, hashing again, writing).  The bytes, their order and
 * the errors are the same as reading `inner` directly: an error comes where
 * it happened in the stream, after the bytes that came before it. */
#ifndef CACHECTL_READAHEAD_H
#define CACHECTL_READAHEAD_H

#include "core/util/stream.h"

/* Wraps inner (owned), which holds `size` bytes (-1: unknown).  Holds
 * READAHEAD_DEPTH buffers of READAHEAD_BUFFER bytes.  Cannot fail: for a
 * source that fits in those buffers anyway (not worth a thread), or without
 * memory or a thread, it returns inner itself, read in the caller's thread.
 * Closing it early stops the thread (after the read in progress) before
 * inner is closed. */
struct byte_source *readahead_source(struct byte_source *inner, int64_t size);

#define READAHEAD_DEPTH 4
#define READAHEAD_BUFFER (256u << 10)

#endif
