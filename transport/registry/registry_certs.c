#include "transport/registry/registry_certs.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_ROOTS "/etc/containers/certs.d:/etc/docker/certs.d"
#define MAX_CA_FILE (4u << 20)

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n > k && strcmp(s + n - k, suffix) == 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static char *join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s/%s", dir, name);
	return s;
}

/* The first root holding a folder for domain, or NULL. */
static int find_dir(char **out, const char *domain)
{
	const char *env = getenv("CACHECTL_CERTS_D");
	char *roots = strdup(env ? env : DEFAULT_ROOTS);
	CHECK_ALLOC(roots);
	*out = NULL;
	char *save = NULL;
	for (char *root = strtok_r(roots, ":", &save); root; root = strtok_r(NULL, ":", &save)) {
		char *dir = join(root, domain);
		struct stat st;
		if (!dir) {
			free(roots);
			return error_oom();
		}
		if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
			*out = dir;
			break;
		}
		free(dir);
	}
	free(roots);
	return 0;
}

static int add_entry(struct registry_certs *c, const char *name)
{
	char *path = join(c->dir, name);
	CHECK_ALLOC(path);
	int rc = 0;
	if (ends_with(name, ".crt")) {
		struct buffer one = BUFFER_INIT;
		if (!(rc = buffer_read_file(&one, path, MAX_CA_FILE)) && !(rc = buffer_append(&c->ca_pem, one.data, one.len)))
			rc = buffer_append_str(&c->ca_pem, "\n");
		buffer_free(&one);
		if (rc)
			rc = error_wrap(rc, "CA certificate %s", path);
	} else if (ends_with(name, ".cert") && !c->client_cert) {
		size_t stem = strlen(path) - strlen(".cert");
		char *key = malloc(stem + sizeof(".key"));
		if (!key) {
			free(path);
			return error_oom();
		}
		snprintf(key, stem + sizeof(".key"), "%.*s.key", (int)stem, path);
		struct stat st;
		if (stat(key, &st) != 0) {
			rc = error_set(ERR_FAILURE, "client certificate %s has no key %s: put the key there or remove the certificate",
				       path, key);
			free(key);
		} else {
			c->client_cert = path;
			c->client_key = key;
			return 0;
		}
	}
	free(path);
	return rc;
}

int registry_certs_find(struct registry_certs *out, const char *domain)
{
	memset(out, 0, sizeof(*out));
	if (strchr(domain, '/') || strcmp(domain, "..") == 0 || strcmp(domain, ".") == 0)
		return 0; /* never a folder name outside the roots */
	int rc = find_dir(&out->dir, domain);
	if (rc || !out->dir)
		return rc;
	struct dirent **names = NULL;
	int n = scandir(out->dir, &names, NULL, by_name);
	if (n < 0) {
		rc = error_set(ERR_FAILURE, "cannot read certificates folder %s", out->dir);
		registry_certs_free(out);
		return rc;
	}
	for (int i = 0; i < n; i++) {
		if (!rc)
			rc = add_entry(out, names[i]->d_name);
		free(names[i]);
	}
	free(names);
	if (rc)
		registry_certs_free(out);
	return rc;
}

void registry_certs_free(struct registry_certs *c)
{
	free(c->dir);
	buffer_free(&c->ca_pem);
	free(c->client_cert);
	free(c->client_key);
	memset(c, 0, sizeof(*c));
}
