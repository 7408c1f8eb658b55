#include "transport/azblob/azblob_upload.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/base64.h"
#include "core/util/buffer.h"
#include "core/util/error.h"
#include "transport/streamed_upload.h"

int azblob_block_id(char out[AZBLOB_BLOCK_ID_BUF], const unsigned char uuid[16], uint32_t number)
{
	unsigned char raw[20];
	memcpy(raw, uuid, 16);
	raw[16] = (unsigned char)(number >> 24);
	raw[17] = (unsigned char)(number >> 16);
	raw[18] = (unsigned char)(number >> 8);
	raw[19] = (unsigned char)number;
	struct buffer id = BUFFER_INIT;
	int rc = base64_std_encode(&id, raw, sizeof(raw));
	if (!rc)
		snprintf(out, AZBLOB_BLOCK_ID_BUF, "%s", id.data); /* 28 characters */
	buffer_free(&id);
	return rc;
}

static int url_with(struct buffer *out, const char *url, const char *query)
{
	buffer_reset(out);
	return buffer_appendf(out, "%s%c%s", url, strchr(url, '?') ? '&' : '?', query);
}

/* One PUT; anything but 201 is an error naming what was sent. */
static int put(struct http_client *http, const char *url, const char *what, const char *const *headers,
	       struct byte_range *part, const void *mem, size_t mem_len)
{
	struct http_response resp;
	struct http_request req = {
		.method = "PUT",
		.url = url,
		.headers = headers,
		.body = mem,
		.body_len = mem_len,
		.body_open = part ? byte_range_open : NULL,
		.body_ctx = part,
		.body_size = part ? part->length : 0,
	};
	int rc = http_do(http, &req, &resp);
	if (!rc && resp.status != 201) {
		char redacted[512];
		http_redact_url(redacted, sizeof(redacted), url);
		const char *code = http_response_header(&resp, "x-ms-error-code");
		rc = error_set(ERR_FAILURE, "%s to %s: HTTP %ld%s%s", what, redacted, resp.status, code ? " " : "",
			       code ? code : "");
	}
	http_response_free(&resp);
	return rc;
}

int azblob_block_session(char **out)
{
	unsigned char uuid[16];
	if (RAND_bytes(uuid, sizeof(uuid)) != 1)
		return error_set(ERR_FAILURE, "no random bytes for a block id");
	uuid[6] = (unsigned char)((uuid[6] & 0x0f) | 0x40); /* a version 4 UUID */
	uuid[8] = (unsigned char)((uuid[8] & 0x3f) | 0x80);
	char *hex = malloc(2 * sizeof(uuid) + 1);
	CHECK_ALLOC(hex);
	for (size_t i = 0; i < sizeof(uuid); i++)
		snprintf(hex + 2 * i, 3, "%02x", uuid[i]);
	*out = hex;
	return 0;
}

int azblob_session_block_id(char out[AZBLOB_BLOCK_ID_BUF], const char *session, uint32_t number)
{
	unsigned char uuid[16];
	for (size_t i = 0; i < sizeof(uuid); i++) {
		unsigned v;
		if (!session || sscanf(session + 2 * i, "%2x", &v) != 1)
			return error_set(ERR_FAILURE, "block upload without a session");
		uuid[i] = (unsigned char)v;
	}
	return azblob_block_id(out, uuid, number);
}

/* One upload through a signed URL. */
struct sas_upload {
	struct http_client *http;
	const char *url;
};

static int sas_begin(void *ctx, const char *name, char **session)
{
	(void)ctx, (void)name;
	return azblob_block_session(session);
}

static int sas_put_block(void *ctx, const char *name, const char *session, size_t index,
			 const struct byte_range *body, const char *sha256_hex, char **token)
{
	static const char *const block_headers[] = {"x-ms-version: " AZBLOB_API_VERSION,
						    "Content-Type: application/octet-stream", NULL};
	struct sas_upload *u = ctx;
	struct buffer target = BUFFER_INIT, query = BUFFER_INIT;
	char id[AZBLOB_BLOCK_ID_BUF], what[64];
	struct byte_range part = *body;
	(void)name, (void)sha256_hex, (void)token;
	/* base64 uses + / =: escaped in the query, verbatim in the list */
	int rc = azblob_session_block_id(id, session, (uint32_t)index);
	if (!rc && !(rc = buffer_append_str(&query, "comp=block&blockid=")) && !(rc = http_escape(&query, id, false)) &&
	    !(rc = url_with(&target, u->url, query.data))) {
		snprintf(what, sizeof(what), "Put Block %zu", index);
		rc = put(u->http, target.data, what, block_headers, &part, NULL, 0);
	}
	buffer_free(&query);
	buffer_free(&target);
	return rc;
}

static int sas_put_block_list(void *ctx, const char *name, const char *session, char *const *tokens, size_t n,
			      bool *existed)
{
	static const char *const list_headers[] = {"x-ms-version: " AZBLOB_API_VERSION,
						   "Content-Type: application/xml; charset=utf-8", NULL};
	struct sas_upload *u = ctx;
	struct buffer target = BUFFER_INIT, list = BUFFER_INIT;
	char id[AZBLOB_BLOCK_ID_BUF];
	(void)name, (void)tokens;
	*existed = false;
	int rc = buffer_append_str(&list, "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
	for (size_t i = 0; !rc && i < n; i++)
		if (!(rc = azblob_session_block_id(id, session, (uint32_t)i)))
			rc = buffer_appendf(&list, "<Latest>%s</Latest>", id);
	if (!rc)
		rc = buffer_append_str(&list, "</BlockList>");
	if (!rc)
		rc = url_with(&target, u->url, "comp=blocklist");
	if (!rc)
		rc = put(u->http, target.data, "Put Block List", list_headers, NULL, list.data, list.len);
	buffer_free(&target);
	buffer_free(&list);
	return rc;
}

static int sas_put_blob(void *ctx, const char *name, const struct byte_range *body, const char *sha256_hex,
			bool *existed)
{
	static const char *const blob_headers[] = {"x-ms-version: " AZBLOB_API_VERSION, "x-ms-blob-type: BlockBlob",
						   "Content-Type: application/octet-stream", NULL};
	struct sas_upload *u = ctx;
	struct byte_range whole = *body;
	(void)name, (void)sha256_hex;
	*existed = false;
	return put(u->http, u->url, "Put Blob", blob_headers, &whole, NULL, 0);
}

static const struct streamed_upload_ops sas_ops = {
	.begin = sas_begin,
	.put_part = sas_put_block,
	.commit = sas_put_block_list,
	.put_whole = sas_put_blob,
};

int azblob_upload(struct http_client *http, const char *url, const struct byte_range *body, long part_size)
{
	struct sas_upload u = {http, url};
	const struct streamed_upload_limits limits = {
		.whole_max = part_size,
		.part_size = part_size,
		.max_parts = AZBLOB_SAS_MAX_BLOCKS,
		.concurrency = AZBLOB_SAS_BLOCK_CONCURRENCY,
	};
	bool existed;
	return streamed_upload_send(&sas_ops, &u, &limits, NULL, body, NULL, &existed);
}
