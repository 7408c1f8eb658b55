#include "core/util/parallel.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/util/error.h"

struct pool {
	size_t n;
	bool keep_going;
	int (*fn)(void *ctx, size_t i);
	void *ctx;
	atomic_size_t next;
	atomic_bool stop;
	pthread_mutex_t lock;
	bool failed;
	struct error_state first;
};

static void *worker(void *arg)
{
	struct pool *p = arg;
	for (;;) {
		if (atomic_load(&p->stop))
			break;
		size_t i = atomic_fetch_add(&p->next, 1);
		if (i >= p->n)
			break;
		int rc = p->fn(p->ctx, i);
		if (rc) {
			pthread_mutex_lock(&p->lock);
			if (!p->failed) {
				p->failed = true;
				error_save(&p->first, rc);
			}
			pthread_mutex_unlock(&p->lock);
			if (!p->keep_going)
				atomic_store(&p->stop, true);
		}
	}
	return NULL;
}

int parallel_for(size_t n, unsigned threads, bool keep_going, int (*fn)(void *ctx, size_t i),
		 void *ctx)
{
	struct pool p = {.n = n, .keep_going = keep_going, .fn = fn, .ctx = ctx};
	atomic_init(&p.next, 0);
	atomic_init(&p.stop, false);
	pthread_mutex_init(&p.lock, NULL);
	if (threads < 1)
		threads = 1;
	if (threads > n)
		threads = n ? (unsigned)n : 1;
	pthread_t *tids = calloc(threads, sizeof(*tids));
	unsigned started = 0;
	if (tids)
		for (; started < threads - 1; started++)
			if (pthread_create(&tids[started], NULL, worker, &p))
				break;
	worker(&p); /* the calling thread works too */
	for (unsigned i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	free(tids);
	pthread_mutex_destroy(&p.lock);
	return p.failed ? error_restore(&p.first) : 0;
}

unsigned parallel_default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 2 ? 2 : n > 16 ? 16 : (unsigned)n;
}
