#include "transport/s3/url_parts.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/error.h"

void url_parts_free(struct url_parts *u)
{
	free(u->scheme);
	free(u->host);
	free(u->authority);
	free(u->path);
	memset(u, 0, sizeof(*u));
}

static bool is_ip_literal(const char *host)
{
	unsigned char addr[16];
	if (host[0] == '[')
		return true;
	return inet_pton(AF_INET, host, addr) == 1;
}

int url_parts_parse(struct url_parts *out, const char *url, const char *what)
{
	CURLU *h = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL, *user = NULL, *frag = NULL;
	int rc = 0;
	memset(out, 0, sizeof(*out));
	CHECK_ALLOC(h);
	if (curl_url_set(h, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
		rc = error_set(ERR_USAGE, "%s \"%s\" is not a URL", what, url);
		goto out;
	}
	if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
		rc = error_set(ERR_USAGE, "%s \"%s\" is not an http or https URL", what, url);
		goto out;
	}
	if (curl_url_get(h, CURLUPART_QUERY, &query, 0) == CURLUE_OK ||
	    curl_url_get(h, CURLUPART_FRAGMENT, &frag, 0) == CURLUE_OK ||
	    curl_url_get(h, CURLUPART_USER, &user, 0) == CURLUE_OK) {
		rc = error_set(ERR_USAGE, "%s must be a base URL without credentials, query or fragment", what);
		goto out;
	}
	int dflt = strcmp(scheme, "https") == 0 ? 443 : 80;
	out->port = dflt;
	if (curl_url_get(h, CURLUPART_PORT, &port, 0) == CURLUE_OK)
		out->port = atoi(port);
	size_t plen = strlen(path);
	while (plen && path[plen - 1] == '/')
		path[--plen] = '\0';
	char authority[512];
	if (out->port == dflt)
		snprintf(authority, sizeof(authority), "%s", host);
	else
		snprintf(authority, sizeof(authority), "%s:%d", host, out->port);
	out->scheme = strdup(scheme);
	out->host = strdup(host);
	out->authority = strdup(authority);
	out->path = strdup(path);
	out->host_is_ip = is_ip_literal(host);
	if (!out->scheme || !out->host || !out->authority || !out->path) {
		url_parts_free(out);
		rc = error_oom();
	}
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_free(query);
	curl_free(user);
	curl_free(frag);
	curl_url_cleanup(h);
	return rc;
}
