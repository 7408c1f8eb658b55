/* A store: what one SRC names once its tag or name is left out -- a local
 * layout directory, a registry repository, an s3 bucket and prefixes, a gha
 * repository.  Backends that can manage one fill `struct store_ops` (every
 * op optional) and point transport_ops.store at it; ls, du, rm and prune
 * (transport/engine/store_sweep.c) use nothing else. */
#ifndef CACHECTL_STORE_H
#define CACHECTL_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/util/digest.h"
#include "core/util/error.h"
#include "core/util/strmap.h"
#include "core/util/timestamp.h"

struct transport;

/* One named document of the store: a cache, or an image whose blobs the
 * store shares. */
struct store_entry {
	char *name;              /* tag (local, registry), name (s3), key (gha) */
	char digest[DIGEST_BUF]; /* the document the name points at */
	int64_t size;            /* of that document */
	struct timestamp written; /* zero when the store does not say */
	bool is_cache;           /* false: an image, never removed by prune */
};

/* One stored blob, or a leftover file (digest empty, then `id` says
 * where: a stale upload). */
struct store_blob {
	char digest[DIGEST_BUF];
	int64_t size;
	struct timestamp modified;
	char *id; /* the backend's own handle (path, key, entry id); may be NULL */
};

struct store_ops {
	/* Every named document, caches and images (images may be listed
	 * with is_cache false only when the backend cannot tell). */
	int (*list)(struct transport *t, struct store_entry **out, size_t *n);
	/* The entry SRC itself names (its tag or name), for rm. */
	const char *(*selected)(struct transport *t);
	/* Points read_cache and write_cache at the entry called `name`. */
	int (*select)(struct transport *t, const char *name);
	/* Adds every blob e's documents name (e's own document included, when
	 * it is a blob) to marks, digest -> size. */
	int (*mark)(struct transport *t, const struct store_entry *e, struct strmap *marks);
	/* Removes the entry if it still points at e->digest. */
	int (*remove)(struct transport *t, const struct store_entry *e);
	/* NULL when the store cannot list its blobs (registry). */
	int (*list_blobs)(struct transport *t, struct store_blob **out, size_t *n);
	/* Deletes the blobs, except those modified after `spare_after` (checked
	 * again right before each deletion where the store allows it).
	 * *deleted counts those gone. */
	int (*delete_blobs)(struct transport *t, const struct store_blob *b, size_t n,
			    const struct timestamp *spare_after, size_t *deleted, int64_t *bytes);
	/* Held around prune's final mark and sweep (local: index.json's lock). */
	int (*lock)(struct transport *t);
	void (*unlock)(struct transport *t);
	/* The shortest --grace that keeps an export running meanwhile safe
	 * (s3: exporters refresh a present blob only past their touch_refresh);
	 * NULL: none beyond the default. */
	double (*grace_floor)(struct transport *t);
	/* What the store itself says it holds (gha: the repository's cache
	 * usage); NULL when it says nothing. */
	int (*usage)(struct transport *t, int64_t *bytes, int64_t *entries);
	/* What deleting blobs means here, for the report ("deleted", or
	 * "freed by the registry's garbage collector"). */
	const char *blob_fate;
};

struct cache;
/* Adds every blob c references (layers and config) to marks, digest ->
 * size: what a backend's `mark` does once it has read the entry's cache. */
CACHECTL_MUST_CHECK int store_mark_cache(struct strmap *marks, const struct cache *c);

void store_entries_free(struct store_entry *e, size_t n);
void store_blobs_free(struct store_blob *b, size_t n);

#endif
