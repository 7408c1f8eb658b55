/* The GitHub Actions cache service as the gha backend needs it: look keys
 * up, save an entry (reserve, upload, commit) and stream one back.  Two
 * implementations: API v1 (REST, gha_v1.c) and API v2 (Twirp + Azure Blob,
 * gha_v2.c).  Every entry is stored with BuildKit's fixed cache version. */
#ifndef CACHECTL_GHA_SERVICE_H
#define CACHECTL_GHA_SERVICE_H

#include "core/util/error.h"

#include <stdbool.h>

#include "core/util/buffer.h"
#include "core/util/stream.h"
#include "transport/gha/entry_pacer.h"
#include "transport/http/http.h"
#include "core/util/spool.h"

struct progress;

/* A lookup's answer: the key that matched and where to download it. */
struct gha_hit {
	char *key;
	char *url;
};
void gha_hit_free(struct gha_hit *h);

struct gha_service;

struct gha_service_ops {
	/* The newest entry whose key starts with one of keys (tried in order,
	 * exact matches first); ERR_NOT_FOUND when none. */
	int (*lookup)(struct gha_service *s, const char *const *keys, size_t n, struct gha_hit *hit);
	/* Reserves key, uploads body and commits it.  *existed: the key was
	 * taken already (entries are immutable), nothing was uploaded. */
	int (*save)(struct gha_service *s, const char *key, const struct byte_range *body, bool *existed);
	/* Streams an entry a lookup found; an expired download URL is
	 * refreshed by looking the key up again. */
	int (*open)(struct gha_service *s, struct gha_hit *hit, struct byte_source **out);
	void (*free)(struct gha_service *s);
};

struct gha_service {
	const struct gha_service_ops *ops;
	struct http_client *http;   /* not owned */
	char *base;                 /* API base URL, ending in '/' */
	char *auth;                 /* "Authorization: Bearer <token>" (a credential) */
	struct entry_pacer *pacer;  /* not owned */
	struct progress *progress;
	long part_size;
	const char *name;           /* "gha v1" / "gha v2", for messages */
};

struct gha_service_config {
	const char *url;   /* service URL without a trailing '/' */
	const char *token;
	struct http_client *http;
	struct entry_pacer *pacer;
	struct progress *progress;
	long part_size;
};

CACHECTL_MUST_CHECK int gha_v1_new(struct gha_service **out, const struct gha_service_config *cfg);
CACHECTL_MUST_CHECK int gha_v2_new(struct gha_service **out, const struct gha_service_config *cfg);

static inline void gha_service_free(struct gha_service *s)
{
	if (s)
		s->ops->free(s);
}

/* ---- shared by both versions ---- */

CACHECTL_MUST_CHECK int gha_service_init(struct gha_service *s, const struct gha_service_ops *ops, const struct gha_service_config *cfg,
		     const char *api_path, const char *name);
void gha_service_clear(struct gha_service *s);

/* An error answer says the entry exists: type key *AlreadyExists*, Twirp
 * code already_exists, or a message containing "already exists". */
bool gha_answer_already_exists(const struct http_response *r);

/* ERR_FAILURE "<what>: HTTP <status>: <message from the body>" (the body's
 * message, never a header or a URL's signature). */
CACHECTL_MUST_CHECK int gha_answer_error(const struct gha_service *s, const char *what, const struct http_response *r);

/* Streams url (no credentials sent); *status gets a non-2xx answer's status
 * (then *out is NULL and the call returns 0). */
CACHECTL_MUST_CHECK int gha_download(struct gha_service *s, const char *url, const char *const *headers, struct byte_source **out,
		 long *status);

#endif
