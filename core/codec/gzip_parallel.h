/* gzip compression on every core, with the same bytes on every machine.
 *
 * The stream is a sequence of gzip members (RFC 1952 allows any number;
 * Go's compress/gzip, gzip, pigz, libarchive and Python read them all).
 * Members are gathered into pieces of input; a piece's members are cut
 * into batches of consecutive members that the threads of a pool shared by
 * every stream of the process take one at a time (so the many small
 * members of one piece are compressed on every core), and the pieces are
 * written out in order.  Where a member starts depends only
 * on the input and on the calls of the writer, never on timing: the output
 * depends only on the input and the level -- not on the number of
 * processors or of threads.
 *
 * Levels are Go's compress/flate levels, as for the zlib member writer
 * (gzip_member.h): -1 (default) is 6; 0..9 go to libdeflate at the same
 * level (a slightly smaller output than zlib's at every level, about twice
 * as fast); -2 (Huffman only) goes to zlib's Z_HUFFMAN_ONLY, which
 * libdeflate does not have.  Member headers are Go's (no name, mtime 0,
 * OS 255, XFL 2 at level 9 and 4 at level 1).
 *
 * Memory: a stream holds at most one more piece than there are threads (one
 * filling while the others are compressed), each piece its input and its
 * output.  Every piece comes from one budget shared by every stream,
 * GZIP_MEMORY_BUDGET, so concurrent layers share it instead of multiplying
 * it: a stream waits for its first piece while others hold the budget (a
 * thread must therefore write to one such stream at a time), and takes
 * more only when some are free. */
#ifndef CACHECTL_GZIP_PARALLEL_H
#define CACHECTL_GZIP_PARALLEL_H

#include <stdbool.h>

#include "core/util/stream.h"

#define GZIP_CHUNK (1u << 20)
#define GZIP_MEMORY_BUDGET ((size_t)24 << 20)

/* ---- a plain gzip stream: a member every GZIP_CHUNK bytes of input ----- */

/* A sink compressing what is written into members passed to next (not
 * owned); finish writes the last member (one empty member for no input)
 * and finishes next. */
int gzip_parallel_sink_new(struct byte_sink **out, struct byte_sink *next, bool level_set, int level);

/* ---- members placed by the caller (eStargz) ----------------------------- */

struct gzip_members;

/* Members go to next (not owned).  No member may need to hold more than
 * piece_size bytes (at least GZIP_CHUNK is used). */
int gzip_members_new(struct gzip_members **out, struct byte_sink *next, bool level_set, int level,
		     size_t piece_size);
void gzip_members_free(struct gzip_members *w);

/* Ends the open member and starts one whose next `reserve` bytes (at most
 * the piece size) stay in it.  Beyond those, a member that fills its piece
 * ends there and the bytes go on in a new member.  *seq (may be NULL): the
 * member's number, members numbered from 0 in order (raw runs included). */
int gzip_members_begin(struct gzip_members *w, size_t reserve, int64_t *seq);
/* Into the open member, starting one when none is open. */
int gzip_members_write(struct gzip_members *w, const void *buf, size_t len);
void gzip_members_end(struct gzip_members *w);
/* Bytes written as they are, outside any member (ends the open one). */
int gzip_members_write_raw(struct gzip_members *w, const void *buf, size_t len);
/* Compresses and writes out everything given so far (does not finish next). */
int gzip_members_flush(struct gzip_members *w);
/* Where member `seq` starts in the output, once written out (flushed);
 * -1 before. */
int64_t gzip_members_offset(const struct gzip_members *w, int64_t seq);
/* Compressed bytes written out so far. */
int64_t gzip_members_written(const struct gzip_members *w);

#endif
