#include "core/util/debug_trace.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/printable.h"

/* Set before any worker thread starts, read by all of them. */
static atomic_uint enabled;

static const struct {
	const char *word;
	unsigned topics;
} WORDS[] = {
	{"http", DEBUG_HTTP},
	{"s3", DEBUG_S3},
	{"all", DEBUG_HTTP | DEBUG_S3},
	{"1", DEBUG_HTTP | DEBUG_S3},
	{"0", 0},
};

static int word_topics(unsigned *out, const char *word, size_t len)
{
	for (size_t i = 0; i < sizeof(WORDS) / sizeof(*WORDS); i++)
		if (strlen(WORDS[i].word) == len && strncmp(WORDS[i].word, word, len) == 0) {
			*out = WORDS[i].topics;
			return 0;
		}
	return ERR_USAGE;
}

int debug_topics_parse(unsigned *topics, const char *value, const char *where)
{
	*topics = 0;
	for (const char *p = value; *p;) {
		size_t len = strcspn(p, ",");
		const char *word = p;
		size_t wlen = len;
		while (wlen && *word == ' ')
			word++, wlen--;
		while (wlen && word[wlen - 1] == ' ')
			wlen--;
		unsigned t;
		if (wlen && word_topics(&t, word, wlen)) {
			char shown[64], copy[64];
			snprintf(copy, sizeof(copy), "%.*s", (int)(wlen < 63 ? wlen : 63), word);
			return error_set(ERR_USAGE, "%s: unknown value \"%s\" (known: %s, comma-separated)", where,
					 printable(shown, sizeof(shown), copy, 0), DEBUG_KNOWN_VALUES);
		}
		if (wlen)
			*topics |= t;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

int debug_trace_from_environment(void)
{
	const char *value = getenv("CACHECTL_DEBUG");
	if (!value)
		return 0;
	unsigned topics;
	int rc = debug_topics_parse(&topics, value, "CACHECTL_DEBUG");
	if (!rc)
		debug_trace_enable(topics);
	return rc;
}

void debug_trace_enable(unsigned topics)
{
	atomic_fetch_or(&enabled, topics);
}

bool debug_trace_on(enum debug_topic topic)
{
	return (atomic_load(&enabled) & (unsigned)topic) != 0;
}
