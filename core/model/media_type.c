#include "core/model/media_type.h"

#include <string.h>

#include "core/util/error.h"

static const char *const names[] = {
	[COMPRESSION_UNKNOWN] = "unknown",
	[COMPRESSION_UNCOMPRESSED] = "uncompressed",
	[COMPRESSION_GZIP] = "gzip",
	[COMPRESSION_ZSTD] = "zstd",
	[COMPRESSION_ESTARGZ] = "estargz",
};

const char *compression_name(enum compression c)
{
	return names[c];
}

int compression_from_name(enum compression *out, const char *name)
{
	for (int c = COMPRESSION_UNCOMPRESSED; c <= COMPRESSION_ESTARGZ; c++) {
		if (strcmp(name, names[c]) == 0) {
			*out = (enum compression)c;
			return 0;
		}
	}
	return error_set(ERR_USAGE,
			 "unsupported compression \"%s\" (want uncompressed, gzip, zstd or estargz)", name);
}

/* Every layer type BuildKit converts, with its encoding and both spellings. */
static const struct {
	const char *type;
	enum compression compression;
	const char *oci;
	const char *docker;
} layer_types[] = {
	{MT_OCI_LAYER, COMPRESSION_UNCOMPRESSED, MT_OCI_LAYER, MT_DOCKER_LAYER},
	{MT_DOCKER_LAYER, COMPRESSION_UNCOMPRESSED, MT_OCI_LAYER, MT_DOCKER_LAYER},
	{MT_OCI_LAYER_GZIP, COMPRESSION_GZIP, MT_OCI_LAYER_GZIP, MT_DOCKER_LAYER_GZIP},
	{MT_DOCKER_LAYER_GZIP, COMPRESSION_GZIP, MT_OCI_LAYER_GZIP, MT_DOCKER_LAYER_GZIP},
	{MT_OCI_LAYER_ZSTD, COMPRESSION_ZSTD, MT_OCI_LAYER_ZSTD, MT_DOCKER_LAYER_ZSTD},
	{MT_DOCKER_LAYER_ZSTD, COMPRESSION_ZSTD, MT_OCI_LAYER_ZSTD, MT_DOCKER_LAYER_ZSTD},
	{"application/vnd.docker.image.rootfs.foreign.diff.tar", COMPRESSION_UNCOMPRESSED,
	 "application/vnd.oci.image.layer.nondistributable.v1.tar",
	 "application/vnd.docker.image.rootfs.foreign.diff.tar"},
	{"application/vnd.oci.image.layer.nondistributable.v1.tar", COMPRESSION_UNCOMPRESSED,
	 "application/vnd.oci.image.layer.nondistributable.v1.tar",
	 "application/vnd.docker.image.rootfs.foreign.diff.tar"},
	{"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", COMPRESSION_GZIP,
	 "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
	 "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"},
	{"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", COMPRESSION_GZIP,
	 "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
	 "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"},
	/* No Docker spelling exists for a nondistributable zstd layer. */
	{"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", COMPRESSION_ZSTD,
	 "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", NULL},
};

enum compression media_type_compression(const char *media_type)
{
	if (!media_type)
		return COMPRESSION_UNKNOWN;
	for (size_t i = 0; i < sizeof(layer_types) / sizeof(layer_types[0]); i++)
		if (strcmp(media_type, layer_types[i].type) == 0)
			return layer_types[i].compression;
	return COMPRESSION_UNKNOWN;
}

const char *media_type_for(enum compression c, bool oci)
{
	switch (c) {
	case COMPRESSION_UNCOMPRESSED:
		return oci ? MT_OCI_LAYER : MT_DOCKER_LAYER;
	case COMPRESSION_GZIP:
	case COMPRESSION_ESTARGZ:
		return oci ? MT_OCI_LAYER_GZIP : MT_DOCKER_LAYER_GZIP;
	case COMPRESSION_ZSTD:
		return oci ? MT_OCI_LAYER_ZSTD : MT_DOCKER_LAYER_ZSTD;
	default:
		return NULL;
	}
}

const char *media_type_convert(const char *media_type, bool oci)
{
	for (size_t i = 0; i < sizeof(layer_types) / sizeof(layer_types[0]); i++) {
		if (strcmp(media_type, layer_types[i].type) == 0) {
			const char *to = oci ? layer_types[i].oci : layer_types[i].docker;
			return to ? to : media_type;
		}
	}
	return media_type;
}

enum compression compression_sniff(const unsigned char *head, size_t len)
{
	if (len >= 3 && head[0] == 0x1f && head[1] == 0x8b && head[2] == 0x08)
		return COMPRESSION_GZIP;
	if (len >= 4 && head[0] == 0x28 && head[1] == 0xb5 && head[2] == 0x2f && head[3] == 0xfd)
		return COMPRESSION_ZSTD;
	return COMPRESSION_UNCOMPRESSED;
}
