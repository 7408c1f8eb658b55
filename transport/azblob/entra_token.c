#include "transport/azblob/entra_token.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util/error.h"
#include "core/util/secrets.h"

#define DEFAULT_AUTHORITY "https://login.microsoftonline.com"
#define STORAGE_SCOPE "https://storage.azure.com/.default"
#define RENEW_BEFORE 300 /* seconds before expiry */
#define ASSERTION_MAX (64u * 1024)
#define MAX_LIFETIME (24.0 * 3600) /* seconds a token is kept at most, whatever it says */

struct entra_token_source {
	char *authority, *tenant, *client_id, *client_secret, *token_file;
	pthread_mutex_t lock;
	char *token;
	time_t renew_at;
};

static char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? strdup(v) : NULL;
}

static bool loopback_url(const char *url)
{
	static const char *const hosts[] = {"http://127.0.0.1", "http://localhost", "http://[::1]", NULL};
	for (size_t i = 0; hosts[i]; i++) {
		size_t n = strlen(hosts[i]);
		if (strncmp(url, hosts[i], n) == 0 && (url[n] == ':' || url[n] == '/' || url[n] == '\0'))
			return true;
	}
	return false;
}

int entra_token_source_from_env(struct entra_token_source **out)
{
	const char *secret = getenv("AZURE_CLIENT_SECRET"), *file = getenv("AZURE_FEDERATED_TOKEN_FILE");
	bool has_secret = secret && *secret, has_file = file && *file;
	if (!has_secret && !has_file)
		return ERR_NOT_FOUND;
	const char *tenant = getenv("AZURE_TENANT_ID"), *client = getenv("AZURE_CLIENT_ID");
	if (!tenant || !*tenant || !client || !*client)
		return error_set(ERR_USAGE, "%s is set but AZURE_TENANT_ID or AZURE_CLIENT_ID is not: set both",
				 has_secret ? "AZURE_CLIENT_SECRET" : "AZURE_FEDERATED_TOKEN_FILE");
	const char *authority = getenv("AZURE_AUTHORITY_HOST");
	if (!authority || !*authority)
		authority = DEFAULT_AUTHORITY;
	if (strncmp(authority, "https://", 8) != 0 && !loopback_url(authority))
		return error_set(ERR_USAGE, "AZURE_AUTHORITY_HOST=%s: an https:// URL is required", authority);
	struct entra_token_source *s = calloc(1, sizeof(*s));
	CHECK_ALLOC(s);
	pthread_mutex_init(&s->lock, NULL);
	s->authority = strdup(authority);
	s->tenant = strdup(tenant);
	s->client_id = strdup(client);
	/* A client secret wins over a token file, as in the SDKs' chain
	 * (EnvironmentCredential comes before WorkloadIdentityCredential). */
	if (has_secret && (s->client_secret = env("AZURE_CLIENT_SECRET")))
		secret_remember(s->client_secret);
	else
		s->token_file = env("AZURE_FEDERATED_TOKEN_FILE");
	if (!s->authority || !s->tenant || !s->client_id || (!s->client_secret && !s->token_file)) {
		entra_token_source_free(s);
		return error_oom();
	}
	size_t n = strlen(s->authority);
	while (n && s->authority[n - 1] == '/')
		s->authority[--n] = '\0';
	*out = s;
	return 0;
}

void entra_token_source_free(struct entra_token_source *s)
{
	if (!s)
		return;
	free(s->authority);
	free(s->tenant);
	free(s->client_id);
	free(s->client_secret);
	free(s->token_file);
	free(s->token);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

const char *entra_token_source_describe(const struct entra_token_source *s)
{
	return s->client_secret ? "Entra ID client secret (AZURE_CLIENT_SECRET)"
				: "Entra ID workload identity (AZURE_FEDERATED_TOKEN_FILE)";
}

static int form_field(struct buffer *b, const char *name, const char *value)
{
	int rc = buffer_appendf(b, "%s%s=", b->len ? "&" : "", name);
	return rc ? rc : http_escape(b, value, false);
}

static int request_body(struct entra_token_source *s, struct buffer *body)
{
	int rc = form_field(body, "grant_type", "client_credentials");
	if (!rc)
		rc = form_field(body, "client_id", s->client_id);
	if (!rc)
		rc = form_field(body, "scope", STORAGE_SCOPE);
	if (!rc && s->client_secret)
		rc = form_field(body, "client_secret", s->client_secret);
	if (!rc && s->token_file) {
		struct buffer jwt = BUFFER_INIT;
		rc = buffer_read_file(&jwt, s->token_file, ASSERTION_MAX);
		if (rc)
			rc = error_wrap(rc, "AZURE_FEDERATED_TOKEN_FILE");
		while (!rc && jwt.len && (jwt.data[jwt.len - 1] == '\n' || jwt.data[jwt.len - 1] == '\r'))
			jwt.data[--jwt.len] = '\0';
		if (!rc)
			rc = form_field(body, "client_assertion_type",
					"urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
		if (!rc)
			rc = form_field(body, "client_assertion", jwt.data ? jwt.data : "");
		buffer_free(&jwt);
	}
	return rc;
}

/* The answer: access_token and expires_in (a number, or a string of one). */
static int parse_answer(struct entra_token_source *s, const struct http_response *resp, const char *where)
{
	cJSON *doc = cJSON_ParseWithLength(resp->body.data ? resp->body.data : "", resp->body.len);
	const cJSON *tok = cJSON_GetObjectItemCaseSensitive(doc, "access_token");
	const cJSON *exp = cJSON_GetObjectItemCaseSensitive(doc, "expires_in");
	int rc = 0;
	if (resp->status != 200 || !cJSON_IsString(tok) || !*tok->valuestring) {
		const cJSON *err = cJSON_GetObjectItemCaseSensitive(doc, "error");
		const cJSON *desc = cJSON_GetObjectItemCaseSensitive(doc, "error_description");
		rc = error_set(ERR_FAILURE, "%s: HTTP %ld%s%s%s%.300s", where, resp->status,
			       cJSON_IsString(err) ? " " : ", no access_token in the answer",
			       cJSON_IsString(err) ? err->valuestring : "", cJSON_IsString(desc) ? ": " : "",
			       cJSON_IsString(desc) ? desc->valuestring : "");
	} else {
		double secs = cJSON_IsNumber(exp) ? exp->valuedouble
			      : cJSON_IsString(exp) ? strtod(exp->valuestring, NULL) : 3600;
		if (!(secs >= 0 && secs <= MAX_LIFETIME)) /* untrusted: never a wrapped cast (NaN too) */
			secs = secs > MAX_LIFETIME ? MAX_LIFETIME : 0;
		free(s->token);
		s->token = strdup(tok->valuestring);
		secret_remember(tok->valuestring);
		/* Renewed five minutes early, or half-way for short-lived ones. */
		s->renew_at = time(NULL) + (time_t)(secs > 2 * RENEW_BEFORE ? secs - RENEW_BEFORE : secs / 2);
		if (!s->token)
			rc = error_oom();
	}
	cJSON_Delete(doc);
	return rc;
}

static int fetch(struct entra_token_source *s, struct http_client *http)
{
	struct buffer url = BUFFER_INIT, body = BUFFER_INIT;
	struct http_response resp;
	static const char *const headers[] = {"Content-Type: application/x-www-form-urlencoded",
					      "Accept: application/json", NULL};
	int rc = buffer_appendf(&url, "%s/", s->authority);
	if (!rc)
		rc = http_escape(&url, s->tenant, false);
	if (!rc)
		rc = buffer_append_str(&url, "/oauth2/v2.0/token");
	if (!rc)
		rc = request_body(s, &body);
	if (!rc) {
		struct http_request req = {.method = "POST", .url = url.data, .headers = headers, .body = body.data,
					   .body_len = body.len};
		rc = http_do(http, &req, &resp);
		if (!rc) {
			char where[600];
			snprintf(where, sizeof(where), "%s token from %s", entra_token_source_describe(s), url.data);
			rc = parse_answer(s, &resp, where);
		}
		http_response_free(&resp);
	}
	buffer_free(&url);
	buffer_free(&body);
	return rc;
}

int entra_token_get(struct entra_token_source *s, struct http_client *http, char **token)
{
	pthread_mutex_lock(&s->lock);
	int rc = 0;
	if (!s->token || time(NULL) >= s->renew_at)
		rc = fetch(s, http);
	if (!rc && !(*token = strdup(s->token)))
		rc = error_oom();
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void entra_token_invalidate(struct entra_token_source *s)
{
	pthread_mutex_lock(&s->lock);
	free(s->token);
	s->token = NULL;
	pthread_mutex_unlock(&s->lock);
}
