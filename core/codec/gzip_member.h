/* gzip streams seen as a sequence of members.
 *
 * eStargz blobs are multi-member gzip streams whose member boundaries carry
 * meaning: every regular-file chunk starts a member, and the table of
 * contents points at members by compressed offset.  The writer here lets
 * its caller decide where members start and tells the compressed offset of
 * each; the source here decompresses member by member and reports where
 * each one starts, both compressed and uncompressed. */
#ifndef CACHECTL_GZIP_MEMBER_H
#define CACHECTL_GZIP_MEMBER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/util/stream.h"

/* ---- writing ------------------------------------------------------------ */

struct gzip_member_writer;

/* Members go to next (not owned).  Levels as Go's compress/flate: -2
 * Huffman only, -1 default, 0 stored, 1..9; the member headers are the ones
 * Go writes (no name, mtime 0, OS 255, XFL 2 at level 9 and 4 at level 1). */
int gzip_member_writer_new(struct gzip_member_writer **out, struct byte_sink *next, bool level_set,
			   int level);
void gzip_member_writer_free(struct gzip_member_writer *w);

/* Ends the open member, if any, and starts a new one. */
int gzip_member_begin(struct gzip_member_writer *w);
/* Compresses into the open member, starting one when none is open. */
int gzip_member_write(struct gzip_member_writer *w, const void *buf, size_t len);
/* Writes the open member's trailer; nothing when none is open. */
int gzip_member_end(struct gzip_member_writer *w);
bool gzip_member_is_open(const struct gzip_member_writer *w);
/* Appends bytes outside any member (ends the open one first). */
int gzip_member_write_raw(struct gzip_member_writer *w, const void *buf, size_t len);
/* Compressed bytes produced so far: the offset the next member starts at. */
int64_t gzip_member_offset(const struct gzip_member_writer *w);
/* Hands everything still buffered to next (does not finish next). */
int gzip_member_flush(struct gzip_member_writer *w);

/* ---- reading ------------------------------------------------------------ */

struct gzip_member_start {
	int64_t compressed;   /* offset of the member's first byte in the gzip stream */
	int64_t uncompressed; /* offset of its first decompressed byte */
};

/* Called as each member begins, before any of its bytes are returned. */
typedef int (*gzip_member_fn)(void *ctx, const struct gzip_member_start *m);

#define GZIP_TAIL_KEEP 64

/* Decompresses inner (owned) like gzip_source_new, but no read returns
 * bytes of two members, and on_start learns of every member (empty ones
 * too).  A stream that ends inside a member is an error naming `what`. */
int gzip_members_source_new(struct byte_source **out, struct byte_source *inner, gzip_member_fn on_start,
			    void *ctx, const char *what);
/* Compressed bytes read so far and the last of them (up to GZIP_TAIL_KEEP). */
int64_t gzip_members_compressed_size(struct byte_source *s);
const unsigned char *gzip_members_tail(struct byte_source *s, size_t *len);

#endif
