/* The grammar is distribution's reference package (docker/distribution
 * reference/regexp.go), normalised as its ParseNormalizedNamed does. */
#include "transport/registry/reference.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/error.h"

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* path-component: [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )* */
static bool valid_path_component(const char *s, size_t n)
{
	size_t i = 0;
	if (n == 0 || !is_lower_alnum(s[0]))
		return false;
	while (i < n) {
		while (i < n && is_lower_alnum(s[i]))
			i++;
		if (i == n)
			return true;
		size_t sep = i;
		if (s[i] == '.') {
			i++;
		} else if (s[i] == '_') {
			i++;
			if (i < n && s[i] == '_')
				i++;
		} else if (s[i] == '-') {
			while (i < n && s[i] == '-')
				i++;
		} else {
			return false;
		}
		if (i == n || !is_lower_alnum(s[i]) || i == sep)
			return false;
	}
	return true;
}

/* domain-component ( "." domain-component )* [ ":" port ], or "[" ipv6 "]" [ ":" port ] */
static bool valid_domain(const char *s, size_t n)
{
	size_t i = 0;
	if (n && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (!close || close == s + 1)
			return false;
		for (const char *p = s + 1; p < close; p++)
			if (!isxdigit((unsigned char)*p) && *p != ':')
				return false;
		i = (size_t)(close - s) + 1;
	} else {
		for (;;) {
			size_t start = i;
			while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '-'))
				i++;
			if (i == start || s[start] == '-' || s[i - 1] == '-')
				return false;
			if (i < n && s[i] == '.') {
				i++;
				continue;
			}
			break;
		}
	}
	if (i == n)
		return true;
	if (s[i] != ':' || i + 1 == n)
		return false;
	for (i++; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* tag: [\w][\w.-]{0,127} */
static bool valid_tag(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 128 || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
			return false;
	return true;
}

static bool all_hex64(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (; *s; s++)
		if (!isxdigit((unsigned char)*s))
			return false;
	return true;
}

static int bad(const char *text, const char *why)
{
	return error_set(ERR_USAGE, "invalid reference \"%s\": %s", text, why);
}

void reference_free(struct reference *r)
{
	free(r->domain);
	free(r->path);
	free(r->tag);
	memset(r, 0, sizeof(*r));
}

/* Takes "@sha256:..." and ":tag" off the end of copy, into out. */
static int split_digest_and_tag(struct reference *out, char *copy, const char *text)
{
	char *at = strchr(copy, '@');
	if (at) {
		*at = '\0';
		const char *d = at + 1;
		if (strncmp(d, DIGEST_PREFIX, strlen(DIGEST_PREFIX)) != 0 && strchr(d, ':'))
			return bad(text, "only sha256 digests are supported");
		if (digest_is_valid(d) != 0)
			return bad(text, "the part after @ is not a sha256:<64 lowercase hex> digest");
		memcpy(out->digest, d, DIGEST_BUF);
	}
	char *slash = strrchr(copy, '/');
	char *colon = strrchr(slash ? slash : copy, ':');
	if (colon) {
		*colon = '\0';
		if (!valid_tag(colon + 1))
			return bad(text, "the tag may only hold letters, digits, '_', '.' and '-' (at most 128, not starting with '.' or '-')");
		if (!(out->tag = strdup(colon + 1)))
			return error_oom();
	}
	return 0;
}

/* Docker's rule: the first of several components is a registry when it has
 * a '.' or ':', is "localhost", or has capitals. */
static bool names_registry(const char *first, size_t n)
{
	bool upper = false;
	for (size_t i = 0; i < n; i++)
		upper = upper || isupper((unsigned char)first[i]);
	return memchr(first, '.', n) || memchr(first, ':', n) || (n == 9 && strncmp(first, "localhost", 9) == 0) ||
	       upper;
}

bool reference_names_registry(const char *text)
{
	const char *first = strchr(text, '/');
	size_t n = first ? (size_t)(first - text) : 0;
	/* capitals alone are not enough here: "Cache/dir" is more likely a path */
	return first && (memchr(text, '.', n) || memchr(text, ':', n) || (n == 9 && strncmp(text, "localhost", 9) == 0));
}

/* Splits the registry off name (into domain, docker.io when none) and
 * points *remainder at the repository path. */
static int split_domain(char domain[512], const char **remainder, const char *name, const char *text)
{
	const char *first = strchr(name, '/');
	size_t n = first ? (size_t)(first - name) : 0;
	*remainder = name;
	snprintf(domain, 512, "docker.io");
	if (first && names_registry(name, n)) {
		if (n >= 512 || !valid_domain(name, n))
			return bad(text, "the registry part is not a host name with an optional :port");
		memcpy(domain, name, n);
		domain[n] = '\0';
		*remainder = first + 1;
	}
	if (strcmp(domain, "index.docker.io") == 0)
		snprintf(domain, 512, "docker.io");
	return 0;
}

static int check_repository(const char *path, const char *text)
{
	for (const char *p = path; *p; p++)
		if (isupper((unsigned char)*p))
			return bad(text, "repository name must be lowercase");
	for (const char *p = path;;) {
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (!valid_path_component(p, n))
			return bad(text, "each repository path component is lowercase letters and digits, "
					 "separated by '.', '_', '__' or dashes");
		if (!end)
			return 0;
		p = end + 1;
	}
}

int reference_parse(struct reference *out, const char *text)
{
	memset(out, 0, sizeof(*out));
	if (!*text)
		return bad(text, "it is empty");
	if (all_hex64(text))
		return bad(text, "a 64-character hexadecimal string is an image ID, not a reference");
	char *copy = strdup(text);
	CHECK_ALLOC(copy);
	const char *remainder;
	char domain[512];
	int rc = split_digest_and_tag(out, copy, text);
	if (!rc)
		rc = split_domain(domain, &remainder, copy, text);
	if (!rc)
		rc = check_repository(remainder, text);
	if (rc)
		goto out;
	bool library = strcmp(domain, "docker.io") == 0 && !strchr(remainder, '/');
	size_t len = strlen(remainder) + (library ? 8 : 0);
	if (!(out->path = malloc(len + 1)) || !(out->domain = strdup(domain))) {
		rc = error_oom();
		goto out;
	}
	snprintf(out->path, len + 1, "%s%s", library ? "library/" : "", remainder);
	if (strlen(out->domain) + 1 + strlen(out->path) > REFERENCE_NAME_MAX)
		rc = bad(text, "the repository name is longer than 255 characters");
	else if (!out->tag && !*out->digest && !(out->tag = strdup("latest")))
		rc = error_oom();
out:
	free(copy);
	if (rc)
		reference_free(out);
	return rc;
}

void reference_format(char *out, size_t size, const struct reference *r)
{
	snprintf(out, size, "%s/%s%s%s%s%s", r->domain, r->path, r->tag ? ":" : "", r->tag ? r->tag : "",
		 *r->digest ? "@" : "", r->digest);
}

const char *reference_api_host(const struct reference *r)
{
	return strcmp(r->domain, "docker.io") == 0 ? "registry-1.docker.io" : r->domain;
}

void reference_domain_host(char *out, size_t size, const char *domain)
{
	if (domain[0] == '[') {
		const char *close = strchr(domain, ']');
		size_t n = close ? (size_t)(close - domain - 1) : strlen(domain + 1);
		snprintf(out, size, "%.*s", (int)n, domain + 1);
		return;
	}
	const char *colon = strchr(domain, ':');
	snprintf(out, size, "%.*s", (int)(colon ? (size_t)(colon - domain) : strlen(domain)), domain);
}

bool reference_domain_is_loopback(const char *domain)
{
	char host[256];
	unsigned char addr[16];
	reference_domain_host(host, sizeof(host), domain);
	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, addr) == 1)
		return addr[0] == 127;
	if (inet_pton(AF_INET6, host, addr) == 1) {
		static const unsigned char loop6[16] = {[15] = 1};
		return memcmp(addr, loop6, 16) == 0;
	}
	return false;
}
