/* Inside the S3 client: the client's state, one call as described by an
 * operation, its signing, and perform() which sends it and handles the
 * answers that mean "send it again differently".  Only the s3_client*.c
 * and s3_call*.c files include this. */
#ifndef CACHECTL_S3_CALL_H
#define CACHECTL_S3_CALL_H

#include <pthread.h>
#include <stdbool.h>

#include "core/util/error.h"
#include "transport/http/http.h"
#include "transport/s3/aws_sigv4.h"
#include "transport/s3/s3_client.h"
#include "transport/s3/url_parts.h"

#define S3_MAX_HEADERS 16

struct s3_client {
	char *bucket;
	bool custom_endpoint;
	bool path_style_option;
	pthread_mutex_t lock; /* region, endpoint, skew */
	char *region;
	struct url_parts endpoint;
	bool path_style;     /* in effect for this endpoint and bucket */
	double skew;         /* seconds to add to our clock, learnt from the store */
	struct aws_credential_chain *credentials;
	struct http_client *http;
	struct progress *progress;
	bool debug;
};

/* Where a key lives right now (the region and endpoint may have been
 * corrected by the store): the Host header, the encoded path -- sent as
 * it is signed, the key encoded once with '/' kept and ':' as %3A -- and
 * the region and clock offset to sign with.  path is the caller's to free. */
struct s3_address {
	char scheme[8];
	char host[600];
	struct buffer path;
	char region[64];
	double skew;
};

CACHECTL_MUST_CHECK int s3_address_of(struct s3_client *c, const char *key, struct s3_address *a);

/* Switches to the region the store named (once for all threads: the
 * others' requests signed for the old region are simply re-signed). */
void s3_adopt_region(struct s3_client *c, const char *region);

/* What an operation asks for. */
struct s3_call {
	const char *method;
	const char *key;
	const struct sigv4_param *query;
	size_t n_query;
	const struct sigv4_header *amz; /* extra x-amz-* headers: signed */
	size_t n_amz;
	const char *range;             /* Range value, not signed */
	const struct s3_body *body;
	bool error_in_200;             /* the store may answer 200 with an <Error> body */
	size_t capture_limit;
};

/* One request as sent: its URL and header lines, re-signed before every
 * attempt (the HTTP layer re-reads the lines it is given). */
struct signed_call {
	struct s3_client *c;
	const struct s3_call *call;
	char *url;
	char *lines[S3_MAX_HEADERS];
	const char *headers[S3_MAX_HEADERS + 1];
	bool force_refresh;
	char cred_source[160];
	char region[64];   /* the region it was signed for */
	double skew;       /* the clock offset it was signed with */
};

/* Signs the call afresh.  On a retry (keep_url) the URL the HTTP layer
 * holds stays as it is: only the header lines are rewritten. */
CACHECTL_MUST_CHECK int s3_sign_call(struct signed_call *s, bool keep_url);
/* Frees the URL and the header lines (secrets wiped). */
void s3_signed_call_clear(struct signed_call *s);

/* Performs a call: signs it, sends it (streamed when `stream`), and deals
 * with the answers S3 gives that mean "send it again differently".  Returns
 * 0 with the final answer in resp (any status); the caller judges it and
 * frees resp and s. */
CACHECTL_MUST_CHECK int s3_perform(struct s3_client *c, const struct s3_call *call, struct http_response *resp,
				   struct byte_source **stream, struct signed_call *s);

/* The <Error> document of an answer, its fields NULL when absent. */
struct s3_answer_error {
	char *code, *message, *region;
};

void s3_answer_error_parse(struct s3_answer_error *e, const struct http_response *r);
void s3_answer_error_free(struct s3_answer_error *e);
bool s3_answer_code_is(const struct s3_answer_error *e, const char *code);

/* Records the message for an answer that is an error (the object, the
 * status, the store's code and message, where credentials came from on
 * an authorisation failure) and returns code. */
CACHECTL_MUST_CHECK int s3_answer_fail(struct s3_client *c, const struct signed_call *s, const struct http_response *r, int code);

#endif
