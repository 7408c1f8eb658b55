/* The files of one layer, or of a chain of layers stacked as an overlay
 * filesystem stacks them, held by path: what `files --top` ranks and what
 * `diff` compares.  It costs memory per entry (its path and a few numbers),
 * never per byte of data. */
#ifndef CACHECTL_LAYER_FILE_SET_H
#define CACHECTL_LAYER_FILE_SET_H

#include <stddef.h>

#include "core/codec/layer_files.h"

struct layer_file_set;

int layer_file_set_new(struct layer_file_set **out);
void layer_file_set_free(struct layer_file_set *s);

/* Records f as it is (whiteouts and opaque markers included), replacing an
 * earlier entry of the same path: one layer's own listing. */
int layer_file_set_add(struct layer_file_set *s, const struct layer_file *f, int layer);

/* Stacks f on what the set holds, as the overlay of layer `layer` on the
 * lower ones: a file replaces its path, a whiteout removes the path and
 * everything under it, an opaque marker removes everything under its
 * directory that lower layers put there.  Markers are not kept. */
int layer_file_set_stack(struct layer_file_set *s, const struct layer_file *f, int layer);

/* Positions 0 .. count-1 in the order paths were first added; _at gives
 * NULL for a path since removed, and *layer (may be NULL) the layer the
 * entry came from. */
size_t layer_file_set_count(const struct layer_file_set *s);
const struct layer_file *layer_file_set_at(const struct layer_file_set *s, size_t i, int *layer);
/* The entry for a path, or NULL. */
const struct layer_file *layer_file_set_find(const struct layer_file_set *s, const char *path);

/* How an entry of b differs from the entry of a at the same path. */
enum file_change { FILE_ADDED, FILE_REMOVED, FILE_CHANGED };
enum file_field {
	FILE_FIELD_KIND = 1 << 0,
	FILE_FIELD_SIZE = 1 << 1,
	FILE_FIELD_CONTENT = 1 << 2, /* both hashed and the digests differ */
	FILE_FIELD_MODE = 1 << 3,
	FILE_FIELD_OWNER = 1 << 4,
	FILE_FIELD_LINK = 1 << 5,
	FILE_FIELD_MTIME = 1 << 6,
};
/* "type", "size", "content", "mode", "owner", "link", "mtime" for one field. */
const char *file_field_name(enum file_field f);

/* Called per difference: a is NULL for FILE_ADDED, b for FILE_REMOVED;
 * fields is the set of enum file_field that differ for FILE_CHANGED. */
typedef int (*file_change_fn)(void *ctx, enum file_change c, unsigned fields, const struct layer_file *a,
			      const struct layer_file *b);

/* Reports what b adds, changes and lacks against a: b's entries in b's
 * order, then a's entries b lacks in a's order.  Entries equal in every
 * field are not reported. */
int layer_file_set_compare(const struct layer_file_set *a, const struct layer_file_set *b, file_change_fn fn,
			   void *ctx);

#endif
