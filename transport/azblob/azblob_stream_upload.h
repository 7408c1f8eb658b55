/* Uploading one blob of a type=azblob cache from a stream whose digest may
 * be known only at the end.
 *
 * The bytes are spooled to an unlinked temporary file as they arrive (a
 * retried request sends its body again whole).  At commit the blob goes up
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

#define AZBLOB_SINGLE_PUT_LIMIT (32LL << 20)
#define AZBLOB_BLOCK_SIZE (8LL << 20)
#define AZBLOB_MAX_BLOCKS 50000
#define AZBLOB_BLOCK_CONCURRENCY 4

struct azblob_stream_upload;
struct semaphore;

/* expected_size: the announced size, or 0 when unknown.  slots (may be
 * NULL; not owned) bounds how many blobs one destination sends at once. */
int azblob_stream_upload_new(struct azblob_stream_upload **out, struct azblob_client *c, struct semaphore *slots,
			     int64_t expected_size);
/* Sends blocks to blob `name` as soon as they are spooled (call before any
 * write; worth it only when the expected size is above the single limit). */
int azblob_stream_upload_to(struct azblob_stream_upload *u, const char *name);
int azblob_stream_upload_write(struct azblob_stream_upload *u, const void *buf, size_t len);
int azblob_stream_upload_end(struct azblob_stream_upload *u);
/* Stores the bytes as blob `name`; *existed when it was there already. */
int azblob_stream_upload_commit(struct azblob_stream_upload *u, const char *name, bool *existed);
void azblob_stream_upload_free(struct azblob_stream_upload *u);

/* Block size for a blob of `size` bytes (>= 8 MiB, <= 50000 blocks). */
int64_t azblob_block_size_for(int64_t size);

#endif
