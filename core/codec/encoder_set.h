/* Several encodings of one stream of plain bytes: what lets one read of a
 * layer feed every encoding asked for it (compression=zstd at one
 * destination, gzip at another, or two levels of one).
 *
 * The first encoding runs in the writer's thread; each other one behind a
 * writebehind sink (core/codec/writebehind.h), on a thread of its own with
 * bounded buffers, so the encoders work side by side and memory does not
 * grow with the layer. */
#ifndef CACHECTL_ENCODER_SET_H
#define CACHECTL_ENCODER_SET_H

#include <stddef.h>

#include "core/codec/codec.h"
#include "core/util/stream.h"

/* One encoding of the stream and where it goes. */
struct encoder_target {
	const struct codec_options *options; /* not eStargz (it walks a tar source) */
	struct byte_sink *dest;              /* not owned; NULL: hashed, then dropped */
	/* Filled by encoder_set_results: digest and size of the encoded bytes. */
	char digest[DIGEST_BUF];
	int64_t size;
};

struct encoder_set;

/* The set for n >= 1 targets (not owned; they must outlive the set). */
CACHECTL_MUST_CHECK int encoder_set_new(struct encoder_set **out, struct encoder_target *targets, size_t n);

/* Where the plain bytes go (owned by the set). */
struct byte_sink *encoder_set_input(struct encoder_set *s);

/* Once the input has finished (which finishes every encoding and its
 * dest): fills the targets' digests and sizes. */
void encoder_set_results(struct encoder_set *s);

/* Stops the encoder threads and frees the set; NULL is fine. */
void encoder_set_free(struct encoder_set *s);

#endif
