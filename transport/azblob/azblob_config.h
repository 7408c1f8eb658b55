/* The settings of one type=azblob source or destination: BuildKit's
 * attributes with their BUILDKIT_AZURE_STORAGE_* fallbacks, and the one
 * credential that applies, chosen in this order (docs/azblob.md):
 *
 *   1. secret_access_key=        Shared Key with account_name   (BuildKit)
 *   2. sas_token=                a SAS                          (cachectl)
 *   3. a SAS in account_url's query
 *   4. $AZURE_STORAGE_SAS_TOKEN
 *   5. $AZURE_STORAGE_CONNECTION_STRING: its AccountKey (Shared Key) or
 *      SharedAccessSignature; it also supplies the account URL and name
 *      when the options do not
 *   6. Entra ID from the environment (entra_token.h)
 */
#ifndef CACHECTL_AZBLOB_CONFIG_H
#define CACHECTL_AZBLOB_CONFIG_H

#include <stddef.h>

#include "transport/azblob/entra_token.h"
#include "transport/options.h"

enum azblob_auth_kind {
	AZBLOB_AUTH_SHARED_KEY,
	AZBLOB_AUTH_SAS,
	AZBLOB_AUTH_ENTRA,
};

struct azblob_auth {
	enum azblob_auth_kind kind;
	unsigned char *key; /* Shared Key: the decoded account key */
	size_t key_len;
	char *sas;          /* SAS: the query, without '?' */
	struct entra_token_source *entra;
	const char *source; /* where it came from, for messages (never the secret) */
};

struct azblob_config {
	char *account_url;  /* scheme://host[:port][/path], no query, no trailing '/' */
	char *account_name;
	char *container;
	char *prefix, *blobs_prefix, *manifests_prefix;
	char **names;
	size_t n_names;
	unsigned upload_parallelism;
	double touch_refresh; /* seconds; <= 0 refreshes every present blob an export finds */
	struct azblob_auth auth;
};

/* Takes every azblob option from o (options_get), reads the environment. */
int azblob_config_parse(struct azblob_config *out, struct cache_options *o);
void azblob_config_free(struct azblob_config *c);

/* A connection string taken apart ("Key=Value;..."); values are new strings
 * or NULL.  UseDevelopmentStorage=true gives azurite's published account. */
struct azblob_connection_string {
	char *blob_endpoint, *account_name, *account_key, *sas;
};
int azblob_connection_string_parse(struct azblob_connection_string *out, const char *text);
void azblob_connection_string_free(struct azblob_connection_string *cs);

#endif
