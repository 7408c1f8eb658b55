/* BuildKit's option syntax: one CSV record of key=value fields, and the
 * typed values cachectl reads from it. */
#include "check.h"
#include "cli/cli.h"
#include "core/util/closest_word.h"
#include "core/util/error.h"
#include "core/util/printable.h"
#include "transport/engine/cache_transfer.h"

static void parses(const char *text, enum transport_direction dir, const char *type, const char *k1,
		   const char *v1, const char *k2, const char *v2)
{
	struct cache_options o;
	int rc = cache_spec_parse(&o, text, dir);
	CHECK_INT(rc, 0);
	if (!rc) {
		CHECK_STR(o.type, type);
		if (k1)
			CHECK_STR(options_get(&o, k1), v1);
		if (k2)
			CHECK_STR(options_get(&o, k2), v2);
	}
	cache_options_free(&o);
}

static void refuses(const char *text, const char *phrase)
{
	struct cache_options o;
	int rc = cache_spec_parse(&o, text, TRANSPORT_SOURCE);
	CHECK_INT(rc, ERR_USAGE);
	if (rc && !strstr(error_message(), phrase)) {
		fprintf(stderr, "\"%s\": message \"%s\" lacks \"%s\"\n", text, error_message(), phrase);
		check_failures++;
	}
	cache_options_free(&o);
}

/* A message about a bad spec names the field, never a secret's value. */
static void hides(const char *text, const char *phrase, const char *secret)
{
	refuses(text, phrase);
	if (strstr(error_message(), secret) || strchr(error_message(), '\n')) {
		fprintf(stderr, "\"%s\": message \"%s\" shows \"%s\" or a newline\n", text, error_message(), secret);
		check_failures++;
	}
}

static void test_spec_errors_hide_secrets(void)
{
	hides("type=s3,\"secret_access_key=SEKRET", "unterminated", "SEKRET");
	hides("type=s3,\"secret_access_key=SEKRET\"x", "closing quote", "SEKRET");
	hides("type=gha,token=SEK\"RET", "quote inside", "SEK");
	hides("type=s4,\"bucket=PLAIN", "unterminated", "PLAIN"); /* unknown type: every value */
	hides("\"ghtoken=SEKRET,type=gha", "unterminated", "SEKRET");      /* before type= */
	hides("type=gha,SEKRETWORD", "no '='", "SEKRETWORD");
	hides("type=local,\"src=a\nb", "a\\nb", "\n"); /* escaped, one line */
	hides("type=s3,type=s3,token=SEKRET", "twice", "SEKRET");
}

static void test_csv(void)
{
	parses("type=local,dest=/tmp/x", TRANSPORT_DESTINATION, "local", "dest", "/tmp/x", NULL, NULL);
	parses("TYPE=local,Src=/a/b,TAG=Main", TRANSPORT_SOURCE, "local", "src", "/a/b", "tag", "Main");
	parses("type=s3,\"name=a,b\",bucket=x", TRANSPORT_SOURCE, "s3", "name", "a,b", "bucket", "x");
	parses("type=local,\"src=say \"\"hi\"\"\"", TRANSPORT_SOURCE, "local", "src", "say \"hi\"", NULL, NULL);
	parses("type=local,src=a=b", TRANSPORT_SOURCE, "local", "src", "a=b", NULL, NULL);
	parses("type=local,src=", TRANSPORT_SOURCE, "local", "src", "", NULL, NULL);
	parses("./some/dir", TRANSPORT_SOURCE, "local", "src", "./some/dir", NULL, NULL);
	parses("/abs/dir", TRANSPORT_DESTINATION, "local", "dest", "/abs/dir", NULL, NULL);
	parses("registry.example.com/team/app:cache", TRANSPORT_SOURCE, "registry", "ref",
	       "registry.example.com/team/app:cache", NULL, NULL);

	refuses("type=local,src=\"x", "quote");
	refuses("type=local,\"src=x\"y", "closing quote");
	refuses("type=local,\"src=x", "unterminated");
	refuses("type=local,foo", "no '='");
	refuses("newcache", "type=local,src=newcache");
	refuses("team/app:cache", "docker.io/team/app:cache");
	parses("localhost:5000/app:cache", TRANSPORT_SOURCE, "registry", "ref", "localhost:5000/app:cache", NULL, NULL);
	parses("../up", TRANSPORT_DESTINATION, "local", "dest", "../up", NULL, NULL);
	refuses("type=local,src=a,src=b", "twice");
	refuses("src=x", "no type=");
	refuses("type=,src=x", "no type=");
	refuses("type=local,=x", "empty key");
	refuses("", "empty");
}

static void settings(const char *text, int want_rc, const char *phrase)
{
	struct cache_options o;
	struct export_settings s;
	CHECK(cache_spec_parse(&o, text, TRANSPORT_DESTINATION) == 0);
	int rc = export_settings_parse(&s, &o, transport_handler_find("local"));
	(void)s;
	CHECK_INT(rc, want_rc);
	if (rc && phrase && !strstr(error_message(), phrase)) {
		fprintf(stderr, "\"%s\": message \"%s\" lacks \"%s\"\n", text, error_message(), phrase);
		check_failures++;
	}
	cache_options_free(&o);
}

static void test_export_settings(void)
{
	struct cache_options o;
	struct export_settings s;
	CHECK(cache_spec_parse(&o, "type=local,dest=d", TRANSPORT_DESTINATION) == 0);
	CHECK(export_settings_parse(&s, &o, transport_handler_find("local")) == 0);
	CHECK(s.mode == EXPORT_MODE_ALL);
	CHECK(!s.compression_set);
	CHECK(s.form.oci_mediatypes && s.form.image_manifest);
	cache_options_free(&o);

	CHECK(cache_spec_parse(&o, "type=local,dest=d,oci-mediatypes=false,force-compression=,mode=max",
			       TRANSPORT_DESTINATION) == 0);
	CHECK(export_settings_parse(&s, &o, transport_handler_find("local")) == 0);
	CHECK(!s.form.oci_mediatypes && !s.form.image_manifest); /* image-manifest follows */
	CHECK(s.force_compression);                              /* empty means true */
	CHECK(s.compression_set && s.codec.compression == COMPRESSION_GZIP);
	CHECK(s.mode == EXPORT_MODE_MAX);
	cache_options_free(&o);

	CHECK(cache_spec_parse(&o, "type=local,dest=d,compression=zstd,compression-level=19,ignore-error=True",
			       TRANSPORT_DESTINATION) == 0);
	CHECK(export_settings_parse(&s, &o, transport_handler_find("local")) == 0);
	CHECK(s.codec.compression == COMPRESSION_ZSTD && s.codec.level_set && s.codec.level == 19);
	CHECK(s.ignore_error);
	cache_options_free(&o);

	settings("type=local,dest=d,mode=maximum", ERR_USAGE, "maximum");
	settings("type=local,dest=d,mode=MAX", ERR_USAGE, "MAX");
	settings("type=local,dest=d,compression=lzma", ERR_USAGE, "lzma");
	settings("type=local,dest=d,compression=zstd,compression-level=99", ERR_USAGE, "99");
	settings("type=local,dest=d,compression-level=x", ERR_USAGE, "not an integer");
	settings("type=local,dest=d,force-compression=yes", ERR_USAGE, "yes");
	settings("type=local,dest=d,oci-mediatypes=false,image-manifest=true", ERR_USAGE, "image-manifest");
	settings("type=local,dest=d,ignore-error=maybe", ERR_USAGE, "maybe");
	settings("type=local,dest=d,compression=estargz,compression-level=10", ERR_USAGE, "estargz");
	settings("type=local,dest=d,compression=estargz,compression-level=9,force-compression=true", 0, NULL);
	settings("type=local,dest=d,oci-mediatypes=1,image-manifest=0", 0, NULL);
}

static void test_unknown_keys(void)
{
	struct cache_options o;
	struct transport *t = NULL;
	CHECK(cache_spec_parse(&o, "type=local,src=/tmp,bogus=1", TRANSPORT_SOURCE) == 0);
	CHECK(transport_open(&t, &o, TRANSPORT_SOURCE, NULL) == ERR_USAGE);
	CHECK(strstr(error_message(), "bogus") != NULL);
	cache_options_free(&o);
	CHECK(cache_spec_parse(&o, "type=floppy,src=/tmp", TRANSPORT_SOURCE) == 0);
	CHECK(transport_open(&t, &o, TRANSPORT_SOURCE, NULL) == ERR_USAGE);
	CHECK(strstr(error_message(), "floppy") != NULL);
	cache_options_free(&o);
	CHECK(cache_spec_parse(&o, "type=local,tag=x", TRANSPORT_SOURCE) == 0);
	CHECK(transport_open(&t, &o, TRANSPORT_SOURCE, NULL) == ERR_USAGE);
	CHECK(strstr(error_message(), "src") != NULL);
	cache_options_free(&o);
	CHECK(cache_spec_parse(&o, "type=local,src=/tmp,digest=sha256:abc", TRANSPORT_SOURCE) == 0);
	CHECK(transport_open(&t, &o, TRANSPORT_SOURCE, NULL) == ERR_USAGE);
	CHECK(strstr(error_message(), "digest") != NULL);
	cache_options_free(&o);
}

/* A destination's keys come from its handler's table plus the export keys. */
static void destination_refused(const char *text, const char *phrase)
{
	struct cache_options o;
	struct destination d;
	CHECK(cache_spec_parse(&o, text, TRANSPORT_DESTINATION) == 0);
	CHECK_INT(destination_open(&d, &o, NULL), ERR_USAGE);
	if (!strstr(error_message(), phrase)) {
		fprintf(stderr, "\"%s\": message \"%s\" lacks \"%s\"\n", text, error_message(), phrase);
		check_failures++;
	}
	cache_options_free(&o);
}

static void test_destination_keys(void)
{
	destination_refused("type=local,desst=x", "did you mean dest=?");
	destination_refused("type=local,src=x", "write dest= here");
	destination_refused("type=local,dest=x,compresion=zstd", "did you mean compression=?");
	destination_refused("type=local,dest=x,oci-mediatype=true", "did you mean oci-mediatypes=?");
	destination_refused("type=s3,bucket=b,region=r,oci-mediatypes=true", "it takes: bucket"); /* no root form */
	destination_refused("type=inline,ref=localhost/a:b,mode=maximum", "maximum");
	destination_refused("type=lcoal,dest=x", "did you mean type=local?");
	destination_refused("type=local,dest=x,compression=uncompressed,compression-level=1", "has no level");

	/* inline declares its own settings: always min, no blobs of its own */
	struct cache_options o;
	struct destination d;
	CHECK(cache_spec_parse(&o, "type=inline,ref=localhost/a:b,mode=max", TRANSPORT_DESTINATION) == 0);
	CHECK_INT(destination_open(&d, &o, NULL), 0);
	CHECK(d.settings.mode == EXPORT_MODE_MIN && d.settings.stores_no_blobs && !d.settings.form_set);
	transport_free(d.transport);
	cache_options_free(&o);
	/* registry declares the root-form keys */
	CHECK(cache_spec_parse(&o, "type=registry,ref=localhost/a:b,oci-mediatypes=false", TRANSPORT_DESTINATION) == 0);
	CHECK_INT(destination_open(&d, &o, NULL), 0);
	CHECK(d.settings.form_set && !d.settings.form.oci_mediatypes && !d.settings.form.image_manifest);
	CHECK_STR(transport_location(d.transport), "registry:localhost/a:b");
	transport_free(d.transport);
	cache_options_free(&o);
}

static void test_display_hides_secrets(void)
{
	struct cache_options o = {0};
	char text[256];
	o.type = strdup("s3");
	cache_options_add(&o, "bucket", "b");
	cache_options_add(&o, "secret_access_key", "SUPERSECRET");
	cache_options_add(&o, "session_token", "TOKEN123");
	cache_options_add(&o, "token", "GHTOKEN");  /* gha's secret, misplaced on s3 */
	cache_options_add(&o, "prefix", "a\nb\x1b[2J");
	transport_spec_text(text, sizeof(text), &o);
	CHECK(strstr(text, "SUPERSECRET") == NULL);
	CHECK(strstr(text, "TOKEN123") == NULL);
	CHECK(strstr(text, "GHTOKEN") == NULL);
	CHECK(strstr(text, "bucket=b") != NULL);
	CHECK(strstr(text, "prefix=a\\nb\\x1b[2J") != NULL); /* one line, no raw escape */
	cache_options_free(&o);

	/* every value of a type nobody knows is hidden */
	memset(&o, 0, sizeof(o));
	o.type = strdup("s4");
	cache_options_add(&o, "bucket", "PLAINVALUE");
	transport_spec_text(text, sizeof(text), &o);
	CHECK(strstr(text, "PLAINVALUE") == NULL);
	cache_options_free(&o);
}

static void test_printable(void)
{
	char out[32];
	CHECK_STR(printable(out, sizeof(out), "plain", 0), "plain");
	CHECK_STR(printable(out, sizeof(out), "a\nb\tc\\", 0), "a\\nb\\tc\\\\");
	CHECK_STR(printable(out, sizeof(out), "\x1b[31m", 0), "\\x1b[31m");
	CHECK_STR(printable(out, sizeof(out), "caf\xc3\xa9 \xff", 0), "caf\xc3\xa9 \\xff");
	CHECK_STR(printable(out, sizeof(out), "abcdefgh", 3), "abc...");
	CHECK_STR(printable(out, 8, "abcdefghijkl", 0), "abcd...");
}

static void test_closest_word(void)
{
	static const char *const keys[] = {"dest", "tag", "oci-mediatypes", "image-manifest", "compression-level"};
	CHECK_INT((int)edit_distance("desst", "dest"), 1);
	CHECK_INT((int)edit_distance("dset", "dest"), 1); /* a swap is one edit */
	CHECK_INT((int)edit_distance("", "abc"), 3);
	CHECK_STR(closest_word("desst", keys, 5), "dest");
	CHECK_STR(closest_word(" dest", keys, 5), "dest");
	CHECK_STR(closest_word("compresion-level", keys, 5), "compression-level");
	CHECK(closest_word("ref", keys, 5) == NULL);
	CHECK(closest_word("bucket", keys, 5) == NULL);
}

int main(void)
{
	test_csv();
	test_spec_errors_hide_secrets();
	test_export_settings();
	test_unknown_keys();
	test_destination_keys();
	test_display_hides_secrets();
	test_printable();
	test_closest_word();
	CHECK_DONE();
}
