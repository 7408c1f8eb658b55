#include "core/codec/readahead.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/error.h"

/* A ring of READAHEAD_DEPTH buffers: the reader thread fills the one at
 * `filled`, the consumer drains the one at `drained`; `count` of them hold
 * bytes.  The stream's end or error is recorded after the last bytes. */
struct slot {
	char *data;
	size_t len;
};

struct readahead {
	struct byte_source base;
	struct byte_source *inner;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct slot slots[READAHEAD_DEPTH];
	unsigned filled, drained, count;
	size_t pos;        /* consumed from slots[drained] */
	bool ended;        /* the reader is done: the end, or an error */
	int error;         /* 0 at a clean end */
	struct error_state error_state;
	bool closing;      /* the consumer is gone: stop */
};

static void *reader(void *arg)
{
	struct readahead *r = arg;
	int rc = 0;
	for (;;) {
		pthread_mutex_lock(&r->lock);
		while (r->count == READAHEAD_DEPTH && !r->closing)
			pthread_cond_wait(&r->changed, &r->lock);
		bool stop = r->closing;
		struct slot *s = &r->slots[r->filled];
		pthread_mutex_unlock(&r->lock);
		if (stop)
			break;
		/* The slot is the reader's alone until it is counted.  Filled up,
		 * so the consumer is woken once per buffer, not once per read. */
		size_t got = 0;
		bool end = false;
		while (got < READAHEAD_BUFFER) {
			ssize_t n = source_read(r->inner, s->data + got, READAHEAD_BUFFER - got);
			if (n <= 0) {
				rc = (int)n;
				end = true;
				break;
			}
			got += (size_t)n;
		}
		pthread_mutex_lock(&r->lock);
		if (got) {
			/* The bytes before an error still come first. */
			s->len = got;
			r->filled = (r->filled + 1) % READAHEAD_DEPTH;
			r->count++;
		}
		if (rc) {
			error_save(&r->error_state, rc);
			r->error = rc;
		}
		r->ended = end;
		pthread_cond_broadcast(&r->changed);
		bool done = r->ended;
		pthread_mutex_unlock(&r->lock);
		if (done)
			break;
	}
	return NULL;
}

static ssize_t readahead_read(struct byte_source *src, void *buf, size_t len)
{
	struct readahead *r = (struct readahead *)src;
	pthread_mutex_lock(&r->lock);
	while (r->count == 0 && !r->ended)
		pthread_cond_wait(&r->changed, &r->lock);
	if (r->count == 0) {
		int rc = r->error;
		pthread_mutex_unlock(&r->lock);
		return rc ? error_restore(&r->error_state) : 0;
	}
	struct slot *s = &r->slots[r->drained];
	pthread_mutex_unlock(&r->lock);
	/* The slot is the consumer's alone until it is handed back. */
	size_t n = s->len - r->pos < len ? s->len - r->pos : len;
	memcpy(buf, s->data + r->pos, n);
	r->pos += n;
	if (r->pos == s->len) {
		r->pos = 0;
		pthread_mutex_lock(&r->lock);
		r->drained = (r->drained + 1) % READAHEAD_DEPTH;
		r->count--;
		pthread_cond_broadcast(&r->changed);
		pthread_mutex_unlock(&r->lock);
	}
	return (ssize_t)n;
}

static void free_readahead(struct readahead *r)
{
	for (unsigned i = 0; i < READAHEAD_DEPTH; i++)
		free(r->slots[i].data);
	free(r);
}

static void readahead_close(struct byte_source *src)
{
	struct readahead *r = (struct readahead *)src;
	pthread_mutex_lock(&r->lock);
	r->closing = true;
	pthread_cond_broadcast(&r->changed);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	pthread_cond_destroy(&r->changed);
	pthread_mutex_destroy(&r->lock);
	source_close(r->inner);
	free_readahead(r);
}

struct byte_source *readahead_source(struct byte_source *inner, int64_t size)
{
	if (size >= 0 && size <= (int64_t)READAHEAD_DEPTH * READAHEAD_BUFFER)
		return inner;
	struct readahead *r = calloc(1, sizeof(*r));
	if (!r)
		return inner;
	for (unsigned i = 0; i < READAHEAD_DEPTH; i++) {
		if (!(r->slots[i].data = malloc(READAHEAD_BUFFER))) {
			free_readahead(r);
			return inner;
		}
	}
	r->base.read = readahead_read;
	r->base.close = readahead_close;
	r->inner = inner;
	if (pthread_mutex_init(&r->lock, NULL) != 0) {
		free_readahead(r);
		return inner;
	}
	if (pthread_cond_init(&r->changed, NULL) != 0) {
		pthread_mutex_destroy(&r->lock);
		free_readahead(r);
		return inner;
	}
	if (pthread_create(&r->thread, NULL, reader, r) != 0) {
		pthread_cond_destroy(&r->changed);
		pthread_mutex_destroy(&r->lock);
		free_readahead(r);
		return inner;
	}
	return &r->base;
}
