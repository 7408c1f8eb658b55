#include "transport/azblob/azblob_config.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/util/array_grow.h"
#include "core/util/base64.h"
#include "core/util/duration.h"
#include "core/util/error.h"
#include "core/util/secrets.h"
#include "transport/s3/url_parts.h"

#define DEFAULT_CONTAINER "buildkit-cache"
/* azurite's development account, published in its README and source
 * (what UseDevelopmentStorage=true stands for). */
#define DEV_ACCOUNT "devstoreaccount1"
#define DEV_KEY "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
#define DEV_ENDPOINT "http://127.0.0.1:10000/" DEV_ACCOUNT

static const char *option_or_env(struct cache_options *o, const char *key, const char *env)
{
	const char *v = options_get(o, key);
	if ((!v || !*v) && env)
		v = getenv(env);
	return v && *v ? v : NULL;
}

static int dup_or_null(char **out, const char *v, size_t len)
{
	*out = strndup(v, len);
	return *out ? 0 : error_oom();
}

/* ---- connection strings ------------------------------------------------- */

void azblob_connection_string_free(struct azblob_connection_string *cs)
{
	free(cs->blob_endpoint);
	free(cs->account_name);
	free(cs->account_key);
	free(cs->sas);
	memset(cs, 0, sizeof(*cs));
}

static int connection_string_field(struct azblob_connection_string *cs, char **protocol, char **suffix, bool *dev,
				   const char *key, size_t klen, const char *v, size_t vlen)
{
	static const char *const names[] = {"BlobEndpoint", "AccountName", "AccountKey", "SharedAccessSignature",
					    "DefaultEndpointsProtocol", "EndpointSuffix", NULL};
	char **slots[] = {&cs->blob_endpoint, &cs->account_name, &cs->account_key, &cs->sas, protocol, suffix};
	if (klen == strlen("UseDevelopmentStorage") && strncasecmp(key, "UseDevelopmentStorage", klen) == 0) {
		*dev = vlen == 4 && strncasecmp(v, "true", 4) == 0;
		return 0;
	}
	for (size_t i = 0; names[i]; i++) {
		if (klen == strlen(names[i]) && strncasecmp(key, names[i], klen) == 0) {
			free(*slots[i]);
			return dup_or_null(slots[i], v, vlen);
		}
	}
	return 0; /* QueueEndpoint, TableEndpoint ...: not ours */
}

int azblob_connection_string_parse(struct azblob_connection_string *out, const char *text)
{
	char *protocol = NULL, *suffix = NULL;
	bool dev = false;
	int rc = 0;
	memset(out, 0, sizeof(*out));
	for (const char *p = text; !rc && *p;) {
		const char *semi = strchr(p, ';'), *end = semi ? semi : p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(end - p));
		while (p < end && isspace((unsigned char)*p))
			p++;
		if (eq && eq > p)
			rc = connection_string_field(out, &protocol, &suffix, &dev, p, (size_t)(eq - p), eq + 1,
						     (size_t)(end - eq - 1));
		else if (end > p)
			rc = error_set(ERR_USAGE, "AZURE_STORAGE_CONNECTION_STRING: a part is not Key=Value");
		p = semi ? semi + 1 : end;
	}
	if (!rc && dev) {
		free(out->account_name);
		free(out->account_key);
		if (!out->blob_endpoint)
			rc = dup_or_null(&out->blob_endpoint, DEV_ENDPOINT, strlen(DEV_ENDPOINT));
		if (!rc)
			rc = dup_or_null(&out->account_name, DEV_ACCOUNT, strlen(DEV_ACCOUNT));
		if (!rc)
			rc = dup_or_null(&out->account_key, DEV_KEY, strlen(DEV_KEY));
	}
	if (!rc && !out->blob_endpoint && out->account_name) {
		struct buffer b = BUFFER_INIT;
		rc = buffer_appendf(&b, "%s://%s.blob.%s", protocol ? protocol : "https", out->account_name,
				    suffix ? suffix : "core.windows.net");
		out->blob_endpoint = rc ? NULL : buffer_detach(&b, NULL);
		buffer_free(&b);
	}
	free(protocol);
	free(suffix);
	if (rc)
		azblob_connection_string_free(out);
	return rc;
}

/* ---- credentials -------------------------------------------------------- */

static int shared_key(struct azblob_auth *a, const char *key, const char *source)
{
	struct buffer raw = BUFFER_INIT;
	secret_remember(key); /* from the environment too: never in a message */
	if (base64_std_decode(&raw, key, strlen(key)) || raw.len == 0) {
		buffer_free(&raw);
		return error_set(ERR_USAGE, "azblob: the account key from %s is not base64 (an Azure account key "
				 "is 88 base64 characters)", source);
	}
	a->kind = AZBLOB_AUTH_SHARED_KEY;
	a->key_len = raw.len;
	a->key = (unsigned char *)buffer_detach(&raw, NULL);
	a->source = source;
	return a->key ? 0 : error_oom();
}

static int sas(struct azblob_auth *a, const char *token, const char *source)
{
	while (*token == '?')
		token++;
	/* Never in a message: the token, and its signature on its own. */
	secret_remember(token);
	const char *sig = strstr(token, "sig=");
	char *value = sig ? strndup(sig + 4, strcspn(sig + 4, "&")) : NULL;
	if (value)
		secret_remember(value);
	free(value);
	if (!strstr(token, "sig="))
		return error_set(ERR_USAGE, "azblob: the SAS from %s has no sig= parameter: give the token as "
				 "the portal shows it (sv=...&sig=...)", source);
	a->kind = AZBLOB_AUTH_SAS;
	a->source = source;
	a->sas = strdup(token);
	return a->sas ? 0 : error_oom();
}

static int pick_credential(struct azblob_config *c, struct cache_options *o, const char *url_sas,
			   const struct azblob_connection_string *cs)
{
	const char *v;
	if ((v = options_get(o, "secret_access_key")) && *v)
		return shared_key(&c->auth, v, "the secret_access_key option");
	if ((v = options_get(o, "sas_token")) && *v)
		return sas(&c->auth, v, "the sas_token option");
	if (url_sas)
		return sas(&c->auth, url_sas, "the query of account_url");
	if ((v = getenv("AZURE_STORAGE_SAS_TOKEN")) && *v)
		return sas(&c->auth, v, "$AZURE_STORAGE_SAS_TOKEN");
	if (cs->account_key)
		return shared_key(&c->auth, cs->account_key, "the AccountKey of $AZURE_STORAGE_CONNECTION_STRING");
	if (cs->sas)
		return sas(&c->auth, cs->sas, "the SharedAccessSignature of $AZURE_STORAGE_CONNECTION_STRING");
	int rc = entra_token_source_from_env(&c->auth.entra);
	if (!rc) {
		c->auth.kind = AZBLOB_AUTH_ENTRA;
		c->auth.source = entra_token_source_describe(c->auth.entra);
	} else if (rc == ERR_NOT_FOUND) {
		rc = error_set(ERR_USAGE, "azblob: no credentials: give secret_access_key= (the account key) or "
			       "sas_token=, or set AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_SAS_TOKEN, or "
			       "AZURE_TENANT_ID and AZURE_CLIENT_ID with AZURE_CLIENT_SECRET or "
			       "AZURE_FEDERATED_TOKEN_FILE");
	}
	return rc;
}

/* ---- the account -------------------------------------------------------- */

/* BuildKit: the first DNS label of the host.  For an IP or localhost
 * (azurite's path-style URLs) the first path segment names the account. */
static int default_account_name(char **out, const struct url_parts *u)
{
	const char *name = u->host;
	size_t len = strcspn(name, ".");
	if ((u->host_is_ip || strcasecmp(u->host, "localhost") == 0) && u->path[0] == '/') {
		name = u->path + 1;
		len = strcspn(name, "/");
	}
	return dup_or_null(out, name, len);
}

/* account_url without its query (a SAS there is kept in *url_sas). */
static int account(struct azblob_config *c, struct cache_options *o, const struct azblob_connection_string *cs,
		   char **url_sas)
{
	const char *url = option_or_env(o, "account_url", "BUILDKIT_AZURE_STORAGE_ACCOUNT_URL");
	if (!url)
		url = cs->blob_endpoint;
	if (!url)
		return error_set(ERR_USAGE, "azblob: account_url ($BUILDKIT_AZURE_STORAGE_ACCOUNT_URL) not set: "
				 "give account_url=https://<account>.blob.core.windows.net");
	size_t len = strcspn(url, "?");
	int rc = dup_or_null(&c->account_url, url, len);
	if (!rc && url[len] == '?' && url[len + 1])
		rc = dup_or_null(url_sas, url + len + 1, strlen(url + len + 1));
	if (rc)
		return rc;
	struct url_parts u;
	if ((rc = url_parts_parse(&u, c->account_url, "account_url")))
		return rc;
	size_t n = strlen(c->account_url);
	while (n && c->account_url[n - 1] == '/')
		c->account_url[--n] = '\0';
	const char *name = option_or_env(o, "account_name", "BUILDKIT_AZURE_STORAGE_ACCOUNT_NAME");
	if (!name)
		name = cs->account_name;
	rc = name ? dup_or_null(&c->account_name, name, strlen(name)) : default_account_name(&c->account_name, &u);
	url_parts_free(&u);
	if (!rc && !*c->account_name)
		rc = error_set(ERR_USAGE, "azblob: no account name: give account_name=");
	return rc;
}

/* ---- the rest ----------------------------------------------------------- */

static int split_names(struct azblob_config *c, const char *names)
{
	size_t cap = 0; /* the names are only ever set here */
	for (const char *p = names;;) {
		const char *semi = strchr(p, ';');
		size_t len = semi ? (size_t)(semi - p) : strlen(p);
		int rc = ARRAY_RESERVE(c->names, cap, c->n_names + 1);
		if (!rc)
			rc = dup_or_null(&c->names[c->n_names], p, len);
		if (rc)
			return rc;
		c->n_names++;
		if (!semi)
			return 0;
		p = semi + 1;
	}
}

/* Azure's rule, checked here so that a typo is a usage error before any
 * request: 3 to 63 lower-case letters, digits and single hyphens, starting
 * and ending with a letter or digit. */
static int check_container(const char *name)
{
	size_t n = strlen(name);
	bool ok = n >= 3 && n <= 63 && name[0] != '-' && name[n - 1] != '-' && !strstr(name, "--");
	for (size_t i = 0; ok && i < n; i++)
		ok = islower((unsigned char)name[i]) || isdigit((unsigned char)name[i]) || name[i] == '-';
	if (!ok)
		return error_set(ERR_USAGE, "azblob: container=\"%s\" is not a container name: 3 to 63 lower-case "
				 "letters, digits and single hyphens, starting and ending with a letter or digit", name);
	return 0;
}

static int strings(struct azblob_config *c, struct cache_options *o)
{
	const char *container = option_or_env(o, "container", "BUILDKIT_AZURE_STORAGE_CONTAINER");
	const char *prefix = option_or_env(o, "prefix", "BUILDKIT_AZURE_STORAGE_PREFIX");
	const char *blobs = options_get(o, "blobs_prefix"), *manifests = options_get(o, "manifests_prefix");
	const char *name = options_get(o, "name");
	c->container = strdup(container ? container : DEFAULT_CONTAINER);
	c->prefix = strdup(prefix ? prefix : "");
	/* Empty values are BuildKit's defaults too (it tests for ""). */
	c->blobs_prefix = strdup(blobs && *blobs ? blobs : "blobs");
	c->manifests_prefix = strdup(manifests && *manifests ? manifests : "manifests");
	if (!c->container || !c->prefix || !c->blobs_prefix || !c->manifests_prefix)
		return error_oom();
	int rc = check_container(c->container);
	return rc ? rc : split_names(c, name && *name ? name : "buildkit");
}

int azblob_config_parse(struct azblob_config *c, struct cache_options *o)
{
	struct azblob_connection_string cs = {0};
	char *url_sas = NULL;
	const char *text = getenv("AZURE_STORAGE_CONNECTION_STRING"), *v;
	memset(c, 0, sizeof(*c));
	int rc = text && *text ? azblob_connection_string_parse(&cs, text) : 0;
	if (!rc)
		rc = account(c, o, &cs, &url_sas);
	if (!rc)
		rc = strings(c, o);
	c->upload_parallelism = 4;
	if (!rc && (v = options_get(o, "upload_parallelism"))) {
		char *end;
		long n = strtol(v, &end, 10);
		if (!*v || *end || n <= 0 || n > 1024)
			rc = error_set(ERR_USAGE, "upload_parallelism must be a positive integer (got \"%s\")", v);
		else
			c->upload_parallelism = (unsigned)n;
	}
	/* cachectl's (docs/azblob.md): how old a present blob may be before an
	 * export refreshes it; refused when bad, as s3's is. */
	c->touch_refresh = 24 * 3600;
	if (!rc && (v = options_get(o, "touch_refresh")) && duration_parse(&c->touch_refresh, v, "touch_refresh"))
		rc = error_set(ERR_USAGE, "azblob: touch_refresh=\"%s\" is not a duration (like 24h or 90m)", v);
	if (!rc)
		rc = pick_credential(c, o, url_sas, &cs);
	free(url_sas);
	azblob_connection_string_free(&cs);
	return rc;
}

void azblob_config_free(struct azblob_config *c)
{
	free(c->account_url);
	free(c->account_name);
	free(c->container);
	free(c->prefix);
	free(c->blobs_prefix);
	free(c->manifests_prefix);
	for (size_t i = 0; i < c->n_names; i++)
		free(c->names[i]);
	free(c->names);
	free(c->auth.key);
	free(c->auth.sas);
	entra_token_source_free(c->auth.entra);
	memset(c, 0, sizeof(*c));
}
