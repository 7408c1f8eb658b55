/* A sink that writes on a thread of its own.
 *
 * The mirror of readahead.h: when one stream of plain bytes feeds several
 * encoders (one read of a layer, several encodings asked), each encoder
 * sits behind one of these so they run side by side instead of one after
 * another on the reading thread.  The bytes reach `inner` in order and
 * whole; an error of inner comes back from a later write or from finish. */
#ifndef CACHECTL_WRITEBEHIND_H
#define CACHECTL_WRITEBEHIND_H

#include "core/util/stream.h"

/* Wraps inner (not owned: close this sink before inner).  Holds
 * WRITEBEHIND_DEPTH buffers of WRITEBEHIND_BUFFER bytes, so a slow inner
 * holds the writer back after that much.  finish() waits until inner has
 * every byte and has finished. */
CACHECTL_MUST_CHECK int writebehind_sink_new(struct byte_sink **out, struct byte_sink *inner);

#define WRITEBEHIND_DEPTH 4
#define WRITEBEHIND_BUFFER (256u << 10)

#endif
