/* Layer tar -> eStargz blob, in one streaming pass.
 *
 * Does what BuildKit's compression=estargz does (stargz-snapshotter's
 * Writer.AppendTarLossLess, default 4 MiB chunks, no prioritised files,
 * no landmarks): the tar is kept byte for byte, cut into gzip members so
 * that every chunk of every regular file starts one; the table of contents
 * and the footer follow.  libarchive reads the entries; the bytes pass
 * through one bounded window, so memory does not grow with file sizes. */
#ifndef CACHECTL_ESTARGZ_WRITER_H
#define CACHECTL_ESTARGZ_WRITER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/digest.h"
#include "core/stream.h"

struct estargz_write_options {
	bool level_set;
	int level;          /* gzip level as Go's flate: -2..9 */
	int64_t chunk_size; /* 0: the format's default, 4 MiB */
};

struct estargz_write_result {
	char toc_digest[DIGEST_BUF];     /* sha256 of the TOC JSON bytes */
	char diff_id[DIGEST_BUF];        /* of the whole decompressed blob, TOC tar included */
	int64_t uncompressed_size;       /* of the same */
	char source_diff_id[DIGEST_BUF]; /* of the tar read */
	int64_t source_size;
	size_t toc_entries;
};

/* Reads the layer tar from tar (not owned) and writes the eStargz blob to
 * dest (not owned, not finished).  ERR_CORRUPT naming `what` and the entry
 * for a tar eStargz cannot hold or cachectl refuses (paths outside the
 * root, duplicate entries, sparse files, an existing TOC entry, a
 * truncated archive); the bytes written are then not to be kept. */
int estargz_write(struct estargz_write_result *out, struct byte_source *tar, struct byte_sink *dest,
		  const struct estargz_write_options *o, const char *what);

#endif
