/* What the files of the HTTP layer share with each other, and nobody else
 * uses: the client itself, the easy-handle setup, request bodies and the
 * one retry loop behind http_do and http_open. */
#ifndef CACHECTL_HTTP_INTERNAL_H
#define CACHECTL_HTTP_INTERNAL_H

#include <curl/curl.h>
#include <pthread.h>

#include "core/util/error.h"
#include "transport/http/http.h"

#define HTTP_DEFAULT_CAPTURE (1u << 20)

struct http_client {
	struct http_client_options o;
	char *what;
	CURLSH *share;
	pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
	pthread_mutex_t pause_lock;
	double pause_until; /* monotonic seconds: nobody starts a request before */
	bool debug;
	/* TLS trust and identity (http_tls.c); NULL: libcurl's defaults. */
	char *ca_file;     /* SSL_CERT_FILE */
	char *ca_dir;      /* SSL_CERT_DIR */
	char *ca_bundle;   /* the trusted roots plus extra_ca_pem, PEM */
	size_t ca_bundle_len;
	char *client_cert;
	char *client_key;
};

/* Settles the client's TLS trust from the environment (SSL_CERT_FILE,
 * SSL_CERT_DIR) and its options (extra CAs, a client certificate). */
CACHECTL_MUST_CHECK int http_tls_setup(struct http_client *c);
/* Applies it to one easy handle; nothing to verify when insecure. */
void http_tls_apply(struct http_client *c, CURL *e);
/* Why a transfer failed, for a message: libcurl's detail (its error
 * buffer) when it has one, and what to do when the server refused us for
 * want of a client certificate. */
void http_tls_explain(char *out, size_t size, const struct http_client *c, CURL *e, CURLcode crc,
		      const char *detail);
/* Frees what http_tls_setup kept. */
void http_tls_free(struct http_client *c);

/* Remembers the value of a credential-bearing header line (Authorization,
 * X-Amz-Security-Token ...) so that secret_scrub removes it from anything
 * printed, a server's quoted error body included.  Called for every line
 * a request sends. */
void http_remember_credentials(const char *line);

/* Monotonic seconds, and a sleep that survives signals. */
double http_now(void);
void http_sleep(double seconds);

/* Waits until a throttling pause another worker learnt of is over. */
void http_wait_for_pause(struct http_client *c);

/* How long to wait before attempt `attempt` (1-based, the one that
 * failed): Retry-After when failed carries one, else jittered backoff.  A
 * 429 pauses every worker of the client for that long. */
double http_backoff(struct http_client *c, unsigned attempt, const struct http_response *failed);

/* When CACHECTL_DEBUG names "http" (or --debug): one block on stderr per
 * attempt -- method, URL, status or failure, bytes, time, then the
 * request's header lines and the answer's, credentials hidden (see
 * http_trace.c). */
void http_trace(struct http_client *c, const struct http_request *req, const struct http_response *resp,
		const char *outcome);
/* A streamed body ended (closed by its reader): what it moved in all. */
void http_trace_stream_end(struct http_client *c, const char *url, int64_t delivered, double seconds,
			   unsigned resumes);
/* Copies libcurl's account of a finished (or failed) transfer into resp:
 * bytes each way and time. */
void http_note_transfer(CURL *e, struct http_response *resp);
/* Whether a header's value is a credential, never printed. */
bool http_secret_header(const char *name, size_t len);

/* Frees what r holds but keeps its attempt count and waiting time. */
void http_response_reset(struct http_response *r);

/* A request body as libcurl pulls it: memory, or a source reopened on
 * every rewind.  A read error is kept here for the caller. */
struct http_body {
	const struct http_request *req;
	struct byte_source *src;
	size_t pos; /* in-memory body */
	int error;
	struct error_state err;
};

/* An easy handle for req: URL, timeouts, TLS, redirects, method and body
 * callbacks, headers collected into resp.  *headers is the list to free
 * with curl_slist_free_all once the handle is gone; NULL when out of
 * memory. */
CURL *http_easy_new(struct http_client *c, const struct http_request *req, struct curl_slist **headers,
		    struct http_body *body, struct http_response *resp);

/* One try of a request, as the retry loop sees it: 0 once an answer came
 * (resp->status set, whatever it is), or an error code.  *curl_rc names
 * the transport failure behind an error (CURLE_OK: an error of ours, never
 * retried). */
typedef int (*http_try_fn)(void *ctx, struct http_response *resp, CURLcode *curl_rc);

/* The one retry loop: runs try_once until its outcome is not retried
 * (connection errors, 408, 429, 5xx except 501/505; never when
 * req->no_retry), the attempts run out, or 429 waits exceed the throttle
 * budget.  Between tries it waits (Retry-After honoured), notes the wait
 * on the progress display, and calls req->before_retry.  Returns what the
 * last try returned. */
CACHECTL_MUST_CHECK int http_retry_run(struct http_client *c, const struct http_request *req, struct http_response *resp,
		   http_try_fn try_once, void *ctx);

#endif
