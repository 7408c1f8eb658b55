#include "core/layer_pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/media_type.h"
#include "core/readahead.h"

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

int layer_process(struct layer_outcome *out, struct byte_source *blob, const struct layer_task *task,
		  struct byte_sink *dest)
{
	const struct descriptor *d = task->source;
	struct byte_source *src = NULL;
	struct byte_sink *compress = NULL, *hashed_out = NULL;
	struct sha256 *diff_hash = NULL;
	char *buf = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	out->uncompressed_size = -1;
	struct counting_source *counter = calloc(1, sizeof(*counter));
	if (!counter) {
		source_close(blob);
		return error_set(ERR_FAILURE, "out of memory");
	}
	counter->base.read = counting_read;
	counter->base.close = counting_close;
	counter->inner = blob;
	counter->task = task;
	if ((rc = verified_source_new(&src, &counter->base, d->digest, d->size)))
		return rc;
	if (!(buf = malloc(STREAM_CHUNK))) {
		rc = error_set(ERR_FAILURE, "out of memory");
		goto out;
	}

	bool decode = (task->reencode || task->want_diff_id) && task->encoding != COMPRESSION_UNKNOWN;
	if (decode && !task->reencode && dest) {
		/* The raw bytes would have to go to dest and the decoded ones to
		 * the hash; callers measure first, then copy. */
		rc = error_set(ERR_FAILURE, "layer %s: cannot copy and measure in one pass", d->digest);
		goto out;
	}
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
	if ((rc = decompress_source_new(&src, src, task->encoding, what)))
		goto out;
	/* Reading, the digest check and decompression on one thread; the
	 * diffID, compression, its hash and the writing on this one. */
	src = readahead_source(src, d->size);
	if ((rc = sha256_new(&diff_hash)))
		goto out;
	if (task->reencode) {
		if ((rc = hashing_sink_new(&hashed_out, dest)) ||
		    (rc = compress_sink_new(&compress, hashed_out, &task->target)))
			goto out;
	}
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
		if ((rc = sha256_update(diff_hash, buf, (size_t)n)))
			goto out;
		if (compress && (rc = sink_write(compress, buf, (size_t)n)))
			goto out;
	}
	if ((rc = sha256_final(diff_hash, out->diff_id)))
		goto out;
	out->uncompressed_size = plain;
	const char *claimed = descriptor_annotation(d, ANN_UNCOMPRESSED);
	if (claimed && strcmp(claimed, out->diff_id) != 0) {
		rc = error_set(ERR_CORRUPT, "layer %s: its uncompressed bytes hash to %s, its diffID annotation says %s",
			       d->digest, out->diff_id, claimed);
		goto out;
	}
	if (compress) {
		if ((rc = sink_finish(compress)))
			goto out;
		hashing_sink_result(hashed_out, out->digest, &out->size);
	} else {
		if (dest && (rc = sink_finish(dest)))
			goto out;
		memcpy(out->digest, d->digest, DIGEST_BUF);
		out->size = d->size;
	}
out:
	free(buf);
	sha256_free(diff_hash);
	sink_close(compress);
	sink_close(hashed_out);
	source_close(src);
	return rc;
}
