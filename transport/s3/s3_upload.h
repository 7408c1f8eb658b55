/* Uploading one blob to S3 from a stream whose length and digest may be
 * known only at the end.
 *
 * The bytes are spooled to an unlinked temporary file as they arrive
 * (transport/streamed_upload), each part's SHA-256 computed on the way (the payload hash is signed, never
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

#include "transport/streamed_upload.h"

#define S3_SINGLE_PUT_LIMIT (16LL << 20) /* BuildKit >= v0.31: one PUT below 16 MiB */
#define S3_PART_SIZE (8LL << 20)         /* ... else 8 MiB parts */
#define S3_MAX_PARTS 10000
#define S3_PART_CONCURRENCY 5

/* S3's steps of a streamed upload (transport/streamed_upload); their ctx
 * is the struct s3_transport (its client, made before any writer, and its
 * progress for the note of an abort that failed). */
extern const struct streamed_upload_ops s3_upload_ops;
extern const struct streamed_upload_limits s3_upload_limits;

/* Part size for a blob of `size` bytes (fixed, >= 8 MiB, <= 10000 parts). */
int64_t s3_part_size_for(int64_t size);

#endif
