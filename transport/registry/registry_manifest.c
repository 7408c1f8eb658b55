/* Manifests of a registry repository: fetched by tag or digest and checked
 * against their digest, stored under a tag. */
#include "transport/registry/registry_client.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/model/media_type.h"
#include "transport/registry/registry.h"

#define ACCEPT_MANIFESTS                                                                                   \
	"Accept: " MT_DOCKER_MANIFEST ", " MT_DOCKER_LIST ", " MT_OCI_MANIFEST ", " MT_OCI_INDEX ", */*"

static void strip_params(char *media_type)
{
	media_type[strcspn(media_type, "; \t")] = '\0';
}

/* The declared mediaType of a manifest, for registries that do not say. */
static char *media_type_in(const char *bytes, size_t len)
{
	cJSON *doc = cJSON_ParseWithLength(bytes, len);
	const cJSON *mt = cJSON_GetObjectItemCaseSensitive(doc, "mediaType");
	char *out = cJSON_IsString(mt) ? strdup(mt->valuestring) : NULL;
	cJSON_Delete(doc);
	return out;
}

/* What a 200 answer to HEAD announces: the media type and the digest (the
 * manifest is then fetched by that digest, so a tag moving meanwhile
 * cannot mix two manifests). */
static int take_announced(struct registry_transport *r, const char *which, char **url,
			  const struct http_response *resp, struct descriptor *desc)
{
	const char *ct = http_response_header(resp, "Content-Type");
	const char *dg = http_response_header(resp, "Docker-Content-Digest");
	int rc = ct ? descriptor_set_media_type(desc, ct) : 0;
	if (rc)
		return rc;
	if (desc->media_type)
		strip_params(desc->media_type);
	if (dg && digest_is_valid(dg) == 0) {
		bool blob = strstr(*url, "/blobs/") != NULL;
		memcpy(desc->digest, dg, DIGEST_BUF);
		free(*url);
		if (!(*url = registry_url_join(r->api, blob ? "/blobs/" : "/manifests/", dg)))
			return error_oom();
	} else if (digest_is_valid(which) == 0) {
		memcpy(desc->digest, which, DIGEST_BUF);
	}
	return 0;
}

/* Resolves which (a tag or digest) with HEAD, as BuildKit does (Docker Hub
 * counts GETs): desc gets the media type and digest the registry announces,
 * *url becomes the URL to GET (by digest when known). */
static int resolve_manifest(struct registry_transport *r, const char *which, char **url, struct descriptor *desc)
{
	struct http_response resp;
	const char *headers[] = {ACCEPT_MANIFESTS, NULL};
	struct http_request head = {.method = "HEAD", .url = *url, .headers = headers, .follow_redirects = true};
	int rc = registry_call(r, &head, &resp);
	if (rc)
		return rc;
	if (resp.status == 404 && digest_is_valid(which) == 0) {
		/* A digest may name a blob rather than a manifest. */
		http_response_free(&resp);
		free(*url);
		if (!(*url = registry_url_join(r->api, "/blobs/", which)))
			return error_oom();
		head.url = *url;
		if ((rc = registry_call(r, &head, &resp)))
			return rc;
	}
	if (resp.status == 404) {
		rc = error_set(ERR_NOT_FOUND, "nothing at %s/%s%s%s in the registry", r->ref.domain, r->ref.path,
			       digest_is_valid(which) == 0 ? "@" : ":", which);
	} else if (resp.status != 200) {
		/* A proxy that refuses HEAD (405), or one transient error on it:
		 * the GET that follows fetches the manifest anyway, and its answer
		 * (success, or the registry's why in a body HEAD cannot carry)
		 * decides.  A digest asked for is still checked against the bytes. */
		if (digest_is_valid(which) == 0)
			memcpy(desc->digest, which, DIGEST_BUF);
	} else {
		rc = take_announced(r, which, url, &resp, desc);
	}
	http_response_free(&resp);
	return rc;
}

/* GETs the manifest at url (at most max bytes) into bytes, checked against
 * the digest desc has (when it has one); completes desc. */
static int fetch_manifest(struct registry_transport *r, const char *url, const char *which, size_t max,
			  struct buffer *bytes, struct descriptor *desc)
{
	struct http_response resp;
	const char *headers[] = {ACCEPT_MANIFESTS, NULL};
	struct http_request get = {.method = "GET", .url = url, .headers = headers, .follow_redirects = true,
				   .capture_limit = max + 1};
	int rc = registry_call(r, &get, &resp);
	if (rc)
		return rc;
	char computed[DIGEST_BUF];
	const char *body = resp.body.data ? resp.body.data : "";
	if (resp.status != 200)
		rc = registry_fail_answer(resp.status == 404 ? ERR_NOT_FOUND : ERR_FAILURE, "GET", url, &resp);
	else if (resp.body.len > max)
		rc = error_set(ERR_FAILURE, "manifest %s of %s is larger than the %zu bytes allowed", which, r->ref_text,
			       max);
	else if (!(rc = digest_of_bytes(computed, body, resp.body.len)) && *desc->digest &&
		 strcmp(computed, desc->digest) != 0)
		rc = error_set(ERR_CORRUPT, "manifest %s of %s: its bytes hash to %s", desc->digest, r->ref_text, computed);
	if (rc)
		goto out;
	memcpy(desc->digest, computed, DIGEST_BUF);
	desc->size = (int64_t)resp.body.len;
	if (!desc->media_type || !*desc->media_type || strcmp(desc->media_type, "application/json") == 0 ||
	    strcmp(desc->media_type, "application/octet-stream") == 0) {
		char *declared = media_type_in(body, resp.body.len);
		free(desc->media_type);
		desc->media_type = declared;
	}
	buffer_reset(bytes);
	if (!(rc = buffer_append(bytes, body, resp.body.len)))
		rc = buffer_append(bytes, "", 0);
out:
	http_response_free(&resp);
	return rc;
}

int registry_get_manifest(struct transport *t, const char *which, size_t max, struct buffer *bytes,
			  struct descriptor *desc)
{
	struct registry_transport *r = (struct registry_transport *)t;
	if (!which)
		which = *r->ref.digest ? r->ref.digest : r->ref.tag;
	descriptor_init(desc);
	int rc = registry_connect(r);
	if (rc)
		return rc;
	char *url = registry_url_join(r->api, "/manifests/", which);
	CHECK_ALLOC(url);
	if (!(rc = resolve_manifest(r, which, &url, desc)))
		rc = fetch_manifest(r, url, which, max, bytes, desc);
	free(url);
	if (rc)
		descriptor_free(desc);
	return rc;
}

int registry_put_manifest(struct transport *t, const char *tag, const struct descriptor *desc, const void *bytes,
			  size_t len)
{
	struct registry_transport *r = (struct registry_transport *)t;
	struct http_response resp;
	char accept[300], content_type[300];
	snprintf(accept, sizeof(accept), "Accept: %s, */*", desc->media_type);
	snprintf(content_type, sizeof(content_type), "Content-Type: %s", desc->media_type);
	const char *head_headers[] = {accept, NULL};
	const char *put_headers[] = {content_type, NULL};
	int crc = registry_connect(r);
	if (crc)
		return crc;
	char *url = registry_url_join(r->api, "/manifests/", tag ? tag : desc->digest);
	CHECK_ALLOC(url);
	struct http_request head = {.method = "HEAD", .url = url, .headers = head_headers};
	int rc = registry_call(r, &head, &resp);
	if (rc)
		goto out;
	const char *now = resp.status == 200 ? http_response_header(&resp, "Docker-Content-Digest") : NULL;
	bool same = now && strcmp(now, desc->digest) == 0;
	http_response_free(&resp);
	if (same)
		goto out;
	struct http_request put = {.method = "PUT", .url = url, .headers = put_headers, .body = bytes, .body_len = len};
	if ((rc = registry_call(r, &put, &resp)))
		goto out;
	if (resp.status >= 200 && resp.status < 300)
		rc = registry_check_stored_digest(&resp, desc->digest, url);
	else
		rc = registry_fail_answer(ERR_FAILURE, "PUT", url, &resp);
	http_response_free(&resp);
out:
	free(url);
	return rc;
}

