/* The inline cache against BuildKit's own inline export: reading it gives
 * the 12 records and 3 results, and writing the same records onto the
 * same image without its key gives back BuildKit's config and manifest
 * byte for byte.  Then the in-place editing of other documents (spacing,
 * member order and number spelling kept) and partial matches. */
#include "check.h"
#include "core/util/base64.h"
#include "core/util/error.h"
#include "core/util/json_span.h"
#include "core/model/media_type.h"
#include "formats/cache_manifest.h"
#include "formats/inline_config.h"

#define CONFIG_DIGEST "sha256:900729fa817edd462acf2d1d111569d7d9d8e14a08e30e2ad2e43675abd30898"

static const char *fx;

static void load(struct buffer *b, const char *rel)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/buildkit-v0.23.2/inline/export/%s", fx, rel);
	if (buffer_read_file(b, path, 1 << 20)) {
		fprintf(stderr, "fixture: %s\n", error_message());
		exit(1);
	}
}

/* The config without its inline cache member, as the image had it before
 * BuildKit's exporter added the key. */
static void strip_key(struct buffer *out, const struct buffer *config)
{
	struct json_member *m;
	size_t n, end;
	CHECK(json_object_members(config->data, config->len, 0, &m, &n, &end) == 0);
	long at = json_find_member(config->data, m, n, INLINE_CACHE_KEY);
	CHECK(at > 0 && (size_t)at + 1 < n);
	buffer_reset(out);
	CHECK(buffer_append(out, config->data, m[at].key_start) == 0);
	CHECK(buffer_append(out, config->data + m[at + 1].key_start, config->len - m[at + 1].key_start) == 0);
	free(m);
}

static size_t with_results(const struct cache *c)
{
	size_t n = 0;
	for (size_t i = 0; i < c->config->n_records; i++)
		n += c->config->records[i].n_results > 0;
	return n;
}

static void test_fixture_round_trip(void)
{
	struct buffer manifest = BUFFER_INIT, config = BUFFER_INIT, stripped = BUFFER_INIT, records = BUFFER_INIT,
		      patched = BUFFER_INIT, m1 = BUFFER_INIT, m2 = BUFFER_INIT;
	struct cache_root root;
	struct cache *c = NULL;
	char digest[DIGEST_BUF];
	load(&manifest, "manifest.json");
	load(&config, "blobs/sha256/900729fa817edd462acf2d1d111569d7d9d8e14a08e30e2ad2e43675abd30898");
	CHECK(cache_manifest_parse(&root, manifest.data, manifest.len) == 0);
	CHECK(root.has_image_config && !root.has_config);
	CHECK_INT(root.n_blobs, 4);

	/* Reading, as BuildKit's importer. */
	CHECK(inline_cache_from_image(&c, root.blobs, root.n_blobs, config.data, config.len, "fixture") == 0);
	if (!c)
		return;
	CHECK_INT(c->config->n_records, 12);
	CHECK_INT(with_results(c), 3);
	CHECK_INT(c->n_blobs, 4);
	const struct descriptor *base = cache_blob(c, "sha256:f671ca523f2108c8fa41496b7a6093e98b0179d552b137e968f10250342ba40e");
	CHECK(base != NULL);
	if (base) {
		CHECK_STR(descriptor_annotation(base, ANN_UNCOMPRESSED),
			  "sha256:398f7817c89a81396a50b77622dbe022a2202918785caa8f9dd26ca306eff914");
		/* history entry 0 is the base layer's */
		CHECK_STR(descriptor_annotation(base, ANN_CREATED_AT), "2026-11-28T07:15:55.037625933Z");
		CHECK_STR(base->media_type, MT_DOCKER_LAYER_GZIP);
	}
	const struct descriptor *last = cache_blob(c, "sha256:4f4fb700ef54461cfa02571ae0db9a0dc1e0cdb5577484a6d75e68dc38e8acc1");
	/* the 4th non-empty history entry: WORKDIR */
	CHECK(last && strcmp(descriptor_annotation(last, ANN_CREATED_AT), "2026-11-28T07:23:11.277053074Z") == 0);

	/* Writing the same records onto the image without its key gives
	 * BuildKit's exact bytes back. */
	struct inline_image_layer layers[4];
	const char *diff_ids[4] = {
		"sha256:398f7817c89a81396a50b77622dbe022a2202918785caa8f9dd26ca306eff914",
		"sha256:a78f1810003a15e2336a7477dc790b6ffcf2077991e3d9f0a7310b9ea85cc41d",
		"sha256:b63e9ab4c1dfaa14e868440cd576ef2d815d1c41b0299cb337be382296d11d93",
		"sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef",
	};
	for (size_t i = 0; i < 4; i++)
		layers[i] = (struct inline_image_layer){root.blobs[i].digest, diff_ids[i]};
	size_t kept, left;
	CHECK(inline_records_build(&records, c, layers, 4, &kept, &left) == 0);
	CHECK_INT(kept, 3);
	CHECK_INT(left, 0);
	strip_key(&stripped, &config);
	CHECK(stripped.len < config.len);
	CHECK(inline_config_patch(&patched, stripped.data, stripped.len, records.data, records.len) == 0);
	CHECK_INT(patched.len, config.len);
	CHECK(patched.len == config.len && memcmp(patched.data, config.data, config.len) == 0);
	CHECK(digest_of_bytes(digest, patched.data, patched.len) == 0);
	CHECK_STR(digest, CONFIG_DIGEST);
	/* Patching a config that already has the key replaces it in place. */
	CHECK(inline_config_patch(&patched, config.data, config.len, records.data, records.len) == 0);
	CHECK(patched.len == config.len && memcmp(patched.data, config.data, config.len) == 0);

	/* The pretty-printed manifest: only the config digest and size change. */
	CHECK(digest_of_bytes(digest, stripped.data, stripped.len) == 0);
	CHECK(inline_manifest_set_config(&m1, manifest.data, manifest.len, digest, (int64_t)stripped.len) == 0);
	CHECK(m1.len != manifest.len || memcmp(m1.data, manifest.data, m1.len) != 0);
	CHECK(inline_manifest_set_config(&m2, m1.data, m1.len, CONFIG_DIGEST, (int64_t)config.len) == 0);
	CHECK(m2.len == manifest.len && memcmp(m2.data, manifest.data, manifest.len) == 0);
	CHECK(digest_of_bytes(digest, m2.data, m2.len) == 0);
	CHECK_STR(digest, "sha256:486fd8bfbddb91fdb8cd9d9522366602d912afbed99afb2c4ea66ed15f9eb1f7");

	/* Only the first two image layers: the one result whose chain is
	 * [0,1] stays, the two longer ones are left out. */
	CHECK(inline_records_build(&records, c, layers, 2, &kept, &left) == 0);
	CHECK_INT(kept, 1);
	CHECK_INT(left, 2);
	CHECK(strstr(records.data, "{\"layer\":1,") != NULL);
	struct buffer names = BUFFER_INIT;
	CHECK(inline_records_left_out(&names, c, layers, 2) == 0);
	CHECK(names.data && strstr(names.data, "sha256:807b3e8722c68572736f54d83fd741a5b1d69ccbef218fae52b4149a56d232ce"));
	CHECK(names.data && strstr(names.data, "sha256:83014e6b1a705b512397017e93c8f45c8b31aa869ba5e3aa7faecbecf870195c"));
	CHECK(names.data && !strstr(names.data, "sha256:7dc70300ba80ac3b076b8ff1e0e1984f43dfaaf1affe442b6f3492e941d09922"));
	CHECK(inline_records_left_out(&names, c, layers, 4) == 0);
	CHECK_INT(names.len, 0);
	buffer_free(&names);
	/* The same layers in another order: chains with positions. */
	struct inline_image_layer swapped[4] = {layers[1], layers[0], layers[2], layers[3]};
	CHECK(inline_records_build(&records, c, swapped, 4, &kept, &left) == 0);
	CHECK_INT(kept, 3);
	CHECK(strstr(records.data, "\"chains\":[{\"layers\":[1,0],") != NULL);
	CHECK(strstr(records.data, "\"chains\":[{\"layers\":[1,0,2,3],") != NULL);
	/* An image with none of them: nothing to write. */
	struct inline_image_layer other = {"sha256:" "1111111111111111111111111111111111111111111111111111111111111111",
					   "sha256:" "2222222222222222222222222222222222222222222222222222222222222222"};
	CHECK(inline_records_build(&records, c, &other, 1, &kept, &left) == 0);
	CHECK_INT(kept, 0);
	CHECK_INT(records.len, 0);

	cache_free(c);
	cache_root_free(&root);
	buffer_free(&manifest);
	buffer_free(&config);
	buffer_free(&stripped);
	buffer_free(&records);
	buffer_free(&patched);
	buffer_free(&m1);
	buffer_free(&m2);
}

static void check_patch(const char *in, const char *want)
{
	struct buffer out = BUFFER_INIT;
	CHECK(inline_config_patch(&out, in, strlen(in), "[]", 2) == 0);
	CHECK_STR(out.data, want);
	buffer_free(&out);
}

static void test_patch_keeps_bytes(void)
{
	/* "W10=" is base64 of "[]" */
	check_patch("{}", "{\"moby.buildkit.cache.v0\":\"W10=\"}");
	check_patch("{\"architecture\":\"amd64\",\"os\":\"linux\",\"size\":1.0e3}",
		    "{\"architecture\":\"amd64\",\"moby.buildkit.cache.v0\":\"W10=\",\"os\":\"linux\",\"size\":1.0e3}");
	/* Pretty-printed: the document's own indentation and separator. */
	check_patch("{\n  \"architecture\": \"amd64\",\n  \"os\": \"linux\"\n}",
		    "{\n  \"architecture\": \"amd64\",\n  \"moby.buildkit.cache.v0\": \"W10=\",\n  \"os\": \"linux\"\n}");
	/* Every key sorts before ours: appended after the last member, spaced
	 * like it. */
	check_patch("{ \"a\" : [1, 2.50], \"b\":{\"x\":\"\\u00e9\"} }",
		    "{ \"a\" : [1, 2.50], \"b\":{\"x\":\"\\u00e9\"}, \"moby.buildkit.cache.v0\":\"W10=\" }");
	/* Unsorted configs keep their order; ours goes before the first
	 * key that sorts after it. */
	check_patch("{\"rootfs\":{},\"architecture\":\"arm64\"}",
		    "{\"moby.buildkit.cache.v0\":\"W10=\",\"rootfs\":{},\"architecture\":\"arm64\"}");
	/* An existing value is replaced where it stands. */
	check_patch("{\"z\":1,\"moby.buildkit.cache.v0\":null,\"a\":2}",
		    "{\"z\":1,\"moby.buildkit.cache.v0\":\"W10=\",\"a\":2}");

	struct buffer out = BUFFER_INIT;
	CHECK(inline_config_patch(&out, "[1]", 3, "[]", 2) != 0);
	CHECK(inline_config_patch(&out, "{\"a\":", 5, "[]", 2) != 0);
	const char *m = "{\"config\": {\"size\": 10, \"mediaType\": \"x\", \"digest\": \"sha256:" "aa\"}, \"layers\": []}";
	CHECK(inline_manifest_set_config(&out, m, strlen(m), "sha256:bb", 1234) == 0);
	CHECK_STR(out.data, "{\"config\": {\"size\": 1234, \"mediaType\": \"x\", \"digest\": \"sha256:bb\"}, \"layers\": []}");
	CHECK(inline_manifest_set_config(&out, "{\"layers\":[]}", 13, "sha256:bb", 1) != 0);
	buffer_free(&out);
}

static void test_reading_refuses_what_does_not_fit(void)
{
	struct descriptor layer;
	struct cache *c = NULL;
	descriptor_init(&layer);
	memcpy(layer.digest, "sha256:" "1111111111111111111111111111111111111111111111111111111111111111", DIGEST_BUF);
	layer.size = 1;
	const char *none = "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:"
			   "2222222222222222222222222222222222222222222222222222222222222222\"]}}";
	CHECK(inline_cache_from_image(&c, &layer, 1, none, strlen(none), "img") == ERR_NOT_FOUND);
	CHECK(strstr(error_message(), "no inline cache") != NULL);
	const char *count = "{\"moby.buildkit.cache.v0\":\"W10=\",\"rootfs\":{\"diff_ids\":[]}}";
	CHECK(inline_cache_from_image(&c, &layer, 1, count, strlen(count), "img") == ERR_NOT_FOUND);
	CHECK(strstr(error_message(), "0 diff_ids for 1 layers") != NULL);
	const char *garbage = "{\"moby.buildkit.cache.v0\":\"not base64!\",\"rootfs\":{\"diff_ids\":[\"sha256:"
			      "2222222222222222222222222222222222222222222222222222222222222222\"]}}";
	CHECK(inline_cache_from_image(&c, &layer, 1, garbage, strlen(garbage), "img") == ERR_FAILURE);
	/* a record whose result names layer 5 of a one-layer image */
	struct buffer json = BUFFER_INIT, b64 = BUFFER_INIT;
	const char *rec = "[{\"layers\":[{\"layer\":5,\"createdAt\":\"2025-01-01T00:00:00Z\"}],\"digest\":\"sha256:"
			  "3333333333333333333333333333333333333333333333333333333333333333\"}]";
	CHECK(base64_std_encode(&b64, rec, strlen(rec)) == 0);
	CHECK(buffer_appendf(&json, "{\"moby.buildkit.cache.v0\":\"%.*s\",\"rootfs\":{\"diff_ids\":[\"sha256:"
			      "2222222222222222222222222222222222222222222222222222222222222222\"]}}",
		       (int)b64.len, b64.data) == 0);
	CHECK(inline_cache_from_image(&c, &layer, 1, json.data, json.len, "img") == ERR_FAILURE);
	CHECK(c == NULL);
	buffer_free(&json);
	buffer_free(&b64);
	descriptor_free(&layer);
}

int main(int argc, char **argv)
{
	fx = fixture_dir(argc, argv);
	test_fixture_round_trip();
	test_patch_keeps_bytes();
	test_reading_refuses_what_does_not_fit();
	CHECK_DONE();
}
