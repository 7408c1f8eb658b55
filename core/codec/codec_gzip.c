/* The gzip codec: the member-aware reader of gzip_member.c seen as a plain
 * stream, any number of members in; out, members compressed in parallel. */
#include <stdlib.h>

#include "core/codec/codec.h"
#include "core/util/error.h"
#include "core/codec/gzip_member.h"
#include "core/codec/gzip_parallel.h"

int gzip_source_new(struct byte_source **out, struct byte_source *inner, const char *what)
{
	return gzip_members_source_new(out, inner, NULL, NULL, what);
}

/* Members of GZIP_CHUNK bytes compressed on every core (gzip_parallel.h). */
int gzip_sink_new(struct byte_sink **out, struct byte_sink *next, bool level_set, int level)
{
	return gzip_parallel_sink_new(out, next, level_set, level);
}
