/* The small pieces under the s3 backend: the AWS shared files, the XML
 * answers of S3 and STS, endpoint URLs. */
#include <stdio.h>
#include <unistd.h>

#include "check.h"
#include "core/util/error.h"
#include "transport/s3/aws_profile.h"
#include "transport/s3/s3_client.h"
#include "transport/s3/url_parts.h"
#include "transport/s3/xml_text.h"

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
}

static void test_profiles(void)
{
	char dir[] = "/tmp/cachectl-aws-profile-XXXXXX", creds[256], config[256];
	struct aws_profile p;
	bool found;
	CHECK(mkdtemp(dir) != NULL);
	snprintf(creds, sizeof(creds), "%s/credentials", dir);
	snprintf(config, sizeof(config), "%s/config", dir);
	write_file(creds, "# comment\n[default]\naws_access_key_id = AKIDDEFAULT\n"
			  "aws_secret_access_key=secret/with+chars= \n\n"
			  "[ci]\r\nAWS_ACCESS_KEY_ID = AKIDCI\r\naws_secret_access_key = s2 ; trailing comment\r\n");
	write_file(config, "[default]\nregion = eu-west-1\naws_access_key_id = AKIDFROMCONFIG\n"
			   "[profile ci]\nregion=us-east-2\ns3 =\n  addressing_style = path\n  aws_access_key_id = NESTED\n"
			   "role_arn = arn:aws:iam::1:role/r\n[ci]\nregion = ignored-in-config\n"
			   "[profile  spaced ]\ncredential_process = /bin/echo {}\n");

	CHECK(aws_profile_load(&p, "default", creds, config, &found) == 0);
	CHECK(found);
	/* The credentials file wins for keys set in both. */
	CHECK_STR(aws_profile_get(&p, "aws_access_key_id"), "AKIDDEFAULT");
	CHECK_STR(aws_profile_get(&p, "aws_secret_access_key"), "secret/with+chars=");
	CHECK_STR(aws_profile_get(&p, "region"), "eu-west-1");
	aws_profile_free(&p);

	CHECK(aws_profile_load(&p, "ci", creds, config, &found) == 0);
	CHECK_STR(aws_profile_get(&p, "aws_access_key_id"), "AKIDCI"); /* keys are case-insensitive */
	CHECK_STR(aws_profile_get(&p, "aws_secret_access_key"), "s2");
	CHECK_STR(aws_profile_get(&p, "region"), "us-east-2"); /* "[ci]" in config is not the profile */
	CHECK_STR(aws_profile_get(&p, "role_arn"), "arn:aws:iam::1:role/r");
	CHECK(aws_profile_get(&p, "s3") == NULL);               /* a sub-section ... */
	CHECK(aws_profile_get(&p, "addressing_style") == NULL); /* ... whose keys are not the profile's */
	aws_profile_free(&p);

	CHECK(aws_profile_load(&p, "spaced", creds, config, &found) == 0);
	CHECK(found);
	CHECK_STR(aws_profile_get(&p, "credential_process"), "/bin/echo {}");
	aws_profile_free(&p);

	CHECK(aws_profile_load(&p, "absent", creds, config, &found) == 0);
	CHECK(!found);
	CHECK(aws_profile_get(&p, "aws_access_key_id") == NULL);
	aws_profile_free(&p);

	/* Missing files are no error; nothing is found. */
	CHECK(aws_profile_load(&p, "default", "/nonexistent/creds", NULL, &found) == 0);
	CHECK(!found);
	aws_profile_free(&p);

	unlink(creds);
	unlink(config);
	rmdir(dir);

	setenv("HOME", "/home/someone", 1);
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	setenv("AWS_CONFIG_FILE", "~/conf/aws", 1);
	char *c = aws_profile_credentials_path(), *g = aws_profile_config_path();
	CHECK_STR(c, "/home/someone/.aws/credentials");
	CHECK_STR(g, "/home/someone/conf/aws");
	free(c);
	free(g);
	bool explicit_choice;
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_DEFAULT_PROFILE");
	CHECK_STR(aws_profile_selected(&explicit_choice), "default");
	CHECK(!explicit_choice);
	setenv("AWS_DEFAULT_PROFILE", "legacy", 1);
	CHECK_STR(aws_profile_selected(&explicit_choice), "legacy");
	setenv("AWS_PROFILE", "new", 1);
	CHECK_STR(aws_profile_selected(&explicit_choice), "new");
	CHECK(explicit_choice);
}

static void test_xml(void)
{
	const char *err = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch</Code>"
			  "<Message>a &amp; b &lt;c&gt; &#65;&#x42; &quot;q&quot; &apos;</Message>"
			  "<Region>eu-central-1</Region><Empty/><CodeX>no</CodeX></Error>";
	char *v = xml_text(err, strlen(err), "Code");
	CHECK_STR(v, "SignatureDoesNotMatch");
	free(v);
	v = xml_text(err, strlen(err), "Message");
	CHECK_STR(v, "a & b <c> AB \"q\" '");
	free(v);
	v = xml_text(err, strlen(err), "Empty");
	CHECK_STR(v, "");
	free(v);
	CHECK(xml_text(err, strlen(err), "Missing") == NULL);
	CHECK(xml_root_is(err, strlen(err), "Error"));
	CHECK(!xml_root_is(err, strlen(err), "Err"));
	const char *up = "<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
			 "<Bucket>b</Bucket><Key>k</Key><UploadId>VXBsb2FkIElE</UploadId></InitiateMultipartUploadResult>";
	v = xml_text(up, strlen(up), "UploadId");
	CHECK_STR(v, "VXBsb2FkIElE");
	free(v);
	CHECK(!xml_root_is(up, strlen(up), "Error"));
	/* Cut short: no closing tag, no text. */
	CHECK(xml_text("<Code>Slow", 10, "Code") == NULL);
	/* Only the given length counts. */
	CHECK(xml_text(err, 40, "Code") == NULL);
}

static void test_urls(void)
{
	struct url_parts u;
	CHECK(url_parts_parse(&u, "http://127.0.0.1:9000/", "endpoint_url") == 0);
	CHECK_STR(u.scheme, "http");
	CHECK_STR(u.authority, "127.0.0.1:9000");
	CHECK_STR(u.path, "");
	CHECK(u.host_is_ip);
	url_parts_free(&u);
	CHECK(url_parts_parse(&u, "https://storage.googleapis.com:443/base/", "endpoint_url") == 0);
	CHECK_STR(u.authority, "storage.googleapis.com"); /* the default port is not in Host */
	CHECK_STR(u.path, "/base");
	CHECK_INT(u.port, 443);
	CHECK(!u.host_is_ip);
	url_parts_free(&u);
	CHECK(url_parts_parse(&u, "http://[::1]:8080", "endpoint_url") == 0);
	CHECK_STR(u.authority, "[::1]:8080");
	CHECK(u.host_is_ip);
	url_parts_free(&u);
	CHECK(url_parts_parse(&u, "ftp://x/", "endpoint_url") == ERR_USAGE);
	CHECK(url_parts_parse(&u, "minio:9000", "endpoint_url") == ERR_USAGE);
	CHECK(url_parts_parse(&u, "https://user:pw@host/", "endpoint_url") == ERR_USAGE);
	CHECK(strstr(error_message(), "pw") == NULL);
	CHECK(url_parts_parse(&u, "https://host/?x=1", "endpoint_url") == ERR_USAGE);
}

/* Where a key is requested, for one client configuration. */
static void expect_url(const char *bucket, const char *region, const char *endpoint, bool path_style,
		       const char *key, const char *want)
{
	struct s3_client *c = NULL;
	struct s3_client_options o = {.bucket = bucket, .region = region, .endpoint_url = endpoint,
				      .path_style = path_style};
	struct buffer url = BUFFER_INIT;
	char signing_region[64] = "";
	CHECK(s3_client_new(&c, &o) == 0);
	if (!c)
		return;
	CHECK(s3_object_url(c, key, &url, signing_region) == 0);
	CHECK_STR(url.data, want);
	CHECK_STR(signing_region, region);
	buffer_free(&url);
	s3_client_free(c);
}

static void test_addressing(void)
{
	const char *blob = "blobs/sha256:0123abcd";
	/* AWS: virtual-hosted, the regional endpoint, the colon encoded once. */
	expect_url("ci-cache", "eu-west-1", NULL, false, blob,
		   "https://ci-cache.s3.eu-west-1.amazonaws.com/blobs/sha256%3A0123abcd");
	expect_url("ci-cache", "cn-north-1", NULL, false, "m/x",
		   "https://ci-cache.s3.cn-north-1.amazonaws.com.cn/m/x");
	/* A dotted bucket cannot be a TLS host name; an invalid one no DNS label. */
	expect_url("ci.cache.example", "us-east-1", NULL, false, "k",
		   "https://s3.us-east-1.amazonaws.com/ci.cache.example/k");
	expect_url("Upper_Case", "us-east-1", NULL, false, "k", "https://s3.us-east-1.amazonaws.com/Upper_Case/k");
	/* use_path_style only with a custom endpoint; IP endpoints always path style. */
	expect_url("ci-cache", "us-east-1", NULL, true, "k", "https://ci-cache.s3.us-east-1.amazonaws.com/k");
	expect_url("ci-cache", "us-east-1", "http://minio.internal:9000", true, "manifests/main",
		   "http://minio.internal:9000/ci-cache/manifests/main");
	expect_url("ci-cache", "auto", "https://acct.r2.cloudflarestorage.com", false, "k",
		   "https://ci-cache.acct.r2.cloudflarestorage.com/k");
	expect_url("ci-cache", "us-east-1", "http://127.0.0.1:4569/", false, blob,
		   "http://127.0.0.1:4569/ci-cache/blobs/sha256%3A0123abcd");
	expect_url("ci-cache", "us-east-1", "https://proxy.example/s3/", true, "a b/c+d",
		   "https://proxy.example/s3/ci-cache/a%20b/c%2Bd");
	/* Keys are kept verbatim otherwise: BuildKit's prefix concatenation. */
	expect_url("ci-cache", "us-east-1", "http://[::1]:9000", false, "cacheblobs/sha256:ff",
		   "http://[::1]:9000/ci-cache/cacheblobs/sha256%3Aff");
}

int main(void)
{
	test_addressing();
	test_profiles();
	test_xml();
	test_urls();
	CHECK_DONE();
}
