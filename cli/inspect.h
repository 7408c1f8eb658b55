/* What `cachectl inspect` knows about one cache, and its output forms: the
 * tree for people (inspect_tree.c), the stable JSON (inspect_json.c),
 * Graphviz (inspect_dot.c) and a Markdown summary (inspect_markdown.c). */
#ifndef CACHECTL_INSPECT_H
#define CACHECTL_INSPECT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/model/cache.h"
#include "core/model/cache_graph.h"
#include "core/util/digest.h"
#include "core/util/strmap.h"

/* One layer blob and what reading it taught. */
struct blob_facts {
	const struct descriptor *d;
	int64_t uncompressed;        /* -1 unknown */
	char toc_digest[DIGEST_BUF]; /* eStargz: as measured */
	int64_t toc_entries;         /* eStargz: -1 unknown */
	char problem[256];
};

/* Borrowed views of everything the printers need; inspect_view_init owns
 * only the graph and the index it builds. */
struct inspect_view {
	const struct cache *cache;
	const char *source;
	struct blob_facts *facts;
	size_t n_facts;
	struct cache_graph *graph;
	struct strmap fact_index; /* blob digest -> position in facts */
	int64_t total_size, total_uncompressed; /* total_uncompressed -1 when any is unknown */
	/* BuildKit refuses a config over 1 MiB from this backend (local and
	 * registry importers do; s3, gha and azblob have no such limit). */
	bool config_limited;
};

/* The view output options of the text form. */
struct tree_options {
	bool raw;             /* also print the flat lists (blobs, chain nodes, records) */
	size_t max_branches;  /* children shown per node before a summary line (0: all) */
	size_t max_run;       /* straight-chain lines shown before the middle is folded (0: all) */
};

int inspect_view_init(struct inspect_view *v, const struct cache *c, const char *source, struct blob_facts *facts,
		      size_t n);
void inspect_view_free(struct inspect_view *v);
/* The facts of a blob digest, or NULL. */
const struct blob_facts *inspect_blob(const struct inspect_view *v, const char *digest);

/* At most max characters of in, each one outside [A-Za-z0-9:._+-] as '?',
 * so that text from a cache cannot break the output's syntax (out: max + 1
 * bytes). */
const char *plain_text(char *out, const char *in, size_t max);
/* "sha256:" and 12 hex characters, as docker shows image IDs (buf: 20 bytes). */
const char *short_digest(const char *d, char *buf);
/* The 12 hex characters alone (buf: 13 bytes or more). */
const char *short_hex(const char *d, char *buf);
/* Sum of the compressed sizes of the chain ending at node; *plain gets the
 * uncompressed sum, -1 when a layer's is unknown. */
int64_t chain_size(const struct inspect_view *v, int node, int64_t *plain);

void inspect_print_tree(const struct inspect_view *v, const struct tree_options *o);
/* The flat lists: every blob, chain node and record as the config holds them. */
void inspect_print_raw(const struct inspect_view *v);
int inspect_print_json(const struct inspect_view *v);
void inspect_print_dot(const struct inspect_view *v);
void inspect_print_markdown(const struct inspect_view *v);

#endif
