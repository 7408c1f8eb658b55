/* Layer encodings as streams: a decompressing source and a compressing sink
 * per encoding (zlib for gzip, libzstd for zstd). */
#ifndef CACHECTL_CODEC_H
#define CACHECTL_CODEC_H

#include <stdbool.h>

#include "core/model/media_type.h"
#include "core/util/library_version.h"
#include "core/util/stream.h"

struct codec_options {
	enum compression compression;
	bool level_set;
	int level; /* meaning depends on the encoding; see codec_check_level */
	/* eStargz only: BuildKit's lossless layout instead of the entry layout
	 * (core/estargz_writer.h) */
	bool estargz_lossless;
};

/* ERR_USAGE naming the level when the encoding has no such level:
 * gzip -2 (Huffman only), -1 (default), 0..9; zstd 1..22 and the fast
 * levels -7..-1; uncompressed ignores levels. */
/* libarchive, libzstd and zlib: compiled-against and running versions. */
size_t codec_library_versions(struct library_version *out, size_t max);

int codec_check_level(enum compression c, int level);

/* Reads the uncompressed tar out of inner (owned).  gzip streams may hold
 * several members and zstd several frames; a stream that ends early is an
 * error naming `what`. */
int decompress_source_new(struct byte_source **out, struct byte_source *inner, enum compression c,
			  const char *what);

/* Compresses what is written and passes it to next (not owned). */
int compress_sink_new(struct byte_sink **out, struct byte_sink *next, const struct codec_options *o);

/* Per-encoding constructors behind the two above. */
int gzip_source_new(struct byte_source **out, struct byte_source *inner, const char *what);
int gzip_sink_new(struct byte_sink **out, struct byte_sink *next, bool level_set, int level);
int zstd_source_new(struct byte_source **out, struct byte_source *inner, const char *what);
int zstd_sink_new(struct byte_sink **out, struct byte_sink *next, bool level_set, int level);
/* n zstd encoders (out[i] to next[i] at o[i]'s level) that work on one
 * stream together (core/codec/encoder_set.h): their memory is taken from
 * the encoders' shared budget at once, since a set holding part of it while
 * it waits for the rest could wait for itself forever. */
int zstd_sinks_new(struct byte_sink **out, struct byte_sink **next, const struct codec_options **o, size_t n);

#endif
