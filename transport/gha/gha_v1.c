/* GitHub Actions cache API v1: REST under <url>/_apis/artifactcache/.
 * Lookup GET cache?keys=&version=, reserve POST caches, upload PATCH
 * caches/<id> in chunks with Content-Range, commit POST caches/<id>. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/error.h"
#include "core/util/json_out.h"
#include "core/util/parallel.h"
#include "core/util/json_number.h"
#include "transport/gha/gha_config.h"
#include "transport/gha/gha_service.h"

#define ACCEPT "Accept: application/json;api-version=6.0-preview.1"
#define CHUNK_WORKERS 4 /* PATCHes of one entry in flight, as BuildKit */

static int v1_lookup(struct gha_service *s, const char *const *keys, size_t n, struct gha_hit *hit)
{
	struct buffer url = BUFFER_INIT, joined = BUFFER_INIT;
	const char *headers[] = {s->auth, ACCEPT, NULL};
	struct http_response resp;
	memset(hit, 0, sizeof(*hit));
	for (size_t i = 0; i < n; i++)
		if ((i && buffer_append_str(&joined, ",")) || buffer_append_str(&joined, keys[i]))
			goto oom;
	if (buffer_appendf(&url, "%scache?keys=", s->base) || http_escape(&url, joined.data, false) ||
	    buffer_appendf(&url, "&version=%s", GHA_CACHE_VERSION))
		goto oom;
	struct http_request req = {.method = "GET", .url = url.data, .headers = headers};
	int rc = http_do(s->http, &req, &resp);
	if (rc)
		goto out;
	if (resp.status == 204) {
		rc = ERR_NOT_FOUND;
	} else if (resp.status != 200) {
		rc = gha_answer_error(s, "cache lookup", &resp);
	} else {
		cJSON *j = cJSON_Parse(resp.body.data ? resp.body.data : "");
		const cJSON *key = cJSON_GetObjectItem(j, "cacheKey");
		const cJSON *loc = cJSON_GetObjectItem(j, "archiveLocation");
		if (!cJSON_IsObject(j))
			rc = error_set(ERR_FAILURE, "gha v1 cache lookup: the answer is not JSON");
		else if (!cJSON_IsString(key) || !*key->valuestring)
			rc = ERR_NOT_FOUND;
		else if (!cJSON_IsString(loc) || !*loc->valuestring)
			rc = error_set(ERR_FAILURE, "gha v1 cache lookup: entry %s has no archiveLocation", key->valuestring);
		else if (!(hit->key = strdup(key->valuestring)) || !(hit->url = strdup(loc->valuestring)))
			rc = error_oom();
		cJSON_Delete(j);
	}
out:
	if (rc == ERR_NOT_FOUND)
		error_set(ERR_NOT_FOUND, "no gha entry %s", keys[0]);
	if (rc)
		gha_hit_free(hit);
	http_response_free(&resp);
	buffer_free(&url);
	buffer_free(&joined);
	return rc;
oom:
	buffer_free(&url);
	buffer_free(&joined);
	return error_oom();
}

/* POST caches: the new entry's id, or *existed. */
static int reserve(struct gha_service *s, const char *key, long long *id, bool *existed)
{
	struct buffer url = BUFFER_INIT, body = BUFFER_INIT;
	struct json_out j;
	struct http_response resp;
	const char *headers[] = {s->auth, ACCEPT, "Content-Type: application/json", NULL};
	*existed = false;
	json_out_init(&j, &body);
	json_object_begin(&j);
	json_member_string(&j, "key", key);
	json_member_string(&j, "version", GHA_CACHE_VERSION);
	json_object_end(&j);
	if (json_out_status(&j) || buffer_appendf(&url, "%scaches", s->base)) {
		buffer_free(&url);
		buffer_free(&body);
		return error_oom();
	}
	struct http_request req = {.method = "POST", .url = url.data, .headers = headers, .body = body.data,
				   .body_len = body.len};
	entry_pacer_acquire(s->pacer, NULL);
	int rc = http_do(s->http, &req, &resp);
	bool created = !rc && resp.status / 100 == 2;
	entry_pacer_release(s->pacer, created);
	if (!rc && !created) {
		if (gha_answer_already_exists(&resp))
			*existed = true;
		else
			rc = gha_answer_error(s, "reserve", &resp);
	} else if (created) {
		cJSON *a = cJSON_Parse(resp.body.data ? resp.body.data : "");
		const cJSON *v = cJSON_GetObjectItem(a, "cacheId"); /* case-insensitive, as Go */
		int64_t n = 0;
		*id = json_integer(v, 1, JSON_EXACT_MAX, &n) ? (long long)n : 0;
		if (*id <= 0)
			rc = error_set(ERR_FAILURE, "gha v1 reserve %s: the answer has no cache id", key);
		cJSON_Delete(a);
	}
	http_response_free(&resp);
	buffer_free(&url);
	buffer_free(&body);
	return rc;
}

struct chunked_upload {
	struct gha_service *s;
	const char *url;
	const struct byte_range *body;
};

static int upload_chunk(void *ctx, size_t index)
{
	struct chunked_upload *u = ctx;
	struct gha_service *s = u->s;
	int64_t first = (int64_t)index * s->part_size;
	struct byte_range part = byte_range_sub(u->body, first,
						 u->body->length - first < s->part_size ? u->body->length - first : s->part_size);
	char range[96];
	snprintf(range, sizeof(range), "Content-Range: bytes %lld-%lld/*", (long long)first,
		 (long long)(first + part.length - 1));
	const char *headers[] = {s->auth, ACCEPT, "Content-Type: application/octet-stream", range, NULL};
	struct http_request req = {.method = "PATCH", .url = u->url, .headers = headers,
				   .body_open = byte_range_open, .body_ctx = &part, .body_size = part.length};
	struct http_response resp;
	int rc = http_do(s->http, &req, &resp);
	if (!rc && resp.status / 100 != 2)
		rc = gha_answer_error(s, "upload chunk", &resp);
	http_response_free(&resp);
	return rc;
}

static int commit(struct gha_service *s, const char *url, int64_t size)
{
	char body[64];
	const char *headers[] = {s->auth, ACCEPT, "Content-Type: application/json", NULL};
	snprintf(body, sizeof(body), "{\"size\":%lld}", (long long)size);
	struct http_request req = {.method = "POST", .url = url, .headers = headers, .body = body,
				   .body_len = strlen(body)};
	struct http_response resp;
	int rc = http_do(s->http, &req, &resp);
	if (!rc && resp.status / 100 != 2)
		rc = gha_answer_error(s, "commit", &resp);
	http_response_free(&resp);
	return rc;
}

static int v1_save(struct gha_service *s, const char *key, const struct byte_range *body, bool *existed)
{
	long long id = 0;
	struct buffer url = BUFFER_INIT;
	int rc = reserve(s, key, &id, existed);
	if (rc || *existed)
		return rc;
	if (buffer_appendf(&url, "%scaches/%lld", s->base, id))
		return error_oom();
	/* A zero-length entry has no chunk at all, only the commit. */
	size_t chunks = (size_t)((body->length + s->part_size - 1) / s->part_size);
	struct chunked_upload u = {s, url.data, body};
	if ((rc = parallel_for(chunks, CHUNK_WORKERS, false, upload_chunk, &u)) ||
	    (rc = commit(s, url.data, body->length))) {
		buffer_free(&url);
		return error_wrap(rc, "save %s", key);
	}
	buffer_free(&url);
	return 0;
}

static int v1_open(struct gha_service *s, struct gha_hit *hit, struct byte_source **out)
{
	long status;
	/* archiveLocation is pre-authenticated: no Authorization goes there. */
	int rc = gha_download(s, hit->url, NULL, out, &status);
	if (!rc && !*out) {
		char url[512];
		http_redact_url(url, sizeof(url), hit->url);
		rc = error_set(status == 404 ? ERR_NOT_FOUND : ERR_FAILURE, "gha v1 download of %s from %s: HTTP %ld",
			       hit->key, url, status);
	}
	return rc;
}

static void v1_free(struct gha_service *s)
{
	gha_service_clear(s);
	free(s);
}

static const struct gha_service_ops v1_ops = {
	.lookup = v1_lookup,
	.save = v1_save,
	.open = v1_open,
	.free = v1_free,
};

int gha_v1_new(struct gha_service **out, const struct gha_service_config *cfg)
{
	struct gha_service *s = calloc(1, sizeof(*s));
	if (!s || gha_service_init(s, &v1_ops, cfg, "/_apis/artifactcache/", "gha v1")) {
		if (s)
			v1_free(s);
		return error_oom();
	}
	*out = s;
	return 0;
}
