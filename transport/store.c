#include "transport/store.h"

#include <stdlib.h>

void store_entries_free(struct store_entry *e, size_t n)
{
	for (size_t i = 0; e && i < n; i++)
		free(e[i].name);
	free(e);
}

void store_blobs_free(struct store_blob *b, size_t n)
{
	for (size_t i = 0; b && i < n; i++)
		free(b[i].id);
	free(b);
}
