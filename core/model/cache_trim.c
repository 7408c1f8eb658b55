#include "core/model/cache_trim.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/model/cache_trim_size.h"
#include "core/util/error.h"
#include "core/util/size.h"

/* Removes every record that keeps no result and that no record keeping a
 * result reaches through its inputs; links are renumbered. */
static int drop_unneeded_records(struct cache_config *cfg)
{
	size_t n = cfg->n_records, top = 0, kept = 0;
	unsigned char *keep = calloc(n + 1, 1);
	size_t *stack = malloc((n + 1) * sizeof(size_t));
	int *new_index = malloc((n + 1) * sizeof(int));
	if (!keep || !stack || !new_index) {
		free(keep);
		free(stack);
		free(new_index);
		return error_oom();
	}
	for (size_t i = 0; i < n; i++)
		if (cfg->records[i].n_results || cfg->records[i].n_chains) {
			keep[i] = 1;
			stack[top++] = i;
		}
	while (top) {
		const struct cache_record *r = &cfg->records[stack[--top]];
		for (size_t s = 0; s < r->n_inputs; s++)
			for (size_t k = 0; k < r->inputs[s].n_alts; k++) {
				size_t link = (size_t)r->inputs[s].alts[k].link;
				if (!keep[link]) {
					keep[link] = 1;
					stack[top++] = link;
				}
			}
	}
	for (size_t i = 0; i < n; i++) {
		if (!keep[i]) {
			new_index[i] = -1;
			cache_record_clear(&cfg->records[i]);
			continue;
		}
		new_index[i] = (int)kept;
		if (kept != i)
			cfg->records[kept] = cfg->records[i];
		kept++;
	}
	cfg->n_records = kept;
	/* A kept record's inputs are all kept: they were marked through it. */
	for (size_t i = 0; i < kept; i++)
		for (size_t s = 0; s < cfg->records[i].n_inputs; s++)
			for (size_t k = 0; k < cfg->records[i].inputs[s].n_alts; k++)
				cfg->records[i].inputs[s].alts[k].link = new_index[cfg->records[i].inputs[s].alts[k].link];
	free(keep);
	free(stack);
	free(new_index);
	return 0;
}

int cache_drop_results_before(struct cache *c, const struct timestamp *before, size_t *dropped_results)
{
	size_t dropped = 0;
	int rc = cache_normalize(c, NULL); /* explicit chains become results */
	if (rc)
		return rc;
	struct cache_config *cfg = c->config;
	for (size_t i = 0; i < cfg->n_records; i++) {
		struct cache_record *r = &cfg->records[i];
		size_t kept = 0;
		for (size_t k = 0; k < r->n_results; k++) {
			if (timestamp_compare(&r->results[k].created_at, before) < 0)
				dropped++;
			else
				r->results[kept++] = r->results[k];
		}
		r->n_results = kept;
	}
	if (dropped && ((rc = drop_unneeded_records(cfg)) || (rc = cache_normalize(c, NULL))))
		return rc;
	if (dropped_results)
		*dropped_results = dropped;
	return 0;
}

int cache_measure_config(int64_t *out, const struct cache *c)
{
	struct buffer b = BUFFER_INIT;
	int rc = cache_config_serialize(c->config, &b);
	*out = (int64_t)b.len;
	buffer_free(&b);
	return rc;
}

int cache_measure_blobs(int64_t *out, const struct cache *c)
{
	const struct descriptor **blobs = NULL;
	size_t n = 0;
	int rc = cache_referenced_blobs(c, &blobs, &n);
	*out = 0;
	for (size_t i = 0; !rc && i < n; i++)
		*out += blobs[i]->size;
	free(blobs);
	return rc;
}

struct record_age {
	size_t record;
	struct timestamp newest;
};

static int age_cmp(const void *a, const void *b)
{
	const struct record_age *x = a, *y = b;
	int c = timestamp_compare(&x->newest, &y->newest);
	if (c)
		return c;
	return x->record < y->record ? -1 : x->record > y->record;
}

/* Records that keep results, oldest newest-result first. */
static int records_by_age(struct record_age **out, size_t *n_out, const struct cache_config *cfg)
{
	struct record_age *ages = malloc((cfg->n_records + 1) * sizeof(*ages));
	size_t n = 0;
	CHECK_ALLOC(ages);
	for (size_t i = 0; i < cfg->n_records; i++) {
		const struct cache_record *r = &cfg->records[i];
		if (!r->n_results)
			continue;
		ages[n] = (struct record_age){.record = i, .newest = r->results[0].created_at};
		for (size_t k = 1; k < r->n_results; k++)
			if (timestamp_compare(&r->results[k].created_at, &ages[n].newest) > 0)
				ages[n].newest = r->results[k].created_at;
		n++;
	}
	qsort(ages, n, sizeof(*ages), age_cmp);
	*out = ages;
	*n_out = n;
	return 0;
}

/* A copy of c without the results of the `count` oldest records. */
static int without_oldest(struct cache **out, const struct cache *c, const struct record_age *ages, size_t count)
{
	struct cache *t = NULL;
	int rc = cache_clone(&t, c);
	if (rc)
		return rc;
	for (size_t i = 0; i < count; i++)
		t->config->records[ages[i].record].n_results = 0;
	if ((rc = drop_unneeded_records(t->config)) || (rc = cache_normalize(t, NULL))) {
		cache_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

/* Whether c without the `count` oldest records measures at most max; the
 * trimmed copy is kept in *best when it does. */
static int fits_without(bool *fits, struct cache **best, const struct cache *c, const struct record_age *ages,
			size_t count, int64_t max, cache_measure_fn measure, int64_t *measured)
{
	struct cache *t = NULL;
	int rc = without_oldest(&t, c, ages, count);
	if (!rc)
		rc = measure(measured, t);
	if (rc) {
		cache_free(t);
		return rc;
	}
	*fits = *measured <= max;
	if (*fits) {
		cache_free(*best);
		*best = t;
	} else {
		cache_free(t);
	}
	return 0;
}

/* Installs the config of trim in c (trim is emptied). */
static void take_config(struct cache *c, struct cache *trim)
{
	cache_set_config(c, trim->config);
	trim->config = NULL;
}

/* Config budgets: the fewest records dropped that fit, chosen on predicted
 * sizes (cache_trim_size.h), then that one trim built and measured for real.
 * *done is false, and c unchanged, when the prediction does not apply or the
 * real size differs from it: the bisection on real trims decides then. */
static int trim_predicted(bool *done, size_t *dropped_records, struct cache *c, const struct record_age *ages,
			  size_t n, int64_t max)
{
	struct trim_size *t = NULL;
	struct cache *trim = NULL;
	int64_t predicted, at_hi, size;
	size_t *order = malloc((n + 1) * sizeof(*order));
	*done = false;
	CHECK_ALLOC(order);
	for (size_t i = 0; i < n; i++)
		order[i] = ages[i].record;
	int rc = trim_size_new(&t, c->config);
	if (rc || !t || (rc = trim_size_predict(&at_hi, t, order, n)) || at_hi > max)
		goto out; /* no prediction, or not even all of them: the real bisection says why */
	size_t lo = 1, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if ((rc = trim_size_predict(&predicted, t, order, mid)))
			goto out;
		if (predicted <= max) {
			hi = mid;
			at_hi = predicted;
		} else {
			lo = mid + 1;
		}
	}
	if ((rc = without_oldest(&trim, c, ages, hi)) || (rc = cache_measure_config(&size, trim)) || size != at_hi)
		goto out;
	trim_size_free(t); /* it borrows the config replaced now */
	t = NULL;
	take_config(c, trim);
	*dropped_records = hi;
	*done = true;
out:
	trim_size_free(t);
	cache_free(trim);
	free(order);
	return rc;
}

/* Any measure: the fewest records dropped that fit, each step of the
 * bisection a real trim measured. */
static int trim_bisected(size_t *dropped_records, struct cache *c, const struct record_age *ages, size_t n,
			 int64_t max, cache_measure_fn measure, const char *what)
{
	struct cache *best = NULL;
	int64_t size;
	bool fits;
	int rc = fits_without(&fits, &best, c, ages, n, max, measure, &size);
	if (rc)
		goto out;
	if (!fits) {
		char have[32], limit[32];
		size_format(have, sizeof(have), size);
		size_format(limit, sizeof(limit), max);
		rc = error_set(ERR_FAILURE, "%s: even without any result it is %lld bytes (%s), over %lld (%s)", what,
			       (long long)size, have, (long long)max, limit);
		goto out;
	}
	/* Fewest records dropped that fit: more dropped never measures more. */
	size_t lo = 1, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if ((rc = fits_without(&fits, &best, c, ages, mid, max, measure, &size)))
			goto out;
		if (fits)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (best->config != NULL) /* best holds the trim of the smallest count that fitted: hi. */
		take_config(c, best);
	*dropped_records = hi;
out:
	cache_free(best);
	return rc;
}

int cache_trim_to_fit(struct cache *c, int64_t max, cache_measure_fn measure, const char *what,
		      size_t *dropped_records)
{
	struct record_age *ages = NULL;
	size_t n = 0;
	int64_t size;
	bool done = false;
	*dropped_records = 0;
	int rc = cache_normalize(c, NULL);
	if (rc || (rc = measure(&size, c)))
		return rc;
	if (size <= max)
		return 0;
	if ((rc = records_by_age(&ages, &n, c->config)))
		return rc;
	if (measure == cache_measure_config)
		rc = trim_predicted(&done, dropped_records, c, ages, n, max);
	if (!rc && !done)
		rc = trim_bisected(dropped_records, c, ages, n, max, measure, what);
	free(ages);
	return rc;
}
