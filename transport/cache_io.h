/* Reading and writing the cache document of content-addressed stores
 * (local, registry): a config blob plus a root document listing the layer
 * blobs.  Backends use these around their own blob calls. */
#ifndef CACHECTL_CACHE_IO_H
#define CACHECTL_CACHE_IO_H

#include "core/util/buffer.h"
#include "core/model/cache.h"
#include "transport/transport.h"

/* Reads a whole blob of at most max bytes, checking digest and size. */
int transport_read_small_blob(struct transport *t, const struct descriptor *d, size_t max,
			      struct buffer *out);
/* Stores bytes as a blob unless the store has it already. */
int transport_write_small_blob(struct transport *t, struct descriptor *d, const char *media_type,
			       const void *bytes, size_t len);

/* Builds the cache a root document describes: its config blob is read
 * through t, results whose blobs the root does not list are dropped (with a
 * note, as BuildKit drops them silently). */
int cache_load_from_root(struct cache **out, struct transport *t, const struct descriptor *root_desc,
			 const char *root_bytes, size_t root_len);

/* Writes the config blob and returns the root document for c. */
int cache_store_config_and_root(struct transport *t, const struct cache *c, const struct root_form *form,
				struct buffer *root, struct descriptor *root_desc);

#endif
