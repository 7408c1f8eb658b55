/* Docker image references ("alpine", "ghcr.io/o/r:tag", "host:5000/a/b@sha256:...")
 * parsed and normalised exactly as Docker and BuildKit do: a missing
 * registry is docker.io, a one-component Docker Hub name gets library/, and
 * a reference with neither tag nor digest gets the tag "latest". */
#ifndef CACHECTL_REFERENCE_H
#define CACHECTL_REFERENCE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/util/digest.h"

#define REFERENCE_NAME_MAX 255

struct reference {
	char *domain;            /* "docker.io", "ghcr.io", "127.0.0.1:5000", "[::1]:5000" */
	char *path;              /* "library/alpine", "team/app" */
	char *tag;               /* NULL when only a digest was given */
	char digest[DIGEST_BUF]; /* empty unless given */
};

/* ERR_USAGE with a message quoting text when it is not a valid reference. */
int reference_parse(struct reference *out, const char *text);
void reference_free(struct reference *r);

/* The canonical form: "docker.io/library/alpine:latest", "h/p@sha256:..",
 * "h/p:t@sha256:..". */
void reference_format(char *out, size_t size, const struct reference *r);

/* Host (and port) that serves the registry API: docker.io is served by
 * registry-1.docker.io. */
const char *reference_api_host(const struct reference *r);

/* The domain without its port ("[::1]:5000" -> "::1"), into out. */
void reference_domain_host(char *out, size_t size, const char *domain);

/* Loopback registries (localhost, 127.0.0.0/8, ::1) are spoken to in plain
 * HTTP without being asked, as Docker does. */
bool reference_domain_is_loopback(const char *domain);

/* Whether text names its registry host explicitly (its first of several
 * components has a '.' or ':', or is "localhost"), as
 * "ghcr.io/org/app:tag" does and "app:tag" or "dir/sub" do not. */
bool reference_names_registry(const char *text);

#endif
