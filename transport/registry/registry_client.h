/* Inside the registry backend (shared by its files, not by other
 * backends): one repository on one registry -- its URLs, the HTTP client
 * and authorisation it connects on first use, and the requests every
 * registry file sends through them. */
#ifndef CACHECTL_REGISTRY_CLIENT_H
#define CACHECTL_REGISTRY_CLIENT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/util/error.h"
#include "core/util/semaphore.h"
#include "core/util/stream.h"
#include "transport/http/http.h"
#include "transport/registry/registry_certs.h"
#include "transport/registry/reference.h"
#include "transport/registry/registry_auth.h"
#include "transport/transport.h"

#define DEFAULT_UPLOAD_PARALLELISM 4

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
	struct registry_certs certs; /* its certs.d folder: extra CAs, client certificate */
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
	struct semaphore upload_slots; /* registry.upload-parallelism */
	/* Upload sessions a refused cross-repository mount opened (202): the
	 * upload of that blob uses them instead of starting another. */
	struct pending_session *pending;
	size_t n_pending, cap_pending;
};

/* The origin and API URLs for scheme ("https" or "http"). */
int registry_set_scheme(struct registry_transport *r, const char *scheme);

/* Makes the HTTP client on first use (when the progress display is
 * known) and settles the scheme; every operation calls it before it
 * builds a URL. */
int registry_connect(struct registry_transport *r);

/* One request with the registry's authorisation (a 401 answered by the
 * challenge dance); resp is the answer, whatever its status. */
int registry_call(struct registry_transport *r, const struct http_request *in, struct http_response *resp);

/* A GET whose 2xx body streams (*body); for other answers *body is NULL
 * and resp holds the answer. */
int registry_call_streamed(struct registry_transport *r, const struct http_request *in, struct http_response *resp,
			   struct byte_source **body);

/* Sets the error for an answer that is not the one wanted: the method, the
 * URL without credentials and what the registry said went wrong. */
int registry_fail_answer(int code, const char *method, const char *url, const struct http_response *resp);

/* ERR_CORRUPT when the registry says it stored other bytes than digest. */
int registry_check_stored_digest(const struct http_response *resp, const char *digest, const char *url);

/* URLs (malloc'ed, NULL when out of memory): a + b + c; the absolute URL a
 * Location header means; url with ?param=value (escaped) added. */
char *registry_url_join(const char *a, const char *b, const char *c);
char *registry_resolve_location(const char *base, const char *loc);
char *registry_url_with_query(const char *url, const char *param, const char *value);

/* registry.c: 0 and *size when the repository has the blob, ERR_NOT_FOUND when not. */
int registry_blob_stat(struct transport *t, const char *digest, int64_t *size);

/* registry_upload.c: blob writers that upload on commit, and cross-repository mounts. */
int registry_blob_create(struct transport *t, const struct descriptor *expected, struct blob_writer **out);
int registry_blob_link(struct transport *t, const struct descriptor *d, struct transport *from);

#endif
