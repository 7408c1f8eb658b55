/* The S3 API calls a build cache needs, on one bucket of any S3-compatible
 * store: every request signed with Signature V4 (payload hash in
 * x-amz-content-sha256, re-signed with a fresh date on every retry),
 * virtual-host or path-style addressing, and the store's own quirks handled
 * here rather than by callers:
 *   - a wrong region (301/400 naming the bucket's region) is switched to and
 *     the request retried once, as the AWS SDKs do;
 *   - RequestTimeTooSkewed: the clock offset is taken from the answer's
 *     Date and the request retried once;
 *   - ExpiredToken: the credentials are refreshed and the request retried;
 *   - 400 RequestTimeout, and a 200 whose body is an <Error> (CopyObject
 *     and CompleteMultipartUpload may answer so), are retried with backoff;
 *   - connection errors, 408, 429 and 5xx (503 SlowDown) are retried by the
 *     HTTP layer with jittered backoff.
 * Errors name the object (s3://bucket/key) and show the store's error code
 * and message; nothing shown carries a credential. */
#ifndef CACHECTL_S3_CLIENT_H
#define CACHECTL_S3_CLIENT_H

#include "core/util/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/util/buffer.h"
#include "core/util/stream.h"
#include "transport/s3/aws_credentials.h"

struct progress;
struct s3_client;

struct s3_client_options {
	const char *bucket;
	const char *region;
	const char *endpoint_url; /* NULL or "": AWS's own endpoint for the region */
	bool path_style;          /* with a custom endpoint; IP endpoints always use it */
	struct aws_credential_chain *credentials; /* not owned */
	unsigned max_attempts;    /* 0: the HTTP layer's default */
	struct progress *progress;
};

CACHECTL_MUST_CHECK int s3_client_new(struct s3_client **out, const struct s3_client_options *o);
void s3_client_free(struct s3_client *c);

/* The URL a key is requested at now, and the region requests are signed
 * for (after any correction the store made). */
CACHECTL_MUST_CHECK int s3_object_url(struct s3_client *c, const char *key, struct buffer *url, char region[64]);

/* "s3://bucket/key", for messages. */
void s3_object_name(const struct s3_client *c, const char *key, char *out, size_t size);

struct s3_object_info {
	int64_t size;
	int64_t last_modified; /* Unix seconds; 0 when the store did not say */
};

/* ERR_NOT_FOUND when the object does not exist. */
CACHECTL_MUST_CHECK int s3_head_object(struct s3_client *c, const char *key, struct s3_object_info *info);

/* Streams the object from offset (Range: bytes=offset-).  ERR_NOT_FOUND
 * when it does not exist. */
CACHECTL_MUST_CHECK int s3_get_object(struct s3_client *c, const char *key, int64_t offset, struct byte_source **out);

/* The whole object, at most max bytes.  ERR_NOT_FOUND when it (not the
 * bucket) does not exist. */
CACHECTL_MUST_CHECK int s3_get_small(struct s3_client *c, const char *key, size_t max, struct buffer *out);

/* A request body: bytes in memory, or a range of an open file (re-read
 * from the start on every retry), with its hex SHA-256. */
struct s3_body {
	const void *data;
	size_t len;
	int fd; /* used when data is NULL */
	int64_t offset, length;
	const char *sha256_hex;
};

CACHECTL_MUST_CHECK int s3_put_object(struct s3_client *c, const char *key, const struct s3_body *body);

/* CopyObject onto itself with x-amz-metadata-directive: REPLACE and one
 * user metadata entry, which refreshes LastModified (objects < 5 GiB). */
CACHECTL_MUST_CHECK int s3_copy_object_to_itself(struct s3_client *c, const char *key, const char *meta_name, const char *meta_value);

CACHECTL_MUST_CHECK int s3_multipart_create(struct s3_client *c, const char *key, const char *const *meta_names,
			const char *const *meta_values, size_t n_meta, char **upload_id);
/* *etag is a new string. */
CACHECTL_MUST_CHECK int s3_multipart_upload_part(struct s3_client *c, const char *key, const char *upload_id, int part,
			     const struct s3_body *body, char **etag);
/* UploadPartCopy of bytes [first, last] of the object itself. */
CACHECTL_MUST_CHECK int s3_multipart_copy_part(struct s3_client *c, const char *key, const char *upload_id, int part, int64_t first,
			   int64_t last, char **etag);
CACHECTL_MUST_CHECK int s3_multipart_complete(struct s3_client *c, const char *key, const char *upload_id, char *const *etags,
			  int n_parts);
CACHECTL_MUST_CHECK int s3_multipart_abort(struct s3_client *c, const char *key, const char *upload_id);

#endif
