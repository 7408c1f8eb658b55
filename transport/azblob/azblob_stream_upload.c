#include "transport/azblob/azblob_stream_upload.h"

#include <stdlib.h>

#include "core/util/error.h"
#include "transport/azblob/azblob_upload.h"

/* Azure's steps of an upload in parts: the session is the UUID that names
 * this upload's blocks (with their number), nothing to abort (the service
 * drops uncommitted blocks), If-None-Match: * on the blob and the list.
 * ctx is the azblob_client. */

const struct streamed_upload_limits azblob_block_limits = {
	.whole_max = AZBLOB_SINGLE_PUT_LIMIT,
	.part_size = AZBLOB_BLOCK_SIZE,
	.max_parts = AZBLOB_MAX_BLOCKS,
	.concurrency = AZBLOB_BLOCK_CONCURRENCY,
};

int64_t azblob_block_size_for(int64_t size)
{
	return streamed_upload_part_size(&azblob_block_limits, size);
}

static int az_begin(void *ctx, const char *name, char **session)
{
	(void)ctx, (void)name;
	return azblob_block_session(session);
}

static int az_put_block(void *ctx, const char *name, const char *session, size_t index,
			const struct byte_range *body, const char *sha256_hex, char **token)
{
	char id[AZBLOB_BLOCK_ID_BUF];
	(void)sha256_hex, (void)token;
	int rc = azblob_session_block_id(id, session, (uint32_t)index);
	return rc ? rc : azblob_put_block(ctx, name, id, body);
}

static int az_block_list(void *ctx, const char *name, const char *session, char *const *tokens, size_t n,
			 bool *existed)
{
	(void)tokens;
	char **ids = calloc(n ? n : 1, sizeof(*ids));
	CHECK_ALLOC(ids);
	int rc = 0;
	for (size_t i = 0; !rc && i < n; i++) {
		if (!(ids[i] = malloc(AZBLOB_BLOCK_ID_BUF)))
			rc = error_oom();
		else
			rc = azblob_session_block_id(ids[i], session, (uint32_t)i);
	}
	if (!rc)
		rc = azblob_put_block_list(ctx, name, ids, n, true, existed);
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	return rc;
}

static int az_put_blob(void *ctx, const char *name, const struct byte_range *body, const char *sha256_hex,
		       bool *existed)
{
	(void)sha256_hex;
	return azblob_put_blob(ctx, name, body, true, existed);
}

const struct streamed_upload_ops azblob_block_ops = {
	.begin = az_begin,
	.put_part = az_put_block,
	.commit = az_block_list,
	.put_whole = az_put_blob,
};
