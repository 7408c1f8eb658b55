/* zstd through libzstd.  Encoding always uses libzstd's worker threads (at
 * least one): its output then does not depend on how many there are, so the
 * same layer gives the same digest on every machine. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "core/codec.h"
#include "core/error.h"

struct zstd_source {
	struct byte_source base;
	struct byte_source *inner;
	ZSTD_DStream *d;
	ZSTD_inBuffer in;
	void *in_buf;
	size_t in_size;
	size_t last;      /* last return of ZSTD_decompressStream: 0 at a frame end */
	bool eof, started;
	char *what;
};

static ssize_t zstd_read(struct byte_source *s, void *buf, size_t len)
{
	struct zstd_source *z = (struct zstd_source *)s;
	ZSTD_outBuffer out = {buf, len, 0};
	while (out.pos == 0) {
		if (z->in.pos == z->in.size && !z->eof) {
			ssize_t n = source_read(z->inner, z->in_buf, z->in_size);
			if (n < 0)
				return n;
			if (n == 0)
				z->eof = true;
			z->in.src = z->in_buf;
			z->in.size = (size_t)n;
			z->in.pos = 0;
		}
		if (z->in.pos == z->in.size && z->eof) {
			/* At the end of input the decoder may still hold output. */
			size_t before = out.pos;
			if (z->started && z->last != 0) {
				z->last = ZSTD_decompressStream(z->d, &out, &z->in);
				if (ZSTD_isError(z->last))
					return error_set(ERR_CORRUPT, "%s: corrupt zstd stream (%s)", z->what,
							 ZSTD_getErrorName(z->last));
			}
			if (out.pos > before)
				break;
			if (!z->started || z->last != 0)
				return error_set(ERR_CORRUPT, "%s: truncated zstd stream", z->what);
			return 0;
		}
		z->started = true;
		z->last = ZSTD_decompressStream(z->d, &out, &z->in);
		if (ZSTD_isError(z->last))
			return error_set(ERR_CORRUPT, "%s: corrupt zstd stream (%s)", z->what,
					 ZSTD_getErrorName(z->last));
	}
	return (ssize_t)out.pos;
}

static void zstd_source_close(struct byte_source *s)
{
	struct zstd_source *z = (struct zstd_source *)s;
	ZSTD_freeDStream(z->d);
	source_close(z->inner);
	free(z->in_buf);
	free(z->what);
	free(z);
}

int zstd_source_new(struct byte_source **out, struct byte_source *inner, const char *what)
{
	struct zstd_source *z = calloc(1, sizeof(*z));
	if (z) {
		z->in_size = ZSTD_DStreamInSize();
		z->in_buf = malloc(z->in_size);
		z->what = strdup(what);
		z->d = ZSTD_createDStream();
	}
	if (!z || !z->in_buf || !z->what || !z->d) {
		if (z) {
			ZSTD_freeDStream(z->d);
			free(z->in_buf);
			free(z->what);
		}
		free(z);
		source_close(inner);
		return error_set(ERR_FAILURE, "cannot start a zstd decoder");
	}
	z->base.read = zstd_read;
	z->base.close = zstd_source_close;
	z->inner = inner;
	*out = &z->base;
	return 0;
}

struct zstd_sink {
	struct byte_sink base;
	struct byte_sink *next;
	ZSTD_CCtx *c;
	void *out_buf;
	size_t out_size;
};

static int zstd_pump(struct zstd_sink *z, ZSTD_inBuffer *in, ZSTD_EndDirective mode)
{
	for (;;) {
		ZSTD_outBuffer out = {z->out_buf, z->out_size, 0};
		size_t left = ZSTD_compressStream2(z->c, &out, in, mode);
		if (ZSTD_isError(left))
			return error_set(ERR_FAILURE, "zstd compression failed: %s", ZSTD_getErrorName(left));
		if (out.pos) {
			int rc = sink_write(z->next, z->out_buf, out.pos);
			if (rc)
				return rc;
		}
		if (mode == ZSTD_e_end ? left == 0 : in->pos == in->size)
			return 0;
	}
}

static int zstd_write(struct byte_sink *s, const void *buf, size_t len)
{
	ZSTD_inBuffer in = {buf, len, 0};
	return zstd_pump((struct zstd_sink *)s, &in, ZSTD_e_continue);
}

static int zstd_finish(struct byte_sink *s)
{
	struct zstd_sink *z = (struct zstd_sink *)s;
	ZSTD_inBuffer in = {NULL, 0, 0};
	int rc = zstd_pump(z, &in, ZSTD_e_end);
	return rc ? rc : sink_finish(z->next);
}

static void zstd_sink_close(struct byte_sink *s)
{
	struct zstd_sink *z = (struct zstd_sink *)s;
	ZSTD_freeCCtx(z->c);
	free(z->out_buf);
	free(z);
}

static int worker_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 8 ? 8 : (int)n;
}

int zstd_sink_new(struct byte_sink **out, struct byte_sink *next, bool level_set, int level)
{
	if (level_set && codec_check_level(COMPRESSION_ZSTD, level))
		return ERR_USAGE;
	struct zstd_sink *z = calloc(1, sizeof(*z));
	if (z) {
		z->out_size = ZSTD_CStreamOutSize();
		z->out_buf = malloc(z->out_size);
		z->c = ZSTD_createCCtx();
	}
	if (!z || !z->out_buf || !z->c) {
		if (z) {
			ZSTD_freeCCtx(z->c);
			free(z->out_buf);
		}
		free(z);
		return error_set(ERR_FAILURE, "cannot start a zstd encoder");
	}
	size_t rc = ZSTD_CCtx_setParameter(z->c, ZSTD_c_compressionLevel, level_set ? level : 3);
	if (!ZSTD_isError(rc))
		rc = ZSTD_CCtx_setParameter(z->c, ZSTD_c_checksumFlag, 1);
	if (!ZSTD_isError(rc))
		rc = ZSTD_CCtx_setParameter(z->c, ZSTD_c_nbWorkers, worker_count());
	if (ZSTD_isError(rc)) {
		zstd_sink_close(&z->base);
		return error_set(ERR_FAILURE, "cannot configure the zstd encoder: %s", ZSTD_getErrorName(rc));
	}
	z->base.write = zstd_write;
	z->base.finish = zstd_finish;
	z->base.close = zstd_sink_close;
	z->next = next;
	*out = &z->base;
	return 0;
}
