/* A bounded pool of threads for independent jobs (one layer each). */
#ifndef CACHECTL_PARALLEL_H
#define CACHECTL_PARALLEL_H

#include "core/util/error.h"

#include <stdbool.h>
#include <stddef.h>

/* Runs fn(ctx, i) for every i in [0, n) on at most `threads` threads.
 * A failing job records its own message where the caller can find it (the
 * job's context); the returned code is that of the first failure.  Unless
 * keep_going, no new job starts after a failure.
 * Not CACHECTL_MUST_CHECK: with keep_going the jobs' contexts hold every
 * outcome, and callers that read them there may leave the code alone. */
int parallel_for(size_t n, unsigned threads, bool keep_going, int (*fn)(void *ctx, size_t i), void *ctx);

/* Threads to use when the user does not say: the online processors. */
unsigned parallel_default_threads(void);

#endif
