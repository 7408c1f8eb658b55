#include "core/codec/codec.h"

#include <stdlib.h>

#include "core/util/error.h"

int codec_check_level(enum compression c, int level)
{
	switch (c) {
	case COMPRESSION_GZIP:
	case COMPRESSION_ESTARGZ:
		if (level >= -2 && level <= 9)
			return 0;
		return error_set(ERR_USAGE, "compression-level %d is not a %s level (want -2..9)", level,
				 compression_name(c));
	case COMPRESSION_ZSTD:
		if ((level >= 1 && level <= 22) || (level >= -7 && level <= -1))
			return 0;
		return error_set(ERR_USAGE, "compression-level %d is not a zstd level (want 1..22, or -7..-1)",
				 level);
	default:
		return 0;
	}
}

/* The identity decoder: the source itself. */
int decompress_source_new(struct byte_source **out, struct byte_source *inner, enum compression c,
			  const char *what)
{
	switch (c) {
	case COMPRESSION_GZIP:
	case COMPRESSION_ESTARGZ:
		return gzip_source_new(out, inner, what);
	case COMPRESSION_ZSTD:
		return zstd_source_new(out, inner, what);
	case COMPRESSION_UNCOMPRESSED:
		*out = inner;
		return 0;
	default:
		source_close(inner);
		return error_set(ERR_FAILURE, "%s: unknown layer encoding", what);
	}
}

/* Passes bytes straight through to the next sink. */
struct plain_sink {
	struct byte_sink base;
	struct byte_sink *next;
};

static int plain_write(struct byte_sink *s, const void *buf, size_t len)
{
	return sink_write(((struct plain_sink *)s)->next, buf, len);
}

static int plain_finish(struct byte_sink *s)
{
	return sink_finish(((struct plain_sink *)s)->next);
}

static void plain_close(struct byte_sink *s)
{
	free(s);
}

int compress_sink_new(struct byte_sink **out, struct byte_sink *next, const struct codec_options *o)
{
	switch (o->compression) {
	case COMPRESSION_GZIP:
		return gzip_sink_new(out, next, o->level_set, o->level);
	case COMPRESSION_ZSTD:
		return zstd_sink_new(out, next, o->level_set, o->level);
	case COMPRESSION_UNCOMPRESSED: {
		struct plain_sink *p = calloc(1, sizeof(*p));
		CHECK_ALLOC(p);
		p->base.write = plain_write;
		p->base.finish = plain_finish;
		p->base.close = plain_close;
		p->next = next;
		*out = &p->base;
		return 0;
	}
	default:
		/* eStargz is not a byte stream encoding: the pipeline hands it
		 * the tar entries (core/estargz_writer.c). */
		return error_set(ERR_FAILURE, "%s has no stream encoder", compression_name(o->compression));
	}
}
