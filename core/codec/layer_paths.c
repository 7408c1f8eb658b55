#include "core/codec/layer_paths.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/error.h"

int layer_path_clean(char **out, bool *escapes, const char *name)
{
	size_t n = strlen(name);
	char *clean = malloc(n + 1);
	CHECK_ALLOC(clean);
	size_t len = 0;
	*escapes = false;
	for (const char *p = name; *p;) {
		const char *end = strchr(p, '/');
		size_t part = end ? (size_t)(end - p) : strlen(p);
		if (part == 2 && p[0] == '.' && p[1] == '.') {
			if (len == 0)
				*escapes = true;
			while (len > 0 && clean[len - 1] != '/')
				len--;
			if (len > 0)
				len--; /* the separator before the dropped part */
		} else if (part && !(part == 1 && p[0] == '.')) {
			if (len)
				clean[len++] = '/';
			memcpy(clean + len, p, part);
			len += part;
		}
		p += part;
		if (*p == '/')
			p++;
	}
	clean[len] = '\0';
	*out = clean;
	return 0;
}

/* The cleaned form of a path that must stay inside the root; `subject`
 * says whose path it is in the message. */
static int inside_root(char **out, const char *path, const char *subject, const char *what)
{
	bool escapes;
	if (!*path)
		return error_set(ERR_CORRUPT, "%s: %s is empty", what, subject);
	if (path[0] == '/')
		return error_set(ERR_CORRUPT, "%s: %s is an absolute path", what, subject);
	int rc = layer_path_clean(out, &escapes, path);
	if (rc)
		return rc;
	if (escapes) {
		free(*out);
		*out = NULL;
		return error_set(ERR_CORRUPT, "%s: %s leads outside the layer root", what, subject);
	}
	return 0;
}

int layer_paths_check(struct layer_paths *p, const char *name, const char *hardlink_target, const char *what)
{
	char *clean = NULL, *target = NULL, subject[320];
	size_t dummy;
	snprintf(subject, sizeof(subject), "entry \"%.256s\"", name);
	int rc = inside_root(&clean, name, subject, what);
	if (rc)
		return rc;
	if (strmap_get(&p->seen, clean, &dummy)) {
		rc = error_set(ERR_CORRUPT, "%s: entry \"%s\" appears twice in the layer", what, name);
		goto out;
	}
	if (hardlink_target) {
		snprintf(subject, sizeof(subject), "the target \"%.128s\" of hardlink \"%.128s\"", hardlink_target,
			 name);
		if ((rc = inside_root(&target, hardlink_target, subject, what)))
			goto out;
		if (!strmap_get(&p->seen, target, &dummy)) {
			rc = error_set(ERR_CORRUPT,
				       "%s: hardlink \"%s\" points to \"%s\", which is not an earlier entry of the layer",
				       what, name, hardlink_target);
			goto out;
		}
	}
	rc = strmap_put(&p->seen, clean, 0);
out:
	free(clean);
	free(target);
	return rc;
}

void layer_paths_free(struct layer_paths *p)
{
	strmap_free(&p->seen);
}
