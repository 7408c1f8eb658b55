/* The config size of a trim, predicted without building the trimmed copy.
 *
 * cache_trim_to_fit bisects over how many of the oldest records lose their
 * results.  Building each candidate (a deep copy, renormalised, then
 * serialised) costs a whole normalisation per step.  On a normalised config
 * a trim only removes records and layers and renumbers the rest in the same
 * order: nothing left becomes identical to something else, a subsequence of
 * BuildKit's order is still in that order, and every chain stays whole.  So
 * the trimmed bytes are the bytes of the elements kept, with the digits of
 * their new indexes.  Each element is serialised once, by the real
 * serialiser; a prediction is then one pass over the indexes.
 *
 * The caller still builds the trim it chooses the real way and compares its
 * size with the prediction (cache_trim_to_fit does). */
#ifndef CACHECTL_CACHE_TRIM_SIZE_H
#define CACHECTL_CACHE_TRIM_SIZE_H

#include <stddef.h>
#include <stdint.h>

#include "core/model/cache_config.h"

struct trim_size;

/* Serialises every element of cfg once.  cfg must be normalised (no
 * explicit chains, no duplicates, BuildKit's order) and is borrowed: it
 * must outlive *out and stay unchanged.  *out is NULL when cfg carries
 * explicit chains, whose trims this model does not predict. */
int trim_size_new(struct trim_size **out, const struct cache_config *cfg);
void trim_size_free(struct trim_size *t);

/* The serialised size of cfg once the records dropped[0..n_dropped) have
 * lost their results, records nothing kept reaches are gone, and layers no
 * kept result stands on are gone. */
int trim_size_predict(int64_t *out, struct trim_size *t, const size_t *dropped, size_t n_dropped);

#endif
