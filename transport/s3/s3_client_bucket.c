/* The bucket-level calls of the S3 client (s3_bucket.h). */
#include "transport/s3/s3_bucket.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/base64.h"
#include "core/util/buffer.h"
#include "core/util/digest.h"
#include "core/util/error.h"
#include "transport/http/http.h"
#include "transport/s3/aws_sigv4.h"
#include "transport/s3/s3_call.h"
#include "transport/s3/xml_text.h"

#define LIST_ANSWER_MAX (16u << 20) /* a page of 1000 keys is ~300 kB */
#define DELETE_BATCH 1000           /* DeleteObjects' limit */

/* A call whose success is a 2xx without an <Error> body; the answer is
 * then in *out (the caller frees it). */
static int bucket_call(struct s3_client *c, const struct s3_call *call, struct http_response *out)
{
	struct signed_call s;
	int rc = s3_perform(c, call, out, NULL, &s);
	if (rc)
		goto out;
	struct s3_answer_error e;
	s3_answer_error_parse(&e, out);
	if (out->status < 200 || out->status >= 300 || e.code)
		rc = s3_answer_fail(c, &s, out, ERR_FAILURE);
	s3_answer_error_free(&e);
	if (rc)
		http_response_free(out);
out:
	s3_signed_call_clear(&s);
	return rc;
}

void s3_listed_free(struct s3_listed *l, size_t n)
{
	for (size_t i = 0; l && i < n; i++)
		free(l[i].key);
	free(l);
}

/* Appends one listed object; *key is taken. */
static int take_object(struct s3_listed **list, size_t *n, size_t *cap, char **key, const char *size,
		       const char *when)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 256;
		struct s3_listed *g = realloc(*list, nc * sizeof(*g));
		CHECK_ALLOC(g);
		*list = g;
		*cap = nc;
	}
	struct s3_listed *o = &(*list)[(*n)++];
	memset(o, 0, sizeof(*o));
	o->key = *key;
	*key = NULL;
	o->size = size ? strtoll(size, NULL, 10) : 0;
	if (when && timestamp_parse(&o->last_modified, when)) {
		error_clear(); /* unknown time: counts as old */
		memset(&o->last_modified, 0, sizeof(o->last_modified));
	}
	return 0;
}

/* Adds the <Contents> of one page. */
static int take_page(const char *xml, size_t len, struct s3_listed **list, size_t *n, size_t *cap)
{
	const char *p = xml, *end = xml + len;
	while ((p = memmem(p, (size_t)(end - p), "<Contents>", 10))) {
		const char *close = memmem(p, (size_t)(end - p), "</Contents>", 11);
		if (!close)
			return error_set(ERR_FAILURE, "ListObjectsV2: an unterminated <Contents> in the answer");
		size_t clen = (size_t)(close - p);
		char *key = xml_text(p, clen, "Key"), *size = xml_text(p, clen, "Size"),
		     *when = xml_text(p, clen, "LastModified");
		int rc = key ? take_object(list, n, cap, &key, size, when)
			     : error_set(ERR_FAILURE, "ListObjectsV2: an object without a <Key>");
		free(key);
		free(size);
		free(when);
		if (rc)
			return rc;
		p = close + 11;
	}
	return 0;
}

int s3_list_objects(struct s3_client *c, const char *prefix, struct s3_listed **out, size_t *n)
{
	char *token = NULL;
	size_t cap = 0;
	int rc = 0;
	*out = NULL;
	*n = 0;
	do {
		struct sigv4_param q[3] = {{"list-type", "2"}, {"prefix", prefix}, {"continuation-token", token}};
		struct s3_call call = {.method = "GET", .key = "", .query = q, .n_query = token ? 3 : 2,
				       .capture_limit = LIST_ANSWER_MAX};
		struct http_response r;
		if ((rc = bucket_call(c, &call, &r)))
			break;
		const char *body = r.body.data ? r.body.data : "";
		rc = take_page(body, r.body.len, out, n, &cap);
		char *truncated = xml_text(body, r.body.len, "IsTruncated");
		free(token);
		token = truncated && strcmp(truncated, "true") == 0 ? xml_text(body, r.body.len, "NextContinuationToken")
								    : NULL;
		if (!rc && truncated && strcmp(truncated, "true") == 0 && !token)
			rc = error_set(ERR_FAILURE, "ListObjectsV2: a truncated answer without a continuation token");
		free(truncated);
		http_response_free(&r);
	} while (!rc && token);
	free(token);
	if (rc) {
		s3_listed_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

static int xml_escaped(struct buffer *b, const char *s)
{
	int rc = 0;
	for (; *s && !rc; s++) {
		switch (*s) {
		case '&': rc = buffer_append_str(b, "&amp;"); break;
		case '<': rc = buffer_append_str(b, "&lt;"); break;
		case '>': rc = buffer_append_str(b, "&gt;"); break;
		default: rc = buffer_append(b, s, 1);
		}
	}
	return rc;
}

static int delete_request_body(struct buffer *body, char *const *keys, size_t n)
{
	int rc = buffer_append_str(body, "<Delete><Quiet>true</Quiet>");
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++)
		if ((rc = buffer_append_str(body, "<Object><Key>")) || (rc = xml_escaped(body, keys[i])) ||
		    (rc = buffer_append_str(body, "</Key></Object>")))
			return rc;
	return buffer_append_str(body, "</Delete>");
}

static int delete_batch(struct s3_client *c, char *const *keys, size_t n)
{
	struct buffer body = BUFFER_INIT;
	unsigned char md5[EVP_MAX_MD_SIZE];
	unsigned int md5_len = 0;
	char hash[DIGEST_BUF];
	struct buffer md5_b64 = BUFFER_INIT;
	int rc = delete_request_body(&body, keys, n);
	if (rc) {
		buffer_free(&body);
		return rc;
	}
	/* DeleteObjects requires Content-MD5. */
	if (!EVP_Digest(body.data, body.len, md5, &md5_len, EVP_md5(), NULL) ||
	    base64_std_encode(&md5_b64, md5, md5_len) || digest_of_bytes(hash, body.data, body.len)) {
		buffer_free(&body);
		buffer_free(&md5_b64);
		return error_set(ERR_FAILURE, "DeleteObjects: cannot hash the request");
	}
	struct s3_body b = {.data = body.data, .len = body.len, .sha256_hex = digest_hex(hash)};
	struct sigv4_header h[] = {{"content-md5", md5_b64.data}};
	struct sigv4_param q[] = {{"delete", ""}};
	struct s3_call call = {.method = "POST", .key = "", .query = q, .n_query = 1, .amz = h, .n_amz = 1,
			       .body = &b, .error_in_200 = true};
	struct http_response r;
	if ((rc = bucket_call(c, &call, &r)))
		goto out;
	char *failed = xml_text(r.body.data ? r.body.data : "", r.body.len, "Error");
	if (failed)
		rc = error_set(ERR_FAILURE, "DeleteObjects: the store kept some objects: %.300s", failed);
	free(failed);
	http_response_free(&r);
out:
	buffer_free(&body);
	buffer_free(&md5_b64);
	return rc;
}

int s3_delete_objects(struct s3_client *c, char *const *keys, size_t n)
{
	for (size_t i = 0; i < n; i += DELETE_BATCH) {
		int rc = delete_batch(c, keys + i, n - i < DELETE_BATCH ? n - i : DELETE_BATCH);
		if (rc)
			return rc;
	}
	return 0;
}

int s3_delete_object(struct s3_client *c, const char *key)
{
	struct s3_call call = {.method = "DELETE", .key = key};
	struct http_response r;
	int rc = bucket_call(c, &call, &r);
	if (rc)
		return rc;
	http_response_free(&r);
	return 0;
}
