#include "transport/s3/aws_credentials.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/util/buffer.h"
#include "core/util/error.h"
#include "core/util/progress.h"
#include "transport/s3/aws_credential_sources.h"
#include "transport/s3/aws_profile.h"
#include "transport/s3/url_parts.h"

#define REFRESH_MARGIN 300 /* seconds before expiry */
#define MAX_PROFILE_DEPTH 4
#define FAILURE_MEMORY 30 /* seconds a failed walk of the chain is remembered */

static void wipe_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

void aws_credentials_clear(struct aws_credentials *c)
{
	free(c->access_key_id);
	wipe_free(c->secret_access_key);
	wipe_free(c->session_token);
	memset(c, 0, sizeof(*c));
}

int aws_credentials_copy(struct aws_credentials *dst, const struct aws_credentials *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->access_key_id = strdup(src->access_key_id);
	dst->secret_access_key = strdup(src->secret_access_key);
	dst->session_token = src->session_token ? strdup(src->session_token) : NULL;
	dst->expires = src->expires;
	memcpy(dst->source, src->source, sizeof(dst->source));
	if (!dst->access_key_id || !dst->secret_access_key || (src->session_token && !dst->session_token)) {
		aws_credentials_clear(dst);
		return error_oom();
	}
	return 0;
}

static int credentials_set(struct aws_credentials *out, const char *id, const char *secret, const char *token,
			   const char *source)
{
	struct aws_credentials tmp = {(char *)id, (char *)secret, (char *)(token && *token ? token : NULL), 0, ""};
	snprintf(tmp.source, sizeof(tmp.source), "%s", source);
	return aws_credentials_copy(out, &tmp);
}

struct aws_credential_chain {
	pthread_mutex_t lock;
	char *access_key_id, *secret_access_key, *session_token, *region;
	struct aws_credentials current;
	bool have;
	/* A chain that found nothing is not walked again at once: every
	 * request would otherwise wait for instance metadata to time out. */
	bool failed;
	int64_t failed_at;
	struct error_state failure;
	struct http_client *net;  /* STS, container endpoint */
	struct http_client *imds; /* short timeouts: off EC2 nobody answers */
	struct progress *progress;
};

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

int aws_credential_chain_new(struct aws_credential_chain **out, const struct aws_credential_options *o)
{
	struct aws_credential_chain *c = calloc(1, sizeof(*c));
	CHECK_ALLOC(c);
	pthread_mutex_init(&c->lock, NULL);
	c->access_key_id = dup_or_null(o->access_key_id);
	c->secret_access_key = dup_or_null(o->secret_access_key);
	c->session_token = dup_or_null(o->session_token);
	c->region = dup_or_null(o->region);
	*out = c;
	return 0;
}

void aws_credential_chain_free(struct aws_credential_chain *c)
{
	if (!c)
		return;
	aws_credentials_clear(&c->current);
	free(c->access_key_id);
	wipe_free(c->secret_access_key);
	wipe_free(c->session_token);
	free(c->region);
	http_client_free(c->net);
	http_client_free(c->imds);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void aws_credential_chain_set_progress(struct aws_credential_chain *c, struct progress *p)
{
	c->progress = p;
}

static int net_client(struct aws_credential_chain *c, struct http_client **out)
{
	int rc;
	if (!c->net) {
		struct http_client_options o = {.connect_timeout = 10, .idle_timeout = 30, .max_attempts = 3,
						.backoff_base = 0.2, .backoff_cap = 2, .progress = c->progress,
						.what = "AWS credentials"};
		if ((rc = http_client_new(&c->net, &o)))
			return rc;
	}
	*out = c->net;
	return 0;
}

/* Reads a small file (a token) without its trailing newline. */
static int read_token_file(char **out, const char *path, const char *what)
{
	struct buffer b = BUFFER_INIT;
	int rc = buffer_read_file(&b, path, 64u << 10);
	if (rc) {
		buffer_free(&b);
		return error_wrap(rc == ERR_NOT_FOUND ? ERR_FAILURE : rc, "%s", what);
	}
	while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r' || b.data[b.len - 1] == ' '))
		b.data[--b.len] = '\0';
	if (!b.len) {
		buffer_free(&b);
		return error_set(ERR_FAILURE, "%s: %s is empty", what, path);
	}
	*out = buffer_detach(&b, NULL);
	return *out ? 0 : ERR_FAILURE;
}

static void session_name(char *out, size_t size, const char *given)
{
	if (given && *given)
		snprintf(out, size, "%s", given);
	else
		snprintf(out, size, "cachectl-%lld", (long long)time(NULL));
}

static int web_identity(struct aws_credential_chain *c, struct aws_credentials *out, const char *token_file,
			const char *role_arn, const char *name, const char *source)
{
	char *token = NULL, *endpoint = NULL, sess[128];
	struct http_client *h = NULL;
	char what[600];
	snprintf(what, sizeof(what), "web identity token file (%s)", source);
	session_name(sess, sizeof(sess), name);
	int rc;
	if ((rc = read_token_file(&token, token_file, what)) || (rc = net_client(c, &h)))
		goto out;
	if (!(endpoint = aws_sts_endpoint(c->region))) {
		rc = error_oom();
		goto out;
	}
	if ((rc = aws_sts_assume_role_with_web_identity(out, h, endpoint, role_arn, sess, token)))
		goto out;
	snprintf(out->source, sizeof(out->source), "%s: role %s through STS", source, role_arn);
out:
	wipe_free(token);
	free(endpoint);
	return rc;
}

/* ---- shared files ------------------------------------------------------- */

struct profile_files {
	char *credentials, *config;
};

static int profile_credentials(struct aws_credential_chain *c, struct aws_credentials *out,
			       const struct profile_files *files, const char *name, bool must_exist, int depth);

static int profile_assume_role(struct aws_credential_chain *c, struct aws_credentials *out,
			       const struct profile_files *files, const struct aws_profile *p, const char *role_arn,
			       int depth)
{
	const char *source = aws_profile_get(p, "source_profile");
	const char *token_file = aws_profile_get(p, "web_identity_token_file");
	char where[300];
	snprintf(where, sizeof(where), "profile %s", p->name);
	if (token_file)
		return web_identity(c, out, token_file, role_arn, aws_profile_get(p, "role_session_name"), where);
	if (aws_profile_get(p, "credential_source"))
		return error_set(ERR_FAILURE,
				 "profile %s: role_arn with credential_source is not supported; use source_profile",
				 p->name);
	if (!source)
		return error_set(ERR_FAILURE, "profile %s has role_arn but neither source_profile nor "
				 "web_identity_token_file", p->name);
	struct aws_credentials base;
	int rc;
	if (strcmp(source, p->name) == 0) {
		/* A profile may be its own source: its static keys assume the role. */
		const char *id = aws_profile_get(p, "aws_access_key_id");
		const char *secret = aws_profile_get(p, "aws_secret_access_key");
		if (!id || !secret)
			return error_set(ERR_FAILURE, "profile %s is its own source_profile but has no static keys",
					 p->name);
		rc = credentials_set(&base, id, secret, aws_profile_get(p, "aws_session_token"), where);
	} else {
		rc = profile_credentials(c, &base, files, source, true, depth + 1);
	}
	if (rc)
		return error_wrap(rc, "profile %s: source_profile %s", p->name, source);
	struct http_client *h;
	char *endpoint = NULL, sess[128];
	session_name(sess, sizeof(sess), aws_profile_get(p, "role_session_name"));
	if ((rc = net_client(c, &h)))
		goto out;
	if (!(endpoint = aws_sts_endpoint(c->region))) {
		rc = error_oom();
		goto out;
	}
	if ((rc = aws_sts_assume_role(out, h, endpoint, c->region, &base, role_arn, sess,
				      aws_profile_get(p, "external_id"))))
		goto out;
	snprintf(out->source, sizeof(out->source), "profile %s: role %s through STS", p->name, role_arn);
out:
	free(endpoint);
	aws_credentials_clear(&base);
	return rc;
}

static int profile_credentials(struct aws_credential_chain *c, struct aws_credentials *out,
			       const struct profile_files *files, const char *name, bool must_exist, int depth)
{
	struct aws_profile p;
	bool found;
	if (depth > MAX_PROFILE_DEPTH)
		return error_set(ERR_FAILURE, "profile %s: source_profile chain is too long (or loops)", name);
	int rc = aws_profile_load(&p, name, files->credentials, files->config, &found);
	if (rc)
		return rc;
	const char *role = aws_profile_get(&p, "role_arn");
	const char *id = aws_profile_get(&p, "aws_access_key_id");
	const char *secret = aws_profile_get(&p, "aws_secret_access_key");
	const char *process = aws_profile_get(&p, "credential_process");
	char where[300];
	snprintf(where, sizeof(where), "profile %s", name);
	if (!found) {
		rc = must_exist ? error_set(ERR_FAILURE, "profile %s is not in %s or %s", name,
					    files->credentials ? files->credentials : "(no credentials file)",
					    files->config ? files->config : "(no config file)")
				: ERR_NOT_FOUND;
	} else if (role) {
		rc = profile_assume_role(c, out, files, &p, role, depth);
	} else if (id || secret) {
		if (!id || !secret)
			rc = error_set(ERR_FAILURE, "profile %s has only one of aws_access_key_id and aws_secret_access_key",
				       name);
		else
			rc = credentials_set(out, id, secret, aws_profile_get(&p, "aws_session_token"), where);
	} else if (process) {
		rc = aws_process_credentials(out, process);
		if (rc)
			error_wrap(rc, "profile %s", name);
		else
			snprintf(out->source, sizeof(out->source), "profile %s: credential_process", name);
	} else if (aws_profile_get(&p, "sso_start_url") || aws_profile_get(&p, "sso_session")) {
		rc = error_set(ERR_FAILURE,
			       "profile %s uses IAM Identity Center (SSO), which cachectl cannot log in with; give it "
			       "credential_process = aws configure export-credentials --profile %s --format process",
			       name, name);
	} else {
		rc = must_exist ? error_set(ERR_FAILURE, "profile %s has no credentials", name) : ERR_NOT_FOUND;
	}
	aws_profile_free(&p);
	return rc;
}

static int from_shared_files(struct aws_credential_chain *c, struct aws_credentials *out)
{
	bool explicit_choice;
	const char *name = aws_profile_selected(&explicit_choice);
	struct profile_files files = {aws_profile_credentials_path(), aws_profile_config_path()};
	int rc = profile_credentials(c, out, &files, name, explicit_choice, 0);
	free(files.credentials);
	free(files.config);
	return rc;
}

/* ---- the environment ---------------------------------------------------- */

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

static int from_environment(struct aws_credentials *out)
{
	const char *id = env("AWS_ACCESS_KEY_ID"), *secret = env("AWS_SECRET_ACCESS_KEY");
	const char *id_name = "AWS_ACCESS_KEY_ID", *secret_name = "AWS_SECRET_ACCESS_KEY";
	if (!id && !secret) {
		/* The older names the SDKs still read. */
		id = env("AWS_ACCESS_KEY");
		secret = env("AWS_SECRET_KEY");
		id_name = "AWS_ACCESS_KEY";
		secret_name = "AWS_SECRET_KEY";
	}
	if (!id && !secret)
		return ERR_NOT_FOUND;
	if (!id || !secret)
		return error_set(ERR_FAILURE, "%s is set but %s is not", id ? id_name : secret_name,
				 id ? secret_name : id_name);
	char source[96];
	snprintf(source, sizeof(source), "environment (%s)", id_name);
	return credentials_set(out, id, secret, env("AWS_SESSION_TOKEN"), source);
}

static int from_web_identity_env(struct aws_credential_chain *c, struct aws_credentials *out)
{
	const char *file = env("AWS_WEB_IDENTITY_TOKEN_FILE"), *role = env("AWS_ROLE_ARN");
	if (!file && !role)
		return ERR_NOT_FOUND;
	if (!file || !role)
		return error_set(ERR_FAILURE, "web identity needs both AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN");
	return web_identity(c, out, file, role, env("AWS_ROLE_SESSION_NAME"), "AWS_WEB_IDENTITY_TOKEN_FILE");
}

/* Where AWS lets a full URI point: https anywhere, plain http only to the
 * loopback or the ECS / EKS Pod Identity agents. */
static bool container_uri_allowed(const struct url_parts *u)
{
	static const char *const agents[] = {"169.254.170.2", "169.254.170.23", "[fd00:ec2::23]", "localhost",
					     "[::1]", NULL};
	if (strcmp(u->scheme, "https") == 0 || strncmp(u->host, "127.", 4) == 0)
		return true;
	for (size_t i = 0; agents[i]; i++)
		if (strcasecmp(u->host, agents[i]) == 0)
			return true;
	return false;
}

static int from_container(struct aws_credential_chain *c, struct aws_credentials *out)
{
	const char *rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	char url[2048];
	if (!rel && !full)
		return ERR_NOT_FOUND;
	if (rel) {
		const char *host = env("CACHECTL_AWS_CONTAINER_CREDENTIALS_HOST");
		snprintf(url, sizeof(url), "%s%s%s", host ? host : "http://169.254.170.2", *rel == '/' ? "" : "/", rel);
	} else {
		struct url_parts u;
		int rc = url_parts_parse(&u, full, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
		if (rc) {
			/* A query is allowed here; only the host matters.  ERR_FAILURE
			 * on purpose: the variable is not an option of the command,
			 * so a bad value fails the chain (exit 1), not the usage. */
			if (rc != ERR_USAGE || strncmp(full, "http", 4) != 0)
				return error_wrap(ERR_FAILURE, "container credentials");
			char base[2048];
			snprintf(base, sizeof(base), "%.*s", (int)strcspn(full, "?#"), full);
			if (url_parts_parse(&u, base, "AWS_CONTAINER_CREDENTIALS_FULL_URI"))
				return error_wrap(ERR_FAILURE, "container credentials");
		}
		bool ok = container_uri_allowed(&u);
		url_parts_free(&u);
		if (!ok)
			return error_set(ERR_FAILURE, "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, or http to the "
				       "loopback or the ECS/EKS credential agents");
		snprintf(url, sizeof(url), "%s", full);
	}
	char *token = NULL;
	const char *token_file = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	int rc = 0;
	if (token_file)
		rc = read_token_file(&token, token_file, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	else if (env("AWS_CONTAINER_AUTHORIZATION_TOKEN") && !(token = strdup(env("AWS_CONTAINER_AUTHORIZATION_TOKEN"))))
		rc = error_oom();
	struct http_client *h;
	if (rc || (rc = net_client(c, &h)) || (rc = aws_container_credentials(out, h, url, token)))
		goto out;
	snprintf(out->source, sizeof(out->source), "container credentials (%s)",
		 rel ? "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" : "AWS_CONTAINER_CREDENTIALS_FULL_URI");
out:
	wipe_free(token);
	return rc;
}

static int from_instance_metadata(struct aws_credential_chain *c, struct aws_credentials *out)
{
	int rc;
	const char *disabled = env("AWS_EC2_METADATA_DISABLED");
	if (disabled && strcasecmp(disabled, "true") == 0)
		return error_set(ERR_NOT_FOUND, "instance metadata disabled by AWS_EC2_METADATA_DISABLED");
	const char *endpoint = env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	if (!endpoint) {
		const char *mode = env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
		endpoint = mode && strcasecmp(mode, "IPv6") == 0 ? "http://[fd00:ec2::254]" : "http://169.254.169.254";
	}
	if (!c->imds) {
		struct http_client_options o = {.connect_timeout = 1, .idle_timeout = 2, .max_attempts = 2,
						.backoff_base = 0.1, .backoff_cap = 0.5, .progress = c->progress,
						.what = "EC2 instance metadata"};
		if ((rc = http_client_new(&c->imds, &o)))
			return rc;
	}
	if ((rc = aws_imds_credentials(out, c->imds, endpoint)))
		return rc;
	snprintf(out->source, sizeof(out->source), "EC2 instance metadata (%s)", endpoint);
	return 0;
}

/* ---- the chain ---------------------------------------------------------- */

static int resolve(struct aws_credential_chain *c, struct aws_credentials *out)
{
	if (c->access_key_id && c->secret_access_key)
		return credentials_set(out, c->access_key_id, c->secret_access_key, c->session_token,
				       "the access_key_id and secret_access_key options");
	int rc = from_environment(out);
	if (rc == ERR_NOT_FOUND)
		rc = from_shared_files(c, out);
	if (rc == ERR_NOT_FOUND)
		rc = from_web_identity_env(c, out);
	if (rc == ERR_NOT_FOUND)
		rc = from_container(c, out);
	if (rc != ERR_NOT_FOUND)
		return rc;
	rc = from_instance_metadata(c, out);
	if (rc) {
		char why[600];
		bool explicit_choice;
		snprintf(why, sizeof(why), "%s", error_message());
		return error_set(ERR_FAILURE,
				 "no AWS credentials found: none in the options, the environment (AWS_ACCESS_KEY_ID), "
				 "the shared files (profile %s), web identity (AWS_WEB_IDENTITY_TOKEN_FILE) or container "
				 "credentials; %s",
				 aws_profile_selected(&explicit_choice), why);
	}
	return 0;
}

int aws_credential_chain_get(struct aws_credential_chain *c, struct aws_credentials *out, bool force_refresh)
{
	pthread_mutex_lock(&c->lock);
	int64_t now = (int64_t)time(NULL);
	bool fresh = c->have && (c->current.expires == 0 || c->current.expires - now > REFRESH_MARGIN);
	int rc = 0;
	if (!fresh && !force_refresh && c->failed && now - c->failed_at < FAILURE_MEMORY) {
		/* Tried a moment ago: the current ones while they last, else that error. */
		rc = c->have && c->current.expires > now ? aws_credentials_copy(out, &c->current)
							 : error_restore(&c->failure);
		pthread_mutex_unlock(&c->lock);
		return rc;
	}
	if (!fresh || force_refresh) {
		struct aws_credentials next;
		rc = resolve(c, &next);
		c->failed = rc != 0;
		if (!rc) {
			aws_credentials_clear(&c->current);
			c->current = next;
			c->have = true;
		} else {
			c->failed_at = now;
			error_save(&c->failure, rc);
			if (!c->have || force_refresh || c->current.expires <= now)
				goto out;
			/* Still valid for a while: keep going, try again next time. */
			progress_note(c->progress, "could not refresh AWS credentials (%s); using the current ones "
				      "until they expire", error_message());
		}
	}
	rc = aws_credentials_copy(out, &c->current);
out:
	pthread_mutex_unlock(&c->lock);
	return rc;
}
