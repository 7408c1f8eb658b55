#include "transport/s3/s3_upload.h"

#include <stdlib.h>

#include "core/util/error.h"
#include "core/util/progress.h"
#include "transport/streamed_upload.h"

/* S3's steps of an upload in parts: parts numbered from 1, each payload's
 * SHA-256 signed, ETags named at completion. */
struct s3_upload {
	struct s3_client *client;
	struct progress *progress;
	struct streamed_upload *parts;
};

static const struct streamed_upload_limits s3_limits = {
	.whole_max = S3_SINGLE_PUT_LIMIT - 1,
	.part_size = S3_PART_SIZE,
	.max_parts = S3_MAX_PARTS,
	.concurrency = S3_PART_CONCURRENCY,
	.part_hashes = true,
};

int64_t s3_part_size_for(int64_t size)
{
	return streamed_upload_part_size(&s3_limits, size);
}

static int s3_begin(void *ctx, const char *key, char **upload_id)
{
	struct s3_upload *u = ctx;
	return s3_multipart_create(u->client, key, NULL, NULL, 0, upload_id);
}

static int s3_put_part(void *ctx, const char *key, const char *upload_id, size_t index,
		       const struct byte_range *body, const char *sha256_hex, char **etag)
{
	struct s3_upload *u = ctx;
	struct s3_body part = {.fd = body->fd, .offset = body->offset, .length = body->length, .sha256_hex = sha256_hex};
	return s3_multipart_upload_part(u->client, key, upload_id, (int)index + 1, &part, etag);
}

static int s3_commit(void *ctx, const char *key, const char *upload_id, char *const *etags, size_t n, bool *existed)
{
	struct s3_upload *u = ctx;
	*existed = false;
	return s3_multipart_complete(u->client, key, upload_id, etags, (int)n);
}

static void s3_abort(void *ctx, const char *key, const char *upload_id)
{
	struct s3_upload *u = ctx;
	struct error_state saved;
	error_save(&saved, ERR_FAILURE);
	if (s3_multipart_abort(u->client, key, upload_id))
		progress_note(u->progress,
			      "could not abort multipart upload %s (%s); a bucket lifecycle rule "
			      "(AbortIncompleteMultipartUpload) removes such leftovers",
			      upload_id, error_message());
	error_restore(&saved);
}

static int s3_put_whole(void *ctx, const char *key, const struct byte_range *body, const char *sha256_hex,
			bool *existed)
{
	struct s3_upload *u = ctx;
	struct s3_body whole = {.fd = body->fd, .offset = body->offset, .length = body->length, .sha256_hex = sha256_hex};
	*existed = false;
	return s3_put_object(u->client, key, &whole);
}

static const struct streamed_upload_ops s3_ops = {
	.begin = s3_begin,
	.put_part = s3_put_part,
	.commit = s3_commit,
	.abort = s3_abort,
	.put_whole = s3_put_whole,
};

int s3_upload_new(struct s3_upload **out, struct s3_client *c, struct progress *p, struct semaphore *slots,
		  int64_t expected_size)
{
	struct s3_upload *u = calloc(1, sizeof(*u));
	CHECK_ALLOC(u);
	u->client = c;
	u->progress = p;
	int rc = streamed_upload_new(&u->parts, &s3_ops, u, &s3_limits, slots, expected_size, "s3 upload");
	if (rc) {
		free(u);
		return rc;
	}
	*out = u;
	return 0;
}

int s3_upload_stream_to(struct s3_upload *u, const char *key)
{
	return streamed_upload_stream_to(u->parts, key);
}

int s3_upload_write(struct s3_upload *u, const void *buf, size_t len)
{
	return streamed_upload_write(u->parts, buf, len);
}

int s3_upload_end(struct s3_upload *u)
{
	return streamed_upload_end(u->parts);
}

int s3_upload_commit(struct s3_upload *u, const char *key, const char *sha256_hex)
{
	bool existed;
	return streamed_upload_commit(u->parts, key, sha256_hex, &existed);
}

void s3_upload_free(struct s3_upload *u)
{
	if (!u)
		return;
	streamed_upload_free(u->parts);
	free(u);
}
