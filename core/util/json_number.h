/* Numbers from untrusted JSON.  cJSON hands out doubles; casting one that
 * is out of range (or not integral) to an integer type is undefined in C and
 * in practice wraps (3000000000 became -2147483648), so every integer read
 * from a document goes through here. */
#ifndef CACHECTL_JSON_NUMBER_H
#define CACHECTL_JSON_NUMBER_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* The largest integer a double (and so a JSON number read by cJSON or by
 * Go's encoding/json into float64) holds exactly: 2^53. */
#define JSON_EXACT_MAX 9007199254740992LL

/* True, with *out set, when v is a JSON number holding an integer in
 * [min, max]; false for anything else (absent, not a number, fractional,
 * out of range) with *out untouched. */
bool json_integer(const cJSON *v, int64_t min, int64_t max, int64_t *out);

#endif
