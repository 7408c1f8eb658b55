/* The one way arrays grow: geometrically.  Growing by one element per
 * append copies the array every time (realloc rarely extends in place, and
 * never under ASan): n appends cost n^2/2 element copies and leave every
 * intermediate size behind in the allocator.  Doubling makes n appends
 * cost at most 2n copies. */
#ifndef CACHECTL_ARRAY_GROW_H
#define CACHECTL_ARRAY_GROW_H

#include <stddef.h>

#include "core/util/error.h"

/* Makes room for at least `need` elements of `size` bytes in the array the
 * pointer at `items` points to, whose room is *cap elements: the room at
 * least doubles (16 elements first).  New room is uninitialised.  On
 * failure (error_oom(), also for a size that overflows) the array and *cap are
 * unchanged.  `items` is the address of the array pointer (any object
 * pointer type): use ARRAY_RESERVE. */
CACHECTL_MUST_CHECK int array_reserve(void *items, size_t *cap, size_t need, size_t size);

/* ARRAY_RESERVE(a, cap, n + 1) before a[n++] = x. */
#define ARRAY_RESERVE(array, cap, need) array_reserve(&(array), &(cap), (need), sizeof(*(array)))

/* For arrays that keep a count n and no capacity (the cache config's
 * layers, records, results, chains ...): the array with room for element
 * n, or NULL when out of memory (the array is then unchanged).  The room is
 * implied by n -- it doubles each time n reaches a power of two, 4 first --
 * so such an array must only ever grow through this function, from NULL.
 * New room is zeroed. */
void *array_grow_counted(void *array, size_t n, size_t size);

#endif
