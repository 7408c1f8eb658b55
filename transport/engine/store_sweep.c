#include "transport/engine/store_sweep.h"

#include <stdlib.h>
#include <string.h>

#include "core/model/cache_trim.h"
#include "core/util/error.h"
#include "core/util/size.h"
#include "formats/cache_manifest.h"
#include "transport/engine/config_budget.h"

const struct store_ops *store_ops_for(struct transport *t, const char *verb)
{
	const struct store_ops *ops = t->ops->store;
	if (!ops || !ops->list || !ops->mark) {
		error_set(ERR_USAGE, "%s: this backend cannot %s (no way to list what %s holds)", t->display, verb,
			  t->display);
		return NULL;
	}
	return ops;
}

int store_read_entry(struct cache **out, struct transport *t, const struct store_entry *e)
{
	const struct store_ops *ops = t->ops->store;
	if (!ops->select)
		return error_set(ERR_NOT_FOUND, "%s: cannot read one cache of this store", t->display);
	int rc = ops->select(t, e->name);
	return rc ? rc : t->ops->read_cache(t, out);
}

/* ---- survey (ls, du) ----------------------------------------------------- */

static void summarize_cache(struct entry_summary *s, struct transport *t)
{
	struct cache *c = NULL;
	int rc = store_read_entry(&c, t, &s->entry);
	if (rc) {
		snprintf(s->problem, sizeof(s->problem), "%s", error_message());
		error_clear();
		return;
	}
	s->readable = true;
	s->records = c->config->n_records;
	for (size_t i = 0; i < c->config->n_records; i++)
		s->results += c->config->records[i].n_results + c->config->records[i].n_chains;
	s->config_size = c->source_config.size;
	s->over_buildkit_limit = c->root_media_type && c->source_config.size > BUILDKIT_CONFIG_MAX;
	cache_free(c);
}

static int sizes_from_listing(struct store_survey *out, struct transport *t, struct strmap *sizes,
			      const struct strmap *counts)
{
	struct store_blob *blobs = NULL;
	size_t n = 0, count;
	int rc = t->ops->store->list_blobs(t, &blobs, &n);
	if (rc)
		return rc;
	out->blobs_listed = true;
	for (size_t i = 0; i < n && !rc; i++) {
		if (!*blobs[i].digest) {
			out->n_leftovers++;
			out->leftover_bytes += blobs[i].size;
			continue;
		}
		out->n_blobs++;
		out->stored_bytes += blobs[i].size;
		if (!strmap_get(counts, blobs[i].digest, &count)) {
			out->n_unreferenced++;
			out->unreferenced_bytes += blobs[i].size;
		}
		rc = strmap_put(sizes, blobs[i].digest, (size_t)blobs[i].size);
	}
	store_blobs_free(blobs, n);
	return rc;
}

int store_survey(struct store_survey *out, struct transport *t)
{
	const struct store_ops *ops = store_ops_for(t, "list caches");
	struct store_entry *entries = NULL;
	struct strmap *marks = NULL, counts = STRMAP_INIT, sizes = STRMAP_INIT;
	size_t n = 0, v;
	memset(out, 0, sizeof(*out));
	if (!ops)
		return ERR_USAGE;
	int rc = ops->list(t, &entries, &n);
	if (rc)
		return rc;
	out->entries = calloc(n + 1, sizeof(*out->entries));
	marks = calloc(n + 1, sizeof(*marks));
	if (!out->entries || !marks) {
		rc = error_oom();
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		out->entries[i].entry = entries[i];
		entries[i].name = NULL; /* moved */
		out->n_entries++;
	}
	for (size_t i = 0; i < n && !rc; i++) {
		struct entry_summary *s = &out->entries[i];
		if ((rc = ops->mark(t, &s->entry, &marks[i])))
			break;
		if (s->entry.is_cache)
			summarize_cache(s, t);
		for (size_t k = 0; k < marks[i].cap && !rc; k++) {
			const char *d = marks[i].slots[k].key;
			if (d)
				rc = strmap_put(&counts, d, strmap_get(&counts, d, &v) ? v + 1 : 1);
		}
	}
	if (!rc && ops->list_blobs)
		rc = sizes_from_listing(out, t, &sizes, &counts);
	if (!rc && ops->usage && !(rc = ops->usage(t, &out->usage_bytes, &out->usage_entries)))
		out->usage_known = true;
	for (size_t i = 0; i < n && !rc; i++) {
		struct entry_summary *s = &out->entries[i];
		if (!strmap_get(&marks[i], s->entry.digest, &v))
			s->bytes += s->entry.size; /* a document that is not a blob (s3, gha) */
		for (size_t k = 0; k < marks[i].cap; k++) {
			const char *d = marks[i].slots[k].key;
			if (!d)
				continue;
			size_t size = marks[i].slots[k].value, count = 0;
			strmap_get(&sizes, d, &size); /* the store's own figure wins */
			strmap_get(&counts, d, &count);
			s->blobs++;
			s->bytes += (int64_t)size;
			if (count == 1)
				s->unique_bytes += (int64_t)size;
		}
	}
out:
	for (size_t i = 0; marks && i < n; i++)
		strmap_free(&marks[i]);
	free(marks);
	strmap_free(&counts);
	strmap_free(&sizes);
	store_entries_free(entries, n);
	if (rc)
		store_survey_free(out);
	return rc;
}

void store_survey_free(struct store_survey *s)
{
	for (size_t i = 0; s->entries && i < s->n_entries; i++)
		free(s->entries[i].entry.name);
	free(s->entries);
	memset(s, 0, sizeof(*s));
}

/* ---- rm ------------------------------------------------------------------- */

int store_remove_cache(struct transport *t, const char *selected, FILE *out)
{
	const struct store_ops *ops = store_ops_for(t, "remove a cache");
	struct store_entry *entries = NULL;
	size_t n = 0, removed = 0;
	if (!ops)
		return ERR_USAGE;
	if (!ops->remove)
		return error_set(ERR_USAGE, "%s: this store does not allow removing a cache", t->display);
	/* Listing and removing select other entries, which frees `selected`. */
	char *name = strdup(selected);
	CHECK_ALLOC(name);
	int rc = ops->list(t, &entries, &n);
	for (size_t i = 0; !rc && i < n; i++) {
		if (strcmp(entries[i].name, name) != 0 || !entries[i].is_cache)
			continue;
		if (!(rc = ops->remove(t, &entries[i]))) {
			fprintf(out, "removed cache %s (%s)\n", name, entries[i].digest);
			removed++;
		}
	}
	if (!rc && !removed)
		rc = error_set(ERR_NOT_FOUND, "%s holds no cache called \"%s\" (cachectl ls lists them)", t->display,
			       name);
	store_entries_free(entries, n);
	free(name);
	return rc;
}
