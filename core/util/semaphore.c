#include "core/util/semaphore.h"

void semaphore_init(struct semaphore *s, unsigned count)
{
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->freed, NULL);
	s->available = count;
}

void semaphore_set_count(struct semaphore *s, unsigned count)
{
	pthread_mutex_lock(&s->lock);
	s->available = count;
	pthread_mutex_unlock(&s->lock);
}

void semaphore_destroy(struct semaphore *s)
{
	pthread_cond_destroy(&s->freed);
	pthread_mutex_destroy(&s->lock);
}

void semaphore_acquire(struct semaphore *s)
{
	pthread_mutex_lock(&s->lock);
	while (s->available == 0)
		pthread_cond_wait(&s->freed, &s->lock);
	s->available--;
	pthread_mutex_unlock(&s->lock);
}

void semaphore_release(struct semaphore *s)
{
	pthread_mutex_lock(&s->lock);
	s->available++;
	pthread_cond_signal(&s->freed);
	pthread_mutex_unlock(&s->lock);
}
