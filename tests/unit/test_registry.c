/* The registry backend's pure parts: Docker reference normalisation,
 * WWW-Authenticate challenges, base64, and the credential sources
 * (config.json auths, credHelpers and credsStore through a real helper
 * program speaking the docker-credential protocol, Podman's auth.json). */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "core/util/base64.h"
#include "core/util/error.h"
#include "transport/registry/reference.h"
#include "transport/registry/registry_auth.h"
#include "transport/registry/registry_credentials.h"

static void check_ref(const char *text, const char *want)
{
	struct reference r;
	char out[600];
	int rc = reference_parse(&r, text);
	if (rc) {
		fprintf(stderr, "reference %s: %s\n", text, error_message());
		CHECK(rc == 0);
		return;
	}
	reference_format(out, sizeof(out), &r);
	CHECK_STR(out, want);
	reference_free(&r);
}

static void check_bad_ref(const char *text, const char *word)
{
	struct reference r;
	CHECK(reference_parse(&r, text) == ERR_USAGE);
	if (!strstr(error_message(), word)) {
		fprintf(stderr, "reference %s: message \"%s\" lacks \"%s\"\n", text, error_message(), word);
		CHECK(0);
	}
}

static void test_references(void)
{
	check_ref("alpine", "docker.io/library/alpine:latest");
	check_ref("myrepo/cache", "docker.io/myrepo/cache:latest");
	check_ref("index.docker.io/library/busybox:1.36", "docker.io/library/busybox:1.36");
	check_ref("docker.io/ubuntu", "docker.io/library/ubuntu:latest");
	check_ref("localhost:5000/c", "localhost:5000/c:latest");
	check_ref("localhost/c:t", "localhost/c:t");
	check_ref("127.0.0.1:5000/cache/app:max", "127.0.0.1:5000/cache/app:max");
	check_ref("ghcr.io/org/team/app:build-cache_1.2", "ghcr.io/org/team/app:build-cache_1.2");
	check_ref("[::1]:5000/a/b", "[::1]:5000/a/b:latest");
	check_ref("registry.example.com/a__b/c-d--e.f:T",
		  "registry.example.com/a__b/c-d--e.f:T");
	check_ref("ghcr.io/o/r@sha256:1dd9a2929e6db6b534363295d19f24ff938f2286e6a42d8cea109ae619e75664",
		  "ghcr.io/o/r@sha256:1dd9a2929e6db6b534363295d19f24ff938f2286e6a42d8cea109ae619e75664");
	check_ref("o/r:t@sha256:1dd9a2929e6db6b534363295d19f24ff938f2286e6a42d8cea109ae619e75664",
		  "docker.io/o/r:t@sha256:1dd9a2929e6db6b534363295d19f24ff938f2286e6a42d8cea109ae619e75664");
	/* A capital in the first component makes it a registry, as in Docker. */
	check_ref("Registry/app", "Registry/app:latest");

	check_bad_ref("", "empty");
	check_bad_ref("docker.io/Library/app", "lowercase");
	check_bad_ref("app:", "tag");
	check_bad_ref("app:-x", "tag");
	check_bad_ref("a//b", "component");
	check_bad_ref("a/b-", "component");
	check_bad_ref("host:port/x", "registry part");
	check_bad_ref("x@sha256:abc", "digest");
	check_bad_ref("x@sha512:" "0000000000000000000000000000000000000000000000000000000000000000", "sha256");
	check_bad_ref("1dd9a2929e6db6b534363295d19f24ff938f2286e6a42d8cea109ae619e75664", "image ID");

	struct reference r;
	CHECK(reference_parse(&r, "alpine") == 0);
	CHECK_STR(reference_api_host(&r), "registry-1.docker.io");
	reference_free(&r);
	CHECK(reference_domain_is_loopback("localhost:5000"));
	CHECK(reference_domain_is_loopback("127.0.0.1:5000"));
	CHECK(reference_domain_is_loopback("127.8.9.10"));
	CHECK(reference_domain_is_loopback("[::1]:5000"));
	CHECK(!reference_domain_is_loopback("ghcr.io"));
	CHECK(!reference_domain_is_loopback("10.0.0.1:5000"));
	CHECK(!reference_domain_is_loopback("localhost.example.com"));
}

static void test_challenges(void)
{
	struct auth_challenge c;
	CHECK(auth_challenge_parse(&c, "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
				       "scope=\"repository:samalba/my-app:pull,push\"") == 0);
	CHECK_STR(c.scheme, "Bearer");
	CHECK_STR(c.realm, "https://auth.docker.io/token");
	CHECK_STR(c.service, "registry.docker.io");
	CHECK_STR(c.scope, "repository:samalba/my-app:pull,push");
	auth_challenge_free(&c);

	/* Bearer wins over Basic, spacing and escapes as RFC 7235 allows. */
	CHECK(auth_challenge_parse(&c, "Basic realm=\"Registry Realm\", Bearer realm=\"http://127.0.0.1:1/t\" , "
				       "service=\"a \\\"quoted\\\" name\",error=\"insufficient_scope\",scope=\"a b\"") == 0);
	CHECK_STR(c.scheme, "Bearer");
	CHECK_STR(c.realm, "http://127.0.0.1:1/t");
	CHECK_STR(c.service, "a \"quoted\" name");
	CHECK_STR(c.error, "insufficient_scope");
	CHECK_STR(c.scope, "a b");
	auth_challenge_free(&c);

	CHECK(auth_challenge_parse(&c, "Basic realm=basic-realm") == 0);
	CHECK_STR(c.scheme, "Basic");
	CHECK_STR(c.realm, "basic-realm");
	auth_challenge_free(&c);

	CHECK(auth_challenge_parse(&c, "") != 0);
	CHECK(auth_challenge_parse(&c, "Bearer realm=\"unterminated") != 0);
}

static void test_base64(void)
{
	struct buffer b = BUFFER_INIT;
	const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	const char *coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	for (size_t i = 0; i < 7; i++) {
		buffer_reset(&b);
		CHECK(base64_std_encode(&b, plain[i], strlen(plain[i])) == 0);
		CHECK(buffer_append(&b, "", 0) == 0);
		CHECK_STR(b.data ? b.data : "", coded[i]);
		buffer_reset(&b);
		CHECK(base64_std_decode(&b, coded[i], strlen(coded[i])) == 0);
		CHECK_INT(b.len, strlen(plain[i]));
		CHECK(b.len == 0 || memcmp(b.data, plain[i], b.len) == 0);
	}
	buffer_reset(&b);
	CHECK(base64_std_decode(&b, "Zm9v\r\nYmFy", 10) == 0); /* line breaks skipped, as Go does */
	CHECK_INT(b.len, 6);
	const char *bad[] = {"Zg", "Zg=", "Z===", "Zm9v!", "Zg==Zg==", "Zm 9v", "Z=g="};
	for (size_t i = 0; i < 7; i++) {
		buffer_reset(&b);
		CHECK(base64_std_decode(&b, bad[i], strlen(bad[i])) != 0);
	}
	buffer_free(&b);
}

static char tmpdir[256];

static void write_file(const char *name, const char *text, int mode)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
	chmod(path, (mode_t)mode);
}

static void read_file(const char *name, char *out, size_t size)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(out, 1, size - 1, f) : 0;
	out[n] = '\0';
	if (f)
		fclose(f);
}

static void test_credentials(void)
{
	struct registry_credentials c;
	char path[600], seen[256];
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/cachectl-creds-XXXXXX");
	CHECK(mkdtemp(tmpdir) != NULL);
	setenv("DOCKER_CONFIG", tmpdir, 1);
	unsetenv("REGISTRY_AUTH_FILE");
	unsetenv("XDG_RUNTIME_DIR");
	snprintf(path, sizeof(path), "%s:%s", tmpdir, getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	setenv("PATH", path, 1);

	/* No config at all: anonymous. */
	CHECK(registry_credentials_find(&c, "ghcr.io") == 0);
	CHECK(c.username == NULL);

	/* auths: "auth" (base64 user:password; the password may hold ':'),
	 * identity tokens, keys with a scheme, Docker Hub's key. */
	write_file("config.json",
		   "{\"auths\":{\"ghcr.io\":{\"auth\":\"dXNlcjpwYTpzcw==\"},"
		   "\"https://reg.example.com:5000/v2/\":{\"identitytoken\":\"refresh-me\"},"
		   "\"https://index.docker.io/v1/\":{\"auth\":\"aHViOmh1YnB3\"},"
		   "\"broken.example\":{\"auth\":\"!!\"}}}",
		   0600);
	CHECK(registry_credentials_find(&c, "ghcr.io") == 0);
	CHECK_STR(c.username, "user");
	CHECK_STR(c.secret, "pa:ss");
	CHECK(!c.identity_token);
	CHECK(strstr(c.source, "config.json (auths)") != NULL);
	registry_credentials_free(&c);
	CHECK(registry_credentials_find(&c, "reg.example.com:5000") == 0);
	CHECK_STR(c.username, "<token>");
	CHECK_STR(c.secret, "refresh-me");
	CHECK(c.identity_token);
	registry_credentials_free(&c);
	CHECK(registry_credentials_find(&c, "docker.io") == 0);
	CHECK_STR(c.username, "hub");
	registry_credentials_free(&c);
	CHECK(registry_credentials_find(&c, "other.example") == 0);
	CHECK(c.username == NULL);
	CHECK(registry_credentials_find(&c, "broken.example") != 0);
	CHECK(strstr(error_message(), "dXNl") == NULL); /* no secret in the message */

	/* A helper program, run with "get" and the server URL on stdin. */
	char script[1024];
	snprintf(script, sizeof(script),
		 "#!/bin/sh\n"
		 "[ \"$1\" = get ] || exit 3\n"
		 "read -r url || true\n"
		 "printf '%%s' \"$url\" > %s/seen\n"
		 "case \"$url\" in\n"
		 "  ghcr.io) echo '{\"ServerURL\":\"ghcr.io\",\"Username\":\"helped\",\"Secret\":\"h-secret\"}';;\n"
		 "  https://index.docker.io/v1/) echo '{\"ServerURL\":\"x\",\"Username\":\"<token>\",\"Secret\":\"idt\"}';;\n"
		 "  fail.example) echo 'the keychain is locked'; exit 1;;\n"
		 "  *) echo 'credentials not found in native keychain'; exit 1;;\n"
		 "esac\n",
		 tmpdir);
	write_file("docker-credential-cachectltest", script, 0755);
	write_file("config.json",
		   "{\"credHelpers\":{\"ghcr.io\":\"cachectltest\",\"gone.example\":\"nosuchhelper\"},"
		   "\"credsStore\":\"cachectltest\",\"auths\":{\"other.example\":{\"auth\":\"YTpi\"}}}",
		   0600);
	CHECK(registry_credentials_find(&c, "ghcr.io") == 0);
	CHECK_STR(c.username, "helped");
	CHECK_STR(c.secret, "h-secret");
	CHECK(strstr(c.source, "docker-credential-cachectltest") != NULL);
	read_file("seen", seen, sizeof(seen));
	CHECK_STR(seen, "ghcr.io");
	registry_credentials_free(&c);
	/* credsStore for the rest; Docker Hub under its v1 URL. */
	CHECK(registry_credentials_find(&c, "docker.io") == 0);
	CHECK_STR(c.username, "<token>");
	CHECK(c.identity_token);
	read_file("seen", seen, sizeof(seen));
	CHECK_STR(seen, "https://index.docker.io/v1/");
	registry_credentials_free(&c);
	/* Not in the store: the auths entry, then anonymous. */
	CHECK(registry_credentials_find(&c, "other.example") == 0);
	CHECK_STR(c.username, "a");
	registry_credentials_free(&c);
	CHECK(registry_credentials_find(&c, "nothing.example") == 0);
	CHECK(c.username == NULL);
	/* A helper that fails says so; one that is missing too. */
	CHECK(registry_credentials_find(&c, "fail.example") != 0);
	CHECK(strstr(error_message(), "keychain is locked") != NULL);
	CHECK(registry_credentials_find(&c, "gone.example") != 0);
	CHECK(strstr(error_message(), "docker-credential-nosuchhelper") != NULL);

	/* Podman's auth.json when Docker's config has nothing. */
	write_file("config.json", "{}", 0600);
	write_file("auth.json", "{\"auths\":{\"quay.io\":{\"auth\":\"cG9kOm1hbg==\"}}}", 0600);
	snprintf(path, sizeof(path), "%s/auth.json", tmpdir);
	setenv("REGISTRY_AUTH_FILE", path, 1);
	CHECK(registry_credentials_find(&c, "quay.io") == 0);
	CHECK_STR(c.username, "pod");
	CHECK(strstr(c.source, "auth.json") != NULL);
	registry_credentials_free(&c);
	unsetenv("REGISTRY_AUTH_FILE");

	write_file("config.json", "{not json", 0600);
	CHECK(registry_credentials_find(&c, "ghcr.io") != 0);
	CHECK(strstr(error_message(), "config.json") != NULL);

	const char *names[] = {"config.json", "auth.json", "seen", "docker-credential-cachectltest"};
	for (size_t i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
		unlink(path);
	}
	rmdir(tmpdir);
}

int main(void)
{
	test_references();
	test_challenges();
	test_base64();
	test_credentials();
	CHECK_DONE();
}
