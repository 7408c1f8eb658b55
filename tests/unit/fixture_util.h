/* Reading the BuildKit fixtures straight from disk, for unit tests. */
#ifndef CACHECTL_FIXTURE_UTIL_H
#define CACHECTL_FIXTURE_UTIL_H

#include <stdio.h>
#include <stdlib.h>

#include "core/util/error.h"

#include "core/util/buffer.h"
#include "core/model/descriptor.h"
#include "formats/cache_manifest.h"
#include "formats/oci_layout.h"

/* The root document and cache config bytes of a local fixture
 * (fixtures/buildkit-v0.23.2/<name>/export).  A missing fixture ends the
 * test program: nothing after it could mean anything. */
static inline int fixture_documents(const char *fixtures, const char *name, struct buffer *root,
				    struct buffer *config, struct cache_root *parsed)
{
	char dir[4096], path[4200];
	struct oci_index idx;
	snprintf(dir, sizeof(dir), "%s/buildkit-v0.23.2/%s/export", fixtures, name);
	if (oci_index_read(&idx, dir)) {
		fprintf(stderr, "fixture %s: %s\n", name, error_message());
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/blobs/sha256/%s", dir, digest_hex(idx.manifests[0].digest));
	oci_index_free(&idx);
	if (buffer_read_file(root, path, 1 << 20) || cache_manifest_parse(parsed, root->data, root->len)) {
		fprintf(stderr, "fixture %s: %s\n", name, error_message());
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/blobs/sha256/%s", dir, digest_hex(parsed->config.digest));
	if (buffer_read_file(config, path, 1 << 20)) {
		fprintf(stderr, "fixture %s: %s\n", name, error_message());
		exit(1);
	}
	return 0;
}

#endif
