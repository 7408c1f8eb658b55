/* The small pieces under the azblob backend: Go filepath.Join as BuildKit
 * names blobs, Go url.PathEscape of those names, the Shared Key
 * string-to-sign and signature, connection strings. */
#include <stdlib.h>

#include "check.h"
#include "core/util/base64.h"
#include "core/util/error.h"
#include "transport/azblob/azblob_config.h"
#include "transport/azblob/azblob_names.h"
#include "transport/azblob/azblob_shared_key.h"

#define DEV_KEY "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

static void test_path_join(void)
{
	/* {prefix, kind prefix, last} -> what Go's filepath.Join gives */
	static const char *const table[][4] = {
		{"", "blobs", "sha256:ab", "blobs/sha256:ab"},
		{"team/a/", "blobs", "sha256:ab", "team/a/blobs/sha256:ab"},
		{"x//y/../z", "b//", "n", "x/z/b/n"},
		{"/abs", "manifests", "main", "/abs/manifests/main"},
		{"ci/..", "/bl", "d", "bl/d"},
		{"../up", "./m", "n", "../up/m/n"},
		{"a/../..", "..", "n", "../../n"},
		{"/..", "..", "n", "/n"},
		{"", "", "", ""},
		{".", "", "", "."},
		{"p/", "m/", "", "p/m"},
		{"///", "", "", "/"},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(*table); i++) {
		char *out = NULL;
		CHECK(azblob_path_join(&out, table[i], 3) == 0);
		CHECK_STR(out, table[i][3]);
		free(out);
	}
}

static void test_escape(void)
{
	struct buffer b = BUFFER_INIT;
	CHECK(azblob_escape_name(&b, "blobs/sha256:ab c+d$&=@~._-%?;,#") == 0);
	CHECK_STR(b.data, "blobs%2Fsha256:ab%20c+d$&=@~._-%25%3F%3B%2C%23");
	buffer_free(&b);
}

static void test_shared_key(void)
{
	const char *const headers[] = {"x-ms-version: 2024-11-04", "x-ms-blob-type: BlockBlob",
				       "Content-Type: application/octet-stream", "If-None-Match: *",
				       "X-MS-Date: Thu, 03 Dec 2026 14:13:19 GMT", "Accept: */*", NULL};
	struct azblob_signing s = {"PUT", "/devstoreaccount1/bk-app/blobs%2Fsha256:ab", NULL, 11, headers};
	struct buffer sts = BUFFER_INIT, auth = BUFFER_INIT, key = BUFFER_INIT;
	CHECK(azblob_string_to_sign(&sts, &s, "devstoreaccount1") == 0);
	CHECK_STR(sts.data, "PUT\n\n\n11\n\napplication/octet-stream\n\n\n\n*\n\n\n"
			    "x-ms-blob-type:BlockBlob\nx-ms-date:Thu, 03 Dec 2026 14:13:19 GMT\nx-ms-version:2024-11-04\n"
			    "/devstoreaccount1/devstoreaccount1/bk-app/blobs%2Fsha256:ab");
	CHECK(base64_std_decode(&key, DEV_KEY, strlen(DEV_KEY)) == 0);
	CHECK(azblob_shared_key_header(&auth, &s, "devstoreaccount1", (unsigned char *)key.data, key.len) == 0);
	/* HMAC-SHA256 of the string above, computed independently (Python's hmac) */
	CHECK_STR(auth.data, "Authorization: SharedKey devstoreaccount1:CoxPJxEBxxR/Mqo5uY14bYkMP7N7ye71OXtwcmyckCA=");

	/* A zero length is an empty line; query parameters decoded, lower-cased,
	 * sorted, repeated ones joined with commas. */
	const char *const none[] = {"x-ms-date: D", NULL};
	struct azblob_signing q = {"GET", "/acct/c", "restype=container&comp=list&prefix=blobs%2F&Marker=b&marker=a", 0,
				   none};
	CHECK(azblob_string_to_sign(&sts, &q, "acct") == 0);
	CHECK_STR(sts.data, "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:D\n/acct/acct/c\ncomp:list\nmarker:a,b\nprefix:blobs/\n"
			    "restype:container");
	buffer_free(&sts);
	buffer_free(&auth);
	buffer_free(&key);
}

static void test_connection_strings(void)
{
	struct azblob_connection_string cs;
	CHECK(azblob_connection_string_parse(&cs, "DefaultEndpointsProtocol=https;AccountName=acct;"
						  "AccountKey=a2V5==;EndpointSuffix=core.chinacloudapi.cn") == 0);
	CHECK_STR(cs.blob_endpoint, "https://acct.blob.core.chinacloudapi.cn");
	CHECK_STR(cs.account_name, "acct");
	CHECK_STR(cs.account_key, "a2V5==");
	CHECK(cs.sas == NULL);
	azblob_connection_string_free(&cs);

	CHECK(azblob_connection_string_parse(&cs, "BlobEndpoint=http://127.0.0.1:1/x;SharedAccessSignature=sv=1&sig=a=;") ==
	      0);
	CHECK_STR(cs.blob_endpoint, "http://127.0.0.1:1/x");
	CHECK_STR(cs.sas, "sv=1&sig=a=");
	azblob_connection_string_free(&cs);

	CHECK(azblob_connection_string_parse(&cs, "UseDevelopmentStorage=true") == 0);
	CHECK_STR(cs.blob_endpoint, "http://127.0.0.1:10000/devstoreaccount1");
	CHECK_STR(cs.account_name, "devstoreaccount1");
	CHECK_STR(cs.account_key, DEV_KEY);
	azblob_connection_string_free(&cs);

	CHECK(azblob_connection_string_parse(&cs, "AccountName=a;garbage") == ERR_USAGE);
}

int main(void)
{
	test_path_join();
	test_escape();
	test_shared_key();
	test_connection_strings();
	CHECK_DONE();
}
