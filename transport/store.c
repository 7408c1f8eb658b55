#include "transport/store.h"

#include <stdlib.h>

#include "core/model/cache.h"

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

int store_mark_cache(struct strmap *marks, const struct cache *c)
{
	const struct descriptor **blobs = NULL;
	size_t n = 0;
	int rc = cache_referenced_blobs(c, &blobs, &n);
	for (size_t i = 0; !rc && i < n; i++)
		rc = strmap_put(marks, blobs[i]->digest, (size_t)blobs[i]->size);
	free(blobs);
	return rc;
}
