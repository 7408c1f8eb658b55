#include "transport/gha/entry_pacer.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "core/util/error.h"
#include "core/util/progress.h"

struct entry_pacer {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	int limit;
	double window;
	double *times; /* creations within the window, oldest first (a ring) */
	int head, count, in_flight;
	double total_wait;
	double last_note;
	struct progress *progress;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int entry_pacer_new(struct entry_pacer **out, int limit, double window, struct progress *prog)
{
	struct entry_pacer *p = calloc(1, sizeof(*p));
	if (!p || !(p->times = calloc((size_t)limit, sizeof(double)))) {
		free(p);
		return error_oom();
	}
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&p->changed, &attr);
	pthread_condattr_destroy(&attr);
	pthread_mutex_init(&p->lock, NULL);
	p->limit = limit;
	p->window = window;
	p->progress = prog;
	p->last_note = -1e9;
	*out = p;
	return 0;
}

void entry_pacer_free(struct entry_pacer *p)
{
	if (!p)
		return;
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->changed);
	free(p->times);
	free(p);
}

static void forget_old(struct entry_pacer *p, double t)
{
	while (p->count && p->times[p->head] <= t - p->window) {
		p->head = (p->head + 1) % p->limit;
		p->count--;
	}
}

void entry_pacer_acquire(struct entry_pacer *p, double *waited)
{
	double start = now(), t;
	bool noted = false;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		t = now();
		forget_old(p, t);
		if (p->count + p->in_flight < p->limit)
			break;
		/* Full: wait for the oldest creation to leave the window, or for
		 * a request in flight to give its slot back. */
		double until = p->count ? p->times[p->head] + p->window : t + 1;
		/* Say so when the window is what holds us (not answers still to
		 * come), at most once a second for all threads. */
		if (!noted && p->count && until - t > 0.1 && t - p->last_note >= 1) {
			noted = true;
			p->last_note = t;
			progress_note(p->progress,
				      "gha: pacing new cache entries (at most %d per %gs): waiting %.1fs", p->limit,
				      p->window, until - t);
		}
		struct timespec ts = {(time_t)until, (long)((until - floor(until)) * 1e9)};
		pthread_cond_timedwait(&p->changed, &p->lock, &ts);
	}
	p->in_flight++;
	p->total_wait += t - start;
	pthread_mutex_unlock(&p->lock);
	if (waited)
		*waited = t - start;
}

void entry_pacer_release(struct entry_pacer *p, bool created)
{
	pthread_mutex_lock(&p->lock);
	p->in_flight--;
	if (created) {
		double t = now();
		forget_old(p, t);
		/* count + in_flight stayed below limit, so there is room */
		p->times[(p->head + p->count) % p->limit] = t;
		p->count++;
	}
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
}

double entry_pacer_total_wait(struct entry_pacer *p)
{
	pthread_mutex_lock(&p->lock);
	double w = p->total_wait;
	pthread_mutex_unlock(&p->lock);
	return w;
}
