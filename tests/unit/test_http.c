/* The HTTP layer against a scripted local server (http_test_server.py):
 * retries with backoff, Retry-After, resumed downloads, redirects that keep
 * credentials home, streamed uploads, redaction. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "core/util/digest.h"
#include "core/util/error.h"
#include "transport/http/http.h"

static char base[64];

static void url(char *out, const char *path)
{
	snprintf(out, 256, "%s%s", base, path);
}

/* 429 answers may be waited out beyond max_attempts (gha timeout=). */
static void test_throttle_budget(struct http_client *c, const struct http_client_options *o)
{
	char u[256];
	struct http_response r;
	struct http_request req = {.method = "GET", .url = u};
	url(u, "/throttle-long/a");
	CHECK(http_do(c, &req, &r) == 0);
	CHECK_INT(r.status, 429); /* three attempts, all throttled */
	CHECK_INT(r.attempts, 3);
	http_response_free(&r);

	struct http_client *patient;
	struct http_client_options po = *o;
	po.max_throttle_wait = 5;
	CHECK(http_client_new(&patient, &po) == 0);
	url(u, "/throttle-long/b");
	CHECK(http_do(patient, &req, &r) == 0);
	CHECK_INT(r.status, 200);
	CHECK_INT(r.attempts, 5);
	http_response_free(&r);
	req.no_retry = true; /* never repeated, throttled or not */
	url(u, "/throttle-long/c");
	CHECK(http_do(patient, &req, &r) == 0);
	CHECK_INT(r.status, 429);
	CHECK_INT(r.attempts, 1);
	http_response_free(&r);
	http_client_free(patient);
}

static void test_captured(struct http_client *c)
{
	char u[256];
	struct http_response r;
	struct http_request req = {.method = "GET", .url = u};
	url(u, "/ok");
	CHECK(http_do(c, &req, &r) == 0);
	CHECK_INT(r.status, 200);
	CHECK_STR(r.body.data, "hello");
	CHECK_STR(http_response_header(&r, "content-length"), "5");
	http_response_free(&r);

	req.method = "HEAD";
	CHECK(http_do(c, &req, &r) == 0);
	CHECK_INT(r.status, 200);
	CHECK_INT(r.body.len, 0);
	http_response_free(&r);

	req.method = "GET";
	url(u, "/flaky/a");
	CHECK(http_do(c, &req, &r) == 0);
	CHECK_INT(r.status, 200);
	CHECK_STR(r.body.data, "recovered");
	CHECK_INT(r.attempts, 3);
	http_response_free(&r);

	url(u, "/throttle/a");
	CHECK(http_do(c, &req, &r) == 0);
	CHECK_INT(r.status, 200);
	CHECK(r.waited >= 0.99); /* Retry-After: 1 honoured */
	http_response_free(&r);

	url(u, "/always503");
	CHECK(http_do(c, &req, &r) == 0); /* an answer, after every attempt */
	CHECK_INT(r.status, 503);
	CHECK_INT(r.attempts, 3);
	CHECK(strstr(r.body.data, "UNAVAILABLE") != NULL);
	http_response_free(&r);

	url(u, "/error");
	CHECK(http_do(c, &req, &r) == 0);
	CHECK_INT(r.status, 404);
	CHECK_INT(r.attempts, 1); /* not retried */
	CHECK(strstr(r.body.data, "BLOB_UNKNOWN") != NULL);
	http_response_free(&r);

	/* Credentials stay on the host they were meant for. */
	const char *auth[] = {"Authorization: Bearer s3cr3t", NULL};
	req.headers = auth;
	req.follow_redirects = true;
	url(u, "/redirect-here");
	CHECK(http_do(c, &req, &r) == 0);
	CHECK_STR(r.body.data, "auth=Bearer s3cr3t");
	http_response_free(&r);
	url(u, "/redirect-away");
	CHECK(http_do(c, &req, &r) == 0);
	CHECK_INT(r.status, 200);
	CHECK_STR(r.body.data, "auth=none");
	http_response_free(&r);

	/* Nobody listening: a clear error after the attempts. */
	req.headers = NULL;
	snprintf(u, sizeof(u), "http://127.0.0.1:1/x?token=abc");
	CHECK(http_do(c, &req, &r) == ERR_FAILURE);
	CHECK(strstr(error_message(), "127.0.0.1:1") != NULL);
	CHECK(strstr(error_message(), "abc") == NULL); /* the token is not shown */
	http_response_free(&r);
}

static int big_digest(struct http_client *c, const char *path, char out[DIGEST_BUF], long *status)
{
	char u[256], buf[100000];
	struct http_response r;
	struct byte_source *body;
	struct http_request req = {.method = "GET", .url = u};
	url(u, path);
	int rc = http_open(c, &req, &r, &body);
	*status = r.status;
	if (rc || !body) {
		http_response_free(&r);
		return rc ? rc : -1;
	}
	struct sha256 *h;
	CHECK(sha256_new(&h) == 0);
	for (;;) {
		ssize_t n = source_read(body, buf, sizeof(buf));
		if (n < 0) {
			rc = (int)n;
			break;
		}
		if (n == 0)
			break;
		CHECK(sha256_update(h, buf, (size_t)n) == 0);
	}
	CHECK(sha256_final(h, out) == 0);
	sha256_free(h);
	source_close(body);
	http_response_free(&r);
	return rc;
}

static void test_streamed(struct http_client *c)
{
	char want[DIGEST_BUF], got[DIGEST_BUF];
	long status;
	CHECK(big_digest(c, "/big", want, &status) == 0);
	CHECK_INT(status, 200);
	/* The connection breaks after 3 MiB: resumed with a Range request. */
	CHECK(big_digest(c, "/drop/a", got, &status) == 0);
	CHECK_STR(got, want);
	/* The server ignores Range on the retry: the repeated start is skipped. */
	CHECK(big_digest(c, "/norange/a", got, &status) == 0);
	CHECK_STR(got, want);

	char u[256];
	struct http_response r;
	struct byte_source *body = (struct byte_source *)1;
	struct http_request req = {.method = "GET", .url = u};
	url(u, "/error");
	CHECK(http_open(c, &req, &r, &body) == 0);
	CHECK(body == NULL);
	CHECK_INT(r.status, 404);
	CHECK(strstr(r.body.data, "blob unknown") != NULL);
	http_response_free(&r);
}

struct mem_body {
	const char *data;
	size_t len;
	int opened;
};

static int open_mem(void *ctx, struct byte_source **out)
{
	struct mem_body *m = ctx;
	m->opened++;
	return memory_source_new(out, m->data, m->len);
}

static void test_upload(struct http_client *c)
{
	char u[256], want[DIGEST_BUF], expect[128];
	static char data[3 << 20];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 31);
	CHECK(digest_of_bytes(want, data, sizeof(data)) == 0);
	snprintf(expect, sizeof(expect), "%s %zu", want, sizeof(data));
	struct mem_body m = {data, sizeof(data), 0};
	struct http_response r;
	struct http_request req = {.method = "PUT", .url = u, .body_open = open_mem, .body_ctx = &m,
				   .body_size = sizeof(data)};
	url(u, "/flaky-put/a");
	CHECK(http_do(c, &req, &r) == 0);
	CHECK_INT(r.status, 201);
	CHECK_STR(r.body.data, expect);
	CHECK_INT(m.opened, 2); /* sent whole again after the 500 */
	http_response_free(&r);

	/* The server hangs up on a reused connection: the body is sent again
	 * from its start, on a new one. */
	m.opened = 0;
	url(u, "/ok");
	struct http_request get = {.method = "GET", .url = u};
	CHECK(http_do(c, &get, &r) == 0); /* leaves a connection to reuse */
	http_response_free(&r);
	url(u, "/hangup-put/a");
	CHECK(http_do(c, &req, &r) == 0);
	CHECK_INT(r.status, 201);
	CHECK_STR(r.body.data, expect);
	CHECK(m.opened >= 2);
	http_response_free(&r);
	const char small[] = "in memory";
	struct http_request mem = {.method = "PUT", .url = u, .body = small, .body_len = sizeof(small) - 1};
	url(u, "/ok");
	CHECK(http_do(c, &get, &r) == 0);
	http_response_free(&r);
	url(u, "/hangup-put/b");
	CHECK(http_do(c, &mem, &r) == 0);
	CHECK_INT(r.status, 201);
	CHECK(r.body.data && strstr(r.body.data, " 9") != NULL);
	http_response_free(&r);
	/* A connection that dies mid-body, on a reused connection too: libcurl
	 * cannot rewind a streamed body itself, the layer sends it again. */
	for (int i = 0; i < 2; i++) {
		char path[64];
		m.opened = 0;
		snprintf(path, sizeof(path), "/drop-put/%d", i);
		url(u, path);
		CHECK(http_do(c, &req, &r) == 0);
		CHECK_INT(r.status, 201);
		CHECK_STR(r.body.data, expect);
		CHECK_INT(m.opened, 2);
		http_response_free(&r);
	}

	struct http_request post = {.method = "POST", .url = u};
	url(u, "/empty");
	CHECK(http_do(c, &post, &r) == 0);
	CHECK_STR(r.body.data, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 0");
	http_response_free(&r);
}

static void test_helpers(void)
{
	char out[512];
	http_redact_url(out, sizeof(out), "https://user:pw@host/p?X-Amz-Signature=abc&partNumber=2&sig=zz&token=t");
	CHECK_STR(out, "https://***@host/p?X-Amz-Signature=***&partNumber=2&sig=***&token=***");
	http_redact_url(out, sizeof(out), "http://127.0.0.1:5000/v2/a/blobs/uploads/x?_state=s&digest=sha256:1");
	CHECK_STR(out, "http://127.0.0.1:5000/v2/a/blobs/uploads/x?_state=s&digest=sha256:1");
	struct buffer b = BUFFER_INIT;
	CHECK(http_escape(&b, "blobs/sha256:ab c~", false) == 0);
	CHECK_STR(b.data, "blobs%2Fsha256%3Aab%20c~");
	buffer_reset(&b);
	CHECK(http_escape(&b, "blobs/sha256:ab", true) == 0);
	CHECK_STR(b.data, "blobs/sha256%3Aab");
	buffer_free(&b);
	CHECK(http_escape(&b, "", false) == 0);
	CHECK_STR(b.data, "");
	buffer_free(&b);
	CHECK(http_retry_after("7") == 7);
	CHECK(http_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0); /* in the past */
	CHECK(http_retry_after("soon") < 0);
	CHECK(http_same_origin("https://ghcr.io/v2/a/blobs/uploads/x?y", "https://ghcr.io"));
	CHECK(http_same_origin("HTTPS://GHCR.io", "https://ghcr.io/"));
	CHECK(!http_same_origin("https://ghcr.io.evil.example/v2/", "https://ghcr.io"));
	CHECK(!http_same_origin("https://ghcr.io:8443/v2/", "https://ghcr.io"));
	CHECK(!http_same_origin("http://ghcr.io/v2/", "https://ghcr.io"));
	CHECK(!http_same_origin("https://storage.example/upload?sig=1", "https://ghcr.io"));
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: test_http path/to/http_test_server.py\n");
		return 2;
	}
	int fds[2];
	CHECK(pipe(fds) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		execlp("python3", "python3", argv[1], (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	char port[16] = {0};
	ssize_t n = read(fds[0], port, sizeof(port) - 1);
	if (n <= 0) {
		fprintf(stderr, "the test server did not start\n");
		return 1;
	}
	port[strcspn(port, "\n")] = '\0';
	snprintf(base, sizeof(base), "http://127.0.0.1:%s", port);

	struct http_client *c;
	struct http_client_options o = {.max_attempts = 3, .backoff_base = 0.05, .what = "test server"};
	CHECK(http_client_new(&c, &o) == 0);
	test_throttle_budget(c, &o);
	test_captured(c);
	test_streamed(c);
	test_upload(c);
	test_helpers();
	http_client_free(c);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	CHECK_DONE();
}
