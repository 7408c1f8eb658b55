/* The blob writer of every store that uploads through a streamed upload
 * (transport/streamed_upload): s3 and azblob.  The bytes are spooled as
 * they come; when the digest was announced and the blob is large, parts go
 * to its name while the rest is still written; at commit a digest learnt
 * only then (a re-encoded layer) is first looked up in the store, and the
 * blob is stored unless it is there already. */
#ifndef CACHECTL_STREAMED_BLOB_WRITER_H
#define CACHECTL_STREAMED_BLOB_WRITER_H

#include "core/util/error.h"

#include "transport/streamed_upload.h"
#include "transport/transport.h"

/* What a store tells its writers; copied by the writer. */
struct streamed_blob_store {
	const struct streamed_upload_ops *ops;       /* the protocol ... */
	const struct streamed_upload_limits *limits; /* ... and its sizes (both static) */
	void *ops_ctx;                               /* handed to ops (a client); not owned */
	struct semaphore *slots;                     /* upload_parallelism, or NULL; not owned */
	const char *what;                            /* names the spool in messages */
	void *store;                                 /* handed to the two below; not owned */
	/* *name: where blob `digest` goes (a new string). */
	int (*name_of)(void *store, const char *digest, char **name);
	/* A digest known only at commit: *existed when the store holds it with
	 * `size` bytes already (0 and false when absent). */
	int (*present)(void *store, const char *digest, int64_t size, bool *existed);
};

/* expected: what the engine announced (digest may be empty). */
CACHECTL_MUST_CHECK int streamed_blob_writer_new(struct blob_writer **out, const struct streamed_blob_store *store,
						 const struct descriptor *expected);

#endif
