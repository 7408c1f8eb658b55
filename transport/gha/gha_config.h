/* type=gha settings: the options BuildKit takes, the environment buildctl
 * reads them from in a workflow, the API version choice, and the key
 * naming that makes cachectl's entries and BuildKit's interchangeable. */
#ifndef CACHECTL_GHA_CONFIG_H
#define CACHECTL_GHA_CONFIG_H

#include "core/util/error.h"

#include <stdbool.h>

#include "core/util/buffer.h"
#include "transport/options.h"
#include "transport/gha/runtime_token.h"

/* The cache version of every entry BuildKit writes: hex sha256 of the 20
 * bytes "|go-actionscache-1.0" (the library ignores the key). */
#define GHA_CACHE_VERSION "693bb7016429d80366022f036f84856888c9f13e00145f5f6f4dce303a38d6f2"
#define GHA_BLOB_KEY_PREFIX "buildkit-blob-1-"
#define GHA_DEFAULT_API_URL "https://api.github.com"

struct gha_config {
	int api;             /* 1 or 2 */
	char *url;           /* service base URL, without a trailing '/' */
	char *token;         /* the runtime token: a credential, never printed */
	struct runtime_token claims;
	char *scope;         /* scope= attribute: names the index (default buildkit) */
	double timeout;      /* seconds a request may spend waiting out throttling */
	char *repository;    /* owner/name, with ghtoken: REST listing of keys */
	char *ghtoken;       /* a credential, never printed */
	char *api_url;       /* GitHub REST base ($GITHUB_API_URL) */
	int pace_entries;    /* at most this many new entries ... */
	double pace_window;  /* ... per this many seconds */
	long part_size;      /* v1 PATCH chunk and v2 block size */
};

/* Reads scope, url, url_v2, token, version, timeout, repository and ghtoken
 * from o with buildctl's environment fallbacks (ACTIONS_CACHE_URL,
 * ACTIONS_RESULTS_URL, ACTIONS_RUNTIME_TOKEN, ACTIONS_CACHE_SERVICE_V2)
 * and BuildKit's protocol choice, then the tuning variables
 * CACHECTL_GHA_ENTRY_RATE (N/SECONDS) and CACHECTL_GHA_PART_SIZE. */
CACHECTL_MUST_CHECK int gha_config_resolve(struct gha_config *out, struct cache_options *o, int64_t now);
void gha_config_free(struct gha_config *c);

/* BuildKit's daemon rule: which API and URL, given what the options and
 * the environment supplied (version 0: not given). */
CACHECTL_MUST_CHECK int gha_choose_api(int *api, const char **url, int version, const char *url_v1, const char *url_v2);

/* buildkit-blob-1-<digest> */
CACHECTL_MUST_CHECK int gha_blob_key(struct buffer *out, const char *digest);
/* index-<scope>-1-<first 8 hex of sha256(token scope)>, without the #n */
CACHECTL_MUST_CHECK int gha_index_key(struct buffer *out, const char *scope_attr, const char *token_scope);

#endif
