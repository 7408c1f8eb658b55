/* The cache config document: byte-exact round trips of BuildKit's own
 * configs, the canonical order, and what the importer must refuse. */
#include "check.h"
#include "core/model/cache_config.h"
#include "core/util/digest.h"
#include "core/util/error.h"
#include "fixture_util.h"

/* The complete example of the format description (903 bytes). */
static const char spec_example[] =
	"{\"layers\":[{\"blob\":\"sha256:028c5c563e13b71520e90f90783f51c7ddf741bcdb8b7a52cb58bfbe44e48a3d\",\"parent\":1},"
	"{\"blob\":\"sha256:119f534f93772b3e724636230e383d697d79648f481de211dc76e5d4a1d6c256\",\"parent\":-1},"
	"{\"blob\":\"sha256:a5ade47028611ab42cde12c0c00cbacc189ca0adf8c3cbfe1e450a8cc4fb6727\"}],\"records\":["
	"{\"digest\":\"sha256:329e491b21ea5018473b0305860696303063c5427a14426f5329226060a8bccf\"},"
	"{\"layers\":[{\"layer\":2,\"createdAt\":\"2025-01-02T03:04:07.25Z\"}],\"digest\":\"sha256:401bd80166461995a544302699312a588bc6971e23c40801b7a37c31bbd6e669\","
	"\"inputs\":[[{\"link\":2}],[{\"selector\":\"sha256:52821eb4a75422fd9523545eaf16bd934b2174219ec136c93211f120ea43681c\",\"link\":0}]]},"
	"{\"layers\":[{\"layer\":0,\"createdAt\":\"2025-01-02T03:04:06.6Z\"}],\"digest\":\"sha256:4756e14a11d77f727bd3d02b8e1080ecf766714be5a98b52d2961f5b9342ca18\","
	"\"inputs\":[[{\"link\":3}]]},{\"digest\":\"sha256:ad1397152b891ebcb55b0591a0009f3cf3bcfb6cceb8aa106c2b205640279f9b\"}]}";

static void roundtrip(const char *what, const char *bytes, size_t len)
{
	struct cache_config *cfg = NULL;
	struct buffer out = BUFFER_INIT;
	CHECK(cache_config_parse(&cfg, bytes, len) == 0);
	if (!cfg)
		return;
	CHECK(cache_config_check(cfg) == 0);
	CHECK(cache_config_serialize(cfg, &out) == 0);
	if (out.len != len || memcmp(out.data, bytes, len) != 0) {
		fprintf(stderr, "%s: re-serialised config differs\n got: %s\n", what, out.data);
		check_failures++;
	}
	cache_config_free(cfg);
	buffer_free(&out);
}

static void test_spec_example(void)
{
	char d[DIGEST_BUF];
	CHECK_INT(strlen(spec_example), 903);
	CHECK(digest_of_bytes(d, spec_example, strlen(spec_example)) == 0);
	CHECK_STR(d, "sha256:1cad21a179a74cec0f637381bb9e81bd5fe6231b80b719a441dfbc389e234b01");
	roundtrip("spec example", spec_example, strlen(spec_example));

	struct cache_config *cfg;
	CHECK(cache_config_parse(&cfg, spec_example, strlen(spec_example)) == 0);
	CHECK_INT(cfg->n_layers, 3);
	CHECK_INT(cfg->layers[2].parent, 0); /* a missing parent means 0 */
	CHECK_INT(cfg->layers[1].parent, -1);
	CHECK_INT(cfg->n_records, 4);
	CHECK_INT(cfg->records[1].n_inputs, 2);
	CHECK(cfg->records[1].inputs[0].alts[0].selector == NULL);
	CHECK_STR(cfg->records[1].inputs[1].alts[0].selector,
		  "sha256:52821eb4a75422fd9523545eaf16bd934b2174219ec136c93211f120ea43681c");
	cache_config_free(cfg);
}

static void test_fixture_roundtrips(const char *fixtures)
{
	const char *names[] = {"local-gzip-max", "local-zstd-max", "local-estargz", "local-docker-mediatypes"};
	for (size_t i = 0; i < 4; i++) {
		struct buffer root = BUFFER_INIT, config = BUFFER_INIT;
		struct cache_root parsed;
		CHECK(fixture_documents(fixtures, names[i], &root, &config, &parsed) == 0);
		roundtrip(names[i], config.data, config.len);
		cache_root_free(&parsed);
		buffer_free(&root);
		buffer_free(&config);
	}
	/* The s3 and gha documents carry per-layer annotations. */
	const char *keyed[] = {"s3-max/export/objects/manifests/main", "s3-max/export/objects/manifests/feature",
			       "gha-max/export/entries/index-app-fixture-1-f921bd05#1"};
	for (size_t i = 0; i < 3; i++) {
		char path[4096];
		struct buffer b = BUFFER_INIT;
		snprintf(path, sizeof(path), "%s/buildkit-v0.23.2/%s", fixtures, keyed[i]);
		CHECK(buffer_read_file(&b, path, 1 << 20) == 0);
		roundtrip(keyed[i], b.data, b.len);
		buffer_free(&b);
	}
}

/* Shuffles a config (keeping it equivalent) the way a different insertion
 * order would, then checks that sorting restores BuildKit's bytes. */
static void shuffle_and_sort(const char *what, const char *bytes, size_t len, unsigned seed)
{
	struct cache_config *cfg;
	struct buffer out = BUFFER_INIT;
	CHECK(cache_config_parse(&cfg, bytes, len) == 0);
	size_t nl = cfg->n_layers, nr = cfg->n_records;
	int *lp = malloc(nl * sizeof(int)), *rp = malloc(nr * sizeof(int));
	for (size_t i = 0; i < nl; i++)
		lp[i] = (int)i;
	for (size_t i = 0; i < nr; i++)
		rp[i] = (int)i;
	srand(seed);
	for (size_t i = nl; i > 1; i--) {
		size_t k = (size_t)rand() % i;
		int t = lp[i - 1];
		lp[i - 1] = lp[k];
		lp[k] = t;
	}
	for (size_t i = nr; i > 1; i--) {
		size_t k = (size_t)rand() % i;
		int t = rp[i - 1];
		rp[i - 1] = rp[k];
		rp[k] = t;
	}
	/* lp[new] = old; build old -> new maps */
	int *lmap = malloc(nl * sizeof(int)), *rmap = malloc(nr * sizeof(int));
	for (size_t i = 0; i < nl; i++)
		lmap[lp[i]] = (int)i;
	for (size_t i = 0; i < nr; i++)
		rmap[rp[i]] = (int)i;
	struct cache_layer *layers = malloc(nl * sizeof(*layers));
	struct cache_record *records = malloc(nr * sizeof(*records));
	for (size_t i = 0; i < nl; i++) {
		layers[i] = cfg->layers[lp[i]];
		if (layers[i].parent >= 0)
			layers[i].parent = lmap[layers[i].parent];
	}
	for (size_t i = 0; i < nr; i++) {
		records[i] = cfg->records[rp[i]];
		for (size_t k = 0; k < records[i].n_results; k++)
			records[i].results[k].layer = lmap[records[i].results[k].layer];
		for (size_t s = 0; s < records[i].n_inputs; s++) {
			for (size_t k = 0; k < records[i].inputs[s].n_alts; k++)
				records[i].inputs[s].alts[k].link = rmap[records[i].inputs[s].alts[k].link];
			/* reverse the alternatives too */
			struct cache_input *a = records[i].inputs[s].alts;
			for (size_t x = 0, y = records[i].inputs[s].n_alts; x + 1 < y; x++, y--) {
				struct cache_input t = a[x];
				a[x] = a[y - 1];
				a[y - 1] = t;
			}
		}
	}
	memcpy(cfg->layers, layers, nl * sizeof(*layers));
	memcpy(cfg->records, records, nr * sizeof(*records));
	CHECK(cache_config_sort(cfg) == 0);
	CHECK(cache_config_serialize(cfg, &out) == 0);
	if (out.len != len || memcmp(out.data, bytes, len) != 0) {
		fprintf(stderr, "%s (seed %u): sorted config differs\n", what, seed);
		check_failures++;
	}
	free(lp);
	free(rp);
	free(lmap);
	free(rmap);
	free(layers);
	free(records);
	cache_config_free(cfg);
	buffer_free(&out);
}

static void test_canonical_order(const char *fixtures)
{
	const char *names[] = {"local-gzip-max", "local-zstd-max", "local-estargz"};
	for (size_t i = 0; i < 3; i++) {
		struct buffer root = BUFFER_INIT, config = BUFFER_INIT;
		struct cache_root parsed;
		CHECK(fixture_documents(fixtures, names[i], &root, &config, &parsed) == 0);
		for (unsigned seed = 1; seed <= 20; seed++)
			shuffle_and_sort(names[i], config.data, config.len, seed);
		cache_root_free(&parsed);
		buffer_free(&root);
		buffer_free(&config);
	}
	shuffle_and_sort("spec example", spec_example, strlen(spec_example), 7);
}

static void refused(const char *json, const char *phrase)
{
	struct cache_config *cfg = NULL;
	int rc = cache_config_parse(&cfg, json, strlen(json));
	if (!rc)
		rc = cache_config_check(cfg);
	if (rc == 0) {
		fprintf(stderr, "accepted: %s\n", json);
		check_failures++;
	} else if (!strstr(error_message(), phrase)) {
		fprintf(stderr, "message \"%s\" lacks \"%s\"\n", error_message(), phrase);
		check_failures++;
	}
	cache_config_free(cfg);
}

static void test_refusals(void)
{
	refused("not json", "not valid JSON");
	refused("[1]", "not a JSON object");
	refused("{\"layers\":[{\"blob\":\"sha256:a\",\"parent\":5}]}", "outside");
	refused("{\"layers\":[{\"blob\":\"sha256:a\"}]}", "loop"); /* parent 0 of node 0 is itself */
	refused("{\"layers\":[{\"blob\":\"a\",\"parent\":1},{\"blob\":\"b\",\"parent\":0}]}", "loop");
	refused("{\"layers\":[{\"blob\":\"a\",\"parent\":-1}],\"records\":[{\"digest\":\"r\",\"layers\":[{\"layer\":3}]}]}",
		"outside");
	refused("{\"records\":[{\"digest\":\"r\",\"inputs\":[[{\"link\":4}]]}]}", "outside");
	refused("{\"records\":[{\"digest\":\"r\",\"inputs\":[[{\"link\":1}]]},{\"digest\":\"s\",\"inputs\":[[{\"link\":0}]]}]}",
		"loop");
	refused("{\"records\":[{\"digest\":\"r\",\"inputs\":[[{\"link\":0}]]}]}", "loop");
	refused("{\"layers\":[{\"blob\":\"a\",\"parent\":\"x\"}]}", "not an integer");
	refused("{\"layers\":[{\"blob\":\"a\",\"parent\":-1}],\"records\":[{\"layers\":[{\"layer\":0,\"createdAt\":\"yesterday\"}]}]}",
		"RFC 3339");
	refused("{\"records\":[{\"chains\":[{\"layers\":[2]}]}]}", "outside");
}

int main(int argc, char **argv)
{
	const char *fixtures = fixture_dir(argc, argv);
	test_spec_example();
	test_fixture_roundtrips(fixtures);
	test_canonical_order(fixtures);
	test_refusals();
	CHECK_DONE();
}
