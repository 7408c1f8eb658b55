#include "core/util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char current[ERROR_MESSAGE_MAX];

int error_set(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(current, sizeof(current), fmt, ap);
	va_end(ap);
	return code;
}

int error_set_errno(int code, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(current, sizeof(current), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(current))
		snprintf(current + n, sizeof(current) - (size_t)n, ": %s", strerror(errnum));
	return code;
}

int error_wrap(int code, const char *fmt, ...)
{
	char prefix[ERROR_MESSAGE_MAX];
	char old[ERROR_MESSAGE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, current, sizeof(old));
	size_t n = strlen(prefix);
	memcpy(current, prefix, n + 1);
	if (old[0] && n + 2 < sizeof(current)) {
		size_t rest = strlen(old);
		if (rest > sizeof(current) - n - 3)
			rest = sizeof(current) - n - 3;
		memcpy(current + n, ": ", 2);
		memcpy(current + n + 2, old, rest);
		current[n + 2 + rest] = '\0';
	}
	return code;
}

const char *error_message(void)
{
	return current[0] ? current : "unknown error";
}

void error_clear(void)
{
	current[0] = '\0';
}

void error_save(struct error_state *out, int code)
{
	out->code = code;
	memcpy(out->message, current, sizeof(out->message));
}

int error_restore(const struct error_state *state)
{
	memcpy(current, state->message, sizeof(current));
	return state->code;
}

int error_oom(void)
{
	return error_set(ERR_FAILURE, "out of memory");
}
