#include "transport/azblob/azblob_upload.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/base64.h"
#include "core/util/buffer.h"
#include "core/util/error.h"

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

int azblob_upload(struct http_client *http, const char *url, const struct byte_range *body, long part_size)
{
	static const char *const blob_headers[] = {"x-ms-version: " AZBLOB_API_VERSION, "x-ms-blob-type: BlockBlob",
						   "Content-Type: application/octet-stream", NULL};
	static const char *const block_headers[] = {"x-ms-version: " AZBLOB_API_VERSION,
						    "Content-Type: application/octet-stream", NULL};
	static const char *const list_headers[] = {"x-ms-version: " AZBLOB_API_VERSION,
						   "Content-Type: application/xml; charset=utf-8", NULL};
	if (body->length <= part_size) {
		struct byte_range whole = *body;
		return put(http, url, "Put Blob", blob_headers, &whole, NULL, 0);
	}
	unsigned char uuid[16];
	if (RAND_bytes(uuid, sizeof(uuid)) != 1)
		return error_set(ERR_FAILURE, "no random bytes for a block id");
	uuid[6] = (unsigned char)((uuid[6] & 0x0f) | 0x40); /* a version 4 UUID */
	uuid[8] = (unsigned char)((uuid[8] & 0x3f) | 0x80);
	struct buffer target = BUFFER_INIT, list = BUFFER_INIT;
	char id[AZBLOB_BLOCK_ID_BUF];
	int rc = buffer_append_str(&list, "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
	uint32_t n = 0;
	for (int64_t off = 0; !rc && off < body->length; off += part_size, n++) {
		struct byte_range part = byte_range_sub(body, off, body->length - off < part_size ? body->length - off : part_size);
		struct buffer query = BUFFER_INIT;
		/* base64 uses + / =: escaped in the query, verbatim in the list */
		if ((rc = azblob_block_id(id, uuid, n)) || (rc = buffer_append_str(&query, "comp=block&blockid=")) ||
		    (rc = http_escape(&query, id, false)) || (rc = url_with(&target, url, query.data)) ||
		    (rc = buffer_appendf(&list, "<Latest>%s</Latest>", id))) {
			buffer_free(&query);
			break;
		}
		buffer_free(&query);
		char what[64];
		snprintf(what, sizeof(what), "Put Block %u", n);
		rc = put(http, target.data, what, block_headers, &part, NULL, 0);
	}
	if (!rc)
		rc = buffer_append_str(&list, "</BlockList>");
	if (!rc)
		rc = url_with(&target, url, "comp=blocklist");
	if (!rc)
		rc = put(http, target.data, "Put Block List", list_headers, NULL, list.data, list.len);
	buffer_free(&target);
	buffer_free(&list);
	return rc;
}
