/* type=registry: a cache in one repository of an OCI distribution registry,
 * as BuildKit pushes and pulls it (see docs/registry.md).
 *
 * Blobs are spooled to an unlinked temporary file while the engine streams
 * them in, and uploaded when the writer commits -- once the digest is
 * known.  That is the only way a re-encoded layer (whose digest exists only
 * at the end) can be checked for presence before its bytes are sent; it
 * lets every upload be one POST and one PUT of the whole blob, which every
 * registry accepts (chunked PATCH uploads are opt-in, registry.chunk-size,
 * for proxies that cap request bodies); and a PUT that fails half-way is
 * sent again from the spool, exactly, as often as the retry policy allows.
 * The price is one write and one read of each new blob on local disk.
 *
 * The root document goes last, under the tag, after every blob is in: a
 * failed push never leaves the tag pointing at missing blobs. */
#include "transport/registry/registry.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util/error.h"
#include "core/model/media_type.h"
#include "core/util/progress.h"
#include "formats/cache_manifest.h"
#include "formats/inline_config.h"
#include "transport/cache_io.h"
#include "transport/registry/reference.h"
#include "transport/registry/registry_auth.h"
#include "transport/spooled_writer.h"

#define ACCEPT_MANIFESTS                                                                                   \
	"Accept: " MT_DOCKER_MANIFEST ", " MT_DOCKER_LIST ", " MT_OCI_MANIFEST ", " MT_OCI_INDEX ", */*"
#define IMAGE_CONFIG_MAX (32u << 20)
#define UPLOAD_TRIES 3
#define DEFAULT_UPLOAD_PARALLELISM 4
#define INLINE_DEPTH_MAX 4

struct pending_session {
	char digest[DIGEST_BUF];
	char *location;
};

struct registry_transport {
	struct transport base;
	struct reference ref;
	char ref_text[600];
	char *origin; /* "https://ghcr.io" */
	char *api;    /* origin + "/v2/" + repository path */
	bool insecure;
	char scope[700]; /* asked for in every token: pull, or pull and push */
	/* Connected on first use, when the progress display is known. */
	struct http_client *http;
	struct registry_auth *auth;
	/* Set when a request got no answer through all its retries: the
	 * registry is unreachable, later requests fail at once with that. */
	bool unreachable;
	struct error_state unreachable_error;
	int64_t chunk_size; /* 0: one PUT per blob */
	pthread_mutex_t lock;
	pthread_cond_t slot_free;
	unsigned slots;     /* uploads that may start now */
	/* Upload sessions a refused cross-repository mount opened (202): the
	 * upload of that blob uses them instead of starting another. */
	struct pending_session *pending;
	size_t n_pending;
};

static const struct transport_ops registry_ops;

bool transport_is_registry(const struct transport *t)
{
	return t && t->ops == &registry_ops;
}

const char *registry_ref_text(const struct transport *t)
{
	return ((const struct registry_transport *)t)->ref_text;
}

const char *registry_ref_tag(const struct transport *t)
{
	return ((const struct registry_transport *)t)->ref.tag;
}

const char *registry_ref_digest(const struct transport *t)
{
	return ((const struct registry_transport *)t)->ref.digest;
}

/* ---- requests ----------------------------------------------------------- */

static char *url_join(const char *a, const char *b, const char *c)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s%s%s", a, b, c);
	return s;
}


/* What the registry said went wrong: its error JSON ({"errors":[{"code",
 * "message","detail"}]}) when there is one, else the status and the start
 * of the body. */
static void describe_answer(char *out, size_t size, const struct http_response *resp)
{
	cJSON *doc = cJSON_ParseWithLength(resp->body.data ? resp->body.data : "", resp->body.len);
	const cJSON *errors = cJSON_GetObjectItemCaseSensitive(doc, "errors");
	size_t n = (size_t)snprintf(out, size, "HTTP %ld", resp->status);
	const cJSON *e;
	int count = 0;
	cJSON_ArrayForEach(e, errors) {
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
		const cJSON *detail = cJSON_GetObjectItemCaseSensitive(e, "detail");
		if (count++ == 2 || n >= size) {
			if (n < size)
				snprintf(out + n, size - n, " (and more)");
			break;
		}
		n += (size_t)snprintf(out + n, size - n, "%s%s%s%s", count > 1 ? ";" : "",
				      cJSON_IsString(code) ? " " : "", cJSON_IsString(code) ? code->valuestring : "",
				      cJSON_IsString(msg) ? ": " : "");
		if (n < size && cJSON_IsString(msg))
			n += (size_t)snprintf(out + n, size - n, "%s", msg->valuestring);
		if (n < size && detail && !cJSON_IsNull(detail)) {
			char *text = cJSON_IsString(detail) ? NULL : cJSON_PrintUnformatted(detail);
			n += (size_t)snprintf(out + n, size - n, " (detail: %.300s)",
					      text ? text : detail->valuestring);
			free(text);
		}
	}
	if (!count && resp->body.len && n < size) {
		/* Not the registry's JSON (a proxy's page?): a little of it. */
		char text[160];
		size_t k = 0;
		for (size_t i = 0; i < resp->body.len && k + 1 < sizeof(text); i++) {
			char c = resp->body.data[i];
			text[k++] = (c == '\n' || c == '\r' || c == '\t') ? ' ' : (c >= 32 && c < 127 ? c : '?');
		}
		text[k] = '\0';
		snprintf(out + n, size - n, ": %s", text);
	}
	cJSON_Delete(doc);
}

static int fail_answer(int code, const char *method, const char *url, const struct http_response *resp)
{
	char u[1024], why[1200];
	http_redact_url(u, sizeof(u), url);
	describe_answer(why, sizeof(why), resp);
	return error_set(code, "%s %s: %s", method, u, why);
}

static int set_scheme(struct registry_transport *r, const char *scheme)
{
	struct buffer b = BUFFER_INIT;
	free(r->origin);
	free(r->api);
	r->api = NULL;
	if (buffer_appendf(&b, "%s://%s", scheme, reference_api_host(&r->ref)) || !(r->origin = buffer_detach(&b, NULL)) ||
	    !(r->api = url_join(r->origin, "/v2/", r->ref.path)))
		return error_oom();
	return 0;
}

/* registry.insecure=true: HTTPS without verification when the registry
 * speaks TLS, else plain HTTP -- BuildKit's order for insecure hosts. */
static int probe_scheme(struct registry_transport *r)
{
	struct http_response resp;
	char *url = url_join(r->origin, "/v2/", "");
	CHECK_ALLOC(url);
	struct http_request req = {.method = "GET", .url = url, .no_retry = true};
	int rc = http_do(r->http, &req, &resp);
	free(url);
	if (!rc) {
		http_response_free(&resp);
		return 0;
	}
	progress_note(r->base.progress, "registry %s: no TLS answer (%s); using plain HTTP (registry.insecure=true)",
		      r->ref.domain, error_message());
	error_clear();
	return set_scheme(r, "http");
}

/* Makes the HTTP client on first use (when the progress display is
 * known) and settles the scheme; every operation calls it before it
 * builds a URL. */
static int connect_once(struct registry_transport *r)
{
	int rc = 0;
	pthread_mutex_lock(&r->lock);
	if (!r->http) {
		char what[600];
		snprintf(what, sizeof(what), "registry %s", r->ref.domain);
		struct http_client_options ho = {.insecure = r->insecure, .progress = r->base.progress, .what = what};
		if (!(rc = http_client_new(&r->http, &ho)) &&
		    !(rc = registry_auth_new(&r->auth, r->http, r->ref.domain, r->insecure)) &&
		    !(rc = registry_auth_add_scope(r->auth, r->scope)) && r->insecure)
			rc = probe_scheme(r);
		if (rc) {
			registry_auth_free(r->auth);
			http_client_free(r->http);
			r->auth = NULL;
			r->http = NULL;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

/* The headers of a request (ours, plus the Authorization line), kept
 * alive as long as the request is: for a streamed body that is until the
 * body is closed, since a broken download resumes with the same headers
 * and reports into the same response. */
struct call {
	struct byte_source base; /* a streamed body: wraps `inner` */
	struct byte_source *inner;
	struct registry_auth *auth;
	const char *headers[16];
	size_t auth_slot;
	char *line;
	struct http_response resp;
};

/* Before a retry (after a wait): the token may have expired meanwhile. */
static int refresh_auth(void *ctx, const struct http_response *failed)
{
	struct call *c = ctx;
	unsigned generation;
	char *line;
	(void)failed;
	int rc = registry_auth_header(c->auth, &line, &generation);
	if (rc)
		return rc;
	free(c->line);
	c->line = line;
	c->headers[c->auth_slot] = line;
	return 0;
}

static void call_free(struct call *c)
{
	if (!c)
		return;
	http_response_free(&c->resp);
	free(c->line);
	free(c);
}

static ssize_t call_read(struct byte_source *s, void *buf, size_t len)
{
	struct call *c = (struct call *)s;
	return source_read(c->inner, buf, len);
}

static void call_close(struct byte_source *s)
{
	struct call *c = (struct call *)s;
	source_close(c->inner);
	call_free(c);
}

/* One request with the registry's authorisation: a 401 is answered by the
 * challenge dance and the request sent again (twice at most).  With
 * `stream`, a 2xx body is returned as a source (http_open) and `resp`
 * gets a copy of nothing but the status; otherwise resp is the answer. */
static int call_run(struct registry_transport *r, const struct http_request *in, struct call *c, bool stream)
{
	size_t n = 0;
	int rc = connect_once(r);
	if (rc)
		return rc;
	pthread_mutex_lock(&r->lock);
	bool down = r->unreachable;
	struct error_state down_error = r->unreachable_error;
	pthread_mutex_unlock(&r->lock);
	if (down)
		return error_restore(&down_error);
	c->auth = r->auth;
	for (const char *const *h = in->headers; h && *h && n < 14; h++)
		c->headers[n++] = *h;
	c->auth_slot = n;
	/* Credentials go to the registry only: an upload Location or a
	 * redirect may name a storage host, which gets none (as containerd). */
	bool ours = http_same_origin(in->url, r->origin);
	for (unsigned attempt = 0;; attempt++) {
		unsigned generation = 0;
		free(c->line);
		c->line = NULL;
		if (ours && (rc = registry_auth_header(r->auth, &c->line, &generation)))
			return rc;
		c->headers[n] = c->line;
		c->headers[n + 1] = NULL;
		struct http_request req = *in;
		req.headers = c->headers;
		req.before_retry = ours ? refresh_auth : NULL;
		req.retry_ctx = c;
		rc = stream ? http_open(r->http, &req, &c->resp, &c->inner) : http_do(r->http, &req, &c->resp);
		if (rc && !c->resp.status) {
			/* No answer at all, retries included: nobody else need wait. */
			pthread_mutex_lock(&r->lock);
			if (!r->unreachable) {
				r->unreachable = true;
				error_save(&r->unreachable_error, rc);
			}
			pthread_mutex_unlock(&r->lock);
		}
		if (rc || c->resp.status != 401 || attempt == 2 || !ours)
			return rc;
		if ((rc = registry_auth_challenge(r->auth, &c->resp, generation))) {
			char u[1024], why[1200];
			http_redact_url(u, sizeof(u), in->url);
			describe_answer(why, sizeof(why), &c->resp);
			return error_wrap(rc, "%s %s: %s", in->method, u, why);
		}
		http_response_free(&c->resp);
	}
}

static int reg_call(struct registry_transport *r, const struct http_request *in, struct http_response *resp)
{
	struct call *c = calloc(1, sizeof(*c));
	CHECK_ALLOC(c);
	int rc = call_run(r, in, c, false);
	if (!rc) {
		*resp = c->resp;
		memset(&c->resp, 0, sizeof(c->resp));
	}
	call_free(c);
	return rc;
}

/* A GET whose 2xx body streams (*body); for other answers *body is NULL
 * and resp holds the answer. */
static int reg_open(struct registry_transport *r, const struct http_request *in, struct http_response *resp,
		    struct byte_source **body)
{
	struct call *c = calloc(1, sizeof(*c));
	*body = NULL;
	memset(resp, 0, sizeof(*resp));
	CHECK_ALLOC(c);
	int rc = call_run(r, in, c, true);
	if (rc || !c->inner) {
		if (!rc) {
			*resp = c->resp;
			memset(&c->resp, 0, sizeof(c->resp));
		}
		call_free(c);
		return rc;
	}
	resp->status = c->resp.status;
	c->base.read = call_read;
	c->base.close = call_close;
	*body = &c->base;
	return 0;
}

/* The absolute URL a Location header means, relative to the URL that
 * answered (absolute, scheme-relative, absolute-path or relative). */
static char *resolve_location(const char *base, const char *loc)
{
	if (strncmp(loc, "http://", 7) == 0 || strncmp(loc, "https://", 8) == 0)
		return strdup(loc);
	const char *scheme_end = strstr(base, "://");
	if (!scheme_end)
		return NULL;
	if (strncmp(loc, "//", 2) == 0) {
		size_t n = (size_t)(scheme_end - base) + 1 + strlen(loc) + 1;
		char *s = malloc(n);
		if (s)
			snprintf(s, n, "%.*s:%s", (int)(scheme_end - base), base, loc);
		return s;
	}
	const char *host = scheme_end + 3;
	size_t origin_len = (size_t)(host - base) + strcspn(host, "/?#");
	size_t n = origin_len + strlen(loc) + 2;
	if (loc[0] == '/') {
		char *s = malloc(n);
		if (s)
			snprintf(s, n, "%.*s%s", (int)origin_len, base, loc);
		return s;
	}
	/* Relative to the directory of the base path. */
	const char *q = base + origin_len + strcspn(base + origin_len, "?#");
	const char *slash = q;
	while (slash > base + origin_len && slash[-1] != '/')
		slash--;
	size_t dir_len = slash > base + origin_len ? (size_t)(slash - base) : origin_len;
	n = dir_len + strlen(loc) + 2;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%.*s%s%s", (int)dir_len, base, slash > base + origin_len ? "" : "/", loc);
	return s;
}

static char *with_query(const char *url, const char *param, const char *value)
{
	struct buffer b = BUFFER_INIT;
	if (buffer_appendf(&b, "%s%s%s=", url, strchr(url, '?') ? "&" : "?", param) ||
	    http_escape(&b, value, false)) {
		buffer_free(&b);
		return NULL;
	}
	return buffer_detach(&b, NULL);
}

/* ---- blobs: presence and reading ---------------------------------------- */

static int registry_blob_stat(struct transport *t, const char *digest, int64_t *size)
{
	struct registry_transport *r = (struct registry_transport *)t;
	struct http_response resp;
	int crc = connect_once(r);
	if (crc)
		return crc;
	char *url = url_join(r->api, "/blobs/", digest);
	CHECK_ALLOC(url);
	struct http_request req = {.method = "HEAD", .url = url, .follow_redirects = true};
	int rc = reg_call(r, &req, &resp);
	if (!rc) {
		if (resp.status == 200) {
			const char *cl = http_response_header(&resp, "Content-Length");
			*size = cl ? strtoll(cl, NULL, 10) : -1;
		} else if (resp.status == 404 || resp.status == 401 || resp.status == 403) {
			/* Absent -- or not ours to see, which for a push means the
			 * same: upload it (as containerd's pusher goes on). */
			rc = error_set(ERR_NOT_FOUND, "blob %s is not in %s", digest, r->ref_text);
		} else {
			rc = fail_answer(ERR_FAILURE, "HEAD", url, &resp);
		}
		http_response_free(&resp);
	}
	free(url);
	return rc;
}

static int registry_blob_open(struct transport *t, const struct descriptor *d, struct byte_source **out)
{
	struct registry_transport *r = (struct registry_transport *)t;
	struct http_response resp;
	int crc = connect_once(r);
	if (crc)
		return crc;
	char *url = url_join(r->api, "/blobs/", d->digest);
	CHECK_ALLOC(url);
	/* Registries often answer with a redirect to a storage host; libcurl
	 * keeps our Authorization header to the registry's own host. */
	struct http_request req = {.method = "GET", .url = url, .follow_redirects = true};
	int rc = reg_open(r, &req, &resp, out);
	if (!rc && !*out) {
		if (resp.status == 404)
			rc = error_set(ERR_NOT_FOUND, "blob %s is missing from %s", d->digest, r->ref_text);
		else
			rc = fail_answer(ERR_FAILURE, "GET", url, &resp);
	}
	http_response_free(&resp);
	free(url);
	return rc;
}

/* ---- blobs: uploading ----------------------------------------------------- */

static void slot_acquire(struct registry_transport *r)
{
	pthread_mutex_lock(&r->lock);
	while (r->slots == 0)
		pthread_cond_wait(&r->slot_free, &r->lock);
	r->slots--;
	pthread_mutex_unlock(&r->lock);
}

static void slot_release(struct registry_transport *r)
{
	pthread_mutex_lock(&r->lock);
	r->slots++;
	pthread_cond_signal(&r->slot_free);
	pthread_mutex_unlock(&r->lock);
}

static int pending_put(struct registry_transport *r, const char *digest, const char *location)
{
	int rc = 0;
	pthread_mutex_lock(&r->lock);
	struct pending_session *p = realloc(r->pending, (r->n_pending + 1) * sizeof(*p));
	if (!p || !(p[r->n_pending].location = strdup(location))) {
		if (p)
			r->pending = p;
		rc = error_oom();
	} else {
		r->pending = p;
		memcpy(p[r->n_pending].digest, digest, DIGEST_BUF);
		r->n_pending++;
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

static char *pending_take(struct registry_transport *r, const char *digest)
{
	char *loc = NULL;
	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < r->n_pending; i++)
		if (strcmp(r->pending[i].digest, digest) == 0) {
			loc = r->pending[i].location;
			r->pending[i] = r->pending[--r->n_pending];
			break;
		}
	pthread_mutex_unlock(&r->lock);
	return loc;
}

/* POST .../blobs/uploads/ -> 202 and the session's Location. */
static int start_upload(struct registry_transport *r, char **location, int64_t *min_chunk)
{
	struct http_response resp;
	int crc = connect_once(r);
	if (crc)
		return crc;
	char *url = url_join(r->api, "/blobs/uploads/", "");
	CHECK_ALLOC(url);
	struct http_request req = {.method = "POST", .url = url};
	int rc = reg_call(r, &req, &resp);
	if (rc) {
		free(url);
		return rc;
	}
	const char *loc = http_response_header(&resp, "Location");
	const char *min = http_response_header(&resp, "OCI-Chunk-Min-Length");
	if (resp.status < 200 || resp.status >= 300 || !loc) {
		rc = resp.status >= 200 && resp.status < 300
			     ? error_set(ERR_FAILURE, "POST %s: HTTP %ld without a Location", url, resp.status)
			     : fail_answer(ERR_FAILURE, "POST", url, &resp);
	} else if (!(*location = resolve_location(resp.effective_url ? resp.effective_url : url, loc))) {
		rc = error_oom();
	}
	*min_chunk = min ? strtoll(min, NULL, 10) : 0;
	http_response_free(&resp);
	free(url);
	return rc;
}

/* Whether an upload that failed this way is worth starting again. */
static bool restartable(int rc, const struct http_response *resp)
{
	if (rc)
		return true; /* no answer at all: the connection broke */
	return resp->status == 404 || resp->status == 400 || resp->status == 416 || resp->status >= 500;
}

static int check_stored_digest(const struct http_response *resp, const char *digest, const char *url)
{
	const char *got = http_response_header(resp, "Docker-Content-Digest");
	if (got && *got && strcmp(got, digest) != 0) {
		char u[1024];
		http_redact_url(u, sizeof(u), url);
		return error_set(ERR_CORRUPT, "PUT %s: the registry stored %s, not %s", u, got, digest);
	}
	return 0;
}

/* The PUT that closes an upload session under the digest, and its answer. */
static int put_closing_upload(struct registry_transport *r, const struct http_request *req, const char *digest,
			      bool *restart)
{
	struct http_response resp;
	int rc = reg_call(r, req, &resp);
	*restart = restartable(rc, &resp);
	if (!rc) {
		if (resp.status >= 200 && resp.status < 300)
			rc = check_stored_digest(&resp, digest, req->url);
		else
			rc = fail_answer(ERR_FAILURE, "PUT", req->url, &resp);
		http_response_free(&resp);
	}
	return rc;
}

/* One PUT of the whole blob to the session. */
static int put_whole(struct registry_transport *r, const char *location, int fd, const char *digest, int64_t size,
		     bool *restart)
{
	struct byte_range range = {fd, NULL, 0, size};
	const char *headers[] = {"Content-Type: application/octet-stream", NULL};
	char *url = with_query(location, "digest", digest);
	CHECK_ALLOC(url);
	struct http_request req = {
		.method = "PUT", .url = url, .headers = headers,
		.body_open = byte_range_open, .body_ctx = &range, .body_size = size,
	};
	int rc = put_closing_upload(r, &req, digest, restart);
	free(url);
	return rc;
}

/* The end of what an upload session holds, from a "Range: 0-N" header; -1 unknown. */
static int64_t range_end(const struct http_response *resp)
{
	const char *range = http_response_header(resp, "Range");
	const char *dash = range ? strchr(range, '-') : NULL;
	return dash ? strtoll(dash + 1, NULL, 10) : -1;
}

/* PATCH chunks of chunk_size (at least the registry's minimum), then a PUT
 * with the digest.  A chunk the registry refuses as out of order (416) is
 * resumed where the session says it stands. */
static int put_chunked(struct registry_transport *r, char **location, int fd, const char *digest, int64_t size,
		       int64_t min_chunk, bool *restart)
{
	int64_t chunk = r->chunk_size < min_chunk ? min_chunk : r->chunk_size, offset = 0;
	unsigned resyncs = 0;
	int rc = 0;
	*restart = false;
	while (offset < size) {
		struct http_response resp;
		int64_t n = size - offset < chunk ? size - offset : chunk;
		char content_range[96];
		snprintf(content_range, sizeof(content_range), "Content-Range: %lld-%lld", (long long)offset,
			 (long long)(offset + n - 1));
		const char *headers[] = {"Content-Type: application/octet-stream", content_range, NULL};
		struct byte_range range = {fd, NULL, offset, n};
		struct http_request req = {
			.method = "PATCH", .url = *location, .headers = headers,
			.body_open = byte_range_open, .body_ctx = &range, .body_size = n,
		};
		if ((rc = reg_call(r, &req, &resp))) {
			*restart = true;
			return rc;
		}
		const char *loc = http_response_header(&resp, "Location");
		if (resp.status == 416 && resyncs++ < 3) {
			/* Ask the session where it stands and go on from there. */
			http_response_free(&resp);
			struct http_request st = {.method = "GET", .url = *location};
			if ((rc = reg_call(r, &st, &resp))) {
				*restart = true;
				return rc;
			}
			int64_t end = resp.status == 204 ? range_end(&resp) : -2;
			if (end < -1) {
				rc = fail_answer(ERR_FAILURE, "GET", *location, &resp);
				*restart = true;
				http_response_free(&resp);
				return rc;
			}
			loc = http_response_header(&resp, "Location");
			offset = end + 1;
		} else if (resp.status == 202 || resp.status == 201 || resp.status == 204) {
			/* 201 is what ECR answers to a PATCH. */
			int64_t end = range_end(&resp);
			offset = end >= 0 ? end + 1 : offset + n;
		} else {
			*restart = restartable(0, &resp);
			rc = fail_answer(ERR_FAILURE, "PATCH", *location, &resp);
			http_response_free(&resp);
			return rc;
		}
		if (loc) {
			char *next = resolve_location(resp.effective_url ? resp.effective_url : *location, loc);
			if (!next) {
				http_response_free(&resp);
				return error_oom();
			}
			free(*location);
			*location = next;
		}
		http_response_free(&resp);
	}
	char *url = with_query(*location, "digest", digest);
	CHECK_ALLOC(url);
	struct http_request req = {.method = "PUT", .url = url, .body = "", .body_len = 0};
	rc = put_closing_upload(r, &req, digest, restart);
	free(url);
	return rc;
}

static int upload_blob(struct registry_transport *r, int fd, const char *digest, int64_t size)
{
	char *location = pending_take(r, digest);
	int rc = 0;
	for (unsigned attempt = 1;; attempt++) {
		int64_t min_chunk = 0;
		bool restart = true;
		if (!location && (rc = start_upload(r, &location, &min_chunk)))
			return rc;
		if (r->chunk_size > 0 && size > r->chunk_size)
			rc = put_chunked(r, &location, fd, digest, size, min_chunk, &restart);
		else
			rc = put_whole(r, location, fd, digest, size, &restart);
		free(location);
		location = NULL;
		if (!rc)
			return 0;
		/* The answer may be what got lost, not the blob. */
		struct error_state saved;
		int64_t have;
		error_save(&saved, rc);
		if (registry_blob_stat(&r->base, digest, &have) == 0 && have == size)
			return 0;
		if (!restart || attempt >= UPLOAD_TRIES)
			return error_restore(&saved);
		error_restore(&saved);
		progress_note(r->base.progress, "%s: upload of %s failed (%s); starting it again", r->ref_text, digest,
			      error_message());
	}
}

/* Sends a spooled blob: one upload at a time per slot (registry.upload-parallelism). */
static int registry_upload(void *ctx, const char *expected, const char *digest, int64_t size,
			   const struct spool *spool, bool *existed)
{
	struct registry_transport *r = ctx;
	if (strcmp(expected, digest) != 0) {
		/* Known only now (a re-encoded layer): the registry may have it. */
		int64_t have;
		int rc = registry_blob_stat(&r->base, digest, &have);
		if (rc == 0 && have == size) {
			*existed = true;
			return 0;
		}
		if (rc && rc != ERR_NOT_FOUND)
			return rc;
	}
	slot_acquire(r);
	int rc = upload_blob(r, spool_fd(spool), digest, size);
	slot_release(r);
	return rc;
}

static int registry_blob_create(struct transport *t, const struct descriptor *expected, struct blob_writer **out)
{
	return spooled_writer_new(out, expected, "registry upload", registry_upload, t);
}

/* Cross-repository mount: POST ?mount=<digest>&from=<repo>.  201 means
 * mounted; 202 means not, and the session it opened serves the upload. */
static int try_mount(struct registry_transport *r, const char *digest, const char *from)
{
	struct http_response resp;
	struct buffer scope = BUFFER_INIT, url = BUFFER_INIT;
	int rc = connect_once(r);
	if (rc)
		return rc;
	if (buffer_appendf(&scope, "repository:%s:pull", from) || buffer_appendf(&url, "%s/blobs/uploads/?mount=", r->api) ||
	    http_escape(&url, digest, false) || buffer_append_str(&url, "&from=") || http_escape(&url, from, true)) {
		rc = error_oom();
		goto out;
	}
	if ((rc = registry_auth_add_scope(r->auth, scope.data)))
		goto out;
	struct http_request req = {.method = "POST", .url = url.data};
	if ((rc = reg_call(r, &req, &resp)))
		goto out;
	const char *loc = http_response_header(&resp, "Location");
	if (resp.status == 201) {
		rc = 0;
	} else {
		if (resp.status == 202 && loc) {
			char *abs = resolve_location(resp.effective_url ? resp.effective_url : url.data, loc);
			if (abs)
				pending_put(r, digest, abs);
			free(abs);
		}
		rc = error_set(ERR_NOT_FOUND, "blob %s could not be mounted from %s", digest, from);
	}
	http_response_free(&resp);
out:
	buffer_free(&scope);
	buffer_free(&url);
	return rc;
}

static int registry_blob_link(struct transport *t, const struct descriptor *d, struct transport *from)
{
	struct registry_transport *r = (struct registry_transport *)t;
	if (transport_is_registry(from)) {
		struct registry_transport *f = (struct registry_transport *)from;
		if (strcmp(f->ref.domain, r->ref.domain) != 0 || f->insecure != r->insecure ||
		    strcmp(f->ref.path, r->ref.path) == 0)
			return ERR_NOT_FOUND;
		int rc = try_mount(r, d->digest, f->ref.path);
		if (rc && rc != ERR_NOT_FOUND)
			return rc;
		if (!rc)
			return 0;
	}
	/* BuildKit's hint on layers it never pulled: the repositories of this
	 * registry that have the blob. */
	char key[700];
	snprintf(key, sizeof(key), "containerd.io/distribution.source.%s", r->ref.domain);
	const char *repos = descriptor_annotation(d, key);
	for (const char *p = repos; p && *p;) {
		char repo[512];
		size_t n = strcspn(p, ",");
		snprintf(repo, sizeof(repo), "%.*s", (int)n, p);
		if (*repo && strcmp(repo, r->ref.path) != 0) {
			int rc = try_mount(r, d->digest, repo);
			if (rc != ERR_NOT_FOUND)
				return rc;
		}
		p += n + (p[n] == ',');
	}
	return error_set(ERR_NOT_FOUND, "blob %s: no repository to mount it from", d->digest);
}

/* ---- manifests ---------------------------------------------------------- */

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

int registry_get_manifest(struct transport *t, const char *which, size_t max, struct buffer *bytes,
			  struct descriptor *desc)
{
	struct registry_transport *r = (struct registry_transport *)t;
	struct http_response resp;
	const char *headers[] = {ACCEPT_MANIFESTS, NULL};
	char *url = NULL;
	int rc;
	if (!which)
		which = *r->ref.digest ? r->ref.digest : r->ref.tag;
	descriptor_init(desc);
	if ((rc = connect_once(r)))
		return rc;
	if (!(url = url_join(r->api, "/manifests/", which)))
		return error_oom();
	/* Resolve with HEAD, as BuildKit does (Docker Hub counts GETs). */
	struct http_request head = {.method = "HEAD", .url = url, .headers = headers, .follow_redirects = true};
	if ((rc = reg_call(r, &head, &resp)))
		goto out;
	if (resp.status == 404 && digest_is_valid(which) == 0) {
		/* A digest may name a blob rather than a manifest. */
		http_response_free(&resp);
		free(url);
		if (!(url = url_join(r->api, "/blobs/", which)))
			return error_oom();
		head.url = url;
		if ((rc = reg_call(r, &head, &resp)))
			goto out;
	}
	if (resp.status == 404) {
		rc = error_set(ERR_NOT_FOUND, "nothing at %s/%s%s%s in the registry", r->ref.domain, r->ref.path,
			       digest_is_valid(which) == 0 ? "@" : ":", which);
		goto out_resp;
	}
	if (resp.status != 200) {
		/* HEAD has no body: ask again with GET to read the registry's why. */
		http_response_free(&resp);
		struct http_request get = head;
		get.method = "GET";
		if ((rc = reg_call(r, &get, &resp)))
			goto out;
		rc = fail_answer(resp.status == 404 ? ERR_NOT_FOUND : ERR_FAILURE, "GET", url, &resp);
		goto out_resp;
	}
	const char *ct = http_response_header(&resp, "Content-Type");
	const char *dg = http_response_header(&resp, "Docker-Content-Digest");
	if (ct && (rc = descriptor_set_media_type(desc, ct)))
		goto out_resp;
	if (desc->media_type)
		strip_params(desc->media_type);
	if (dg && digest_is_valid(dg) == 0) {
		bool blob = strstr(url, "/blobs/") != NULL;
		memcpy(desc->digest, dg, DIGEST_BUF);
		free(url);
		if (!(url = url_join(r->api, blob ? "/blobs/" : "/manifests/", dg))) {
			rc = error_oom();
			goto out_resp;
		}
	} else if (digest_is_valid(which) == 0) {
		memcpy(desc->digest, which, DIGEST_BUF);
	}
	http_response_free(&resp);
	struct http_request get = {.method = "GET", .url = url, .headers = headers, .follow_redirects = true,
				   .capture_limit = max + 1};
	if ((rc = reg_call(r, &get, &resp)))
		goto out;
	if (resp.status != 200) {
		rc = fail_answer(resp.status == 404 ? ERR_NOT_FOUND : ERR_FAILURE, "GET", url, &resp);
		goto out_resp;
	}
	if (resp.body.len > max) {
		rc = error_set(ERR_FAILURE, "manifest %s of %s is larger than the %zu bytes allowed", which, r->ref_text,
			       max);
		goto out_resp;
	}
	char computed[DIGEST_BUF];
	if ((rc = digest_of_bytes(computed, resp.body.data ? resp.body.data : "", resp.body.len)))
		goto out_resp;
	if (*desc->digest && strcmp(computed, desc->digest) != 0) {
		rc = error_set(ERR_CORRUPT, "manifest %s of %s: its bytes hash to %s", desc->digest, r->ref_text, computed);
		goto out_resp;
	}
	memcpy(desc->digest, computed, DIGEST_BUF);
	desc->size = (int64_t)resp.body.len;
	if (!desc->media_type || !*desc->media_type || strcmp(desc->media_type, "application/json") == 0 ||
	    strcmp(desc->media_type, "application/octet-stream") == 0) {
		char *declared = media_type_in(resp.body.data ? resp.body.data : "", resp.body.len);
		free(desc->media_type);
		desc->media_type = declared;
	}
	buffer_reset(bytes);
	if ((rc = buffer_append(bytes, resp.body.data ? resp.body.data : "", resp.body.len)) ||
	    (rc = buffer_append(bytes, "", 0)))
		goto out_resp;
out_resp:
	http_response_free(&resp);
out:
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
	int crc = connect_once(r);
	if (crc)
		return crc;
	char *url = url_join(r->api, "/manifests/", tag ? tag : desc->digest);
	CHECK_ALLOC(url);
	struct http_request head = {.method = "HEAD", .url = url, .headers = head_headers};
	int rc = reg_call(r, &head, &resp);
	if (rc)
		goto out;
	const char *now = resp.status == 200 ? http_response_header(&resp, "Docker-Content-Digest") : NULL;
	bool same = now && strcmp(now, desc->digest) == 0;
	http_response_free(&resp);
	if (same)
		goto out;
	struct http_request put = {.method = "PUT", .url = url, .headers = put_headers, .body = bytes, .body_len = len};
	if ((rc = reg_call(r, &put, &resp)))
		goto out;
	if (resp.status >= 200 && resp.status < 300)
		rc = check_stored_digest(&resp, desc->digest, url);
	else
		rc = fail_answer(ERR_FAILURE, "PUT", url, &resp);
	http_response_free(&resp);
out:
	free(url);
	return rc;
}

/* ---- the cache document ------------------------------------------------- */

/* An image without a cache config: the caches its configs carry inline
 * (every platform of an index, recursively), merged. */
static int read_inline(struct registry_transport *r, const struct descriptor *desc, const char *bytes, size_t len,
		       int depth, struct cache **merged, size_t *images)
{
	struct cache_root root;
	int rc = cache_manifest_parse(&root, bytes, len);
	if (rc)
		return error_wrap(rc, "manifest %s of %s", desc->digest, r->ref_text);
	bool list = strcmp(root.media_type, MT_OCI_INDEX) == 0 || strcmp(root.media_type, MT_DOCKER_LIST) == 0;
	if (list) {
		for (size_t i = 0; i < root.n_blobs && !rc; i++) {
			struct buffer child = BUFFER_INIT;
			struct descriptor cd;
			if (depth >= INLINE_DEPTH_MAX) {
				rc = error_set(ERR_FAILURE, "%s: indexes nested too deep", r->ref_text);
				break;
			}
			rc = registry_get_manifest(&r->base, root.blobs[i].digest, REGISTRY_MANIFEST_MAX, &child, &cd);
			if (!rc)
				rc = read_inline(r, &cd, child.data, child.len, depth + 1, merged, images);
			descriptor_free(&cd);
			buffer_free(&child);
		}
		cache_root_free(&root);
		return rc;
	}
	if (!root.has_image_config || root.n_blobs == 0) {
		cache_root_free(&root); /* an attestation or an empty image: no cache here */
		return 0;
	}
	struct buffer config = BUFFER_INIT;
	struct cache *c = NULL;
	char what[800];
	snprintf(what, sizeof(what), "image %s@%s", r->ref_text, desc->digest);
	rc = transport_read_small_blob(&r->base, &root.image_config, IMAGE_CONFIG_MAX, &config);
	if (!rc)
		rc = inline_cache_from_image(&c, root.blobs, root.n_blobs, config.data, config.len, what);
	if (rc == ERR_NOT_FOUND) {
		progress_note(r->base.progress, "%s", error_message());
		rc = 0;
	} else if (!rc) {
		if ((rc = descriptor_copy(&c->source_root, desc)) || (rc = descriptor_copy(&c->source_config, &root.image_config)))
			goto out;
		(*images)++;
		if (!*merged) {
			*merged = c;
			c = NULL;
		} else {
			rc = cache_merge(*merged, c);
		}
	}
out:
	cache_free(c);
	buffer_free(&config);
	cache_root_free(&root);
	return rc;
}

static int registry_read_cache(struct transport *t, struct cache **out)
{
	struct registry_transport *r = (struct registry_transport *)t;
	struct buffer bytes = BUFFER_INIT;
	struct descriptor desc;
	struct cache_root root;
	int rc = registry_get_manifest(t, NULL, REGISTRY_MANIFEST_MAX, &bytes, &desc);
	if (rc == ERR_NOT_FOUND)
		return error_wrap(rc, "no cache at %s", r->ref_text);
	if (rc)
		return rc;
	if ((rc = cache_manifest_parse(&root, bytes.data, bytes.len))) {
		error_wrap(rc, "%s (%s)", r->ref_text, desc.digest);
		goto out;
	}
	bool has_config = root.has_config;
	cache_root_free(&root);
	if (has_config) {
		/* BuildKit's limit for cache roots. */
		if (bytes.len > CACHE_DOCUMENT_MAX) {
			rc = error_set(ERR_FAILURE, "cache root %s of %s is %zu bytes, more than BuildKit reads (%u)",
				       desc.digest, r->ref_text, bytes.len, CACHE_DOCUMENT_MAX);
			goto out;
		}
		rc = cache_load_from_root(out, t, &desc, bytes.data, bytes.len);
		goto out;
	}
	struct cache *merged = NULL;
	size_t images = 0;
	rc = read_inline(r, &desc, bytes.data, bytes.len, 0, &merged, &images);
	if (!rc && !merged)
		rc = error_set(ERR_NOT_FOUND, "no cache at %s: %s is an image without an inline cache (%s)", r->ref_text,
			       desc.digest, desc.media_type ? desc.media_type : "unknown type");
	if (!rc && images > 1 && (rc = cache_normalize(merged, NULL)))
		goto out;
	if (rc) {
		cache_free(merged);
		goto out;
	}
	*out = merged;
out:
	descriptor_free(&desc);
	buffer_free(&bytes);
	return rc;
}

static int registry_write_cache(struct transport *t, const struct cache *c, const struct export_form *form)
{
	struct registry_transport *r = (struct registry_transport *)t;
	struct buffer root = BUFFER_INIT;
	struct descriptor root_desc;
	descriptor_init(&root_desc);
	int rc = cache_store_config_and_root(t, c, &form->root, &root, &root_desc);
	if (!rc)
		rc = registry_put_manifest(t, r->ref.tag, &root_desc, root.data, root.len);
	if (!rc)
		progress_note(t->progress, "%s: cache root %s (%s, %zu bytes)", r->ref_text, root_desc.digest,
			      root_desc.media_type, root.len);
	buffer_free(&root);
	descriptor_free(&root_desc);
	return rc;
}

/* ---- opening ------------------------------------------------------------ */

static void registry_free(struct transport *t)
{
	struct registry_transport *r = (struct registry_transport *)t;
	registry_auth_free(r->auth);
	http_client_free(r->http);
	reference_free(&r->ref);
	for (size_t i = 0; i < r->n_pending; i++)
		free(r->pending[i].location);
	free(r->pending);
	free(r->origin);
	free(r->api);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->slot_free);
	free(r);
}

static const struct transport_ops registry_ops = {
	.blob_stat = registry_blob_stat,
	.blob_open = registry_blob_open,
	.blob_create = registry_blob_create,
	.blob_link = registry_blob_link,
	.read_cache = registry_read_cache,
	.write_cache = registry_write_cache,
	.free = registry_free,
	.store = &registry_store_ops,
};

static int open_ref(struct registry_transport **out, const char *ref, bool insecure, enum transport_direction dir,
		    struct progress *progress)
{
	struct registry_transport *r = calloc(1, sizeof(*r));
	CHECK_ALLOC(r);
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->slot_free, NULL);
	r->base.ops = &registry_ops;
	r->base.progress = progress;
	r->slots = DEFAULT_UPLOAD_PARALLELISM;
	r->insecure = insecure;
	int rc = reference_parse(&r->ref, ref);
	if (rc)
		goto fail;
	reference_format(r->ref_text, sizeof(r->ref_text), &r->ref);
	/* Loopback registries speak plain HTTP, as Docker assumes; others
	 * HTTPS, verified unless registry.insecure=true (which also allows
	 * plain HTTP: see probe_scheme). */
	bool plain = !insecure && reference_domain_is_loopback(r->ref.domain);
	if ((rc = set_scheme(r, plain ? "http" : "https")))
		goto fail;
	snprintf(r->scope, sizeof(r->scope), "repository:%s:%s", r->ref.path,
		 dir == TRANSPORT_SOURCE ? "pull" : "pull,push");
	*out = r;
	return 0;
fail:
	registry_free(&r->base);
	return rc;
}

int registry_open_ref(struct transport **out, const char *ref, bool insecure, enum transport_direction dir,
		      struct progress *progress)
{
	struct registry_transport *r = NULL;
	int rc = open_ref(&r, ref, insecure, dir, progress);
	if (rc)
		return rc;
	if (!(r->base.display = strdup(r->ref_text))) {
		registry_free(&r->base);
		return error_oom();
	}
	*out = &r->base;
	return 0;
}

static int registry_open(struct transport **out, struct cache_options *o, enum transport_direction dir)
{
	const char *ref = options_get(o, "ref");
	bool insecure;
	int chunk = 0, parallel = DEFAULT_UPLOAD_PARALLELISM;
	bool chunk_set = false, parallel_set = false;
	if (!ref || !*ref)
		return error_set(ERR_USAGE, "type=registry requires ref=NAME:TAG (for example ref=ghcr.io/org/app:buildcache)");
	if (options_get_bool(o, "registry.insecure", false, -1, &insecure))
		return ERR_USAGE;
	if (dir == TRANSPORT_DESTINATION) {
		if (options_get_int(o, "registry.chunk-size", &chunk_set, &chunk) ||
		    options_get_int(o, "registry.upload-parallelism", &parallel_set, &parallel))
			return ERR_USAGE;
		if (chunk_set && chunk < 0)
			return error_set(ERR_USAGE, "registry.chunk-size=%d is negative", chunk);
		if (parallel_set && (parallel < 1 || parallel > 256))
			return error_set(ERR_USAGE, "registry.upload-parallelism=%d is not from 1 to 256", parallel);
	}
	struct registry_transport *r = NULL;
	int rc = open_ref(&r, ref, insecure, dir, NULL);
	if (rc)
		return rc;
	if (dir == TRANSPORT_DESTINATION && *r->ref.digest) {
		registry_free(&r->base);
		return error_set(ERR_USAGE, "ref=%s: a cache is pushed under a tag, not a digest", ref);
	}
	r->chunk_size = chunk;
	r->slots = (unsigned)parallel;
	if ((rc = transport_init(&r->base, &registry_ops, o))) {
		registry_free(&r->base);
		return rc;
	}
	*out = &r->base;
	return 0;
}

const struct transport_handler registry_transport_handler = {
	.type = "registry",
	.can_read = true,
	.can_write = true,
	.has_root_form = true,
	.open = registry_open,
};

/* ---- for registry_store.c ------------------------------------------------ */

int registry_api_call(struct transport *t, const char *method, const char *api_path, const char *action,
		      size_t capture_limit, struct http_response *resp)
{
	struct registry_transport *r = (struct registry_transport *)t;
	const char *headers[] = {ACCEPT_MANIFESTS, NULL};
	char scope[800];
	int rc = connect_once(r);
	if (rc)
		return rc;
	if (action) {
		snprintf(scope, sizeof(scope), "repository:%s:%s", r->ref.path, action);
		if ((rc = registry_auth_add_scope(r->auth, scope)))
			return rc;
	}
	char *url = url_join(r->api, api_path, "");
	CHECK_ALLOC(url);
	struct http_request req = {.method = method, .url = url, .headers = headers, .follow_redirects = true,
				   .capture_limit = capture_limit};
	rc = reg_call(r, &req, resp);
	free(url);
	return rc;
}

void registry_describe_answer(char *out, size_t size, const struct http_response *resp)
{
	describe_answer(out, size, resp);
}

int registry_select_tag(struct transport *t, const char *tag)
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
