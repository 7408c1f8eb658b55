/* A blob parked in an anonymous temporary file ($TMPDIR) until it can be
 * sent: remote stores name blobs by digest, which a re-encoded layer only
 * has at its end, and a retried request must send its body again whole.
 * Written once, in order; read back by ranges as often as needed. */
#ifndef CACHECTL_SPOOL_H
#define CACHECTL_SPOOL_H

#include "core/util/error.h"

#include <stddef.h>
#include <stdint.h>

#include "core/util/stream.h"

struct spool;

/* `what` names the use in messages ("registry upload"). */
CACHECTL_MUST_CHECK int spool_new(struct spool **out, const char *what);
CACHECTL_MUST_CHECK int spool_write(struct spool *s, const void *buf, size_t len);
int64_t spool_size(const struct spool *s);
/* The file, for reading with pread (ranges, hashes). */
CACHECTL_MUST_CHECK int spool_fd(const struct spool *s);
void spool_free(struct spool *s);

/* A range of a spool's file, or of bytes in memory, to be read as a byte
 * source; each open starts at the range's beginning (one per attempt). */
struct byte_range {
	int fd;           /* a spool's file (read with pread), or -1 ... */
	const void *data; /* ... bytes in memory */
	int64_t offset, length;
};

/* The part [offset, offset+length) of a range. */
static inline struct byte_range byte_range_sub(const struct byte_range *r, int64_t offset, int64_t length)
{
	struct byte_range sub = {r->fd, r->data, r->offset + offset, length};
	return sub;
}

/* An http_body_open callback: ctx is a struct byte_range. */
CACHECTL_MUST_CHECK int byte_range_open(void *ctx, struct byte_source **out);

#endif
