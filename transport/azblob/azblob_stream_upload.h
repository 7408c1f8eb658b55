/* Uploading one blob of a type=azblob cache from a stream whose digest may
 * be known only at the end.
 *
 * The bytes are spooled to an unlinked temporary file as they arrive
 * (transport/streamed_upload; a retried request sends its body again
 * whole).  At commit the blob goes up
 * with one Put Blob up to 32 MiB (BuildKit's single-request limit), else
 * as 8 MiB blocks, 4 at a time, and one Put Block List; both with
 * If-None-Match: *, so a blob someone else stored meanwhile is left as it
 * is and counts as present.
 *
 * When the name is known from the start (the digest was announced) and
 * the blob is large, blocks are sent while the rest is still being
 * written, so reading the source and sending overlap.  Uncommitted blocks
 * of an abandoned upload need no clean-up: the service drops them. */
#ifndef CACHECTL_AZBLOB_STREAM_UPLOAD_H
#define CACHECTL_AZBLOB_STREAM_UPLOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "transport/azblob/azblob_client.h"
#include "transport/streamed_upload.h"

#define AZBLOB_SINGLE_PUT_LIMIT (32LL << 20)
#define AZBLOB_BLOCK_SIZE (8LL << 20)
#define AZBLOB_MAX_BLOCKS 50000
#define AZBLOB_BLOCK_CONCURRENCY 4

/* Azure's steps of a streamed upload (transport/streamed_upload); their
 * ctx is the struct azblob_client. */
extern const struct streamed_upload_ops azblob_block_ops;
extern const struct streamed_upload_limits azblob_block_limits;

/* Block size for a blob of `size` bytes (>= 8 MiB, <= 50000 blocks). */
int64_t azblob_block_size_for(int64_t size);

#endif
