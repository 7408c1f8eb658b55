/* URL helpers: redaction for messages, percent-encoding, Retry-After and
 * same-origin checks. */
#include "transport/http/http.h"

#include <curl/curl.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

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

void http_redact_url(char *out, size_t size, const char *url)
{
	struct buffer b = BUFFER_INIT;
	const char *scheme = strstr(url, "://");
	const char *p = url;
	if (scheme) {
		const char *host = scheme + 3;
		const char *at = strchr(host, '@'), *slash = strchr(host, '/');
		buffer_append(&b, url, (size_t)(host - url));
		if (at && (!slash || at < slash)) {
			buffer_append_str(&b, "***@");
			p = at + 1;
		} else {
			p = host;
		}
	}
	const char *q = strchr(p, '?');
	if (!q) {
		buffer_append_str(&b, p);
	} else {
		buffer_append(&b, p, (size_t)(q - p + 1));
		for (const char *param = q + 1; *param;) {
			const char *amp = strchr(param, '&'), *end = amp ? amp : param + strlen(param);
			const char *eq = memchr(param, '=', (size_t)(end - param));
			if (eq && secret_param(param, (size_t)(eq - param))) {
				buffer_append(&b, param, (size_t)(eq - param + 1));
				buffer_append_str(&b, "***");
			} else {
				buffer_append(&b, param, (size_t)(end - param));
			}
			if (!amp)
				break;
			buffer_append_str(&b, "&");
			param = amp + 1;
		}
	}
	snprintf(out, size, "%s", b.data ? b.data : "");
	buffer_free(&b);
}

int http_escape(struct buffer *out, const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~' || (keep_slash && *p == '/')) {
			if (buffer_append(out, p, 1))
				return ERR_FAILURE;
		} else {
			char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			if (buffer_append(out, enc, 3))
				return ERR_FAILURE;
		}
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
