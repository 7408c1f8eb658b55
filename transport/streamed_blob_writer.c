#include "transport/streamed_blob_writer.h"

#include <stdlib.h>
#include <string.h>

#include "core/util/digest.h"

struct streamed_blob_writer {
	struct blob_writer base;
	struct streamed_blob_store store;
	char expected[DIGEST_BUF]; /* the announced digest; empty when unknown */
	struct streamed_upload *upload;
};

static int writer_write(struct byte_sink *sink, const void *buf, size_t len)
{
	return streamed_upload_write(((struct streamed_blob_writer *)sink)->upload, buf, len);
}

static int writer_finish(struct byte_sink *sink)
{
	return streamed_upload_end(((struct streamed_blob_writer *)sink)->upload);
}

static void writer_sink_close(struct byte_sink *sink)
{
	(void)sink; /* the writer's close frees it */
}

static int writer_commit(struct blob_writer *bw, const char *digest, int64_t size, bool *existed)
{
	struct streamed_blob_writer *w = (struct streamed_blob_writer *)bw;
	const struct streamed_blob_store *s = &w->store;
	int rc;
	*existed = false;
	/* Known only now (a re-encoded layer): the store may have it. */
	if (strcmp(w->expected, digest) != 0 && ((rc = s->present(s->store, digest, size, existed)) || *existed))
		return rc;
	char *name = NULL;
	if (!(rc = s->name_of(s->store, digest, &name)))
		rc = streamed_upload_commit(w->upload, name, digest_hex(digest), existed);
	free(name);
	return rc;
}

static void writer_close(struct blob_writer *bw)
{
	struct streamed_blob_writer *w = (struct streamed_blob_writer *)bw;
	streamed_upload_free(w->upload);
	free(w);
}

int streamed_blob_writer_new(struct blob_writer **out, const struct streamed_blob_store *store,
			     const struct descriptor *expected)
{
	struct streamed_blob_writer *w = calloc(1, sizeof(*w));
	CHECK_ALLOC(w);
	w->store = *store;
	bool known = expected && digest_is_valid(expected->digest) == 0;
	int64_t size = expected && expected->size > 0 ? expected->size : 0;
	if (known)
		memcpy(w->expected, expected->digest, DIGEST_BUF);
	int rc = streamed_upload_new(&w->upload, store->ops, store->ops_ctx, store->limits, store->slots, size,
				     store->what);
	if (!rc && known && size > store->limits->whole_max) {
		/* The name is known: send parts while the rest is still coming. */
		char *name;
		if (!(rc = store->name_of(store->store, expected->digest, &name))) {
			rc = streamed_upload_stream_to(w->upload, name);
			free(name);
		}
	}
	if (rc) {
		writer_close(&w->base);
		return rc;
	}
	w->base.sink.write = writer_write;
	w->base.sink.finish = writer_finish;
	w->base.sink.close = writer_sink_close;
	w->base.commit = writer_commit;
	w->base.close = writer_close;
	*out = &w->base;
	return 0;
}
