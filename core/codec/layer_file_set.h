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

#endif
