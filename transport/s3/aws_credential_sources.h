/* The credential sources that are services: STS (AssumeRoleWithWebIdentity,
 * AssumeRole), the container credentials endpoint, EC2 instance metadata
 * (IMDSv2), and credential_process programs.  Used by the chain in
 * aws_credentials.c. */
#ifndef CACHECTL_AWS_CREDENTIAL_SOURCES_H
#define CACHECTL_AWS_CREDENTIAL_SOURCES_H

#include "core/util/error.h"

#include "transport/s3/aws_credentials.h"
#include "transport/http/http.h"

/* The STS endpoint: AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, else the
 * regional https://sts.<region>.amazonaws.com (a new string). */
char *aws_sts_endpoint(const char *region);

CACHECTL_MUST_CHECK int aws_sts_assume_role_with_web_identity(struct aws_credentials *out, struct http_client *h, const char *endpoint,
					  const char *role_arn, const char *session_name, const char *token);

/* AssumeRole, signed with `source`. */
CACHECTL_MUST_CHECK int aws_sts_assume_role(struct aws_credentials *out, struct http_client *h, const char *endpoint, const char *region,
			const struct aws_credentials *source, const char *role_arn, const char *session_name,
			const char *external_id);

/* GET url with the optional Authorization value; JSON answer. */
CACHECTL_MUST_CHECK int aws_container_credentials(struct aws_credentials *out, struct http_client *h, const char *url,
			      const char *authorization);

/* IMDSv2 at endpoint (e.g. http://169.254.169.254): token, role, credentials. */
CACHECTL_MUST_CHECK int aws_imds_credentials(struct aws_credentials *out, struct http_client *h, const char *endpoint);

/* Runs the command with /bin/sh; its standard output is the JSON of the
 * credential_process protocol (Version 1). */
CACHECTL_MUST_CHECK int aws_process_credentials(struct aws_credentials *out, const char *command);

#endif
