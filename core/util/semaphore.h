/* A counting semaphore: at most `count` holders at once, the others wait.
 * Used to bound how many uploads one destination runs in parallel while
 * the blob jobs themselves run on more threads.
 *
 * The struct is embedded in its owner (initialising cannot fail); its
 * members belong to semaphore.c. */
#ifndef CACHECTL_SEMAPHORE_H
#define CACHECTL_SEMAPHORE_H

#include <pthread.h>

struct semaphore {
	pthread_mutex_t lock;
	pthread_cond_t freed;
	unsigned available;
};

void semaphore_init(struct semaphore *s, unsigned count);
/* Changes the count; only before any thread holds or waits for it. */
void semaphore_set_count(struct semaphore *s, unsigned count);
void semaphore_destroy(struct semaphore *s);

/* Waits until a unit is free and takes it. */
void semaphore_acquire(struct semaphore *s);
/* Gives back a unit taken with semaphore_acquire. */
void semaphore_release(struct semaphore *s);

#endif
