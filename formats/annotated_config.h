/* The document s3, gha and azblob store in place of a root: the cache
 * config with an `annotations` object in every layers[] node (mediaType,
 * diffID, size, createdAt) that says what a root's descriptors would. */
#ifndef CACHECTL_ANNOTATED_CONFIG_H
#define CACHECTL_ANNOTATED_CONFIG_H

#include "core/util/error.h"

#include "core/util/buffer.h"
#include "core/model/cache.h"

/* Serialises c's config with each node's annotations taken from the blob
 * table (createdAt in UTC; the zero time when unknown), byte for byte as
 * BuildKit writes it.  Fails naming a blob without a diffID. */
CACHECTL_MUST_CHECK int annotated_config_build(struct buffer *out, const struct cache *c);

/* Reads such a document into a cache whose blob table comes from the
 * annotations.  As BuildKit's importer, fails on a node without annotations
 * or diffID; `what` names the document in messages. */
CACHECTL_MUST_CHECK int annotated_config_load(struct cache **out, const char *bytes, size_t len, const char *what);

#endif
