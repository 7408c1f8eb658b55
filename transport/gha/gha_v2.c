/* GitHub Actions cache API v2: Twirp JSON calls under
 * <url>/twirp/github.actions.results.api.v1.CacheService/ that hand out
 * signed Azure Blob URLs; the bytes go to and come from those URLs. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/error.h"
#include "core/util/json_out.h"
#include "transport/azblob/azblob_upload.h"
#include "transport/gha/gha_config.h"
#include "transport/gha/gha_service.h"

/* One Twirp call: *answer is the parsed JSON of a 200; any other answer is
 * an error, or handed back in *failed for the caller to judge when given. */
static int twirp(struct gha_service *s, const char *method, const struct buffer *body, cJSON **answer,
		 struct http_response *failed)
{
	struct buffer url = BUFFER_INIT;
	const char *headers[] = {s->auth, "Content-Type: application/json", NULL};
	struct http_response resp;
	*answer = NULL;
	if (buffer_appendf(&url, "%s%s", s->base, method))
		return error_oom();
	struct http_request req = {.method = "POST", .url = url.data, .headers = headers, .body = body->data,
				   .body_len = body->len};
	int rc = http_do(s->http, &req, &resp);
	buffer_free(&url);
	if (rc)
		return rc;
	if (resp.status == 200) {
		*answer = cJSON_Parse(resp.body.data ? resp.body.data : "");
		if (!cJSON_IsObject(*answer)) {
			cJSON_Delete(*answer);
			*answer = NULL;
			rc = error_set(ERR_FAILURE, "gha v2 %s: the answer is not a JSON object", method);
		}
		http_response_free(&resp);
		return rc;
	}
	if (failed) {
		*failed = resp; /* the caller judges and frees it */
		return 0;
	}
	rc = gha_answer_error(s, method, &resp);
	http_response_free(&resp);
	return rc;
}

static bool ok_of(const cJSON *a)
{
	return cJSON_IsTrue(cJSON_GetObjectItem(a, "ok"));
}

static const char *text_of(const cJSON *a, const char *name)
{
	const cJSON *v = cJSON_GetObjectItem(a, name);
	return cJSON_IsString(v) && *v->valuestring ? v->valuestring : NULL;
}

static int key_body(struct buffer *out, const char *key, const char *const *restore, size_t n, int64_t size)
{
	struct json_out j;
	buffer_reset(out);
	json_out_init(&j, out);
	json_object_begin(&j);
	json_member_string(&j, "key", key);
	if (restore) {
		json_key(&j, "restore_keys");
		json_array_begin(&j);
		for (size_t i = 0; i < n; i++)
			json_string(&j, restore[i]);
		json_array_end(&j);
	}
	if (size >= 0)
		json_member_int(&j, "size_bytes", size);
	json_member_string(&j, "version", GHA_CACHE_VERSION);
	json_object_end(&j);
	return json_out_status(&j);
}

static int v2_lookup(struct gha_service *s, const char *const *keys, size_t n, struct gha_hit *hit)
{
	struct buffer body = BUFFER_INIT;
	cJSON *a = NULL;
	memset(hit, 0, sizeof(*hit));
	/* As BuildKit: the first key, and every key again as restore keys. */
	int rc = key_body(&body, keys[0], keys, n, -1);
	if (rc || (rc = twirp(s, "GetCacheEntryDownloadURL", &body, &a, NULL)))
		goto out;
	const char *url = text_of(a, "signed_download_url"), *key = text_of(a, "matched_key");
	if (!ok_of(a) || !url)
		rc = error_set(ERR_NOT_FOUND, "no gha entry %s", keys[0]);
	else if (!(hit->key = strdup(key ? key : keys[0])) || !(hit->url = strdup(url)))
		rc = error_oom();
out:
	if (rc)
		gha_hit_free(hit);
	cJSON_Delete(a);
	buffer_free(&body);
	return rc;
}

static int v2_save(struct gha_service *s, const char *key, const struct byte_range *blob, bool *existed)
{
	struct buffer body = BUFFER_INIT;
	struct http_response failed = {0};
	cJSON *a = NULL;
	*existed = false;
	int rc = key_body(&body, key, NULL, 0, -1);
	if (rc)
		return rc;
	entry_pacer_acquire(s->pacer, NULL);
	rc = twirp(s, "CreateCacheEntry", &body, &a, &failed);
	bool created = !rc && a && ok_of(a) && text_of(a, "signed_upload_url");
	entry_pacer_release(s->pacer, created);
	if (!rc && failed.status) {
		if (gha_answer_already_exists(&failed))
			*existed = true;
		else
			rc = gha_answer_error(s, "CreateCacheEntry", &failed);
	} else if (!rc && !created) {
		rc = error_set(ERR_FAILURE, "gha v2 CreateCacheEntry: the service did not accept the entry");
	}
	http_response_free(&failed);
	if (!rc && created)
		rc = azblob_upload(s->http, text_of(a, "signed_upload_url"), blob, s->part_size);
	cJSON_Delete(a);
	a = NULL;
	if (!rc && created && !(rc = key_body(&body, key, NULL, 0, blob->length)) &&
	    !(rc = twirp(s, "FinalizeCacheEntryUpload", &body, &a, NULL)) && !ok_of(a))
		rc = error_set(ERR_FAILURE, "gha v2 FinalizeCacheEntryUpload: the service did not accept the entry");
	cJSON_Delete(a);
	buffer_free(&body);
	return rc ? error_wrap(rc, "save %s", key) : 0;
}

static int v2_open(struct gha_service *s, struct gha_hit *hit, struct byte_source **out)
{
	const char *headers[] = {"x-ms-version: " AZBLOB_API_VERSION, NULL};
	long status = 0;
	int rc = 0;
	for (int attempt = 0; attempt < 2; attempt++) {
		if ((rc = gha_download(s, hit->url, headers, out, &status)) || *out)
			return rc;
		if ((status != 401 && status != 403) || attempt)
			break;
		/* A signed URL expires: ask for a fresh one, once. */
		struct gha_hit fresh;
		const char *keys[] = {hit->key};
		if ((rc = v2_lookup(s, keys, 1, &fresh)))
			return error_wrap(rc, "refreshing the download URL of %s", hit->key);
		gha_hit_free(hit);
		*hit = fresh;
	}
	char url[512];
	http_redact_url(url, sizeof(url), hit->url);
	return error_set(status == 404 ? ERR_NOT_FOUND : ERR_FAILURE, "gha v2 download of %s from %s: HTTP %ld",
			 hit->key, url, status);
}

static void v2_free(struct gha_service *s)
{
	gha_service_clear(s);
	free(s);
}

static const struct gha_service_ops v2_ops = {
	.lookup = v2_lookup,
	.save = v2_save,
	.open = v2_open,
	.free = v2_free,
};

int gha_v2_new(struct gha_service **out, const struct gha_service_config *cfg)
{
	struct gha_service *s = calloc(1, sizeof(*s));
	if (!s || gha_service_init(s, &v2_ops, cfg, "/twirp/github.actions.results.api.v1.CacheService/", "gha v2")) {
		if (s)
			v2_free(s);
		return error_oom();
	}
	*out = s;
	return 0;
}
