/* AWS credentials, found in the order the AWS SDKs look:
 *
 *   1. the access_key_id / secret_access_key (/ session_token) options
 *   2. AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN
 *   3. the shared files (~/.aws/credentials, ~/.aws/config; AWS_PROFILE,
 *      AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE): static keys,
 *      role_arn with source_profile or web_identity_token_file,
 *      credential_process
 *   4. web identity: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN through STS
 *      AssumeRoleWithWebIdentity
 *   5. container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or
 *      AWS_CONTAINER_CREDENTIALS_FULL_URI (+ AWS_CONTAINER_AUTHORIZATION_TOKEN
 *      or _TOKEN_FILE)
 *   6. EC2 instance metadata (IMDSv2), unless AWS_EC2_METADATA_DISABLED=true
 *
 * Endpoints can be pointed elsewhere (tests use loopback stand-ins):
 * AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL for STS,
 * AWS_EC2_METADATA_SERVICE_ENDPOINT for IMDS, and
 * CACHECTL_AWS_CONTAINER_CREDENTIALS_HOST for the host a relative URI is
 * resolved against (default http://169.254.170.2).
 *
 * Temporary credentials are refreshed five minutes before they expire.
 * Nothing here prints or records a secret: messages name sources, files,
 * profiles and endpoints only. */
#ifndef CACHECTL_AWS_CREDENTIALS_H
#define CACHECTL_AWS_CREDENTIALS_H

#include "core/util/error.h"

#include <stdbool.h>
#include <stdint.h>

struct progress;

struct aws_credentials {
	char *access_key_id;
	char *secret_access_key;
	char *session_token; /* NULL when none */
	int64_t expires;     /* Unix seconds; 0: does not expire */
	char source[160];    /* where they came from, for messages */
};

/* Wipes the secrets and frees. */
void aws_credentials_clear(struct aws_credentials *c);
CACHECTL_MUST_CHECK int aws_credentials_copy(struct aws_credentials *dst, const struct aws_credentials *src);

struct aws_credential_options {
	/* Static credentials, used when both are non-empty (BuildKit's rule). */
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token;
	const char *region; /* for STS */
};

struct aws_credential_chain;

CACHECTL_MUST_CHECK int aws_credential_chain_new(struct aws_credential_chain **out, const struct aws_credential_options *o);
void aws_credential_chain_free(struct aws_credential_chain *c);
void aws_credential_chain_set_progress(struct aws_credential_chain *c, struct progress *p);

/* A copy of the current credentials (aws_credentials_clear it): the chain
 * is walked on first use, and again when they are about to expire or when
 * force_refresh (the store said the token expired).  Thread-safe. */
CACHECTL_MUST_CHECK int aws_credential_chain_get(struct aws_credential_chain *c, struct aws_credentials *out, bool force_refresh);

#endif
