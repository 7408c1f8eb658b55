/* The AWS shared configuration files: ~/.aws/credentials ("[name]"
 * sections) and ~/.aws/config ("[profile name]", or "[default]"), INI text
 * as the AWS CLI writes it.  A profile is the union of its two sections,
 * the credentials file winning for keys set in both. */
#ifndef CACHECTL_AWS_PROFILE_H
#define CACHECTL_AWS_PROFILE_H

#include "core/util/error.h"

#include <stdbool.h>
#include <stddef.h>

struct aws_profile_entry {
	char *key; /* lower case */
	char *value;
	bool from_credentials_file;
};

struct aws_profile {
	char *name;
	struct aws_profile_entry *entries;
	size_t n, cap;
};

/* Loads profile `name` from both files (either path may be NULL or name a
 * missing file).  *found tells whether either file has the section. */
CACHECTL_MUST_CHECK int aws_profile_load(struct aws_profile *out, const char *name, const char *credentials_path,
		     const char *config_path, bool *found);
void aws_profile_free(struct aws_profile *p);

/* The value, or NULL when the key is absent or empty. */
const char *aws_profile_get(const struct aws_profile *p, const char *key);

/* The default paths: $AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials,
 * $AWS_CONFIG_FILE or ~/.aws/config ("~" is $HOME).  NULL when there is no
 * home to resolve against. */
char *aws_profile_credentials_path(void);
char *aws_profile_config_path(void);
/* $AWS_PROFILE, else $AWS_DEFAULT_PROFILE, else "default". */
const char *aws_profile_selected(bool *explicit_choice);

#endif
