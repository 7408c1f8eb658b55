/* HTTP for the remote backends (registry, s3, gha), on libcurl.
 *
 * One client per transport: it shares connections, DNS and TLS sessions
 * between the threads that move blobs in parallel.  Requests are retried
 * with exponential backoff and full jitter on connection errors, 429 and
 * 5xx, honouring Retry-After; bodies are streamed both ways.  Nothing this
 * layer prints or records carries a credential: Authorization, tokens,
 * signatures and signed query parameters are redacted. */
#ifndef CACHECTL_HTTP_H
#define CACHECTL_HTTP_H

#include "core/util/error.h"

#include <stdbool.h>
#include <stdint.h>

#include "core/util/buffer.h"
#include "core/util/library_version.h"
#include "core/util/stream.h"

struct progress;
struct http_client;

struct http_client_options {
	bool insecure;         /* plain http allowed and TLS certificates not verified */
	long connect_timeout;  /* seconds; 0: 30 */
	long idle_timeout;     /* seconds without a byte before giving up; 0: 60 */
	unsigned max_attempts; /* 0: 5 */
	double backoff_base;   /* seconds; 0: 0.5 */
	double backoff_cap;    /* seconds; 0: 30 */
	double retry_after_cap;/* seconds; 0: 300 */
	/* seconds: a request answered 429 is retried beyond max_attempts for
	 * as long as its waits add up to at most this; 0: 429 counts as any
	 * other retried answer. */
	double max_throttle_wait;
	struct progress *progress; /* where waits are reported; may be NULL */
	const char *what;      /* names the backend in messages, e.g. "registry 127.0.0.1:5000" */
	/* TLS beyond the system's trust (copied by http_client_new):
	 * certificate authorities (PEM text) trusted in addition to the
	 * system's, and a client certificate and its key (PEM files) shown to
	 * servers that ask for one.  SSL_CERT_FILE and SSL_CERT_DIR, when
	 * set, replace the system's trust for every client (see http_tls.c). */
	const char *extra_ca_pem;
	const char *client_cert;
	const char *client_key;
};

struct http_header {
	char *name;
	char *value;
};

struct http_response {
	long status;
	struct http_header *headers; /* of the final response, in order */
	size_t n_headers, cap_headers;
	struct buffer body;          /* captured bodies (http_do), up to the request's limit */
	char *effective_url;         /* after redirects */
	unsigned attempts;           /* how many tries it took */
	double waited;               /* seconds spent waiting between tries */
	/* The last try, as libcurl saw it: its CURLcode (0 when an answer
	 * came; CURLE_OPERATION_TIMEDOUT when nothing arrived in time -- the
	 * connect timeout or the idle cut), and what it moved. */
	int curl_code;
	int64_t bytes_sent, bytes_received; /* bodies, as counted by libcurl */
	double seconds;                     /* the try's total time */
};

/* Supplies a request body; called again for every retry, so the body is
 * sent whole each time (a spooled file is reopened, memory re-read). */
typedef int (*http_body_open)(void *ctx, struct byte_source **out);

struct http_request {
	const char *method;           /* GET HEAD PUT POST PATCH DELETE */
	const char *url;
	const char *const *headers;   /* "Name: value" lines, NULL-terminated, may be NULL */
	const void *body;             /* a body in memory ... */
	size_t body_len;
	http_body_open body_open;     /* ... or a streamed one of body_size bytes */
	void *body_ctx;
	int64_t body_size;
	bool follow_redirects;        /* credentials are never sent to another host */
	bool no_retry;                /* for requests that must not be repeated */
	size_t capture_limit;         /* http_do keeps at most this much body; 0: 1 MiB */
	/* Called before each retry so the caller can refresh what expires
	 * (a token, a signature): it may rewrite the header lines. */
	int (*before_retry)(void *ctx, const struct http_response *failed);
	void *retry_ctx;
};

CACHECTL_MUST_CHECK int http_client_new(struct http_client **out, const struct http_client_options *o);
void http_client_free(struct http_client *c);

/* libcurl: compiled-against and running versions. */
size_t http_library_versions(struct library_version *out, size_t max);

/* Performs the request and captures the body.  Connection errors and the
 * statuses 408, 429 and 5xx are retried (unless no_retry); any other status
 * is an answer.  Returns 0 once an answer arrived, whatever its status (the
 * caller judges it, the last retried one included); fails only when no
 * answer came at all. */
CACHECTL_MUST_CHECK int http_do(struct http_client *c, const struct http_request *req, struct http_response *resp);

/* Like http_do, but the body of a 2xx answer is not captured: it is
 * returned as a source, read as it arrives (a broken connection is resumed
 * with a Range request where the server allows it).  For other statuses
 * *body is NULL and resp->body holds the (captured) error body.  resp is
 * the first answer; the body does not depend on it and may outlive it.
 * req's header lines must stay valid until the body is closed: resuming
 * re-sends them (with a Range). */
CACHECTL_MUST_CHECK int http_open(struct http_client *c, const struct http_request *req, struct http_response *resp,
	      struct byte_source **body);

void http_response_free(struct http_response *r);
/* Whether a request failed for want of any answer in time (a connect
 * timeout, or no byte for the idle timeout): what a firewall or a hop
 * limit that drops packets looks like, unlike a refused connection. */
bool http_response_timed_out(const struct http_response *r);
/* The first header of that name (case-insensitive), or NULL. */
const char *http_response_header(const struct http_response *r, const char *name);

/* The URL with credentials hidden, for messages: user:password@, and the
 * values of query parameters that carry signatures or tokens. */
void http_redact_url(char *out, size_t size, const char *url);

/* Percent-encodes s for a URL path segment or query value (RFC 3986
 * unreserved characters kept; '/' kept when keep_slash). */
CACHECTL_MUST_CHECK int http_escape(struct buffer *out, const char *s, bool keep_slash);

/* Seconds to wait from a Retry-After value (delta seconds or HTTP date),
 * or -1 when it does not parse. */
double http_retry_after(const char *value);

/* Whether url is on the origin "scheme://host[:port]" (scheme and host
 * compared without case): where a backend's credentials may go. */
bool http_same_origin(const char *url, const char *origin);

#endif
