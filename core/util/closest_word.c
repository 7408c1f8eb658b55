#include "core/util/closest_word.h"

#include <string.h>

#define WORD_MAX 64

size_t edit_distance(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	if (na > WORD_MAX || nb > WORD_MAX)
		return (size_t)-1;
	/* three rows of the classic table: two back (for swaps), one back, this one */
	size_t rows[3][WORD_MAX + 1];
	size_t *before = rows[0], *prev = rows[1], *cur = rows[2];
	for (size_t j = 0; j <= nb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= na; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= nb; j++) {
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t best = prev[j - 1] + cost;
			if (prev[j] + 1 < best)
				best = prev[j] + 1;
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && before[j - 2] + 1 < best)
				best = before[j - 2] + 1;
			cur[j] = best;
		}
		size_t *t = before;
		before = prev;
		prev = cur;
		cur = t;
	}
	return prev[nb];
}

const char *closest_word(const char *word, const char *const *words, size_t n)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1;
	for (size_t i = 0; i < n; i++) {
		if (!words[i])
			continue;
		size_t d = edit_distance(word, words[i]);
		size_t longer = strlen(word) > strlen(words[i]) ? strlen(word) : strlen(words[i]);
		size_t allowed = longer / 3 < 3 ? longer / 3 : 3;
		if (allowed < 1)
			allowed = 1;
		if (d <= allowed && d < best_d) {
			best = words[i];
			best_d = d;
		}
	}
	return best;
}
