/* The S3 operations a build cache needs: HEAD, GET (streamed or small),
 * PUT, CopyObject onto itself, and multipart uploads. */
#include "transport/s3/s3_call.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "transport/s3/xml_text.h"

/* Why a HEAD failed: HEAD answers have no body, so one byte is asked for. */
static int head_failure(struct s3_client *c, const char *key, const struct signed_call *s,
			const struct http_response *r)
{
	int rc;
	struct http_response g;
	struct signed_call gs;
	struct s3_call get = {.method = "GET", .key = key, .range = "bytes=0-0"};
	int grc = s3_perform(c, &get, &g, NULL, &gs);
	if (!grc && (g.status == 404 || g.status == 416)) {
		/* It was a passing trouble (a region or clock learnt meanwhile). */
		char name[1200];
		s3_object_name(c, key, name, sizeof(name));
		struct s3_answer_error e;
		s3_answer_error_parse(&e, &g);
		rc = s3_answer_code_is(&e, "NoSuchBucket") ? s3_answer_fail(c, &gs, &g, ERR_FAILURE)
			: g.status == 404 ? error_set(ERR_NOT_FOUND, "%s does not exist", name)
					  : s3_answer_fail(c, s, r, ERR_FAILURE);
		s3_answer_error_free(&e);
	} else if (!grc && g.status >= 300 && g.body.len) {
		rc = s3_answer_fail(c, &gs, &g, ERR_FAILURE);
	} else {
		rc = s3_answer_fail(c, s, r, ERR_FAILURE);
	}
	http_response_free(&g);
	s3_signed_call_clear(&gs);
	return rc;
}

int s3_head_object(struct s3_client *c, const char *key, struct s3_object_info *info)
{
	struct http_response r;
	struct signed_call s;
	struct s3_call call = {.method = "HEAD", .key = key};
	int rc = s3_perform(c, &call, &r, NULL, &s);
	memset(info, 0, sizeof(*info));
	if (rc)
		goto out;
	if (r.status == 200) {
		const char *len = http_response_header(&r, "Content-Length");
		const char *lm = http_response_header(&r, "Last-Modified");
		info->size = len ? strtoll(len, NULL, 10) : -1;
		time_t t = lm ? curl_getdate(lm, NULL) : -1;
		info->last_modified = t == -1 ? 0 : (int64_t)t;
	} else if (r.status == 404) {
		char name[1200];
		s3_object_name(c, key, name, sizeof(name));
		rc = error_set(ERR_NOT_FOUND, "%s does not exist", name);
	} else {
		rc = head_failure(c, key, &s, &r);
	}
out:
	http_response_free(&r);
	s3_signed_call_clear(&s);
	return rc;
}

/* Drops the first n bytes of a source (a store that ignored Range). */
static int skip_bytes(struct byte_source *src, int64_t n)
{
	char buf[65536];
	while (n > 0) {
		ssize_t got = source_read(src, buf, n < (int64_t)sizeof(buf) ? (size_t)n : sizeof(buf));
		if (got < 0)
			return (int)got;
		if (got == 0)
			return error_set(ERR_FAILURE, "object ended before the requested offset");
		n -= got;
	}
	return 0;
}

/* The body of a GET, keeping alive the signed request the HTTP layer
 * re-reads when it resumes a broken download. */
struct get_source {
	struct byte_source base;
	struct byte_source *inner;
	struct signed_call *call;
	struct s3_call desc;
	char range[64];
	char *key;
	struct http_response resp; /* the first answer */
};

static ssize_t get_read(struct byte_source *src, void *buf, size_t len)
{
	struct get_source *g = (struct get_source *)src;
	return source_read(g->inner, buf, len);
}

static void get_close(struct byte_source *src)
{
	struct get_source *g = (struct get_source *)src;
	source_close(g->inner);
	http_response_free(&g->resp);
	s3_signed_call_clear(g->call);
	free(g->call);
	free(g->key);
	free(g);
}

int s3_get_object(struct s3_client *c, const char *key, int64_t offset, struct byte_source **out)
{
	struct get_source *g = calloc(1, sizeof(*g));
	struct signed_call *s = calloc(1, sizeof(*s));
	char *k = strdup(key);
	if (!g || !s || !k) {
		free(g);
		free(s);
		free(k);
		return error_oom();
	}
	g->base.read = get_read;
	g->base.close = get_close;
	g->call = s;
	g->key = k;
	snprintf(g->range, sizeof(g->range), "bytes=%lld-", (long long)offset);
	g->desc = (struct s3_call){.method = "GET", .key = g->key, .range = offset > 0 ? g->range : NULL};
	int rc = s3_perform(c, &g->desc, &g->resp, &g->inner, s);
	if (rc)
		goto fail;
	if (!g->inner) {
		struct s3_answer_error e;
		s3_answer_error_parse(&e, &g->resp);
		rc = s3_answer_fail(c, s, &g->resp, g->resp.status == 404 && !s3_answer_code_is(&e, "NoSuchBucket") ? ERR_NOT_FOUND : ERR_FAILURE);
		s3_answer_error_free(&e);
		goto fail;
	}
	if (offset > 0 && g->resp.status == 200 && (rc = skip_bytes(g->inner, offset)))
		goto fail;
	*out = &g->base;
	return 0;
fail:
	get_close(&g->base);
	return rc;
}

int s3_get_small(struct s3_client *c, const char *key, size_t max, struct buffer *out)
{
	struct http_response r;
	struct signed_call s;
	struct s3_call call = {.method = "GET", .key = key, .capture_limit = max + 1};
	int rc = s3_perform(c, &call, &r, NULL, &s);
	if (rc)
		goto out;
	if (r.status == 200) {
		char name[1200];
		s3_object_name(c, key, name, sizeof(name));
		if (r.body.len > max) {
			rc = error_set(ERR_FAILURE, "%s is larger than %zu bytes", name, max);
		} else {
			buffer_reset(out);
			rc = buffer_append(out, r.body.data ? r.body.data : "", r.body.len);
		}
	} else {
		struct s3_answer_error e;
		s3_answer_error_parse(&e, &r);
		rc = s3_answer_fail(c, &s, &r, r.status == 404 && !s3_answer_code_is(&e, "NoSuchBucket") ? ERR_NOT_FOUND : ERR_FAILURE);
		s3_answer_error_free(&e);
	}
out:
	http_response_free(&r);
	s3_signed_call_clear(&s);
	return rc;
}

/* Runs a call whose success is a 2xx without an <Error> body; the answer
 * is kept in *resp_out when given (to read ETag or UploadId). */
static int simple_call(struct s3_client *c, const struct s3_call *call, struct http_response *resp_out)
{
	struct http_response r;
	struct signed_call s;
	int rc = s3_perform(c, call, &r, NULL, &s);
	if (rc)
		goto out;
	struct s3_answer_error e;
	s3_answer_error_parse(&e, &r);
	if (r.status < 200 || r.status >= 300 || e.code)
		rc = s3_answer_fail(c, &s, &r, ERR_FAILURE);
	s3_answer_error_free(&e);
	if (!rc && resp_out) {
		*resp_out = r; /* the caller frees it */
		s3_signed_call_clear(&s);
		return 0;
	}
out:
	http_response_free(&r);
	s3_signed_call_clear(&s);
	return rc;
}

int s3_put_object(struct s3_client *c, const char *key, const struct s3_body *body)
{
	struct s3_call call = {.method = "PUT", .key = key, .body = body};
	return simple_call(c, &call, NULL);
}

/* x-amz-copy-source: "<bucket>/<key>", percent-encoded except '/' and ':'
 * (stores decode it; some only as JavaScript's decodeURI, which leaves %3A). */
static int copy_source(struct buffer *out, const struct s3_client *c, const char *key)
{
	struct buffer enc = BUFFER_INIT;
	int rc;
	if ((rc = sigv4_uri_encode(&enc, c->bucket, false)) || (rc = buffer_append_str(&enc, "/")) ||
	    (rc = sigv4_uri_encode(&enc, key, true)))
		goto out;
	for (size_t i = 0; !rc && i < enc.len; i++) {
		if (enc.data[i] == '%' && i + 2 < enc.len && enc.data[i + 1] == '3' && enc.data[i + 2] == 'A') {
			rc = buffer_append_str(out, ":");
			i += 2;
		} else {
			rc = buffer_append(out, &enc.data[i], 1);
		}
	}
out:
	buffer_free(&enc);
	return rc;
}

int s3_copy_object_to_itself(struct s3_client *c, const char *key, const char *meta_name, const char *meta_value)
{
	struct buffer src = BUFFER_INIT, meta = BUFFER_INIT;
	int rc;
	if ((rc = copy_source(&src, c, key)) || (rc = buffer_appendf(&meta, "x-amz-meta-%s", meta_name)))
		goto out;
	const struct sigv4_header amz[] = {
		{"x-amz-copy-source", src.data},
		{"x-amz-metadata-directive", "REPLACE"},
		{meta.data, meta_value},
	};
	struct s3_call call = {.method = "PUT", .key = key, .amz = amz, .n_amz = 3, .error_in_200 = true};
	rc = simple_call(c, &call, NULL);
out:
	buffer_free(&src);
	buffer_free(&meta);
	return rc;
}

int s3_multipart_create(struct s3_client *c, const char *key, const char *const *meta_names,
			const char *const *meta_values, size_t n_meta, char **upload_id)
{
	const struct sigv4_param q[] = {{"uploads", ""}};
	struct sigv4_header amz[4];
	struct buffer names[4] = {BUFFER_INIT, BUFFER_INIT, BUFFER_INIT, BUFFER_INIT};
	struct http_response r;
	if (n_meta > 4)
		return error_set(ERR_FAILURE, "too much metadata");
	int rc;
	for (size_t i = 0; i < n_meta; i++) {
		if ((rc = buffer_appendf(&names[i], "x-amz-meta-%s", meta_names[i])))
			goto out;
		amz[i] = (struct sigv4_header){names[i].data, meta_values[i]};
	}
	struct s3_call call = {.method = "POST", .key = key, .query = q, .n_query = 1, .amz = amz, .n_amz = n_meta};
	if ((rc = simple_call(c, &call, &r)))
		goto out;
	*upload_id = xml_text(r.body.data ? r.body.data : "", r.body.len, "UploadId");
	if (!*upload_id || !**upload_id) {
		char name[1200];
		s3_object_name(c, key, name, sizeof(name));
		free(*upload_id);
		*upload_id = NULL;
		rc = error_set(ERR_FAILURE, "POST %s?uploads: the answer has no UploadId", name);
	}
	http_response_free(&r);
out:
	for (size_t i = 0; i < 4; i++)
		buffer_free(&names[i]);
	return rc;
}

static int part_etag(struct s3_client *c, const char *key, int part, struct http_response *r, bool in_body,
		     char **etag)
{
	const char *h = in_body ? NULL : http_response_header(r, "ETag");
	*etag = in_body ? xml_text(r->body.data ? r->body.data : "", r->body.len, "ETag") : h ? strdup(h) : NULL;
	http_response_free(r);
	if (!*etag || !**etag) {
		char name[1200];
		s3_object_name(c, key, name, sizeof(name));
		free(*etag);
		*etag = NULL;
		return error_set(ERR_FAILURE, "PUT %s part %d: the answer has no ETag", name, part);
	}
	return 0;
}

int s3_multipart_upload_part(struct s3_client *c, const char *key, const char *upload_id, int part,
			     const struct s3_body *body, char **etag)
{
	char num[16];
	struct http_response r;
	snprintf(num, sizeof(num), "%d", part);
	const struct sigv4_param q[] = {{"partNumber", num}, {"uploadId", upload_id}};
	struct s3_call call = {.method = "PUT", .key = key, .query = q, .n_query = 2, .body = body};
	int rc = simple_call(c, &call, &r);
	return rc ? error_wrap(rc, "part %d", part) : part_etag(c, key, part, &r, false, etag);
}

int s3_multipart_copy_part(struct s3_client *c, const char *key, const char *upload_id, int part, int64_t first,
			   int64_t last, char **etag)
{
	char num[16], range[80];
	struct buffer src = BUFFER_INIT;
	struct http_response r;
	snprintf(num, sizeof(num), "%d", part);
	snprintf(range, sizeof(range), "bytes=%lld-%lld", (long long)first, (long long)last);
	int rc = copy_source(&src, c, key);
	if (rc)
		return rc;
	const struct sigv4_param q[] = {{"partNumber", num}, {"uploadId", upload_id}};
	const struct sigv4_header amz[] = {{"x-amz-copy-source", src.data}, {"x-amz-copy-source-range", range}};
	struct s3_call call = {.method = "PUT", .key = key, .query = q, .n_query = 2, .amz = amz, .n_amz = 2,
			       .error_in_200 = true};
	rc = simple_call(c, &call, &r);
	buffer_free(&src);
	return rc ? error_wrap(rc, "copy part %d", part) : part_etag(c, key, part, &r, true, etag);
}

int s3_multipart_complete(struct s3_client *c, const char *key, const char *upload_id, char *const *etags,
			  int n_parts)
{
	struct buffer xml = BUFFER_INIT;
	char hash[SIGV4_HASH_BUF];
	int rc = buffer_append_str(&xml, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
	for (int i = 0; i < n_parts && !rc; i++) {
		/* ETags are quoted hex strings: nothing to escape but quotes. */
		rc = buffer_appendf(&xml, "<Part><PartNumber>%d</PartNumber><ETag>", i + 1);
		for (const char *p = etags[i]; *p && !rc; p++)
			rc = *p == '"' ? buffer_append_str(&xml, "&quot;") : buffer_append(&xml, p, 1);
		if (!rc)
			rc = buffer_append_str(&xml, "</ETag></Part>");
	}
	if (rc || (rc = buffer_append_str(&xml, "</CompleteMultipartUpload>")) ||
	    (rc = sigv4_hash_hex(hash, xml.data, xml.len)))
		goto out;
	const struct sigv4_param q[] = {{"uploadId", upload_id}};
	struct s3_body body = {.data = xml.data, .len = xml.len, .sha256_hex = hash};
	struct s3_call call = {.method = "POST", .key = key, .query = q, .n_query = 1, .body = &body,
			       .error_in_200 = true};
	rc = simple_call(c, &call, NULL);
out:
	buffer_free(&xml);
	return rc;
}

int s3_multipart_abort(struct s3_client *c, const char *key, const char *upload_id)
{
	const struct sigv4_param q[] = {{"uploadId", upload_id}};
	struct s3_call call = {.method = "DELETE", .key = key, .query = q, .n_query = 1};
	return simple_call(c, &call, NULL);
}
