/* A sink that keeps everything written to it, for unit tests. */
#ifndef CACHECTL_MEM_SINK_H
#define CACHECTL_MEM_SINK_H

#include <string.h>

#include "core/util/buffer.h"
#include "core/util/stream.h"

struct mem_sink {
	struct byte_sink base;
	struct buffer b;
	int finished; /* how often finish was called */
};

static inline int mem_write(struct byte_sink *s, const void *buf, size_t len)
{
	return buffer_append(&((struct mem_sink *)s)->b, buf, len);
}

static inline int mem_finish(struct byte_sink *s)
{
	((struct mem_sink *)s)->finished++;
	return 0;
}

static inline void mem_close(struct byte_sink *s)
{
	(void)s; /* the test owns it */
}

static inline void mem_init(struct mem_sink *m)
{
	memset(m, 0, sizeof(*m));
	m->base.write = mem_write;
	m->base.finish = mem_finish;
	m->base.close = mem_close;
}

#endif
