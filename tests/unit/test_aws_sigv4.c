/* Signature V4 against the examples AWS publishes: the S3 "signature
 * calculations for the Authorization header" examples (GET object with a
 * range, PUT object, GET ?lifecycle, GET a listing) and cases of the
 * general SigV4 test suite (get-vanilla, query order, post-vanilla, header
 * value trimming).  Credentials, dates and expected signatures are the
 * published ones. */
#include "check.h"
#include "core/util/error.h"
#include "transport/s3/aws_sigv4.h"

#define S3_KEY_ID "AKIAIOSFODNN7EXAMPLE"
#define S3_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define SUITE_KEY_ID "AKIDEXAMPLE"
#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

static void expect_signature(const struct sigv4_request *r, const char *key_id, const char *secret,
			     const char *signed_headers, const char *signature)
{
	struct buffer auth = BUFFER_INIT;
	char want[512];
	snprintf(want, sizeof(want), "AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/%s/aws4_request, SignedHeaders=%s, Signature=%s",
		 key_id, r->amz_date, r->region, r->service, signed_headers, signature);
	CHECK(sigv4_authorization(&auth, r, key_id, secret) == 0);
	CHECK_STR(auth.data, want);
	buffer_free(&auth);
}

static void test_s3_get_object(void)
{
	/* GET the first 10 bytes of test.txt; the payload hash is that of the empty body. */
	const struct sigv4_header h[] = {
		{"Host", "examplebucket.s3.amazonaws.com"},
		{"Range", "bytes=0-9"},
		{"x-amz-content-sha256", SIGV4_EMPTY_HASH},
		{"x-amz-date", "20130524T000000Z"},
	};
	struct sigv4_request r = {.method = "GET", .canonical_uri = "/test.txt", .headers = h, .n_headers = 4,
				  .payload_hash = SIGV4_EMPTY_HASH, .amz_date = "20130524T000000Z",
				  .region = "us-east-1", .service = "s3"};
	struct buffer cr = BUFFER_INIT, sh = BUFFER_INIT, sts = BUFFER_INIT;
	CHECK(sigv4_canonical_request(&cr, &sh, &r) == 0);
	CHECK_STR(cr.data, "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
			   "x-amz-content-sha256:" SIGV4_EMPTY_HASH "\nx-amz-date:20130524T000000Z\n\n"
			   "host;range;x-amz-content-sha256;x-amz-date\n" SIGV4_EMPTY_HASH);
	CHECK(sigv4_string_to_sign(&sts, &r, cr.data) == 0);
	CHECK_STR(sts.data, "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
			    "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
	expect_signature(&r, S3_KEY_ID, S3_SECRET, "host;range;x-amz-content-sha256;x-amz-date",
			 "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
	buffer_free(&cr);
	buffer_free(&sh);
	buffer_free(&sts);
}

static void test_s3_put_object(void)
{
	/* PUT "Welcome to Amazon S3." as test$file.text: the '$' is %24 in the
	 * canonical URI, as in the URL sent. */
	char hash[SIGV4_HASH_BUF];
	struct buffer uri = BUFFER_INIT;
	CHECK(sigv4_hash_hex(hash, "Welcome to Amazon S3.", 21) == 0);
	CHECK_STR(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
	CHECK(buffer_append_str(&uri, "/") == 0);
	CHECK(sigv4_uri_encode(&uri, "test$file.text", true) == 0);
	CHECK_STR(uri.data, "/test%24file.text");
	const struct sigv4_header h[] = {
		{"Host", "examplebucket.s3.amazonaws.com"},
		{"Date", "Fri, 24 May 2013 00:00:00 GMT"},
		{"x-amz-date", "20130524T000000Z"},
		{"x-amz-storage-class", "REDUCED_REDUNDANCY"},
		{"x-amz-content-sha256", hash},
	};
	struct sigv4_request r = {.method = "PUT", .canonical_uri = uri.data, .headers = h, .n_headers = 5,
				  .payload_hash = hash, .amz_date = "20130524T000000Z", .region = "us-east-1",
				  .service = "s3"};
	expect_signature(&r, S3_KEY_ID, S3_SECRET, "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
			 "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
	buffer_free(&uri);
}

static void test_s3_bucket_queries(void)
{
	const struct sigv4_header h[] = {
		{"Host", "examplebucket.s3.amazonaws.com"},
		{"x-amz-date", "20130524T000000Z"},
		{"x-amz-content-sha256", SIGV4_EMPTY_HASH},
	};
	const struct sigv4_param lifecycle[] = {{"lifecycle", ""}};
	struct sigv4_request r = {.method = "GET", .canonical_uri = "/", .query = lifecycle, .n_query = 1,
				  .headers = h, .n_headers = 3, .payload_hash = SIGV4_EMPTY_HASH,
				  .amz_date = "20130524T000000Z", .region = "us-east-1", .service = "s3"};
	expect_signature(&r, S3_KEY_ID, S3_SECRET, "host;x-amz-content-sha256;x-amz-date",
			 "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
	/* Given out of order: the canonical query sorts them. */
	const struct sigv4_param list[] = {{"prefix", "J"}, {"max-keys", "2"}};
	r.query = list;
	r.n_query = 2;
	expect_signature(&r, S3_KEY_ID, S3_SECRET, "host;x-amz-content-sha256;x-amz-date",
			 "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

static void test_suite_cases(void)
{
	const struct sigv4_header vanilla[] = {
		{"Host", "example.amazonaws.com"},
		{"X-Amz-Date", "20150830T123600Z"},
	};
	struct sigv4_request r = {.method = "GET", .canonical_uri = "/", .headers = vanilla, .n_headers = 2,
				  .payload_hash = SIGV4_EMPTY_HASH, .amz_date = "20150830T123600Z",
				  .region = "us-east-1", .service = "service"};
	expect_signature(&r, SUITE_KEY_ID, SUITE_SECRET, "host;x-amz-date",
			 "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");

	const struct sigv4_param q[] = {{"Param2", "value2"}, {"Param1", "value1"}};
	r.query = q;
	r.n_query = 2;
	expect_signature(&r, SUITE_KEY_ID, SUITE_SECRET, "host;x-amz-date",
			 "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");

	r.query = NULL;
	r.n_query = 0;
	r.method = "POST";
	expect_signature(&r, SUITE_KEY_ID, SUITE_SECRET, "host;x-amz-date",
			 "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");

	const struct sigv4_header trim[] = {
		{"Host", "example.amazonaws.com"},
		{"My-Header1", " value1"},
		{"My-Header2", " \"a   b   c\""},
		{"X-Amz-Date", "20150830T123600Z"},
	};
	r.method = "GET";
	r.headers = trim;
	r.n_headers = 4;
	struct buffer cr = BUFFER_INIT, sh = BUFFER_INIT;
	CHECK(sigv4_canonical_request(&cr, &sh, &r) == 0);
	CHECK(strstr(cr.data, "\nmy-header1:value1\nmy-header2:\"a b c\"\n") != NULL);
	CHECK_STR(sh.data, "host;my-header1;my-header2;x-amz-date");
	expect_signature(&r, SUITE_KEY_ID, SUITE_SECRET, "host;my-header1;my-header2;x-amz-date",
			 "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736");
	buffer_free(&cr);
	buffer_free(&sh);
}

static void test_encoding(void)
{
	struct buffer b = BUFFER_INIT;
	/* BuildKit's blob keys carry a colon: encoded once, '/' kept. */
	CHECK(sigv4_uri_encode(&b, "cache/blobs/sha256:0a1B~_-.x y+z%", true) == 0);
	CHECK_STR(b.data, "cache/blobs/sha256%3A0a1B~_-.x%20y%2Bz%25");
	buffer_reset(&b);
	CHECK(sigv4_uri_encode(&b, "a/b", false) == 0);
	CHECK_STR(b.data, "a%2Fb");
	buffer_reset(&b);
	const struct sigv4_param q[] = {{"uploadId", "a/b=c"}, {"partNumber", "10"}, {"uploads", ""}};
	CHECK(sigv4_canonical_query(&b, q, 3) == 0);
	CHECK_STR(b.data, "partNumber=10&uploadId=a%2Fb%3Dc&uploads=");
	buffer_free(&b);

	char date[SIGV4_DATE_BUF];
	sigv4_format_date(date, 1440938160); /* 2015-08-30T12:36:00Z */
	CHECK_STR(date, "20150830T123600Z");

	/* Repeated headers become one line with comma-joined values. */
	const struct sigv4_header dup[] = {
		{"Host", "example.amazonaws.com"},
		{"My-Header1", "value2"},
		{"My-Header1", "value1"},
		{"X-Amz-Date", "20150830T123600Z"},
	};
	struct sigv4_request r = {.method = "GET", .canonical_uri = "/", .headers = dup, .n_headers = 4,
				  .payload_hash = SIGV4_EMPTY_HASH, .amz_date = "20150830T123600Z",
				  .region = "us-east-1", .service = "service"};
	struct buffer cr = BUFFER_INIT, sh = BUFFER_INIT;
	CHECK(sigv4_canonical_request(&cr, &sh, &r) == 0);
	CHECK(strstr(cr.data, "\nmy-header1:value2,value1\nx-amz-date") != NULL);
	CHECK_STR(sh.data, "host;my-header1;x-amz-date");
	buffer_free(&cr);
	buffer_free(&sh);

	r.amz_date = "2015-08-30";
	CHECK(sigv4_authorization(&b, &r, SUITE_KEY_ID, SUITE_SECRET) == ERR_FAILURE);
	buffer_free(&b);
}

int main(void)
{
	test_s3_get_object();
	test_s3_put_object();
	test_s3_bucket_queries();
	test_suite_cases();
	test_encoding();
	CHECK_DONE();
}
