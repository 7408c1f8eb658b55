#include "transport/gha/gha_listing.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/buffer.h"
#include "core/util/error.h"
#include "core/util/json_number.h"

#define PER_PAGE 100

static int one_page(struct strmap *out, struct http_client *http, const char *url, const char *auth,
		    const char *version, double *total)
{
	const char *headers[] = {"Accept: application/vnd.github+json", auth, "X-GitHub-Api-Version: 2022-11-28",
				 NULL};
	struct http_request req = {.method = "GET", .url = url, .headers = headers, .capture_limit = 8u << 20};
	struct http_response resp;
	cJSON *j = NULL;
	int rc = http_do(http, &req, &resp);
	if (rc)
		goto out;
	if (resp.status != 200) {
		rc = error_set(ERR_FAILURE, "GitHub cache listing: HTTP %ld", resp.status);
		goto out;
	}
	j = cJSON_Parse(resp.body.data ? resp.body.data : "");
	const cJSON *count = cJSON_GetObjectItem(j, "total_count"), *list = cJSON_GetObjectItem(j, "actions_caches");
	if (!cJSON_IsNumber(count) || !cJSON_IsArray(list)) {
		rc = error_set(ERR_FAILURE, "GitHub cache listing: the answer has no total_count and actions_caches");
		goto out;
	}
	const cJSON *e;
	cJSON_ArrayForEach(e, list) {
		const cJSON *key = cJSON_GetObjectItem(e, "key"), *v = cJSON_GetObjectItem(e, "version");
		int64_t size;
		if (!cJSON_IsString(key) || !json_integer(cJSON_GetObjectItem(e, "size_in_bytes"), 0, JSON_EXACT_MAX, &size))
			continue;
		if (cJSON_IsString(v) && strcmp(v->valuestring, version) != 0)
			continue;
		if ((rc = strmap_put(out, key->valuestring, (size_t)size)))
			goto out;
	}
	*total = count->valuedouble;
out:
	cJSON_Delete(j);
	http_response_free(&resp);
	return rc;
}

int gha_list_entries(struct strmap *out, struct http_client *http, const char *api_url, const char *repository,
		     const char *ghtoken, const char *ref, const char *prefix, const char *version,
		     unsigned *requests)
{
	struct buffer url = BUFFER_INIT, auth = BUFFER_INIT;
	int rc = buffer_appendf(&auth, "Authorization: Bearer %s", ghtoken);
	double total = 0;
	/* Parameters sorted by name, as BuildKit sends them. */
	for (int page = 1; !rc; page++) {
		buffer_reset(&url);
		if ((rc = buffer_appendf(&url, "%s/repos/%s/actions/caches?key=", api_url, repository)) ||
		    (rc = http_escape(&url, prefix, false)) ||
		    (rc = buffer_appendf(&url, "&page=%d&per_page=%d&ref=", page, PER_PAGE)) ||
		    (rc = http_escape(&url, ref, false)))
			break;
		rc = one_page(out, http, url.data, auth.data, version, &total);
		(*requests)++;
		if (rc || total <= (double)page * PER_PAGE)
			break;
	}
	if (auth.data)
		memset(auth.data, 0, auth.len);
	buffer_free(&auth);
	buffer_free(&url);
	return rc;
}
