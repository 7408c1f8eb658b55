/* The gha backend's pieces that need no server: the runtime token, BuildKit's
 * key naming and cache version, the API choice and environment fallbacks,
 * Azure block ids, Go durations, the entry pacer, and the annotated index
 * document (byte for byte against BuildKit's gha-max entry). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "core/util/base64.h"
#include "core/util/buffer.h"
#include "core/util/digest.h"
#include "core/util/duration.h"
#include "core/util/error.h"
#include "core/model/media_type.h"
#include "formats/annotated_config.h"
#include "transport/azblob/azblob_upload.h"
#include "transport/gha/entry_pacer.h"
#include "transport/gha/gha_config.h"
#include "transport/gha/runtime_token.h"

/* The token BuildKit's fixture export used (gha-max/README.md). */
static const char FIXTURE_TOKEN[] =
	"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhYyI6Ilt7XCJTY29wZVwiOiBcInJlZnMvaGVhZHMvbWFpblwiLCBcIlBlcm1pc3Npb25c"
	"IjogM31dIiwibmJmIjoxNzk1ODQ2ODI5LCJpYXQiOjE3OTU4NDY4MjksImV4cCI6MjExMTIxMDQyOSwiaXNzIjoicGVlci1sYWIiLCJhdWQi"
	"OiJ2c3Rva2VuIn0.0t0IaEU1dKnP2Ips-qRfjYRK9PjxwSNNW5VqxtawJ38";

static void make_token(char *out, size_t size, const char *payload)
{
	struct buffer b64 = BUFFER_INIT;
	CHECK(base64_std_encode(&b64, payload, strlen(payload)) == 0);
	/* base64url without padding */
	for (char *p = b64.data; *p; p++)
		*p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
	b64.data[strcspn(b64.data, "=")] = '\0';
	snprintf(out, size, "eyJhbGciOiJub25lIn0.%s.c2ln", b64.data);
	buffer_free(&b64);
}

static void test_token(void)
{
	struct runtime_token t;
	CHECK(runtime_token_parse(&t, FIXTURE_TOKEN, 1795850000) == 0);
	CHECK_INT(t.n_scopes, 1);
	CHECK_STR(t.scopes[0].scope, "refs/heads/main");
	CHECK_INT(t.scopes[0].permission, 3);
	CHECK_INT(t.expires, 2111210429);
	CHECK_STR(runtime_token_write_scope(&t), "refs/heads/main");
	runtime_token_free(&t);

	/* not valid yet at the fixture's nbf - 1, expired after exp */
	CHECK(runtime_token_parse(&t, FIXTURE_TOKEN, 1795846828) == ERR_USAGE);
	CHECK(strstr(error_message(), "not valid yet") != NULL);
	CHECK(runtime_token_parse(&t, FIXTURE_TOKEN, 2111210430) == ERR_USAGE);
	CHECK(strstr(error_message(), "expired") != NULL);
	CHECK(strstr(error_message(), "eyJ") == NULL); /* never the token */

	/* the last writable scope is the one an export writes */
	char tok[4096];
	make_token(tok, sizeof(tok),
		   "{\"ac\":\"[{\\\"Scope\\\":\\\"refs/heads/main\\\",\\\"Permission\\\":1},"
		   "{\\\"Scope\\\":\\\"refs/pull/7/merge\\\",\\\"Permission\\\":3},"
		   "{\\\"Scope\\\":\\\"refs/heads/x\\\",\\\"Permission\\\":1}]\"}");
	CHECK(runtime_token_parse(&t, tok, 0) == 0);
	CHECK_INT(t.n_scopes, 3);
	CHECK_STR(runtime_token_write_scope(&t), "refs/pull/7/merge");
	runtime_token_free(&t);
	make_token(tok, sizeof(tok), "{\"ac\":\"[{\\\"Scope\\\":\\\"refs/heads/main\\\",\\\"Permission\\\":1}]\"}");
	CHECK(runtime_token_parse(&t, tok, 0) == 0);
	CHECK(runtime_token_write_scope(&t) == NULL);
	runtime_token_free(&t);

	const char *bad[] = {"", "abc", "a.b", "a.!!!.c", NULL};
	for (size_t i = 0; bad[i]; i++)
		CHECK(runtime_token_parse(&t, bad[i], 0) == ERR_USAGE);
	make_token(tok, sizeof(tok), "{\"sub\":\"no ac\"}");
	CHECK(runtime_token_parse(&t, tok, 0) == ERR_USAGE);
	CHECK(strstr(error_message(), "no ac claim") != NULL);
	make_token(tok, sizeof(tok), "{\"ac\":\"[{\\\"Scope\\\":1}]\"}");
	CHECK(runtime_token_parse(&t, tok, 0) == ERR_USAGE);
	make_token(tok, sizeof(tok), "{\"ac\":\"[]\",\"exp\":\"soon\"}");
	CHECK(runtime_token_parse(&t, tok, 0) == ERR_USAGE);
}

static void test_base64(void)
{
	/* JWT payloads: base64url or standard, padded or not, one decoder. */
	static const struct {
		const char *text;
		int rc;
		const char *bytes;
	} cases[] = {
		{"aGVsbG8_Pg", 0, "hello?>"},   /* url form, unpadded */
		{"aGVsbG8/Pg==", 0, "hello?>"}, /* standard, padded */
		{"aGVsbG8-Pw", 0, "hello>?"},
		{"aGVsbG8", 0, "hello"},
		{"aGVsbG8/P", ERR_FAILURE, NULL}, /* one character too many */
		{"aGV*bG8", ERR_FAILURE, NULL},   /* outside both alphabets */
		{"aGVs=G8", ERR_FAILURE, NULL},   /* padding inside */
	};
	struct buffer enc = BUFFER_INIT, out = BUFFER_INIT;
	CHECK(base64_std_encode(&enc, "hello?>", 7) == 0);
	CHECK_STR(enc.data, "aGVsbG8/Pg==");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buffer_reset(&out);
		CHECK_INT(base64_url_decode(&out, cases[i].text, strlen(cases[i].text)), cases[i].rc);
		if (cases[i].bytes) {
			CHECK_INT(out.len, strlen(cases[i].bytes));
			CHECK(out.data && memcmp(out.data, cases[i].bytes, out.len) == 0);
		}
	}
	buffer_free(&enc);
	buffer_free(&out);
}

static void test_keys(void)
{
	char d[DIGEST_BUF];
	struct buffer b = BUFFER_INIT;
	CHECK(digest_of_bytes(d, "|go-actionscache-1.0", 20) == 0);
	CHECK_STR(digest_hex(d), GHA_CACHE_VERSION);
	CHECK(gha_index_key(&b, "app-fixture", "refs/heads/main") == 0);
	CHECK_STR(b.data, "index-app-fixture-1-f921bd05");
	CHECK(gha_index_key(&b, "buildkit", NULL) == 0); /* no write scope: sha256 of "" */
	CHECK_STR(b.data, "index-buildkit-1-e3b0c442");
	CHECK(gha_blob_key(&b, "sha256:35ecc618c1d8ef0b039a2101f5542679eab928796b4cd1cb06f9448b25703244") == 0);
	CHECK_STR(b.data, "buildkit-blob-1-sha256:35ecc618c1d8ef0b039a2101f5542679eab928796b4cd1cb06f9448b25703244");
	buffer_free(&b);
}

static void test_choose_api(void)
{
	int api;
	const char *url;
	const char *v1 = "https://artifactcache.actions.githubusercontent.com/abc/";
	const char *results = "https://results-receiver.actions.githubusercontent.com/";
	CHECK(gha_choose_api(&api, &url, 0, v1, NULL) == 0);
	CHECK_INT(api, 1);
	CHECK(url == v1);
	CHECK(gha_choose_api(&api, &url, 0, results, NULL) == 0); /* auto: the v2 host */
	CHECK_INT(api, 2);
	CHECK(gha_choose_api(&api, &url, 0, v1, results) == 0); /* url_v2 wins unless version=1 */
	CHECK_INT(api, 2);
	CHECK(url == results);
	CHECK(gha_choose_api(&api, &url, 1, v1, results) == 0);
	CHECK_INT(api, 1);
	CHECK(url == v1);
	CHECK(gha_choose_api(&api, &url, 3, v1, NULL) == 0); /* any version above 1 is v2 */
	CHECK_INT(api, 2);
	CHECK(gha_choose_api(&api, &url, 1, NULL, results) == ERR_USAGE);
	CHECK(strstr(error_message(), "url not set") != NULL);
}

static int resolve(struct gha_config *c, const char *text)
{
	/* text: comma-separated key=value options */
	struct cache_options o = {0};
	char copy[1024];
	snprintf(copy, sizeof(copy), "%s", text);
	o.type = strdup("gha");
	for (char *kv = strtok(copy, ","); kv; kv = strtok(NULL, ",")) {
		char *eq = strchr(kv, '=');
		*eq = '\0';
		cache_options_add(&o, kv, eq + 1);
	}
	int rc = gha_config_resolve(c, &o, 1795850000);
	cache_options_free(&o);
	return rc;
}

static void test_environment(void)
{
	struct gha_config c;
	unsetenv("ACTIONS_CACHE_URL");
	unsetenv("ACTIONS_RESULTS_URL");
	unsetenv("ACTIONS_CACHE_SERVICE_V2");
	unsetenv("GITHUB_API_URL");
	unsetenv("CACHECTL_GHA_ENTRY_RATE");
	unsetenv("CACHECTL_GHA_PART_SIZE");
	setenv("ACTIONS_RUNTIME_TOKEN", FIXTURE_TOKEN, 1);
	setenv("ACTIONS_CACHE_URL", "http://cache.example/abc/", 1);
	setenv("ACTIONS_RESULTS_URL", "http://results.example/", 1);
	CHECK(resolve(&c, "scope=x") == 0);
	CHECK_INT(c.api, 1);
	CHECK_STR(c.url, "http://cache.example/abc"); /* trailing '/' removed */
	CHECK_STR(c.scope, "x");
	CHECK(c.timeout == 600);
	CHECK_INT(c.pace_entries, 200);
	CHECK(c.pace_window == 60);
	CHECK_STR(c.api_url, "https://api.github.com");
	gha_config_free(&c);

	setenv("ACTIONS_CACHE_SERVICE_V2", "true", 1); /* steers url_v2 from the results URL */
	CHECK(resolve(&c, "timeout=1h30m") == 0);
	CHECK_INT(c.api, 2);
	CHECK_STR(c.url, "http://results.example");
	CHECK_STR(c.scope, "buildkit");
	CHECK(c.timeout == 5400);
	gha_config_free(&c);
	CHECK(resolve(&c, "version=1") == 0); /* an explicit version wins */
	CHECK_INT(c.api, 1);
	gha_config_free(&c);
	unsetenv("ACTIONS_CACHE_SERVICE_V2");

	unsetenv("ACTIONS_CACHE_URL"); /* the results URL alone, auto version */
	CHECK(resolve(&c, "version=2") == 0);
	CHECK_INT(c.api, 2);
	gha_config_free(&c);
	unsetenv("ACTIONS_RESULTS_URL");
	CHECK(resolve(&c, "scope=x") == ERR_USAGE);
	CHECK(resolve(&c, "url=http://u/,version=x") == ERR_USAGE);
	CHECK(resolve(&c, "url=http://u/,timeout=10 minutes") == ERR_USAGE);
	CHECK(resolve(&c, "url=ftp://u/") == ERR_USAGE);
	CHECK(resolve(&c, "url=http://u/,repository=noslash") == ERR_USAGE);
	setenv("CACHECTL_GHA_ENTRY_RATE", "10/2.5", 1);
	setenv("CACHECTL_GHA_PART_SIZE", "1048576", 1);
	setenv("GITHUB_API_URL", "https://ghes.example/api/v3/", 1);
	CHECK(resolve(&c, "url=http://u/,ghtoken=g,repository=o/r") == 0);
	CHECK_INT(c.pace_entries, 10);
	CHECK(c.pace_window == 2.5);
	CHECK_INT(c.part_size, 1048576);
	CHECK_STR(c.api_url, "https://ghes.example/api/v3");
	CHECK_STR(c.repository, "o/r");
	gha_config_free(&c);
	setenv("CACHECTL_GHA_PART_SIZE", "64", 1);
	CHECK(resolve(&c, "url=http://u/") == ERR_USAGE);
	unsetenv("CACHECTL_GHA_PART_SIZE");
	setenv("CACHECTL_GHA_ENTRY_RATE", "fast", 1);
	CHECK(resolve(&c, "url=http://u/") == ERR_USAGE);
	unsetenv("CACHECTL_GHA_ENTRY_RATE");
	unsetenv("ACTIONS_RUNTIME_TOKEN");
	CHECK(resolve(&c, "url=http://u/") == ERR_USAGE);
	CHECK(strstr(error_message(), "token not set") != NULL);
	CHECK(resolve(&c, "url=http://u/,token=x.y.z") == ERR_USAGE);
	CHECK(strstr(error_message(), "x.y.z") == NULL);
}

static void test_block_ids(void)
{
	unsigned char uuid[16];
	char id[AZBLOB_BLOCK_ID_BUF];
	struct buffer raw = BUFFER_INIT;
	for (int i = 0; i < 16; i++)
		uuid[i] = (unsigned char)(0xa0 + i);
	CHECK(azblob_block_id(id, uuid, 258) == 0);
	CHECK_INT(strlen(id), 28); /* 20 bytes */
	CHECK(base64_std_decode(&raw, id, strlen(id)) == 0);
	CHECK_INT(raw.len, 20);
	CHECK(memcmp(raw.data, uuid, 16) == 0);
	const unsigned char *n = (const unsigned char *)raw.data + 16;
	CHECK(n[0] == 0 && n[1] == 0 && n[2] == 1 && n[3] == 2); /* big-endian number */
	buffer_free(&raw);
	CHECK_STR(id, "oKGio6SlpqeoqaqrrK2urwAAAQI=");
}

static void test_duration(void)
{
	double s;
	CHECK(duration_parse(&s, "10m", "timeout") == 0 && s == 600);
	CHECK(duration_parse(&s, "1h30m", "timeout") == 0 && s == 5400);
	CHECK(duration_parse(&s, "1.5h", "timeout") == 0 && s == 5400);
	CHECK(duration_parse(&s, "300ms", "timeout") == 0 && s > 0.2999 && s < 0.3001);
	CHECK(duration_parse(&s, "0", "timeout") == 0 && s == 0);
	CHECK(duration_parse(&s, "2m3s", "timeout") == 0 && s == 123);
	const char *bad[] = {"", "10", "m", "10x", "1h 2m", "-", NULL};
	for (size_t i = 0; bad[i]; i++)
		CHECK(duration_parse(&s, bad[i], "timeout") == ERR_USAGE);
}

/* ---- pacer: many threads creating entries never exceed the window ---- */

#define PACE_LIMIT 4
#define PACE_WINDOW 0.25
#define PACE_ENTRIES 14

static struct entry_pacer *pacer;
static pthread_mutex_t times_lock = PTHREAD_MUTEX_INITIALIZER;
static double created[PACE_ENTRIES];
static int n_created;

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *creator(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_mutex_lock(&times_lock);
		bool done = n_created >= PACE_ENTRIES;
		pthread_mutex_unlock(&times_lock);
		if (done)
			return NULL;
		entry_pacer_acquire(pacer, NULL);
		/* "the service" creates the entry while the request is in flight */
		pthread_mutex_lock(&times_lock);
		bool room = n_created < PACE_ENTRIES;
		if (room)
			created[n_created++] = mono();
		pthread_mutex_unlock(&times_lock);
		struct timespec pause = {0, 2000000};
		nanosleep(&pause, NULL);
		entry_pacer_release(pacer, room);
	}
}

static void test_pacer(void)
{
	pthread_t t[6];
	double start = mono();
	CHECK(entry_pacer_new(&pacer, PACE_LIMIT, PACE_WINDOW, NULL) == 0);
	for (int i = 0; i < 6; i++)
		pthread_create(&t[i], NULL, creator, NULL);
	for (int i = 0; i < 6; i++)
		pthread_join(t[i], NULL);
	CHECK_INT(n_created, PACE_ENTRIES);
	/* in any window of PACE_WINDOW seconds, at most PACE_LIMIT creations */
	for (int i = 0; i < PACE_ENTRIES; i++) {
		int in_window = 0;
		for (int k = i; k < PACE_ENTRIES && created[k] - created[i] < PACE_WINDOW; k++)
			in_window++;
		CHECK(in_window <= PACE_LIMIT);
	}
	/* 14 entries at 4 per window need at least three full windows */
	CHECK(mono() - start >= 3 * PACE_WINDOW);
	CHECK(entry_pacer_total_wait(pacer) > 0);
	entry_pacer_free(pacer);
}

/* ---- the index document: BuildKit's gha-max entry, read and rewritten ---- */

static void test_annotated_config(const char *fixtures)
{
	char path[4096];
	struct buffer in = BUFFER_INIT, out = BUFFER_INIT;
	struct cache *c = NULL;
	snprintf(path, sizeof(path), "%s/buildkit-v0.23.2/gha-max/export/entries/index-app-fixture-1-f921bd05#1",
		 fixtures);
	CHECK(buffer_read_file(&in, path, 1 << 20) == 0);
	CHECK(annotated_config_load(&c, in.data, in.len, "gha-max index") == 0);
	if (!c)
		return;
	CHECK_INT(c->n_blobs, 9);
	const struct descriptor *base =
		cache_blob(c, "sha256:f671ca523f2108c8fa41496b7a6093e98b0179d552b137e968f10250342ba40e");
	CHECK(base != NULL);
	if (base) {
		CHECK_STR(base->media_type, "application/vnd.docker.image.rootfs.diff.tar.gzip");
		CHECK_INT(base->size, 1068684);
		CHECK_STR(descriptor_annotation(base, ANN_UNCOMPRESSED),
			  "sha256:398f7817c89a81396a50b77622dbe022a2202918785caa8f9dd26ca306eff914");
		CHECK_STR(descriptor_annotation(base, ANN_CREATED_AT), "2026-11-28T07:21:10.730590737Z");
	}
	for (size_t i = 0; i < c->config->n_layers; i++)
		CHECK(c->config->layers[i].annotations == NULL); /* the table is the truth */
	CHECK(annotated_config_build(&out, c) == 0);
	CHECK_INT(out.len, in.len);
	CHECK(out.len == in.len && memcmp(out.data, in.data, in.len) == 0);

	/* a creation time in another zone is written in UTC; none is the zero time */
	struct descriptor *d = cache_blob_mut(c, "sha256:f671ca523f2108c8fa41496b7a6093e98b0179d552b137e968f10250342ba40e");
	if (d) {
		CHECK(descriptor_annotation_set(d, ANN_CREATED_AT, "2026-11-28T09:21:10.5+02:00") == 0);
		CHECK(annotated_config_build(&out, c) == 0);
		CHECK(strstr(out.data, "\"createdAt\":\"2026-11-28T07:21:10.5Z\"") != NULL);
		descriptor_annotation_remove(d, ANN_CREATED_AT);
		CHECK(annotated_config_build(&out, c) == 0);
		CHECK(strstr(out.data, "\"size\":1068684,\"createdAt\":\"0001-01-01T00:00:00Z\"") != NULL);
		descriptor_annotation_remove(d, ANN_UNCOMPRESSED);
		CHECK(annotated_config_build(&out, c) == ERR_FAILURE);
		CHECK(strstr(error_message(), "no diffID") != NULL);
	}
	cache_free(c);

	/* BuildKit's importer refuses nodes without annotations or diffID */
	const char *no_ann = "{\"layers\":[{\"blob\":\"sha256:35ecc618c1d8ef0b039a2101f5542679eab928796b4cd1cb06f9448b25703244\","
			     "\"parent\":-1}],\"records\":[]}";
	CHECK(annotated_config_load(&c, no_ann, strlen(no_ann), "doc") == ERR_FAILURE);
	CHECK(strstr(error_message(), "no annotations") != NULL);
	const char *no_diff = "{\"layers\":[{\"blob\":\"sha256:35ecc618c1d8ef0b039a2101f5542679eab928796b4cd1cb06f9448b25703244\","
			      "\"parent\":-1,\"annotations\":{\"size\":3,\"createdAt\":\"0001-01-01T00:00:00Z\"}}]}";
	CHECK(annotated_config_load(&c, no_diff, strlen(no_diff), "doc") == ERR_FAILURE);
	CHECK(strstr(error_message(), "no diffID") != NULL);
	buffer_free(&in);
	buffer_free(&out);
}

int main(int argc, char **argv)
{
	const char *fixtures = fixture_dir(argc, argv);
	test_token();
	test_base64();
	test_keys();
	test_choose_api();
	test_environment();
	test_block_ids();
	test_duration();
	test_pacer();
	test_annotated_config(fixtures);
	CHECK_DONE();
}
