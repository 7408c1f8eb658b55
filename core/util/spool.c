#include "core/util/spool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util/error.h"

struct spool {
	int fd;
	int64_t size;
	char what[64];
};

int spool_new(struct spool **out, const char *what)
{
	const char *tmp = getenv("TMPDIR");
	char path[4096];
	struct spool *s = calloc(1, sizeof(*s));
	CHECK_ALLOC(s);
	snprintf(s->what, sizeof(s->what), "the %s spool", what);
	snprintf(path, sizeof(path), "%s/cachectl-spool-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	s->fd = mkstemp(path);
	if (s->fd < 0) {
		int e = errno;
		free(s);
		return error_set_errno(ERR_FAILURE, e, "cannot create a %s spool in %s", what,
				       tmp && *tmp ? tmp : "/tmp");
	}
	unlink(path); /* anonymous: gone with the descriptor, whatever happens */
	*out = s;
	return 0;
}

int spool_write(struct spool *s, const void *buf, size_t len)
{
	int rc = fd_write_all(s->fd, buf, len, s->what);
	if (!rc)
		s->size += (int64_t)len;
	return rc;
}

int64_t spool_size(const struct spool *s)
{
	return s->size;
}

int spool_fd(const struct spool *s)
{
	return s->fd;
}

void spool_free(struct spool *s)
{
	if (!s)
		return;
	close(s->fd);
	free(s);
}

struct range_source {
	struct byte_source base;
	struct byte_range range;
	int64_t pos;
};

static ssize_t range_read(struct byte_source *src, void *buf, size_t len)
{
	struct range_source *r = (struct range_source *)src;
	int64_t left = r->range.length - r->pos;
	if (left <= 0)
		return 0;
	if ((int64_t)len > left)
		len = (size_t)left;
	if (r->range.fd < 0) {
		memcpy(buf, (const char *)r->range.data + r->range.offset + r->pos, len);
		r->pos += (int64_t)len;
		return (ssize_t)len;
	}
	for (;;) {
		ssize_t n = pread(r->range.fd, buf, len, (off_t)(r->range.offset + r->pos));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return error_set_errno(ERR_FAILURE, errno, "read a spooled blob");
		if (n == 0)
			return error_set(ERR_FAILURE, "a spooled blob is shorter than %lld bytes",
					 (long long)(r->range.offset + r->range.length));
		r->pos += n;
		return n;
	}
}

static void range_close(struct byte_source *src)
{
	free(src);
}

int byte_range_open(void *ctx, struct byte_source **out)
{
	struct range_source *r = calloc(1, sizeof(*r));
	CHECK_ALLOC(r);
	r->base.read = range_read;
	r->base.close = range_close;
	r->range = *(const struct byte_range *)ctx;
	*out = &r->base;
	return 0;
}
