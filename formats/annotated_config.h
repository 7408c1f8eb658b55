/* The cache document of the key/value backends (s3; gha and azblob store the
 * same bytes): the cache config itself, every layers[] node carrying
 * {mediaType, diffID, size, createdAt} -- the only place those stores keep
 * what an OCI root says about each blob. */
#ifndef CACHECTL_ANNOTATED_CONFIG_H
#define CACHECTL_ANNOTATED_CONFIG_H

#include <stddef.h>

#include "core/buffer.h"
#include "core/cache.h"

/* Reads a document as BuildKit's importer does: exactly one JSON value
 * ("unexpected data after JSON object" otherwise), every layer with
 * annotations and a diffID.  The blob table is built from the annotations
 * (a zero createdAt means unknown: no buildkit/createdat); the config is
 * then normalised, results naming undescribed blobs counted in *dropped. */
int annotated_config_read(struct cache **out, const char *json, size_t len, size_t *dropped);

/* Writes c (normalised) with each node annotated from the blob table:
 * mediaType as the table has it (so an unchanged BuildKit v0.23.2 document
 * comes out byte for byte), diffID (required), size, createdAt in UTC (the
 * zero time when unknown).  Compact, no trailing newline. */
int annotated_config_write(struct buffer *out, const struct cache *c);

#endif
