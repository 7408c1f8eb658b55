#include "transport/azblob/azblob_names.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/error.h"

/* Go's path.Clean on a path already joined with '/'. */
static int clean(struct buffer *out, const char *path)
{
	bool rooted = path[0] == '/';
	size_t len = strlen(path);
	/* Segment starts of what is written so far, for "..". */
	size_t *starts = calloc(len / 2 + 2, sizeof(*starts));
	CHECK_ALLOC(starts);
	size_t depth = 0, dotdots = 0; /* leading ".." kept in relative paths */
	int rc = rooted ? buffer_append_str(out, "/") : buffer_append(out, "", 0);
	for (const char *p = path; !rc && *p;) {
		while (*p == '/')
			p++;
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.')) {
			/* nothing */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (depth > dotdots) {
				depth--;
				out->len = starts[depth];
				/* drop the separator before the removed segment too */
				if (out->len > (rooted ? 1u : 0u))
					out->len--;
				out->data[out->len] = '\0';
			} else if (!rooted) {
				rc = buffer_append_str(out, out->len ? "/.." : "..");
				starts[depth++] = out->len - 2;
				dotdots = depth;
			}
		} else {
			if (out->len > (rooted ? 1u : 0u))
				rc = buffer_append_str(out, "/");
			starts[depth++] = out->len;
			if (!rc)
				rc = buffer_append(out, p, n);
		}
		p += n;
	}
	if (!rc && out->len == 0)
		rc = buffer_append_str(out, ".");
	free(starts);
	return rc;
}

int azblob_path_join(char **out, const char *const *elems, size_t n)
{
	struct buffer joined = BUFFER_INIT, cleaned = BUFFER_INIT;
	int rc = buffer_append(&joined, "", 0);
	for (size_t i = 0; !rc && i < n; i++) {
		if (!elems[i] || !*elems[i])
			continue;
		if (joined.len)
			rc = buffer_append_str(&joined, "/");
		if (!rc)
			rc = buffer_append_str(&joined, elems[i]);
	}
	if (!rc && joined.len)
		rc = clean(&cleaned, joined.data);
	else if (!rc)
		rc = buffer_append(&cleaned, "", 0);
	buffer_free(&joined);
	if (rc) {
		buffer_free(&cleaned);
		return rc;
	}
	*out = buffer_detach(&cleaned, NULL);
	return *out ? 0 : error_oom();
}

int azblob_escape_name(struct buffer *out, const char *name)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = 0;
	for (const unsigned char *p = (const unsigned char *)name; !rc && *p; p++) {
		if (isalnum(*p) || strchr("-._~$&+:=@", *p)) {
			rc = buffer_append(out, p, 1);
		} else {
			char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			rc = buffer_append(out, enc, 3);
		}
	}
	return rc ? rc : buffer_append(out, "", 0);
}
