/* A base URL taken apart (libcurl's URL parser) into what request signing
 * and addressing need: scheme, host, the Host header value, the path. */
#ifndef CACHECTL_URL_PARTS_H
#define CACHECTL_URL_PARTS_H

#include "core/util/error.h"

#include <stdbool.h>

struct url_parts {
	char *scheme;    /* "http" or "https" */
	char *host;      /* without port; IPv6 in brackets */
	int port;        /* explicit or the scheme's default */
	char *authority; /* host, plus ":port" unless it is the default: the Host header */
	char *path;      /* without a trailing '/'; "" for the root */
	bool host_is_ip; /* an IPv4 or IPv6 literal */
};

/* ERR_USAGE naming `what` when url is not an absolute http(s) URL, or has
 * a query, a fragment or credentials. */
CACHECTL_MUST_CHECK int url_parts_parse(struct url_parts *out, const char *url, const char *what);
void url_parts_free(struct url_parts *u);

#endif
