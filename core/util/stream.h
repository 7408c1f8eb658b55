/* Byte streams: pull sources and push sinks with caller-owned buffers.
 *
 * Layers flow through a chain of these (read -> check digest -> decompress
 * -> hash -> compress -> hash -> write), each stage holding one fixed
 * buffer, so a 10 GB layer costs the memory of a 10 KB one. */
#ifndef CACHECTL_STREAM_H
#define CACHECTL_STREAM_H

#include "core/util/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/util/digest.h"

#define STREAM_CHUNK (1u << 20)

struct byte_source {
	/* > 0 bytes read, 0 at the end, < 0 an error code with its message set. */
	ssize_t (*read)(struct byte_source *s, void *buf, size_t len);
	void (*close)(struct byte_source *s);
};

struct byte_sink {
	int (*write)(struct byte_sink *s, const void *buf, size_t len);
	/* End of stream: flush whatever the stage still holds. */
	int (*finish)(struct byte_sink *s);
	void (*close)(struct byte_sink *s);
};

static inline ssize_t source_read(struct byte_source *s, void *buf, size_t len)
{
	return s->read(s, buf, len);
}

static inline void source_close(struct byte_source *s)
{
	if (s)
		s->close(s);
}

static inline int sink_write(struct byte_sink *s, const void *buf, size_t len)
{
	return s->write(s, buf, len);
}

static inline int sink_finish(struct byte_sink *s)
{
	return s->finish(s);
}

static inline void sink_close(struct byte_sink *s)
{
	if (s)
		s->close(s);
}

/* Fills buf until len bytes or the end; *got tells how many. */
CACHECTL_MUST_CHECK int source_read_full(struct byte_source *s, void *buf, size_t len, size_t *got);

/* A file; ERR_NOT_FOUND when it does not exist.  `what` names it in errors. */
CACHECTL_MUST_CHECK int file_source_open(struct byte_source **out, const char *path, const char *what);

/* write(2) until every byte is out; `what` names the file in messages. */
CACHECTL_MUST_CHECK int fd_write_all(int fd, const void *buf, size_t len, const char *what);

/* Bytes from memory (not copied; must outlive the source). */
CACHECTL_MUST_CHECK int memory_source_new(struct byte_source **out, const void *data, size_t len);

/* Passes inner's bytes through and fails with ERR_CORRUPT unless they hash
 * to `digest` and number exactly `size` (size < 0: any).  Owns inner. */
CACHECTL_MUST_CHECK int verified_source_new(struct byte_source **out, struct byte_source *inner, const char *digest,
			int64_t size);

/* Hashes and counts what passes to next (next NULL: bytes are dropped). */
CACHECTL_MUST_CHECK int hashing_sink_new(struct byte_sink **out, struct byte_sink *next);
void hashing_sink_result(struct byte_sink *s, char digest[DIGEST_BUF], int64_t *size);

/* Writes every byte to each of n sinks (not owned). */
CACHECTL_MUST_CHECK int tee_sink_new(struct byte_sink **out, struct byte_sink **sinks, size_t n);

#endif
