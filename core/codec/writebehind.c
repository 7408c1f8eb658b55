#include "core/codec/writebehind.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/error.h"

/* A ring of WRITEBEHIND_DEPTH buffers: the writer fills the one at
 * `filled`, the thread drains the one at `drained` into inner; `count` of
 * them are handed over. */
struct slot {
	char *data;
	size_t len;
};

struct writebehind {
	struct byte_sink base;
	struct byte_sink *inner;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct slot slots[WRITEBEHIND_DEPTH];
	unsigned filled, drained, count;
	bool finishing; /* the writer is done: finish inner after the last slot */
	bool ended;     /* the thread is done: inner finished, or failed */
	int error;      /* inner's, 0 while none */
	struct error_state error_state;
	bool closing; /* the writer is gone: stop */
};

/* Takes the next slot to drain, or returns NULL when there is nothing more
 * to do (finishing with none left, or closing). */
static struct slot *next_slot(struct writebehind *w, bool *finish)
{
	struct slot *s = NULL;
	pthread_mutex_lock(&w->lock);
	while (w->count == 0 && !w->finishing && !w->closing)
		pthread_cond_wait(&w->changed, &w->lock);
	*finish = w->count == 0 && w->finishing && !w->closing;
	if (w->count && !w->closing)
		s = &w->slots[w->drained];
	pthread_mutex_unlock(&w->lock);
	return s;
}

static void *drainer(void *arg)
{
	struct writebehind *w = arg;
	int rc = 0;
	for (;;) {
		bool finish;
		struct slot *s = next_slot(w, &finish);
		if (!s) {
			if (finish)
				rc = sink_finish(w->inner);
			break;
		}
		/* The slot is the thread's alone until it is handed back. */
		rc = sink_write(w->inner, s->data, s->len);
		pthread_mutex_lock(&w->lock);
		w->drained = (w->drained + 1) % WRITEBEHIND_DEPTH;
		w->count--;
		pthread_cond_broadcast(&w->changed);
		pthread_mutex_unlock(&w->lock);
		if (rc)
			break;
	}
	pthread_mutex_lock(&w->lock);
	if (rc) {
		error_save(&w->error_state, rc);
		w->error = rc;
	}
	w->ended = true;
	pthread_cond_broadcast(&w->changed);
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Waits for a free slot; the thread's error instead, when it failed. */
static int free_slot(struct writebehind *w, struct slot **out)
{
	pthread_mutex_lock(&w->lock);
	while (w->count == WRITEBEHIND_DEPTH && !w->ended)
		pthread_cond_wait(&w->changed, &w->lock);
	int rc = w->error;
	bool ended = w->ended;
	pthread_mutex_unlock(&w->lock);
	if (rc)
		return error_restore(&w->error_state);
	if (ended)
		return error_set(ERR_FAILURE, "write after the end of a stream");
	*out = &w->slots[w->filled];
	return 0;
}

static int writebehind_write(struct byte_sink *sink, const void *buf, size_t len)
{
	struct writebehind *w = (struct writebehind *)sink;
	const char *p = buf;
	while (len) {
		struct slot *s = NULL;
		int rc = free_slot(w, &s);
		if (rc)
			return rc;
		/* The slot is the writer's alone until it is counted. */
		s->len = len < WRITEBEHIND_BUFFER ? len : WRITEBEHIND_BUFFER;
		memcpy(s->data, p, s->len);
		p += s->len;
		len -= s->len;
		pthread_mutex_lock(&w->lock);
		w->filled = (w->filled + 1) % WRITEBEHIND_DEPTH;
		w->count++;
		pthread_cond_broadcast(&w->changed);
		pthread_mutex_unlock(&w->lock);
	}
	return 0;
}

static int writebehind_finish(struct byte_sink *sink)
{
	struct writebehind *w = (struct writebehind *)sink;
	pthread_mutex_lock(&w->lock);
	w->finishing = true;
	pthread_cond_broadcast(&w->changed);
	while (!w->ended)
		pthread_cond_wait(&w->changed, &w->lock);
	int rc = w->error;
	pthread_mutex_unlock(&w->lock);
	return rc ? error_restore(&w->error_state) : 0;
}

static void free_writebehind(struct writebehind *w)
{
	for (unsigned i = 0; i < WRITEBEHIND_DEPTH; i++)
		free(w->slots[i].data);
	free(w);
}

static void writebehind_close(struct byte_sink *sink)
{
	struct writebehind *w = (struct writebehind *)sink;
	pthread_mutex_lock(&w->lock);
	w->closing = true;
	pthread_cond_broadcast(&w->changed);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->changed);
	pthread_mutex_destroy(&w->lock);
	free_writebehind(w);
}

int writebehind_sink_new(struct byte_sink **out, struct byte_sink *inner)
{
	struct writebehind *w = calloc(1, sizeof(*w));
	CHECK_ALLOC(w);
	for (unsigned i = 0; i < WRITEBEHIND_DEPTH; i++) {
		if (!(w->slots[i].data = malloc(WRITEBEHIND_BUFFER))) {
			free_writebehind(w);
			return error_oom();
		}
	}
	w->base = (struct byte_sink){writebehind_write, writebehind_finish, writebehind_close};
	w->inner = inner;
	if (pthread_mutex_init(&w->lock, NULL) != 0) {
		free_writebehind(w);
		return error_set(ERR_FAILURE, "cannot create a lock for an encoder thread");
	}
	if (pthread_cond_init(&w->changed, NULL) != 0) {
		pthread_mutex_destroy(&w->lock);
		free_writebehind(w);
		return error_set(ERR_FAILURE, "cannot create a condition for an encoder thread");
	}
	if (pthread_create(&w->thread, NULL, drainer, w) != 0) {
		pthread_cond_destroy(&w->changed);
		pthread_mutex_destroy(&w->lock);
		free_writebehind(w);
		return error_set(ERR_FAILURE, "cannot start an encoder thread");
	}
	*out = &w->base;
	return 0;
}
