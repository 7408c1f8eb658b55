/* Root documents and the OCI layout index, byte for byte. */
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "check.h"
#include "core/model/cache.h"
#include "core/util/error.h"
#include "core/model/media_type.h"
#include "fixture_util.h"
#include "formats/cache_manifest.h"
#include "formats/oci_layout.h"

static void layer(struct cache *c, const char *digest, int64_t size, const char *created, const char *diff,
		  const char *mt)
{
	struct descriptor d;
	descriptor_init(&d);
	snprintf(d.digest, sizeof(d.digest), "%s", digest);
	d.size = size;
	CHECK(descriptor_set_media_type(&d, mt) == 0);
	CHECK(descriptor_annotation_set(&d, ANN_CREATED_AT, created) == 0);
	CHECK(descriptor_annotation_set(&d, ANN_UNCOMPRESSED, diff) == 0);
	CHECK(cache_add_blob(c, &d) == 0);
	descriptor_free(&d);
}

/* The synthetic example of the format description, in its three forms. */
static void test_spec_roots(void)
{
	static const char config_json[] =
		"{\"layers\":[{\"blob\":\"sha256:028c5c563e13b71520e90f90783f51c7ddf741bcdb8b7a52cb58bfbe44e48a3d\",\"parent\":1},"
		"{\"blob\":\"sha256:119f534f93772b3e724636230e383d697d79648f481de211dc76e5d4a1d6c256\",\"parent\":-1},"
		"{\"blob\":\"sha256:a5ade47028611ab42cde12c0c00cbacc189ca0adf8c3cbfe1e450a8cc4fb6727\"}]}";
	struct cache *c;
	struct cache_config *cfg;
	struct descriptor config;
	struct buffer out = BUFFER_INIT;
	char *mt = NULL, d[DIGEST_BUF];
	CHECK(cache_new(&c) == 0);
	CHECK(cache_config_parse(&cfg, config_json, strlen(config_json)) == 0);
	cache_set_config(c, cfg);
	layer(c, "sha256:028c5c563e13b71520e90f90783f51c7ddf741bcdb8b7a52cb58bfbe44e48a3d", 469821,
	      "2025-01-02T03:04:06.5Z", "sha256:c40fd72feb666f4435d40a0338fb7b3828d6b21b48c8e4f3810667c3272a196b",
	      MT_OCI_LAYER_GZIP);
	layer(c, "sha256:119f534f93772b3e724636230e383d697d79648f481de211dc76e5d4a1d6c256", 1068684,
	      "2025-01-02T03:04:05.123456789Z",
	      "sha256:923aa27a9c52abc8527978ba58800d121a0adacb046f9549ff693adcfb896927", MT_DOCKER_LAYER_GZIP);
	layer(c, "sha256:a5ade47028611ab42cde12c0c00cbacc189ca0adf8c3cbfe1e450a8cc4fb6727", 293,
	      "2025-01-02T03:04:07Z", "sha256:6b9e3d5c906bde216ef3ebe2c3cccfaf2eb63fd49ffc2c18869954929c0de0ca",
	      MT_OCI_LAYER_GZIP);
	descriptor_init(&config);
	CHECK(descriptor_set_media_type(&config, MT_CACHE_CONFIG) == 0);
	snprintf(config.digest, sizeof(config.digest), "%s",
		 "sha256:1cad21a179a74cec0f637381bb9e81bd5fe6231b80b719a441dfbc389e234b01");
	config.size = 903;

	struct {
		struct root_form form;
		const char *mt;
		size_t len;
		const char *digest;
	} cases[] = {
		{{true, true, true}, MT_OCI_MANIFEST, 1216,
		 "sha256:4bfcb3debb2909c1372e425fbb1c643968b0a3b92ec7c05d21c1eb533785f691"},
		{{true, false, true}, MT_OCI_INDEX, 1207,
		 "sha256:eb001346c90cf1999be8cf71d94a4fafef00772b79aa464ea5b60c5ca827c088"},
		{{false, false, true}, MT_DOCKER_LIST, 1243,
		 "sha256:7c0314e5eef85ea013e340498913a209bf01a1e40955b4804d1589bb6837adb8"},
	};
	for (size_t i = 0; i < 3; i++) {
		CHECK(cache_manifest_build(&out, &mt, c, &config, &cases[i].form) == 0);
		CHECK_STR(mt, cases[i].mt);
		CHECK_INT(out.len, cases[i].len);
		CHECK(digest_of_bytes(d, out.data, out.len) == 0);
		CHECK_STR(d, cases[i].digest);
		free(mt);
		mt = NULL;

		/* And it reads back as what it is. */
		struct cache_root r;
		CHECK(cache_manifest_parse(&r, out.data, out.len) == 0);
		CHECK_STR(r.media_type, cases[i].mt);
		CHECK(r.has_config);
		CHECK_STR(r.config.digest, config.digest);
		CHECK_INT(r.n_blobs, 3);
		cache_root_free(&r);
	}
	struct root_form bad = {false, true, true};
	CHECK(cache_manifest_build(&out, NULL, c, &config, &bad) == ERR_USAGE);
	descriptor_free(&config);
	buffer_free(&out);
	cache_free(c);
}

static void test_fixture_roots(const char *fixtures)
{
	/* Rebuilding each fixture's root from its own parts gives its bytes. */
	const char *names[] = {"local-gzip-max", "local-zstd-max", "local-estargz", "local-docker-mediatypes"};
	for (size_t i = 0; i < 4; i++) {
		struct buffer root = BUFFER_INIT, config = BUFFER_INIT, out = BUFFER_INIT;
		struct cache_root parsed;
		struct cache *c;
		struct cache_config *cfg;
		struct root_form form;
		CHECK(fixture_documents(fixtures, names[i], &root, &config, &parsed) == 0);
		CHECK(cache_new(&c) == 0);
		CHECK(cache_config_parse(&cfg, config.data, config.len) == 0);
		cache_set_config(c, cfg);
		for (size_t k = 0; k < parsed.n_blobs; k++)
			CHECK(cache_add_blob(c, &parsed.blobs[k]) == 0);
		CHECK(root_form_of(&form, parsed.media_type) == 0);
		form.convert_layers = true;
		CHECK(cache_manifest_build(&out, NULL, c, &parsed.config, &form) == 0);
		if (out.len != root.len || memcmp(out.data, root.data, root.len) != 0) {
			fprintf(stderr, "%s: rebuilt root differs\n", names[i]);
			check_failures++;
		}
		cache_free(c);
		cache_root_free(&parsed);
		buffer_free(&root);
		buffer_free(&config);
		buffer_free(&out);
	}
}

static void detect(const char *json, const char *want_mt, int want_rc)
{
	struct cache_root r;
	int rc = cache_manifest_parse(&r, json, strlen(json));
	CHECK_INT(rc, want_rc);
	if (!rc) {
		CHECK_STR(r.media_type, want_mt);
		cache_root_free(&r);
	}
}

static void test_detection(void)
{
	/* Structure decides; a declared type must agree with it. */
	detect("{\"layers\":null}", MT_OCI_MANIFEST, 0);
	detect("{\"config\":null,\"mediaType\":\"" MT_DOCKER_MANIFEST "\"}", MT_DOCKER_MANIFEST, 0);
	detect("{\"manifests\":[]}", MT_OCI_INDEX, 0);
	detect("{}", MT_OCI_INDEX, 0);
	detect("{\"manifests\":[],\"mediaType\":\"" MT_DOCKER_LIST "\"}", MT_DOCKER_LIST, 0);
	detect("{\"manifests\":[],\"layers\":[]}", NULL, ERR_FAILURE);
	detect("{\"layers\":[],\"mediaType\":\"" MT_OCI_INDEX "\"}", NULL, ERR_FAILURE);
	detect("{\"manifests\":[],\"mediaType\":\"" MT_OCI_MANIFEST "\"}", NULL, ERR_FAILURE);
	detect("[]", NULL, ERR_FAILURE);

	/* In list forms the last config entry wins; everything else is a blob. */
	struct cache_root r;
	const char *two =
		"{\"manifests\":[{\"mediaType\":\"" MT_CACHE_CONFIG "\",\"digest\":\"sha256:1111111111111111111111111111111111111111111111111111111111111111\",\"size\":1},"
		"{\"mediaType\":\"x/unknown\",\"digest\":\"sha256:3333333333333333333333333333333333333333333333333333333333333333\",\"size\":3},"
		"{\"mediaType\":\"" MT_CACHE_CONFIG "\",\"digest\":\"sha256:2222222222222222222222222222222222222222222222222222222222222222\",\"size\":2}]}";
	CHECK(cache_manifest_parse(&r, two, strlen(two)) == 0);
	CHECK_STR(r.config.digest, "sha256:2222222222222222222222222222222222222222222222222222222222222222");
	CHECK_INT(r.n_blobs, 1);
	cache_root_free(&r);
}

static void test_index_merge(void)
{
	/* The worked example of the local layout description. */
	static const char before[] =
		"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":["
		"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:f3afd16d41f48722793c6589fb2217851bf4d26947e222813b8fa7a981c3f549\",\"size\":1180,\"annotations\":{\"org.opencontainers.image.ref.name\":\"latest\"}},"
		"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:0c973c470194eb8da83fa60bfd2e74240038b211826de7364e2bd4030a3d651a\",\"size\":1190,\"annotations\":{\"org.opencontainers.image.ref.name\":\"v1\"}},"
		"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:6d821ea31b24a7efdf0249c1ee7003ce0f05eabe2106e926c850b56f710de796\",\"size\":700,\"annotations\":{\"io.containerd.image.name\":\"docker.io/library/app:latest\",\"org.opencontainers.image.ref.name\":\"latest\"}}]}";
	static const char after[] =
		"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":["
		"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:0c973c470194eb8da83fa60bfd2e74240038b211826de7364e2bd4030a3d651a\",\"size\":1190,\"annotations\":{\"org.opencontainers.image.ref.name\":\"v1\"}},"
		"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:6d821ea31b24a7efdf0249c1ee7003ce0f05eabe2106e926c850b56f710de796\",\"size\":700,\"annotations\":{\"io.containerd.image.name\":\"docker.io/library/app:latest\",\"org.opencontainers.image.ref.name\":\"latest\"}},"
		"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:4bfcb3debb2909c1372e425fbb1c643968b0a3b92ec7c05d21c1eb533785f691\",\"size\":1216,\"annotations\":{\"org.opencontainers.image.ref.name\":\"latest\"}}]}";
	char dir[] = "/tmp/cachectl-unit-XXXXXX", path[256];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/index.json", dir);
	CHECK(write_file_atomic(path, before, strlen(before), 0644) == 0);

	struct oci_index idx;
	CHECK(oci_index_read(&idx, dir) == 0);
	/* BuildKit's lookup: the image name first, then the ref name. */
	const struct descriptor *hit = oci_index_find(&idx, "latest");
	CHECK(hit && strcmp(hit->digest, "sha256:f3afd16d41f48722793c6589fb2217851bf4d26947e222813b8fa7a981c3f549") == 0);
	hit = oci_index_find(&idx, "docker.io/library/app:latest");
	CHECK(hit && strcmp(hit->digest, "sha256:6d821ea31b24a7efdf0249c1ee7003ce0f05eabe2106e926c850b56f710de796") == 0);
	CHECK(oci_index_find(&idx, "nope") == NULL);
	oci_index_free(&idx);

	struct descriptor root;
	descriptor_init(&root);
	CHECK(descriptor_set_media_type(&root, MT_OCI_MANIFEST) == 0);
	snprintf(root.digest, sizeof(root.digest), "%s",
		 "sha256:4bfcb3debb2909c1372e425fbb1c643968b0a3b92ec7c05d21c1eb533785f691");
	root.size = 1216;
	CHECK(oci_layout_put_root(dir, &root, "latest") == 0);
	struct buffer b = BUFFER_INIT;
	CHECK(buffer_read_file(&b, path, 1 << 20) == 0);
	CHECK_STR(b.data, after);
	snprintf(path, sizeof(path), "%s/oci-layout", dir);
	CHECK(buffer_read_file(&b, path, 100) == 0);
	CHECK_STR(b.data, OCI_LAYOUT_CONTENT);
	snprintf(path, sizeof(path), "%s/index.json.lock", dir);
	CHECK(access(path, F_OK) != 0); /* removed after use */

	/* Someone else holds the lock: refuse rather than wait. */
	int fd = open(path, O_RDWR | O_CREAT, 0644);
	CHECK(flock(fd, LOCK_EX) == 0);
	CHECK(oci_layout_put_root(dir, &root, "other") == ERR_FAILURE);
	CHECK(strstr(error_message(), "could not lock") != NULL);
	close(fd);
	unlink(path);

	descriptor_free(&root);
	buffer_free(&b);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
}

/* A schemaVersion no int holds is refused, not wrapped to a negative one. */
static void test_index_numbers(void)
{
	static const char *const bad[] = {
		"{\"schemaVersion\":3000000000,\"manifests\":[]}",
		"{\"schemaVersion\":2.5,\"manifests\":[]}",
		"{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
		"\"digest\":\"sha256:0000000000000000000000000000000000000000000000000000000000000000\",\"size\":1e300}]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct oci_index idx;
		CHECK(oci_index_parse(&idx, bad[i], strlen(bad[i]), "index.json") == ERR_FAILURE);
	}
	const char *good = "{\"schemaVersion\":2,\"manifests\":[]}";
	struct oci_index idx;
	CHECK(oci_index_parse(&idx, good, strlen(good), "index.json") == 0);
	CHECK_INT(idx.schema_version, 2);
	oci_index_free(&idx);
}

int main(int argc, char **argv)
{
	test_index_numbers();
	const char *fixtures = fixture_dir(argc, argv);
	test_spec_roots();
	test_fixture_roots(fixtures);
	test_detection();
	test_index_merge();
	CHECK_DONE();
}
