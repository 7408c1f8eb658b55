/* type=registry: a cache in one repository of an OCI distribution registry,
 * as BuildKit pushes and pulls it (see docs/registry.md).  Requests go
 * through registry_client.c, uploads through registry_upload.c, manifests
 * through registry_manifest.c; an image carrying its cache inline is read
 * by inline_import.c.
 *
 * The root document goes last, under the tag, after every blob is in: a
 * failed push never leaves the tag pointing at missing blobs. */
#include "transport/registry/registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/error.h"
#include "core/util/progress.h"
#include "formats/cache_manifest.h"
#include "transport/cache_io.h"
#include "transport/engine/export_settings.h"
#include "transport/registry/inline_import.h"
#include "transport/registry/registry_client.h"

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

/* ---- blobs: presence and reading ---------------------------------------- */

int registry_blob_stat(struct transport *t, const char *digest, int64_t *size)
{
	struct registry_transport *r = (struct registry_transport *)t;
	struct http_response resp;
	int crc = registry_connect(r);
	if (crc)
		return crc;
	char *url = registry_url_join(r->api, "/blobs/", digest);
	CHECK_ALLOC(url);
	struct http_request req = {.method = "HEAD", .url = url, .follow_redirects = true};
	int rc = registry_call(r, &req, &resp);
	if (!rc) {
		if (resp.status == 200) {
			const char *cl = http_response_header(&resp, "Content-Length");
			*size = cl ? strtoll(cl, NULL, 10) : -1;
		} else if (resp.status == 404 || resp.status == 401 || resp.status == 403) {
			/* Absent -- or not ours to see, which for a push means the
			 * same: upload it (as containerd's pusher goes on). */
			rc = error_set(ERR_NOT_FOUND, "blob %s is not in %s", digest, r->ref_text);
		} else {
			rc = registry_fail_answer(ERR_FAILURE, "HEAD", url, &resp);
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
	int crc = registry_connect(r);
	if (crc)
		return crc;
	char *url = registry_url_join(r->api, "/blobs/", d->digest);
	CHECK_ALLOC(url);
	/* Registries often answer with a redirect to a storage host; libcurl
	 * keeps our Authorization header to the registry's own host. */
	struct http_request req = {.method = "GET", .url = url, .follow_redirects = true};
	int rc = registry_call_streamed(r, &req, &resp, out);
	if (!rc && !*out) {
		if (resp.status == 404)
			rc = error_set(ERR_NOT_FOUND, "blob %s is missing from %s", d->digest, r->ref_text);
		else
			rc = registry_fail_answer(ERR_FAILURE, "GET", url, &resp);
	}
	http_response_free(&resp);
	free(url);
	return rc;
}

/* ---- the cache document ------------------------------------------------- */

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
	rc = inline_import_read(t, &desc, bytes.data, bytes.len, out);
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
	registry_certs_free(&r->certs);
	reference_free(&r->ref);
	for (size_t i = 0; i < r->n_pending; i++)
		free(r->pending[i].location);
	free(r->pending);
	free(r->origin);
	free(r->api);
	pthread_mutex_destroy(&r->lock);
	semaphore_destroy(&r->upload_slots);
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
	semaphore_init(&r->upload_slots, DEFAULT_UPLOAD_PARALLELISM);
	r->base.ops = &registry_ops;
	r->base.progress = progress;
	r->insecure = insecure;
	int rc = reference_parse(&r->ref, ref);
	if (rc)
		goto fail;
	reference_format(r->ref_text, sizeof(r->ref_text), &r->ref);
	if ((rc = registry_certs_find(&r->certs, r->ref.domain)))
		goto fail;
	/* Loopback registries speak plain HTTP, as Docker assumes, unless
	 * they have a certs.d folder; others HTTPS, verified unless
	 * registry.insecure=true (which also allows plain HTTP: see
	 * probe_scheme). */
	bool plain = !insecure && !r->certs.dir && reference_domain_is_loopback(r->ref.domain);
	if ((rc = registry_set_scheme(r, plain ? "http" : "https")))
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
	semaphore_set_count(&r->upload_slots, (unsigned)parallel);
	if ((rc = transport_init(&r->base, &registry_ops, o)) ||
	    (rc = transport_set_location(&r->base, "registry:%s", r->ref_text))) {
		free(r->base.display);
		registry_free(&r->base);
		return rc;
	}
	*out = &r->base;
	return 0;
}

static const struct option_key registry_keys[] = {
	{.name = "ref", .directions = OPTION_BOTH},
	{.name = "registry.insecure", .directions = OPTION_BOTH},
	{.name = "registry.chunk-size", .directions = OPTION_DESTINATION},
	{.name = "registry.upload-parallelism", .directions = OPTION_DESTINATION},
	ROOT_FORM_OPTION_KEYS,
	{.name = NULL},
};

const struct transport_handler registry_transport_handler = {
	.type = "registry",
	.synopsis = "ref=NAME:TAG[,registry.insecure=true]",
	.summary = "registry (docs/registry.md)",
	.can_read = true,
	.can_write = true,
	.keys = registry_keys,
	.export_settings = export_settings_read_root_form,
	.open = registry_open,
};

