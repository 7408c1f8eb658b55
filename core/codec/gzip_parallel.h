/* gzip compression on every core, with the same bytes on every machine.
 *
 * The stream is cut every GZIP_CHUNK bytes of input, whatever the sizes of
 * the writes; each piece becomes a gzip member of its own (RFC 1952 allows
 * any number; Go's compress/gzip, gzip, pigz, libarchive and Python read
 * them all), compressed independently by a pool of threads shared by every
 * stream of the process, and the members are written in order.  The cut
 * points depend only on the input, so the output depends only on the input
 * and the level -- never on the number of processors or of threads.
 *
 * Levels are Go's compress/flate levels, as for the member writer
 * (gzip_member.h): -1 (default) is 6; 0..9 go to libdeflate at the same
 * level (a slightly smaller output than zlib's at every level, about three
 * times faster); -2 (Huffman only) goes to zlib's Z_HUFFMAN_ONLY, which
 * libdeflate does not have.  Member headers are Go's (no name, mtime 0,
 * OS 255, XFL 2 at level 9 and 4 at level 1).
 *
 * Memory: each stream holds at most one more piece than there are threads
 * (one filling while the others are compressed), each piece about 2 MiB (its
 * input and output); the pieces beyond a stream's first come from a budget
 * shared by every stream, GZIP_MEMORY_BUDGET, so concurrent layers do not
 * multiply it.  A stream's first piece is always granted: no stream waits
 * for another. */
#ifndef CACHECTL_GZIP_PARALLEL_H
#define CACHECTL_GZIP_PARALLEL_H

#include <stdbool.h>

#include "core/util/stream.h"

#define GZIP_CHUNK (1u << 20)
#define GZIP_MEMORY_BUDGET ((size_t)24 << 20)

/* A sink compressing what is written into members passed to next (not
 * owned); finish writes the last member (one empty member for no input)
 * and finishes next. */
int gzip_parallel_sink_new(struct byte_sink **out, struct byte_sink *next, bool level_set, int level);

#endif
