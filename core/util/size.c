#include "core/util/size.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "core/util/error.h"

int size_parse(int64_t *out, const char *text, const char *what)
{
	static const struct {
		const char *unit;
		double bytes;
	} units[] = {
		{"", 1},        {"b", 1},         {"k", 1e3},           {"kb", 1e3},
		{"kib", 1024.}, {"m", 1e6},       {"mb", 1e6},          {"mib", 1048576.},
		{"g", 1e9},     {"gb", 1e9},      {"gib", 1073741824.}, {"t", 1e12},
		{"tb", 1e12},   {"tib", 1099511627776.},
	};
	char *end;
	if (!text || !*text || !((*text >= '0' && *text <= '9') || *text == '.'))
		goto bad;
	double v = strtod(text, &end);
	if (end == text || !isfinite(v) || v < 0)
		goto bad;
	while (*end == ' ')
		end++;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(end, units[i].unit) != 0)
			continue;
		double bytes = v * units[i].bytes;
		if (bytes >= 9.2e18)
			goto bad;
		*out = (int64_t)bytes;
		return 0;
	}
bad:
	return error_set(ERR_USAGE, "%s=\"%s\" is not a size (like 1048576, 1MiB, 500MB or 10GB)", what,
			 text ? text : "");
}

void size_format(char *out, size_t out_size, int64_t bytes)
{
	static const char *const units[] = {"kB", "MB", "GB", "TB"};
	if (bytes < 1000) {
		snprintf(out, out_size, "%lld B", (long long)bytes);
		return;
	}
	double v = (double)bytes;
	size_t u = 0;
	for (v /= 1000; v >= 1000 && u + 1 < sizeof(units) / sizeof(units[0]); v /= 1000)
		u++;
	snprintf(out, out_size, "%.*f %s", v < 10 ? 2 : v < 100 ? 1 : 0, v, units[u]);
}
