/* What an upload sends: bytes in memory (a small document) or a spooled
 * file, readable again from any offset so that every chunk, block and
 * retry can be sent whole without holding the blob in memory. */
#ifndef CACHECTL_UPLOAD_BODY_H
#define CACHECTL_UPLOAD_BODY_H

#include <stdint.h>

#include "core/stream.h"

struct upload_body {
	int fd;           /* a spooled file (read with pread), or -1 ... */
	const void *data; /* ... bytes in memory */
	int64_t size;
};

/* A part of the body, for http_request.body_open. */
struct upload_part {
	const struct upload_body *body;
	int64_t offset, length;
};

/* http_body_open callback: ctx is a struct upload_part. */
int upload_part_open(void *ctx, struct byte_source **out);

#endif
