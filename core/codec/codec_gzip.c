/* The gzip codec: the member-aware reader and writer of gzip_member.c seen
 * as a plain stream -- any number of members in, one member out. */
#include <stdlib.h>

#include "core/codec/codec.h"
#include "core/util/error.h"
#include "core/codec/gzip_member.h"

int gzip_source_new(struct byte_source **out, struct byte_source *inner, const char *what)
{
	return gzip_members_source_new(out, inner, NULL, NULL, what);
}

struct gzip_sink {
	struct byte_sink base;
	struct byte_sink *next;
	struct gzip_member_writer *w;
};

static int gzip_write(struct byte_sink *s, const void *buf, size_t len)
{
	return gzip_member_write(((struct gzip_sink *)s)->w, buf, len);
}

static int gzip_finish(struct byte_sink *s)
{
	struct gzip_sink *g = (struct gzip_sink *)s;
	int rc = gzip_member_is_open(g->w) ? 0 : gzip_member_begin(g->w); /* empty input: one empty member */
	if (!rc)
		rc = gzip_member_end(g->w);
	if (!rc)
		rc = gzip_member_flush(g->w);
	return rc ? rc : sink_finish(g->next);
}

static void gzip_sink_close(struct byte_sink *s)
{
	struct gzip_sink *g = (struct gzip_sink *)s;
	gzip_member_writer_free(g->w);
	free(g);
}

int gzip_sink_new(struct byte_sink **out, struct byte_sink *next, bool level_set, int level)
{
	struct gzip_sink *g = calloc(1, sizeof(*g));
	CHECK_ALLOC(g);
	int rc = gzip_member_writer_new(&g->w, next, level_set, level);
	if (rc) {
		free(g);
		return rc;
	}
	g->base.write = gzip_write;
	g->base.finish = gzip_finish;
	g->base.close = gzip_sink_close;
	g->next = next;
	*out = &g->base;
	return 0;
}
