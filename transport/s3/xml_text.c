#include "transport/s3/xml_text.h"

#include <stdlib.h>
#include <string.h>

#include "core/util/buffer.h"

/* The start of the element's content after "<name" followed by '>' or
 * attributes; NULL when absent. */
static const char *find_open(const char *xml, const char *end, const char *name, bool *empty)
{
	size_t n = strlen(name);
	for (const char *p = xml; p + n + 1 < end; p++) {
		p = memchr(p, '<', (size_t)(end - p));
		if (!p || p + n + 1 >= end)
			return NULL;
		if (memcmp(p + 1, name, n) != 0)
			continue;
		const char *q = p + 1 + n;
		if (*q != '>' && *q != ' ' && *q != '/' && *q != '\t' && *q != '\n' && *q != '\r')
			continue;
		const char *gt = memchr(q, '>', (size_t)(end - q));
		if (!gt)
			return NULL;
		*empty = gt > q && gt[-1] == '/';
		return gt + 1;
	}
	return NULL;
}

static int append_utf8(struct buffer *b, unsigned long cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (char)(0xF0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	return buffer_append(b, u, n);
}

char *xml_text(const char *xml, size_t len, const char *name)
{
	static const struct {
		const char *entity;
		char c;
	} entities[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
	const char *end = xml + len;
	bool empty = false;
	const char *p = find_open(xml, end, name, &empty);
	struct buffer b = BUFFER_INIT;
	if (!p)
		return NULL;
	if (empty)
		return strdup("");
	const char *close = p;
	size_t n = strlen(name);
	for (;; close++) {
		close = memchr(close, '<', (size_t)(end - close));
		if (!close || close + n + 2 >= end)
			return NULL;
		if (close[1] == '/' && memcmp(close + 2, name, n) == 0 && close[2 + n] == '>')
			break;
	}
	int rc = buffer_append(&b, "", 0);
	for (const char *q = p; q < close && !rc;) {
		if (*q != '&') {
			rc = buffer_append(&b, q++, 1);
			continue;
		}
		const char *semi = memchr(q, ';', (size_t)(close - q));
		bool done = false;
		for (size_t i = 0; semi && i < sizeof(entities) / sizeof(entities[0]) && !done; i++) {
			size_t el = strlen(entities[i].entity);
			if ((size_t)(semi - q + 1) == el && memcmp(q, entities[i].entity, el) == 0) {
				rc = buffer_append(&b, &entities[i].c, 1);
				done = true;
			}
		}
		if (!done && semi && q[1] == '#') {
			char *stop;
			unsigned long cp = q[2] == 'x' ? strtoul(q + 3, &stop, 16) : strtoul(q + 2, &stop, 10);
			if (stop == semi && cp > 0 && cp <= 0x10FFFF) {
				rc = append_utf8(&b, cp);
				done = true;
			}
		}
		if (done) {
			q = semi + 1;
		} else {
			rc = buffer_append(&b, q++, 1); /* a lone '&': kept as it is */
		}
	}
	if (rc) {
		buffer_free(&b);
		return NULL;
	}
	return buffer_detach(&b, NULL);
}

bool xml_root_is(const char *xml, size_t len, const char *name)
{
	const char *end = xml + len, *p = xml;
	size_t n = strlen(name);
	for (;;) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
			p++;
		if (p >= end || *p != '<')
			return false;
		if (p + 1 < end && (p[1] == '?' || p[1] == '!')) {
			const char *gt = memchr(p, '>', (size_t)(end - p));
			if (!gt)
				return false;
			p = gt + 1;
			continue;
		}
		return (size_t)(end - p) > n + 1 && memcmp(p + 1, name, n) == 0 &&
		       (p[1 + n] == '>' || p[1 + n] == ' ' || p[1 + n] == '/' || p[1 + n] == '\n' ||
			p[1 + n] == '\r' || p[1 + n] == '\t');
	}
}
