/* The bucket-level S3 calls prune needs: ListObjectsV2 (every page) and
 * DeleteObjects (in batches of at most 1000 keys, its limit), plus the
 * single DeleteObject. */
#ifndef CACHECTL_S3_BUCKET_H
#define CACHECTL_S3_BUCKET_H

#include <stddef.h>
#include <stdint.h>

#include "core/util/timestamp.h"
#include "transport/s3/s3_client.h"

struct s3_listed {
	char *key;
	int64_t size;
	struct timestamp last_modified;
};

/* Every object whose key starts with prefix, page after page. */
int s3_list_objects(struct s3_client *c, const char *prefix, struct s3_listed **out, size_t *n);
void s3_listed_free(struct s3_listed *l, size_t n);

int s3_delete_objects(struct s3_client *c, char *const *keys, size_t n);
int s3_delete_object(struct s3_client *c, const char *key);

#endif
