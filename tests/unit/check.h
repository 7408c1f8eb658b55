/* A minimal unit-test harness: CHECK records a failure and goes on, so one
 * run reports every broken expectation; main returns non-zero if any. */
#ifndef CACHECTL_CHECK_H
#define CACHECTL_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;

#define CHECK(cond)                                                                      \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
			check_failures++;                                                \
		}                                                                        \
	} while (0)

#define CHECK_STR(got, want)                                                             \
	do {                                                                             \
		const char *g_ = (got), *w_ = (want);                                    \
		if (!g_ || !w_ || strcmp(g_, w_) != 0) {                                  \
			fprintf(stderr, "%s:%d: got  \"%s\"\n%*s want \"%s\"\n", __FILE__, __LINE__, \
				g_ ? g_ : "(null)", (int)strlen(__FILE__) + 6, "", w_ ? w_ : "(null)"); \
			check_failures++;                                                \
		}                                                                        \
	} while (0)

#define CHECK_INT(got, want)                                                             \
	do {                                                                             \
		long long g_ = (long long)(got), w_ = (long long)(want);                 \
		if (g_ != w_) {                                                          \
			fprintf(stderr, "%s:%d: %s is %lld, want %lld\n", __FILE__, __LINE__, #got, g_, w_); \
			check_failures++;                                                \
		}                                                                        \
	} while (0)

#define CHECK_DONE()                                                                     \
	do {                                                                             \
		if (check_failures)                                                      \
			fprintf(stderr, "%d check(s) failed\n", check_failures);         \
		return check_failures ? 1 : 0;                                           \
	} while (0)

/* The fixtures folder, passed by CTest as argv[1]. */
static inline const char *fixture_dir(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s FIXTURES_DIR\n", argv[0]);
		exit(2);
	}
	return argv[1];
}

#endif
