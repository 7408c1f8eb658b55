/* Moving caches: read every source, merge them, and write the result to
 * every destination -- blobs first (in parallel, each read once per
 * encoding asked, re-encoded on the way where asked), then the cache
 * document.
 *
 * The steps live in files of their own: source_set (reading and merging),
 * export_settings (what a destination asks for), export_plan (which blobs
 * each destination needs, and how), blob_job (one blob, one read, every
 * destination), and this file's cache_export, which runs them and writes
 * each destination's cache document last. */
#ifndef CACHECTL_CACHE_TRANSFER_H
#define CACHECTL_CACHE_TRANSFER_H

#include <stddef.h>

#include "core/util/progress.h"
#include "transport/engine/export_settings.h"
#include "transport/engine/source_set.h"
#include "transport/transport.h"

int cache_export(struct source_set *src, struct destination *dests, size_t n, unsigned jobs,
		 struct progress *p, struct progress_totals *totals);

#endif
