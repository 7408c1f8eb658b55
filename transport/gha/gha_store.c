#include "transport/gha/gha_store.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/array_grow.h"
#include "core/util/buffer.h"
#include "core/util/error.h"

#define PER_PAGE 100

struct gha_entry {
	long long id;
	char *key;
	int64_t size;
	struct timestamp modified; /* the later of created_at and last_accessed_at */
	/* index entries: */
	char *scope; /* the scope= part; NULL for other entries */
	long n;      /* the #n */
	bool sig;
};

struct gha_listing {
	struct gha_entry *e;
	size_t n, cap;
};

static void listing_free(struct gha_listing *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->e[i].key);
		free(l->e[i].scope);
	}
	free(l->e);
	memset(l, 0, sizeof(*l));
}

static int need_rest(struct gha_config *cfg, const char *display)
{
	if (!cfg->ghtoken || !cfg->repository)
		return error_set(ERR_USAGE,
				 "%s: ls, du, rm and prune use GitHub's REST API for caches: give ghtoken= (a token "
				 "with actions:write) and repository=OWNER/NAME",
				 display);
	return 0;
}

static int rest(struct transport *t, const char *method, const char *path, struct http_response *resp)
{
	struct gha_config *cfg;
	struct http_client *http;
	struct buffer url = BUFFER_INIT, auth = BUFFER_INIT;
	int rc = gha_store_access(t, &cfg, &http);
	if (rc || (rc = need_rest(cfg, t->display)))
		return rc;
	if ((rc = buffer_appendf(&url, "%s/repos/%s%s", cfg->api_url, cfg->repository, path)) ||
	    (rc = buffer_appendf(&auth, "Authorization: Bearer %s", cfg->ghtoken)))
		goto out;
	const char *headers[] = {"Accept: application/vnd.github+json", auth.data, "X-GitHub-Api-Version: 2022-11-28",
				 NULL};
	struct http_request req = {.method = method, .url = url.data, .headers = headers, .capture_limit = 8u << 20};
	rc = http_do(http, &req, resp);
out:
	if (auth.data)
		memset(auth.data, 0, auth.len);
	buffer_free(&auth);
	buffer_free(&url);
	return rc;
}

/* index-<scope>-1-<h8>[-sig]#<n> of this ref's <h8>. */
static void parse_index_key(struct gha_entry *e, const char *h8_suffix)
{
	const char *hash = strrchr(e->key, '#');
	if (strncmp(e->key, "index-", 6) != 0 || !hash)
		return;
	size_t base = (size_t)(hash - e->key), tail = strlen(h8_suffix);
	e->sig = base > 4 && strncmp(hash - 4, "-sig", 4) == 0;
	if (e->sig)
		base -= 4;
	if (base < 6 + tail || strncmp(e->key + base - tail, h8_suffix, tail) != 0)
		return;
	char *end;
	e->n = strtol(hash + 1, &end, 10);
	if (*end || end == hash + 1)
		return;
	e->scope = strndup(e->key + 6, base - tail - 6);
}

static int take_page(struct gha_listing *l, const char *json, const char *h8_suffix, double *total)
{
	cJSON *j = cJSON_Parse(json);
	const cJSON *count = cJSON_GetObjectItem(j, "total_count"), *list = cJSON_GetObjectItem(j, "actions_caches"), *it;
	int rc = cJSON_IsNumber(count) && cJSON_IsArray(list)
			 ? 0
			 : error_set(ERR_FAILURE, "GitHub cache listing: no total_count and actions_caches in the answer");
	const cJSON *items = rc ? NULL : list;
	cJSON_ArrayForEach(it, items)
	{
		const cJSON *id = cJSON_GetObjectItem(it, "id"), *key = cJSON_GetObjectItem(it, "key");
		const cJSON *size = cJSON_GetObjectItem(it, "size_in_bytes");
		const cJSON *v = cJSON_GetObjectItem(it, "version");
		if (!cJSON_IsNumber(id) || !cJSON_IsString(key) || (cJSON_IsString(v) && strcmp(v->valuestring, GHA_CACHE_VERSION)))
			continue; /* not BuildKit's */
		if ((rc = ARRAY_RESERVE(l->e, l->cap, l->n + 1)))
			break;
		struct gha_entry *e = &l->e[l->n];
		memset(e, 0, sizeof(*e));
		if (!(e->key = strdup(key->valuestring))) {
			rc = error_oom();
			break;
		}
		l->n++;
		e->id = (long long)id->valuedouble;
		e->size = cJSON_IsNumber(size) ? (int64_t)size->valuedouble : 0;
		const char *times[] = {"created_at", "last_accessed_at"};
		for (size_t k = 0; k < 2; k++) {
			const cJSON *tv = cJSON_GetObjectItem(it, times[k]);
			struct timestamp ts;
			if (cJSON_IsString(tv) && timestamp_parse(&ts, tv->valuestring) == 0) {
				if (timestamp_compare(&ts, &e->modified) > 0)
					e->modified = ts;
			} else {
				error_clear();
			}
		}
		parse_index_key(e, h8_suffix);
	}
	if (!rc)
		*total = count->valuedouble;
	cJSON_Delete(j);
	return rc;
}

/* Every BuildKit entry of the token's write ref. */
static int list_ref(struct transport *t, struct gha_listing *out)
{
	struct gha_config *cfg;
	struct http_client *http;
	struct buffer path = BUFFER_INIT, h8 = BUFFER_INIT;
	double total = 0;
	memset(out, 0, sizeof(*out));
	int rc = gha_store_access(t, &cfg, &http);
	if (rc)
		return rc;
	const char *ref = runtime_token_write_scope(&cfg->claims);
	rc = gha_index_key(&h8, "", ref); /* "index--1-<h8>": its tail is this ref's */
	for (int page = 1; !rc; page++) {
		struct http_response resp;
		buffer_reset(&path);
		if ((rc = buffer_appendf(&path, "/actions/caches?page=%d&per_page=%d&ref=", page, PER_PAGE)) ||
		    (rc = http_escape(&path, ref, false)) || (rc = rest(t, "GET", path.data, &resp)))
			break;
		if (resp.status != 200)
			rc = error_set(ERR_FAILURE, "GitHub cache listing of %s: HTTP %ld", cfg->repository, resp.status);
		else
			rc = take_page(out, resp.body.data ? resp.body.data : "{}", h8.data + strlen("index-"), &total);
		http_response_free(&resp);
		if (rc || total <= (double)page * PER_PAGE)
			break;
	}
	buffer_free(&path);
	buffer_free(&h8);
	if (rc)
		listing_free(out);
	return rc;
}

/* The newest #n of each scope. */
static long newest_of(const struct gha_listing *l, const char *scope)
{
	long n = -1;
	for (size_t i = 0; i < l->n; i++)
		if (l->e[i].scope && !l->e[i].sig && strcmp(l->e[i].scope, scope) == 0 && l->e[i].n > n)
			n = l->e[i].n;
	return n;
}

static int select_scope(struct transport *t, const char *name)
{
	struct gha_config *cfg;
	struct http_client *http;
	int rc = gha_store_access(t, &cfg, &http);
	if (rc)
		return rc;
	char *copy = strdup(name);
	CHECK_ALLOC(copy);
	free(cfg->scope);
	cfg->scope = copy;
	return 0;
}

static int gha_store_list(struct transport *t, struct store_entry **out, size_t *n)
{
	struct gha_listing l;
	size_t kept = 0;
	*out = NULL;
	*n = 0;
	int rc = list_ref(t, &l);
	if (rc)
		return rc; /* list_ref freed l */
	struct store_entry *e = calloc(l.n + 1, sizeof(*e));
	if (!e)
		rc = error_oom();
	for (size_t i = 0; !rc && i < l.n; i++) {
		const struct gha_entry *g = &l.e[i];
		struct cache *c = NULL;
		if (!g->scope || g->sig || g->n != newest_of(&l, g->scope))
			continue;
		if ((rc = select_scope(t, g->scope)) || !(e[kept].name = strdup(g->scope))) {
			rc = rc ? rc : error_oom();
			break;
		}
		e[kept].size = g->size;
		e[kept].written = g->modified;
		e[kept].is_cache = true;
		if ((rc = gha_read_write_scope(t, &c)) == 0)
			memcpy(e[kept].digest, c->source_config.digest, DIGEST_BUF);
		cache_free(c);
		if (rc == ERR_NOT_FOUND) /* not readable (yet): listed, marked as nothing */
			rc = 0;
		error_clear();
		kept++;
	}
	listing_free(&l);
	if (rc) {
		store_entries_free(e, kept);
		return rc;
	}
	*out = e;
	*n = kept;
	return 0;
}

static const char *gha_store_selected(struct transport *t)
{
	struct gha_config *cfg;
	struct http_client *http;
	return gha_store_access(t, &cfg, &http) ? "buildkit" : cfg->scope;
}

static int gha_store_mark(struct transport *t, const struct store_entry *e, struct strmap *marks)
{
	struct cache *c = NULL;
	int rc = select_scope(t, e->name);
	if (rc)
		return rc;
	if ((rc = gha_read_write_scope(t, &c)) == ERR_NOT_FOUND) {
		error_clear();
		return 0;
	}
	if (!rc)
		rc = store_mark_cache(marks, c);
	cache_free(c);
	return rc;
}

static int delete_entry(struct transport *t, long long id)
{
	struct http_response resp;
	char path[64];
	snprintf(path, sizeof(path), "/actions/caches/%lld", id);
	int rc = rest(t, "DELETE", path, &resp);
	if (rc)
		return rc;
	if (resp.status != 204 && resp.status != 200 && resp.status != 404)
		rc = error_set(ERR_FAILURE, "GitHub: DELETE cache entry %lld: HTTP %ld (the token needs actions:write)",
			       id, resp.status);
	http_response_free(&resp);
	return rc;
}

/* Every index of the scope up to the newest seen, if that still holds e's document. */
static int gha_store_remove(struct transport *t, const struct store_entry *e)
{
	struct gha_listing l;
	struct cache *c = NULL;
	int rc = select_scope(t, e->name);
	if (rc)
		return rc;
	rc = gha_read_write_scope(t, &c);
	bool rewritten = !rc && strcmp(c->source_config.digest, e->digest) != 0;
	cache_free(c);
	if (rc)
		return rc;
	if (rewritten)
		return error_set(ERR_NOT_FOUND, "gha cache \"%s\" was written again meanwhile", e->name);
	if ((rc = list_ref(t, &l)))
		return rc;
	long newest = newest_of(&l, e->name);
	for (size_t i = 0; !rc && i < l.n; i++)
		if (l.e[i].scope && strcmp(l.e[i].scope, e->name) == 0 && l.e[i].n <= newest)
			rc = delete_entry(t, l.e[i].id);
	listing_free(&l);
	return rc;
}

/* Blob entries, and superseded indexes as leftovers ("<id> <key>"). */
static int gha_store_list_blobs(struct transport *t, struct store_blob **out, size_t *n)
{
	struct gha_listing l;
	size_t kept = 0;
	*out = NULL;
	*n = 0;
	int rc = list_ref(t, &l);
	if (rc)
		return rc; /* list_ref freed l */
	struct store_blob *b = calloc(l.n + 1, sizeof(*b));
	if (!b)
		rc = error_oom();
	for (size_t i = 0; !rc && i < l.n; i++) {
		const struct gha_entry *g = &l.e[i];
		bool blob = strncmp(g->key, GHA_BLOB_KEY_PREFIX, strlen(GHA_BLOB_KEY_PREFIX)) == 0 &&
			    digest_is_valid(g->key + strlen(GHA_BLOB_KEY_PREFIX)) == 0;
		bool superseded = g->scope && g->n < newest_of(&l, g->scope);
		if (!blob && !superseded)
			continue;
		struct store_blob *x = &b[kept];
		if (blob)
			snprintf(x->digest, sizeof(x->digest), "%s", g->key + strlen(GHA_BLOB_KEY_PREFIX));
		x->size = g->size;
		x->modified = g->modified;
		size_t len = strlen(g->key) + 32;
		if (!(x->id = malloc(len))) {
			rc = error_oom();
			break;
		}
		snprintf(x->id, len, "%lld %s", (long long)g->id, g->key);
		kept++;
	}
	listing_free(&l);
	if (rc) {
		store_blobs_free(b, kept);
		return rc;
	}
	*out = b;
	*n = kept;
	return 0;
}

/* Listed again right before: an entry read since the first listing
 * (last_accessed_at) is spared. */
static int gha_store_delete_blobs(struct transport *t, const struct store_blob *b, size_t n,
				  const struct timestamp *spare_after, size_t *deleted, int64_t *bytes)
{
	struct store_blob *now = NULL;
	size_t n_now = 0;
	*deleted = 0;
	*bytes = 0;
	int rc = gha_store_list_blobs(t, &now, &n_now);
	for (size_t i = 0; !rc && i < n; i++) {
		bool fresh = false, present = false;
		for (size_t k = 0; k < n_now; k++)
			if (strcmp(now[k].id, b[i].id) == 0) {
				present = true;
				fresh = timestamp_compare(&now[k].modified, spare_after) > 0;
			}
		if (!present || fresh)
			continue;
		if (!(rc = delete_entry(t, strtoll(b[i].id, NULL, 10)))) {
			(*deleted)++;
			*bytes += b[i].size;
		}
	}
	store_blobs_free(now, n_now);
	return rc;
}

static int gha_store_usage(struct transport *t, int64_t *bytes, int64_t *entries)
{
	struct http_response resp;
	int rc = rest(t, "GET", "/actions/cache/usage", &resp);
	if (rc)
		return rc;
	cJSON *j = resp.status == 200 ? cJSON_Parse(resp.body.data ? resp.body.data : "") : NULL;
	const cJSON *size = cJSON_GetObjectItem(j, "active_caches_size_in_bytes");
	const cJSON *count = cJSON_GetObjectItem(j, "active_caches_count");
	if (!cJSON_IsNumber(size) || !cJSON_IsNumber(count))
		rc = error_set(ERR_FAILURE, "GitHub cache usage: HTTP %ld without the usage figures", resp.status);
	else {
		*bytes = (int64_t)size->valuedouble;
		*entries = (int64_t)count->valuedouble;
	}
	cJSON_Delete(j);
	http_response_free(&resp);
	return rc;
}

const struct store_ops gha_store_ops = {
	.list = gha_store_list,
	.selected = gha_store_selected,
	.select = select_scope,
	.mark = gha_store_mark,
	.remove = gha_store_remove,
	.list_blobs = gha_store_list_blobs,
	.delete_blobs = gha_store_delete_blobs,
	.usage = gha_store_usage,
	.blob_fate = "deleted",
};
