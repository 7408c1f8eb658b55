/* The inspect view: a cache, what its blobs measured, and its graph. */
#include <stdio.h>
#include <string.h>

#include "cli/inspect.h"
#include "core/util/error.h"

int inspect_view_init(struct inspect_view *v, const struct cache *c, const char *source, struct blob_facts *facts,
		      size_t n)
{
	memset(v, 0, sizeof(*v));
	v->cache = c;
	v->source = source;
	v->facts = facts;
	v->n_facts = n;
	for (size_t i = 0; i < n; i++) {
		v->total_size += facts[i].d->size;
		if (facts[i].uncompressed < 0 || v->total_uncompressed < 0)
			v->total_uncompressed = -1;
		else
			v->total_uncompressed += facts[i].uncompressed;
		int rc = strmap_put(&v->fact_index, facts[i].d->digest, i);
		if (rc)
			return rc;
	}
	return cache_graph_new(&v->graph, c->config);
}

void inspect_view_free(struct inspect_view *v)
{
	cache_graph_free(v->graph);
	strmap_free(&v->fact_index);
	memset(v, 0, sizeof(*v));
}

const struct blob_facts *inspect_blob(const struct inspect_view *v, const char *digest)
{
	size_t i;
	return strmap_get(&v->fact_index, digest, &i) ? &v->facts[i] : NULL;
}

const char *plain_text(char *out, const char *in, size_t max)
{
	size_t n = 0;
	for (; in && in[n] && n < max; n++) {
		char c = in[n];
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			     strchr(":._+-", c);
		out[n] = plain ? c : '?';
	}
	out[n] = '\0';
	return out;
}

const char *short_digest(const char *d, char *buf)
{
	return plain_text(buf, d, 19);
}

const char *short_hex(const char *d, char *buf)
{
	if (d && strncmp(d, "sha256:", 7) == 0)
		d += 7;
	return plain_text(buf, d, 12);
}

int64_t chain_size(const struct inspect_view *v, int node, int64_t *plain)
{
	const struct cache_config *cfg = v->cache->config;
	int64_t size = 0;
	*plain = 0;
	for (; node >= 0; node = cfg->layers[node].parent) {
		const struct blob_facts *f = inspect_blob(v, cfg->layers[node].blob);
		size += f ? f->d->size : 0;
		if (!f || f->uncompressed < 0 || *plain < 0)
			*plain = -1;
		else
			*plain += f->uncompressed;
	}
	return size;
}
