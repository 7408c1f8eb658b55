#include "transport/s3/aws_credential_sources.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "core/util/error.h"
#include "core/util/timestamp.h"
#include "transport/s3/aws_sigv4.h"
#include "transport/s3/url_parts.h"
#include "transport/s3/xml_text.h"

/* Answers carry secrets: wipe them before freeing. */
static void response_wipe(struct http_response *r)
{
	if (r->body.data)
		OPENSSL_cleanse(r->body.data, r->body.cap);
	http_response_free(r);
}

static int parse_expiration(int64_t *out, const char *text, const char *what)
{
	struct timestamp t;
	*out = 0;
	if (!text || !*text)
		return 0;
	int rc = timestamp_parse(&t, text);
	if (rc)
		return error_wrap(rc, "%s: Expiration", what);
	*out = t.seconds;
	return 0;
}

static int set_credentials(struct aws_credentials *out, const char *id, const char *secret, const char *token,
			   const char *expiration, const char *what)
{
	int rc;
	memset(out, 0, sizeof(*out));
	if (!id || !*id || !secret || !*secret)
		return error_set(ERR_FAILURE, "%s: the answer has no AccessKeyId and SecretAccessKey", what);
	if ((rc = parse_expiration(&out->expires, expiration, what)))
		return rc;
	out->access_key_id = strdup(id);
	out->secret_access_key = strdup(secret);
	out->session_token = token && *token ? strdup(token) : NULL;
	snprintf(out->source, sizeof(out->source), "%s", what);
	if (!out->access_key_id || !out->secret_access_key || (token && *token && !out->session_token)) {
		aws_credentials_clear(out);
		return error_oom();
	}
	return 0;
}

static const char *json_string(const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Deletes a parsed answer, wiping the copies of the secrets it holds. */
static void json_wipe(cJSON *doc)
{
	for (cJSON *it = doc ? doc->child : NULL; it; it = it->next)
		if (cJSON_IsString(it) && it->valuestring)
			OPENSSL_cleanse(it->valuestring, strlen(it->valuestring));
	cJSON_Delete(doc);
}

/* The JSON of the container endpoint, IMDS and credential_process. */
static int credentials_from_json(struct aws_credentials *out, const char *json, size_t len, const char *token_field,
				 const char *what)
{
	cJSON *doc = cJSON_ParseWithLength(json, len);
	if (!doc || !cJSON_IsObject(doc)) {
		json_wipe(doc);
		return error_set(ERR_FAILURE, "%s: the answer is not a JSON object", what);
	}
	const char *code = json_string(doc, "Code");
	int rc;
	if (code && strcmp(code, "Success") != 0) {
		const char *msg = json_string(doc, "Message");
		rc = error_set(ERR_FAILURE, "%s: %s%s%s", what, code, msg ? ": " : "", msg ? msg : "");
	} else {
		rc = set_credentials(out, json_string(doc, "AccessKeyId"), json_string(doc, "SecretAccessKey"),
				     json_string(doc, token_field), json_string(doc, "Expiration"), what);
	}
	json_wipe(doc);
	return rc;
}

/* ---- STS ---------------------------------------------------------------- */

char *aws_sts_endpoint(const char *region)
{
	const char *v = getenv("AWS_ENDPOINT_URL_STS");
	if (!v || !*v)
		v = getenv("AWS_ENDPOINT_URL");
	if (v && *v)
		return strdup(v);
	char url[256];
	snprintf(url, sizeof(url), "https://sts.%s.amazonaws.com", region && *region ? region : "us-east-1");
	return strdup(url);
}

static int form_add(struct buffer *b, const char *name, const char *value)
{
	int rc;
	if (b->len && (rc = buffer_append_str(b, "&")))
		return rc;
	if ((rc = sigv4_uri_encode(b, name, false)) || (rc = buffer_append_str(b, "=")))
		return rc;
	return sigv4_uri_encode(b, value, false);
}

static int sts_error(const struct http_response *r, const char *what, const char *endpoint)
{
	char *code = xml_text(r->body.data ? r->body.data : "", r->body.len, "Code");
	char *msg = xml_text(r->body.data ? r->body.data : "", r->body.len, "Message");
	char url[512];
	http_redact_url(url, sizeof(url), endpoint);
	int rc = error_set(ERR_FAILURE, "%s at %s: HTTP %ld%s%s%s%s", what, url, r->status, code ? " " : "",
			   code ? code : "", msg ? ": " : "", msg ? msg : "");
	free(code);
	free(msg);
	return rc;
}

static int sts_credentials(struct aws_credentials *out, const struct http_response *r, const char *what)
{
	const char *body = r->body.data ? r->body.data : "";
	char *id = xml_text(body, r->body.len, "AccessKeyId");
	char *secret = xml_text(body, r->body.len, "SecretAccessKey");
	char *token = xml_text(body, r->body.len, "SessionToken");
	char *exp = xml_text(body, r->body.len, "Expiration");
	int rc = set_credentials(out, id, secret, token, exp, what);
	if (secret)
		OPENSSL_cleanse(secret, strlen(secret));
	if (token)
		OPENSSL_cleanse(token, strlen(token));
	free(id);
	free(secret);
	free(token);
	free(exp);
	return rc;
}

static int sts_call(struct aws_credentials *out, struct http_client *h, const char *endpoint, struct buffer *form,
		    const char *const *headers, const char *what)
{
	struct http_response r;
	struct http_request req = {.method = "POST", .url = endpoint, .headers = headers, .body = form->data,
				   .body_len = form->len};
	int rc = http_do(h, &req, &r);
	if (rc)
		rc = error_wrap(rc, "%s", what);
	else if (r.status != 200)
		rc = sts_error(&r, what, endpoint);
	else
		rc = sts_credentials(out, &r, what);
	response_wipe(&r);
	return rc;
}

int aws_sts_assume_role_with_web_identity(struct aws_credentials *out, struct http_client *h, const char *endpoint,
					  const char *role_arn, const char *session_name, const char *token)
{
	struct buffer form = BUFFER_INIT;
	const char *headers[] = {"Content-Type: application/x-www-form-urlencoded; charset=utf-8",
				 "Accept: application/xml", NULL};
	char what[400];
	int rc;
	if ((rc = form_add(&form, "Action", "AssumeRoleWithWebIdentity")) ||
	    (rc = form_add(&form, "Version", "2011-06-15")) || (rc = form_add(&form, "RoleArn", role_arn)) ||
	    (rc = form_add(&form, "RoleSessionName", session_name)) ||
	    (rc = form_add(&form, "WebIdentityToken", token)))
		goto out;
	snprintf(what, sizeof(what), "STS AssumeRoleWithWebIdentity for %s", role_arn);
	rc = sts_call(out, h, endpoint, &form, headers, what);
out:
	if (form.data)
		OPENSSL_cleanse(form.data, form.cap);
	buffer_free(&form);
	return rc;
}

/* What a signed STS request carries in its header lines. */
struct signed_sts {
	const struct url_parts *u;
	const char *path, *content_type, *date, *authorization, *session_token;
};

static int signed_sts_call(struct aws_credentials *out, struct http_client *h, const struct signed_sts *sts,
			   struct buffer *form, const char *what)
{
	struct buffer lines[5] = {BUFFER_INIT, BUFFER_INIT, BUFFER_INIT, BUFFER_INIT, BUFFER_INIT};
	const char *headers[7] = {NULL};
	size_t n = 0;
	int hr = buffer_appendf(&lines[0], "Host: %s", sts->u->authority) |
		 buffer_appendf(&lines[1], "Content-Type: %s", sts->content_type) |
		 buffer_appendf(&lines[2], "X-Amz-Date: %s", sts->date) |
		 buffer_appendf(&lines[3], "Authorization: %s", sts->authorization);
	if (sts->session_token)
		hr |= buffer_appendf(&lines[4], "X-Amz-Security-Token: %s", sts->session_token);
	for (size_t i = 0; i < 5; i++)
		if (lines[i].data)
			headers[n++] = lines[i].data;
	headers[n++] = "Accept: application/xml";
	char url[1024];
	snprintf(url, sizeof(url), "%s://%s%s", sts->u->scheme, sts->u->authority, sts->path);
	int rc = hr ? error_oom() : sts_call(out, h, url, form, headers, what);
	for (size_t i = 0; i < 5; i++) {
		if (lines[i].data)
			OPENSSL_cleanse(lines[i].data, lines[i].cap);
		buffer_free(&lines[i]);
	}
	return rc;
}

int aws_sts_assume_role(struct aws_credentials *out, struct http_client *h, const char *endpoint, const char *region,
			const struct aws_credentials *source, const char *role_arn, const char *session_name,
			const char *external_id)
{
	struct buffer form = BUFFER_INIT, auth = BUFFER_INIT, path = BUFFER_INIT;
	struct url_parts u;
	char date[SIGV4_DATE_BUF], hash[SIGV4_HASH_BUF], what[400];
	const char *ctype = "application/x-www-form-urlencoded; charset=utf-8";
	snprintf(what, sizeof(what), "STS AssumeRole for %s", role_arn);
	int rc = url_parts_parse(&u, endpoint, "STS endpoint");
	if (rc)
		return rc;
	if ((rc = form_add(&form, "Action", "AssumeRole")) || (rc = form_add(&form, "Version", "2011-06-15")) ||
	    (rc = form_add(&form, "RoleArn", role_arn)) || (rc = form_add(&form, "RoleSessionName", session_name)) ||
	    (external_id && (rc = form_add(&form, "ExternalId", external_id))) ||
	    (rc = buffer_appendf(&path, "%s/", u.path)) || (rc = sigv4_hash_hex(hash, form.data, form.len)))
		goto out;
	sigv4_format_date(date, time(NULL));
	struct sigv4_header sh[4] = {
		{"host", u.authority}, {"content-type", ctype}, {"x-amz-date", date},
		{"x-amz-security-token", source->session_token},
	};
	struct sigv4_request sr = {.method = "POST", .canonical_uri = path.data, .headers = sh,
				   .n_headers = source->session_token ? 4 : 3, .payload_hash = hash, .amz_date = date,
				   .region = region && *region ? region : "us-east-1", .service = "sts"};
	if ((rc = sigv4_authorization(&auth, &sr, source->access_key_id, source->secret_access_key)))
		goto out;
	struct signed_sts sts = {&u, path.data, ctype, date, auth.data, source->session_token};
	rc = signed_sts_call(out, h, &sts, &form, what);
out:
	if (form.data)
		OPENSSL_cleanse(form.data, form.cap);
	buffer_free(&form);
	buffer_free(&auth);
	buffer_free(&path);
	url_parts_free(&u);
	return rc;
}

/* ---- container and instance metadata ------------------------------------ */

int aws_container_credentials(struct aws_credentials *out, struct http_client *h, const char *url,
			      const char *authorization)
{
	int rc;
	struct buffer auth = BUFFER_INIT;
	const char *headers[3] = {"Accept: application/json", NULL, NULL};
	struct http_response r;
	char where[600], shown[512];
	http_redact_url(shown, sizeof(shown), url);
	snprintf(where, sizeof(where), "container credentials endpoint %s", shown);
	if (authorization) {
		if ((rc = buffer_appendf(&auth, "Authorization: %s", authorization)))
			return rc;
		headers[1] = auth.data;
	}
	struct http_request req = {.method = "GET", .url = url, .headers = headers};
	rc = http_do(h, &req, &r);
	if (auth.data)
		OPENSSL_cleanse(auth.data, auth.cap);
	buffer_free(&auth);
	if (rc)
		return error_wrap(rc, "container credentials");
	if (r.status != 200)
		rc = error_set(ERR_FAILURE, "%s: HTTP %ld", where, r.status);
	else
		rc = credentials_from_json(out, r.body.data, r.body.len, "Token", where);
	response_wipe(&r);
	return rc;
}

static const char IMDS_HOP_HINT[] =
	" (inside a container on EC2 the instance's metadata hop limit must be at least 2: "
	"aws ec2 modify-instance-metadata-options --instance-id ID --http-put-response-hop-limit 2)";

int aws_imds_credentials(struct aws_credentials *out, struct http_client *h, const char *endpoint)
{
	char url[1024], where[1100];
	struct buffer token_header = BUFFER_INIT;
	struct http_response r;
	size_t elen = strlen(endpoint);
	while (elen && endpoint[elen - 1] == '/')
		elen--;
	snprintf(where, sizeof(where), "EC2 instance metadata at %.*s", (int)elen, endpoint);

	snprintf(url, sizeof(url), "%.*s/latest/api/token", (int)elen, endpoint);
	const char *ttl[] = {"X-aws-ec2-metadata-token-ttl-seconds: 21600", NULL};
	struct http_request put = {.method = "PUT", .url = url, .headers = ttl};
	int rc = http_do(h, &put, &r);
	if (rc) {
		/* No answer at all (a timeout, or curl's low-speed cut) is
		 * what a PUT dropped by the hop limit looks like; a refused
		 * connection is not. */
		return error_wrap(rc, "%s: no session token%s", where, http_response_timed_out(&r) ? IMDS_HOP_HINT : "");
	}
	if (r.status != 200 || !r.body.len) {
		rc = error_set(ERR_FAILURE, "%s: session token request answered HTTP %ld", where, r.status);
		response_wipe(&r);
		return rc;
	}
	rc = buffer_appendf(&token_header, "X-aws-ec2-metadata-token: %.*s", (int)r.body.len, r.body.data);
	response_wipe(&r);
	if (rc)
		return rc;
	const char *headers[] = {token_header.data, NULL};

	snprintf(url, sizeof(url), "%.*s/latest/meta-data/iam/security-credentials/", (int)elen, endpoint);
	struct http_request list = {.method = "GET", .url = url, .headers = headers};
	char role[256] = "";
	if ((rc = http_do(h, &list, &r)) == 0) {
		if (r.status == 404)
			rc = error_set(ERR_FAILURE, "%s: the instance has no IAM role", where);
		else if (r.status != 200)
			rc = error_set(ERR_FAILURE, "%s: role list answered HTTP %ld", where, r.status);
		else
			snprintf(role, sizeof(role), "%.*s", (int)strcspn(r.body.data ? r.body.data : "", "\r\n"),
				 r.body.data ? r.body.data : "");
		if (!rc && !*role)
			rc = error_set(ERR_FAILURE, "%s: the instance has no IAM role", where);
		http_response_free(&r);
	}
	if (rc)
		goto out;
	struct buffer path = BUFFER_INIT;
	rc = sigv4_uri_encode(&path, role, false);
	snprintf(url, sizeof(url), "%.*s/latest/meta-data/iam/security-credentials/%s", (int)elen, endpoint,
		 path.data ? path.data : "");
	buffer_free(&path);
	if (rc)
		goto out;
	struct http_request get = {.method = "GET", .url = url, .headers = headers};
	if ((rc = http_do(h, &get, &r)))
		goto out;
	char what[1400];
	snprintf(what, sizeof(what), "%s, role %s", where, role);
	if (r.status != 200)
		rc = error_set(ERR_FAILURE, "%s: HTTP %ld", what, r.status);
	else
		rc = credentials_from_json(out, r.body.data, r.body.len, "Token", what);
	response_wipe(&r);
out:
	OPENSSL_cleanse(token_header.data, token_header.cap);
	buffer_free(&token_header);
	return rc;
}

/* ---- credential_process ------------------------------------------------- */

int aws_process_credentials(struct aws_credentials *out, const char *command)
{
	struct buffer b = BUFFER_INIT;
	FILE *f = popen(command, "r");
	if (!f)
		return error_set_errno(ERR_FAILURE, errno, "credential_process: cannot run it");
	int rc = 0;
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && !rc) {
		if (b.len + n > (1u << 20))
			rc = error_set(ERR_FAILURE, "credential_process: more than 1 MiB of output");
		else
			rc = buffer_append(&b, chunk, n);
	}
	OPENSSL_cleanse(chunk, sizeof(chunk));
	int status = pclose(f);
	if (rc)
		goto out;
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		rc = error_set(ERR_FAILURE, "credential_process failed (exit status %d)",
			       status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		goto out;
	}
	cJSON *doc = cJSON_ParseWithLength(b.data ? b.data : "", b.len);
	const cJSON *version = doc ? cJSON_GetObjectItemCaseSensitive(doc, "Version") : NULL;
	bool versioned = cJSON_IsNumber(version) && version->valuedouble == 1;
	json_wipe(doc);
	if (!versioned) {
		rc = error_set(ERR_FAILURE, "credential_process: output is not JSON with \"Version\": 1");
		goto out;
	}
	rc = credentials_from_json(out, b.data, b.len, "SessionToken", "credential_process");
out:
	if (b.data)
		OPENSSL_cleanse(b.data, b.cap);
	buffer_free(&b);
	return rc;
}
