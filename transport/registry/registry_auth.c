#include "transport/registry/registry_auth.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util/array_grow.h"
#include "core/util/base64.h"
#include "core/util/buffer.h"
#include "core/util/error.h"
#include "transport/registry/reference.h"
#include "transport/registry/registry_credentials.h"

/* Docker's rule for tokens that do not say how long they live. */
#define DEFAULT_TOKEN_LIFETIME 60
#define CLIENT_ID "cachectl"

enum auth_scheme {
	SCHEME_NONE,
	SCHEME_BASIC,
	SCHEME_BEARER,
};

struct registry_auth {
	pthread_mutex_t lock;
	struct http_client *http;
	char *domain;
	bool insecure;
	bool creds_loaded;
	struct registry_credentials creds;
	enum auth_scheme scheme;
	char *realm, *service;
	char **scopes;
	size_t n_scopes, cap_scopes;
	char *token;
	char *refresh_token; /* handed out by the token server */
	double renew_at;     /* monotonic seconds */
	unsigned generation;
	unsigned fetches;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void wipe_free(char *s)
{
	if (s)
		memset(s, 0, strlen(s));
	free(s);
}

int registry_auth_new(struct registry_auth **out, struct http_client *http, const char *domain, bool insecure)
{
	struct registry_auth *a = calloc(1, sizeof(*a));
	if (!a || !(a->domain = strdup(domain))) {
		free(a);
		return error_oom();
	}
	pthread_mutex_init(&a->lock, NULL);
	a->http = http;
	a->insecure = insecure;
	*out = a;
	return 0;
}

void registry_auth_free(struct registry_auth *a)
{
	if (!a)
		return;
	registry_credentials_free(&a->creds);
	for (size_t i = 0; i < a->n_scopes; i++)
		free(a->scopes[i]);
	free(a->scopes);
	free(a->realm);
	free(a->service);
	wipe_free(a->token);
	wipe_free(a->refresh_token);
	free(a->domain);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

/* ---- challenges --------------------------------------------------------- */

void auth_challenge_free(struct auth_challenge *c)
{
	free(c->realm);
	free(c->service);
	free(c->scope);
	free(c->error);
	memset(c, 0, sizeof(*c));
}

static bool tchar(char c)
{
	return isalnum((unsigned char)c) || (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* A token or a quoted string at p into out; returns the end, or NULL. */
static const char *read_value(const char *p, struct buffer *out)
{
	buffer_reset(out);
	if (*p == '"') {
		for (p++; *p && *p != '"'; p++) {
			if (*p == '\\' && p[1])
				p++;
			if (buffer_append(out, p, 1))
				return NULL;
		}
		if (*p != '"')
			return NULL;
		p++;
	} else {
		const char *s = p;
		while (tchar(*p) || *p == '/' || *p == ':' || *p == '=')
			p++;
		if (buffer_append(out, s, (size_t)(p - s)))
			return NULL;
	}
	return buffer_append(out, "", 0) ? NULL : p;
}

int auth_challenge_parse(struct auth_challenge *out, const char *value)
{
	struct buffer v = BUFFER_INIT;
	struct auth_challenge cur;
	bool have = false;
	memset(out, 0, sizeof(*out));
	memset(&cur, 0, sizeof(cur));
	const char *p = value;
	int rc = 0;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		const char *s = p;
		while (tchar(*p))
			p++;
		if (p == s || (size_t)(p - s) >= sizeof(cur.scheme)) {
			rc = error_set(ERR_FAILURE, "unreadable WWW-Authenticate challenge");
			break;
		}
		memset(&cur, 0, sizeof(cur));
		memcpy(cur.scheme, s, (size_t)(p - s));
		/* auth-params until a token that is not followed by '=' */
		for (;;) {
			const char *mark = p;
			p = skip_ws(p);
			if (*p == ',')
				p = skip_ws(p + 1);
			const char *name = p;
			while (tchar(*p))
				p++;
			size_t name_len = (size_t)(p - name);
			const char *eq = skip_ws(p);
			if (!name_len || *eq != '=') {
				p = mark;
				break;
			}
			p = read_value(skip_ws(eq + 1), &v);
			if (!p) {
				rc = error_set(ERR_FAILURE, "unreadable WWW-Authenticate challenge");
				break;
			}
			char **slot = NULL;
			if (name_len == 5 && strncasecmp(name, "realm", 5) == 0)
				slot = &cur.realm;
			else if (name_len == 7 && strncasecmp(name, "service", 7) == 0)
				slot = &cur.service;
			else if (name_len == 5 && strncasecmp(name, "scope", 5) == 0)
				slot = &cur.scope;
			else if (name_len == 5 && strncasecmp(name, "error", 5) == 0)
				slot = &cur.error;
			if (slot) {
				free(*slot);
				if (!(*slot = strdup(v.data ? v.data : ""))) {
					rc = error_oom();
					break;
				}
			}
		}
		if (rc)
			break;
		bool bearer = strcasecmp(cur.scheme, "Bearer") == 0;
		if (!have || (bearer && strcasecmp(out->scheme, "Bearer") != 0)) {
			auth_challenge_free(out);
			*out = cur;
			memset(&cur, 0, sizeof(cur));
			have = true;
		} else {
			auth_challenge_free(&cur);
		}
	}
	auth_challenge_free(&cur);
	buffer_free(&v);
	if (!rc && !have)
		rc = error_set(ERR_FAILURE, "empty WWW-Authenticate challenge");
	if (rc)
		auth_challenge_free(out);
	return rc;
}

/* ---- scopes ------------------------------------------------------------- */

/* Whether `have` ("repository:x:pull,push") grants every action `want` asks on the same resource. */
static bool scope_covers(const char *have, const char *want)
{
	const char *hc = strrchr(have, ':'), *wc = strrchr(want, ':');
	if (!hc || !wc || hc - have != wc - want || strncmp(have, want, (size_t)(hc - have)) != 0)
		return false;
	for (const char *a = wc + 1; *a;) {
		size_t n = strcspn(a, ",");
		bool found = false;
		for (const char *h = hc + 1; *h && !found;) {
			size_t m = strcspn(h, ",");
			found = m == n && strncmp(a, h, n) == 0;
			h += m + (h[m] == ',');
		}
		if (!found)
			return false;
		a += n + (a[n] == ',');
	}
	return true;
}

static int add_scope_locked(struct registry_auth *a, const char *scope, bool *added)
{
	*added = false;
	if (!*scope)
		return 0;
	for (size_t i = 0; i < a->n_scopes; i++)
		if (strcmp(a->scopes[i], scope) == 0 || scope_covers(a->scopes[i], scope))
			return 0;
	int rc = ARRAY_RESERVE(a->scopes, a->cap_scopes, a->n_scopes + 1);
	if (rc)
		return rc;
	if (!(a->scopes[a->n_scopes] = strdup(scope)))
		return error_oom();
	a->n_scopes++;
	*added = true;
	return 0;
}

int registry_auth_add_scope(struct registry_auth *a, const char *scope)
{
	bool added;
	pthread_mutex_lock(&a->lock);
	int rc = add_scope_locked(a, scope, &added);
	if (!rc && added && a->scheme == SCHEME_BEARER)
		a->renew_at = 0; /* the next request fetches a token that covers it */
	pthread_mutex_unlock(&a->lock);
	return rc;
}

/* ---- tokens ------------------------------------------------------------- */

static int load_credentials(struct registry_auth *a)
{
	if (a->creds_loaded)
		return 0;
	int rc = registry_credentials_find(&a->creds, a->domain);
	if (rc)
		return error_wrap(rc, "credentials for %s", a->domain);
	a->creds_loaded = true;
	return 0;
}

static bool realm_may_get_credentials(const struct registry_auth *a, const char *realm)
{
	if (strncmp(realm, "https://", 8) == 0 || a->insecure)
		return true;
	/* Plain HTTP only to a token server on this machine. */
	char host[512];
	const char *h = realm + 7;
	snprintf(host, sizeof(host), "%.*s", (int)strcspn(h, "/?#"), h);
	return reference_domain_is_loopback(host);
}

static int describe_failure(const struct http_response *r, char *out, size_t size)
{
	cJSON *doc = cJSON_ParseWithLength(r->body.data ? r->body.data : "", r->body.len);
	const cJSON *errors = cJSON_GetObjectItemCaseSensitive(doc, "errors");
	const cJSON *first = cJSON_GetArrayItem(errors, 0);
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(first, "code");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(first, "message");
	const cJSON *details = cJSON_GetObjectItemCaseSensitive(doc, "details");
	if (cJSON_IsString(code) || cJSON_IsString(msg))
		snprintf(out, size, "HTTP %ld %s%s%s", r->status, cJSON_IsString(code) ? code->valuestring : "",
			 cJSON_IsString(msg) ? ": " : "", cJSON_IsString(msg) ? msg->valuestring : "");
	else if (cJSON_IsString(details))
		snprintf(out, size, "HTTP %ld: %s", r->status, details->valuestring);
	else
		snprintf(out, size, "HTTP %ld", r->status);
	cJSON_Delete(doc);
	return 0;
}

static int append_param(struct buffer *b, const char *name, const char *value)
{
	if (buffer_appendf(b, "%s%s=", b->len ? "&" : "", name) || http_escape(b, value, false))
		return error_oom();
	return 0;
}

/* Reads {"token"|"access_token", "expires_in", "refresh_token"} into a. */
static int take_token(struct registry_auth *a, const struct http_response *r, const char *realm)
{
	char url[512];
	cJSON *doc = cJSON_ParseWithLength(r->body.data ? r->body.data : "", r->body.len);
	const cJSON *token = cJSON_GetObjectItemCaseSensitive(doc, "token");
	const cJSON *access = cJSON_GetObjectItemCaseSensitive(doc, "access_token");
	const cJSON *expires = cJSON_GetObjectItemCaseSensitive(doc, "expires_in");
	const cJSON *refresh = cJSON_GetObjectItemCaseSensitive(doc, "refresh_token");
	const char *value = cJSON_IsString(token) && *token->valuestring     ? token->valuestring
			    : cJSON_IsString(access) && *access->valuestring ? access->valuestring
									     : NULL;
	int rc = 0;
	if (!value) {
		http_redact_url(url, sizeof(url), realm);
		rc = error_set(ERR_FAILURE, "token server %s answered without a token", url);
		goto out;
	}
	wipe_free(a->token);
	if (!(a->token = strdup(value))) {
		rc = error_oom();
		goto out;
	}
	if (cJSON_IsString(refresh) && *refresh->valuestring) {
		wipe_free(a->refresh_token);
		a->refresh_token = strdup(refresh->valuestring);
	}
	double life = cJSON_IsNumber(expires) && expires->valuedouble > 0 ? expires->valuedouble
									 : DEFAULT_TOKEN_LIFETIME;
	/* Renew a little before the end, so that no request goes out with a
	 * token about to expire. */
	double margin = life / 10 < 10 ? life / 10 : 10;
	a->renew_at = now() + life - margin;
out:
	cJSON_Delete(doc);
	return rc;
}

/* The OAuth2 refresh_token grant (identity tokens, refresh tokens). */
static int fetch_oauth(struct registry_auth *a, const char *refresh, struct http_response *resp)
{
	struct buffer form = BUFFER_INIT, scope = BUFFER_INIT;
	const char *headers[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
	for (size_t i = 0; i < a->n_scopes; i++)
		if (buffer_appendf(&scope, "%s%s", i ? " " : "", a->scopes[i]))
			goto oom;
	if (append_param(&form, "grant_type", "refresh_token") || append_param(&form, "refresh_token", refresh) ||
	    append_param(&form, "service", a->service ? a->service : "") ||
	    append_param(&form, "scope", scope.data ? scope.data : "") || append_param(&form, "client_id", CLIENT_ID))
		goto oom;
	struct http_request req = {
		.method = "POST", .url = a->realm, .headers = headers, .body = form.data, .body_len = form.len,
	};
	int rc = http_do(a->http, &req, resp);
	memset(form.data, 0, form.len);
	buffer_free(&form);
	buffer_free(&scope);
	return rc;
oom:
	buffer_free(&form);
	buffer_free(&scope);
	return error_oom();
}

/* The plain GET of the token, with Basic credentials when there are any. */
static int fetch_get(struct registry_auth *a, struct http_response *resp)
{
	struct buffer url = BUFFER_INIT, query = BUFFER_INIT, basic = BUFFER_INIT, pair = BUFFER_INIT;
	const char *headers[2] = {NULL, NULL};
	int rc;
	if (a->service && append_param(&query, "service", a->service))
		goto oom;
	for (size_t i = 0; i < a->n_scopes; i++)
		if (append_param(&query, "scope", a->scopes[i]))
			goto oom;
	if (buffer_appendf(&url, "%s%s%s", a->realm, query.len ? (strchr(a->realm, '?') ? "&" : "?") : "",
			   query.data ? query.data : ""))
		goto oom;
	if (a->creds.username && !a->creds.identity_token) {
		if (buffer_appendf(&pair, "%s:%s", a->creds.username, a->creds.secret) ||
		    buffer_append_str(&basic, "Authorization: Basic ") || base64_std_encode(&basic, pair.data, pair.len) ||
		    buffer_append(&basic, "", 0))
			goto oom;
		headers[0] = basic.data;
	}
	struct http_request req = {.method = "GET", .url = url.data, .headers = headers};
	rc = http_do(a->http, &req, resp);
	goto out;
oom:
	rc = error_oom();
out:
	if (pair.data)
		memset(pair.data, 0, pair.len);
	if (basic.data)
		memset(basic.data, 0, basic.len);
	buffer_free(&url);
	buffer_free(&query);
	buffer_free(&basic);
	buffer_free(&pair);
	return rc;
}

static int fetch_token(struct registry_auth *a)
{
	struct http_response resp;
	char url[512], why[300];
	int rc = load_credentials(a);
	if (rc)
		return rc;
	http_redact_url(url, sizeof(url), a->realm);
	if (strncmp(a->realm, "https://", 8) != 0 && strncmp(a->realm, "http://", 7) != 0)
		return error_set(ERR_FAILURE, "registry %s named a token realm that is not an http(s) URL: %s",
				 a->domain, url);
	if ((a->creds.username || a->refresh_token) && !realm_may_get_credentials(a, a->realm))
		return error_set(ERR_FAILURE,
				 "token realm %s is plain HTTP: credentials are not sent there "
				 "(registry.insecure=true allows it)",
				 url);
	a->fetches++;
	const char *refresh = a->refresh_token ? a->refresh_token
			      : a->creds.identity_token ? a->creds.secret
							: NULL;
	if (refresh) {
		if ((rc = fetch_oauth(a, refresh, &resp)))
			return error_wrap(rc, "token from %s", url);
		bool fallback = (resp.status == 400 || resp.status == 401 || resp.status == 404 || resp.status == 405) &&
				a->creds.username && !a->creds.identity_token;
		if (resp.status == 200 || !fallback)
			goto answered;
		/* A server without the OAuth2 endpoint: the plain GET then. */
		http_response_free(&resp);
		wipe_free(a->refresh_token);
		a->refresh_token = NULL;
	}
	if ((rc = fetch_get(a, &resp)))
		return error_wrap(rc, "token from %s", url);
answered:
	if (resp.status != 200) {
		describe_failure(&resp, why, sizeof(why));
		rc = error_set(ERR_FAILURE, "token server %s refused %s: %s", url,
			       a->creds.username ? a->creds.source : "an anonymous request", why);
	} else {
		rc = take_token(a, &resp, a->realm);
	}
	http_response_free(&resp);
	if (!rc)
		a->generation++;
	return rc;
}

/* ---- requests ----------------------------------------------------------- */

int registry_auth_header(struct registry_auth *a, char **line, unsigned *generation)
{
	struct buffer b = BUFFER_INIT, pair = BUFFER_INIT;
	int rc = 0;
	*line = NULL;
	pthread_mutex_lock(&a->lock);
	if (a->scheme == SCHEME_BEARER && (!a->token || now() >= a->renew_at))
		rc = fetch_token(a);
	*generation = a->generation;
	if (rc)
		goto out;
	if (a->scheme == SCHEME_BEARER) {
		if (buffer_appendf(&b, "Authorization: Bearer %s", a->token))
			rc = error_oom();
	} else if (a->scheme == SCHEME_BASIC) {
		if (buffer_appendf(&pair, "%s:%s", a->creds.username, a->creds.secret) ||
		    buffer_append_str(&b, "Authorization: Basic ") || base64_std_encode(&b, pair.data, pair.len) ||
		    buffer_append(&b, "", 0))
			rc = error_oom();
	}
	if (!rc && b.data)
		*line = buffer_detach(&b, NULL);
out:
	pthread_mutex_unlock(&a->lock);
	if (pair.data)
		memset(pair.data, 0, pair.len);
	if (b.data)
		memset(b.data, 0, b.len);
	buffer_free(&b);
	buffer_free(&pair);
	return rc;
}

int registry_auth_challenge(struct registry_auth *a, const struct http_response *resp, unsigned generation)
{
	struct auth_challenge ch;
	const char *value = NULL;
	int rc = 0;
	for (size_t i = 0; i < resp->n_headers && !value; i++)
		if (strcasecmp(resp->headers[i].name, "WWW-Authenticate") == 0)
			value = resp->headers[i].value;
	if (!value)
		return error_set(ERR_FAILURE, "HTTP 401 without a WWW-Authenticate challenge");
	if ((rc = auth_challenge_parse(&ch, value)))
		return rc;
	pthread_mutex_lock(&a->lock);
	if (generation != a->generation)
		goto out; /* another request renewed them meanwhile: just try again */
	if (strcasecmp(ch.scheme, "Basic") == 0) {
		if ((rc = load_credentials(a)))
			goto out;
		if (!a->creds.username || a->creds.identity_token) {
			rc = error_set(ERR_FAILURE, "registry %s wants a user name and password and none is configured "
						    "(docker login %s, or see docs/registry.md)",
				       a->domain, a->domain);
		} else if (a->scheme == SCHEME_BASIC) {
			rc = error_set(ERR_FAILURE, "registry %s refused the credentials from %s", a->domain,
				       a->creds.source);
		} else {
			a->scheme = SCHEME_BASIC;
			a->generation++;
		}
	} else if (strcasecmp(ch.scheme, "Bearer") == 0) {
		if (!ch.realm || !*ch.realm) {
			rc = error_set(ERR_FAILURE, "registry %s sent a Bearer challenge without a realm", a->domain);
			goto out;
		}
		free(a->realm);
		a->realm = ch.realm;
		ch.realm = NULL;
		free(a->service);
		a->service = ch.service;
		ch.service = NULL;
		/* The registry says which scopes the request needs. */
		char *save = NULL;
		for (char *s = ch.scope ? strtok_r(ch.scope, " ", &save) : NULL; s && !rc; s = strtok_r(NULL, " ", &save)) {
			bool added;
			rc = add_scope_locked(a, s, &added);
		}
		/* A new token even when the scopes are the same: the registry
		 * refused the last one (expired, or revoked). */
		a->scheme = SCHEME_BEARER;
		if (!rc)
			rc = fetch_token(a);
	} else {
		rc = error_set(ERR_FAILURE, "registry %s asks for \"%s\" authentication, which cachectl does not speak",
			       a->domain, ch.scheme);
	}
out:
	pthread_mutex_unlock(&a->lock);
	auth_challenge_free(&ch);
	return rc;
}

void registry_auth_describe(struct registry_auth *a, char *out, size_t size)
{
	pthread_mutex_lock(&a->lock);
	const char *who = a->creds.username ? a->creds.source : "anonymous";
	if (a->scheme == SCHEME_BASIC)
		snprintf(out, size, "basic credentials from %s", who);
	else if (a->scheme == SCHEME_BEARER)
		snprintf(out, size, "token (%s)", a->creds.username ? who : "anonymous");
	else
		snprintf(out, size, "anonymous");
	pthread_mutex_unlock(&a->lock);
}

unsigned registry_auth_token_fetches(struct registry_auth *a)
{
	pthread_mutex_lock(&a->lock);
	unsigned n = a->fetches;
	pthread_mutex_unlock(&a->lock);
	return n;
}
