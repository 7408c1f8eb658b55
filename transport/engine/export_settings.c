/* The export attributes of one destination, read and checked before
 * anything moves. */
#include "transport/engine/export_settings.h"

#include <string.h>

#include "core/util/error.h"

int export_settings_parse(struct export_settings *out, struct cache_options *o,
			  const struct transport_handler *h)
{
	memset(out, 0, sizeof(*out));
	const char *mode = options_get(o, "mode");
	if (mode) {
		if (strcmp(mode, "min") == 0)
			out->mode = EXPORT_MODE_MIN;
		else if (strcmp(mode, "max") == 0)
			out->mode = EXPORT_MODE_MAX;
		else
			return error_set(ERR_USAGE, "mode=\"%s\" is not min or max", mode);
	}
	if (h->stores_no_blobs) {
		/* BuildKit's inline exporter ignores mode: always min. */
		out->stores_no_blobs = true;
		out->mode = EXPORT_MODE_MIN;
	}
	const char *comp = options_get(o, "compression");
	if (comp) {
		if (compression_from_name(&out->codec.compression, comp))
			return ERR_USAGE;
		out->compression_set = true;
	}
	if (options_get_int(o, "compression-level", &out->codec.level_set, &out->codec.level) ||
	    options_get_bool(o, "force-compression", false, 1, &out->force_compression) ||
	    options_get_bool(o, "ignore-error", false, -1, &out->ignore_error))
		return ERR_USAGE;
	if (!out->compression_set && (out->codec.level_set || out->force_compression)) {
		/* BuildKit's default compression is gzip; level and force apply to it. */
		out->codec.compression = COMPRESSION_GZIP;
		out->compression_set = true;
	}
	if (out->codec.level_set && codec_check_level(out->codec.compression, out->codec.level))
		return ERR_USAGE;
	/* cachectl extension: BuildKit's own eStargz layout (docs/estargz.md) */
	if (options_get(o, "estargz-lossless")) {
		if (!out->compression_set || out->codec.compression != COMPRESSION_ESTARGZ)
			return error_set(ERR_USAGE, "estargz-lossless applies only to compression=estargz (compression is %s)",
					 out->compression_set ? compression_name(out->codec.compression) : "not set");
		if (options_get_bool(o, "estargz-lossless", false, -1, &out->codec.estargz_lossless))
			return ERR_USAGE;
	}
	if (h->has_root_form) {
		bool oci, im;
		const char *given = options_get(o, "image-manifest");
		if (options_get_bool(o, "oci-mediatypes", true, -1, &oci) ||
		    options_get_bool(o, "image-manifest", oci, -1, &im))
			return ERR_USAGE;
		if (!oci && given && im)
			return error_set(ERR_USAGE,
					 "image-manifest=true needs oci-mediatypes=true (BuildKit refuses it too)");
		out->form_set = true;
		out->form = (struct root_form){.oci_mediatypes = oci, .image_manifest = im, .convert_layers = true};
	}
	return 0;
}
