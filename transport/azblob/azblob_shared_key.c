#include "transport/azblob/azblob_shared_key.h"

#include <ctype.h>
#include <stdbool.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/util/base64.h"
#include "core/util/error.h"

/* The value of header `name` in the lines, or "" (leading blanks dropped). */
static const char *header_value(const char *const *headers, const char *name, size_t *len)
{
	size_t n = strlen(name);
	for (const char *const *h = headers; h && *h; h++) {
		if (strncasecmp(*h, name, n) == 0 && (*h)[n] == ':') {
			const char *v = *h + n + 1;
			while (*v == ' ')
				v++;
			*len = strlen(v);
			return v;
		}
	}
	*len = 0;
	return "";
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "x-ms-name:value" lines for every x-ms-* header, names lower-cased,
 * sorted by name. */
static int canonical_headers(struct buffer *out, const char *const *headers)
{
	size_t n = 0;
	for (const char *const *h = headers; h && *h; h++)
		n++;
	char **lines = calloc(n + 1, sizeof(*lines));
	CHECK_ALLOC(lines);
	size_t k = 0;
	int rc = 0;
	for (const char *const *h = headers; !rc && h && *h; h++) {
		const char *colon = strchr(*h, ':');
		if (!colon || strncasecmp(*h, "x-ms-", 5) != 0)
			continue;
		const char *v = colon + 1;
		while (*v == ' ')
			v++;
		size_t name_len = (size_t)(colon - *h), vlen = strlen(v);
		while (vlen && v[vlen - 1] == ' ')
			vlen--;
		char *line = malloc(name_len + vlen + 2);
		if (!line) {
			rc = error_oom();
			break;
		}
		for (size_t i = 0; i < name_len; i++)
			line[i] = (char)tolower((unsigned char)(*h)[i]);
		line[name_len] = ':';
		memcpy(line + name_len + 1, v, vlen);
		line[name_len + 1 + vlen] = '\0';
		lines[k++] = line;
	}
	if (!rc) {
		qsort(lines, k, sizeof(*lines), cmp_str);
		for (size_t i = 0; !rc && i < k; i++)
			rc = buffer_appendf(out, "%s\n", lines[i]);
	}
	for (size_t i = 0; i < k; i++)
		free(lines[i]);
	free(lines);
	return rc;
}

static int hexval(char c)
{
	return isdigit((unsigned char)c) ? c - '0' : (tolower((unsigned char)c) - 'a' + 10);
}

/* A query component decoded ('+' is a space, %XX a byte). */
static char *query_decode(const char *s, size_t len)
{
	char *out = malloc(len + 1), *o = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len && isxdigit((unsigned char)s[i + 1]) &&
		    isxdigit((unsigned char)s[i + 2])) {
			*o++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else {
			*o++ = s[i] == '+' ? ' ' : s[i];
		}
	}
	*o = '\0';
	return out;
}

struct param {
	char *name, *value;
};

static int cmp_param(const void *a, const void *b)
{
	const struct param *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->value, y->value);
}

/* "\nname:v1,v2" per query parameter, names lower-cased and sorted,
 * values decoded and sorted. */
static int canonical_query(struct buffer *out, const char *query)
{
	size_t n = 1;
	for (const char *p = query; *p; p++)
		n += *p == '&';
	struct param *ps = calloc(n, sizeof(*ps));
	CHECK_ALLOC(ps);
	size_t k = 0;
	int rc = 0;
	for (const char *p = query; !rc && *p;) {
		const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(end - p));
		if (end > p) {
			ps[k].name = query_decode(p, (size_t)((eq ? eq : end) - p));
			ps[k].value = eq ? query_decode(eq + 1, (size_t)(end - eq - 1)) : strdup("");
			if (!ps[k].name || !ps[k].value)
				rc = error_oom();
			for (char *c = ps[k].name; c && *c; c++)
				*c = (char)tolower((unsigned char)*c);
			k++;
		}
		p = amp ? amp + 1 : end;
	}
	if (!rc)
		qsort(ps, k, sizeof(*ps), cmp_param);
	for (size_t i = 0; !rc && i < k; i++) {
		bool same = i > 0 && strcmp(ps[i - 1].name, ps[i].name) == 0;
		rc = same ? buffer_appendf(out, ",%s", ps[i].value) : buffer_appendf(out, "\n%s:%s", ps[i].name, ps[i].value);
	}
	for (size_t i = 0; i < k; i++) {
		free(ps[i].name);
		free(ps[i].value);
	}
	free(ps);
	return rc;
}

int azblob_string_to_sign(struct buffer *out, const struct azblob_signing *s, const char *account)
{
	static const char *const standard[] = {"Content-Encoding", "Content-Language", NULL, "Content-MD5",
					       "Content-Type", "Date", "If-Modified-Since", "If-Match",
					       "If-None-Match", "If-Unmodified-Since", "Range"};
	buffer_reset(out);
	int rc = buffer_appendf(out, "%s\n", s->method);
	for (size_t i = 0; !rc && i < sizeof(standard) / sizeof(*standard); i++) {
		size_t len;
		if (!standard[i]) { /* Content-Length: empty when zero */
			rc = s->content_length > 0 ? buffer_appendf(out, "%lld\n", (long long)s->content_length)
						   : buffer_append_str(out, "\n");
			continue;
		}
		const char *v = header_value(s->headers, standard[i], &len);
		if (!(rc = buffer_append(out, v, len)))
			rc = buffer_append_str(out, "\n");
	}
	if (!rc)
		rc = canonical_headers(out, s->headers);
	if (!rc)
		rc = buffer_appendf(out, "/%s%s", account, s->path && *s->path ? s->path : "/");
	if (!rc && s->query && *s->query)
		rc = canonical_query(out, s->query);
	return rc;
}

int azblob_shared_key_header(struct buffer *out, const struct azblob_signing *s, const char *account,
			     const unsigned char *key, size_t key_len)
{
	struct buffer sts = BUFFER_INIT;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	int rc = azblob_string_to_sign(&sts, s, account);
	if (!rc && !HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)sts.data, sts.len, mac, &mac_len))
		rc = error_set(ERR_FAILURE, "Shared Key: HMAC-SHA256 failed");
	buffer_free(&sts);
	if (rc)
		return rc;
	buffer_reset(out);
	rc = buffer_appendf(out, "Authorization: SharedKey %s:", account);
	if (!rc)
		rc = base64_std_encode(out, mac, mac_len);
	return rc;
}
