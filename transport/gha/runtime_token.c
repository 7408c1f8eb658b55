#include "transport/gha/runtime_token.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/base64.h"
#include "core/util/buffer.h"
#include "core/util/error.h"
#include "core/util/json_number.h"

void runtime_token_free(struct runtime_token *t)
{
	for (size_t i = 0; i < t->n_scopes; i++)
		free(t->scopes[i].scope);
	free(t->scopes);
	memset(t, 0, sizeof(*t));
}

const char *runtime_token_write_scope(const struct runtime_token *t)
{
	const char *w = NULL;
	for (size_t i = 0; i < t->n_scopes; i++)
		if (t->scopes[i].permission & TOKEN_WRITE)
			w = t->scopes[i].scope;
	return w;
}

static int bad(const char *why)
{
	/* Never the token itself: it is a credential. */
	return error_set(ERR_USAGE, "the gha runtime token is not usable: %s", why);
}

static int parse_scopes(struct runtime_token *t, const char *ac)
{
	cJSON *list = cJSON_Parse(ac);
	int rc = 0;
	if (!cJSON_IsArray(list)) {
		cJSON_Delete(list);
		return bad("its ac claim is not a JSON array of scopes");
	}
	size_t n = (size_t)cJSON_GetArraySize(list);
	t->scopes = calloc(n + 1, sizeof(*t->scopes));
	if (!t->scopes) {
		cJSON_Delete(list);
		return error_oom();
	}
	const cJSON *item;
	cJSON_ArrayForEach(item, list) {
		const cJSON *scope = cJSON_GetObjectItem(item, "Scope");
		int64_t perm;
		if (!cJSON_IsString(scope) || !json_integer(cJSON_GetObjectItem(item, "Permission"), 0, INT32_MAX, &perm)) {
			rc = bad("an ac entry lacks Scope or a Permission number");
			break;
		}
		if (!(t->scopes[t->n_scopes].scope = strdup(scope->valuestring))) {
			rc = error_oom();
			break;
		}
		t->scopes[t->n_scopes++].permission = (int)perm;
	}
	cJSON_Delete(list);
	return rc;
}

/* Between the nbf and exp claims, where given. */
static int check_valid_at(const struct runtime_token *t, int64_t now)
{
	if (t->expires && t->expires < now)
		return bad("it has expired (exp claim)");
	if (t->not_before && t->not_before > now)
		return bad("it is not valid yet (nbf claim)");
	return 0;
}

int runtime_token_parse(struct runtime_token *out, const char *jwt, int64_t now)
{
	memset(out, 0, sizeof(*out));
	const char *dot1 = strchr(jwt, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	if (!dot1 || !dot2)
		return bad("it is not a JWT (header.payload.signature)");
	struct buffer payload = BUFFER_INIT;
	if (base64_url_decode(&payload, dot1 + 1, (size_t)(dot2 - dot1 - 1))) {
		buffer_free(&payload);
		return bad("its payload is not base64url");
	}
	cJSON *claims = cJSON_ParseWithLength(payload.data ? payload.data : "", payload.len);
	buffer_free(&payload);
	if (!cJSON_IsObject(claims)) {
		cJSON_Delete(claims);
		return bad("its payload is not a JSON object");
	}
	int rc;
	const cJSON *ac = cJSON_GetObjectItem(claims, "ac");
	const cJSON *nbf = cJSON_GetObjectItem(claims, "nbf");
	const cJSON *exp = cJSON_GetObjectItem(claims, "exp");
	if (!cJSON_IsString(ac))
		rc = bad("it has no ac claim (a JSON string)");
	else if ((nbf && !json_integer(nbf, 0, JSON_EXACT_MAX, &out->not_before)) ||
		 (exp && !json_integer(exp, 0, JSON_EXACT_MAX, &out->expires)))
		rc = bad("its nbf or exp claim is not a time in seconds");
	else if ((rc = parse_scopes(out, ac->valuestring)) == 0)
		rc = check_valid_at(out, now);
	cJSON_Delete(claims);
	if (rc)
		runtime_token_free(out);
	return rc;
}
