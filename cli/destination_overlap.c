#include "cli/destination_overlap.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An s3 location is "s3:ENDPOINT/BUCKET/PREFIX:NAME;NAME..." (s3.c): the
 * place before the last colon, the names after it. */
static bool s3_place(const char *location, size_t *place_len, const char **names)
{
	const char *colon = strrchr(location, ':');
	if (strncmp(location, "s3:", 3) != 0 || !colon)
		return false;
	*place_len = (size_t)(colon - location);
	*names = colon + 1;
	return true;
}

/* The first name of list a (';'-separated) also in list b, into why with
 * the place (its first place_len bytes) they share. */
static bool shared_name(const char *place, size_t place_len, const char *a, const char *b, char *why, size_t cap)
{
	for (const char *p = a; *p;) {
		size_t n = strcspn(p, ";");
		for (const char *q = b; *q;) {
			size_t m = strcspn(q, ";");
			if (n && n == m && strncmp(p, q, n) == 0) {
				snprintf(why, cap, "%.*s, manifest name \"%.*s\": one name per cache", (int)place_len, place,
					 (int)n, p);
				return true;
			}
			q += m + (q[m] == ';');
		}
		p += n + (p[n] == ';');
	}
	return false;
}

static bool s3_overlap(const char *la, const char *lb, char *why, size_t cap)
{
	size_t na, nb;
	const char *names_a, *names_b;
	if (!s3_place(la, &na, &names_a) || !s3_place(lb, &nb, &names_b) || na != nb || strncmp(la, lb, na) != 0)
		return false;
	return shared_name(la, na, names_a, names_b, why, cap);
}

/* A local destination's directory, from its location "local:DIR#TAG". */
static bool local_dir(const char *location, char *dir, size_t cap)
{
	const char *hash = strrchr(location, '#');
	if (strncmp(location, "local:", 6) != 0 || !hash || (size_t)(hash - location - 6) >= cap)
		return false;
	snprintf(dir, cap, "%.*s", (int)(hash - location - 6), location + 6);
	return true;
}

/* The inline layout's directory and the local one resolved on disk: the
 * layout exists (it holds the image), so a local directory that does not
 * yet cannot be it. */
static bool layout_is_local_dir(struct cache_options *inline_spec, const struct transport *local, char *why,
				size_t cap)
{
	const char *layout = options_get(inline_spec, "layout");
	char dir[PATH_MAX], real_layout[PATH_MAX], real_dir[PATH_MAX];
	if (!layout || !*layout || !local_dir(transport_location(local), dir, sizeof(dir)))
		return false;
	if (!realpath(layout, real_layout) || !realpath(dir, real_dir) || strcmp(real_layout, real_dir) != 0)
		return false;
	snprintf(why, cap, "the directory %s: an inline image's layout and a local cache both rewrite its "
			   "index.json; give the cache a directory of its own", layout);
	return true;
}

static bool is_type(struct cache_options *s, const char *type)
{
	return s->type && strcmp(s->type, type) == 0;
}

bool destinations_overlap(const struct transport *a, struct cache_options *sa, const struct transport *b,
			  struct cache_options *sb, char *why, size_t cap)
{
	const char *la = transport_location(a), *lb = transport_location(b);
	if (strcmp(la, lb) == 0) {
		snprintf(why, cap, "%s", b->display);
		return true;
	}
	if (s3_overlap(la, lb, why, cap))
		return true;
	if (is_type(sa, "inline") && is_type(sb, "local"))
		return layout_is_local_dir(sa, b, why, cap);
	if (is_type(sb, "inline") && is_type(sa, "local"))
		return layout_is_local_dir(sb, a, why, cap);
	return false;
}
