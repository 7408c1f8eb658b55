/* The sources of one command: each read, merged into one cache, and every
 * blob traced to the first source that has it. */
#include "transport/engine/source_set.h"

#include <string.h>

#include "core/util/error.h"

/* Remembers where each of c's blobs is read from; a blob two sources hold
 * comes from the first. */
static int record_origins(struct source_set *s, const struct cache *c, size_t source)
{
	for (size_t k = 0; k < c->n_blobs; k++) {
		size_t known;
		if (strmap_get(&s->origin, c->blobs[k].digest, &known))
			continue;
		int rc = strmap_put(&s->origin, c->blobs[k].digest, source);
		if (rc)
			return rc;
	}
	return 0;
}

/* Reads source i into the set; ERR_NOT_FOUND when it holds no cache. */
static int load_one(struct source_set *s, size_t i)
{
	struct transport *t = s->sources[i];
	struct cache *c = NULL;
	int rc = t->ops->read_cache(t, &c);
	if (!rc)
		rc = record_origins(s, c, i);
	if (rc || !s->merged) {
		if (!rc)
			s->merged = c;
		else
			cache_free(c);
		return rc;
	}
	rc = cache_merge(s->merged, c);
	cache_free(c);
	return rc ? error_wrap(rc, "merge %s", t->display) : 0;
}

int source_set_load(struct source_set *out, struct transport **sources, size_t n, struct progress *p)
{
	memset(out, 0, sizeof(*out));
	out->sources = sources;
	out->n_sources = n;
	size_t found = 0;
	for (size_t i = 0; i < n; i++) {
		int rc = load_one(out, i);
		if (rc == ERR_NOT_FOUND) {
			if (n > 1)
				progress_note(p, "%s", error_message());
			continue;
		}
		if (rc) {
			source_set_free(out);
			return rc;
		}
		found++;
	}
	if (!found) {
		source_set_free(out);
		if (n == 1)
			return ERR_NOT_FOUND; /* its own message says where and why */
		return error_set(ERR_NOT_FOUND, "no cache found at any of the %zu sources", n);
	}
	return 0;
}

void source_set_free(struct source_set *s)
{
	cache_free(s->merged);
	strmap_free(&s->origin);
	memset(s, 0, sizeof(*s));
}

struct transport *source_set_origin(const struct source_set *s, const char *digest)
{
	size_t i;
	return strmap_get(&s->origin, digest, &i) ? s->sources[i] : NULL;
}

int source_set_open_blob(struct source_set *s, const struct descriptor *d, struct byte_source **out)
{
	struct transport *t = source_set_origin(s, d->digest);
	if (!t)
		return error_set(ERR_NOT_FOUND, "no source has blob %s", d->digest);
	return t->ops->blob_open(t, d, out);
}
