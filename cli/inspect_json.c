/* inspect --format json: the stable document of docs/inspect-json.md.  Its
 * members and their order are a contract; add, never change. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/inspect.h"
#include "core/model/media_type.h"
#include "core/util/buffer.h"
#include "core/util/error.h"
#include "core/util/json_out.h"

static void json_descriptor_brief(struct json_out *j, const struct descriptor *d, const char *mt)
{
	json_object_begin(j);
	json_member_string(j, "mediaType", mt ? mt : (d->media_type ? d->media_type : ""));
	json_member_string(j, "digest", d->digest);
	json_member_int(j, "size", d->size);
	json_object_end(j);
}

static void json_layer(struct json_out *j, const struct blob_facts *f)
{
	const struct descriptor *d = f->d;
	const char *diff = descriptor_annotation(d, ANN_UNCOMPRESSED);
	const char *created = descriptor_annotation(d, ANN_CREATED_AT);
	const char *toc = descriptor_annotation(d, ANN_STARGZ_TOC);
	json_object_begin(j);
	json_member_string(j, "digest", d->digest);
	json_member_string(j, "mediaType", d->media_type ? d->media_type : "");
	json_member_string(j, "compression", toc ? "estargz" : compression_name(media_type_compression(d->media_type)));
	json_member_int(j, "size", d->size);
	json_key(j, "uncompressedSize");
	f->uncompressed >= 0 ? json_int(j, f->uncompressed) : json_null(j);
	json_key(j, "diffID");
	diff ? json_string(j, diff) : json_null(j);
	json_key(j, "createdAt");
	created ? json_string(j, created) : json_null(j);
	json_key(j, "annotations");
	json_object_begin(j);
	for (size_t k = 0; k < d->n_annotations; k++)
		json_member_string(j, d->annotations[k].key, d->annotations[k].value);
	json_object_end(j);
	if (toc) {
		json_key(j, "estargz");
		json_object_begin(j);
		json_member_string(j, "tocDigest", *f->toc_digest ? f->toc_digest : toc);
		json_key(j, "tocEntries");
		f->toc_entries >= 0 ? json_int(j, f->toc_entries) : json_null(j);
		json_object_end(j);
	}
	if (*f->problem)
		json_member_string(j, "problem", f->problem);
	json_object_end(j);
}

static void json_chains(struct json_out *j, const struct cache_config *cfg)
{
	json_array_begin(j);
	for (size_t i = 0; i < cfg->n_layers; i++) {
		json_object_begin(j);
		json_member_int(j, "index", (int64_t)i);
		json_member_string(j, "blob", cfg->layers[i].blob);
		json_member_int(j, "parent", cfg->layers[i].parent);
		json_object_end(j);
	}
	json_array_end(j);
}

static void json_inputs(struct json_out *j, const struct cache_config *cfg, const struct cache_record *r)
{
	json_array_begin(j);
	for (size_t s = 0; s < r->n_inputs; s++) {
		json_array_begin(j);
		for (size_t k = 0; k < r->inputs[s].n_alts; k++) {
			const struct cache_input *in = &r->inputs[s].alts[k];
			json_object_begin(j);
			json_key(j, "selector");
			in->selector ? json_string(j, in->selector) : json_null(j);
			json_member_int(j, "link", in->link);
			json_member_string(j, "digest", cfg->records[in->link].digest);
			json_object_end(j);
		}
		json_array_end(j);
	}
	json_array_end(j);
}

static void json_results(struct json_out *j, const struct inspect_view *v, const struct cache_record *r, int *chain)
{
	const struct cache_config *cfg = v->cache->config;
	json_array_begin(j);
	for (size_t k = 0; k < r->n_results; k++) {
		char when[TIMESTAMP_BUF];
		int node = r->results[k].layer;
		size_t depth = cache_graph_depth(v->graph, node);
		cache_graph_chain(v->graph, node, chain);
		timestamp_format(when, &r->results[k].created_at, false);
		json_object_begin(j);
		json_member_int(j, "layer", node);
		json_member_string(j, "createdAt", when);
		json_key(j, "chain");
		json_array_begin(j);
		for (size_t i = 0; i < depth; i++)
			json_string(j, cfg->layers[chain[i]].blob);
		json_array_end(j);
		json_object_end(j);
	}
	json_array_end(j);
}

static void json_records(struct json_out *j, const struct inspect_view *v, int *chain)
{
	const struct cache_config *cfg = v->cache->config;
	json_array_begin(j);
	for (size_t i = 0; i < cfg->n_records; i++) {
		const struct cache_record *r = &cfg->records[i];
		json_object_begin(j);
		json_member_int(j, "index", (int64_t)i);
		json_member_string(j, "digest", r->digest);
		json_key(j, "inputs");
		json_inputs(j, cfg, r);
		json_key(j, "results");
		json_results(j, v, r, chain);
		json_object_end(j);
	}
	json_array_end(j);
}

static void json_totals(struct json_out *j, const struct inspect_view *v)
{
	const struct cache_config *cfg = v->cache->config;
	json_object_begin(j);
	json_member_int(j, "records", (int64_t)cfg->n_records);
	json_member_int(j, "recordsWithResults", (int64_t)cache_graph_records_with_results(v->graph));
	json_member_int(j, "chainNodes", (int64_t)cfg->n_layers);
	json_member_int(j, "blobs", (int64_t)v->n_facts);
	json_member_int(j, "size", v->total_size);
	json_key(j, "uncompressedSize");
	v->total_uncompressed >= 0 ? json_int(j, v->total_uncompressed) : json_null(j);
	json_object_end(j);
}

int inspect_print_json(const struct inspect_view *v)
{
	const struct cache *c = v->cache;
	struct buffer out = BUFFER_INIT;
	struct json_out j;
	int *chain = calloc(c->config->n_layers + 1, sizeof(*chain));
	CHECK_ALLOC(chain);
	json_out_init(&j, &out);
	json_object_begin(&j);
	json_member_string(&j, "source", v->source);
	json_key(&j, "root");
	*c->source_root.digest ? json_descriptor_brief(&j, &c->source_root, c->root_media_type) : json_null(&j);
	json_key(&j, "config");
	*c->source_config.digest ? json_descriptor_brief(&j, &c->source_config, NULL) : json_null(&j);
	json_key(&j, "layers");
	json_array_begin(&j);
	for (size_t i = 0; i < v->n_facts; i++)
		json_layer(&j, &v->facts[i]);
	json_array_end(&j);
	json_key(&j, "chains");
	json_chains(&j, c->config);
	json_key(&j, "records");
	json_records(&j, v, chain);
	json_key(&j, "totals");
	json_totals(&j, v);
	json_object_end(&j);
	int rc = json_out_status(&j);
	if (!rc)
		printf("%s\n", out.data);
	buffer_free(&out);
	free(chain);
	return rc;
}
