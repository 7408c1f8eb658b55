/* Reading a cache that an image carries inline (type=inline's output, or
 * an image BuildKit built with --export-cache type=inline): the cache
 * records in the image configs of every platform, merged. */
#ifndef CACHECTL_INLINE_IMPORT_H
#define CACHECTL_INLINE_IMPORT_H

#include <stddef.h>

#include "core/model/cache.h"
#include "core/model/descriptor.h"
#include "transport/transport.h"

/* t is a registry repository (registry_open_ref) and bytes the manifest
 * or index desc names.  ERR_NOT_FOUND when no image in it carries a cache. */
int inline_import_read(struct transport *t, const struct descriptor *desc, const char *bytes, size_t len,
		       struct cache **out);

#endif
