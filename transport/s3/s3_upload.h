/* Uploading one blob to S3 from a stream whose length and digest may be
 * known only at the end.
 *
 * The bytes are spooled to an unlinked temporary file as they arrive, each
 * part's SHA-256 computed on the way (the payload hash is signed, never
 * "UNSIGNED-PAYLOAD" or aws-chunked).  At commit the blob goes up whole
 * (below 16 MiB) or as a multipart upload of fixed-size parts (8 MiB, more
 * for objects over 78 GiB; all parts but the last equal, as Cloudflare R2
 * requires), 5 parts at a time, aborted when anything fails.
 *
 * When the key is known from the start (the digest was announced) and the
 * blob is large, parts are sent while the rest is still being written, so
 * reading the source and sending overlap. */
#ifndef CACHECTL_S3_UPLOAD_H
#define CACHECTL_S3_UPLOAD_H

#include "core/util/error.h"

#include <stdint.h>

#include "transport/s3/s3_client.h"

#define S3_SINGLE_PUT_LIMIT (16LL << 20) /* BuildKit >= v0.31: one PUT below 16 MiB */
#define S3_PART_SIZE (8LL << 20)         /* ... else 8 MiB parts */
#define S3_MAX_PARTS 10000
#define S3_PART_CONCURRENCY 5

struct s3_upload;
struct semaphore;

/* expected_size: the announced size, or 0 when unknown.  slots (not owned,
 * may be NULL) limits how many blobs one destination uploads at once
 * (upload_parallelism): a unit is held from the first part to the end. */
CACHECTL_MUST_CHECK int s3_upload_new(struct s3_upload **out, struct s3_client *c, struct progress *p, struct semaphore *slots,
		  int64_t expected_size);

/* Sends full parts to `key` as soon as they are spooled (call before any
 * write; only worth it when the expected size calls for multipart). */
CACHECTL_MUST_CHECK int s3_upload_stream_to(struct s3_upload *u, const char *key);

CACHECTL_MUST_CHECK int s3_upload_write(struct s3_upload *u, const void *buf, size_t len);
/* The end of the bytes. */
CACHECTL_MUST_CHECK int s3_upload_end(struct s3_upload *u);

/* Stores the bytes under key; sha256_hex is their digest (the engine
 * computed it over exactly these bytes).  A streamed upload to another key
 * is abandoned and the bytes sent again. */
CACHECTL_MUST_CHECK int s3_upload_commit(struct s3_upload *u, const char *key, const char *sha256_hex);

/* Frees; an unfinished multipart upload is aborted. */
void s3_upload_free(struct s3_upload *u);

/* Part size for a blob of `size` bytes (fixed, >= 8 MiB, <= 10000 parts). */
int64_t s3_part_size_for(int64_t size);

#endif
