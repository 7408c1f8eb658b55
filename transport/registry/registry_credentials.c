#include "transport/registry/registry_credentials.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/util/base64.h"
#include "core/util/buffer.h"
#include "core/util/error.h"

#define CONFIG_MAX (4u << 20)
#define HELPER_OUTPUT_MAX (64u << 10)

extern char **environ;

void registry_credentials_free(struct registry_credentials *c)
{
	if (c->secret)
		memset(c->secret, 0, strlen(c->secret));
	free(c->username);
	free(c->secret);
	memset(c, 0, sizeof(*c));
}

static bool is_docker_hub(const char *domain)
{
	return strcmp(domain, "docker.io") == 0 || strcmp(domain, "index.docker.io") == 0 ||
	       strcmp(domain, "registry-1.docker.io") == 0;
}

const char *registry_credentials_key(const char *domain)
{
	return is_docker_hub(domain) ? "https://index.docker.io/v1/" : domain;
}

/* Docker's ConvertToHostname: the key without scheme and path. */
static void key_host(char *out, size_t size, const char *key)
{
	const char *p = key;
	if (strncmp(p, "http://", 7) == 0)
		p += 7;
	else if (strncmp(p, "https://", 8) == 0)
		p += 8;
	size_t n = strcspn(p, "/");
	snprintf(out, size, "%.*s", (int)n, p);
}

static bool key_matches(const char *key, const char *domain)
{
	char host[512];
	if (strcmp(key, registry_credentials_key(domain)) == 0)
		return true;
	key_host(host, sizeof(host), key);
	if (is_docker_hub(domain))
		return is_docker_hub(host);
	return strcmp(host, domain) == 0;
}

/* The entry of `map` (auths, credHelpers) filed under the registry. */
static const cJSON *entry_for(const cJSON *map, const char *domain)
{
	const cJSON *it;
	const cJSON *exact = cJSON_GetObjectItemCaseSensitive(map, registry_credentials_key(domain));
	if (exact)
		return exact;
	cJSON_ArrayForEach(it, map) if (it->string && key_matches(it->string, domain)) return it;
	return NULL;
}

static int set_pair(struct registry_credentials *out, const char *user, const char *secret, bool identity)
{
	if (!(out->username = strdup(user)) || !(out->secret = strdup(secret))) {
		registry_credentials_free(out);
		return error_oom();
	}
	out->identity_token = identity;
	return 0;
}

/* An auths entry: "auth" (base64 user:password), "username"/"password",
 * "identitytoken".  0 with nothing set when the entry holds none. */
static int from_auths_entry(struct registry_credentials *out, const cJSON *e, const char *where)
{
	const cJSON *auth = cJSON_GetObjectItemCaseSensitive(e, "auth");
	const cJSON *identity = cJSON_GetObjectItemCaseSensitive(e, "identitytoken");
	const cJSON *user = cJSON_GetObjectItemCaseSensitive(e, "username");
	const cJSON *pass = cJSON_GetObjectItemCaseSensitive(e, "password");
	struct buffer plain = BUFFER_INIT;
	int rc = 0;
	if (cJSON_IsString(identity) && *identity->valuestring) {
		rc = set_pair(out, "<token>", identity->valuestring, true);
	} else if (cJSON_IsString(auth) && *auth->valuestring) {
		const char *colon;
		if (base64_std_decode(&plain, auth->valuestring, strlen(auth->valuestring)) || !plain.data ||
		    strlen(plain.data) != plain.len || !(colon = strchr(plain.data, ':'))) {
			rc = error_set(ERR_FAILURE, "%s: the \"auth\" value is not base64 of user:password", where);
		} else {
			plain.data[colon - plain.data] = '\0';
			rc = set_pair(out, plain.data, colon + 1, false);
		}
	} else if (cJSON_IsString(user) && cJSON_IsString(pass) && *user->valuestring) {
		rc = set_pair(out, user->valuestring, pass->valuestring, false);
	}
	if (plain.data)
		memset(plain.data, 0, plain.len);
	buffer_free(&plain);
	if (!rc && out->username)
		snprintf(out->source, sizeof(out->source), "%s", where);
	return rc;
}

/* ---- docker-credential-<name> ------------------------------------------- */

static int helper_exchange(const char *program, const char *server_url, struct buffer *output, int *status)
{
	int in[2], out[2];
	pid_t pid;
	posix_spawn_file_actions_t fa;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0)
		return error_set_errno(ERR_FAILURE, errno, "credential helper %s", program);
	if (pipe2(out, O_CLOEXEC) != 0) {
		int e = errno;
		close(in[0]);
		close(in[1]);
		return error_set_errno(ERR_FAILURE, e, "credential helper %s", program);
	}
	char *argv[] = {(char *)program, (char *)"get", NULL};
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[1], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	/* Its stderr is not ours to show: a helper may echo what it read. */
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	int err = posix_spawnp(&pid, program, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(in[1]);
	close(out[1]);
	if (err) {
		close(in[0]);
		close(out[0]);
		if (err == ENOENT)
			return error_set(ERR_FAILURE, "credential helper %s is not installed (not found in PATH)", program);
		return error_set_errno(ERR_FAILURE, err, "cannot run credential helper %s", program);
	}
	/* The server URL on stdin, then end of input; MSG_NOSIGNAL because a
	 * helper may exit without reading it. */
	size_t len = strlen(server_url), sent = 0;
	while (sent < len) {
		ssize_t n = send(in[0], server_url + sent, len - sent, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		sent += (size_t)n;
	}
	shutdown(in[0], SHUT_WR);
	int rc = 0;
	for (;;) {
		char chunk[4096];
		ssize_t n = read(out[0], chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (output->len + (size_t)n > HELPER_OUTPUT_MAX) {
			rc = error_set(ERR_FAILURE, "credential helper %s wrote more than %u bytes", program,
				       HELPER_OUTPUT_MAX);
			break;
		}
		if (buffer_append(output, chunk, (size_t)n)) {
			rc = ERR_FAILURE;
			break;
		}
	}
	close(in[0]);
	close(out[0]);
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
	return rc;
}

int registry_credentials_from_helper(struct registry_credentials *out, const char *helper, const char *server_url)
{
	char program[256];
	struct buffer output = BUFFER_INIT;
	int status = 0;
	memset(out, 0, sizeof(*out));
	if (!*helper || strchr(helper, '/'))
		return error_set(ERR_FAILURE, "credential helper name \"%s\" is not a plain name", helper);
	snprintf(program, sizeof(program), "docker-credential-%s", helper);
	int rc = helper_exchange(program, server_url, &output, &status);
	if (rc)
		goto out;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (output.data && strstr(output.data, "credentials not found"))
			goto out; /* the helper's way of saying "anonymous" */
		if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
			rc = error_set(ERR_FAILURE, "credential helper %s could not be run", program);
			goto out;
		}
		/* Its error text, first line only: a message, not a credential. */
		char first[200] = "";
		if (output.data)
			snprintf(first, sizeof(first), "%.*s", (int)strcspn(output.data, "\r\n"), output.data);
		rc = error_set(ERR_FAILURE, "credential helper %s get %s failed (%s %d)%s%s", program, server_url,
			       WIFEXITED(status) ? "exit status" : "signal",
			       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), *first ? ": " : "", first);
		goto out;
	}
	cJSON *doc = cJSON_ParseWithLength(output.data ? output.data : "", output.len);
	const cJSON *user = cJSON_GetObjectItemCaseSensitive(doc, "Username");
	const cJSON *secret = cJSON_GetObjectItemCaseSensitive(doc, "Secret");
	if (!cJSON_IsString(user) || !cJSON_IsString(secret)) {
		rc = error_set(ERR_FAILURE, "credential helper %s answered something other than "
					    "{\"Username\":...,\"Secret\":...}", program);
	} else if (*secret->valuestring) {
		bool identity = strcmp(user->valuestring, "<token>") == 0;
		rc = set_pair(out, user->valuestring, secret->valuestring, identity);
		if (!rc)
			snprintf(out->source, sizeof(out->source), "credential helper %s", program);
	}
	cJSON_Delete(doc);
out:
	if (output.data)
		memset(output.data, 0, output.len);
	buffer_free(&output);
	return rc;
}

/* ---- the files ---------------------------------------------------------- */

static int read_json(cJSON **out, const char *path)
{
	struct buffer b = BUFFER_INIT;
	*out = NULL;
	int rc = buffer_read_file(&b, path, CONFIG_MAX);
	if (rc == ERR_NOT_FOUND) {
		error_clear();
		return 0;
	}
	if (rc)
		return rc;
	*out = cJSON_ParseWithLength(b.data ? b.data : "", b.len);
	if (b.data)
		memset(b.data, 0, b.len);
	buffer_free(&b);
	if (!*out || !cJSON_IsObject(*out)) {
		cJSON_Delete(*out);
		*out = NULL;
		return error_set(ERR_FAILURE, "%s is not a JSON object", path);
	}
	return 0;
}

static int from_docker_config(struct registry_credentials *out, const char *domain)
{
	char path[4096];
	const char *dir = getenv("DOCKER_CONFIG"), *home = getenv("HOME");
	if (dir && *dir)
		snprintf(path, sizeof(path), "%s/config.json", dir);
	else if (home && *home)
		snprintf(path, sizeof(path), "%s/.docker/config.json", home);
	else
		return 0;
	cJSON *doc;
	int rc = read_json(&doc, path);
	if (rc || !doc)
		return rc;
	const char *key = registry_credentials_key(domain);
	const cJSON *helper = entry_for(cJSON_GetObjectItemCaseSensitive(doc, "credHelpers"), domain);
	const cJSON *store = cJSON_GetObjectItemCaseSensitive(doc, "credsStore");
	const cJSON *auth = entry_for(cJSON_GetObjectItemCaseSensitive(doc, "auths"), domain);
	if (cJSON_IsString(helper) && *helper->valuestring)
		rc = registry_credentials_from_helper(out, helper->valuestring, key);
	else if (cJSON_IsString(store) && *store->valuestring)
		rc = registry_credentials_from_helper(out, store->valuestring, key);
	if (!rc && !out->username && cJSON_IsObject(auth)) {
		char where[4200];
		snprintf(where, sizeof(where), "%s (auths)", path);
		rc = from_auths_entry(out, auth, where);
	}
	cJSON_Delete(doc);
	return rc;
}

static int from_containers_auth(struct registry_credentials *out, const char *domain)
{
	char path[4096];
	const char *file = getenv("REGISTRY_AUTH_FILE"), *run = getenv("XDG_RUNTIME_DIR");
	if (file && *file)
		snprintf(path, sizeof(path), "%s", file);
	else if (run && *run)
		snprintf(path, sizeof(path), "%s/containers/auth.json", run);
	else
		return 0;
	cJSON *doc;
	int rc = read_json(&doc, path);
	if (rc || !doc)
		return rc;
	const cJSON *auth = entry_for(cJSON_GetObjectItemCaseSensitive(doc, "auths"), domain);
	if (cJSON_IsObject(auth)) {
		char where[4200];
		snprintf(where, sizeof(where), "%s (auths)", path);
		rc = from_auths_entry(out, auth, where);
	}
	cJSON_Delete(doc);
	return rc;
}

int registry_credentials_find(struct registry_credentials *out, const char *domain)
{
	memset(out, 0, sizeof(*out));
	int rc = from_docker_config(out, domain);
	if (!rc && !out->username)
		rc = from_containers_auth(out, domain);
	if (rc)
		registry_credentials_free(out);
	return rc;
}
