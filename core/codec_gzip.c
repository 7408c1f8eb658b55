/* gzip through zlib: multi-member decoding (eStargz blobs are one member per
 * entry) and level-controlled encoding. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/codec.h"
#include "core/error.h"

#define GZIP_IN_BUF (256u << 10)
#define GZIP_OUT_BUF (256u << 10)

struct gzip_source {
	struct byte_source base;
	struct byte_source *inner;
	z_stream z;
	unsigned char *in;
	bool eof;         /* inner has no more bytes */
	bool member_open; /* inside a member that has not ended */
	bool started;     /* at least one member begun */
	char *what;
};

static ssize_t gzip_read(struct byte_source *s, void *buf, size_t len)
{
	struct gzip_source *g = (struct gzip_source *)s;
	if (len > UINT_MAX)
		len = UINT_MAX;
	g->z.next_out = buf;
	g->z.avail_out = (uInt)len;
	while (g->z.avail_out == len) {
		if (g->z.avail_in == 0 && !g->eof) {
			ssize_t n = source_read(g->inner, g->in, GZIP_IN_BUF);
			if (n < 0)
				return n;
			if (n == 0)
				g->eof = true;
			g->z.next_in = g->in;
			g->z.avail_in = (uInt)n;
		}
		if (g->z.avail_in == 0 && g->eof) {
			if (g->member_open || !g->started)
				return error_set(ERR_CORRUPT, "%s: truncated gzip stream", g->what);
			return 0;
		}
		if (!g->member_open) {
			/* Another member follows the one that ended. */
			if (g->started && inflateReset(&g->z) != Z_OK)
				return error_set(ERR_FAILURE, "%s: cannot reset the gzip decoder", g->what);
			g->member_open = g->started = true;
		}
		int rc = inflate(&g->z, Z_NO_FLUSH);
		if (rc == Z_STREAM_END) {
			g->member_open = false;
		} else if (rc != Z_OK && !(rc == Z_BUF_ERROR && g->z.avail_in == 0)) {
			return error_set(ERR_CORRUPT, "%s: corrupt gzip stream (%s)", g->what,
					 g->z.msg ? g->z.msg : "inflate failed");
		}
	}
	return (ssize_t)(len - g->z.avail_out);
}

static void gzip_source_close(struct byte_source *s)
{
	struct gzip_source *g = (struct gzip_source *)s;
	inflateEnd(&g->z);
	source_close(g->inner);
	free(g->in);
	free(g->what);
	free(g);
}

int gzip_source_new(struct byte_source **out, struct byte_source *inner, const char *what)
{
	struct gzip_source *g = calloc(1, sizeof(*g));
	if (!g || !(g->in = malloc(GZIP_IN_BUF)) || !(g->what = strdup(what))) {
		if (g)
			free(g->in);
		free(g);
		source_close(inner);
		return error_set(ERR_FAILURE, "out of memory");
	}
	if (inflateInit2(&g->z, 16 + MAX_WBITS) != Z_OK) {
		free(g->in);
		free(g->what);
		free(g);
		source_close(inner);
		return error_set(ERR_FAILURE, "cannot start a gzip decoder");
	}
	g->base.read = gzip_read;
	g->base.close = gzip_source_close;
	g->inner = inner;
	*out = &g->base;
	return 0;
}

struct gzip_sink {
	struct byte_sink base;
	struct byte_sink *next;
	z_stream z;
	gz_header header;
	unsigned char *out;
};

static int gzip_pump(struct gzip_sink *g, int flush)
{
	do {
		g->z.next_out = g->out;
		g->z.avail_out = GZIP_OUT_BUF;
		int rc = deflate(&g->z, flush);
		if (rc == Z_STREAM_ERROR)
			return error_set(ERR_FAILURE, "gzip compression failed");
		size_t n = GZIP_OUT_BUF - g->z.avail_out;
		if (n) {
			int w = sink_write(g->next, g->out, n);
			if (w)
				return w;
		}
		if (rc == Z_STREAM_END)
			break;
	} while (g->z.avail_out == 0 || (flush == Z_FINISH));
	return 0;
}

static int gzip_write(struct byte_sink *s, const void *buf, size_t len)
{
	struct gzip_sink *g = (struct gzip_sink *)s;
	const unsigned char *p = buf;
	while (len) {
		uInt chunk = len > UINT_MAX ? UINT_MAX : (uInt)len;
		g->z.next_in = (unsigned char *)p;
		g->z.avail_in = chunk;
		int rc = gzip_pump(g, Z_NO_FLUSH);
		if (rc)
			return rc;
		p += chunk;
		len -= chunk;
	}
	return 0;
}

static int gzip_finish(struct byte_sink *s)
{
	struct gzip_sink *g = (struct gzip_sink *)s;
	g->z.next_in = NULL;
	g->z.avail_in = 0;
	int rc = gzip_pump(g, Z_FINISH);
	return rc ? rc : sink_finish(g->next);
}

static void gzip_sink_close(struct byte_sink *s)
{
	struct gzip_sink *g = (struct gzip_sink *)s;
	deflateEnd(&g->z);
	free(g->out);
	free(g);
}

int gzip_sink_new(struct byte_sink **out, struct byte_sink *next, bool level_set, int level)
{
	int zlevel = Z_DEFAULT_COMPRESSION, strategy = Z_DEFAULT_STRATEGY;
	if (level_set) {
		if (codec_check_level(COMPRESSION_GZIP, level))
			return ERR_USAGE;
		if (level == -2)
			strategy = Z_HUFFMAN_ONLY; /* Go's flate.HuffmanOnly */
		else
			zlevel = level;
	}
	struct gzip_sink *g = calloc(1, sizeof(*g));
	if (!g || !(g->out = malloc(GZIP_OUT_BUF))) {
		free(g);
		return error_set(ERR_FAILURE, "out of memory");
	}
	if (deflateInit2(&g->z, zlevel, Z_DEFLATED, 16 + MAX_WBITS, 8, strategy) != Z_OK) {
		free(g->out);
		free(g);
		return error_set(ERR_FAILURE, "cannot start a gzip encoder");
	}
	/* No name, no time stamp, OS "unknown": the header Go writes. */
	g->header.os = 255;
	deflateSetHeader(&g->z, &g->header);
	g->base.write = gzip_write;
	g->base.finish = gzip_finish;
	g->base.close = gzip_sink_close;
	g->next = next;
	*out = &g->base;
	return 0;
}
