/* URL helpers: redaction for messages, percent-encoding, Retry-After and
 * same-origin checks. */
#include "transport/http/http_internal.h"

#include <curl/curl.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/util/secrets.h"

#include "core/util/error.h"

static bool secret_param(const char *name, size_t len)
{
	static const char *const words[] = {"sig", "token", "credential", "key", "secret", "password",
					    "auth", "code", NULL};
	char lower[64];
	if (len >= sizeof(lower))
		len = sizeof(lower) - 1;
	for (size_t i = 0; i < len; i++)
		lower[i] = (char)tolower((unsigned char)name[i]);
	lower[len] = '\0';
	for (size_t i = 0; words[i]; i++)
		if (strstr(lower, words[i]))
			return true;
	return false;
}

/* Appends len bytes to a bounded text, truncating (messages only). */
static void put(char *out, size_t size, size_t *at, const char *s, size_t len)
{
	if (*at + 1 >= size)
		return;
	if (len > size - 1 - *at)
		len = size - 1 - *at;
	memcpy(out + *at, s, len);
	*at += len;
	out[*at] = '\0';
}

/* Writes into out directly: a message about a failure must not itself
 * fail, nor overwrite the error being reported. */
void http_redact_url(char *out, size_t size, const char *url)
{
	size_t at = 0;
	if (size == 0)
		return;
	out[0] = '\0';
	const char *scheme = strstr(url, "://");
	const char *p = url;
	if (scheme) {
		const char *host = scheme + 3;
		const char *atsign = strchr(host, '@'), *slash = strchr(host, '/');
		put(out, size, &at, url, (size_t)(host - url));
		if (atsign && (!slash || atsign < slash)) {
			put(out, size, &at, "***@", 4);
			p = atsign + 1;
		} else {
			p = host;
		}
	}
	const char *q = strchr(p, '?');
	if (!q) {
		put(out, size, &at, p, strlen(p));
		return;
	}
	put(out, size, &at, p, (size_t)(q - p + 1));
	for (const char *param = q + 1; *param;) {
		const char *amp = strchr(param, '&'), *end = amp ? amp : param + strlen(param);
		const char *eq = memchr(param, '=', (size_t)(end - param));
		if (eq && secret_param(param, (size_t)(eq - param))) {
			put(out, size, &at, param, (size_t)(eq - param + 1));
			put(out, size, &at, "***", 3);
		} else {
			put(out, size, &at, param, (size_t)(end - param));
		}
		if (!amp)
			break;
		put(out, size, &at, "&", 1);
		param = amp + 1;
	}
}

int http_escape(struct buffer *out, const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
		bool keep = isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~' || (keep_slash && *p == '/');
		int rc = keep ? buffer_append(out, p, 1) : buffer_append(out, enc, 3);
		if (rc)
			return rc;
	}
	return buffer_append(out, "", 0); /* NUL-terminated even when s is empty */
}

double http_retry_after(const char *value)
{
	char *end;
	while (*value == ' ')
		value++;
	double secs = strtod(value, &end);
	if (end != value && (*end == '\0' || *end == ' ') && secs >= 0)
		return secs;
	time_t when = curl_getdate(value, NULL);
	if (when == -1)
		return -1;
	double d = difftime(when, time(NULL));
	return d < 0 ? 0 : d;
}

bool http_same_origin(const char *url, const char *origin)
{
	size_t n = strlen(origin);
	while (n && origin[n - 1] == '/')
		n--;
	return strncasecmp(url, origin, n) == 0 && (url[n] == '\0' || url[n] == '/' || url[n] == '?' || url[n] == '#');
}

/* Header lines whose values are credentials: what a server that quotes
 * its request back (a proxy's error page) must not get printed. */
static const char *const CREDENTIAL_HEADERS[] = {
	"authorization", "proxy-authorization", "x-amz-security-token", "x-ms-copy-source-authorization", "cookie",
	"x-aws-ec2-metadata-token",
};

void http_remember_credentials(const char *line)
{
	const char *colon = strchr(line, ':');
	if (!colon)
		return;
	size_t name_len = (size_t)(colon - line);
	for (size_t i = 0; i < sizeof(CREDENTIAL_HEADERS) / sizeof(*CREDENTIAL_HEADERS); i++) {
		if (strlen(CREDENTIAL_HEADERS[i]) != name_len || strncasecmp(line, CREDENTIAL_HEADERS[i], name_len) != 0)
			continue;
		const char *value = colon + 1;
		while (*value == ' ')
			value++;
		secret_remember(value);
		/* "Bearer TOKEN", "Basic B64", "AWS4-HMAC-SHA256 ...": the part after the scheme alone too */
		const char *space = strchr(value, ' ');
		if (space)
			secret_remember(space + 1);
		return;
	}
}
