/* The files of one layer, read from its tar stream by libarchive entry by
 * entry: never extracted, never held whole (one entry's header and a fixed
 * read buffer at a time), whatever the layer's size.
 *
 * OCI layers record deletions as whiteouts: an empty file ".wh.NAME" says
 * NAME of the lower layers is gone, ".wh..wh..opq" in a directory says the
 * directory hides everything the lower layers had in it.  Both are reported
 * as what they mean, with the path they concern. */
#ifndef CACHECTL_LAYER_FILES_H
#define CACHECTL_LAYER_FILES_H

#include <stdbool.h>
#include <stdint.h>

#include "core/model/descriptor.h"
#include "core/util/digest.h"
#include "core/util/stream.h"

enum layer_file_kind {
	LAYER_FILE_REGULAR,
	LAYER_FILE_DIR,
	LAYER_FILE_SYMLINK,
	LAYER_FILE_HARDLINK,
	LAYER_FILE_CHAR,
	LAYER_FILE_BLOCK,
	LAYER_FILE_FIFO,
	LAYER_FILE_OTHER,
	LAYER_FILE_WHITEOUT, /* path was deleted */
	LAYER_FILE_OPAQUE,   /* path (a directory) hides its lower contents */
};

struct layer_file {
	const char *name;  /* the entry's name as the tar stores it */
	const char *path;  /* cleaned ("./" and "/" in front and "/" behind removed); for a
			    * whiteout the deleted path, for an opaque marker its directory */
	enum layer_file_kind kind;
	int64_t size;      /* bytes of data (0 for links, directories, whiteouts) */
	unsigned mode;     /* permission bits with setuid, setgid and sticky */
	int64_t uid, gid;
	int64_t mtime;     /* seconds since the epoch */
	const char *link;  /* symlink or hardlink target, "" otherwise */
	char content[DIGEST_BUF]; /* sha256 of the data when asked for, "" otherwise */
};

/* "file", "dir", "symlink", "hardlink", "char", "block", "fifo", "other",
 * "whiteout", "opaque". */
const char *layer_file_kind_name(enum layer_file_kind k);

/* Called per entry; f is valid during the call only.  A non-zero return
 * stops the walk and is returned. */
typedef int (*layer_file_fn)(void *ctx, const struct layer_file *f);

/* Walks the uncompressed tar in `tar` (not owned).  With hash_content, each
 * regular file's data is hashed into f->content.  `what` names the layer in
 * errors. */
int layer_files_walk(struct byte_source *tar, bool hash_content, layer_file_fn fn, void *ctx, const char *what);

/* Opens a layer blob (`blob`, owned) as its uncompressed tar: the bytes are
 * checked against d's digest and size as they stream, so a walk that reads
 * to the end (layer_files_walk drains the stream) fails on a damaged blob. */
int layer_tar_open(struct byte_source **out, struct byte_source *blob, const struct descriptor *d);

#endif
