/* Trimming a cache by age (core/model/cache_trim.c) and the byte sizes of
 * options (core/util/size.c): the oldest results go first, never a layer
 * out of a kept chain, and key records go with the last record needing them. */
#include "check.h"
#include "core/model/cache.h"
#include "core/model/cache_trim.h"
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

int main(void)
{
	test_size_parse();
	test_oldest_go_first();
	test_chains_stay_whole();
	test_drop_before();
	CHECK_DONE();
}
