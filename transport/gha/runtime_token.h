/* The GitHub Actions runtime token (ACTIONS_RUNTIME_TOKEN): a JWT whose
 * payload says which cache scopes the job may read and write.  It is read
 * without checking its signature, as BuildKit does -- the cache service
 * checks it -- and its text is never put into a message. */
#ifndef CACHECTL_RUNTIME_TOKEN_H
#define CACHECTL_RUNTIME_TOKEN_H

#include "core/util/error.h"

#include <stddef.h>
#include <stdint.h>

#define TOKEN_READ 1
#define TOKEN_WRITE 2

struct token_scope {
	char *scope;    /* a git ref such as refs/heads/main */
	int permission; /* TOKEN_READ | TOKEN_WRITE bits */
};

struct runtime_token {
	struct token_scope *scopes; /* in the order of the `ac` claim */
	size_t n_scopes;
	int64_t not_before, expires; /* seconds since the epoch; 0 when absent */
};

/* Parses the `ac`, `nbf` and `exp` claims; ERR_USAGE for a token that is not
 * such a JWT, has expired, or is not valid yet (now: seconds since epoch). */
CACHECTL_MUST_CHECK int runtime_token_parse(struct runtime_token *out, const char *jwt, int64_t now);
void runtime_token_free(struct runtime_token *t);

/* The scope an export writes to: the last one with the write bit, or NULL. */
const char *runtime_token_write_scope(const struct runtime_token *t);

#endif
