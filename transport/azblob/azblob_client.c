#include "transport/azblob/azblob_client.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/util/error.h"
#include "core/util/progress.h"
#include "transport/azblob/azblob_names.h"
#include "transport/azblob/azblob_shared_key.h"
#include "transport/azblob/azblob_upload.h"
#include "transport/http/http.h"
#include "transport/s3/url_parts.h"
#include "transport/s3/xml_text.h"

#define MAX_LINES 24 /* room for a blob's metadata echoed back (azblob_blob_touch) */
#define TOUCH_META_MAX 16
#define LIST_PAGE_MAX 5000 /* the most List Blobs gives in one answer */

struct azblob_client {
	const struct azblob_config *cfg;
	struct http_client *http;
	char *origin;    /* scheme://host[:port] */
	char *base_path; /* the account URL's path + "/" + container */
	unsigned list_page;
	atomic_ulong requests;
};

/* LIST_PAGE_MAX, or fewer when CACHECTL_AZBLOB_LIST_PAGE says so (for a
 * test that pages without writing thousands of blobs first). */
static unsigned list_page_size(void)
{
	const char *v = getenv("CACHECTL_AZBLOB_LIST_PAGE");
	char *end;
	unsigned long n = v ? strtoul(v, &end, 10) : 0;
	return v && *v && !*end && n >= 1 && n < LIST_PAGE_MAX ? (unsigned)n : LIST_PAGE_MAX;
}

int azblob_client_new(struct azblob_client **out, const struct azblob_config *cfg, struct progress *progress)
{
	struct url_parts u;
	int rc = url_parts_parse(&u, cfg->account_url, "account_url");
	if (rc)
		return rc;
	struct azblob_client *c = calloc(1, sizeof(*c));
	struct buffer origin = BUFFER_INIT, path = BUFFER_INIT;
	if (!c || buffer_appendf(&origin, "%s://%s", u.scheme, u.authority) ||
	    buffer_appendf(&path, "%s/", u.path) || http_escape(&path, cfg->container, false)) {
		rc = error_oom();
	} else {
		c->cfg = cfg;
		c->list_page = list_page_size();
		c->origin = buffer_detach(&origin, NULL);
		c->base_path = buffer_detach(&path, NULL);
		char what[600];
		snprintf(what, sizeof(what), "azblob %s", u.authority);
		struct http_client_options ho = {.progress = progress, .what = what};
		rc = http_client_new(&c->http, &ho);
	}
	url_parts_free(&u);
	buffer_free(&origin);
	buffer_free(&path);
	if (rc) {
		azblob_client_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void azblob_client_free(struct azblob_client *c)
{
	if (!c)
		return;
	http_client_free(c->http);
	free(c->origin);
	free(c->base_path);
	free(c);
}

unsigned long azblob_client_requests(const struct azblob_client *c)
{
	return atomic_load(&c->requests);
}

void azblob_blob_display(const struct azblob_client *c, const char *name, char *out, size_t size)
{
	snprintf(out, size, "azblob://%s/%s%s%s", c->cfg->account_name, c->cfg->container, name ? "/" : "",
		 name ? name : "");
}

/* ---- one signed request ------------------------------------------------- */

/* A request with its header lines, signed again before every retry. */
struct signed_req {
	struct azblob_client *c;
	const char *method;
	char *url, *path, *query; /* query: without the SAS, as signed */
	int64_t content_length;
	char *lines[MAX_LINES]; /* fixed lines, then x-ms-date, then Authorization */
	size_t n_fixed, n_lines;
	const char *view[MAX_LINES + 1];
};

static void req_free(struct signed_req *r)
{
	free(r->url);
	free(r->path);
	free(r->query);
	for (size_t i = 0; i < r->n_lines; i++)
		free(r->lines[i]);
	memset(r, 0, sizeof(*r));
}

static int req_sign(struct signed_req *r)
{
	const struct azblob_auth *a = &r->c->cfg->auth;
	for (size_t i = r->n_fixed; i < r->n_lines; i++)
		free(r->lines[i]);
	r->n_lines = r->n_fixed;
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "x-ms-date: %a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!(r->lines[r->n_lines++] = strdup(date)))
		return error_oom();
	for (size_t i = 0; i < r->n_lines; i++)
		r->view[i] = r->lines[i];
	r->view[r->n_lines] = NULL;
	struct buffer auth = BUFFER_INIT;
	int rc = 0;
	if (a->kind == AZBLOB_AUTH_SHARED_KEY) {
		struct azblob_signing s = {r->method, r->path, r->query, r->content_length, r->view};
		rc = azblob_shared_key_header(&auth, &s, r->c->cfg->account_name, a->key, a->key_len);
	} else if (a->kind == AZBLOB_AUTH_ENTRA) {
		char *token = NULL;
		if (!(rc = entra_token_get(a->entra, r->c->http, &token)))
			rc = buffer_appendf(&auth, "Authorization: Bearer %s", token);
		free(token);
	}
	if (!rc && auth.len) {
		r->lines[r->n_lines++] = buffer_detach(&auth, NULL);
		if (!r->lines[r->n_lines - 1]) {
			r->n_lines--;
			rc = error_oom();
		}
	}
	buffer_free(&auth);
	for (size_t i = 0; i < r->n_lines; i++)
		r->view[i] = r->lines[i];
	r->view[r->n_lines] = NULL;
	return rc;
}

static int resign(void *ctx, const struct http_response *failed)
{
	(void)failed;
	return req_sign(ctx);
}

/* name: NULL for the container itself; query: "comp=..." or NULL;
 * headers: extra lines (x-ms-version and the date are added). */
static int req_init(struct signed_req *r, struct azblob_client *c, const char *method, const char *name,
		    const char *query, const char *const *headers, int64_t content_length)
{
	memset(r, 0, sizeof(*r));
	r->c = c;
	r->method = method;
	r->content_length = content_length;
	struct buffer path = BUFFER_INIT, url = BUFFER_INIT;
	const char *sas = c->cfg->auth.kind == AZBLOB_AUTH_SAS ? c->cfg->auth.sas : NULL;
	int rc = buffer_append_str(&path, c->base_path);
	if (!rc && name && !(rc = buffer_append_str(&path, "/")))
		rc = azblob_escape_name(&path, name);
	if (!rc)
		rc = buffer_appendf(&url, "%s%s%s%s%s%s", c->origin, path.data, query || sas ? "?" : "",
				    query ? query : "", query && sas ? "&" : "", sas ? sas : "");
	r->path = buffer_detach(&path, NULL);
	r->url = buffer_detach(&url, NULL);
	r->query = query ? strdup(query) : NULL;
	if (!rc && (!r->path || !r->url || (query && !r->query)))
		rc = error_oom();
	if (!rc && !(r->lines[r->n_lines++] = strdup("x-ms-version: " AZBLOB_API_VERSION)))
		rc = error_oom();
	for (const char *const *h = headers; !rc && h && *h; h++) {
		if (r->n_lines + 2 >= MAX_LINES)
			rc = error_set(ERR_FAILURE, "azblob: too many header lines");
		else if (!(r->lines[r->n_lines++] = strdup(*h)))
			rc = error_oom();
	}
	r->n_fixed = r->n_lines;
	if (!rc)
		rc = req_sign(r);
	buffer_free(&path);
	buffer_free(&url);
	if (rc)
		req_free(r);
	return rc;
}

/* ---- errors ------------------------------------------------------------- */

static int fail(struct azblob_client *c, const struct http_response *resp, const char *what, const char *name)
{
	char display[1200], message[300] = "";
	azblob_blob_display(c, name, display, sizeof(display));
	const char *body = resp->body.data ? resp->body.data : "";
	const char *code = http_response_header(resp, "x-ms-error-code");
	char *body_code = code ? NULL : xml_text(body, resp->body.len, "Code");
	char *msg = xml_text(body, resp->body.len, "Message");
	if (msg) {
		size_t n = strcspn(msg, "\r\n"); /* the first line; the rest is a request id and time */
		snprintf(message, sizeof(message), ": %.*s", (int)(n < 250 ? n : 250), msg);
	}
	if (!code)
		code = body_code;
	int err = resp->status == 404 ? ERR_NOT_FOUND : ERR_FAILURE;
	bool auth = resp->status == 401 || resp->status == 403;
	int rc = error_set(err, "%s %s: HTTP %ld%s%s%s%s%s%s", what, display, resp->status, code ? " " : "",
			   code ? code : "", message, auth ? " (credentials: " : "", auth ? c->cfg->auth.source : "",
			   auth ? ")" : "");
	free(body_code);
	free(msg);
	return rc;
}

static bool error_code_is(const struct http_response *resp, const char *code)
{
	const char *v = http_response_header(resp, "x-ms-error-code");
	return v && strcmp(v, code) == 0;
}

/* Performs r; a refused bearer token is fetched again once. */
static int perform(struct signed_req *r, struct http_request *req, struct http_response *resp)
{
	req->method = r->method;
	req->url = r->url;
	req->headers = r->view;
	req->before_retry = resign;
	req->retry_ctx = r;
	for (int round = 0;; round++) {
		int rc = http_do(r->c->http, req, resp);
		atomic_fetch_add(&r->c->requests, resp->attempts ? resp->attempts : 1);
		if (rc || resp->status != 401 || r->c->cfg->auth.kind != AZBLOB_AUTH_ENTRA || round > 0)
			return rc;
		entra_token_invalidate(r->c->cfg->auth.entra);
		http_response_free(resp);
		if ((rc = req_sign(r)))
			return rc;
	}
}

/* One request; 0 once answered, whatever the status (the caller judges
 * it and frees resp). */
static int call(struct azblob_client *c, const char *method, const char *name, const char *query,
		const char *const *headers, struct byte_range *body, const void *mem, size_t mem_len,
		size_t capture_limit, struct http_response *resp)
{
	struct signed_req r;
	int rc = req_init(&r, c, method, name, query, headers, body ? body->length : (int64_t)mem_len);
	if (rc)
		return rc;
	struct http_request req = {.body = mem, .body_len = mem_len, .body_open = body ? byte_range_open : NULL,
				   .body_ctx = body, .body_size = body ? body->length : 0,
				   .capture_limit = capture_limit};
	rc = perform(&r, &req, resp);
	req_free(&r);
	return rc;
}

/* ---- the container ------------------------------------------------------ */

int azblob_container_ensure(struct azblob_client *c)
{
	struct http_response resp;
	int rc = call(c, "GET", NULL, "restype=container", NULL, NULL, NULL, 0, 0, &resp);
	if (rc)
		return rc;
	long status = resp.status;
	if (status == 404) {
		http_response_free(&resp);
		if ((rc = call(c, "PUT", NULL, "restype=container", NULL, NULL, "", 0, 0, &resp)))
			return rc;
		if (resp.status != 201 && resp.status != 409)
			rc = fail(c, &resp, "Create Container", NULL);
	} else if (status == 403 && c->cfg->auth.kind == AZBLOB_AUTH_SAS) {
		/* A SAS for one container may not read its properties: it
		 * exists if the SAS was made for it. */
	} else if (status != 200) {
		rc = fail(c, &resp, "Get Container Properties", NULL);
	}
	http_response_free(&resp);
	return rc;
}

/* ---- reading ------------------------------------------------------------ */

int azblob_blob_properties(struct azblob_client *c, const char *name, int64_t *size)
{
	struct http_response resp;
	int rc = call(c, "HEAD", name, NULL, NULL, NULL, NULL, 0, 0, &resp);
	if (rc)
		return rc;
	const char *len = http_response_header(&resp, "Content-Length");
	if (resp.status != 200) {
		rc = fail(c, &resp, "Get Blob Properties", name);
	} else if (!len) {
		char display[1200];
		azblob_blob_display(c, name, display, sizeof(display));
		rc = error_set(ERR_FAILURE, "Get Blob Properties %s: the answer has no Content-Length", display);
	} else {
		*size = strtoll(len, NULL, 10);
	}
	http_response_free(&resp);
	return rc;
}

int azblob_blob_get_small(struct azblob_client *c, const char *name, size_t max, struct buffer *out)
{
	return azblob_blob_get_versioned(c, name, max, out, NULL);
}

int azblob_blob_get_versioned(struct azblob_client *c, const char *name, size_t max, struct buffer *out,
			      char etag[AZBLOB_ETAG_BUF])
{
	struct http_response resp;
	int rc = call(c, "GET", name, NULL, NULL, NULL, NULL, 0, max, &resp);
	if (rc)
		return rc;
	char display[1200];
	azblob_blob_display(c, name, display, sizeof(display));
	const char *tag = http_response_header(&resp, "ETag");
	if (resp.status != 200) {
		rc = fail(c, &resp, "Get Blob", name);
	} else if (etag && (!tag || strlen(tag) >= AZBLOB_ETAG_BUF)) {
		rc = error_set(ERR_FAILURE, "Get Blob %s: the answer has no usable ETag", display);
	} else {
		const char *len = http_response_header(&resp, "Content-Length");
		if (len && strtoull(len, NULL, 10) != resp.body.len) {
			rc = error_set(ERR_FAILURE, "Get Blob %s: %s bytes, more than %zu", display, len, max);
		} else {
			if (etag)
				memcpy(etag, tag, strlen(tag) + 1);
			*out = resp.body;
			memset(&resp.body, 0, sizeof(resp.body));
		}
	}
	http_response_free(&resp);
	return rc;
}

/* A streamed Get Blob: the request (and its header lines) live as long as
 * the body, which the HTTP layer may request again from where it broke. */
struct get_source {
	struct byte_source base;
	struct signed_req r;
	struct byte_source *inner;
};

static ssize_t get_read(struct byte_source *src, void *buf, size_t len)
{
	struct get_source *g = (struct get_source *)src;
	return source_read(g->inner, buf, len);
}

static void get_close(struct byte_source *src)
{
	struct get_source *g = (struct get_source *)src;
	source_close(g->inner);
	req_free(&g->r);
	free(g);
}

int azblob_blob_get(struct azblob_client *c, const char *name, int64_t offset, struct byte_source **out)
{
	char range[64];
	snprintf(range, sizeof(range), "x-ms-range: bytes=%lld-", (long long)offset);
	const char *const headers[] = {range, NULL};
	struct get_source *g = calloc(1, sizeof(*g));
	CHECK_ALLOC(g);
	int rc = req_init(&g->r, c, "GET", name, NULL, offset ? headers : NULL, 0);
	if (rc) {
		free(g);
		return rc;
	}
	struct http_response resp;
	struct http_request req = {.method = "GET", .url = g->r.url, .headers = g->r.view, .before_retry = resign,
				   .retry_ctx = &g->r};
	rc = http_open(c->http, &req, &resp, &g->inner);
	atomic_fetch_add(&c->requests, resp.attempts ? resp.attempts : 1);
	if (!rc && !g->inner)
		rc = fail(c, &resp, "Get Blob", name);
	http_response_free(&resp);
	if (rc) {
		get_close(&g->base);
		return rc;
	}
	g->base.read = get_read;
	g->base.close = get_close;
	*out = &g->base;
	return 0;
}

/* ---- writing ------------------------------------------------------------ */

static int put_answer(struct azblob_client *c, struct http_response *resp, const char *what, const char *name,
		      bool create_only, bool *existed)
{
	*existed = false;
	if (resp->status == 201)
		return 0;
	/* Azure answers 409 BlobAlreadyExists to If-None-Match: *; some
	 * emulators 412 ConditionNotMet. */
	if (create_only && (resp->status == 409 || resp->status == 412) &&
	    (error_code_is(resp, "BlobAlreadyExists") || error_code_is(resp, "ConditionNotMet"))) {
		*existed = true;
		return 0;
	}
	return fail(c, resp, what, name);
}

int azblob_put_blob(struct azblob_client *c, const char *name, const struct byte_range *body, bool create_only,
		    bool *existed)
{
	const char *const headers[] = {"x-ms-blob-type: BlockBlob", "Content-Type: application/octet-stream",
				       create_only ? "If-None-Match: *" : NULL, NULL};
	struct byte_range whole = *body;
	struct http_response resp;
	int rc = call(c, "PUT", name, NULL, headers, &whole, NULL, 0, 0, &resp);
	if (!rc) {
		rc = put_answer(c, &resp, "Put Blob", name, create_only, existed);
		http_response_free(&resp);
	}
	return rc;
}

int azblob_put_block(struct azblob_client *c, const char *name, const char *block_id, const struct byte_range *body)
{
	static const char *const headers[] = {"Content-Type: application/octet-stream", NULL};
	struct buffer query = BUFFER_INIT;
	struct byte_range part = *body;
	struct http_response resp;
	/* base64 uses + / =: escaped in the query, verbatim in the list */
	int rc = buffer_append_str(&query, "comp=block&blockid=");
	if (!rc)
		rc = http_escape(&query, block_id, false);
	if (!rc)
		rc = call(c, "PUT", name, query.data, headers, &part, NULL, 0, 0, &resp);
	if (!rc) {
		if (resp.status != 201) {
			char what[AZBLOB_BLOCK_ID_BUF + 16];
			snprintf(what, sizeof(what), "Put Block %s", block_id);
			rc = fail(c, &resp, what, name);
		}
		http_response_free(&resp);
	}
	buffer_free(&query);
	return rc;
}

int azblob_put_block_list(struct azblob_client *c, const char *name, char *const *ids, size_t n, bool create_only,
			  bool *existed)
{
	const char *const headers[] = {"Content-Type: application/xml; charset=utf-8",
				       "x-ms-blob-content-type: application/octet-stream",
				       create_only ? "If-None-Match: *" : NULL, NULL};
	struct buffer list = BUFFER_INIT;
	struct http_response resp;
	int rc = buffer_append_str(&list, "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
	for (size_t i = 0; !rc && i < n; i++)
		rc = buffer_appendf(&list, "<Latest>%s</Latest>", ids[i]);
	if (!rc)
		rc = buffer_append_str(&list, "</BlockList>");
	if (!rc)
		rc = call(c, "PUT", name, "comp=blocklist", headers, NULL, list.data, list.len, 0, &resp);
	if (!rc) {
		rc = put_answer(c, &resp, "Put Block List", name, create_only, existed);
		http_response_free(&resp);
	}
	buffer_free(&list);
	return rc;
}

/* ---- listing ------------------------------------------------------------ */

/* An HTTP date ("Thu, 03 Dec 2026 18:17:32 GMT"), as Last-Modified. */
static int http_date_parse(struct timestamp *out, const char *text)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	memset(out, 0, sizeof(*out));
	const char *end = strptime(text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!end || *end)
		return error_set(ERR_FAILURE, "List Blobs: \"%.60s\" is not an HTTP date", text);
	out->seconds = (int64_t)timegm(&tm);
	return 0;
}

static void http_date_format(char *out, size_t size, const struct timestamp *t)
{
	time_t when = (time_t)t->seconds;
	struct tm tm;
	gmtime_r(&when, &tm);
	strftime(out, size, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

int azblob_delete_blob(struct azblob_client *c, const char *name, const char *if_match,
		       const struct timestamp *if_unmodified_since, enum azblob_deleted *result)
{
	char match[AZBLOB_ETAG_BUF + 16], since[112], date[64];
	const char *headers[4] = {"x-ms-delete-snapshots: include"};
	size_t n = 1;
	if (if_match) {
		snprintf(match, sizeof(match), "If-Match: %s", if_match);
		headers[n++] = match;
	}
	if (if_unmodified_since) {
		http_date_format(date, sizeof(date), if_unmodified_since);
		snprintf(since, sizeof(since), "If-Unmodified-Since: %s", date);
		headers[n++] = since;
	}
	headers[n] = NULL;
	struct http_response resp;
	int rc = call(c, "DELETE", name, NULL, headers, NULL, NULL, 0, 0, &resp);
	if (rc)
		return rc;
	if (resp.status == 202)
		*result = AZBLOB_DELETED;
	else if (resp.status == 404)
		*result = AZBLOB_ABSENT;
	else if (resp.status == 412)
		*result = AZBLOB_CHANGED; /* ConditionNotMet: re-pointed or refreshed meanwhile */
	else
		rc = fail(c, &resp, "Delete Blob", name);
	http_response_free(&resp);
	return rc;
}

/* Each <Blob> of one page: its Name and the properties prune needs. */
static int list_page(const char *xml, size_t len, azblob_listed_fn fn, void *ctx)
{
	int rc = 0;
	for (const char *p = xml, *end = xml + len; !rc;) {
		const char *open = strstr(p, "<Blob>"), *close = open ? strstr(open, "</Blob>") : NULL;
		if (!open || !close || close > end)
			break;
		size_t n = (size_t)(close - open);
		char *name = xml_text(open, n, "Name"), *size = xml_text(open, n, "Content-Length");
		char *modified = xml_text(open, n, "Last-Modified"), *etag = xml_text(open, n, "Etag");
		struct azblob_listed b = {.name = name, .etag = etag ? etag : ""};
		if (!name || !size)
			rc = error_set(ERR_FAILURE, "List Blobs: a <Blob> without Name or Content-Length");
		else if (modified && http_date_parse(&b.last_modified, modified))
			error_clear(); /* unknown time: counts as old, as on s3 */
		if (!rc) {
			b.size = strtoll(size, NULL, 10);
			rc = fn(ctx, &b);
		}
		free(name);
		free(size);
		free(modified);
		free(etag);
		p = close + 7;
	}
	return rc;
}

int azblob_list_blobs(struct azblob_client *c, const char *prefix, azblob_listed_fn fn, void *ctx, long *refused)
{
	char *marker = NULL;
	int rc = 0;
	if (refused)
		*refused = 0;
	do {
		struct buffer query = BUFFER_INIT;
		struct http_response resp;
		rc = buffer_appendf(&query, "restype=container&comp=list&maxresults=%u&prefix=", c->list_page);
		if (!rc)
			rc = http_escape(&query, prefix, false);
		if (!rc && marker && !(rc = buffer_append_str(&query, "&marker=")))
			rc = http_escape(&query, marker, false);
		free(marker);
		marker = NULL;
		if (!rc)
			rc = call(c, "GET", NULL, query.data, NULL, NULL, NULL, 0, 64u << 20, &resp);
		buffer_free(&query);
		if (rc)
			break;
		const char *xml = resp.body.data ? resp.body.data : "";
		if (resp.status != 200) {
			rc = fail(c, &resp, "List Blobs", NULL);
			if (refused)
				*refused = resp.status;
		} else {
			rc = list_page(xml, resp.body.len, fn, ctx);
		}
		if (!rc) {
			marker = xml_text(xml, resp.body.len, "NextMarker");
			if (marker && !*marker) {
				free(marker);
				marker = NULL;
			}
		}
		http_response_free(&resp);
	} while (!rc && marker);
	free(marker);
	return rc;
}

/* ---- refreshing ---------------------------------------------------------- */

/* "name: value", a new string; NULL when out of memory. */
static char *header_line(const char *name, const char *value)
{
	struct buffer b = BUFFER_INIT;
	if (buffer_appendf(&b, "%s: %s", name, value)) {
		buffer_free(&b);
		return NULL;
	}
	return buffer_detach(&b, NULL);
}

/* Set Blob Metadata replaces all of it: the blob's own x-ms-meta-* lines,
 * as Get Blob Properties gave them, go back unchanged. */
static int touch_headers(struct azblob_client *c, const char *name, const struct http_response *props,
			 char **lines, size_t *n)
{
	const char *etag = http_response_header(props, "ETag");
	*n = 0;
	if (etag && !(lines[(*n)++] = header_line("If-Match", etag)))
		return error_oom();
	for (size_t i = 0; i < props->n_headers; i++) {
		const struct http_header *h = &props->headers[i];
		if (strncasecmp(h->name, "x-ms-meta-", 10) != 0)
			continue;
		if (*n == TOUCH_META_MAX) {
			char display[1200];
			azblob_blob_display(c, name, display, sizeof(display));
			return error_set(ERR_FAILURE, "%s has more than %d metadata entries: cachectl cannot refresh it",
					 display, TOUCH_META_MAX - 1);
		}
		if (!(lines[(*n)++] = header_line(h->name, h->value)))
			return error_oom();
	}
	return 0;
}

/* Modified less than min_age seconds ago (by Get Blob Properties' answer)? */
static bool younger_than(const struct http_response *props, double min_age)
{
	const char *text = http_response_header(props, "Last-Modified");
	struct timestamp when;
	if (min_age <= 0 || !text || http_date_parse(&when, text)) {
		error_clear(); /* no usable time: counts as old */
		return false;
	}
	return difftime(time(NULL), (time_t)when.seconds) <= min_age;
}

int azblob_blob_touch(struct azblob_client *c, const char *name, double min_age, bool *touched)
{
	struct http_response props, resp;
	char *lines[TOUCH_META_MAX + 1] = {0};
	size_t n = 0;
	*touched = false;
	int rc = call(c, "HEAD", name, NULL, NULL, NULL, NULL, 0, 0, &props);
	if (rc)
		return rc;
	bool young = props.status == 200 && younger_than(&props, min_age);
	if (props.status != 200)
		rc = fail(c, &props, "Get Blob Properties", name);
	else if (!young)
		rc = touch_headers(c, name, &props, lines, &n);
	http_response_free(&props);
	if (!rc && !young)
		rc = call(c, "PUT", name, "comp=metadata", (const char *const *)lines, NULL, "", 0, 0, &resp);
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	if (young)
		return rc;
	if (rc)
		return rc;
	long status = resp.status;
	if (status != 200 && status != 412)
		rc = fail(c, &resp, "Set Blob Metadata", name);
	http_response_free(&resp);
	/* 412: changed after Get Blob Properties -- written again (so fresh),
	 * or deleted (azurite answers 412, not 404, to If-Match then). */
	int64_t size;
	if (status == 412)
		return azblob_blob_properties(c, name, &size);
	*touched = !rc;
	return rc;
}
