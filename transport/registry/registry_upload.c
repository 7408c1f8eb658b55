/* Uploads to a registry.
 *
 * Blobs are spooled to an unlinked temporary file while the engine streams
 * them in, and uploaded when the writer commits -- once the digest is
 * known.  That is the only way a re-encoded layer (whose digest exists only
 * at the end) can be checked for presence before its bytes are sent; it
 * lets every upload be one POST and one PUT of the whole blob, which every
 * registry accepts (chunked PATCH uploads are opt-in, registry.chunk-size,
 * for proxies that cap request bodies); and a PUT that fails half-way is
 * sent again from the spool, exactly, as often as the retry policy allows.
 * The price is one write and one read of each new blob on local disk. */
#include "transport/registry/registry_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/array_grow.h"
#include "core/util/buffer.h"
#include "core/util/progress.h"
#include "transport/registry/registry.h"
#include "transport/spooled_writer.h"

#define UPLOAD_TRIES 3

static int pending_put(struct registry_transport *r, const char *digest, const char *location)
{
	int rc = 0;
	pthread_mutex_lock(&r->lock);
	if (ARRAY_RESERVE(r->pending, r->cap_pending, r->n_pending + 1) ||
	    !(r->pending[r->n_pending].location = strdup(location))) {
		rc = error_oom();
	} else {
		struct pending_session *p = r->pending;
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
	int crc = registry_connect(r);
	if (crc)
		return crc;
	char *url = registry_url_join(r->api, "/blobs/uploads/", "");
	CHECK_ALLOC(url);
	struct http_request req = {.method = "POST", .url = url};
	int rc = registry_call(r, &req, &resp);
	if (rc) {
		free(url);
		return rc;
	}
	const char *loc = http_response_header(&resp, "Location");
	const char *min = http_response_header(&resp, "OCI-Chunk-Min-Length");
	if (resp.status < 200 || resp.status >= 300 || !loc) {
		rc = resp.status >= 200 && resp.status < 300
			     ? error_set(ERR_FAILURE, "POST %s: HTTP %ld without a Location", url, resp.status)
			     : registry_fail_answer(ERR_FAILURE, "POST", url, &resp);
	} else if (!(*location = registry_resolve_location(resp.effective_url ? resp.effective_url : url, loc))) {
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


/* The PUT that closes an upload session under the digest, and its answer. */
static int put_closing_upload(struct registry_transport *r, const struct http_request *req, const char *digest,
			      bool *restart)
{
	struct http_response resp;
	int rc = registry_call(r, req, &resp);
	*restart = restartable(rc, &resp);
	if (!rc) {
		if (resp.status >= 200 && resp.status < 300)
			rc = registry_check_stored_digest(&resp, digest, req->url);
		else
			rc = registry_fail_answer(ERR_FAILURE, "PUT", req->url, &resp);
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
	char *url = registry_url_with_query(location, "digest", digest);
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
		if ((rc = registry_call(r, &req, &resp))) {
			*restart = true;
			return rc;
		}
		const char *loc = http_response_header(&resp, "Location");
		if (resp.status == 416 && resyncs++ < 3) {
			/* Ask the session where it stands and go on from there. */
			http_response_free(&resp);
			struct http_request st = {.method = "GET", .url = *location};
			if ((rc = registry_call(r, &st, &resp))) {
				*restart = true;
				return rc;
			}
			int64_t end = resp.status == 204 ? range_end(&resp) : -2;
			if (end < -1) {
				rc = registry_fail_answer(ERR_FAILURE, "GET", *location, &resp);
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
			rc = registry_fail_answer(ERR_FAILURE, "PATCH", *location, &resp);
			http_response_free(&resp);
			return rc;
		}
		if (loc) {
			char *next = registry_resolve_location(resp.effective_url ? resp.effective_url : *location, loc);
			if (!next) {
				http_response_free(&resp);
				return error_oom();
			}
			free(*location);
			*location = next;
		}
		http_response_free(&resp);
	}
	char *url = registry_url_with_query(*location, "digest", digest);
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
	semaphore_acquire(&r->upload_slots);
	int rc = upload_blob(r, spool_fd(spool), digest, size);
	semaphore_release(&r->upload_slots);
	return rc;
}

int registry_blob_create(struct transport *t, const struct descriptor *expected, struct blob_writer **out)
{
	return spooled_writer_new(out, expected, "registry upload", registry_upload, t);
}

/* Cross-repository mount: POST ?mount=<digest>&from=<repo>.  201 means
 * mounted; 202 means not, and the session it opened serves the upload. */
static int try_mount(struct registry_transport *r, const char *digest, const char *from)
{
	struct http_response resp;
	struct buffer scope = BUFFER_INIT, url = BUFFER_INIT;
	int rc = registry_connect(r);
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
	if ((rc = registry_call(r, &req, &resp)))
		goto out;
	const char *loc = http_response_header(&resp, "Location");
	if (resp.status == 201) {
		rc = 0;
	} else {
		if (resp.status == 202 && loc) {
			char *abs = registry_resolve_location(resp.effective_url ? resp.effective_url : url.data, loc);
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

int registry_blob_link(struct transport *t, const struct descriptor *d, struct transport *from)
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

