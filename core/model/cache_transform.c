/* Whole-cache transforms: normalisation (the form BuildKit's exporters
 * write), merging several caches, mode=min, and swapping a blob for its
 * re-encoded twin. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/model/cache.h"
#include "core/util/error.h"

/* ---- chain nodes -------------------------------------------------------- */

/* Distinct chain nodes, each a blob on top of another distinct node: two old
 * nodes with the same blob and the same (distinct) parent are one node. */
struct node_set {
	struct strmap by_key; /* "<parent id>@<blob>" -> id */
	struct buffer key;
	const char **blob;    /* borrowed from the old config */
	int *parent;          /* id, or -1 */
	unsigned char *used;
	int *new_index;
	size_t n, cap;
};

static int node_intern(struct node_set *s, const char *blob, int parent, int *out)
{
	size_t id;
	buffer_reset(&s->key);
	int rc = buffer_appendf(&s->key, "%d@%s", parent, blob);
	if (rc)
		return rc;
	const char *key = s->key.data;
	if (strmap_get(&s->by_key, key, &id)) {
		*out = (int)id;
		return 0;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		const char **b = realloc(s->blob, cap * sizeof(*b));
		if (b)
			s->blob = b;
		int *p = realloc(s->parent, cap * sizeof(*p));
		if (p)
			s->parent = p;
		unsigned char *u = realloc(s->used, cap);
		if (u)
			s->used = u;
		int *ni = realloc(s->new_index, cap * sizeof(*ni));
		if (ni)
			s->new_index = ni;
		CHECK_ALLOC(b && p && u && ni);
		s->cap = cap;
	}
	s->blob[s->n] = blob;
	s->parent[s->n] = parent;
	s->used[s->n] = 0;
	s->new_index[s->n] = -1;
	if ((rc = strmap_put(&s->by_key, key, s->n)))
		return rc;
	*out = (int)s->n++;
	return 0;
}

static void node_set_free(struct node_set *s)
{
	strmap_free(&s->by_key);
	buffer_free(&s->key);
	free(s->blob);
	free(s->parent);
	free(s->used);
	free(s->new_index);
}

static void node_mark_used(struct node_set *s, int id)
{
	for (; id != -1 && !s->used[id]; id = s->parent[id])
		s->used[id] = 1;
}

/* ---- records ------------------------------------------------------------ */

/* Post-order of records over their inputs, so that every record comes after
 * the records it links to.  The config has been checked for loops. */
static int record_postorder(const struct cache_config *cfg, size_t *order)
{
	size_t n = cfg->n_records, count = 0;
	struct frame {
		size_t record, slot, alt;
	} *stack = malloc((n ? n : 1) * sizeof(*stack));
	unsigned char *seen = calloc(n ? n : 1, 1);
	if (!stack || !seen) {
		free(stack);
		free(seen);
		return error_oom();
	}
	for (size_t root = 0; root < n; root++) {
		if (seen[root])
			continue;
		size_t depth = 0;
		stack[depth++] = (struct frame){root, 0, 0};
		seen[root] = 1;
		while (depth) {
			struct frame *f = &stack[depth - 1];
			const struct cache_record *r = &cfg->records[f->record];
			if (f->slot >= r->n_inputs) {
				order[count++] = f->record;
				depth--;
			} else if (f->alt >= r->inputs[f->slot].n_alts) {
				f->slot++;
				f->alt = 0;
			} else {
				size_t next = (size_t)r->inputs[f->slot].alts[f->alt++].link;
				if (!seen[next]) {
					seen[next] = 1;
					stack[depth++] = (struct frame){next, 0, 0};
				}
			}
		}
	}
	free(stack);
	free(seen);
	return 0;
}

static int input_key_cmp(const void *a, const void *b)
{
	const struct cache_input *x = a, *y = b;
	int c = strcmp(x->selector ? x->selector : "", y->selector ? y->selector : "");
	if (c)
		return c;
	return x->link < y->link ? -1 : x->link > y->link;
}

/* The identity of a record: its digest and, per slot, the set of
 * (selector, identity of the linked record). */
static int record_key(struct buffer *key, const struct cache_record *r, const int *canon)
{
	buffer_reset(key);
	int rc = buffer_append_str(key, r->digest);
	if (rc)
		return rc;
	for (size_t s = 0; s < r->n_inputs; s++) {
		size_t n = r->inputs[s].n_alts;
		struct cache_input *alts = malloc((n ? n : 1) * sizeof(*alts));
		CHECK_ALLOC(alts);
		for (size_t k = 0; k < n; k++) {
			alts[k] = r->inputs[s].alts[k];
			alts[k].link = canon[alts[k].link];
		}
		qsort(alts, n, sizeof(*alts), input_key_cmp);
		rc = buffer_append_str(key, "|");
		for (size_t k = 0; k < n && !rc; k++)
			rc = buffer_appendf(key, "%s#%d,", alts[k].selector ? alts[k].selector : "", alts[k].link);
		free(alts);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- normalisation ------------------------------------------------------ */

struct result_ref {
	int node;
	struct timestamp created_at;
};

/* One normalisation, phase by phase; everything here is freed in one
 * place (normalizer_free). */
struct normalizer {
	const struct cache *cache;
	const struct cache_config *old; /* freed when the new config replaces it */
	size_t n_old_records;
	struct node_set nodes;
	int *old_node;               /* old layer -> distinct node */
	struct result_ref **results; /* per old record: its results as nodes */
	size_t *n_results;
	int *canon;    /* old record -> the old record that stands for it */
	int *first_of; /* a standing old record -> its new index, else -1 */
	struct cache_config *cfg; /* the new config */
	size_t n_dropped;
};

static void normalizer_free(struct normalizer *n)
{
	if (n->results)
		for (size_t i = 0; i < n->n_old_records; i++)
			free(n->results[i]);
	free(n->results);
	free(n->n_results);
	free(n->canon);
	free(n->first_of);
	free(n->old_node);
	node_set_free(&n->nodes);
	cache_config_free(n->cfg);
}

/* Every old layer as a distinct node, parents interned before children. */
static int intern_old_layers(struct normalizer *n)
{
	const struct cache_config *old = n->old;
	n->old_node = malloc((old->n_layers + 1) * sizeof(int));
	CHECK_ALLOC(n->old_node);
	for (size_t i = 0; i < old->n_layers; i++)
		n->old_node[i] = -2;
	for (size_t i = 0; i < old->n_layers; i++) {
		while (n->old_node[i] == -2) {
			/* Walk up to the first node whose parent is known. */
			int k = (int)i;
			while (old->layers[k].parent != -1 && n->old_node[old->layers[k].parent] == -2)
				k = old->layers[k].parent;
			int parent = old->layers[k].parent == -1 ? -1 : n->old_node[old->layers[k].parent];
			int rc = node_intern(&n->nodes, old->layers[k].blob, parent, &n->old_node[k]);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* Result k of old record r (its results, then its explicit chains) as a
 * node; *known is false when a blob of its chain is missing from the blob
 * table (or the chain is empty): the result is then dropped. */
static int resolve_result(struct normalizer *n, const struct cache_record *r, size_t k, struct result_ref *out,
			  bool *known)
{
	const struct cache_config *old = n->old;
	if (k < r->n_results) {
		*known = true;
		for (int l = r->results[k].layer; l != -1; l = old->layers[l].parent)
			*known = *known && cache_blob(n->cache, old->layers[l].blob);
		*out = (struct result_ref){n->old_node[r->results[k].layer], r->results[k].created_at};
		return 0;
	}
	const struct cache_chain *ch = &r->chains[k - r->n_results];
	*out = (struct result_ref){-1, ch->created_at};
	*known = ch->n_layers > 0;
	for (size_t m = 0; m < ch->n_layers && *known; m++) {
		const char *blob = old->layers[ch->layers[m]].blob;
		*known = cache_blob(n->cache, blob) != NULL;
		int rc = *known ? node_intern(&n->nodes, blob, out->node, &out->node) : 0;
		if (rc)
			return rc;
	}
	return 0;
}

/* Each old record's results as node ids; explicit chains become nodes. */
static int gather_results(struct normalizer *n)
{
	n->results = calloc(n->n_old_records + 1, sizeof(*n->results));
	n->n_results = calloc(n->n_old_records + 1, sizeof(*n->n_results));
	CHECK_ALLOC(n->results && n->n_results);
	for (size_t i = 0; i < n->n_old_records; i++) {
		const struct cache_record *r = &n->old->records[i];
		n->results[i] = calloc(r->n_results + r->n_chains + 1, sizeof(**n->results));
		CHECK_ALLOC(n->results[i]);
		for (size_t k = 0; k < r->n_results + r->n_chains; k++) {
			struct result_ref ref;
			bool known;
			int rc = resolve_result(n, r, k, &ref, &known);
			if (rc)
				return rc;
			if (known)
				n->results[i][n->n_results[i]++] = ref;
			else
				n->n_dropped++;
		}
	}
	return 0;
}

/* canon[r]: identical records (same digest, same inputs, compared after
 * their inputs) stand as the first of their kind in post-order. */
static int find_identical_records(struct normalizer *n, size_t *order)
{
	struct strmap keys = STRMAP_INIT;
	struct buffer key = BUFFER_INIT;
	int rc = record_postorder(n->old, order);
	for (size_t i = 0; i < n->n_old_records && !rc; i++) {
		size_t r = order[i], found;
		if ((rc = record_key(&key, &n->old->records[r], n->canon)))
			break;
		if (strmap_get(&keys, key.data, &found)) {
			n->canon[r] = (int)found;
		} else {
			n->canon[r] = (int)r;
			rc = strmap_put(&keys, key.data, r);
		}
	}
	strmap_free(&keys);
	buffer_free(&key);
	return rc;
}

/* One new record per kind, in old order (first_of says where). */
static int add_standing_records(struct normalizer *n)
{
	size_t *order = malloc((n->n_old_records + 1) * sizeof(*order));
	n->canon = malloc((n->n_old_records + 1) * sizeof(*n->canon));
	n->first_of = malloc((n->n_old_records + 1) * sizeof(*n->first_of));
	int rc = order && n->canon && n->first_of ? 0 : error_oom();
	if (!rc)
		rc = find_identical_records(n, order);
	free(order);
	if (!rc)
		rc = cache_config_new(&n->cfg);
	int n_new = 0;
	for (size_t r = 0; r < n->n_old_records && !rc; r++) {
		bool stands = n->canon[r] == (int)r;
		n->first_of[r] = stands ? n_new++ : -1;
		if (stands)
			rc = cache_config_add_record(n->cfg, n->old->records[r].digest, NULL);
	}
	return rc;
}

static bool has_input(const struct cache_record *r, size_t slot, const char *selector, int link)
{
	for (size_t m = 0; m < r->inputs[slot].n_alts; m++)
		if (r->inputs[slot].alts[m].link == link &&
		    strcmp(r->inputs[slot].alts[m].selector ? r->inputs[slot].alts[m].selector : "",
			   selector ? selector : "") == 0)
			return true;
	return false;
}

/* The inputs of a standing record, linked to the new records. */
static int add_inputs(struct normalizer *n, struct cache_record *nr, const struct cache_record *or)
{
	for (size_t s = 0; s < or->n_inputs; s++) {
		int rc = cache_record_reserve_slots(nr, s + 1);
		for (size_t k = 0; k < or->inputs[s].n_alts && !rc; k++) {
			const struct cache_input *in = &or->inputs[s].alts[k];
			int link = n->first_of[n->canon[in->link]];
			if (!has_input(nr, s, in->selector, link))
				rc = cache_record_add_input(nr, s, in->selector, link);
		}
		if (rc)
			return rc;
	}
	return 0;
}

/* The results of old record r, added to the record that stands for it;
 * their nodes (and their parents) are used. */
static int add_results(struct normalizer *n, struct cache_record *nr, size_t r)
{
	for (size_t k = 0; k < n->n_results[r]; k++) {
		const struct result_ref *ref = &n->results[r][k];
		bool dup = false;
		for (size_t m = 0; m < nr->n_results; m++)
			dup = dup || nr->results[m].layer == ref->node;
		if (dup)
			continue;
		/* Node ids for now; number_layers makes them layer indexes. */
		int rc = cache_record_add_result(nr, ref->node, &ref->created_at);
		if (rc)
			return rc;
		node_mark_used(&n->nodes, ref->node);
	}
	return 0;
}

/* Records: identical ones (same digest, same inputs) become one. */
static int merge_records(struct normalizer *n)
{
	int rc = add_standing_records(n);
	for (size_t r = 0; r < n->n_old_records && !rc; r++) {
		struct cache_record *nr = &n->cfg->records[n->first_of[n->canon[r]]];
		if (n->canon[r] == (int)r)
			rc = add_inputs(n, nr, &n->old->records[r]);
		if (!rc)
			rc = add_results(n, nr, r);
	}
	return rc;
}

/* Layers: the used nodes, in the order of the old layers they came from
 * (nodes new to this pass last); results then name layer indexes. */
static int number_layers(struct normalizer *n)
{
	struct node_set *ns = &n->nodes;
	struct cache_config *cfg = n->cfg;
	int next = 0, rc = 0;
	for (size_t i = 0; i < n->old->n_layers; i++)
		if (ns->used[n->old_node[i]] && ns->new_index[n->old_node[i]] == -1)
			ns->new_index[n->old_node[i]] = next++;
	for (size_t id = 0; id < ns->n; id++)
		if (ns->used[id] && ns->new_index[id] == -1)
			ns->new_index[id] = next++;
	int *by_index = malloc(((size_t)next + 1) * sizeof(int));
	CHECK_ALLOC(by_index);
	for (size_t id = 0; id < ns->n; id++)
		if (ns->used[id])
			by_index[ns->new_index[id]] = (int)id;
	for (int i = 0; i < next && !rc; i++) {
		int id = by_index[i];
		int parent = ns->parent[id] == -1 ? -1 : ns->new_index[ns->parent[id]];
		rc = cache_config_add_layer(cfg, ns->blob[id], parent, NULL);
	}
	free(by_index);
	for (size_t r = 0; r < cfg->n_records && !rc; r++)
		for (size_t k = 0; k < cfg->records[r].n_results; k++)
			cfg->records[r].results[k].layer = ns->new_index[cfg->records[r].results[k].layer];
	return rc;
}

int cache_normalize(struct cache *c, size_t *dropped)
{
	struct normalizer n = {.cache = c, .old = c->config, .n_old_records = c->config->n_records};
	int rc = cache_config_check(n.old);
	if (!rc)
		rc = intern_old_layers(&n);
	if (!rc)
		rc = gather_results(&n);
	if (!rc)
		rc = merge_records(&n);
	if (!rc)
		rc = number_layers(&n);
	if (!rc)
		rc = cache_config_sort(n.cfg);
	if (!rc) {
		cache_set_config(c, n.cfg); /* frees the old config */
		n.cfg = NULL;
		if (dropped)
			*dropped = n.n_dropped;
	}
	normalizer_free(&n);
	return rc;
}

/* ---- merge -------------------------------------------------------------- */

int cache_merge(struct cache *dst, const struct cache *src)
{
	int rc;
	struct cache_config *d = dst->config;
	const struct cache_config *s = src->config;
	int layer_base = (int)d->n_layers, record_base = (int)d->n_records;
	for (size_t i = 0; i < src->n_blobs; i++)
		if ((rc = cache_add_blob(dst, &src->blobs[i])))
			return rc;
	for (size_t i = 0; i < s->n_layers; i++) {
		int p = s->layers[i].parent;
		if ((rc = cache_config_add_layer(d, s->layers[i].blob, p == -1 ? -1 : p + layer_base, NULL)))
			return rc;
	}
	for (size_t i = 0; i < s->n_records; i++) {
		const struct cache_record *r = &s->records[i];
		int index;
		if ((rc = cache_config_add_record(d, r->digest, &index)))
			return rc;
		struct cache_record *nr = &d->records[index];
		for (size_t k = 0; k < r->n_results; k++)
			if ((rc = cache_record_add_result(nr, r->results[k].layer + layer_base, &r->results[k].created_at)))
				return rc;
		for (size_t k = 0; k < r->n_chains; k++) {
			/* Normalised caches have no chains; keep them correct anyway
			 * by rebuilding each as chain nodes on the merged side. */
			int parent = -1;
			for (size_t m = 0; m < r->chains[k].n_layers; m++)
				if ((rc = cache_config_add_layer(d, s->layers[r->chains[k].layers[m]].blob, parent, &parent)))
					return rc;
			nr = &d->records[index];
			if (r->chains[k].n_layers &&
			    (rc = cache_record_add_result(nr, parent, &r->chains[k].created_at)))
				return rc;
		}
		for (size_t sl = 0; sl < r->n_inputs; sl++) {
			if ((rc = cache_record_reserve_slots(nr, sl + 1)))
				return rc;
			for (size_t k = 0; k < r->inputs[sl].n_alts; k++)
				if ((rc = cache_record_add_input(nr, sl, r->inputs[sl].alts[k].selector,
							   r->inputs[sl].alts[k].link + record_base)))
					return rc;
		}
	}
	return cache_normalize(dst, NULL);
}

/* ---- mode=min ----------------------------------------------------------- */

/* Identity of a layer for prefix comparison: its diffID when known, so that
 * two encodings of the same content compare equal. */
static const char *layer_identity(const struct cache *c, int layer)
{
	const char *blob = c->config->layers[layer].blob;
	const char *diff = cache_blob_diff_id(c, blob);
	return diff ? diff : blob;
}

static size_t chain_length(const struct cache_config *cfg, int layer)
{
	size_t n = 0;
	for (; layer != -1; layer = cfg->layers[layer].parent)
		n++;
	return n;
}

/* True when the chain ending at `short_end` is a prefix of (or equal to) the
 * chain ending at `long_end`. */
static bool chain_is_prefix(const struct cache *c, int short_end, int long_end)
{
	const struct cache_config *cfg = c->config;
	size_t ns = chain_length(cfg, short_end), nl = chain_length(cfg, long_end);
	if (ns > nl)
		return false;
	while (nl > ns) {
		long_end = cfg->layers[long_end].parent;
		nl--;
	}
	for (; short_end != -1; short_end = cfg->layers[short_end].parent, long_end = cfg->layers[long_end].parent)
		if (strcmp(layer_identity(c, short_end), layer_identity(c, long_end)) != 0)
			return false;
	return true;
}

int cache_keep_min(struct cache *c)
{
	struct cache_config *cfg = c->config;
	int rc = cache_normalize(c, NULL); /* no explicit chains past this point */
	if (rc)
		return rc;
	cfg = c->config;
	unsigned char *is_input = calloc(cfg->n_records + 1, 1);
	int *final_ends = malloc((cfg->n_records + 1) * sizeof(int));
	size_t n_final = 0;
	if (!is_input || !final_ends) {
		free(is_input);
		free(final_ends);
		return error_oom();
	}
	for (size_t i = 0; i < cfg->n_records; i++)
		for (size_t s = 0; s < cfg->records[i].n_inputs; s++)
			for (size_t k = 0; k < cfg->records[i].inputs[s].n_alts; k++)
				is_input[cfg->records[i].inputs[s].alts[k].link] = 1;
	for (size_t i = 0; i < cfg->n_records; i++)
		if (!is_input[i])
			for (size_t k = 0; k < cfg->records[i].n_results; k++)
				final_ends[n_final++] = cfg->records[i].results[k].layer;
	for (size_t i = 0; i < cfg->n_records; i++) {
		struct cache_record *r = &cfg->records[i];
		size_t kept = 0;
		for (size_t k = 0; k < r->n_results; k++) {
			bool keep = !is_input[i];
			for (size_t f = 0; f < n_final && !keep; f++)
				keep = chain_is_prefix(c, r->results[k].layer, final_ends[f]);
			if (keep)
				r->results[kept++] = r->results[k];
		}
		r->n_results = kept;
	}
	free(is_input);
	free(final_ends);
	return cache_normalize(c, NULL);
}

/* ---- re-encoded blobs --------------------------------------------------- */

int cache_replace_blob(struct cache *c, const char *from, const struct descriptor *to)
{
	int rc;
	if (strcmp(from, to->digest) == 0) {
		/* The same bytes under a new description (an eStargz blob typed
		 * as plain gzip, converted to the very same eStargz blob): the
		 * new descriptor wins. */
		struct descriptor *d = cache_blob_mut(c, from), copy;
		if (!d)
			return cache_add_blob(c, to);
		if ((rc = descriptor_copy(&copy, to)))
			return rc;
		descriptor_free(d);
		*d = copy;
		return 0;
	}
	if ((rc = cache_add_blob(c, to)))
		return rc;
	for (size_t i = 0; i < c->config->n_layers; i++) {
		struct cache_layer *l = &c->config->layers[i];
		if (strcmp(l->blob, from) == 0) {
			char *blob = strdup(to->digest);
			CHECK_ALLOC(blob);
			free(l->blob);
			l->blob = blob;
		}
	}
	return 0;
}
