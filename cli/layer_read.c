#include "cli/layer_read.h"

#include <stdio.h>
#include <string.h>

#include "core/util/error.h"
#include "core/util/printable.h"

int layer_resolve(const struct descriptor **out, const struct single_source *s, const char *arg)
{
	const char *hex = strncmp(arg, "sha256:", 7) == 0 ? arg + 7 : arg;
	size_t len = strlen(hex), found = 0;
	if (!len || strspn(hex, "0123456789abcdef") != len)
		return error_set(ERR_USAGE, "LAYER \"%s\" is not a sha256 digest or a prefix of one's hex", arg);
	for (size_t i = 0; i < s->n_blobs; i++)
		if (strncmp(s->blobs[i]->digest + 7, hex, len) == 0) {
			*out = s->blobs[i];
			found++;
		}
	if (!found)
		return error_set(ERR_NOT_FOUND, "no layer of the cache has a digest starting with %s (cachectl inspect "
				 "lists them)", arg);
	if (found > 1)
		return error_set(ERR_USAGE, "%zu layers have a digest starting with %s: give more characters", found,
				 arg);
	return 0;
}

int layer_read_files(struct source_set *set, const struct descriptor *d, bool hash_content, layer_file_fn fn,
		     void *ctx)
{
	struct byte_source *blob, *tar;
	int rc = source_set_open_blob(set, d, &blob);
	if (rc)
		return rc;
	if ((rc = layer_tar_open(&tar, blob, d)))
		return rc;
	rc = layer_files_walk(tar, hash_content, fn, ctx, d->digest);
	source_close(tar);
	return rc;
}


static int add_to_set(void *ctx, const struct layer_file *f)
{
	return layer_file_set_add(ctx, f, 0);
}

int layer_read_set(struct layer_file_set **out, struct source_set *set, const struct descriptor *d,
		   bool hash_content)
{
	struct layer_file_set *fs = NULL;
	int rc = layer_file_set_new(&fs);
	if (!rc)
		rc = layer_read_files(set, d, hash_content, add_to_set, fs);
	if (rc) {
		layer_file_set_free(fs);
		return rc;
	}
	*out = fs;
	return 0;
}

void print_tar_name(const char *s)
{
	printable_fputs(s, stdout);
}
