/* The config as a graph (children, depths, final records, chain ids that
 * match across caches) and layer file sets (overlay stacking, comparison). */
#include "check.h"
#include "core/codec/layer_file_set.h"
#include "core/model/cache_graph.h"
#include "core/util/error.h"

#define H(c) "sha256:" c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c
#define X H("a")
#define Y H("b")
#define Z H("c")
#define W H("d")

/* X is the base, Y and Z on X, W on Y; r1 ends on X, r2 on W, r3 on Z. */
static const char config_a[] = "{\"layers\":[{\"blob\":\"" X "\",\"parent\":-1},{\"blob\":\"" Y "\",\"parent\":0},"
			       "{\"blob\":\"" Z "\",\"parent\":0},{\"blob\":\"" W "\",\"parent\":1}],\"records\":["
			       "{\"digest\":\"" H("1") "\"},"
			       "{\"digest\":\"" H("2") "\",\"inputs\":[[{\"link\":0}]],\"layers\":[{\"layer\":0}]},"
			       "{\"digest\":\"" H("3") "\",\"inputs\":[[{\"link\":1}]],\"layers\":[{\"layer\":3}]},"
			       "{\"digest\":\"" H("4") "\",\"inputs\":[[{\"link\":1}]],\"layers\":[{\"layer\":2}]}]}";
/* The chain X, Y, W again, at other indexes. */
static const char config_b[] = "{\"layers\":[{\"blob\":\"" W "\",\"parent\":2},{\"blob\":\"" X "\",\"parent\":-1},"
			       "{\"blob\":\"" Y "\",\"parent\":1}],\"records\":[]}";

static void test_graph(void)
{
	struct cache_config *a = NULL, *b = NULL;
	struct cache_graph *ga = NULL, *gb = NULL;
	size_t n;
	CHECK(cache_config_parse(&a, config_a, sizeof(config_a) - 1) == 0);
	CHECK(cache_config_parse(&b, config_b, sizeof(config_b) - 1) == 0);
	if (!a || !b || cache_graph_new(&ga, a) || cache_graph_new(&gb, b)) {
		CHECK(!"graphs built");
		goto out;
	}
	const int *bases = cache_graph_bases(ga, &n);
	CHECK(n == 1 && bases[0] == 0);
	const int *kids = cache_graph_children(ga, 0, &n);
	CHECK(n == 2 && kids[0] == 1 && kids[1] == 2);
	CHECK_INT(cache_graph_depth(ga, 3), 3);
	int chain[3];
	cache_graph_chain(ga, 3, chain);
	CHECK(chain[0] == 0 && chain[1] == 1 && chain[2] == 3);
	CHECK_INT(cache_graph_records_with_results(ga), 3);
	CHECK_INT(cache_graph_final_results(ga), 2);
	CHECK(!cache_graph_record_final(ga, 0) && !cache_graph_record_final(ga, 1));
	CHECK(cache_graph_record_final(ga, 2) && cache_graph_record_final(ga, 3));
	CHECK(cache_graph_node_final(ga, 3) && cache_graph_node_final(ga, 2) && !cache_graph_node_final(ga, 0));
	const int *at = cache_graph_results_at(ga, 3, &n);
	CHECK(n == 1 && at[0] == 2);
	/* the same stack of blobs has the same id wherever it sits */
	CHECK_STR(cache_graph_chain_id(gb, 0), cache_graph_chain_id(ga, 3));
	CHECK_INT(cache_graph_find_chain(gb, cache_graph_chain_id(ga, 3)), 0);
	CHECK_INT(cache_graph_find_chain(gb, cache_graph_chain_id(ga, 2)), -1);
out:
	cache_graph_free(ga);
	cache_graph_free(gb);
	cache_config_free(a);
	cache_config_free(b);
}

static struct layer_file entry(const char *path, enum layer_file_kind kind, int64_t size)
{
	struct layer_file f = {.name = path, .path = path, .kind = kind, .size = size, .mode = 0644, .link = ""};
	return f;
}

static void test_stacking(void)
{
	struct layer_file_set *s = NULL;
	struct layer_file lower[] = {entry("etc", LAYER_FILE_DIR, 0), entry("etc/a", LAYER_FILE_REGULAR, 1),
				     entry("etc/sub/b", LAYER_FILE_REGULAR, 2), entry("tmp/x", LAYER_FILE_REGULAR, 3),
				     entry("var/y", LAYER_FILE_REGULAR, 4)};
	CHECK(layer_file_set_new(&s) == 0);
	for (size_t i = 0; s && i < sizeof(lower) / sizeof(lower[0]); i++)
		CHECK(layer_file_set_stack(s, &lower[i], 0) == 0);
	if (!s)
		return;
	/* layer 1: a new etc/c, then an opaque etc (hides what layer 0 had, not etc/c), tmp deleted */
	struct layer_file upper[] = {entry("etc/c", LAYER_FILE_REGULAR, 5), entry("etc", LAYER_FILE_OPAQUE, 0),
				     entry("tmp", LAYER_FILE_WHITEOUT, 0), entry("var/y", LAYER_FILE_REGULAR, 9)};
	for (size_t i = 0; i < sizeof(upper) / sizeof(upper[0]); i++)
		CHECK(layer_file_set_stack(s, &upper[i], 1) == 0);
	CHECK(layer_file_set_find(s, "etc") != NULL);
	CHECK(layer_file_set_find(s, "etc/a") == NULL);
	CHECK(layer_file_set_find(s, "etc/sub/b") == NULL);
	CHECK(layer_file_set_find(s, "etc/c") != NULL);
	CHECK(layer_file_set_find(s, "tmp/x") == NULL);
	const struct layer_file *y = layer_file_set_find(s, "var/y");
	CHECK(y && y->size == 9);
	layer_file_set_free(s);
}

struct tally {
	int added, removed, changed;
	unsigned fields;
};

static int count_change(void *ctx, enum file_change c, unsigned fields, const struct layer_file *a,
			const struct layer_file *b)
{
	struct tally *t = ctx;
	(void)a;
	(void)b;
	t->added += c == FILE_ADDED;
	t->removed += c == FILE_REMOVED;
	t->changed += c == FILE_CHANGED;
	t->fields |= fields;
	return 0;
}

static void test_compare(void)
{
	struct layer_file_set *a = NULL, *b = NULL;
	struct layer_file same = entry("same", LAYER_FILE_REGULAR, 1), gone = entry("gone", LAYER_FILE_REGULAR, 1);
	struct layer_file new_file = entry("new", LAYER_FILE_REGULAR, 1), before = entry("mod", LAYER_FILE_REGULAR, 2);
	struct layer_file after = before;
	after.mode = 0755;
	strcpy(before.content, H("e"));
	strcpy(after.content, H("f"));
	struct tally t = {0};
	CHECK(layer_file_set_new(&a) == 0 && layer_file_set_new(&b) == 0);
	if (!a || !b)
		goto out;
	CHECK(layer_file_set_add(a, &same, 0) == 0 && layer_file_set_add(a, &gone, 0) == 0);
	CHECK(layer_file_set_add(a, &before, 0) == 0);
	CHECK(layer_file_set_add(b, &same, 0) == 0 && layer_file_set_add(b, &new_file, 0) == 0);
	CHECK(layer_file_set_add(b, &after, 0) == 0);
	CHECK(layer_file_set_compare(a, b, count_change, &t) == 0);
	CHECK(t.added == 1 && t.removed == 1 && t.changed == 1);
	CHECK(t.fields == (FILE_FIELD_MODE | FILE_FIELD_CONTENT));
out:
	layer_file_set_free(a);
	layer_file_set_free(b);
}

int main(void)
{
	test_graph();
	test_stacking();
	test_compare();
	CHECK_DONE();
}
