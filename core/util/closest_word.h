/* "Did you mean ...?": the word of a list nearest to a misspelt one. */
#ifndef CACHECTL_CLOSEST_WORD_H
#define CACHECTL_CLOSEST_WORD_H

#include <stddef.h>

/* The number of single-character insertions, deletions, substitutions and
 * swaps of neighbours that turn a into b (Damerau-Levenshtein, optimal
 * string alignment); words longer than 64 bytes count as far from all. */
size_t edit_distance(const char *a, const char *b);

/* The word of `words` (n of them; NULL entries skipped) closest to `word`,
 * or NULL when none is close enough to be a likely typo: at most a third
 * of the longer word changed, and never more than 3 edits. */
const char *closest_word(const char *word, const char *const *words, size_t n);

#endif
