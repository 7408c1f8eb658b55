/* A blob writer for stores that must know a blob's digest (and size)
 * before its first byte goes out -- keys named by digest, monolithic
 * uploads, signed payload hashes: what the engine writes is spooled, and
 * commit hands the spool to the store's upload. */
#ifndef CACHECTL_SPOOLED_WRITER_H
#define CACHECTL_SPOOLED_WRITER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/util/spool.h"
#include "transport/transport.h"

/* Sends a spooled blob.  `expected` is what blob_create was told (empty
 * when the digest was not known before the bytes: a re-encoded layer, which
 * the store may hold already).  Sets *existed when nothing had to be sent. */
typedef int (*spooled_upload_fn)(void *ctx, const char *expected, const char *digest, int64_t size,
				 const struct spool *spool, bool *existed);

/* `what` names the store in messages ("gha", "registry upload"). */
int spooled_writer_new(struct blob_writer **out, const struct descriptor *expected, const char *what,
		       spooled_upload_fn upload, void *ctx);

#endif
