/* Whole-cache transforms on BuildKit's fixture caches: normalisation is
 * the identity on BuildKit output, mode=min keeps what BuildKit's min keeps,
 * merging loses nothing, unknown blobs drop their results. */
#include "check.h"
#include "core/model/cache.h"
#include "core/util/error.h"
#include "transport/transport.h"

static struct cache *load(const char *fixtures, const char *name)
{
	char dir[4096];
	struct cache_options o = {0};
	struct transport *t;
	struct cache *c = NULL;
	snprintf(dir, sizeof(dir), "%s/buildkit-v0.23.2/%s/export", fixtures, name);
	o.type = strdup("local");
	cache_options_add(&o, "src", dir);
	if (transport_open(&t, &o, TRANSPORT_SOURCE, NULL) || t->ops->read_cache(t, &c)) {
		fprintf(stderr, "fixture %s: %s\n", name, error_message());
		exit(1);
	}
	transport_free(t);
	cache_options_free(&o);
	return c;
}

static void serialize(const struct cache *c, struct buffer *b)
{
	CHECK(cache_config_serialize(c->config, b) == 0);
}

static size_t with_results(const struct cache_config *cfg)
{
	size_t n = 0;
	for (size_t i = 0; i < cfg->n_records; i++)
		n += cfg->records[i].n_results > 0;
	return n;
}

/* The diffIDs of a result's chain, base first, joined by spaces. */
static void chain_text(const struct cache *c, int layer, struct buffer *out)
{
	const char *ids[256];
	size_t n = 0;
	for (; layer != -1 && n < 256; layer = c->config->layers[layer].parent)
		ids[n++] = cache_blob_diff_id(c, c->config->layers[layer].blob);
	buffer_reset(out);
	while (n)
		CHECK(buffer_appendf(out, "%s ", ids[--n]) == 0);
}

/* Every result of every record of `part` is a result of the same record in `whole`. */
static bool contains(const struct cache *whole, const struct cache *part)
{
	struct buffer a = BUFFER_INIT, b = BUFFER_INIT;
	bool ok = true;
	for (size_t i = 0; i < part->config->n_records && ok; i++) {
		const struct cache_record *r = &part->config->records[i];
		for (size_t k = 0; k < r->n_results && ok; k++) {
			bool found = false;
			chain_text(part, r->results[k].layer, &a);
			for (size_t m = 0; m < whole->config->n_records && !found; m++) {
				const struct cache_record *w = &whole->config->records[m];
				if (strcmp(w->digest, r->digest) != 0)
					continue;
				for (size_t x = 0; x < w->n_results && !found; x++) {
					chain_text(whole, w->results[x].layer, &b);
					found = strcmp(a.data, b.data) == 0;
				}
			}
			if (!found)
				fprintf(stderr, "result of %s missing\n", r->digest);
			ok = found;
		}
	}
	buffer_free(&a);
	buffer_free(&b);
	return ok;
}

static void test_normalize_is_identity(const char *fixtures)
{
	const char *names[] = {"local-gzip-max", "local-zstd-max", "local-estargz", "local-docker-mediatypes"};
	for (size_t i = 0; i < 4; i++) {
		struct cache *c = load(fixtures, names[i]);
		struct buffer before = BUFFER_INIT, after = BUFFER_INIT;
		size_t dropped = 99;
		if (!c)
			continue;
		serialize(c, &before);
		CHECK(cache_normalize(c, &dropped) == 0);
		CHECK_INT(dropped, 0);
		serialize(c, &after);
		CHECK_STR(after.data, before.data);
		cache_free(c);
		buffer_free(&before);
		buffer_free(&after);
	}
}

static void test_mode_min(const char *fixtures)
{
	struct cache *max = load(fixtures, "local-gzip-max"), *min = load(fixtures, "local-gzip-max");
	CHECK(cache_keep_min(min) == 0);
	/* BuildKit's inline export (always min) of the same build: 12 records,
	 * 3 with results; their chains use 4 distinct layers. */
	CHECK_INT(min->config->n_records, 12);
	CHECK_INT(with_results(min->config), 3);
	CHECK_INT(min->config->n_layers, 4);
	CHECK(contains(max, min));
	CHECK(cache_config_check(min->config) == 0);
	cache_free(max);
	cache_free(min);
}

static void test_merge(const char *fixtures)
{
	struct cache *a = load(fixtures, "local-gzip-max"), *b = load(fixtures, "local-zstd-max");
	struct cache *same = load(fixtures, "local-gzip-max");
	struct buffer x = BUFFER_INIT, y = BUFFER_INIT;

	/* A cache merged with itself is itself. */
	serialize(a, &x);
	CHECK(cache_merge(same, a) == 0);
	serialize(same, &y);
	CHECK_STR(y.data, x.data);

	struct cache *m = load(fixtures, "local-gzip-max");
	CHECK(cache_merge(m, b) == 0);
	CHECK(contains(m, a));
	CHECK(contains(m, b));
	CHECK(cache_config_check(m->config) == 0);
	/* Every chain node names a blob the table describes. */
	for (size_t i = 0; i < m->config->n_layers; i++)
		CHECK(cache_blob(m, m->config->layers[i].blob) != NULL);
	cache_free(a);
	cache_free(b);
	cache_free(same);
	cache_free(m);
	buffer_free(&x);
	buffer_free(&y);
}

static void test_unknown_blob_drops_results(const char *fixtures)
{
	struct cache *c = load(fixtures, "local-gzip-max");
	/* Forget the base layer: every result stands on it. */
	const char *base = "sha256:f671ca523f2108c8fa41496b7a6093e98b0179d552b137e968f10250342ba40e";
	struct descriptor *d = cache_blob_mut(c, base);
	CHECK(d != NULL);
	if (!d)
		return;
	snprintf(d->digest, sizeof(d->digest), "%s", "sha256:0000000000000000000000000000000000000000000000000000000000000000");
	strmap_free(&c->blob_index);
	for (size_t i = 0; i < c->n_blobs; i++)
		CHECK(strmap_put(&c->blob_index, c->blobs[i].digest, i) == 0);
	size_t dropped = 0;
	CHECK(cache_normalize(c, &dropped) == 0);
	CHECK_INT(dropped, 8);
	CHECK_INT(with_results(c->config), 0);
	CHECK_INT(c->config->n_layers, 0);
	CHECK_INT(c->config->n_records, 12);
	cache_free(c);
}

static void test_chains_become_nodes(const char *fixtures)
{
	struct cache *c = load(fixtures, "local-gzip-max");
	struct cache_config *cfg = c->config;
	/* Give a record without results an explicit chain equal to record 4's result. */
	struct cache_record *r = &cfg->records[4], *last = &cfg->records[0];
	CHECK_INT(last->n_results, 0);
	int chain[16];
	size_t n = 0;
	for (int l = r->results[0].layer; l != -1; l = cfg->layers[l].parent)
		chain[n++] = l;
	last->chains = calloc(1, sizeof(*last->chains));
	last->chains[0].layers = calloc(n, sizeof(int));
	for (size_t i = 0; i < n; i++)
		last->chains[0].layers[i] = chain[n - 1 - i];
	last->chains[0].n_layers = n;
	last->chains[0].created_at = r->results[0].created_at;
	last->n_chains = 1;
	size_t before = with_results(cfg);
	CHECK(cache_normalize(c, NULL) == 0);
	cfg = c->config;
	CHECK_INT(with_results(cfg), before + 1);
	for (size_t i = 0; i < cfg->n_records; i++)
		CHECK_INT(cfg->records[i].n_chains, 0);
	CHECK_INT(cfg->n_layers, 9); /* the same nodes, no new ones */
	cache_free(c);
}

static void test_replace_blob(const char *fixtures)
{
	struct cache *c = load(fixtures, "local-gzip-max");
	struct descriptor nd;
	const char *old = "sha256:4f4fb700ef54461cfa02571ae0db9a0dc1e0cdb5577484a6d75e68dc38e8acc1";
	CHECK(descriptor_copy(&nd, cache_blob(c, old)) == 0);
	snprintf(nd.digest, sizeof(nd.digest), "%s", "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef");
	CHECK(descriptor_set_media_type(&nd, MT_OCI_LAYER) == 0);
	CHECK(cache_replace_blob(c, old, &nd) == 0);
	CHECK(cache_normalize(c, NULL) == 0);
	bool found_old = false, found_new = false;
	for (size_t i = 0; i < c->config->n_layers; i++) {
		found_old |= strcmp(c->config->layers[i].blob, old) == 0;
		found_new |= strcmp(c->config->layers[i].blob, nd.digest) == 0;
	}
	CHECK(!found_old);
	CHECK(found_new);
	CHECK_INT(c->config->n_layers, 9);
	/* the same digest under a new description: the new one wins */
	CHECK(descriptor_set_media_type(&nd, MT_OCI_LAYER_GZIP) == 0);
	CHECK(descriptor_annotation_set(&nd, ANN_STARGZ_TOC, "sha256:34389139a1c1b35477be831e2253885fa98a9fc3906b16880a391631786dd194") == 0);
	size_t blobs = c->n_blobs;
	CHECK(cache_replace_blob(c, nd.digest, &nd) == 0);
	CHECK_INT(c->n_blobs, blobs);
	CHECK_STR(cache_blob(c, nd.digest)->media_type, MT_OCI_LAYER_GZIP);
	CHECK(descriptor_annotation(cache_blob(c, nd.digest), ANN_STARGZ_TOC) != NULL);
	descriptor_free(&nd);
	cache_free(c);
}

int main(int argc, char **argv)
{
	const char *fixtures = fixture_dir(argc, argv);
	test_normalize_is_identity(fixtures);
	test_mode_min(fixtures);
	test_merge(fixtures);
	test_unknown_blob_drops_results(fixtures);
	test_chains_become_nodes(fixtures);
	test_replace_blob(fixtures);
	CHECK_DONE();
}
