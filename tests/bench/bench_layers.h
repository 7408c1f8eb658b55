/* bench_export's inputs (bench_layers.c): generated layers and the local
 * caches that hold them. */
#ifndef CACHECTL_BENCH_LAYERS_H
#define CACHECTL_BENCH_LAYERS_H

#include "bench_util.h"

struct layer {
	int size_mib;       /* requested size */
	int small_files;    /* > 0: that many files of 64 B..8 KiB instead of size_mib */
	uint64_t seed;      /* of its content: layers of one size still differ */
	char *tar_path;     /* the uncompressed tar (for the tools) */
	char *blob_path;    /* the gzip blob inside its layout */
	char diff_id[DIGEST_BUF];
	char digest[DIGEST_BUF];
	int64_t tar_size, blob_size, random_bytes;
	char *layout;       /* the cache holding only this layer */
};

/* Writes the layer's tar to l->tar_path and its gzip blob to blob_tmp,
 * filling sizes and digests; random_percent of the bytes are random. */
void layer_generate(struct layer *l, const char *blob_tmp, int random_percent);
/* One base layer per record, one record per layer; the image-manifest root
 * form BuildKit writes by default, tagged "latest".  The layer blobs must
 * already be in dir/blobs/sha256. */
void layout_write(const char *dir, struct layer **given, size_t n);
/* An empty layout scratch/name (returned, owned by the caller). */
char *layout_create(const char *scratch, const char *name);

#endif
