#include "transport/engine/export_settings.h"

#include <stdio.h>
#include <string.h>

#include "core/util/error.h"
#include "core/util/printable.h"

const struct option_key export_option_keys[] = {
	{.name = "mode", .directions = OPTION_DESTINATION},
	{.name = "ignore-error", .directions = OPTION_DESTINATION},
	{.name = "compression", .directions = OPTION_DESTINATION},
	{.name = "compression-level", .directions = OPTION_DESTINATION},
	{.name = "force-compression", .directions = OPTION_DESTINATION},
	{.name = "estargz-lossless", .directions = OPTION_DESTINATION}, /* cachectl's, docs/estargz.md */
	{.name = NULL},
};

static int read_mode(struct export_settings *out, struct cache_options *o)
{
	const char *mode = options_get(o, "mode");
	if (!mode)
		return 0;
	if (strcmp(mode, "min") == 0)
		out->mode = EXPORT_MODE_MIN;
	else if (strcmp(mode, "max") == 0)
		out->mode = EXPORT_MODE_MAX;
	else {
		char shown[64];
		return error_set(ERR_USAGE, "mode=\"%s\" is not min or max", printable(shown, sizeof(shown), mode, 0));
	}
	return 0;
}

static int read_compression(struct export_settings *out, struct cache_options *o)
{
	const char *comp = options_get(o, "compression");
	if (comp) {
		char shown[64];
		if (compression_from_name(&out->codec.compression, comp))
			return error_set(ERR_USAGE, "compression=\"%s\" is not uncompressed, gzip, zstd or estargz",
					 printable(shown, sizeof(shown), comp, 0));
		out->compression_set = true;
	}
	int rc = options_get_int(o, "compression-level", &out->codec.level_set, &out->codec.level);
	if (!rc)
		rc = options_get_bool(o, "force-compression", false, 1, &out->force_compression);
	if (rc)
		return rc;
	if (!out->compression_set && (out->codec.level_set || out->force_compression)) {
		/* BuildKit's default compression is gzip; level and force apply to it. */
		out->codec.compression = COMPRESSION_GZIP;
		out->compression_set = true;
	}
	if (out->codec.level_set && out->codec.compression == COMPRESSION_UNCOMPRESSED)
		return error_set(ERR_USAGE, "compression-level=%d with compression=uncompressed: an uncompressed "
					    "layer has no level (drop one of them)", out->codec.level);
	if (out->codec.level_set && codec_check_level(out->codec.compression, out->codec.level))
		return ERR_USAGE;
	/* cachectl extension: BuildKit's own eStargz layout (docs/estargz.md) */
	if (options_get(o, "estargz-lossless")) {
		if (!out->compression_set || out->codec.compression != COMPRESSION_ESTARGZ)
			return error_set(ERR_USAGE, "estargz-lossless applies only to compression=estargz (compression is %s)",
					 out->compression_set ? compression_name(out->codec.compression) : "not set");
		return options_get_bool(o, "estargz-lossless", false, -1, &out->codec.estargz_lossless);
	}
	return 0;
}

int export_settings_read_root_form(struct export_settings *s, struct cache_options *o)
{
	bool oci, im;
	const char *given = options_get(o, "image-manifest");
	int rc = options_get_bool(o, "oci-mediatypes", true, -1, &oci);
	if (!rc)
		rc = options_get_bool(o, "image-manifest", oci, -1, &im);
	if (rc)
		return rc;
	if (!oci && given && im)
		return error_set(ERR_USAGE, "image-manifest=true needs oci-mediatypes=true (BuildKit refuses it too)");
	s->form_set = true;
	s->form = (struct root_form){.oci_mediatypes = oci, .image_manifest = im, .convert_layers = true};
	return config_budget_parse(&s->config_budget, o);
}

int export_settings_parse(struct export_settings *out, struct cache_options *o,
			  const struct transport_handler *h)
{
	memset(out, 0, sizeof(*out));
	int rc = read_mode(out, o);
	if (!rc)
		rc = read_compression(out, o);
	if (!rc)
		rc = options_get_bool(o, "ignore-error", false, -1, &out->ignore_error);
	if (!rc && h->export_settings)
		rc = h->export_settings(out, o);
	return rc;
}

int destination_open(struct destination *out, struct cache_options *o, struct progress *progress)
{
	const struct transport_handler *h;
	memset(out, 0, sizeof(*out));
	int rc = transport_handler_for(&h, o, TRANSPORT_DESTINATION, export_option_keys);
	if (!rc)
		rc = export_settings_parse(&out->settings, o, h);
	if (!rc)
		rc = transport_open_with(&out->transport, h, o, TRANSPORT_DESTINATION, progress);
	return rc;
}
