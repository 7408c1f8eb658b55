/* Media types of cache documents and layers, and the layer encodings. */
#ifndef CACHECTL_MEDIA_TYPE_H
#define CACHECTL_MEDIA_TYPE_H

#include "core/util/error.h"

#include <stdbool.h>
#include <stddef.h>

#define MT_CACHE_CONFIG "application/vnd.buildkit.cacheconfig.v0"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_OCI_IMAGE_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_DOCKER_IMAGE_CONFIG "application/vnd.docker.container.image.v1+json"

#define MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define MT_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar"
#define MT_DOCKER_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define MT_DOCKER_LAYER_ZSTD "application/vnd.docker.image.rootfs.diff.tar.zstd"

/* Descriptor annotation keys the cache uses. */
#define ANN_UNCOMPRESSED "containerd.io/uncompressed"
#define ANN_CREATED_AT "buildkit/createdat"
#define ANN_STARGZ_TOC "containerd.io/snapshot/stargz/toc.digest"
#define ANN_ESTARGZ_SIZE "io.containers.estargz.uncompressed-size"
#define ANN_REF_NAME "org.opencontainers.image.ref.name"
#define ANN_IMAGE_NAME "io.containerd.image.name"

enum compression {
	COMPRESSION_UNKNOWN = 0,
	COMPRESSION_UNCOMPRESSED,
	COMPRESSION_GZIP,
	COMPRESSION_ZSTD,
	COMPRESSION_ESTARGZ,
};

const char *compression_name(enum compression c);
/* Parses BuildKit's compression= values (case-sensitive). */
CACHECTL_MUST_CHECK int compression_from_name(enum compression *out, const char *name);

/* The encoding a layer media type announces (eStargz announces gzip);
 * COMPRESSION_UNKNOWN for anything that is not a known layer type. */
enum compression media_type_compression(const char *media_type);

/* The layer media type of an encoding in the OCI or the Docker family. */
const char *media_type_for(enum compression c, bool oci);

/* BuildKit's oci-mediatypes conversion of a layer type; unknown types are
 * returned unchanged. */
const char *media_type_convert(const char *media_type, bool oci);

/* The encoding of a blob judged by its first bytes (gzip, zstd, else plain). */
enum compression compression_sniff(const unsigned char *head, size_t len);

#endif
