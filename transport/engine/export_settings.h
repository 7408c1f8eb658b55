/* How one destination wants the cache exported: mode, compression, the
 * root document's form, and whether a failure there stops the export --
 * and the one call that opens a destination with them. */
#ifndef CACHECTL_EXPORT_SETTINGS_H
#define CACHECTL_EXPORT_SETTINGS_H

#include <stdbool.h>

#include "core/codec/codec.h"
#include "core/util/export_result.h"
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
	bool stores_no_blobs; /* the destination keeps no blobs (inline) */
	struct config_budget config_budget; /* the 1 MiB guard (local, registry) */
};

/* The keys every destination takes: mode, ignore-error, compression,
 * compression-level, force-compression, estargz-lossless. */
extern const struct option_key export_option_keys[];

/* The keys of a backend that stores a root document (local, registry), for
 * its key table; its handler's export_settings is then
 * export_settings_read_root_form. */
#define ROOT_FORM_OPTION_KEYS                                     \
	{.name = "oci-mediatypes", .directions = OPTION_DESTINATION},     \
	{.name = "image-manifest", .directions = OPTION_DESTINATION},     \
	{.name = "max-config-size", .directions = OPTION_DESTINATION},    \
	{.name = "allow-large-config", .directions = OPTION_DESTINATION}

/* Reads oci-mediatypes and image-manifest (BuildKit's defaults and rule),
 * and the 1 MiB guard's max-config-size and allow-large-config
 * (config_budget.h): BuildKit's local and registry importers have the limit. */
int export_settings_read_root_form(struct export_settings *s, struct cache_options *o);

/* Reads the keys every export takes from o, then lets the handler h add
 * what its type decides.  Values BuildKit would silently ignore, and
 * combinations that cannot be applied, are errors here. */
int export_settings_parse(struct export_settings *out, struct cache_options *o,
			  const struct transport_handler *h);

/* One destination of an export: its backend and what it asks for. */
struct destination {
	struct transport *transport;
	struct export_settings settings;
	/* What it got: the caller names it (destination, type, place, tag),
	 * cache_export fills the rest and reports it (progress_result). */
	struct export_result result;
};

/* Opens the destination o names: its type and every key checked, its
 * export settings read, its backend opened -- nothing sent anywhere. */
int destination_open(struct destination *out, struct cache_options *o, struct progress *progress);

#endif
