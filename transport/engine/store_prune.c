/* prune: mark and sweep over a store (see store_sweep.h for the rules). */
#include <stdlib.h>
#include <string.h>

#include "core/model/cache_trim.h"
#include "core/util/error.h"
#include "core/util/size.h"
#include "formats/cache_manifest.h"
#include "transport/engine/store_sweep.h"

enum action { KEEP, TRIM, REMOVE };

struct planned {
	enum action action;
	struct cache *cache; /* loaded when trimming was asked for */
	size_t dropped;      /* results */
};

struct prune_run {
	struct transport *t;
	const struct store_ops *ops;
	const struct prune_settings *s;
	struct store_entry *entries;
	size_t n;
	struct planned *plan;
	struct strmap old_marks; /* blobs of entries removed or rewritten (stores that cannot list blobs) */
	FILE *out;
	struct progress *p;
	struct prune_report *r;
	struct timestamp now;
	const char *would; /* "" or "would " */
};

static struct timestamp seconds_before(const struct timestamp *t, double seconds)
{
	struct timestamp out = *t;
	out.seconds -= (int64_t)seconds;
	return out;
}

static bool kept_by_tags(const struct prune_settings *s, const char *name)
{
	if (!s->keep_tags)
		return true;
	for (size_t i = 0; i < s->n_keep_tags; i++)
		if (strcmp(s->keep_tags[i], name) == 0)
			return true;
	return false;
}

/* --keep-tag names that match no cache: a note each (the cache may be
 * being written right now); when none matches, a typo that would remove
 * every cache: refused. */
static int check_keep_tags(struct prune_run *run)
{
	size_t matched = 0;
	for (size_t k = 0; k < run->s->n_keep_tags; k++) {
		bool found = false;
		for (size_t i = 0; i < run->n && !found; i++)
			found = run->entries[i].is_cache && strcmp(run->entries[i].name, run->s->keep_tags[k]) == 0;
		if (found)
			matched++;
		else
			progress_note(run->p, "--keep-tag %s: %s holds no cache called that (yet)", run->s->keep_tags[k],
				      run->t->display);
	}
	if (run->s->n_keep_tags && !matched)
		return error_set(ERR_NOT_FOUND,
				 "no --keep-tag names a cache of %s (cachectl ls lists them): nothing was removed",
				 run->t->display);
	return 0;
}

static int sum_marks(int64_t *out, const struct strmap *m, const struct strmap *except)
{
	size_t v;
	*out = 0;
	for (size_t k = 0; k < m->cap; k++)
		if (m->slots[k].key && !(except && strmap_get(except, m->slots[k].key, &v)))
			*out += (int64_t)m->slots[k].value;
	return 0;
}

/* The store's referenced bytes when every loaded cache drops its results
 * created before `cutoff`; `base` holds the marks of everything else. */
static int total_with_cutoff(int64_t *out, struct prune_run *run, const struct strmap *base,
			     const struct timestamp *cutoff)
{
	struct strmap m = STRMAP_INIT;
	int64_t base_bytes, extra;
	int rc = 0;
	for (size_t i = 0; i < run->n && !rc; i++) {
		struct cache *c = NULL;
		if (run->plan[i].action == REMOVE || !run->plan[i].cache)
			continue;
		if (!(rc = cache_clone(&c, run->plan[i].cache)) && !(rc = cache_drop_results_before(c, cutoff, NULL)))
			rc = store_mark_cache(&m, c);
		cache_free(c);
	}
	sum_marks(&base_bytes, base, NULL);
	sum_marks(&extra, &m, base);
	*out = base_bytes + extra;
	strmap_free(&m);
	return rc;
}

static int time_cmp(const void *a, const void *b)
{
	return timestamp_compare(a, b);
}

/* The latest cut-off that brings the store under --max-size. */
static int budget_cutoff(struct prune_run *run, const struct strmap *base, struct timestamp *cutoff)
{
	size_t m = 0, cap = 0;
	struct timestamp *times = NULL;
	int64_t total;
	int rc = 0;
	for (size_t i = 0; i < run->n && !rc; i++) {
		const struct cache *c = run->plan[i].cache;
		for (size_t r = 0; c && r < c->config->n_records; r++)
			for (size_t k = 0; k < c->config->records[r].n_results; k++) {
				if (m == cap) {
					cap = cap ? cap * 2 : 64;
					struct timestamp *g = realloc(times, cap * sizeof(*g));
					if (!g) {
						free(times);
						return error_oom();
					}
					times = g;
				}
				times[m++] = c->config->records[r].results[k].created_at;
			}
	}
	qsort(times, m, sizeof(*times), time_cmp);
	/* Position m stands for "after every result": nothing left. */
	size_t lo = 0, hi = m;
	struct timestamp after_all = run->now;
	after_all.seconds += 100LL * 365 * 86400;
	if ((rc = total_with_cutoff(&total, run, base, &after_all)))
		goto out;
	if (total > run->s->max_size) {
		char have[32];
		size_format(have, sizeof(have), total);
		rc = error_set(ERR_FAILURE, "--max-size=%lld cannot be met: what prune may not drop (images, documents) "
					    "takes %lld bytes (%s) already",
			       (long long)run->s->max_size, (long long)total, have);
		goto out;
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if ((rc = total_with_cutoff(&total, run, base, &times[mid])))
			goto out;
		if (total <= run->s->max_size)
			hi = mid;
		else
			lo = mid + 1;
	}
	*cutoff = lo < m ? times[lo] : after_all;
out:
	free(times);
	return rc;
}

/* Loads every kept cache and decides, by --keep-since and --max-size,
 * which results go. */
static int plan_trims(struct prune_run *run)
{
	const struct prune_settings *s = run->s;
	struct strmap base = STRMAP_INIT;
	struct timestamp cutoff = {.seconds = -62135596800LL}; /* Go's zero time: nothing older */
	int rc = 0;
	if (!s->keep_since_set && !s->max_size)
		return 0;
	if (s->keep_since_set)
		cutoff = seconds_before(&run->now, s->keep_since);
	for (size_t i = 0; i < run->n && !rc; i++) {
		if (run->plan[i].action == REMOVE)
			continue;
		if (run->entries[i].is_cache) {
			rc = store_read_entry(&run->plan[i].cache, run->t, &run->entries[i]);
			if (!rc)
				rc = cache_drop_results_before(run->plan[i].cache, &cutoff, NULL);
			if (rc && rc != ERR_FAILURE && rc != ERR_CORRUPT && rc != ERR_NOT_FOUND)
				break;
			if (!rc)
				continue;
			/* Unreadable: kept as it is, whole. */
			progress_note(run->p, "%s: cache \"%s\" kept whole: %s", run->t->display, run->entries[i].name,
				      error_message());
			rc = 0;
		}
		if (s->max_size)
			rc = run->ops->mark(run->t, &run->entries[i], &base);
	}
	if (!rc && s->max_size)
		rc = budget_cutoff(run, &base, &cutoff);
	for (size_t i = 0; i < run->n && !rc; i++) {
		struct planned *pl = &run->plan[i];
		if (!pl->cache)
			continue;
		/* Counted against the cache as read, --keep-since included. */
		struct cache *fresh = NULL;
		if ((rc = store_read_entry(&fresh, run->t, &run->entries[i])))
			break;
		cache_free(pl->cache);
		pl->cache = fresh;
		if ((rc = cache_drop_results_before(pl->cache, &cutoff, &pl->dropped)))
			break;
		if (pl->dropped)
			pl->action = pl->cache->config->n_layers ? TRIM : REMOVE;
	}
	strmap_free(&base);
	return rc;
}

static void say_plan(struct prune_run *run)
{
	char when[TIMESTAMP_BUF];
	for (size_t i = 0; i < run->n; i++) {
		const struct store_entry *e = &run->entries[i];
		const struct planned *pl = &run->plan[i];
		if (pl->action == REMOVE && !pl->dropped)
			fprintf(run->out, "%sremove cache %s (%s): not a --keep-tag\n", run->would, e->name, e->digest);
		else if (pl->action == REMOVE)
			fprintf(run->out, "%sremove cache %s (%s): all %zu of its results are past --keep-since/--max-size\n",
				run->would, e->name, e->digest, pl->dropped);
		else if (pl->action == TRIM) {
			timestamp_format(when, &e->written, true);
			fprintf(run->out, "%strim cache %s (%s): %zu results dropped, oldest first\n", run->would, e->name,
				e->digest, pl->dropped);
		}
	}
}

/* Whether entry e is still what the store's name points at. */
static int still_there(bool *there, struct prune_run *run, const struct store_entry *e)
{
	struct store_entry *now = NULL;
	size_t n = 0;
	int rc = run->ops->list(run->t, &now, &n);
	*there = false;
	for (size_t i = 0; !rc && i < n; i++)
		if (strcmp(now[i].name, e->name) == 0 && strcmp(now[i].digest, e->digest) == 0)
			*there = true;
	store_entries_free(now, n);
	return rc;
}

/* Rewrites trimmed caches (before the lock: write_cache takes it itself). */
static int rewrite_trimmed(struct prune_run *run)
{
	for (size_t i = 0; i < run->n; i++) {
		struct planned *pl = &run->plan[i];
		const struct store_entry *e = &run->entries[i];
		bool there;
		if (pl->action != TRIM)
			continue;
		int rc = still_there(&there, run, e);
		if (rc)
			return rc;
		if (!there) {
			/* Written again meanwhile: the newer cache wins, untrimmed. */
			progress_note(run->p, "%s: cache \"%s\" changed during prune: left as it is", run->t->display,
				      e->name);
			pl->action = KEEP;
			continue;
		}
		struct export_form form = {.root = {.oci_mediatypes = true, .image_manifest = true, .convert_layers = true}};
		if (pl->cache->root_media_type && root_form_of(&form.root, pl->cache->root_media_type))
			error_clear();
		if ((rc = run->ops->select(run->t, e->name)) ||
		    (rc = run->t->ops->write_cache(run->t, pl->cache, &form)))
			return error_wrap(rc, "rewrite cache \"%s\"", e->name);
		/* Content-addressed stores keep the old document by digest. */
		if (run->ops->remove && (rc = run->ops->remove(run->t, e)) && rc != ERR_NOT_FOUND)
			progress_note(run->p, "%s: the old document of cache \"%s\" stays: %s", run->t->display,
				      e->name, error_message());
		error_clear();
		run->r->caches_trimmed++;
		run->r->results_dropped += pl->dropped;
	}
	return 0;
}

static int remove_caches(struct prune_run *run)
{
	for (size_t i = 0; i < run->n; i++) {
		if (run->plan[i].action != REMOVE)
			continue;
		if (!run->ops->remove)
			return error_set(ERR_USAGE, "%s: this store does not allow removing a cache", run->t->display);
		int rc = run->ops->remove(run->t, &run->entries[i]);
		if (rc == ERR_NOT_FOUND) {
			progress_note(run->p, "%s: cache \"%s\" changed during prune: left as it is", run->t->display,
				      run->entries[i].name);
			continue;
		}
		if (rc)
			return error_wrap(rc, "remove cache \"%s\"", run->entries[i].name);
		run->r->caches_removed++;
	}
	return 0;
}

/* What every entry references now: a fresh listing (or, dry, the plan). */
static int mark_all(struct prune_run *run, struct strmap *marks)
{
	struct store_entry *now = NULL;
	size_t n = 0;
	int rc = 0;
	if (run->s->dry_run) {
		for (size_t i = 0; i < run->n && !rc; i++) {
			if (run->plan[i].action == TRIM)
				rc = store_mark_cache(marks, run->plan[i].cache);
			else if (run->plan[i].action == KEEP)
				rc = run->ops->mark(run->t, &run->entries[i], marks);
		}
		return rc;
	}
	rc = run->ops->list(run->t, &now, &n);
	for (size_t i = 0; !rc && i < n; i++)
		rc = run->ops->mark(run->t, &now[i], marks);
	store_entries_free(now, n);
	return rc;
}

static int sweep_listed(struct prune_run *run, const struct strmap *marks)
{
	struct store_blob *blobs = NULL, *doomed = NULL;
	size_t n = 0, n_doomed = 0, v;
	struct timestamp spare_after = seconds_before(&run->now, run->s->grace);
	char size[32];
	int rc = run->ops->list_blobs(run->t, &blobs, &n);
	if (rc)
		return rc;
	if (!(doomed = calloc(n + 1, sizeof(*doomed)))) {
		store_blobs_free(blobs, n);
		return error_oom();
	}
	for (size_t i = 0; i < n; i++) {
		const struct store_blob *b = &blobs[i];
		if (*b->digest && strmap_get(marks, b->digest, &v))
			continue;
		if (timestamp_compare(&b->modified, &spare_after) > 0) {
			run->r->blobs_spared++;
			run->r->bytes_spared += b->size;
			continue;
		}
		size_format(size, sizeof(size), b->size);
		fprintf(run->out, "%sdelete %s %s (%s)\n", run->would, *b->digest ? "blob" : "leftover",
			*b->digest ? b->digest : b->id, size);
		doomed[n_doomed++] = *b;
	}
	if (run->s->dry_run) {
		run->r->blobs_deleted = n_doomed;
		for (size_t i = 0; i < n_doomed; i++)
			run->r->bytes_freed += doomed[i].size;
	} else if (n_doomed) {
		rc = run->ops->delete_blobs(run->t, doomed, n_doomed, &spare_after, &run->r->blobs_deleted,
					    &run->r->bytes_freed);
	}
	free(doomed); /* shares its ids with blobs */
	store_blobs_free(blobs, n);
	return rc;
}

/* Stores that cannot list blobs (a registry): what the removed documents
 * referenced and nothing left does, which the store's own collector frees. */
static void sweep_unlisted(struct prune_run *run, const struct strmap *marks)
{
	size_t v;
	for (size_t k = 0; k < run->old_marks.cap; k++) {
		const char *d = run->old_marks.slots[k].key;
		if (!d || strmap_get(marks, d, &v))
			continue;
		run->r->blobs_deleted++;
		run->r->bytes_freed += (int64_t)run->old_marks.slots[k].value;
		fprintf(run->out, "%sunreference blob %s (%lld bytes)\n", run->would, d,
			(long long)run->old_marks.slots[k].value);
	}
}

static int sweep(struct prune_run *run)
{
	struct strmap marks = STRMAP_INIT;
	bool locked = false;
	int rc = 0;
	if (!run->s->dry_run && run->ops->lock) {
		if ((rc = run->ops->lock(run->t)))
			return rc;
		locked = true;
	}
	if (!run->s->dry_run)
		rc = remove_caches(run);
	else
		for (size_t i = 0; i < run->n; i++)
			run->r->caches_removed += run->plan[i].action == REMOVE;
	if (!rc)
		rc = mark_all(run, &marks);
	if (!rc && run->ops->list_blobs)
		rc = sweep_listed(run, &marks);
	else if (!rc)
		sweep_unlisted(run, &marks);
	if (locked)
		run->ops->unlock(run->t);
	strmap_free(&marks);
	return rc;
}

int store_prune(struct transport *t, const struct prune_settings *s, struct prune_report *r, FILE *out,
		struct progress *p)
{
	struct prune_run run = {.t = t, .s = s, .out = out, .p = p, .r = r, .would = s->dry_run ? "would " : ""};
	int rc = 0;
	memset(r, 0, sizeof(*r));
	if (!(run.ops = store_ops_for(t, "prune")))
		return ERR_USAGE;
	timestamp_now(&run.now);
	if ((rc = run.ops->list(t, &run.entries, &run.n)))
		return rc;
	if (!(run.plan = calloc(run.n + 1, sizeof(*run.plan)))) {
		rc = error_oom();
		goto out;
	}
	if ((rc = check_keep_tags(&run)))
		goto out;
	for (size_t i = 0; i < run.n; i++)
		if (run.entries[i].is_cache && !kept_by_tags(s, run.entries[i].name))
			run.plan[i].action = REMOVE;
	if ((rc = plan_trims(&run)))
		goto out;
	for (size_t i = 0; i < run.n && !rc && !run.ops->list_blobs; i++)
		if (run.plan[i].action != KEEP)
			rc = run.ops->mark(t, &run.entries[i], &run.old_marks);
	if (rc)
		goto out;
	say_plan(&run);
	if (!s->dry_run && (rc = rewrite_trimmed(&run)))
		goto out;
	if (s->dry_run)
		for (size_t i = 0; i < run.n; i++)
			if (run.plan[i].action == TRIM) {
				r->caches_trimmed++;
				r->results_dropped += run.plan[i].dropped;
			}
	rc = sweep(&run);
out:
	for (size_t i = 0; run.plan && i < run.n; i++)
		cache_free(run.plan[i].cache);
	free(run.plan);
	strmap_free(&run.old_marks);
	store_entries_free(run.entries, run.n);
	return rc;
}
