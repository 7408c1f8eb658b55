#include "cli/diff_print.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/inspect.h"
#include "cli/layer_read.h"
#include "core/model/cache_diff.h"
#include "core/util/error.h"
#include "core/util/json_out.h"
#include "core/util/printable.h"

struct diff_run {
	struct single_source *a, *b;
	const struct diff_options *o;
	struct cache_graph *ga, *gb;
	struct cache_diff *d;
	struct json_out j;
	struct buffer out;
	/* per file comparison */
	size_t shown, mtime_only;
};

static const struct cache_config *cfg_a(const struct diff_run *r)
{
	return r->a->set.merged->config;
}

static const struct cache_config *cfg_b(const struct diff_run *r)
{
	return r->b->set.merged->config;
}

static void fields_text(char *out, size_t size, unsigned fields)
{
	size_t n = 0;
	*out = '\0';
	for (unsigned f = 1; f <= FILE_FIELD_MTIME && n < size; f <<= 1)
		if (fields & f)
			n += (size_t)snprintf(out + n, size - n, "%s%s", n ? ", " : "", file_field_name(f));
}

static int change_text(void *ctx, enum file_change c, unsigned fields, const struct layer_file *a,
		       const struct layer_file *b)
{
	struct diff_run *r = ctx;
	char what[96];
	if (c == FILE_CHANGED && fields == FILE_FIELD_MTIME) {
		r->mtime_only++;
		return 0;
	}
	r->shown++;
	const struct layer_file *f = b ? b : a;
	const char *label = c == FILE_ADDED ? "only in B" : c == FILE_REMOVED ? "only in A" : "changed  ";
	bool marker = f->kind == LAYER_FILE_WHITEOUT || f->kind == LAYER_FILE_OPAQUE;
	printf("      %s  %s", label, !marker ? "" : f->kind == LAYER_FILE_WHITEOUT ? "deletion of " : "opaque dir ");
	print_tar_name(f->path);
	if (!marker && c == FILE_CHANGED) {
		fields_text(what, sizeof(what), fields);
		printf("  (%s; %lld -> %lld bytes)", what, (long long)a->size, (long long)b->size);
	} else if (!marker) {
		printf("  (%s, %lld bytes)", layer_file_kind_name(f->kind), (long long)f->size);
	}
	printf("\n");
	return 0;
}

static int change_json(void *ctx, enum file_change c, unsigned fields, const struct layer_file *a,
		       const struct layer_file *b)
{
	struct diff_run *r = ctx;
	struct json_out *j = &r->j;
	const struct layer_file *f = b ? b : a;
	json_object_begin(j);
	json_member_string(j, "path", f->path);
	json_member_string(j, "change", c == FILE_ADDED ? "added" : c == FILE_REMOVED ? "removed" : "changed");
	json_member_string(j, "type", layer_file_kind_name(f->kind));
	json_key(j, "fields");
	json_array_begin(j);
	for (unsigned k = 1; k <= FILE_FIELD_MTIME; k <<= 1)
		if (fields & k)
			json_string(j, file_field_name(k));
	json_array_end(j);
	json_key(j, "sizeA");
	a ? json_int(j, a->size) : json_null(j);
	json_key(j, "sizeB");
	b ? json_int(j, b->size) : json_null(j);
	json_object_end(j);
	return 0;
}

/* The file-level difference of A's and B's layers where a chain split;
 * A's layer NULL when A's chain stops there (everything is then B's). */
static int compare_layers(struct diff_run *r, const char *blob_a, const char *blob_b)
{
	struct layer_file_set *fa = NULL, *fb = NULL;
	const struct descriptor *da = blob_a ? cache_blob(r->a->set.merged, blob_a) : NULL;
	const struct descriptor *db = cache_blob(r->b->set.merged, blob_b);
	int rc = db ? 0 : error_set(ERR_CORRUPT, "B describes no blob %s", blob_b);
	if (!rc && blob_a && !da)
		rc = error_set(ERR_CORRUPT, "A describes no blob %s", blob_a);
	if (!rc)
		rc = da ? layer_read_set(&fa, &r->a->set, da, true) : layer_file_set_new(&fa);
	if (!rc && (rc = layer_read_set(&fb, &r->b->set, db, true)) == 0) {
		r->shown = r->mtime_only = 0;
		rc = layer_file_set_compare(fa, fb, r->o->json ? change_json : change_text, r);
	}
	layer_file_set_free(fa);
	layer_file_set_free(fb);
	return rc;
}

static void text_records(const struct diff_run *r)
{
	const struct cache_diff *d = r->d;
	char s[24];
	printf("records: %zu only in A, %zu only in B, %zu shared\n", d->n_only_a, d->n_only_b, d->n_shared_records);
	printf("chain nodes: %zu only in A, %zu only in B, %zu shared\n", d->chains_only_a, d->chains_only_b,
	       d->chains_shared);
	for (size_t i = 0; i < d->n_only_a && i < 20; i++)
		printf("  only in A: record %s\n", short_digest(cfg_a(r)->records[d->only_a[i]].digest, s));
	for (size_t i = 0; i < d->n_only_b && i < 20; i++)
		printf("  only in B: record %s\n", short_digest(cfg_b(r)->records[d->only_b[i]].digest, s));
	if (d->n_only_a > 20 || d->n_only_b > 20)
		printf("  (--format json lists them all)\n");
}

static int text_result(struct diff_run *r, const struct chain_divergence *v)
{
	char s[24], t[24];
	const struct cache_config *b = cfg_b(r);
	printf("\nfinal result of B: record %s, %zu layers, top %s\n", short_digest(b->records[v->b_record].digest, s),
	       v->depth, short_digest(b->layers[v->b_node].blob, t));
	if (v->b_layer < 0) {
		printf("  A has this whole chain: a build with A's cache would reuse every layer\n");
		return 0;
	}
	const char *blob_a = v->a_layer >= 0 ? cfg_a(r)->layers[v->a_layer].blob : NULL;
	printf("  leaves A's chains at layer %zu of %zu (%zu shared below it)\n", v->shared + 1, v->depth, v->shared);
	char shown[512];
	printf("    A: %s\n", blob_a ? printable(shown, sizeof(shown), blob_a, 0) : "(no layer: A's chain ends there)");
	printf("    B: %s\n", printable(shown, sizeof(shown), b->layers[v->b_layer].blob, 0));
	if (r->o->no_files)
		return 0;
	printf("    files that differ (B against A):\n");
	int rc = compare_layers(r, blob_a, b->layers[v->b_layer].blob);
	if (!rc && !r->shown && !r->mtime_only)
		printf("      none: the layers hold the same entries (their tar bytes differ)\n");
	if (!rc && r->mtime_only)
		printf("      %s%zu entries differ only in their modification time\n", r->shown ? "and " : "",
		       r->mtime_only);
	return rc;
}

static int print_text(struct diff_run *r)
{
	char a[1024], b[1024];
	printf("A  %s\nB  %s\n\n", printable(a, sizeof(a), r->a->transport->display, 0),
	       printable(b, sizeof(b), r->b->transport->display, 0));
	text_records(r);
	const struct cache_diff *d = r->d;
	if (!d->n_only_a && !d->n_only_b && !d->chains_only_a && !d->chains_only_b) {
		printf("\nno differences: A and B hold the same records and chains\n");
		return 0;
	}
	int rc = 0;
	for (size_t i = 0; i < d->n_results && !rc; i++)
		rc = text_result(r, &d->results[i]);
	return rc;
}

static void json_record_list(struct json_out *j, const struct cache_config *cfg, const int *idx, size_t n)
{
	json_array_begin(j);
	for (size_t i = 0; i < n; i++)
		json_string(j, cfg->records[idx[i]].digest);
	json_array_end(j);
}

static int json_result(struct diff_run *r, const struct chain_divergence *v)
{
	struct json_out *j = &r->j;
	const struct cache_config *b = cfg_b(r);
	const char *blob_a = v->a_layer >= 0 ? cfg_a(r)->layers[v->a_layer].blob : NULL;
	int rc = 0;
	json_object_begin(j);
	json_member_string(j, "record", b->records[v->b_record].digest);
	json_member_string(j, "top", b->layers[v->b_node].blob);
	json_member_int(j, "layers", (int64_t)v->depth);
	json_member_int(j, "sharedLayers", (int64_t)v->shared);
	json_key(j, "divergesAt");
	if (v->b_layer < 0) {
		json_null(j);
	} else {
		json_object_begin(j);
		json_member_int(j, "layer", (int64_t)v->shared + 1);
		json_key(j, "a");
		blob_a ? json_string(j, blob_a) : json_null(j);
		json_member_string(j, "b", b->layers[v->b_layer].blob);
		json_object_end(j);
	}
	json_key(j, "files");
	if (v->b_layer < 0 || r->o->no_files) {
		json_null(j);
	} else {
		json_array_begin(j);
		rc = compare_layers(r, blob_a, b->layers[v->b_layer].blob);
		json_array_end(j);
	}
	json_object_end(j);
	return rc;
}

static int print_json(struct diff_run *r)
{
	struct json_out *j = &r->j;
	const struct cache_diff *d = r->d;
	int rc = 0;
	json_out_init(j, &r->out);
	json_object_begin(j);
	json_member_string(j, "a", r->a->transport->display);
	json_member_string(j, "b", r->b->transport->display);
	json_key(j, "records");
	json_object_begin(j);
	json_key(j, "onlyInA");
	json_record_list(j, cfg_a(r), d->only_a, d->n_only_a);
	json_key(j, "onlyInB");
	json_record_list(j, cfg_b(r), d->only_b, d->n_only_b);
	json_member_int(j, "shared", (int64_t)d->n_shared_records);
	json_object_end(j);
	json_key(j, "chainNodes");
	json_object_begin(j);
	json_member_int(j, "onlyInA", (int64_t)d->chains_only_a);
	json_member_int(j, "onlyInB", (int64_t)d->chains_only_b);
	json_member_int(j, "shared", (int64_t)d->chains_shared);
	json_object_end(j);
	json_key(j, "finalResults");
	json_array_begin(j);
	for (size_t i = 0; i < d->n_results && !rc; i++)
		rc = json_result(r, &d->results[i]);
	json_array_end(j);
	json_object_end(j);
	if (!rc && !(rc = json_out_status(j)))
		printf("%s\n", r->out.data);
	return rc;
}

int diff_run(struct single_source *a, struct single_source *b, const struct diff_options *o)
{
	struct diff_run r = {.a = a, .b = b, .o = o, .out = BUFFER_INIT};
	int rc = cache_graph_new(&r.ga, a->set.merged->config);
	if (!rc)
		rc = cache_graph_new(&r.gb, b->set.merged->config);
	if (!rc)
		rc = cache_diff_new(&r.d, a->set.merged, r.ga, b->set.merged, r.gb);
	if (!rc)
		rc = o->json ? print_json(&r) : print_text(&r);
	cache_diff_free(r.d);
	cache_graph_free(r.ga);
	cache_graph_free(r.gb);
	buffer_free(&r.out);
	return rc;
}
