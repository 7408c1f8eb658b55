/* Reading the files of layers through a cache's transport: only the blobs
 * asked for are opened, so a registry or s3 cache downloads nothing else. */
#ifndef CACHECTL_LAYER_READ_H
#define CACHECTL_LAYER_READ_H

#include "cli/cli.h"
#include "core/codec/layer_file_set.h"
#include "core/codec/layer_files.h"

/* The layer blob a command-line LAYER names: a full digest, or a prefix of
 * its hex (with or without "sha256:") that only one layer of the cache has.
 * ERR_NOT_FOUND when none has it, ERR_USAGE when several do. */
int layer_resolve(const struct descriptor **out, const struct single_source *s, const char *arg);

/* Walks the files of blob d of the source (see layer_files_walk). */
int layer_read_files(struct source_set *set, const struct descriptor *d, bool hash_content, layer_file_fn fn,
		     void *ctx);

/* Collects one layer's own entries (whiteouts included) into *out (new). */
int layer_read_set(struct layer_file_set **out, struct source_set *set, const struct descriptor *d,
		   bool hash_content);

/* Prints a path or link target from a tar escaped (printable_fputs: \n,
 * \x1b, bytes that are not UTF-8 as \xHH): a name cannot move the cursor
 * or start a line of its own. */
void print_tar_name(const char *s);

#endif
