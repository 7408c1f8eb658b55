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
#include "core/util/timestamp.h"
#include "transport/azblob/azblob_config.h"

struct progress;
struct azblob_client;

#define AZBLOB_ETAG_BUF 128 /* "0x8DC..." with its quotes; longer ones are refused */

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
/* The same, and the ETag of the bytes read (for a later If-Match). */
int azblob_blob_get_versioned(struct azblob_client *c, const char *name, size_t max, struct buffer *out,
			      char etag[AZBLOB_ETAG_BUF]);

/* Put Blob.  create_only sends If-None-Match: * and sets *existed when
 * the service says the blob is there already (BlobAlreadyExists, 409). */
int azblob_put_blob(struct azblob_client *c, const char *name, const struct byte_range *body, bool create_only,
		    bool *existed);
int azblob_put_block(struct azblob_client *c, const char *name, const char *block_id, const struct byte_range *body);
/* Put Block List naming ids in order (as Latest blocks). */
int azblob_put_block_list(struct azblob_client *c, const char *name, char *const *ids, size_t n, bool create_only,
			  bool *existed);

/* Renews the blob's Last-Modified without changing its bytes, unless Get
 * Blob Properties says it was modified less than min_age seconds ago
 * (<= 0: always): Set Blob Metadata with the metadata that answer gave
 * (Set Blob Metadata replaces all of it), under If-Match on its ETag -- a
 * blob changed in between was written anyway.  *touched tells whether it
 * wrote.  ERR_NOT_FOUND when the blob is gone, before or in between. */
int azblob_blob_touch(struct azblob_client *c, const char *name, double min_age, bool *touched);

/* What Delete Blob did: deleted, not there, or spared by its condition. */
enum azblob_deleted { AZBLOB_DELETED, AZBLOB_ABSENT, AZBLOB_CHANGED };

/* Delete Blob (its snapshots with it), only when the blob still has
 * if_match as ETag (NULL: any) and was not modified after
 * if_unmodified_since (NULL: whenever); a blob either condition spares is
 * AZBLOB_CHANGED, one already gone AZBLOB_ABSENT -- both 0. */
int azblob_delete_blob(struct azblob_client *c, const char *name, const char *if_match,
		       const struct timestamp *if_unmodified_since, enum azblob_deleted *result);

/* One blob of a listing: the strings live until the callback returns. */
struct azblob_listed {
	const char *name;
	int64_t size;
	struct timestamp last_modified; /* zero when the service gave none */
	const char *etag;               /* "" when the service gave none */
};
typedef int (*azblob_listed_fn)(void *ctx, const struct azblob_listed *blob);

/* List Blobs under prefix (every page, following NextMarker): fn per
 * blob, in the service's order; a non-zero return from fn stops the
 * listing with that code.  When the service refuses the listing,
 * *refused (may be NULL) is its HTTP status (403: a SAS without the list
 * permission). */
int azblob_list_blobs(struct azblob_client *c, const char *prefix, azblob_listed_fn fn, void *ctx, long *refused);

/* Requests made so far (answered or not, retries included), for the
 * benchmark's request count. */
unsigned long azblob_client_requests(const struct azblob_client *c);

#endif
