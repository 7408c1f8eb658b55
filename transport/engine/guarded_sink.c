/* One destination's failure stays its own: see guarded_sink.h. */
#include "transport/engine/guarded_sink.h"

void delivery_fail(struct delivery *dl, int rc)
{
	dl->failed = true;
	error_save(&dl->error, rc);
}

/* rc is the writer's error: this delivery fails; the stream goes on while
 * another writer still takes it. */
static int guarded_failure(struct guarded_sink *g, int rc)
{
	delivery_fail(g->delivery, rc);
	return atomic_fetch_sub(g->alive, 1) > 1 ? 0 : rc;
}

static int guarded_write(struct byte_sink *s, const void *buf, size_t len)
{
	struct guarded_sink *g = (struct guarded_sink *)s;
	if (g->delivery->failed)
		return 0;
	int rc = sink_write(&g->writer->sink, buf, len);
	return rc ? guarded_failure(g, rc) : 0;
}

static int guarded_finish(struct byte_sink *s)
{
	struct guarded_sink *g = (struct guarded_sink *)s;
	if (g->delivery->failed)
		return 0;
	int rc = sink_finish(&g->writer->sink);
	return rc ? guarded_failure(g, rc) : 0;
}

static void guarded_close(struct byte_sink *s)
{
	(void)s; /* the writer is closed by whoever created it */
}

void guarded_sink_init(struct guarded_sink *g, struct blob_writer *w, struct delivery *dl, atomic_size_t *alive)
{
	*g = (struct guarded_sink){{guarded_write, guarded_finish, guarded_close}, w, dl, alive};
}
