/* Registry credentials from where Docker and Podman users keep them.
 *
 * Looked up for one registry (its reference domain: "docker.io",
 * "ghcr.io", "127.0.0.1:5000"), first hit wins:
 *   1. $DOCKER_CONFIG/config.json (default ~/.docker/config.json):
 *      credHelpers[registry], then credsStore -- both through the
 *      docker-credential-<name> protocol -- then auths[registry]
 *      ("auth" = base64 user:password, or "identitytoken");
 *   2. $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json
 *      (Podman, skopeo): auths[registry].
 * Nothing found means anonymous.  Values never reach a message. */
#ifndef CACHECTL_REGISTRY_CREDENTIALS_H
#define CACHECTL_REGISTRY_CREDENTIALS_H

#include <stdbool.h>

struct registry_credentials {
	char *username;      /* NULL: anonymous */
	char *secret;        /* the password, or an identity token */
	bool identity_token; /* secret is an OAuth2 refresh token (Username "<token>") */
	char source[300];    /* where they came from, for messages */
};

int registry_credentials_find(struct registry_credentials *out, const char *domain);
void registry_credentials_free(struct registry_credentials *c);

/* The server URL Docker files credentials under and hands to helpers:
 * "https://index.docker.io/v1/" for Docker Hub, else the domain. */
const char *registry_credentials_key(const char *domain);

/* Runs docker-credential-<helper> get for server_url.  No credentials
 * stored there is not an error (username stays NULL). */
int registry_credentials_from_helper(struct registry_credentials *out, const char *helper, const char *server_url);

#endif
