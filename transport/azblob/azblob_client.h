/* The Azure Blob Storage calls a build cache needs, on one container:
 * container properties and creation, blob properties, Get Blob, Put Blob,
 * Put Block, Put Block List and List Blobs.  Every request carries the
 * credential of the configuration (azblob_config.h): signed with Shared
 * Key (signed again, with a fresh x-ms-date, before every retry), a SAS
 * appended to the query, or an Entra ID bearer token (fetched again once
 * when the service answers 401).  Retries of 5xx, 429/503 with
 * Retry-After and cut connections come from the shared HTTP layer.
 * Errors name the blob as azblob://<account>/<container>/<name> and show
 * the service's error code and message; nothing shown carries a secret. */
#ifndef CACHECTL_AZBLOB_CLIENT_H
#define CACHECTL_AZBLOB_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/util/buffer.h"
#include "core/util/spool.h"
#include "core/util/stream.h"
#include "transport/azblob/azblob_config.h"

struct progress;
struct azblob_client;

/* cfg (and its credential) must outlive the client. */
int azblob_client_new(struct azblob_client **out, const struct azblob_config *cfg, struct progress *progress);
void azblob_client_free(struct azblob_client *c);

/* "azblob://account/container/name", for messages. */
void azblob_blob_display(const struct azblob_client *c, const char *name, char *out, size_t size);

/* Creates the container when its properties say it does not exist (as
 * BuildKit's exporter and importer both do); one who created it meanwhile
 * is fine. */
int azblob_container_ensure(struct azblob_client *c);

/* ERR_NOT_FOUND when the blob does not exist. */
int azblob_blob_properties(struct azblob_client *c, const char *name, int64_t *size);

/* Streams the blob from offset.  ERR_NOT_FOUND when it does not exist. */
int azblob_blob_get(struct azblob_client *c, const char *name, int64_t offset, struct byte_source **out);

/* The whole blob, at most max bytes.  ERR_NOT_FOUND when it does not exist. */
int azblob_blob_get_small(struct azblob_client *c, const char *name, size_t max, struct buffer *out);

/* Put Blob.  create_only sends If-None-Match: * and sets *existed when
 * the service says the blob is there already (BlobAlreadyExists, 409). */
int azblob_put_blob(struct azblob_client *c, const char *name, const struct byte_range *body, bool create_only,
		    bool *existed);
int azblob_put_block(struct azblob_client *c, const char *name, const char *block_id, const struct byte_range *body);
/* Put Block List naming ids in order (as Latest blocks). */
int azblob_put_block_list(struct azblob_client *c, const char *name, char *const *ids, size_t n, bool create_only,
			  bool *existed);

/* List Blobs under prefix (every page): fn per blob, in the service's
 * order; a non-zero return from fn stops the listing with that code.
 * When the service refuses the listing, *refused (may be NULL) is its
 * HTTP status (403: a SAS without the list permission). */
typedef int (*azblob_list_fn)(void *ctx, const char *name, int64_t size);
int azblob_list(struct azblob_client *c, const char *prefix, azblob_list_fn fn, void *ctx, long *refused);

/* Requests made so far (answered or not, retries included), for the
 * benchmark's request count. */
unsigned long azblob_client_requests(const struct azblob_client *c);

#endif
