/* A tar stream walked entry by entry by libarchive, with its raw bytes.
 *
 * eStargz keeps a layer tar byte for byte while cutting it into gzip
 * members at chosen places, so its writer and reader need both the parsed
 * entries (libarchive reads them from the stream) and the exact bytes with
 * their offsets.  The walk keeps every byte libarchive has been given until
 * the caller has passed it on (emit) or dropped it, so the caller sees the
 * stream in order, in bounded memory, whatever the entry sizes.
 *
 * Where libarchive normalises what the eStargz format records as Go's
 * archive/tar reads it -- the raw mode field, the raw type flag, xattrs only
 * from SCHILY.xattr.* PAX records -- the walk reads the entry's own header
 * bytes. */
#ifndef CACHECTL_TAR_WALK_H
#define CACHECTL_TAR_WALK_H

#include <stdbool.h>
#include <stdint.h>

#include "core/util/digest.h"
#include "core/util/stream.h"

struct tar_xattr {
	char *name;
	unsigned char *value;
	size_t len;
};

struct tar_entry {
	const char *name;     /* the path as the headers give it */
	char typeflag;        /* of the final header, as written ('0', '\0', '5' ...) */
	int64_t size;         /* bytes of data that follow */
	int64_t mode;         /* the header's mode field, permissions and setuid/setgid/sticky */
	int64_t uid, gid;
	const char *uname, *gname; /* "" when absent */
	bool has_mtime;
	int64_t mtime;
	long mtime_nsec;
	const char *linkname; /* hardlink or symlink target, "" otherwise */
	int64_t dev_major, dev_minor;
	const struct tar_xattr *xattrs; /* from SCHILY.xattr.* PAX records, sorted by name */
	size_t n_xattrs;
	bool sparse;          /* a sparse file: its data is not stored contiguously */
	bool global_header;   /* a pax global header ('g') came before it */
	int64_t header_pos;   /* stream offset of its first header block (extension headers too) */
	int64_t data_pos;     /* stream offset of its data */
};

struct tar_walk;

/* Walks the tar in src (not owned).  Every byte read from src is also fed
 * to hash when given.  `what` names the stream in errors. */
int tar_walk_new(struct tar_walk **out, struct byte_source *src, struct sha256 *hash, const char *what);
void tar_walk_free(struct tar_walk *w);

/* 1 and *e (valid until the next call) for the next entry; 0 at the end of
 * the archive; < 0 on error.  Every entry's data must be read with
 * tar_walk_data (and emitted or dropped) before the next call. */
int tar_walk_next(struct tar_walk *w, const struct tar_entry **e);
/* Stops reading entries where the bytes passed on so far end: the rest
 * of the stream is then read raw (tar_walk_fetch, tar_walk_emit_rest). */
void tar_walk_stop(struct tar_walk *w);
/* Where the end-of-archive marker (or the stream's end) begins, once
 * tar_walk_next has returned 0. */
int64_t tar_walk_end_pos(const struct tar_walk *w);

/* The next piece of the current entry's data as stream offsets:
 * 1 with [*pos, *pos + *len), 0 after the last piece. */
int tar_walk_data(struct tar_walk *w, int64_t *pos, size_t *len);

typedef int (*tar_walk_out_fn)(void *ctx, const void *buf, size_t len);

/* Hands the bytes from the last emitted offset up to `to` to fn, or drops
 * them when fn is NULL.  Past the end of the archive, `to` may lie beyond
 * what was read so far: the bytes are then read from the source. */
int tar_walk_emit(struct tar_walk *w, int64_t to, tar_walk_out_fn fn, void *ctx);
/* After the end of the archive: hands over every remaining byte of the
 * source, up to its end. */
int tar_walk_emit_rest(struct tar_walk *w, tar_walk_out_fn fn, void *ctx);
int64_t tar_walk_emitted(const struct tar_walk *w);

/* After the end of the archive: reads one more block from the source;
 * returns the bytes read, 0 at the source's end, < 0 on error. */
ssize_t tar_walk_fetch(struct tar_walk *w);
/* Stream offset up to which bytes have been read from the source. */
int64_t tar_walk_fetched(const struct tar_walk *w);
/* The bytes [pos, pos + len) if they are still held, else NULL. */
const unsigned char *tar_walk_peek(const struct tar_walk *w, int64_t pos, size_t len);

#endif
