#include "core/codec/layer_pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/error.h"
#include "core/codec/estargz_reader.h"
#include "core/codec/estargz_writer.h"
#include "core/model/media_type.h"
#include "core/codec/readahead.h"

/* Counts the raw bytes taken from the blob, for progress. */
struct counting_source {
	struct byte_source base;
	struct byte_source *inner;
	const struct layer_task *task;
};

static ssize_t counting_read(struct byte_source *s, void *buf, size_t len)
{
	struct counting_source *c = (struct counting_source *)s;
	ssize_t n = source_read(c->inner, buf, len);
	if (n > 0 && c->task->on_progress)
		c->task->on_progress(c->task->progress_ctx, n);
	return n;
}

static void counting_close(struct byte_source *s)
{
	struct counting_source *c = (struct counting_source *)s;
	source_close(c->inner);
	free(c);
}

static int copy_through(struct byte_source *src, struct byte_sink *dest, char *buf)
{
	for (;;) {
		ssize_t n = source_read(src, buf, STREAM_CHUNK);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return dest ? sink_finish(dest) : 0;
		if (dest) {
			int rc = sink_write(dest, buf, (size_t)n);
			if (rc)
				return rc;
		}
	}
}

enum compression layer_encoding(const struct descriptor *d)
{
	enum compression c = media_type_compression(d->media_type);
	if (c == COMPRESSION_GZIP && descriptor_annotation(d, ANN_STARGZ_TOC))
		return COMPRESSION_ESTARGZ;
	return c;
}

/* The source's uncompressed bytes against its diffID annotation. */
static int check_source_diff_id(const struct descriptor *d, const char *measured)
{
	const char *claimed = descriptor_annotation(d, ANN_UNCOMPRESSED);
	if (claimed && strcmp(claimed, measured) != 0)
		return error_set(ERR_CORRUPT, "layer %s: its uncompressed bytes hash to %s, its diffID annotation says %s",
				 d->digest, measured, claimed);
	return 0;
}

/* An eStargz source against its own annotations. */
static int check_estargz_annotations(const struct descriptor *d, const struct estargz_read_result *r)
{
	const char *toc = descriptor_annotation(d, ANN_STARGZ_TOC);
	const char *size = descriptor_annotation(d, ANN_ESTARGZ_SIZE);
	char measured[24];
	int rc = check_source_diff_id(d, r->diff_id);
	if (rc)
		return rc;
	if (toc && strcmp(toc, r->toc_digest) != 0)
		return error_set(ERR_CORRUPT, "layer %s: its eStargz TOC hashes to %s, its %s annotation says %s", d->digest,
				 r->toc_digest, ANN_STARGZ_TOC, toc);
	snprintf(measured, sizeof(measured), "%lld", (long long)r->uncompressed_size);
	if (size && strcmp(size, measured) != 0)
		return error_set(ERR_CORRUPT, "layer %s: it decompresses to %s bytes, its %s annotation says %s", d->digest,
				 measured, ANN_ESTARGZ_SIZE, size);
	return 0;
}

/* The encoders of a re-encode: task->target to dest, and task->more. */
static int open_encoders(struct encoder_set **out, struct encoder_target **targets, const struct layer_task *task,
			 struct byte_sink *dest)
{
	struct encoder_target *t = calloc(task->n_more + 1, sizeof(*t));
	CHECK_ALLOC(t);
	t[0] = (struct encoder_target){.options = &task->target, .dest = dest};
	for (size_t i = 0; i < task->n_more; i++)
		t[i + 1] = task->more[i];
	int rc = encoder_set_new(out, t, task->n_more + 1);
	if (rc) {
		free(t);
		return rc;
	}
	*targets = t;
	return 0;
}

/* Once the encoders' input finished: the first one's result in out, the
 * others' in task->more (their diffID is out's). */
static void encoder_results(struct layer_outcome *out, struct encoder_set *set, struct encoder_target *t,
			    const struct layer_task *task)
{
	encoder_set_results(set);
	memcpy(out->digest, t[0].digest, DIGEST_BUF);
	out->size = t[0].size;
	for (size_t i = 0; i < task->n_more; i++) {
		memcpy(task->more[i].digest, t[i + 1].digest, DIGEST_BUF);
		task->more[i].size = t[i + 1].size;
	}
}

/* eStargz -> checked, and (when re-encoding) its plain tar -> target. */
static int from_estargz(struct layer_outcome *out, struct byte_source *src, const struct layer_task *task,
			struct byte_sink *dest, const char *what)
{
	const struct descriptor *d = task->source;
	struct byte_sink *plain_hash = NULL;
	struct encoder_set *encoders = NULL;
	struct encoder_target *targets = NULL;
	struct estargz_read_result r;
	int rc = 0;
	if (task->reencode) {
		if (task->target.compression == COMPRESSION_ESTARGZ) {
			source_close(src);
			return error_set(ERR_FAILURE, "layer %s is eStargz already", d->digest);
		}
		if ((rc = open_encoders(&encoders, &targets, task, dest)) ||
		    (rc = hashing_sink_new(&plain_hash, encoder_set_input(encoders)))) {
			source_close(src);
			goto out;
		}
	}
	if ((rc = estargz_read(&r, src, plain_hash, what)) || (rc = check_estargz_annotations(d, &r)))
		goto out;
	if (plain_hash) {
		/* The hash passes the finish on to the encoders. */
		if ((rc = sink_finish(plain_hash)))
			goto out;
		hashing_sink_result(plain_hash, out->diff_id, &out->uncompressed_size);
		encoder_results(out, encoders, targets, task);
		goto out;
	}
	if (dest && (rc = sink_finish(dest)))
		goto out;
	memcpy(out->digest, d->digest, DIGEST_BUF);
	out->size = d->size;
	memcpy(out->diff_id, r.diff_id, DIGEST_BUF);
	out->uncompressed_size = r.uncompressed_size;
	memcpy(out->toc_digest, r.toc_digest, DIGEST_BUF);
	out->toc_entries = (int64_t)r.toc_entries;
out:
	sink_close(plain_hash);
	encoder_set_free(encoders);
	free(targets);
	return rc;
}

/* Any other encoding -> its tar -> eStargz. */
static int to_estargz(struct layer_outcome *out, struct byte_source *src, const struct layer_task *task,
		      struct byte_sink *dest, const char *what)
{
	const struct descriptor *d = task->source;
	struct byte_sink *hashed_out = NULL;
	struct estargz_write_result w;
	/* An uncompressed source's digest is its diffID, checked as it
	 * streams: the writer need not hash it again. */
	bool plain = task->encoding == COMPRESSION_UNCOMPRESSED;
	struct estargz_write_options o = {.level_set = task->target.level_set,
					  .level = task->target.level,
					  .lossless = task->target.estargz_lossless,
					  .source_digest_known = plain};
	int rc = decompress_source_new(&src, src, task->encoding, what);
	if (rc)
		return rc;
	/* Reading, the digest check and decompression on a thread of their
	 * own, while this one walks the tar and feeds the compressors. */
	src = readahead_source(src, d->size);
	if ((rc = hashing_sink_new(&hashed_out, dest)) || (rc = estargz_write(&w, src, hashed_out, &o, what)) ||
	    (rc = check_source_diff_id(d, o.lossless || !plain ? w.source_diff_id : d->digest)) ||
	    (rc = sink_finish(hashed_out)))
		goto out;
	hashing_sink_result(hashed_out, out->digest, &out->size);
	memcpy(out->diff_id, w.diff_id, DIGEST_BUF);
	out->uncompressed_size = w.uncompressed_size;
	memcpy(out->toc_digest, w.toc_digest, DIGEST_BUF);
	out->toc_entries = (int64_t)w.toc_entries;
out:
	sink_close(hashed_out);
	source_close(src);
	return rc;
}

/* Decompress, hash, and (when re-encoding) compress again. */
static int through_codecs(struct layer_outcome *out, struct byte_source *src, const struct layer_task *task,
			  struct byte_sink *dest, char *buf, const char *what)
{
	const struct descriptor *d = task->source;
	struct byte_sink *compress = NULL;
	struct encoder_set *encoders = NULL;
	struct encoder_target *targets = NULL;
	struct sha256 *diff_hash = NULL;
	int rc;
	if ((rc = decompress_source_new(&src, src, task->encoding, what)))
		return rc;
	/* Reading, the digest check and decompression on one thread; the
	 * diffID, compression, its hash and the writing on this one. */
	src = readahead_source(src, d->size);
	if ((rc = sha256_new(&diff_hash)))
		goto out;
	if (task->reencode) {
		if ((rc = open_encoders(&encoders, &targets, task, dest)))
			goto out;
		compress = encoder_set_input(encoders);
	}
	/* An uncompressed blob is its own tar: its digest, checked as it
	 * streams, is its diffID, and a second hash would only cost time. */
	bool hash_plain = task->encoding != COMPRESSION_UNCOMPRESSED;
	int64_t plain = 0;
	for (;;) {
		ssize_t n = source_read(src, buf, STREAM_CHUNK);
		if (n < 0) {
			rc = (int)n;
			goto out;
		}
		if (n == 0)
			break;
		plain += n;
		if (hash_plain && (rc = sha256_update(diff_hash, buf, (size_t)n)))
			goto out;
		if (compress && (rc = sink_write(compress, buf, (size_t)n)))
			goto out;
	}
	if (!hash_plain)
		memcpy(out->diff_id, d->digest, DIGEST_BUF);
	else if ((rc = sha256_final(diff_hash, out->diff_id)))
		goto out;
	out->uncompressed_size = plain;
	if ((rc = check_source_diff_id(d, out->diff_id)))
		goto out;
	if (compress) {
		if ((rc = sink_finish(compress)))
			goto out;
		encoder_results(out, encoders, targets, task);
	} else {
		if (dest && (rc = sink_finish(dest)))
			goto out;
		memcpy(out->digest, d->digest, DIGEST_BUF);
		out->size = d->size;
	}
out:
	sha256_free(diff_hash);
	encoder_set_free(encoders);
	free(targets);
	source_close(src);
	return rc;
}

/* Each road (to or from eStargz, or through the byte codecs) takes the
 * source over. */
static int take_road(struct layer_outcome *out, struct byte_source *src, const struct layer_task *task,
		     struct byte_sink *dest, char *buf, const char *what)
{
	if (task->encoding == COMPRESSION_ESTARGZ)
		return from_estargz(out, src, task, dest, what);
	if (task->reencode && task->target.compression == COMPRESSION_ESTARGZ)
		return to_estargz(out, src, task, dest, what);
	return through_codecs(out, src, task, dest, buf, what);
}

/* The raw bytes go to a copy as the decoder pulls them.  A road closes the
 * source it is given, so this stage is borrowed: its close leaves inner to
 * with_raw_copy, which passes on whatever the decoder did not read
 * (nothing: decoders read to the end, where the digest is checked) before
 * finishing the copy. */
struct copying_source {
	struct byte_source base;
	struct byte_source *inner;
	struct byte_sink *copy;
};

static ssize_t copying_read(struct byte_source *s, void *buf, size_t len)
{
	struct copying_source *c = (struct copying_source *)s;
	ssize_t n = source_read(c->inner, buf, len);
	if (n > 0) {
		int rc = sink_write(c->copy, buf, (size_t)n);
		if (rc)
			return rc;
	}
	return n;
}

static void copying_close(struct byte_source *s)
{
	(void)s;
}

/* The road from src (owned) to dest, with the source bytes copied
 * unchanged to `copy` in the same read. */
static int with_raw_copy(struct layer_outcome *out, struct byte_source *src, const struct layer_task *task,
			 struct byte_sink *dest, struct byte_sink *copy, char *buf, const char *what)
{
	struct copying_source tee = {{copying_read, copying_close}, src, copy};
	int rc = take_road(out, &tee.base, task, dest, buf, what);
	if (!rc)
		rc = copy_through(&tee.base, NULL, buf);
	if (!rc)
		rc = sink_finish(copy);
	source_close(src);
	return rc;
}

int layer_process(struct layer_outcome *out, struct byte_source *blob, const struct layer_task *task,
		  struct byte_sink *dest)
{
	const struct descriptor *d = task->source;
	struct byte_source *src = NULL;
	char *buf = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	out->uncompressed_size = -1;
	out->toc_entries = -1;
	struct counting_source *counter = calloc(1, sizeof(*counter));
	if (!counter) {
		source_close(blob);
		return error_oom();
	}
	counter->base.read = counting_read;
	counter->base.close = counting_close;
	counter->inner = blob;
	counter->task = task;
	if ((rc = verified_source_new(&src, &counter->base, d->digest, d->size)))
		return rc;
	if (!(buf = malloc(STREAM_CHUNK))) {
		rc = error_oom();
		goto out;
	}

	if (task->n_more && (!task->reencode || task->target.compression == COMPRESSION_ESTARGZ)) {
		rc = error_set(ERR_FAILURE, "layer %s: several encodings are for a re-encode to anything but eStargz",
			       d->digest);
		goto out;
	}
	bool decode = (task->reencode || task->want_diff_id) && task->encoding != COMPRESSION_UNKNOWN;
	if (!decode) {
		/* Reading and the digest check overlap the writing. */
		src = readahead_source(src, d->size);
		if ((rc = copy_through(src, dest, buf)))
			goto out;
		memcpy(out->digest, d->digest, DIGEST_BUF);
		out->size = d->size;
		goto out;
	}

	char what[DIGEST_BUF + 8];
	snprintf(what, sizeof(what), "layer %s", d->digest);
	/* A copy that measures its diffID: the raw bytes are what dest gets. */
	struct byte_sink *raw = task->reencode ? task->copy_to : dest;
	if (!task->reencode)
		dest = NULL;
	if (raw)
		rc = with_raw_copy(out, src, task, dest, raw, buf, what);
	else
		rc = take_road(out, src, task, dest, buf, what);
	src = NULL;
out:
	free(buf);
	source_close(src);
	return rc;
}
