/* Layer tar -> eStargz blob, in one streaming pass.
 *
 * Two layouts, both cut into gzip members so that every chunk (4 MiB by
 * default) of every regular file starts one, both followed by the table of
 * contents (TOC) in a member of its own and the 51-byte footer:
 *
 *  - entries (the default): the layout of stargz-snapshotter's
 *    estargz.Build (ctr-remote, nerdctl) with no prioritised files.  One
 *    tar archive: the landmark file .no.prefetch.landmark first, the
 *    layer's entries (their header bytes as the source has them), then the
 *    TOC entry stargz.index.json as the last entry, then the archive's only
 *    end-of-archive marker.  The source's own end-of-archive blocks and
 *    anything after them are left out, and so are entries of the source
 *    named like the TOC or a landmark (an earlier eStargz conversion's), as
 *    the reference converter leaves them out.  Any tar reader lists the TOC
 *    and the landmark as files.
 *
 *  - lossless: what BuildKit's compression=estargz writes (the reference
 *    Writer.AppendTarLossLess, no landmark): the source tar byte for byte,
 *    end-of-archive blocks and trailing bytes included, then a second tar
 *    holding only the TOC.  A tar reader stops at the first end-of-archive
 *    marker and sees exactly the source's entries.  A source entry named
 *    like the TOC cannot be kept and is refused.
 *
 * libarchive reads the entries; the bytes pass through one bounded window,
 * so memory does not grow with file sizes. */
#ifndef CACHECTL_ESTARGZ_WRITER_H
#define CACHECTL_ESTARGZ_WRITER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/util/digest.h"
#include "core/util/stream.h"

struct estargz_write_options {
	bool level_set;
	int level;          /* gzip level as Go's flate: -2..9 */
	int64_t chunk_size; /* 0: the format's default, 4 MiB */
	bool lossless;      /* BuildKit's layout instead of the entry layout */
	/* The caller has the tar's digest already (an uncompressed source: its
	 * blob digest, checked as it streams, is its diffID), so the entry
	 * layout need not hash the source a second time; source_diff_id is
	 * then left empty.  (Lossless, the source's digest costs nothing.) */
	bool source_digest_known;
};

struct estargz_write_result {
	char toc_digest[DIGEST_BUF];     /* sha256 of the TOC JSON bytes */
	char diff_id[DIGEST_BUF];        /* of the whole decompressed blob, TOC tar included */
	int64_t uncompressed_size;       /* of the same */
	char source_diff_id[DIGEST_BUF]; /* of the tar read */
	int64_t source_size;
	size_t toc_entries;              /* the landmark's included */
	size_t dropped;                  /* source entries left out (an old TOC or landmark) */
};

/* Reads the layer tar from tar (not owned) and writes the eStargz blob to
 * dest (not owned, not finished).  ERR_CORRUPT naming `what` and the entry
 * for a tar eStargz cannot hold or cachectl refuses (paths outside the
 * root, duplicate entries, sparse files, in the lossless layout an existing
 * TOC entry, a truncated archive); the bytes written are then not to be
 * kept. */
int estargz_write(struct estargz_write_result *out, struct byte_source *tar, struct byte_sink *dest,
		  const struct estargz_write_options *o, const char *what);

#endif
