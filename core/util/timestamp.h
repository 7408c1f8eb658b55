/* RFC 3339 times in the exact text form Go's time.Time marshals to:
 * fraction trimmed of trailing zeros, "Z" for UTC, otherwise +hh:mm. */
#ifndef CACHECTL_TIMESTAMP_H
#define CACHECTL_TIMESTAMP_H

#include "core/util/error.h"

#include <stdbool.h>
#include <stdint.h>

#define TIMESTAMP_BUF 48

struct timestamp {
	int64_t seconds;    /* since 1970-01-01T00:00:00Z */
	int32_t nanos;      /* 0..999999999 */
	int32_t offset;     /* zone offset in seconds east of UTC, as written */
};

/* The zero time of Go, 0001-01-01T00:00:00Z, which means "unknown". */
extern const char TIMESTAMP_ZERO[];

/* ERR_FAILURE with a message naming the text when it is not RFC 3339. */
CACHECTL_MUST_CHECK int timestamp_parse(struct timestamp *out, const char *text);
/* Formats in the zone it was parsed in, or in UTC when utc is set. */
void timestamp_format(char out[TIMESTAMP_BUF], const struct timestamp *t, bool utc);
bool timestamp_is_zero(const struct timestamp *t);
int timestamp_compare(const struct timestamp *a, const struct timestamp *b);
void timestamp_now(struct timestamp *out);

#endif
