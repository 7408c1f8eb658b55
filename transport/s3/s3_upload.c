#include "transport/s3/s3_upload.h"

#include <stdlib.h>

#include "core/util/error.h"
#include "core/util/progress.h"
#include "transport/s3/s3.h"
#include "transport/s3/s3_client.h"

/* S3's steps of an upload in parts: parts numbered from 1, each payload's
 * SHA-256 signed, ETags named at completion.  ctx is the s3_transport. */

const struct streamed_upload_limits s3_upload_limits = {
	.whole_max = S3_SINGLE_PUT_LIMIT - 1,
	.part_size = S3_PART_SIZE,
	.max_parts = S3_MAX_PARTS,
	.concurrency = S3_PART_CONCURRENCY,
	.part_hashes = true,
};

int64_t s3_part_size_for(int64_t size)
{
	return streamed_upload_part_size(&s3_upload_limits, size);
}

static int s3_begin(void *ctx, const char *key, char **upload_id)
{
	struct s3_transport *s = ctx;
	return s3_multipart_create(s->client, key, NULL, NULL, 0, upload_id);
}

static int s3_put_part(void *ctx, const char *key, const char *upload_id, size_t index,
		       const struct byte_range *body, const char *sha256_hex, char **etag)
{
	struct s3_transport *s = ctx;
	struct s3_body part = {.fd = body->fd, .offset = body->offset, .length = body->length, .sha256_hex = sha256_hex};
	return s3_multipart_upload_part(s->client, key, upload_id, (int)index + 1, &part, etag);
}

static int s3_commit(void *ctx, const char *key, const char *upload_id, char *const *etags, size_t n, bool *existed)
{
	struct s3_transport *s = ctx;
	*existed = false;
	return s3_multipart_complete(s->client, key, upload_id, etags, (int)n);
}

static void s3_abort(void *ctx, const char *key, const char *upload_id)
{
	struct s3_transport *s = ctx;
	struct error_state saved;
	error_save(&saved, ERR_FAILURE);
	if (s3_multipart_abort(s->client, key, upload_id))
		progress_note(s->base.progress,
			      "could not abort multipart upload %s (%s); a bucket lifecycle rule "
			      "(AbortIncompleteMultipartUpload) removes such leftovers",
			      upload_id, error_message());
	error_restore(&saved);
}

static int s3_put_whole(void *ctx, const char *key, const struct byte_range *body, const char *sha256_hex,
			bool *existed)
{
	struct s3_transport *s = ctx;
	struct s3_body whole = {.fd = body->fd, .offset = body->offset, .length = body->length, .sha256_hex = sha256_hex};
	*existed = false;
	return s3_put_object(s->client, key, &whole);
}

const struct streamed_upload_ops s3_upload_ops = {
	.begin = s3_begin,
	.put_part = s3_put_part,
	.commit = s3_commit,
	.abort = s3_abort,
	.put_whole = s3_put_whole,
};
