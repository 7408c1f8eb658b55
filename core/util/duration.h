/* Durations in the text form of Go's time.ParseDuration ("90s", "1h30m",
 * "1.5h", "300ms"), which BuildKit options such as gha timeout= use. */
#ifndef CACHECTL_DURATION_H
#define CACHECTL_DURATION_H

#include "core/util/error.h"

/* Seconds in *out; ERR_USAGE naming `what` when text does not parse. */
CACHECTL_MUST_CHECK int duration_parse(double *out, const char *text, const char *what);

#endif
