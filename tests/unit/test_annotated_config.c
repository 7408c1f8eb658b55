/* The s3/gha document (formats/annotated_config.c, shared with gha): read
 * into the blob table, written back from it.  The
 * s3-max manifests (written by BuildKit v0.23.2, one Docker-typed base
 * layer among OCI ones) must come back byte for byte, and what BuildKit's
 * importer refuses is refused. */
#include "check.h"
#include "core/util/error.h"
#include "core/model/media_type.h"
#include "formats/annotated_config.h"

static const char *fixtures;

static void read_fixture(struct buffer *b, const char *rel)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/buildkit-v0.23.2/%s", fixtures, rel);
	if (buffer_read_file(b, path, 1 << 20)) {
		fprintf(stderr, "%s\n", error_message());
		exit(1);
	}
}

static void test_fixture_roundtrip(const char *rel)
{
	struct buffer in = BUFFER_INIT, out = BUFFER_INIT;
	struct cache *c = NULL;
	read_fixture(&in, rel);
	CHECK(annotated_config_load(&c, in.data, in.len, rel) == 0);
	if (!c)
		return;
	CHECK_INT(c->dropped_results, 0);
	CHECK_INT(c->n_blobs, 9);
	const struct descriptor *base =
		cache_blob(c, "sha256:f671ca523f2108c8fa41496b7a6093e98b0179d552b137e968f10250342ba40e");
	CHECK(base != NULL);
	if (base) {
		CHECK_STR(base->media_type, MT_DOCKER_LAYER_GZIP);
		CHECK_INT(base->size, 1068684);
		CHECK(descriptor_annotation(base, ANN_UNCOMPRESSED) != NULL);
		CHECK(descriptor_annotation(base, ANN_CREATED_AT) != NULL);
	}
	const struct descriptor *d =
		cache_blob(c, "sha256:35ecc618c1d8ef0b039a2101f5542679eab928796b4cd1cb06f9448b25703244");
	CHECK(d != NULL);
	if (d) {
		CHECK_STR(d->media_type, MT_OCI_LAYER_GZIP);
		CHECK_INT(d->size, 606);
		CHECK_STR(descriptor_annotation(d, ANN_UNCOMPRESSED),
			  "sha256:a8954f5977cdb27642b3146a04a9096fdcbc4108c614d967bf31141f3d85588b");
		CHECK_STR(descriptor_annotation(d, ANN_CREATED_AT), "2026-11-28T07:21:10.993111236Z");
	}
	/* The table is the truth: nodes carry no annotations after reading. */
	for (size_t i = 0; i < c->config->n_layers; i++)
		CHECK(c->config->layers[i].annotations == NULL);
	CHECK(annotated_config_build(&out, c) == 0);
	CHECK_INT(out.len, in.len);
	CHECK(out.len == in.len && memcmp(out.data, in.data, in.len) == 0);
	cache_free(c);
	buffer_free(&in);
	buffer_free(&out);
}

#define BLOB_A "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define BLOB_B "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define DIFF_A "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define REC "sha256:3333333333333333333333333333333333333333333333333333333333333333"

static int read_text(struct cache **c, const char *text)
{
	return annotated_config_load(c, text, strlen(text), "doc");
}

static void test_refusals(void)
{
	struct cache *c = NULL;
	CHECK(read_text(&c, "{\"layers\":[{\"blob\":\"" BLOB_A "\",\"parent\":-1}]}") == ERR_FAILURE);
	CHECK(strstr(error_message(), "has no annotations") != NULL);
	CHECK(read_text(&c, "{\"layers\":[{\"blob\":\"" BLOB_A "\",\"parent\":-1,\"annotations\":{\"size\":3}}]}") ==
	      ERR_FAILURE);
	CHECK(strstr(error_message(), "has no diffID") != NULL);
	CHECK(read_text(&c, "{\"layers\":[]} {}") == ERR_FAILURE);
	CHECK(strstr(error_message(), "unexpected data after JSON object") != NULL);
	CHECK(read_text(&c, "{\"layers\":[{\"blob\":\"nonsense\",\"parent\":-1,\"annotations\":{\"diffID\":\"" DIFF_A
			    "\"}}]}") == ERR_FAILURE);
	CHECK(read_text(&c, "{\"layers\":") == ERR_FAILURE);
	CHECK(c == NULL);
	/* Trailing whitespace is fine; so is an empty document. */
	CHECK(read_text(&c, "{}\n\t ") == 0);
	if (c)
		CHECK_INT(c->n_blobs, 0);
	cache_free(c);
}

static void test_times_and_types(void)
{
	/* A zero createdAt means unknown; an offset time is kept as written on
	 * read and converted to UTC on write. */
	const char *doc =
		"{\"layers\":[{\"blob\":\"" BLOB_A "\",\"parent\":-1,\"annotations\":{\"mediaType\":\"" MT_OCI_LAYER_ZSTD
		"\",\"diffID\":\"" DIFF_A "\",\"size\":12,\"createdAt\":\"0001-01-01T00:00:00Z\"}},"
		"{\"blob\":\"" BLOB_B "\",\"annotations\":{\"diffID\":\"" DIFF_A
		"\",\"size\":7,\"createdAt\":\"2025-01-02T05:04:05.5+02:00\"}}],"
		"\"records\":[{\"layers\":[{\"layer\":1,\"createdAt\":\"2025-01-02T03:04:05Z\"}],\"digest\":\"" REC "\"}]}";
	struct cache *c = NULL;
	struct buffer out = BUFFER_INIT;
	CHECK(read_text(&c, doc) == 0);
	if (!c)
		return;
	const struct descriptor *a = cache_blob(c, BLOB_A), *b = cache_blob(c, BLOB_B);
	CHECK(a && b);
	if (!a || !b)
		return;
	CHECK(descriptor_annotation(a, ANN_CREATED_AT) == NULL);
	CHECK_STR(a->media_type, MT_OCI_LAYER_ZSTD);
	CHECK_INT(a->size, 12);
	CHECK_STR(descriptor_annotation(b, ANN_CREATED_AT), "2025-01-02T05:04:05.5+02:00");
	CHECK(b->media_type == NULL);
	CHECK(annotated_config_build(&out, c) == 0);
	CHECK(strstr(out.data, "\"size\":12,\"createdAt\":\"0001-01-01T00:00:00Z\"") != NULL);
	CHECK(strstr(out.data, "{\"diffID\":\"" DIFF_A "\",\"size\":7,\"createdAt\":\"2025-01-02T03:04:05.5Z\"}") !=
	      NULL);
	buffer_free(&out);

	/* Without a diffID in the table the document cannot be written. */
	struct descriptor *m = cache_blob_mut(c, BLOB_B);
	descriptor_annotation_remove(m, ANN_UNCOMPRESSED);
	CHECK(annotated_config_build(&out, c) == ERR_FAILURE);
	CHECK(strstr(error_message(), BLOB_B) != NULL);
	buffer_free(&out);
	cache_free(c);
}

int main(int argc, char **argv)
{
	fixtures = fixture_dir(argc, argv);
	test_fixture_roundtrip("s3-max/export/objects/manifests/main");
	test_fixture_roundtrip("s3-max/export/objects/manifests/feature");
	test_fixture_roundtrip("gha-max/export/entries/index-app-fixture-1-f921bd05#1");
	test_refusals();
	test_times_and_types();
	CHECK_DONE();
}
