/* The cache config document (application/vnd.buildkit.cacheconfig.v0):
 * layer chain nodes and the cache-key records that point at them.
 * See docs/formats.md and BuildKit's cache/remotecache/v1 for the meaning. */
#ifndef CACHECTL_CACHE_CONFIG_H
#define CACHECTL_CACHE_CONFIG_H

#include "core/util/error.h"

#include <stddef.h>
#include <stdint.h>

#include "core/util/buffer.h"
#include "core/util/timestamp.h"

struct cJSON;

/* Per-layer metadata that s3, gha and azblob documents embed in layers[]. */
struct cache_layer_annotations {
	char *media_type;
	char *diff_id;
	int64_t size;
	struct timestamp created_at;
};

/* One node of a layer chain: a blob on top of its parent node. */
struct cache_layer {
	char *blob;
	int parent; /* index into layers, or -1 for a base layer */
	struct cache_layer_annotations *annotations;
};

/* A result as one chain node; the chain is the node and its ancestors. */
struct cache_result {
	int layer;
	struct timestamp created_at;
};

/* A result as an explicit list of layer indexes, base first (inline cache). */
struct cache_chain {
	int *layers;
	size_t n_layers;
	struct timestamp created_at;
};

struct cache_input {
	char *selector; /* NULL when empty */
	int link;       /* index into records */
};

/* One input slot: alternative records that each satisfy it. */
struct cache_slot {
	struct cache_input *alts;
	size_t n_alts;
};

struct cache_record {
	char *digest;
	struct cache_result *results;
	size_t n_results;
	struct cache_chain *chains;
	size_t n_chains;
	struct cache_slot *inputs;
	size_t n_inputs;
};

struct cache_config {
	struct cache_layer *layers;
	size_t n_layers;
	struct cache_record *records;
	size_t n_records;
};

CACHECTL_MUST_CHECK int cache_config_new(struct cache_config **out);
void cache_config_free(struct cache_config *cfg);
CACHECTL_MUST_CHECK int cache_config_clone(struct cache_config **out, const struct cache_config *cfg);

/* Reads the JSON document leniently (unknown members ignored, a missing
 * parent means 0) as BuildKit does.  Does not check indexes: see
 * cache_config_check. */
CACHECTL_MUST_CHECK int cache_config_parse(struct cache_config **out, const char *json, size_t len);

/* Parses only a records array (the inline cache form). */
CACHECTL_MUST_CHECK int cache_config_parse_records(struct cache_config *cfg, const struct cJSON *records);

/* Writes the document in BuildKit's compact form, in its current order
 * (call cache_config_sort first for the canonical order). */
CACHECTL_MUST_CHECK int cache_config_serialize(const struct cache_config *cfg, struct buffer *out);

/* Writes only the records array (the inline cache form, whose layer
 * indexes are the image's). */
CACHECTL_MUST_CHECK int cache_config_serialize_records(const struct cache_config *cfg, struct buffer *out);

/* Out-of-range indexes and loops through parents or inputs, as BuildKit's
 * importer rejects them. */
CACHECTL_MUST_CHECK int cache_config_check(const struct cache_config *cfg);

/* BuildKit's canonical ordering of layers and records (sortConfig). */
CACHECTL_MUST_CHECK int cache_config_sort(struct cache_config *cfg);

/* Appends a layer node / a record; returns its index through out. */
CACHECTL_MUST_CHECK int cache_config_add_layer(struct cache_config *cfg, const char *blob, int parent, int *out);
CACHECTL_MUST_CHECK int cache_config_add_record(struct cache_config *cfg, const char *digest, int *out);
CACHECTL_MUST_CHECK int cache_record_add_result(struct cache_record *r, int layer, const struct timestamp *created);
/* Makes the record have at least n input slots (new ones empty). */
CACHECTL_MUST_CHECK int cache_record_reserve_slots(struct cache_record *r, size_t n);
CACHECTL_MUST_CHECK int cache_record_add_input(struct cache_record *r, size_t slot, const char *selector, int link);

void cache_record_clear(struct cache_record *r);
void cache_layer_clear(struct cache_layer *l);

#endif
