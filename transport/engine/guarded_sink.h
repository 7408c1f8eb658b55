/* A blob writer guarded so that one destination's failure does not stop a
 * blob the other destinations of the same job still want. */
#ifndef CACHECTL_GUARDED_SINK_H
#define CACHECTL_GUARDED_SINK_H

#include <stdatomic.h>
#include <stddef.h>

#include "core/util/stream.h"
#include "transport/engine/export_run.h"

/* The first error of its writer is kept in the delivery (which is then
 * failed) and later bytes are dropped; only when every writer sharing
 * `alive` has failed does a write or finish return the error, which stops
 * the stream.  Neither writer nor delivery is owned. */
struct guarded_sink {
	struct byte_sink base;
	struct blob_writer *writer;
	struct delivery *delivery;
	/* writers of the job not failed yet: a re-encode job's copies are
	 * written on another thread than its encoded writers */
	atomic_size_t *alive;
};

void guarded_sink_init(struct guarded_sink *g, struct blob_writer *w, struct delivery *dl, atomic_size_t *alive);

/* Marks the delivery failed with error rc (its message is current). */
void delivery_fail(struct delivery *dl, int rc);

#endif
