/* What CACHECTL_DEBUG (and --debug) turns on: traces written to stderr
 * while a command runs.  The value is a comma-separated list of topics:
 *   http   every HTTP request: method, URL, status, bytes, time, headers
 *          (credentials hidden)
 *   s3     every SigV4 canonical request (the session token hidden)
 *   all, 1 every topic;  0 or empty: none
 * Anything else is a usage error naming the known values: a typo must not
 * silently trace nothing. */
#ifndef CACHECTL_DEBUG_TRACE_H
#define CACHECTL_DEBUG_TRACE_H

#include <stdbool.h>

#include "core/util/error.h"

enum debug_topic {
	DEBUG_HTTP = 1u << 0,
	DEBUG_S3 = 1u << 1,
};

#define DEBUG_KNOWN_VALUES "http, s3, all, 1, 0"

/* Parses a list of topics into *topics; ERR_USAGE naming the unknown word
 * and the known values.  `where` names the source in the message
 * ("CACHECTL_DEBUG"). */
CACHECTL_MUST_CHECK int debug_topics_parse(unsigned *topics, const char *value, const char *where);

/* Reads CACHECTL_DEBUG once (unset: nothing); called by main before any
 * command runs. */
CACHECTL_MUST_CHECK int debug_trace_from_environment(void);

/* Turns topics on in addition to those already on (--debug). */
void debug_trace_enable(unsigned topics);

/* Whether a topic is traced. */
bool debug_trace_on(enum debug_topic topic);

#endif
