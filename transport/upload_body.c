#include "transport/upload_body.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"

struct part_source {
	struct byte_source base;
	struct upload_part part;
	int64_t pos;
};

static ssize_t part_read(struct byte_source *s, void *buf, size_t len)
{
	struct part_source *p = (struct part_source *)s;
	int64_t left = p->part.length - p->pos;
	if (left <= 0)
		return 0;
	if ((int64_t)len > left)
		len = (size_t)left;
	const struct upload_body *b = p->part.body;
	if (b->fd < 0) {
		memcpy(buf, (const char *)b->data + p->part.offset + p->pos, len);
		p->pos += (int64_t)len;
		return (ssize_t)len;
	}
	for (;;) {
		ssize_t n = pread(b->fd, buf, len, (off_t)(p->part.offset + p->pos));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return error_set_errno(ERR_FAILURE, errno, "read the spooled blob");
		if (n == 0)
			return error_set(ERR_FAILURE, "the spooled blob is shorter than %lld bytes",
					 (long long)(p->part.offset + p->part.length));
		p->pos += n;
		return n;
	}
}

static void part_close(struct byte_source *s)
{
	free(s);
}

int upload_part_open(void *ctx, struct byte_source **out)
{
	struct part_source *p = calloc(1, sizeof(*p));
	if (!p)
		return error_set(ERR_FAILURE, "out of memory");
	p->base.read = part_read;
	p->base.close = part_close;
	p->part = *(const struct upload_part *)ctx;
	*out = &p->base;
	return 0;
}
