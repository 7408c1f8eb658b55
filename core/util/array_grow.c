#include "core/util/array_grow.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_FIRST_ROOM 16

int array_reserve(void *items, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t room = *cap ? *cap : ARRAY_FIRST_ROOM / 2;
	do {
		if (room > SIZE_MAX / 2)
			return error_oom();
		room *= 2;
	} while (room < need);
	if (size && room > SIZE_MAX / size)
		return error_oom();
	/* The array pointer is read and written as bytes: `items` points at a
	 * `struct x *` or a `char **`, which void * cannot alias portably. */
	void *old;
	memcpy(&old, items, sizeof(old));
	void *grown = realloc(old, room * size);
	CHECK_ALLOC(grown);
	memcpy(items, &grown, sizeof(grown));
	*cap = room;
	return 0;
}

void *array_grow_counted(void *array, size_t n, size_t size)
{
	if (n & (n - 1) || (n && n < 4))
		return array; /* room is left below the next power of two */
	size_t room = n < 4 ? 4 : n * 2;
	if (n > SIZE_MAX / 2 || (size && room > SIZE_MAX / size))
		return NULL;
	char *grown = realloc(array, room * size);
	if (grown)
		memset(grown + n * size, 0, (room - n) * size);
	return grown;
}
