/* How one destination wants the cache exported: mode, compression, the
 * root document's form, and whether a failure there stops the export. */
#ifndef CACHECTL_EXPORT_SETTINGS_H
#define CACHECTL_EXPORT_SETTINGS_H

#include <stdbool.h>

#include "core/codec/codec.h"
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
};

/* Reads the export attributes from o: mode, compression, compression-level,
 * force-compression, estargz-lossless (a cachectl extension, only with
 * compression=estargz), ignore-error, and for backends with a root document
 * oci-mediatypes and image-manifest.  Values BuildKit would silently ignore
 * are errors here. */
int export_settings_parse(struct export_settings *out, struct cache_options *o,
			  const struct transport_handler *h);

#endif
