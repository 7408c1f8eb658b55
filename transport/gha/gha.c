/* type=gha: the GitHub Actions cache service, API v1 or v2, with BuildKit's
 * entries -- one immutable entry per blob (buildkit-blob-1-<digest>) and
 * the cache config with per-layer annotations as the index entry
 * index-<scope>-1-<h8>#<n>, a new #n for every export.
 *
 * Blobs are spooled to an unlinked temporary file and uploaded at commit,
 * when their digest (and so their key) is known; the spool also lets every
 * chunk and retry be re-sent.  Existing entries are found with one REST
 * listing when ghtoken= and repository= allow it, else one lookup per blob.
 * New entries are paced under GitHub's 200 per minute. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/util/error.h"
#include "core/util/progress.h"
#include "formats/annotated_config.h"
#include "transport/azblob/azblob_upload.h"
#include "transport/gha/entry_pacer.h"
#include "transport/gha/gha_config.h"
#include "transport/gha/gha_listing.h"
#include "transport/gha/gha_service.h"
#include "transport/gha/gha_store.h"
#include "transport/spooled_writer.h"
#include "transport/transport.h"

#define INDEX_MAX (64u << 20)   /* an index larger than this is not a cache config */
#define INDEX_WAIT_LIMIT 15     /* seconds waiting on a taken #n, as BuildKit */
#define INDEX_WAIT_STEP 2

struct gha_transport {
	struct transport base;
	struct gha_config cfg;
	pthread_mutex_t lock;
	bool ready;
	int ready_rc;
	struct error_state ready_error;
	struct http_client *http;
	struct entry_pacer *pacer;
	struct gha_service *svc;
	bool listing_tried, listing_ok;
	struct strmap known; /* blob key -> size: entries known to exist */
};

/* The HTTP client, the entry pacer and the cache service. */
static int start_service(struct gha_transport *g)
{
	struct http_client_options ho = {
		.progress = g->base.progress,
		.what = g->cfg.api == 2 ? "gha cache (API v2)" : "gha cache (API v1)",
		.max_throttle_wait = g->cfg.timeout,
	};
	int rc = http_client_new(&g->http, &ho);
	if (rc || (rc = entry_pacer_new(&g->pacer, g->cfg.pace_entries, g->cfg.pace_window, g->base.progress)))
		return rc;
	struct gha_service_config sc = {
		.url = g->cfg.url,
		.token = g->cfg.token,
		.http = g->http,
		.pacer = g->pacer,
		.progress = g->base.progress,
		.part_size = g->cfg.part_size,
	};
	return g->cfg.api == 2 ? gha_v2_new(&g->svc, &sc) : gha_v1_new(&g->svc, &sc);
}

/* The HTTP client and the service are made on first use: the progress
 * display they report waits to is attached after open. */
static int ready(struct gha_transport *g)
{
	int rc;
	pthread_mutex_lock(&g->lock);
	if (g->ready) {
		rc = g->ready_rc ? error_restore(&g->ready_error) : 0;
		pthread_mutex_unlock(&g->lock);
		return rc;
	}
	rc = start_service(g);
	g->ready = true;
	g->ready_rc = rc;
	if (rc)
		error_save(&g->ready_error, rc);
	pthread_mutex_unlock(&g->lock);
	return rc;
}

/* ---- which blobs exist -------------------------------------------------- */

/* Under g->lock.  One listing of every token scope, the first time. */
static void list_once(struct gha_transport *g)
{
	if (g->listing_tried || !g->cfg.ghtoken || !g->cfg.repository)
		return;
	g->listing_tried = true;
	unsigned requests = 0;
	const struct runtime_token *t = &g->cfg.claims;
	int rc = 0;
	for (size_t i = 0; i < t->n_scopes && !rc; i++)
		rc = gha_list_entries(&g->known, g->http, g->cfg.api_url, g->cfg.repository, g->cfg.ghtoken,
				      t->scopes[i].scope, GHA_BLOB_KEY_PREFIX, GHA_CACHE_VERSION, &requests);
	if (rc) {
		/* As BuildKit: a failed listing falls back to per-blob lookups. */
		progress_note(g->base.progress, "gha: listing existing entries failed, looking blobs up one by one: %s",
			      error_message());
		return;
	}
	g->listing_ok = true;
	progress_note(g->base.progress, "gha: %zu existing blob entries listed in %u requests", g->known.count,
		      requests);
}

static void remember(struct gha_transport *g, const char *key, int64_t size)
{
	pthread_mutex_lock(&g->lock);
	if (strmap_put(&g->known, key, (size_t)size))
		error_clear(); /* only an optimisation: without it, a HEAD later */
	pthread_mutex_unlock(&g->lock);
}

/* The size of an entry's bytes, from a HEAD of its download URL. */
static int entry_size(struct gha_transport *g, const struct gha_hit *hit, int64_t *size)
{
	const char *headers[] = {"x-ms-version: " AZBLOB_API_VERSION, NULL};
	struct http_request req = {.method = "HEAD", .url = hit->url, .headers = g->cfg.api == 2 ? headers : NULL,
				   .follow_redirects = true};
	struct http_response resp;
	int rc = http_do(g->http, &req, &resp);
	if (rc)
		goto out;
	const char *len = http_response_header(&resp, "Content-Length");
	if (resp.status != 200 || !len)
		rc = error_set(ERR_NOT_FOUND, "gha entry %s cannot be measured (HTTP %ld)", hit->key, resp.status);
	else
		*size = strtoll(len, NULL, 10);
out:
	http_response_free(&resp);
	return rc;
}

static int gha_blob_stat(struct transport *t, const char *digest, int64_t *size)
{
	struct gha_transport *g = (struct gha_transport *)t;
	struct buffer key = BUFFER_INIT;
	struct gha_hit hit = {0};
	size_t known;
	int rc = ready(g);
	if (rc || (rc = gha_blob_key(&key, digest)))
		goto out;
	pthread_mutex_lock(&g->lock);
	list_once(g);
	bool listed = g->listing_ok, have = strmap_get(&g->known, key.data, &known);
	pthread_mutex_unlock(&g->lock);
	if (have) {
		*size = (int64_t)known;
		goto out;
	}
	if (listed) {
		rc = ERR_NOT_FOUND;
		goto out;
	}
	const char *keys[] = {key.data};
	if ((rc = g->svc->ops->lookup(g->svc, keys, 1, &hit)))
		goto out;
	/* Lookups match prefixes: <digest>-sig is another entry. */
	if (strcmp(hit.key, key.data) != 0) {
		rc = ERR_NOT_FOUND;
		goto out;
	}
	if (!(rc = entry_size(g, &hit, size)))
		remember(g, key.data, *size);
out:
	if (rc == ERR_NOT_FOUND)
		error_set(ERR_NOT_FOUND, "blob %s is not in %s", digest, t->display);
	gha_hit_free(&hit);
	buffer_free(&key);
	return rc;
}

static int gha_blob_open(struct transport *t, const struct descriptor *d, struct byte_source **out)
{
	struct gha_transport *g = (struct gha_transport *)t;
	struct buffer key = BUFFER_INIT;
	struct gha_hit hit = {0};
	int rc = ready(g);
	if (rc || (rc = gha_blob_key(&key, d->digest)))
		goto out;
	const char *keys[] = {key.data};
	if ((rc = g->svc->ops->lookup(g->svc, keys, 1, &hit)))
		goto out;
	/* Lookups match prefixes: <digest>-sig is another entry. */
	if (strcmp(hit.key, key.data) != 0) {
		rc = ERR_NOT_FOUND;
		goto out;
	}
	rc = g->svc->ops->open(g->svc, &hit, out);
out:
	if (rc == ERR_NOT_FOUND)
		error_set(ERR_NOT_FOUND, "blob %s is missing from %s (no entry %s)", d->digest, t->display, key.data);
	gha_hit_free(&hit);
	buffer_free(&key);
	return rc;
}

/* ---- writing blobs ------------------------------------------------------ */

/* Sends a spooled blob under its key, unless the scope holds it already. */
static int gha_upload(void *ctx, const char *expected, const char *digest, int64_t size, const struct spool *spool,
		      bool *existed)
{
	struct gha_transport *g = ctx;
	struct buffer key = BUFFER_INIT;
	size_t known;
	(void)expected; /* the key is the digest of what was written */
	int rc = gha_blob_key(&key, digest);
	if (rc)
		return rc;
	pthread_mutex_lock(&g->lock);
	*existed = strmap_get(&g->known, key.data, &known) && (int64_t)known == size;
	pthread_mutex_unlock(&g->lock);
	if (!*existed) {
		struct byte_range body = {spool_fd(spool), NULL, 0, size};
		rc = g->svc->ops->save(g->svc, key.data, &body, existed);
		if (!rc && *existed)
			progress_note(g->base.progress,
				      "gha: entry %s was reserved by another writer meanwhile; kept theirs", key.data);
		if (!rc)
			remember(g, key.data, size);
	}
	buffer_free(&key);
	return rc;
}

static int gha_blob_create(struct transport *t, const struct descriptor *expected, struct blob_writer **out)
{
	struct gha_transport *g = (struct gha_transport *)t;
	int rc = ready(g);
	return rc ? rc : spooled_writer_new(out, expected, "gha upload", gha_upload, g);
}

/* ---- the index ---------------------------------------------------------- */

static int read_all(struct byte_source *src, struct buffer *out, size_t max, const char *what)
{
	int rc;
	buffer_reset(out);
	for (;;) {
		if ((rc = buffer_reserve(out, 65536)))
			return rc;
		ssize_t n = source_read(src, out->data + out->len, 65536);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return 0;
		out->len += (size_t)n;
		out->data[out->len] = '\0';
		if (out->len > max)
			return error_set(ERR_FAILURE, "%s is larger than %zu bytes: not a cache index", what, max);
	}
}

/* The newest index of one token scope, or ERR_NOT_FOUND. */
static int read_scope(struct gha_transport *g, const char *scope, struct cache **out)
{
	struct buffer base = BUFFER_INIT, bytes = BUFFER_INIT;
	struct gha_hit hit = {0};
	struct byte_source *src = NULL;
	char what[512];
	int rc;
	if ((rc = gha_index_key(&base, g->cfg.scope, scope)) || (rc = buffer_append_str(&base, "#")))
		goto out;
	const char *keys[] = {base.data};
	if ((rc = g->svc->ops->lookup(g->svc, keys, 1, &hit)) || (rc = g->svc->ops->open(g->svc, &hit, &src)))
		goto out;
	snprintf(what, sizeof(what), "gha index %s", hit.key);
	rc = read_all(src, &bytes, INDEX_MAX, what);
	source_close(src);
	if (rc || (rc = annotated_config_load(out, bytes.data, bytes.len, what)))
		goto out;
	descriptor_init(&(*out)->source_config);
	(*out)->source_config.size = (int64_t)bytes.len;
	if ((rc = digest_of_bytes((*out)->source_config.digest, bytes.data, bytes.len)))
		goto out;
	progress_note(g->base.progress, "gha: read %s (scope %s, %zu bytes)", hit.key, scope, bytes.len);
out:
	gha_hit_free(&hit);
	buffer_free(&base);
	buffer_free(&bytes);
	return rc;
}

/* ERR_NOT_FOUND naming the index looked for. */
static int no_index(const struct gha_transport *g)
{
	const struct runtime_token *tok = &g->cfg.claims;
	struct buffer key = BUFFER_INIT;
	int rc = gha_index_key(&key, g->cfg.scope, runtime_token_write_scope(tok));
	if (rc) {
		buffer_free(&key);
		return rc;
	}
	rc = error_set(ERR_NOT_FOUND, "no gha cache in %s: no index %s#<n> (nor for the token's other %zu scopes)",
		       g->base.display, key.data, tok->n_scopes ? tok->n_scopes - 1 : 0);
	buffer_free(&key);
	return rc;
}

static int gha_read_cache(struct transport *t, struct cache **out)
{
	struct gha_transport *g = (struct gha_transport *)t;
	const struct runtime_token *tok = &g->cfg.claims;
	struct cache *merged = NULL;
	int rc = ready(g);
	if (rc)
		return rc;
	/* Every scope the token may read: a pull request reads its own and
	 * its base branch's caches. */
	for (size_t i = 0; i < tok->n_scopes; i++) {
		bool seen = false;
		for (size_t k = 0; k < i; k++)
			seen = seen || strcmp(tok->scopes[k].scope, tok->scopes[i].scope) == 0;
		struct cache *c = NULL;
		if (seen)
			continue;
		rc = read_scope(g, tok->scopes[i].scope, &c);
		if (rc == ERR_NOT_FOUND) {
			rc = 0;
			continue;
		}
		if (rc)
			break;
		if (!merged) {
			merged = c;
			continue;
		}
		rc = cache_merge(merged, c);
		cache_free(c);
		if (rc)
			break;
	}
	if (!rc && !merged)
		rc = no_index(g);
	if (rc) {
		cache_free(merged);
		return rc;
	}
	*out = merged;
	return 0;
}

/* BuildKit's mutable key: each export writes <base>#<n+1> after the newest
 * #n; a taken number means a concurrent writer (or a crashed one). */
static int save_index(struct gha_transport *g, const char *base, const struct byte_range *body, char **written)
{
	struct buffer prefix = BUFFER_INIT, key = BUFFER_INIT;
	int waited = 0, rc = buffer_appendf(&prefix, "%s#", base);
	const char *keys[] = {prefix.data};
	while (!rc) {
		struct gha_hit first = {0}, again = {0};
		long long n = 0;
		rc = g->svc->ops->lookup(g->svc, keys, 1, &first);
		if (!rc) {
			/* Asked twice: a changed answer means someone is writing now. */
			rc = g->svc->ops->lookup(g->svc, keys, 1, &again);
			bool moved = !rc && strcmp(first.key, again.key) != 0;
			const char *num = first.key + strlen(prefix.data);
			char *end;
			if (!rc && !moved && strncmp(first.key, prefix.data, strlen(prefix.data)) == 0) {
				n = strtoll(num, &end, 10);
				if (!*num || *end || n < 0)
					rc = error_set(ERR_FAILURE, "gha index %s has a corrupt number", first.key);
			}
			gha_hit_free(&first);
			gha_hit_free(&again);
			if (moved)
				continue;
		} else if (rc == ERR_NOT_FOUND) {
			rc = 0;
		}
		for (long long m = n + 1; !rc; m++) {
			bool existed;
			buffer_reset(&key);
			if ((rc = buffer_appendf(&key, "%s%lld", prefix.data, m)) ||
			    (rc = g->svc->ops->save(g->svc, key.data, body, &existed)))
				break;
			if (!existed) {
				*written = buffer_detach(&key, NULL);
				buffer_free(&prefix);
				return 0;
			}
			if (waited <= INDEX_WAIT_LIMIT) {
				progress_note(g->base.progress, "gha: index %s is taken; looking again in %ds", key.data,
					      INDEX_WAIT_STEP);
				sleep(INDEX_WAIT_STEP);
				waited += INDEX_WAIT_STEP;
				break; /* look up the newest again */
			}
		}
	}
	buffer_free(&prefix);
	buffer_free(&key);
	return rc;
}

static int gha_write_cache(struct transport *t, const struct cache *c, const struct export_form *form)
{
	struct gha_transport *g = (struct gha_transport *)t;
	struct buffer doc = BUFFER_INIT, base = BUFFER_INIT;
	char *written = NULL;
	(void)form;
	int rc;
	if ((rc = ready(g)) || (rc = annotated_config_build(&doc, c)) ||
	    (rc = gha_index_key(&base, g->cfg.scope, runtime_token_write_scope(&g->cfg.claims))))
		goto out;
	struct byte_range body = {-1, doc.data, 0, (int64_t)doc.len};
	if ((rc = save_index(g, base.data, &body, &written)))
		goto out;
	double paced = entry_pacer_total_wait(g->pacer);
	progress_note(t->progress, "gha: wrote index %s (%zu bytes, %zu blobs)", written, doc.len, c->n_blobs);
	if (paced > 0.05)
		progress_note(t->progress, "gha: pacing new entries waited %.1fs in all", paced);
out:
	free(written);
	buffer_free(&doc);
	buffer_free(&base);
	return rc;
}

/* ---- opening ------------------------------------------------------------ */

static void gha_free(struct transport *t)
{
	struct gha_transport *g = (struct gha_transport *)t;
	gha_service_free(g->svc);
	entry_pacer_free(g->pacer);
	http_client_free(g->http);
	strmap_free(&g->known);
	if (g->cfg.token)
		memset(g->cfg.token, 0, strlen(g->cfg.token));
	if (g->cfg.ghtoken)
		memset(g->cfg.ghtoken, 0, strlen(g->cfg.ghtoken));
	gha_config_free(&g->cfg);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

static const struct transport_ops gha_ops = {
	.blob_stat = gha_blob_stat,
	.blob_open = gha_blob_open,
	.blob_create = gha_blob_create,
	.read_cache = gha_read_cache,
	.write_cache = gha_write_cache,
	.free = gha_free,
	.store = &gha_store_ops,
};

static int gha_open(struct transport **out, struct cache_options *o, enum transport_direction dir)
{
	(void)dir;
	struct gha_transport *g = calloc(1, sizeof(*g));
	CHECK_ALLOC(g);
	pthread_mutex_init(&g->lock, NULL);
	int rc = gha_config_resolve(&g->cfg, o, (int64_t)time(NULL));
	if (rc || (rc = transport_init(&g->base, &gha_ops, o)) ||
	    (rc = transport_set_location(&g->base, "gha:%s#%s", g->cfg.url, g->cfg.scope))) {
		free(g->base.display);
		gha_free(&g->base);
		return rc;
	}
	*out = &g->base;
	return 0;
}

static const struct option_key gha_keys[] = {
	{.name = "scope", .directions = OPTION_BOTH},
	{.name = "url", .directions = OPTION_BOTH},
	{.name = "url_v2", .directions = OPTION_BOTH},
	{.name = "token", .directions = OPTION_BOTH, .secret = true},
	{.name = "version", .directions = OPTION_BOTH},
	{.name = "timeout", .directions = OPTION_BOTH},
	{.name = "repository", .directions = OPTION_BOTH},
	{.name = "ghtoken", .directions = OPTION_BOTH, .secret = true},
	{.name = NULL},
};

const struct transport_handler gha_transport_handler = {
	.type = "gha",
	.synopsis = "[,scope=S][,url=U][,token=T][,version=1|2]",
	.summary = "GitHub Actions cache (docs/gha.md)",
	.can_read = true,
	.can_write = true,
	.keys = gha_keys,
	.open = gha_open,
};

/* ---- for gha_store.c ----------------------------------------------------- */

int gha_store_access(struct transport *t, struct gha_config **cfg, struct http_client **http)
{
	struct gha_transport *g = (struct gha_transport *)t;
	int rc = ready(g);
	if (rc)
		return rc;
	*cfg = &g->cfg;
	*http = g->http;
	return 0;
}

int gha_read_write_scope(struct transport *t, struct cache **out)
{
	struct gha_transport *g = (struct gha_transport *)t;
	int rc = ready(g);
	return rc ? rc : read_scope(g, runtime_token_write_scope(&g->cfg.claims), out);
}
