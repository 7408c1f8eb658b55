/* type=gha as a store, through GitHub's REST API for caches
 * (docs.github.com: "REST API endpoints for GitHub Actions cache"):
 *   GET    /repos/{owner}/{repo}/actions/caches?ref=&page=&per_page=   list
 *   DELETE /repos/{owner}/{repo}/actions/caches/{cache_id}            delete one
 *   GET    /repos/{owner}/{repo}/actions/cache/usage                  usage
 * with ghtoken= and repository=.  The store is the entries of the ref the
 * runtime token writes to (the job's branch); a cache is one scope= there:
 * its newest index-<scope>-1-<h8>#<n>.  Superseded #n indexes are
 * leftovers prune deletes; entries of other refs are never touched (their
 * indexes cannot be read from this job). */
#ifndef CACHECTL_GHA_STORE_H
#define CACHECTL_GHA_STORE_H

#include "core/model/cache.h"
#include "transport/gha/gha_config.h"
#include "transport/http/http.h"
#include "transport/transport.h"

extern const struct store_ops gha_store_ops;

/* From gha.c: the resolved settings and the HTTP client (made on first use). */
int gha_store_access(struct transport *t, struct gha_config **cfg, struct http_client **http);
/* The newest index of the selected scope= in the token's write scope. */
int gha_read_write_scope(struct transport *t, struct cache **out);

#endif
