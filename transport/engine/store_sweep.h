/* What ls, du, rm and prune do on a store (transport/store.h), whatever
 * the backend: survey its caches and blobs, and mark and sweep.
 *
 * Prune: the roots are the caches kept (all, or those --keep-tag names;
 * images are always kept).  Inside each kept cache, results older than
 * --keep-since go, then, while the store's total is over --max-size, the
 * oldest results of every kept cache (one cut-off time for all); a cache
 * is rewritten with mode=min's rule (no result keeps a chain that lost a
 * layer).  Then, under the store's lock and from a fresh listing, every
 * blob no entry references is deleted -- unless it is younger than --grace:
 * an export running meanwhile uploads its blobs before its document. */
#ifndef CACHECTL_STORE_SWEEP_H
#define CACHECTL_STORE_SWEEP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/util/progress.h"
#include "core/util/timestamp.h"
#include "transport/transport.h"

/* One entry of the store and what it weighs. */
struct entry_summary {
	struct store_entry entry;
	bool readable;        /* is a cache that read_cache could load */
	size_t records, results, blobs;
	int64_t bytes;        /* every blob it references, its documents included */
	int64_t unique_bytes; /* of those, the bytes no other entry references */
	int64_t config_size;
	bool over_buildkit_limit;
	char problem[256];    /* why it could not be read, when it is a cache */
};

struct store_survey {
	struct entry_summary *entries;
	size_t n_entries;
	bool blobs_listed;          /* the store can list its blobs */
	size_t n_blobs;             /* stored blobs (when listed) */
	int64_t stored_bytes;       /* their bytes */
	size_t n_unreferenced;      /* of those, referenced by no entry */
	int64_t unreferenced_bytes;
	size_t n_leftovers;         /* stale uploads and other files */
	int64_t leftover_bytes;
	bool usage_known;           /* the store's own figure (gha) */
	int64_t usage_bytes, usage_entries;
};

int store_survey(struct store_survey *out, struct transport *t);
void store_survey_free(struct store_survey *s);

struct prune_settings {
	const char *const *keep_tags; /* NULL: keep every cache */
	size_t n_keep_tags;
	bool keep_since_set;
	double keep_since;            /* seconds */
	int64_t max_size;             /* 0: no budget */
	double grace;                 /* seconds */
	bool dry_run;
};

struct prune_report {
	size_t caches_removed, caches_trimmed, results_dropped;
	size_t blobs_deleted;
	int64_t bytes_freed;
	size_t blobs_spared; /* unreferenced but younger than the grace */
	int64_t bytes_spared;
};

/* Runs (or, dry, describes) a prune; each action is a line on `out`. */
int store_prune(struct transport *t, const struct prune_settings *s, struct prune_report *r, FILE *out,
		struct progress *p);

/* Removes the cache `name` (its blobs stay for prune). */
int store_remove_cache(struct transport *t, const char *name, FILE *out);

/* For the files of this module: the store ops of t (ERR_USAGE naming the
 * verb when the backend has none); the cache entry e names. */
const struct store_ops *store_ops_for(struct transport *t, const char *verb);
int store_read_entry(struct cache **out, struct transport *t, const struct store_entry *e);

#endif
