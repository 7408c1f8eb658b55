#include "transport/resuming_source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/error.h"
#include "core/util/progress.h"

/* Cuts in one blob after which the download fails for good. */
#define REOPENS_MAX 3

struct resuming_source {
	struct byte_source base;
	resume_open_fn open_fn;
	void *store;
	struct progress *progress;
	char *name;
	struct byte_source *inner;
	int64_t delivered;
	unsigned reopens;
};

static ssize_t resuming_read(struct byte_source *src, void *buf, size_t len)
{
	struct resuming_source *r = (struct resuming_source *)src;
	for (;;) {
		ssize_t n = source_read(r->inner, buf, len);
		if (n >= 0) {
			r->delivered += n;
			return n;
		}
		if (r->reopens >= REOPENS_MAX)
			return n;
		char why[300];
		snprintf(why, sizeof(why), "%s", error_message());
		progress_note(r->progress, "%s; requesting the rest (from byte %lld) again", why,
			      (long long)r->delivered);
		r->reopens++;
		source_close(r->inner);
		r->inner = NULL;
		int rc = r->open_fn(r->store, r->name, r->delivered, &r->inner);
		if (rc)
			return rc;
	}
}

static void resuming_close(struct byte_source *src)
{
	struct resuming_source *r = (struct resuming_source *)src;
	source_close(r->inner);
	free(r->name);
	free(r);
}

int resuming_source_new(struct byte_source **out, resume_open_fn open_fn, void *store, const char *name,
			struct progress *progress)
{
	struct resuming_source *r = calloc(1, sizeof(*r));
	CHECK_ALLOC(r);
	r->base.read = resuming_read;
	r->base.close = resuming_close;
	r->open_fn = open_fn;
	r->store = store;
	r->progress = progress;
	int rc = (r->name = strdup(name)) ? open_fn(store, name, 0, &r->inner) : error_oom();
	if (rc) {
		resuming_close(&r->base);
		return rc;
	}
	*out = &r->base;
	return 0;
}
