#include "core/util/json_number.h"

#include <math.h>

bool json_integer(const cJSON *v, int64_t min, int64_t max, int64_t *out)
{
	if (!cJSON_IsNumber(v))
		return false;
	double d = v->valuedouble;
	/* Compared as doubles before any cast: min and max up to 2^53 are exact. */
	if (!isfinite(d) || floor(d) != d || d < (double)min || d > (double)max)
		return false;
	*out = (int64_t)d;
	return true;
}
