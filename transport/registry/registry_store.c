/* type=registry as a store: the repository's tags (GET /v2/<name>/tags/list,
 * page by page through its Link header) and their manifests.  A cache is
 * removed by deleting its manifest by digest (DELETE
 * /v2/<name>/manifests/<digest>); the registry's own garbage collector
 * then frees the blobs nothing references -- the distribution API cannot
 * list or delete blobs itself, so prune reports the bytes that collection
 * will free. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/model/media_type.h"
#include "core/util/array_grow.h"
#include "core/util/error.h"
#include "formats/cache_manifest.h"
#include "transport/http/http.h"
#include "transport/registry/registry.h"
#include "transport/registry/registry_client.h"

#define TAGS_ANSWER_MAX (8u << 20)

/* A call on the repository's API (api_path after "/v2/<repository>"), with
 * `action` ("delete") added to the token's scope when not NULL; *resp is
 * the answer whatever its status, *url (to free) what was asked. */
static int api_call(struct transport *t, const char *method, const char *api_path, const char *action,
		    size_t capture_limit, struct http_response *resp, char **url)
{
	struct registry_transport *r = (struct registry_transport *)t;
	const char *headers[] = {"Accept: " MT_OCI_MANIFEST ", " MT_OCI_INDEX ", " MT_DOCKER_MANIFEST ", "
				 MT_DOCKER_LIST, NULL};
	char scope[800];
	int rc = registry_connect(r);
	if (rc)
		return rc;
	if (action) {
		snprintf(scope, sizeof(scope), "repository:%s:%s", r->ref.path, action);
		if ((rc = registry_auth_add_scope(r->auth, scope)))
			return rc;
	}
	*url = registry_url_join(r->api, api_path, "");
	CHECK_ALLOC(*url);
	struct http_request req = {.method = method, .url = *url, .headers = headers, .follow_redirects = true,
				   .capture_limit = capture_limit};
	rc = registry_call(r, &req, resp);
	if (rc) {
		free(*url);
		*url = NULL;
	}
	return rc;
}

static int select_tag(struct transport *t, const char *tag)
{
	struct registry_transport *r = (struct registry_transport *)t;
	char *copy = strdup(tag);
	CHECK_ALLOC(copy);
	free(r->ref.tag);
	r->ref.tag = copy;
	memset(r->ref.digest, 0, sizeof(r->ref.digest));
	reference_format(r->ref_text, sizeof(r->ref_text), &r->ref);
	return 0;
}

static int add_tags(const char *json, size_t len, char ***tags, size_t *n, size_t *cap)
{
	cJSON *doc = cJSON_ParseWithLength(json, len);
	const cJSON *list = doc ? cJSON_GetObjectItemCaseSensitive(doc, "tags") : NULL, *t;
	int rc = doc ? 0 : error_set(ERR_FAILURE, "the registry's tag list is not JSON");
	cJSON_ArrayForEach(t, list)
	{
		if (rc || !cJSON_IsString(t))
			continue;
		char **g = *tags;
		if (ARRAY_RESERVE(g, *cap, *n + 1) || !(g[*n] = strdup(t->valuestring))) {
			*tags = g;
			rc = error_oom();
			continue;
		}
		*tags = g;
		(*n)++;
	}
	cJSON_Delete(doc);
	return rc;
}

/* The next page's path from a Link header: </v2/name/tags/list?last=x&n=y>; rel="next". */
static char *next_page(const char *link)
{
	const char *lt = link ? strchr(link, '<') : NULL, *gt = lt ? strchr(lt, '>') : NULL;
	const char *q = lt && gt ? memchr(lt, '?', (size_t)(gt - lt)) : NULL;
	if (!q || !strstr(gt, "next"))
		return NULL;
	size_t n = (size_t)(gt - q);
	char *out = malloc(n + 16);
	if (out)
		snprintf(out, n + 16, "/tags/list%.*s", (int)n, q);
	return out;
}

static int list_tags(struct transport *t, char ***tags, size_t *n)
{
	char *path = strdup("/tags/list?n=1000"), *url = NULL;
	int rc = path ? 0 : error_oom();
	size_t cap = 0;
	*tags = NULL;
	*n = 0;
	while (!rc && path) {
		struct http_response resp;
		if ((rc = api_call(t, "GET", path, NULL, TAGS_ANSWER_MAX, &resp, &url)))
			break;
		free(path);
		path = NULL;
		if (resp.status == 404)
			rc = error_set(ERR_NOT_FOUND, "%s: the repository has no tags", t->display);
		else if (resp.status != 200)
			rc = registry_fail_answer(ERR_FAILURE, "GET", url, &resp);
		else {
			rc = add_tags(resp.body.data ? resp.body.data : "", resp.body.len, tags, n, &cap);
			path = next_page(http_response_header(&resp, "Link"));
		}
		http_response_free(&resp);
		free(url);
		url = NULL;
	}
	free(path);
	return rc;
}

static void tags_free(char **tags, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(tags[i]);
	free(tags);
}

static int registry_store_list(struct transport *t, struct store_entry **out, size_t *n)
{
	char **tags = NULL;
	size_t n_tags = 0, kept = 0;
	int rc = list_tags(t, &tags, &n_tags);
	struct store_entry *e = rc ? NULL : calloc(n_tags + 1, sizeof(*e));
	*out = NULL;
	*n = 0;
	if (!rc && !e)
		rc = error_oom();
	for (size_t i = 0; !rc && i < n_tags; i++) {
		struct buffer bytes = BUFFER_INIT;
		struct descriptor d;
		struct cache_root root;
		rc = registry_get_manifest(t, tags[i], REGISTRY_MANIFEST_MAX, &bytes, &d);
		if (rc == ERR_NOT_FOUND) { /* deleted since the listing */
			error_clear();
			rc = 0;
			buffer_free(&bytes);
			continue;
		}
		if (!rc) {
			e[kept].name = tags[i];
			tags[i] = NULL;
			memcpy(e[kept].digest, d.digest, DIGEST_BUF);
			e[kept].size = d.size;
			if (cache_manifest_parse(&root, bytes.data, bytes.len) == 0) {
				e[kept].is_cache = root.has_config;
				cache_root_free(&root);
			}
			error_clear();
			kept++;
			descriptor_free(&d);
		}
		buffer_free(&bytes);
	}
	tags_free(tags, n_tags);
	if (rc) {
		store_entries_free(e, kept);
		return rc;
	}
	*out = e;
	*n = kept;
	return 0;
}

static const char *registry_store_selected(struct transport *t)
{
	const char *tag = registry_ref_tag(t);
	return tag ? tag : "latest";
}

static bool is_manifest_type(const char *mt)
{
	return mt && (strcmp(mt, MT_OCI_MANIFEST) == 0 || strcmp(mt, MT_OCI_INDEX) == 0 ||
		      strcmp(mt, MT_DOCKER_MANIFEST) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0);
}

static int mark_manifest(struct transport *t, const char *digest, struct strmap *marks, int depth);

static int mark_list(struct transport *t, const cJSON *v, struct strmap *marks, int depth)
{
	const cJSON *d;
	int rc = 0;
	if (cJSON_IsObject(v)) {
		const cJSON *dg = cJSON_GetObjectItemCaseSensitive(v, "digest");
		const cJSON *sz = cJSON_GetObjectItemCaseSensitive(v, "size");
		const cJSON *mt = cJSON_GetObjectItemCaseSensitive(v, "mediaType");
		if (!cJSON_IsString(dg))
			return 0;
		if (is_manifest_type(cJSON_IsString(mt) ? mt->valuestring : NULL))
			return mark_manifest(t, dg->valuestring, marks, depth + 1);
		return strmap_put(marks, dg->valuestring, cJSON_IsNumber(sz) ? (size_t)sz->valuedouble : 0);
	}
	cJSON_ArrayForEach(d, v)
	{
		if ((rc = mark_list(t, d, marks, depth)))
			break;
	}
	return rc;
}

static int mark_manifest(struct transport *t, const char *digest, struct strmap *marks, int depth)
{
	struct buffer bytes = BUFFER_INIT;
	struct descriptor d;
	size_t seen;
	if (depth > 8 || strmap_get(marks, digest, &seen))
		return 0;
	int rc = registry_get_manifest(t, digest, REGISTRY_MANIFEST_MAX, &bytes, &d);
	if (rc == ERR_NOT_FOUND) {
		error_clear();
		return 0;
	}
	if (rc)
		return rc;
	rc = strmap_put(marks, digest, (size_t)d.size);
	descriptor_free(&d);
	cJSON *doc = rc ? NULL : cJSON_ParseWithLength(bytes.data, bytes.len);
	buffer_free(&bytes);
	const char *lists[] = {"config", "layers", "manifests"};
	for (size_t i = 0; doc && !rc && i < sizeof(lists) / sizeof(lists[0]); i++)
		rc = mark_list(t, cJSON_GetObjectItemCaseSensitive(doc, lists[i]), marks, depth);
	cJSON_Delete(doc);
	return rc;
}

static int registry_store_mark(struct transport *t, const struct store_entry *e, struct strmap *marks)
{
	return mark_manifest(t, e->digest, marks, 0);
}

static int delete_manifest(struct transport *t, const char *digest)
{
	struct http_response resp;
	char path[200], *url = NULL;
	snprintf(path, sizeof(path), "/manifests/%s", digest);
	int rc = api_call(t, "DELETE", path, "delete", 0, &resp, &url);
	if (rc)
		return rc;
	const char *body = resp.body.data ? resp.body.data : "";
	if (resp.status == 404) {
		rc = error_set(ERR_NOT_FOUND, "%s: manifest %s is already gone", t->display, digest);
	} else if (resp.status == 405 || (resp.status >= 400 && strstr(body, "UNSUPPORTED"))) {
		registry_fail_answer(ERR_FAILURE, "DELETE", url, &resp);
		rc = error_wrap(ERR_FAILURE,
				"%s refuses to delete manifests: enable deletes in the registry (distribution and "
				"Debian's docker-registry: `storage: delete: enabled: true` in config.yml; on a hosted "
				"registry, a token allowed to delete)",
				t->display);
	} else if (resp.status != 202 && resp.status != 200 && resp.status != 204) {
		rc = registry_fail_answer(ERR_FAILURE, "DELETE", url, &resp);
	}
	http_response_free(&resp);
	free(url);
	return rc;
}

/* Deleting a manifest removes every tag on it: refused while another tag
 * still points there, and when e's own tag moved to another document the
 * old one goes only if no tag uses it any more. */
static int registry_store_remove(struct transport *t, const struct store_entry *e)
{
	struct store_entry *now = NULL;
	size_t n = 0;
	int rc = registry_store_list(t, &now, &n);
	for (size_t i = 0; !rc && i < n; i++) {
		if (strcmp(now[i].digest, e->digest) != 0 || strcmp(now[i].name, e->name) == 0)
			continue;
		rc = error_set(ERR_FAILURE, "%s: tag \"%s\" shares manifest %s with \"%s\": not removed", t->display,
			       now[i].name, e->digest, e->name);
	}
	store_entries_free(now, n);
	return rc ? rc : delete_manifest(t, e->digest);
}

const struct store_ops registry_store_ops = {
	.list = registry_store_list,
	.selected = registry_store_selected,
	.select = select_tag,
	.mark = registry_store_mark,
	.remove = registry_store_remove,
	.blob_fate = "left for the registry's garbage collector to free",
};
