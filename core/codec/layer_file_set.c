#include "core/codec/layer_file_set.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/error.h"
#include "core/util/strmap.h"

struct held_file {
	struct layer_file f; /* strings owned */
	int layer;
	bool gone;           /* removed by a later whiteout or opaque marker */
};

struct layer_file_set {
	struct held_file *items;
	size_t n, cap, present;
	struct strmap by_path; /* path -> position in items (gone ones too, until replaced) */
};

int layer_file_set_new(struct layer_file_set **out)
{
	*out = calloc(1, sizeof(**out));
	CHECK_ALLOC(*out);
	return 0;
}

static void held_clear(struct held_file *h)
{
	free((char *)h->f.name);
	free((char *)h->f.path);
	free((char *)h->f.link);
}

void layer_file_set_free(struct layer_file_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		held_clear(&s->items[i]);
	free(s->items);
	strmap_free(&s->by_path);
	free(s);
}

static int copy_file(struct held_file *h, const struct layer_file *f, int layer)
{
	memset(h, 0, sizeof(*h));
	h->f = *f;
	h->layer = layer;
	h->f.name = strdup(f->name);
	h->f.path = strdup(f->path);
	h->f.link = strdup(f->link);
	if (!h->f.name || !h->f.path || !h->f.link) {
		held_clear(h);
		return error_oom();
	}
	return 0;
}

/* Puts f at its path: over the entry already there, or as a new one. */
static int put(struct layer_file_set *s, const struct layer_file *f, int layer)
{
	size_t at;
	struct held_file h;
	int rc = copy_file(&h, f, layer);
	if (rc)
		return rc;
	if (strmap_get(&s->by_path, f->path, &at)) {
		s->present += s->items[at].gone;
		held_clear(&s->items[at]);
		s->items[at] = h;
		return 0;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		struct held_file *p = realloc(s->items, cap * sizeof(*p));
		if (!p) {
			held_clear(&h);
			return error_oom();
		}
		s->items = p;
		s->cap = cap;
	}
	if ((rc = strmap_put(&s->by_path, f->path, s->n))) {
		held_clear(&h);
		return rc;
	}
	s->items[s->n++] = h;
	s->present++;
	return 0;
}

int layer_file_set_add(struct layer_file_set *s, const struct layer_file *f, int layer)
{
	return put(s, f, layer);
}

static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	if (!n)
		return *path != '\0';
	return strncmp(path, dir, n) == 0 && path[n] == '/';
}

/* Marks gone what lower layers have under dir (and dir itself when asked). */
static void remove_lower(struct layer_file_set *s, const char *dir, bool itself, int layer)
{
	for (size_t i = 0; i < s->n; i++) {
		struct held_file *h = &s->items[i];
		if (h->gone || h->layer >= layer)
			continue;
		if (under(h->f.path, dir) || (itself && strcmp(h->f.path, dir) == 0)) {
			h->gone = true;
			s->present--;
		}
	}
}

int layer_file_set_stack(struct layer_file_set *s, const struct layer_file *f, int layer)
{
	if (f->kind == LAYER_FILE_WHITEOUT) {
		remove_lower(s, f->path, true, layer);
		return 0;
	}
	if (f->kind == LAYER_FILE_OPAQUE) {
		remove_lower(s, f->path, false, layer);
		return 0;
	}
	return put(s, f, layer);
}

size_t layer_file_set_count(const struct layer_file_set *s)
{
	return s->n;
}

const struct layer_file *layer_file_set_at(const struct layer_file_set *s, size_t i, int *layer)
{
	if (s->items[i].gone)
		return NULL;
	if (layer)
		*layer = s->items[i].layer;
	return &s->items[i].f;
}

const struct layer_file *layer_file_set_find(const struct layer_file_set *s, const char *path)
{
	size_t at;
	if (!strmap_get(&s->by_path, path, &at) || s->items[at].gone)
		return NULL;
	return &s->items[at].f;
}

const char *file_field_name(enum file_field f)
{
	switch (f) {
	case FILE_FIELD_KIND:
		return "type";
	case FILE_FIELD_SIZE:
		return "size";
	case FILE_FIELD_CONTENT:
		return "content";
	case FILE_FIELD_MODE:
		return "mode";
	case FILE_FIELD_OWNER:
		return "owner";
	case FILE_FIELD_LINK:
		return "link";
	default:
		return "mtime";
	}
}

static unsigned differing_fields(const struct layer_file *a, const struct layer_file *b)
{
	unsigned d = 0;
	if (a->kind != b->kind)
		d |= FILE_FIELD_KIND;
	if (a->size != b->size)
		d |= FILE_FIELD_SIZE;
	if (*a->content && *b->content && strcmp(a->content, b->content) != 0)
		d |= FILE_FIELD_CONTENT;
	if (a->mode != b->mode)
		d |= FILE_FIELD_MODE;
	if (a->uid != b->uid || a->gid != b->gid)
		d |= FILE_FIELD_OWNER;
	if (strcmp(a->link, b->link) != 0)
		d |= FILE_FIELD_LINK;
	if (a->mtime != b->mtime)
		d |= FILE_FIELD_MTIME;
	return d;
}

int layer_file_set_compare(const struct layer_file_set *a, const struct layer_file_set *b, file_change_fn fn,
			   void *ctx)
{
	int rc = 0;
	for (size_t i = 0; i < b->n && !rc; i++) {
		const struct layer_file *fb = layer_file_set_at(b, i, NULL);
		const struct layer_file *fa = fb ? layer_file_set_find(a, fb->path) : NULL;
		unsigned fields = fa ? differing_fields(fa, fb) : 0;
		if (fb && !fa)
			rc = fn(ctx, FILE_ADDED, 0, NULL, fb);
		else if (fb && fields)
			rc = fn(ctx, FILE_CHANGED, fields, fa, fb);
	}
	for (size_t i = 0; i < a->n && !rc; i++) {
		const struct layer_file *fa = layer_file_set_at(a, i, NULL);
		if (fa && !layer_file_set_find(b, fa->path))
			rc = fn(ctx, FILE_REMOVED, 0, fa, NULL);
	}
	return rc;
}
