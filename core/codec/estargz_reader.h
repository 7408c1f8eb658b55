/* eStargz blob -> plain layer tar, checking the blob against its own table
 * of contents on the way.
 *
 * One sequential pass: the gzip members are decompressed in order and the
 * tar in them walked by libarchive; each regular file's data is hashed per
 * gzip member it lies in.  When the TOC arrives at the end, it must match
 * the tar entry for entry (names, types, sizes, link targets), every chunk
 * must point at the gzip member its data starts in, and every digest must
 * be the digest of the bytes; the footer must point at the TOC.
 *
 * The plain tar is the layer without the eStargz additions: the TOC (and
 * the footer) are left out, and so are the landmark files
 * (.prefetch.landmark, .no.prefetch.landmark) that eStargz converters put
 * in for prefetching.  Its diffID therefore differs from the eStargz
 * blob's, whose diffID covers the TOC tar too. */
#ifndef CACHECTL_ESTARGZ_READER_H
#define CACHECTL_ESTARGZ_READER_H

#include <stddef.h>
#include <stdint.h>

#include "core/util/digest.h"
#include "core/util/stream.h"

struct estargz_read_result {
	char toc_digest[DIGEST_BUF]; /* sha256 of the TOC JSON bytes */
	size_t toc_entries;          /* elements of the TOC's "entries" (chunk entries too) */
	char diff_id[DIGEST_BUF];    /* of the whole decompressed blob, TOC tar included */
	int64_t uncompressed_size;   /* of the same */
	int64_t toc_offset;          /* compressed offset of the TOC member */
	size_t landmarks;            /* landmark entries left out of the plain tar */
};

/* Reads the blob from `blob` (owned) and writes the plain tar to `plain`
 * (not owned, not finished; NULL to only check).  ERR_CORRUPT naming
 * `what` when the blob is not eStargz, is damaged, or its TOC or footer do
 * not tell the truth about it; the bytes written are then not to be kept. */
int estargz_read(struct estargz_read_result *out, struct byte_source *blob, struct byte_sink *plain,
		 const char *what);

#endif
