#include "core/util/timestamp.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/util/error.h"

const char TIMESTAMP_ZERO[] = "0001-01-01T00:00:00Z";

/* Days since 1970-01-01 of a proleptic Gregorian date (era arithmetic). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int timestamp_parse(struct timestamp *out, const char *text)
{
	int y, mo, d, h, mi, s;
	const char *p = text;
	if (strlen(p) < 20 || digits(p, 4, &y) || p[4] != '-' || digits(p + 5, 2, &mo) ||
	    p[7] != '-' || digits(p + 8, 2, &d) || p[10] != 'T' || digits(p + 11, 2, &h) ||
	    p[13] != ':' || digits(p + 14, 2, &mi) || p[16] != ':' || digits(p + 17, 2, &s))
		goto bad;
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || s > 59)
		goto bad;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo == 2 && d == 29 && !leap)
		goto bad;
	p += 19;
	int32_t nanos = 0;
	if (*p == '.') {
		int n = 0;
		p++;
		while (*p >= '0' && *p <= '9') {
			if (n < 9)
				nanos = nanos * 10 + (*p - '0');
			n++;
			p++;
		}
		if (n == 0)
			goto bad;
		for (; n < 9; n++)
			nanos *= 10;
	}
	int32_t offset = 0;
	if (*p == 'Z' && p[1] == '\0') {
		offset = 0;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
		int oh, om;
		if (digits(p + 1, 2, &oh) || digits(p + 4, 2, &om) || oh > 23 || om > 59)
			goto bad;
		offset = (oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
	} else {
		goto bad;
	}
	out->seconds = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + s -
		       offset;
	out->nanos = nanos;
	out->offset = offset;
	return 0;
bad:
	return error_set(ERR_FAILURE, "\"%.60s\" is not an RFC 3339 time", text);
}

void timestamp_format(char out[TIMESTAMP_BUF], const struct timestamp *t, bool utc)
{
	int32_t offset = utc ? 0 : t->offset;
	int64_t local = t->seconds + offset;
	int64_t days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
	int64_t rem = local - days * 86400;
	int64_t y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	int n = snprintf(out, TIMESTAMP_BUF, "%04lld-%02u-%02uT%02d:%02d:%02d", (long long)y, m, d,
			 (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
	if (t->nanos) {
		char frac[16];
		snprintf(frac, sizeof(frac), ".%09d", (int)t->nanos);
		/* Go trims trailing zeros; frac is "." and nine digits, not all zero. */
		size_t len = strlen(frac);
		while (len > 1 && frac[len - 1] == '0')
			len--;
		frac[len] = '\0';
		n += snprintf(out + n, (size_t)(TIMESTAMP_BUF - n), "%s", frac);
	}
	if (offset == 0)
		snprintf(out + n, (size_t)(TIMESTAMP_BUF - n), "Z");
	else
		snprintf(out + n, (size_t)(TIMESTAMP_BUF - n), "%c%02d:%02d", offset < 0 ? '-' : '+',
			 (offset < 0 ? -offset : offset) / 3600, (offset < 0 ? -offset : offset) / 60 % 60);
}

bool timestamp_is_zero(const struct timestamp *t)
{
	/* 0001-01-01T00:00:00Z */
	return t->seconds == -62135596800LL && t->nanos == 0;
}

int timestamp_compare(const struct timestamp *a, const struct timestamp *b)
{
	if (a->seconds != b->seconds)
		return a->seconds < b->seconds ? -1 : 1;
	if (a->nanos != b->nanos)
		return a->nanos < b->nanos ? -1 : 1;
	return 0;
}

void timestamp_now(struct timestamp *out)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	out->seconds = ts.tv_sec;
	out->nanos = (int32_t)ts.tv_nsec;
	out->offset = 0;
}
