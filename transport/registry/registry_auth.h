/* Authorization against one registry, as the distribution ecosystem does it:
 * requests go out anonymously until the registry answers 401 with a
 * WWW-Authenticate challenge; "Basic" then gets the user's credentials on
 * every request, "Bearer" gets a token from the challenge's realm for the
 * scopes needed (pull, or pull and push, plus pull on the repositories
 * blobs are mounted from).  Tokens are renewed before they expire and
 * whenever the registry challenges again (an expired or too narrow token
 * in a long push); an identity token or a refresh token the token server
 * handed out is exchanged through the OAuth2 refresh_token grant, with a
 * fall back to the plain GET for servers without it.  Credentials are
 * looked up only when a challenge asks for them.  Thread-safe: the
 * workers of one transport share it. */
#ifndef CACHECTL_REGISTRY_AUTH_H
#define CACHECTL_REGISTRY_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "transport/http/http.h"

struct registry_auth;

/* domain: the reference's registry ("docker.io"), which names the
 * credentials; insecure: credentials may go to a plain-HTTP token realm
 * on a host that is not a loopback address. */
int registry_auth_new(struct registry_auth **out, struct http_client *http, const char *domain, bool insecure);
void registry_auth_free(struct registry_auth *a);

/* Asks for a scope ("repository:team/app:pull,push") in the tokens to come. */
int registry_auth_add_scope(struct registry_auth *a, const char *scope);

/* The Authorization header line ("Authorization: ...") the next request
 * carries, or NULL for none; *generation tells which credentials it used.
 * The caller frees the line. */
int registry_auth_header(struct registry_auth *a, char **line, unsigned *generation);

/* Called with a 401 answer to a request sent with `generation`: learns the
 * challenge and gets new credentials (unless another thread already did),
 * so that the request can be sent again.  Fails, with a message saying
 * why, when there is nothing more to try. */
int registry_auth_challenge(struct registry_auth *a, const struct http_response *resp, unsigned generation);

/* How the requests are authorised, for messages ("anonymous", "basic
 * credentials from ...", "token for ... from ..."); never a secret. */
void registry_auth_describe(struct registry_auth *a, char *out, size_t size);

/* Token requests made so far (for tests and the debug trace). */
unsigned registry_auth_token_fetches(struct registry_auth *a);

/* ---- parts, exposed for tests ------------------------------------------- */

struct auth_challenge {
	char scheme[16]; /* "Basic", "Bearer" */
	char *realm;
	char *service;
	char *scope;     /* space-separated scopes, may be NULL */
	char *error;     /* "invalid_token", "insufficient_scope" ... */
};

/* Parses one WWW-Authenticate value (RFC 7235 auth-params, quoted strings
 * with escapes); the first Bearer challenge wins over a Basic one. */
int auth_challenge_parse(struct auth_challenge *out, const char *value);
void auth_challenge_free(struct auth_challenge *c);

#endif
