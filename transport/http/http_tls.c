/* Which certificate authorities a client trusts and which certificate it
 * shows, the way other container tools are configured:
 *
 *   1. SSL_CERT_FILE / SSL_CERT_DIR (OpenSSL's variables, which libcurl
 *      itself ignores) replace the system's store when set;
 *   2. extra CAs (a registry's certs.d folder) are added to that store,
 *      never replace it, as docker and podman do;
 *   3. a client certificate and key are presented when the server asks.
 *
 * libcurl takes either a CA file or a CA blob, not both, so extra CAs are
 * sent as one blob holding the base store and them. */
#include "transport/http/http_internal.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/buffer.h"

#define MAX_CA_BUNDLE (64u << 20)

static int dup_opt(char **out, const char *s)
{
	*out = NULL;
	if (s && *s && !(*out = strdup(s)))
		return error_oom();
	return 0;
}

/* The file libcurl would read roots from: SSL_CERT_FILE, else the one it
 * was built with (NULL when it has none, e.g. only a CA directory). */
static const char *base_ca_file(struct http_client *c, CURL *probe)
{
	if (c->ca_file)
		return c->ca_file;
	char *builtin = NULL;
	if (curl_easy_getinfo(probe, CURLINFO_CAINFO, &builtin) != CURLE_OK)
		return NULL;
	return builtin;
}

static int build_bundle(struct http_client *c, const char *extra)
{
	struct buffer b = BUFFER_INIT;
	CURL *probe = curl_easy_init();
	if (!probe)
		return error_oom();
	const char *base = base_ca_file(c, probe);
	int rc = base ? buffer_read_file(&b, base, MAX_CA_BUNDLE) : 0;
	if (rc == ERR_NOT_FOUND && !c->ca_file) {
		error_clear();
		rc = 0; /* no system bundle: the extra CAs alone */
	}
	curl_easy_cleanup(probe);
	if (rc) {
		buffer_free(&b);
		return error_wrap(rc, "trusted certificates (SSL_CERT_FILE)");
	}
	if ((rc = buffer_append_str(&b, "\n")) || (rc = buffer_append_str(&b, extra))) {
		buffer_free(&b);
		return rc;
	}
	c->ca_bundle = buffer_detach(&b, &c->ca_bundle_len);
	return 0;
}

int http_tls_setup(struct http_client *c)
{
	int rc;
	if ((rc = dup_opt(&c->ca_file, getenv("SSL_CERT_FILE"))) || (rc = dup_opt(&c->ca_dir, getenv("SSL_CERT_DIR"))) ||
	    (rc = dup_opt(&c->client_cert, c->o.client_cert)) || (rc = dup_opt(&c->client_key, c->o.client_key)))
		return rc;
	c->o.client_cert = c->o.client_key = NULL;
	const char *extra = c->o.extra_ca_pem;
	c->o.extra_ca_pem = NULL;
	if (extra && *extra && !c->o.insecure)
		return build_bundle(c, extra);
	return 0;
}

void http_tls_apply(struct http_client *c, CURL *e)
{
	if (c->o.insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (c->ca_bundle) {
		struct curl_blob blob = {.data = c->ca_bundle, .len = c->ca_bundle_len, .flags = CURL_BLOB_NOCOPY};
		curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
	} else if (c->ca_file) {
		curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
	}
	if (!c->o.insecure && c->ca_dir)
		curl_easy_setopt(e, CURLOPT_CAPATH, c->ca_dir);
	if (c->client_cert) {
		curl_easy_setopt(e, CURLOPT_SSLCERT, c->client_cert);
		curl_easy_setopt(e, CURLOPT_SSLKEY, c->client_key);
	}
}

/* The TLS handshake finished, then the connection died before any answer:
 * what a TLS 1.3 server that requires a client certificate does when its
 * alert is lost to the reset (the client then sees only "connection reset"
 * or "getpeername() failed"). */
static bool closed_after_handshake(CURL *e, CURLcode crc)
{
	curl_off_t handshake_done = 0;
	long status = 0;
	if (crc != CURLE_RECV_ERROR && crc != CURLE_SEND_ERROR && crc != CURLE_GOT_NOTHING)
		return false;
	curl_easy_getinfo(e, CURLINFO_APPCONNECT_TIME_T, &handshake_done);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	return handshake_done > 0 && status == 0;
}

void http_tls_explain(char *out, size_t size, const struct http_client *c, CURL *e, CURLcode crc,
		      const char *detail)
{
	const char *text = detail && *detail ? detail : curl_easy_strerror(crc);
	/* TLS 1.3 servers refuse a missing client certificate after the
	 * handshake, with an alert libcurl reports as a send or receive
	 * failure: only OpenSSL's detail names the reason. */
	bool wants_cert = strstr(text, "certificate required") || strstr(text, "alert handshake failure") ||
			  strstr(text, "alert bad certificate");
	if (wants_cert && !c->client_cert)
		snprintf(out, size, "%s: the server asks for a client certificate (for a registry: client.cert and "
			 "client.key in its certs.d folder, see docs/registry.md)", text);
	else if (wants_cert)
		snprintf(out, size, "%s: the server refused the client certificate %s", text, c->client_cert);
	else if (!c->client_cert && closed_after_handshake(e, crc))
		snprintf(out, size, "%s: the server closed the connection after the TLS handshake without answering, "
			 "as one that requires a client certificate does (for a registry: client.cert and client.key "
			 "in its certs.d folder, see docs/registry.md)", text);
	else
		snprintf(out, size, "%s", text);
}

void http_tls_free(struct http_client *c)
{
	free(c->ca_file);
	free(c->ca_dir);
	free(c->ca_bundle);
	free(c->client_cert);
	free(c->client_key);
}
