#include "transport/engine/config_budget.h"

#include "core/model/cache_trim.h"
#include "core/util/error.h"
#include "core/util/size.h"

int config_budget_parse(struct config_budget *out, struct cache_options *o)
{
	bool allow = false;
	*out = (struct config_budget){0};
	const char *max = options_get(o, "max-config-size");
	if (options_get_bool(o, "allow-large-config", false, -1, &allow))
		return ERR_USAGE;
	out->enforced = true;
	out->max = allow ? 0 : BUILDKIT_CONFIG_MAX;
	if (max) {
		if (allow)
			return error_set(ERR_USAGE, "max-config-size= and allow-large-config=true contradict each other: "
						    "keep one");
		if (size_parse(&out->max, max, "max-config-size"))
			return ERR_USAGE;
		if (out->max <= 0)
			return error_set(ERR_USAGE, "max-config-size=\"%s\" must be more than 0 bytes", max);
		out->trim = true;
	}
	return 0;
}

int config_budget_apply(struct cache *c, const struct config_budget *b, const char *display, struct progress *p)
{
	int64_t size;
	if (!b->enforced || b->max <= 0)
		return 0;
	if (b->trim) {
		size_t dropped;
		int64_t before;
		int rc = cache_measure_config(&before, c);
		if (!rc)
			rc = cache_trim_to_fit(c, b->max, cache_measure_config, "cache config", &dropped);
		if (!rc)
			rc = cache_measure_config(&size, c);
		if (rc)
			return error_wrap(rc, "max-config-size=%lld", (long long)b->max);
		if (dropped)
			progress_note(p,
				      "%s: cache config %lld bytes, over max-config-size=%lld: dropped the results of the "
				      "%zu oldest records, config now %lld bytes",
				      display, (long long)before, (long long)b->max, dropped, (long long)size);
		return 0;
	}
	return config_budget_check(c, b);
}

int config_budget_check(const struct cache *c, const struct config_budget *b)
{
	int64_t size;
	char have[32], limit[32];
	if (!b->enforced || b->max <= 0)
		return 0;
	int rc = cache_measure_config(&size, c);
	if (rc || size <= b->max)
		return rc;
	size_format(have, sizeof(have), size);
	size_format(limit, sizeof(limit), b->max);
	return error_set(ERR_FAILURE,
			 "the cache config is %lld bytes (%s), over the %lld (%s) BuildKit imports from a local or "
			 "registry cache: every later import would ignore it.  Add max-config-size=1MiB to this "
			 "destination to drop the oldest records until it fits, mode=min to keep only final results, "
			 "or allow-large-config=true if your builders accept larger configs",
			 (long long)size, have, (long long)b->max, limit);
}
