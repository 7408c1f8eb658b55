/* The OCI image layout directory as BuildKit's client keeps it: the
 * oci-layout marker, index.json (merged under a tag, written compactly) and
 * the advisory lock on index.json.lock that buildctl also takes. */
#ifndef CACHECTL_OCI_LAYOUT_H
#define CACHECTL_OCI_LAYOUT_H

#include "core/util/error.h"

#include <stdbool.h>

#include "core/util/buffer.h"
#include "core/model/descriptor.h"

#define OCI_LAYOUT_CONTENT "{\"imageLayoutVersion\":\"1.0.0\"}"

struct oci_index {
	int schema_version;
	char *media_type;
	char *artifact_type;
	struct descriptor *manifests;
	size_t n_manifests;
	struct descriptor *subject;
	/* Index-level annotations, kept in a descriptor for its sorted map. */
	struct descriptor annotations;
};

void oci_index_free(struct oci_index *idx);
/* ERR_NOT_FOUND when there is no index.json; ERR_FAILURE when unreadable. */
CACHECTL_MUST_CHECK int oci_index_read(struct oci_index *out, const char *dir);
CACHECTL_MUST_CHECK int oci_index_parse(struct oci_index *out, const char *json, size_t len, const char *what);
CACHECTL_MUST_CHECK int oci_index_serialize(const struct oci_index *idx, struct buffer *out);

/* BuildKit's lookup of a tag: first entry whose io.containerd.image.name is
 * the tag, else first whose org.opencontainers.image.ref.name is. */
const struct descriptor *oci_index_find(const struct oci_index *idx, const char *tag);

/* Removes every entry `gone` says must give way, then appends entry (whose
 * contents the index takes over, even on failure). */
CACHECTL_MUST_CHECK int oci_index_replace(struct oci_index *idx, bool (*gone)(const struct descriptor *d, const char *name),
		      const char *name, struct descriptor *entry);

/* How long oci_layout_lock waits for a lock another process holds, and
 * whom it tells (once per wait) that it is waiting.  Process-wide: the
 * command line sets it from --lock-timeout; the default is
 * OCI_LAYOUT_LOCK_TIMEOUT_DEFAULT seconds and no note. */
#define OCI_LAYOUT_LOCK_TIMEOUT_DEFAULT 60.0
void oci_layout_set_lock_wait(double timeout_seconds, void (*on_wait)(void *ctx, const char *lock_path),
			      void *ctx);

/* Takes the index.json.lock flock, waiting up to the lock timeout for a
 * holder to let go (exclusive to write, shared to read).  Holders that
 * follow BuildKit's protocol unlink the lock file after use, so a lock
 * taken on a file that is no longer the one at the path is dropped and
 * taken again.  On a read-only filesystem reading proceeds unlocked
 * (*fd = -1). */
CACHECTL_MUST_CHECK int oci_layout_lock(int *fd, const char *dir, bool exclusive);
/* Releases the lock; a writer (exclusive) also removes the lock file, as
 * buildctl does, when it is still the file at the path. */
void oci_layout_unlock(int fd, const char *dir, bool exclusive);

/* Writes oci-layout and merges root under tag into index.json: same-tag
 * cache entries are replaced, everything else kept, the new entry last.
 * Files are replaced atomically (temporary file and rename). */
CACHECTL_MUST_CHECK int oci_layout_put_root(const char *dir, const struct descriptor *root, const char *tag);

/* Writes data to path through a temporary file in the same directory. */
CACHECTL_MUST_CHECK int write_file_atomic(const char *path, const void *data, size_t len, int mode);

#endif
