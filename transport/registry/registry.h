/* The parts of the registry backend that type=inline builds on: a
 * repository client with manifests by tag or digest.  Blobs go through the
 * transport's ordinary operations (blob_stat, blob_open, blob_create,
 * blob_link). */
#ifndef CACHECTL_REGISTRY_H
#define CACHECTL_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

#include "core/util/buffer.h"
#include "core/model/descriptor.h"
#include "transport/transport.h"

/* Manifests cachectl reads when they are not cache roots (image manifests
 * and indexes): containerd's limit. */
#define REGISTRY_MANIFEST_MAX (4u * 1048u * 1048u)

/* Opens the repository of reference `ref` (registry.insecure as given). */
int registry_open_ref(struct transport **out, const char *ref, bool insecure, enum transport_direction dir,
		      struct progress *progress);

bool transport_is_registry(const struct transport *t);

/* The normalised reference, e.g. "docker.io/library/app:latest". */
const char *registry_ref_text(const struct transport *t);
/* The reference's tag (NULL when it names a digest only) and digest ("" when none). */
const char *registry_ref_tag(const struct transport *t);
const char *registry_ref_digest(const struct transport *t);

/* Fetches the manifest named by `which` (a tag or a digest; NULL: the
 * reference's own), at most max bytes, checked against its digest.  desc
 * gets its media type, digest and size.  ERR_NOT_FOUND when absent. */
int registry_get_manifest(struct transport *t, const char *which, size_t max, struct buffer *bytes,
			  struct descriptor *desc);

/* Stores a manifest under `tag` (or under its digest when tag is NULL);
 * nothing is sent when the tag already points at these bytes. */
int registry_put_manifest(struct transport *t, const char *tag, const struct descriptor *desc, const void *bytes,
			  size_t len);

/* registry_store.c: ls, du, rm and prune on the repository. */
extern const struct store_ops registry_store_ops;

#endif
