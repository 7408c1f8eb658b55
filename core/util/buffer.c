#include "core/util/buffer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util/error.h"

int buffer_reserve(struct buffer *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra + 1)
		cap *= 2;
	char *p = realloc(b->data, cap);
	CHECK_ALLOC(p);
	b->data = p;
	b->cap = cap;
	return 0;
}

int buffer_append(struct buffer *b, const void *data, size_t len)
{
	int rc;
	if ((rc = buffer_reserve(b, len)))
		return rc;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int buffer_append_str(struct buffer *b, const char *s)
{
	return buffer_append(b, s, strlen(s));
}

int buffer_appendf(struct buffer *b, const char *fmt, ...)
{
	int rc;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return error_set(ERR_FAILURE, "formatting failed");
	if ((rc = buffer_reserve(b, (size_t)n)))
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void buffer_reset(struct buffer *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void buffer_free(struct buffer *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

char *buffer_detach(struct buffer *b, size_t *len_out)
{
	if (buffer_reserve(b, 0))
		return NULL;
	char *p = b->data;
	if (len_out)
		*len_out = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

int buffer_read_file(struct buffer *b, const char *path, size_t max_size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_set_errno(errno == ENOENT ? ERR_NOT_FOUND : ERR_FAILURE, errno,
				       "open %s", path);
	buffer_reset(b);
	for (;;) {
		int rc = buffer_reserve(b, 65536);
		if (rc) {
			close(fd);
			return rc;
		}
		ssize_t n = read(fd, b->data + b->len, b->cap - b->len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			return error_set_errno(ERR_FAILURE, e, "read %s", path);
		}
		if (n == 0)
			break;
		b->len += (size_t)n;
		if (b->len > max_size) {
			close(fd);
			return error_set(ERR_FAILURE, "%s is larger than %zu bytes", path, max_size);
		}
	}
	b->data[b->len] = '\0';
	close(fd);
	return 0;
}
