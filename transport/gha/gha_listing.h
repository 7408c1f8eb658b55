/* GitHub's REST listing of a repository's cache entries
 * (GET /repos/<owner>/<name>/actions/caches), which lets an export learn
 * which blobs exist with one request per 100 entries instead of one lookup
 * per blob.  Needs a GitHub token (ghtoken=) besides the runtime token. */
#ifndef CACHECTL_GHA_LISTING_H
#define CACHECTL_GHA_LISTING_H

#include "core/util/error.h"

#include "core/util/strmap.h"
#include "transport/http/http.h"

/* Adds key -> size of every entry of `ref` whose key starts with prefix
 * and whose version is `version` to *out; *requests counts the pages. */
CACHECTL_MUST_CHECK int gha_list_entries(struct strmap *out, struct http_client *http, const char *api_url, const char *repository,
		     const char *ghtoken, const char *ref, const char *prefix, const char *version,
		     unsigned *requests);

#endif
