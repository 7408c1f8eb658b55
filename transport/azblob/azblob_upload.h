/* Uploading one blob to Azure Blob Storage through a signed (SAS) URL, as
 * the GitHub cache service v2 hands them out: a single Put Blob when the
 * body fits one part, otherwise Put Block for each part, several at a time
 * (transport/streamed_upload), and Put Block List naming them in order.
 * No credentials but the URL's own signature. */
#ifndef CACHECTL_AZBLOB_UPLOAD_H
#define CACHECTL_AZBLOB_UPLOAD_H

#include "core/util/error.h"

#include <stdint.h>

#include "transport/http/http.h"
#include "core/util/spool.h"

/* The x-ms-version BuildKit's vendored SDK sends. */
#define AZBLOB_API_VERSION "2024-11-04"

/* Block ids: standard base64 of 20 bytes, a random 16-byte UUID shared by
 * the upload followed by the 4-byte big-endian block number. */
#define AZBLOB_BLOCK_ID_BUF 32
CACHECTL_MUST_CHECK int azblob_block_id(char out[AZBLOB_BLOCK_ID_BUF], const unsigned char uuid[16], uint32_t number);

/* The session of a new upload in blocks (transport/streamed_upload's
 * begin): a fresh random version 4 UUID as 32 hex digits, a new string. */
CACHECTL_MUST_CHECK int azblob_block_session(char **out);
/* The id of block `number` of a session's upload. */
CACHECTL_MUST_CHECK int azblob_session_block_id(char out[AZBLOB_BLOCK_ID_BUF], const char *session, uint32_t number);

/* Blocks of one blob in flight at once, and at most how many blocks. */
#define AZBLOB_SAS_BLOCK_CONCURRENCY 4
#define AZBLOB_SAS_MAX_BLOCKS 50000

/* Uploads body to url: one Put Blob when it is at most part_size bytes,
 * else blocks of part_size bytes (more past AZBLOB_SAS_MAX_BLOCKS blocks),
 * AZBLOB_SAS_BLOCK_CONCURRENCY at a time, then the block list. */
CACHECTL_MUST_CHECK int azblob_upload(struct http_client *http, const char *url, const struct byte_range *body,
		  long part_size);

#endif
