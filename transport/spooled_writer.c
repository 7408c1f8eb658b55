#include "transport/spooled_writer.h"

#include <stdlib.h>
#include <string.h>

#include "core/util/error.h"

struct spooled_writer {
	struct blob_writer base;
	struct spool *spool;
	char expected[DIGEST_BUF];
	spooled_upload_fn upload;
	void *ctx;
};

static int sw_write(struct byte_sink *s, const void *buf, size_t len)
{
	return spool_write(((struct spooled_writer *)s)->spool, buf, len);
}

static int sw_finish(struct byte_sink *s)
{
	(void)s;
	return 0;
}

static void sw_sink_close(struct byte_sink *s)
{
	(void)s; /* the writer's close frees it */
}

static int sw_commit(struct blob_writer *bw, const char *digest, int64_t size, bool *existed)
{
	struct spooled_writer *w = (struct spooled_writer *)bw;
	*existed = false;
	if (spool_size(w->spool) != size)
		return error_set(ERR_FAILURE, "blob %s: spooled %lld bytes, expected %lld", digest,
				 (long long)spool_size(w->spool), (long long)size);
	return w->upload(w->ctx, w->expected, digest, size, w->spool, existed);
}

static void sw_close(struct blob_writer *bw)
{
	struct spooled_writer *w = (struct spooled_writer *)bw;
	spool_free(w->spool);
	free(w);
}

int spooled_writer_new(struct blob_writer **out, const struct descriptor *expected, const char *what,
		       spooled_upload_fn upload, void *ctx)
{
	struct spooled_writer *w = calloc(1, sizeof(*w));
	CHECK_ALLOC(w);
	int rc = spool_new(&w->spool, what);
	if (rc) {
		free(w);
		return rc;
	}
	if (expected && *expected->digest)
		memcpy(w->expected, expected->digest, DIGEST_BUF);
	w->upload = upload;
	w->ctx = ctx;
	w->base.sink.write = sw_write;
	w->base.sink.finish = sw_finish;
	w->base.sink.close = sw_sink_close;
	w->base.commit = sw_commit;
	w->base.close = sw_close;
	*out = &w->base;
	return 0;
}
