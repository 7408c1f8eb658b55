/* A growable byte buffer, always NUL-terminated so text can be used directly. */
#ifndef CACHECTL_BUFFER_H
#define CACHECTL_BUFFER_H

#include "core/util/error.h"

#include <stddef.h>

struct buffer {
	char *data;
	size_t len;
	size_t cap;
};

#define BUFFER_INIT {NULL, 0, 0}

CACHECTL_MUST_CHECK int buffer_reserve(struct buffer *b, size_t extra);
CACHECTL_MUST_CHECK int buffer_append(struct buffer *b, const void *data, size_t len);
CACHECTL_MUST_CHECK int buffer_append_str(struct buffer *b, const char *s);
CACHECTL_MUST_CHECK int buffer_appendf(struct buffer *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buffer_reset(struct buffer *b);
void buffer_free(struct buffer *b);
/* Hands the bytes to the caller (who frees them) and empties b. */
char *buffer_detach(struct buffer *b, size_t *len_out);

/* Reads a whole file of at most max_size bytes.  ERR_NOT_FOUND when it does
 * not exist, ERR_FAILURE when larger than max_size or unreadable. */
CACHECTL_MUST_CHECK int buffer_read_file(struct buffer *b, const char *path, size_t max_size);

#endif
