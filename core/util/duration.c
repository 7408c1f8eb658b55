#include "core/util/duration.h"

#include <stdlib.h>
#include <string.h>

#include "core/util/error.h"

int duration_parse(double *out, const char *text, const char *what)
{
	static const struct {
		const char *unit;
		double seconds;
	} units[] = {{"ns", 1e-9}, {"us", 1e-6}, {"\xc2\xb5s", 1e-6}, {"\xce\xbcs", 1e-6}, {"ms", 1e-3},
		     {"s", 1}, {"m", 60}, {"h", 3600}};
	const char *p = text;
	double total = 0, sign = 1;
	if (*p == '-' || *p == '+')
		sign = *p++ == '-' ? -1 : 1;
	if (strcmp(p, "0") == 0) {
		*out = 0;
		return 0;
	}
	if (!*p)
		goto bad;
	while (*p) {
		if (!(*p >= '0' && *p <= '9') && *p != '.')
			goto bad;
		char *end;
		double v = strtod(p, &end);
		if (end == p)
			goto bad;
		p = end;
		size_t best = 0, k = sizeof(units) / sizeof(units[0]);
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t n = strlen(units[i].unit);
			/* longest unit that matches: "ms" before "m" */
			if (strncmp(p, units[i].unit, n) == 0 && n > best) {
				best = n;
				k = i;
			}
		}
		if (!best)
			goto bad;
		total += v * units[k].seconds;
		p += best;
	}
	*out = sign * total;
	return 0;
bad:
	return error_set(ERR_USAGE, "%s=\"%s\" is not a duration (like 90s, 10m or 1h30m)", what, text);
}
