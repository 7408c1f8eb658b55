/* Access tokens for Azure Storage from Microsoft Entra ID, as the Azure
 * SDKs' default credential chain gets them from the environment:
 *   - client secret:      AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET
 *   - workload identity:  AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE
 *                         (the file's JWT is sent as a client assertion and
 *                         read again for every new token: it rotates)
 * Both are the OAuth 2.0 client-credentials grant at
 * <AZURE_AUTHORITY_HOST>/<tenant>/oauth2/v2.0/token for the scope
 * https://storage.azure.com/.default.  A token is reused until five minutes
 * before it expires.  Neither the secret, the assertion nor the token ever
 * reaches a message. */
#ifndef CACHECTL_ENTRA_TOKEN_H
#define CACHECTL_ENTRA_TOKEN_H

#include <stdbool.h>

#include "transport/http/http.h"

struct entra_token_source;

/* From the environment: ERR_NOT_FOUND (no message) when neither flow is
 * configured; ERR_USAGE when half configured or the authority is not
 * https (plain http is taken only for loopback hosts, for tests). */
int entra_token_source_from_env(struct entra_token_source **out);
void entra_token_source_free(struct entra_token_source *s);

/* Which flow, for messages: "Entra ID client secret (AZURE_CLIENT_SECRET)". */
const char *entra_token_source_describe(const struct entra_token_source *s);

/* The current token (fetched or renewed when needed), as a new string.
 * Thread-safe. */
int entra_token_get(struct entra_token_source *s, struct http_client *http, char **token);

/* Forgets the cached token, after the storage refused it. */
void entra_token_invalidate(struct entra_token_source *s);

#endif
