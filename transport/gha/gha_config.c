#include "transport/gha/gha_config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/digest.h"
#include "core/util/duration.h"
#include "core/util/error.h"

#define RESULTS_HOST "results-receiver.actions.githubusercontent.com"

void gha_config_free(struct gha_config *c)
{
	free(c->url);
	free(c->token);
	runtime_token_free(&c->claims);
	free(c->scope);
	free(c->repository);
	free(c->ghtoken);
	free(c->api_url);
	memset(c, 0, sizeof(*c));
}

int gha_choose_api(int *api, const char **url, int version, const char *url_v1, const char *url_v2)
{
	if (version != 1 && url_v2 && *url_v2) {
		*api = 2;
		*url = url_v2;
		return 0;
	}
	if (!url_v1 || !*url_v1)
		return error_set(ERR_USAGE, "url not set for github actions cache (url=, url_v2=, "
					    "$ACTIONS_CACHE_URL or $ACTIONS_RESULTS_URL)");
	*url = url_v1;
	if (version == 0)
		*api = strstr(url_v1, RESULTS_HOST) ? 2 : 1;
	else
		*api = version > 1 ? 2 : 1;
	return 0;
}

int gha_blob_key(struct buffer *out, const char *digest)
{
	buffer_reset(out);
	return buffer_appendf(out, "%s%s", GHA_BLOB_KEY_PREFIX, digest);
}

int gha_index_key(struct buffer *out, const char *scope_attr, const char *token_scope)
{
	int rc;
	char d[DIGEST_BUF];
	const char *s = token_scope ? token_scope : "";
	if ((rc = digest_of_bytes(d, s, strlen(s))))
		return rc;
	buffer_reset(out);
	return buffer_appendf(out, "index-%s-1-%.8s", scope_attr, digest_hex(d));
}

static bool env_true(const char *name)
{
	/* Go's strconv.ParseBool, true side. */
	static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True", NULL};
	const char *v = getenv(name);
	for (size_t i = 0; v && yes[i]; i++)
		if (strcmp(v, yes[i]) == 0)
			return true;
	return false;
}

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

static int dup_trimmed(char **out, const char *url)
{
	size_t n = strlen(url);
	while (n && url[n - 1] == '/')
		n--;
	*out = strndup(url, n);
	return *out ? 0 : error_oom();
}

static int read_tuning(struct gha_config *c)
{
	const char *rate = env("CACHECTL_GHA_ENTRY_RATE");
	const char *part = env("CACHECTL_GHA_PART_SIZE");
	c->pace_entries = 200; /* GitHub's documented limit: 200 new entries a minute */
	c->pace_window = 60;
	c->part_size = 32L << 20;
	if (rate) {
		char *end;
		errno = 0;
		long n = strtol(rate, &end, 10);
		double w = *end == '/' ? strtod(end + 1, &end) : -1;
		if (errno || n < 1 || n > 100000 || *end || w <= 0)
			return error_set(ERR_USAGE, "CACHECTL_GHA_ENTRY_RATE=\"%s\" is not N/SECONDS (e.g. 200/60)", rate);
		c->pace_entries = (int)n;
		c->pace_window = w;
	}
	if (part) {
		char *end;
		errno = 0;
		long n = strtol(part, &end, 10);
		/* GitHub refuses v1 chunks above 32 MiB. */
		if (errno || *end || n < 65536 || n > (32L << 20))
			return error_set(ERR_USAGE, "CACHECTL_GHA_PART_SIZE=\"%s\" is not a byte count from 65536 to 33554432",
					 part);
		c->part_size = n;
	}
	return 0;
}

int gha_config_resolve(struct gha_config *out, struct cache_options *o, int64_t now)
{
	memset(out, 0, sizeof(*out));
	const char *scope = options_get(o, "scope");
	const char *url = options_get(o, "url");
	const char *url_v2 = options_get(o, "url_v2");
	const char *token = options_get(o, "token");
	const char *version_text = options_get(o, "version");
	const char *timeout = options_get(o, "timeout");
	const char *repository = options_get(o, "repository");
	const char *ghtoken = options_get(o, "ghtoken");
	int version = 0, rc;
	if (version_text) {
		char *end;
		errno = 0;
		long v = strtol(version_text, &end, 10);
		if (!*version_text || *end || errno || v > 1000000 || v < -1000000)
			return error_set(ERR_USAGE, "type=gha: version=\"%s\" is not an integer", version_text);
		version = v < 0 ? 0 : (int)v;
	}
	/* buildctl's client-side fallbacks. */
	int steer = version ? version : (env_true("ACTIONS_CACHE_SERVICE_V2") ? 2 : 0);
	if (steer > 1 && !url_v2)
		url_v2 = env("ACTIONS_RESULTS_URL");
	if (!url)
		url = env("ACTIONS_CACHE_URL") ? env("ACTIONS_CACHE_URL") : env("ACTIONS_RESULTS_URL");
	if (!token || !*token)
		token = env("ACTIONS_RUNTIME_TOKEN");
	if (!token)
		return error_set(ERR_USAGE, "token not set for github actions cache (token= or $ACTIONS_RUNTIME_TOKEN)");
	const char *chosen = NULL;
	if ((rc = gha_choose_api(&out->api, &chosen, version, url, url_v2)))
		return rc;
	if (strncmp(chosen, "http://", 7) != 0 && strncmp(chosen, "https://", 8) != 0)
		return error_set(ERR_USAGE, "type=gha: the service URL must start with http:// or https://");
	out->timeout = 600;
	if ((timeout && (rc = duration_parse(&out->timeout, timeout, "timeout"))) ||
	    (rc = runtime_token_parse(&out->claims, token, now)) || (rc = read_tuning(out)))
		goto fail;
	if (repository && *repository && !strchr(repository, '/')) {
		rc = error_set(ERR_USAGE, "type=gha: repository=\"%s\" is not owner/name", repository);
		goto fail;
	}
	const char *api_url = env("GITHUB_API_URL") ? env("GITHUB_API_URL") : GHA_DEFAULT_API_URL;
	if (dup_trimmed(&out->url, chosen) || !(out->token = strdup(token)) ||
	    !(out->scope = strdup(scope ? scope : "buildkit")) || dup_trimmed(&out->api_url, api_url) ||
	    (repository && *repository && !(out->repository = strdup(repository))) ||
	    (ghtoken && *ghtoken && !(out->ghtoken = strdup(ghtoken)))) {
		rc = error_oom();
		goto fail;
	}
	return 0;
fail:
	gha_config_free(out);
	return rc;
}
