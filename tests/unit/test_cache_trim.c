/* Trimming a cache by age (core/model/cache_trim.c) and the byte sizes of
 * options (core/util/size.c): the oldest results go first, never a layer
 * out of a kept chain, and key records go with the last record needing them;
 * the predicted size of a trim is the size of that trim built for real. */
#include "check.h"
#include "core/model/cache.h"
#include "core/model/cache_trim.h"
#include "core/model/cache_trim_size.h"
#include "core/util/error.h"
#include "core/util/size.h"

static void test_size_parse(void)
{
	static const struct {
		const char *text;
		int64_t want; /* -1: refused */
	} cases[] = {
		{"1048576", 1048576}, {"1MiB", 1048576}, {"1mib", 1048576}, {"1MB", 1000000},
		{"1.5KiB", 1536},     {"10GB", 10000000000LL}, {"2 GiB", 2147483648LL}, {"0", 0},
		{"512b", 512},        {"", -1},          {"MiB", -1},       {"-1MB", -1},
		{"1XB", -1},          {"1e400", -1},     {"12345678901234567890", -1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t got = -1;
		int rc = size_parse(&got, cases[i].text, "--max-size");
		if (cases[i].want < 0) {
			CHECK_INT(rc, ERR_USAGE);
			CHECK(strstr(error_message(), "is not a size") != NULL);
		} else {
			CHECK_INT(rc, 0);
			CHECK_INT(got, cases[i].want);
		}
	}
	char b[32];
	size_format(b, sizeof(b), 1902734);
	CHECK_STR(b, "1.90 MB");
	size_format(b, sizeof(b), 999);
	CHECK_STR(b, "999 B");
}

static void digest_of(char out[DIGEST_BUF], char c)
{
	snprintf(out, DIGEST_BUF, "sha256:");
	memset(out + 7, c, 64);
	out[71] = '\0';
}

static void add_blob(struct cache *c, char name, int64_t size)
{
	struct descriptor d;
	descriptor_init(&d);
	digest_of(d.digest, name);
	d.size = size;
	CHECK(cache_add_blob(c, &d) == 0);
	descriptor_free(&d);
}

static void add_result(struct cache_config *cfg, int record, int layer, const char *when)
{
	struct timestamp t;
	CHECK(timestamp_parse(&t, when) == 0);
	CHECK(cache_record_add_result(&cfg->records[record], layer, &t) == 0);
}

/* K0 <- R1 (result on blob a, January), K0 <- R2 (result on b, February);
 * with chained: b's node sits on a's. */
static struct cache *two_builds(bool chained)
{
	struct cache *c = NULL;
	struct cache_config *cfg = NULL;
	char da[DIGEST_BUF], db[DIGEST_BUF], dk[DIGEST_BUF], d1[DIGEST_BUF], d2[DIGEST_BUF];
	int la, lb;
	digest_of(da, 'a');
	digest_of(db, 'b');
	digest_of(dk, 'c');
	digest_of(d1, 'd');
	digest_of(d2, 'e');
	CHECK(cache_new(&c) == 0 && cache_config_new(&cfg) == 0);
	CHECK(cache_config_add_layer(cfg, da, -1, &la) == 0);
	CHECK(cache_config_add_layer(cfg, db, chained ? la : -1, &lb) == 0);
	CHECK(cache_config_add_record(cfg, dk, NULL) == 0);
	CHECK(cache_config_add_record(cfg, d1, NULL) == 0);
	CHECK(cache_config_add_record(cfg, d2, NULL) == 0);
	CHECK(cache_record_add_input(&cfg->records[1], 0, NULL, 0) == 0);
	CHECK(cache_record_add_input(&cfg->records[2], 0, NULL, 0) == 0);
	add_result(cfg, 1, la, "2025-01-01T00:00:00Z");
	add_result(cfg, 2, lb, "2025-02-01T00:00:00Z");
	cache_set_config(c, cfg);
	add_blob(c, 'a', 100);
	add_blob(c, 'b', 50);
	return c;
}

static bool has_record(const struct cache *c, char name)
{
	char d[DIGEST_BUF];
	digest_of(d, name);
	for (size_t i = 0; i < c->config->n_records; i++)
		if (strcmp(c->config->records[i].digest, d) == 0)
			return true;
	return false;
}

static void test_oldest_go_first(void)
{
	struct cache *c = two_builds(false);
	size_t dropped = 9;
	int64_t bytes;
	CHECK(cache_trim_to_fit(c, 150, cache_measure_blobs, "blobs", &dropped) == 0);
	CHECK_INT(dropped, 0); /* fits already: unchanged */
	CHECK(cache_trim_to_fit(c, 60, cache_measure_blobs, "blobs", &dropped) == 0);
	CHECK_INT(dropped, 1);
	CHECK(cache_measure_blobs(&bytes, c) == 0);
	CHECK_INT(bytes, 50);
	CHECK_INT(c->config->n_layers, 1);
	CHECK(has_record(c, 'e'));  /* the February build */
	CHECK(has_record(c, 'c'));  /* its input: part of its key */
	CHECK(!has_record(c, 'd')); /* the January build, gone with its result */
	CHECK(cache_config_check(c->config) == 0);
	cache_free(c);
}

static void test_chains_stay_whole(void)
{
	struct cache *c = two_builds(true);
	size_t dropped;
	int64_t bytes;
	/* Dropping January's result frees nothing: February's chain has a. */
	CHECK(cache_trim_to_fit(c, 120, cache_measure_blobs, "blobs", &dropped) == 0);
	CHECK_INT(dropped, 2);
	CHECK(cache_measure_blobs(&bytes, c) == 0);
	CHECK_INT(bytes, 0);
	CHECK_INT(c->config->n_layers, 0);
	CHECK_INT(c->config->n_records, 0);
	cache_free(c);
	c = two_builds(true);
	CHECK(cache_trim_to_fit(c, 0, cache_measure_config, "cache config", &dropped) == ERR_FAILURE);
	CHECK(strstr(error_message(), "even without any result") != NULL);
	cache_free(c);
}

static void test_drop_before(void)
{
	struct cache *c = two_builds(true);
	struct timestamp cut;
	size_t dropped = 0;
	CHECK(timestamp_parse(&cut, "2025-01-15T00:00:00Z") == 0);
	CHECK(cache_drop_results_before(c, &cut, &dropped) == 0);
	CHECK_INT(dropped, 1);
	CHECK_INT(c->config->n_layers, 2); /* b still stands on a */
	CHECK(!has_record(c, 'd'));
	CHECK(has_record(c, 'e'));
	cache_free(c);
}

/* ---- predicted sizes against real trims ---------------------------------- */

static unsigned next_random(unsigned *state)
{
	*state = *state * 1103515245u + 12345u;
	return (*state >> 16) & 0x7fff;
}

static void numbered_digest(char out[DIGEST_BUF], char kind, unsigned n)
{
	snprintf(out, DIGEST_BUF, "sha256:%c%063u", kind, n);
}

/* Result record k's results: created at minute 10k (and 10k - 5 for a
 * second result), so that dropping the k oldest records is the same as
 * dropping every result before minute 10k + 1. */
static void result_time(struct timestamp *t, size_t k, int back)
{
	char text[64];
	snprintf(text, sizeof(text), "2025-03-%02zuT%02zu:%02zu:00Z", 1 + (10 * k - (size_t)back) / 1440,
		 (10 * k - (size_t)back) / 60 % 24, (10 * k - (size_t)back) % 60);
	CHECK(timestamp_parse(t, text) == 0);
}

/* A cache shaped like several builds: short and long chains (parents 0, -1
 * and past 10), key records linking earlier ones (alternatives, empty and
 * named selectors), result records that other records also take as keys,
 * some with two results; indexes cross 10 and 100 as records go. */
static struct cache *many_builds(unsigned seed, size_t n_layers, size_t n_keys, size_t n_results)
{
	struct cache *c = NULL;
	struct cache_config *cfg = NULL;
	char d[DIGEST_BUF];
	unsigned rnd = seed;
	CHECK(cache_new(&c) == 0 && cache_config_new(&cfg) == 0);
	for (size_t i = 0; i < n_layers; i++) {
		numbered_digest(d, 'b', (unsigned)i);
		CHECK(cache_config_add_layer(cfg, d, i % 5 == 0 ? -1 : (int)i - 1 - (int)(next_random(&rnd) % (i % 5)),
					     NULL) == 0);
		struct descriptor blob;
		descriptor_init(&blob);
		memcpy(blob.digest, d, DIGEST_BUF);
		blob.size = 1000 + (int64_t)i;
		CHECK(cache_add_blob(c, &blob) == 0);
		descriptor_free(&blob);
	}
	for (size_t i = 0; i < n_keys + n_results; i++) {
		int index;
		numbered_digest(d, 'r', (unsigned)(next_random(&rnd) % (n_keys + n_results)) * 1000 + (unsigned)i);
		CHECK(cache_config_add_record(cfg, d, &index) == 0);
		struct cache_record *r = &cfg->records[index];
		for (size_t s = 0; i && s < 1 + i % 2; s++)
			for (size_t a = 0; a < 1 + (i % 7 == 0); a++) {
				char sel[DIGEST_BUF];
				numbered_digest(sel, 's', next_random(&rnd) % 50);
				CHECK(cache_record_add_input(r, s, i % 3 ? sel : NULL, (int)(next_random(&rnd) % i)) == 0);
			}
		if (i < n_keys)
			continue;
		size_t k = i - n_keys + 1;
		struct timestamp t;
		for (int back = 0; back <= 5 * (k % 4 == 0); back += 5) {
			result_time(&t, k, back);
			CHECK(cache_record_add_result(r, (int)(next_random(&rnd) % n_layers), &t) == 0);
		}
	}
	cache_set_config(c, cfg);
	CHECK(cache_normalize(c, NULL) == 0);
	return c;
}

static struct cache *trimmed_for_real(unsigned seed, const size_t shape[3], size_t k, int64_t *size)
{
	struct cache *c = many_builds(seed, shape[0], shape[1], shape[2]);
	struct timestamp cut;
	result_time(&cut, k, -1);
	if (k)
		CHECK(cache_drop_results_before(c, &cut, NULL) == 0);
	CHECK(cache_measure_config(size, c) == 0);
	return c;
}

/* The record indexes of c's results' records, oldest newest-result first. */
static size_t records_by_age(size_t *order, const struct cache_config *cfg)
{
	size_t n = 0;
	for (size_t i = 0; i < cfg->n_records; i++) {
		const struct cache_record *r = &cfg->records[i];
		if (!r->n_results)
			continue;
		size_t m = n++;
		for (; m > 0; m--) {
			const struct cache_record *o = &cfg->records[order[m - 1]];
			const struct timestamp *a = &o->results[0].created_at, *b = &r->results[0].created_at;
			if (o->n_results > 1 && timestamp_compare(&o->results[1].created_at, a) > 0)
				a = &o->results[1].created_at;
			if (r->n_results > 1 && timestamp_compare(&r->results[1].created_at, b) > 0)
				b = &r->results[1].created_at;
			if (timestamp_compare(a, b) < 0)
				break;
			order[m] = order[m - 1];
		}
		order[m] = i;
	}
	return n;
}

static bool same_config(const struct cache *a, const struct cache *b)
{
	struct buffer x = BUFFER_INIT, y = BUFFER_INIT;
	CHECK(cache_config_serialize(a->config, &x) == 0 && cache_config_serialize(b->config, &y) == 0);
	bool same = x.len == y.len && memcmp(x.data, y.data, x.len) == 0;
	buffer_free(&x);
	buffer_free(&y);
	return same;
}

/* For every count of oldest records dropped: the prediction is the size of
 * that trim built for real (through cache_drop_results_before); and for
 * limits on and around every such size, cache_trim_to_fit's trim is the
 * real trim of the fewest records that fit, byte for byte. */
static void test_predicted_sizes_are_real_sizes(void)
{
	static const struct {
		unsigned seed;
		size_t shape[3]; /* layers, key records, result records */
	} cases[] = {
		{1, {3, 2, 3}}, {2, {12, 40, 9}}, {3, {25, 150, 40}}, {4, {30, 400, 25}}, {5, {120, 30, 60}},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const size_t *shape = cases[i].shape;
		struct cache *c = many_builds(cases[i].seed, shape[0], shape[1], shape[2]);
		struct trim_size *t = NULL;
		size_t order[128];
		size_t n = records_by_age(order, c->config);
		CHECK_INT(n, shape[2]);
		CHECK(trim_size_new(&t, c->config) == 0 && t != NULL);
		int64_t real[129];
		for (size_t k = 0; t && k <= n; k++) {
			int64_t predicted = -1;
			cache_free(trimmed_for_real(cases[i].seed, shape, k, &real[k]));
			if (!k)
				continue; /* untrimmed: records nothing needs are still there */
			CHECK(trim_size_predict(&predicted, t, order, k) == 0);
			if (predicted != real[k])
				fprintf(stderr, "case %zu, %zu dropped: predicted %lld, real %lld\n", i, k,
					(long long)predicted, (long long)real[k]);
			CHECK_INT(predicted, real[k]);
		}
		trim_size_free(t);
		cache_free(c);
		for (size_t k = 1; k <= n; k++)
			for (int64_t max = real[k] - 1; max <= real[k] + 1; max++) {
				size_t want = 1, dropped = 0;
				while (want < n && real[want] > max)
					want++;
				if (real[want] > max || real[0] <= max)
					continue; /* refused, or fits untrimmed: other tests */
				int64_t size;
				struct cache *expected = trimmed_for_real(cases[i].seed, shape, want, &size);
				c = many_builds(cases[i].seed, shape[0], shape[1], shape[2]);
				CHECK(cache_trim_to_fit(c, max, cache_measure_config, "cache config", &dropped) == 0);
				CHECK_INT(dropped, want);
				CHECK(same_config(c, expected));
				cache_free(expected);
				cache_free(c);
			}
	}
}

int main(void)
{
	test_size_parse();
	test_oldest_go_first();
	test_chains_stay_whole();
	test_drop_before();
	test_predicted_sizes_are_real_sizes();
	CHECK_DONE();
}
