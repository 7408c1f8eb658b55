/* One blob going up in parts, whatever the protocol: S3 multipart upload
 * (CreateMultipartUpload, UploadPart, CompleteMultipartUpload) and Azure
 * blocks (Put Block, Put Block List) both fill the same four steps,
 * begin / put part N / commit / abort, plus a single request for small
 * blobs.  This file owns what they share: spooling the bytes, cutting them
 * into fixed-size parts, sending parts in parallel (bounded) while the rest
 * is still written, or after the fact from the spool, and starting over
 * when the bytes went up under a name that turned out wrong.  Each
 * protocol keeps its own bytes (part numbers, block ids, headers,
 * If-None-Match, checksums) in its ops.  Retries are per request: the
 * HTTP layer resends one part, never the whole blob.
 *
 * The bytes are spooled to an unlinked temporary file as they arrive, so a
 * retried request sends its body again whole. */
#ifndef CACHECTL_STREAMED_UPLOAD_H
#define CACHECTL_STREAMED_UPLOAD_H

#include "core/util/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/util/spool.h"

struct semaphore;

/* A protocol's steps.  ctx is the protocol's (a client, a signed URL);
 * name is where the blob goes.  Every step may run on a sending thread
 * while others run; the HTTP client under them retries one request. */
struct streamed_upload_ops {
	/* Starts an upload in parts; *session gets the protocol's handle (a new
	 * string: S3's UploadId) or stays NULL when it needs none (Azure). */
	int (*begin)(void *ctx, const char *name, char **session);
	/* Sends part `index` (from 0).  sha256_hex: the part's digest when
	 * the limits ask for part hashes, else NULL.  *token gets what the
	 * commit names the part by (a new string: S3's ETag) or stays NULL. */
	int (*put_part)(void *ctx, const char *name, const char *session, size_t index, const struct byte_range *body,
			const char *sha256_hex, char **token);
	/* Assembles parts 0..n-1; *existed when the blob was there already. */
	int (*commit)(void *ctx, const char *name, const char *session, char *const *tokens, size_t n,
		      bool *existed);
	/* Forgets an unfinished upload; NULL when the service drops
	 * uncommitted parts by itself. */
	void (*abort)(void *ctx, const char *name, const char *session);
	/* The whole blob in one request.  sha256_hex: the blob's digest when
	 * known (it is, at commit), else NULL. */
	int (*put_whole)(void *ctx, const char *name, const struct byte_range *body, const char *sha256_hex,
			 bool *existed);
};

struct streamed_upload_limits {
	int64_t whole_max;    /* blobs of at most this many bytes go up with put_whole */
	int64_t part_size;    /* the smallest part size ... */
	size_t max_parts;     /* ... grown (in whole MiB) to stay within this many parts */
	unsigned concurrency; /* parts of one blob in flight at once */
	bool part_hashes;     /* hand put_part each part's SHA-256 (S3 signs payloads) */
};

/* Part size for a blob of `size` bytes: fixed (all parts but the last
 * equal, as Cloudflare R2 requires), at least limits->part_size. */
int64_t streamed_upload_part_size(const struct streamed_upload_limits *limits, int64_t size);

/* Sends bytes already at hand (a spool's range): put_whole when small,
 * else begin, the parts `concurrency` at a time, commit; abort when
 * anything fails.  name may be NULL when ctx says where (a signed URL). */
CACHECTL_MUST_CHECK int streamed_upload_send(const struct streamed_upload_ops *ops, void *ctx,
					     const struct streamed_upload_limits *limits, const char *name,
					     const struct byte_range *body, const char *sha256_hex, bool *existed);

struct streamed_upload;

/* ops and limits are copied by pointer and must outlive the upload; ctx is
 * not owned.  expected_size: the announced size, or 0 when unknown.  slots
 * (may be NULL; not owned) bounds how many blobs one destination sends at
 * once: a unit is held from the first part to the end.  what names the
 * spool in messages. */
CACHECTL_MUST_CHECK int streamed_upload_new(struct streamed_upload **out, const struct streamed_upload_ops *ops,
					    void *ctx, const struct streamed_upload_limits *limits,
					    struct semaphore *slots, int64_t expected_size, const char *what);

/* Sends full parts to `name` as soon as they are spooled (call before any
 * write; worth it only when the expected size is above whole_max). */
CACHECTL_MUST_CHECK int streamed_upload_stream_to(struct streamed_upload *u, const char *name);

CACHECTL_MUST_CHECK int streamed_upload_write(struct streamed_upload *u, const void *buf, size_t len);
/* The end of the bytes. */
CACHECTL_MUST_CHECK int streamed_upload_end(struct streamed_upload *u);

/* Stores the bytes as `name`; sha256_hex is their digest (computed by the
 * engine over exactly these bytes); *existed when the protocol found the
 * blob there already.  A streamed upload to another name, or in more
 * parts than max_parts, is abandoned and the bytes sent again. */
CACHECTL_MUST_CHECK int streamed_upload_commit(struct streamed_upload *u, const char *name, const char *sha256_hex,
					       bool *existed);

/* Frees; an unfinished upload in parts is aborted. */
void streamed_upload_free(struct streamed_upload *u);

#endif
