#include "transport/azblob/azblob_stream_upload.h"

#include <openssl/rand.h>
#include <stdlib.h>

#include "core/util/error.h"
#include "transport/azblob/azblob_upload.h"
#include "transport/streamed_upload.h"

/* Azure's steps of an upload in parts: blocks named by this upload's UUID
 * and their number, no session to begin or abort (the service drops
 * uncommitted blocks), If-None-Match: * on the blob and the list. */
struct azblob_stream_upload {
	struct azblob_client *client;
	unsigned char uuid[16]; /* of this upload's block ids */
	struct streamed_upload *parts;
};

static const struct streamed_upload_limits azblob_limits = {
	.whole_max = AZBLOB_SINGLE_PUT_LIMIT,
	.part_size = AZBLOB_BLOCK_SIZE,
	.max_parts = AZBLOB_MAX_BLOCKS,
	.concurrency = AZBLOB_BLOCK_CONCURRENCY,
};

int64_t azblob_block_size_for(int64_t size)
{
	return streamed_upload_part_size(&azblob_limits, size);
}

static int az_put_block(void *ctx, const char *name, const char *session, size_t index,
			const struct byte_range *body, const char *sha256_hex, char **token)
{
	struct azblob_stream_upload *u = ctx;
	char id[AZBLOB_BLOCK_ID_BUF];
	(void)session, (void)sha256_hex, (void)token;
	int rc = azblob_block_id(id, u->uuid, (uint32_t)index);
	return rc ? rc : azblob_put_block(u->client, name, id, body);
}

static int az_block_list(void *ctx, const char *name, const char *session, char *const *tokens, size_t n,
			 bool *existed)
{
	struct azblob_stream_upload *u = ctx;
	(void)session, (void)tokens;
	char **ids = calloc(n ? n : 1, sizeof(*ids));
	CHECK_ALLOC(ids);
	int rc = 0;
	for (size_t i = 0; !rc && i < n; i++) {
		if (!(ids[i] = malloc(AZBLOB_BLOCK_ID_BUF)))
			rc = error_oom();
		else
			rc = azblob_block_id(ids[i], u->uuid, (uint32_t)i);
	}
	if (!rc)
		rc = azblob_put_block_list(u->client, name, ids, n, true, existed);
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	return rc;
}

static int az_put_blob(void *ctx, const char *name, const struct byte_range *body, const char *sha256_hex,
		       bool *existed)
{
	struct azblob_stream_upload *u = ctx;
	(void)sha256_hex;
	return azblob_put_blob(u->client, name, body, true, existed);
}

static const struct streamed_upload_ops azblob_ops = {
	.put_part = az_put_block,
	.commit = az_block_list,
	.put_whole = az_put_blob,
};

int azblob_stream_upload_new(struct azblob_stream_upload **out, struct azblob_client *c, struct semaphore *slots,
			     int64_t expected_size)
{
	struct azblob_stream_upload *u = calloc(1, sizeof(*u));
	CHECK_ALLOC(u);
	u->client = c;
	int rc = azblob_upload_uuid(u->uuid);
	if (!rc)
		rc = streamed_upload_new(&u->parts, &azblob_ops, u, &azblob_limits, slots, expected_size,
					 "azblob upload");
	if (rc) {
		free(u);
		return rc;
	}
	*out = u;
	return 0;
}

int azblob_stream_upload_to(struct azblob_stream_upload *u, const char *name)
{
	return streamed_upload_stream_to(u->parts, name);
}

int azblob_stream_upload_write(struct azblob_stream_upload *u, const void *buf, size_t len)
{
	return streamed_upload_write(u->parts, buf, len);
}

int azblob_stream_upload_end(struct azblob_stream_upload *u)
{
	return streamed_upload_end(u->parts);
}

int azblob_stream_upload_commit(struct azblob_stream_upload *u, const char *name, bool *existed)
{
	return streamed_upload_commit(u->parts, name, NULL, existed);
}

void azblob_stream_upload_free(struct azblob_stream_upload *u)
{
	if (!u)
		return;
	streamed_upload_free(u->parts);
	free(u);
}
