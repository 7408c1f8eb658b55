/* What one destination of an export got, machine-readable: the `result`
 * event of --progress json and an entry of --metadata-file (as `buildx
 * --metadata-file`), documented in docs/progress.md. */
#ifndef CACHECTL_EXPORT_RESULT_H
#define CACHECTL_EXPORT_RESULT_H

#include <stddef.h>
#include <stdint.h>

#include "core/util/digest.h"
#include "core/util/error.h"

struct json_out;

struct export_result {
	/* Borrowed from the command line's spec, for the result's life: */
	const char *destination; /* the spec as text, secrets "***" */
	const char *type;        /* local, registry, s3, gha, azblob, inline */
	const char *place_key;   /* "dir", "ref", "bucket", ... (NULL: none) */
	const char *place;
	const char *tag; /* NULL when the spec names none */
	/* Filled by the export: */
	const char *outcome; /* "ok", "failed", "ignored" (failed, ignore-error=true),
			      * "unchanged" (nothing to export); NULL: not reached */
	char error[512];     /* when failed or ignored */
	char root_digest[DIGEST_BUF];   /* index/manifest written; "" when none */
	char config_digest[DIGEST_BUF]; /* the cache config (the document itself
					 * for s3, gha and azblob) */
	size_t records;
	unsigned blobs_written, blobs_skipped;
	int64_t bytes_written;
};

/* The result's members, into an object the caller opened. */
void export_result_members(struct json_out *j, const struct export_result *r);

/* Writes {"command":COMMAND,"destinations":[...]} to path atomically:
 * a temporary file beside it, flushed, then renamed over it. */
CACHECTL_MUST_CHECK int export_results_write_file(const char *path, const char *command,
						      const struct export_result *r, size_t n);

#endif
