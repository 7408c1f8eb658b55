/* One layer blob in one pass: the source bytes are checked against their
 * digest and size while they stream; when the layer is re-encoded or its
 * diffID is wanted they are decompressed and hashed, recompressed and
 * hashed again, and written -- bounded buffers, nothing held whole.
 *
 * eStargz takes other roads through the same pass: to write it, the tar is
 * walked entry by entry (core/estargz_writer.h); to read it, the blob is
 * checked against its TOC while its plain tar -- without TOC and landmark
 * entries, so with another diffID -- streams on (core/estargz_reader.h). */
#ifndef CACHECTL_LAYER_PIPELINE_H
#define CACHECTL_LAYER_PIPELINE_H

#include <stdbool.h>

#include "core/codec/codec.h"
#include "core/codec/encoder_set.h"
#include "core/model/descriptor.h"
#include "core/util/stream.h"

struct layer_task {
	const struct descriptor *source; /* digest, size, media type, diffID annotation */
	enum compression encoding;       /* of the source blob; UNKNOWN: opaque bytes */
	bool reencode;                   /* to `target` */
	struct codec_options target;
	/* Decompress and hash even without re-encoding; the raw bytes still
	 * go to dest in the same pass (a copy that measures its diffID). */
	bool want_diff_id;
	/* When re-encoding: the source bytes, unchanged, also go here as they
	 * are read (destinations that take the blob as it is ride on the same
	 * read).  Not owned; may be NULL. */
	struct byte_sink *copy_to;
	/* When re-encoding: more encodings fed by the same read, each to its
	 * own dest on a thread of its own (core/codec/encoder_set.h); their
	 * digests and sizes are filled in, their diffID is the outcome's.
	 * Neither these nor `target` may then be eStargz. */
	struct encoder_target *more;
	size_t n_more;
	/* Called with the number of source bytes consumed, as they are. */
	void (*on_progress)(void *ctx, int64_t bytes);
	void *progress_ctx;
};

struct layer_outcome {
	char digest[DIGEST_BUF]; /* of the bytes written (the source's when copied) */
	int64_t size;
	char diff_id[DIGEST_BUF]; /* empty unless decompressed */
	int64_t uncompressed_size; /* -1 unless decompressed */
	/* When the result is eStargz (written, or read and checked): */
	char toc_digest[DIGEST_BUF]; /* of its TOC JSON; empty otherwise */
	int64_t toc_entries;         /* elements of its TOC; -1 otherwise */
};

/* The encoding of a layer blob as its descriptor tells it: eStargz blobs
 * carry the gzip media type and a TOC digest annotation. */
enum compression layer_encoding(const struct descriptor *d);

/* Streams `blob` (the raw source bytes; owned) through the task into `dest`
 * (may be NULL to only check) and task->copy_to.  Fails with ERR_CORRUPT
 * when the bytes do not match the descriptor's digest or size, or the
 * uncompressed bytes not its diffID annotation, or an eStargz source not its
 * TOC and annotations; nothing written to dest or copy_to is then to be
 * committed. */
int layer_process(struct layer_outcome *out, struct byte_source *blob, const struct layer_task *task,
		  struct byte_sink *dest);

#endif
