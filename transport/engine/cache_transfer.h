/* Moving caches: read every source, merge them, and write the result to
 * every destination -- blobs first (in parallel, each read once however
 * many destinations want it, re-encoded on the way where asked), then the
 * cache document. */
#ifndef CACHECTL_CACHE_TRANSFER_H
#define CACHECTL_CACHE_TRANSFER_H

#include <stdbool.h>

#include "core/model/cache.h"
#include "core/codec/codec.h"
#include "core/util/progress.h"
#include "transport/engine/config_budget.h"
#include "transport/transport.h"

enum export_mode {
	EXPORT_MODE_ALL, /* cachectl's default: everything the sources hold */
	EXPORT_MODE_MIN,
	EXPORT_MODE_MAX,
};

struct export_settings {
	enum export_mode mode;
	bool compression_set;
	struct codec_options codec;
	bool force_compression;
	bool form_set; /* else the first source's root form is kept */
	struct root_form form;
	bool ignore_error;
	bool stores_no_blobs; /* the destination's handler keeps no blobs (inline) */
	struct config_budget config_budget; /* the 1 MiB guard (local, registry) */
};

/* Reads the export attributes from o: mode, compression, compression-level,
 * force-compression, estargz-lossless (a cachectl extension, only with
 * compression=estargz), ignore-error, and for backends with a root document
 * oci-mediatypes and image-manifest.  Values BuildKit would silently ignore
 * are errors here. */
int export_settings_parse(struct export_settings *out, struct cache_options *o,
			  const struct transport_handler *h);

struct source_set {
	struct cache *merged;
	struct transport **sources;
	size_t n_sources;
	struct strmap origin; /* blob digest -> index of the source that has it */
};

/* Reads each source (one without a cache is a note; none with a cache is
 * ERR_NOT_FOUND) and merges them.  Does not take ownership of sources. */
int source_set_load(struct source_set *out, struct transport **sources, size_t n, struct progress *p);
void source_set_free(struct source_set *s);
int source_set_open_blob(struct source_set *s, const struct descriptor *d, struct byte_source **out);

struct destination {
	struct transport *transport;
	struct export_settings settings;
};

int cache_export(struct source_set *src, struct destination *dests, size_t n, unsigned jobs,
		 struct progress *p, struct progress_totals *totals);

#endif
