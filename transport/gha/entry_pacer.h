/* Paces the creation of cache entries: at most N new entries in any window
 * of W seconds (GitHub: 200 a minute per repository, answered with 429
 * beyond).  A creation request holds a slot while it is in flight and is
 * recorded when its answer arrives, so that however the requests overlap
 * the service never sees more than N creations in a window.  Thread-safe. */
#ifndef CACHECTL_ENTRY_PACER_H
#define CACHECTL_ENTRY_PACER_H

#include "core/util/error.h"

#include <stdbool.h>

struct progress;
struct entry_pacer;

CACHECTL_MUST_CHECK int entry_pacer_new(struct entry_pacer **out, int limit, double window, struct progress *p);
void entry_pacer_free(struct entry_pacer *p);

/* Waits for a slot; *waited (may be NULL) gets the seconds spent waiting. */
void entry_pacer_acquire(struct entry_pacer *p, double *waited);
/* Gives the slot back; created: the service made an entry. */
void entry_pacer_release(struct entry_pacer *p, bool created);

/* Seconds spent waiting in total. */
double entry_pacer_total_wait(struct entry_pacer *p);

#endif
