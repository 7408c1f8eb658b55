/* cachectl du STORE */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/util/error.h"
#include "core/util/json_out.h"
#include "core/util/size.h"
#include "cli/store_survey_command.h"
#include "core/util/printable.h"

static const char help[] =
	"usage: cachectl du [--format text|json] STORE\n"
	"\n"
	"Shows what the store's caches weigh: per cache, the bytes of every blob it\n"
	"references and, of those, the bytes no other entry shares (what removing it would\n"
	"free); then the store's blobs that nothing references (what prune would delete once\n"
	"they are older than its --grace) and leftover uploads.\n"
	"\n"
	"  --format FORMAT   text (the default) or json\n" COMMON_HELP;

static void print_text(const struct store_survey *s)
{
	char a[32], b[32], c[32];
	printf("%-24s %-6s %10s %10s %10s\n", "NAME", "KIND", "BYTES", "UNIQUE", "SHARED");
	for (size_t i = 0; i < s->n_entries; i++) {
		const struct entry_summary *e = &s->entries[i];
		size_format(a, sizeof(a), e->bytes);
		size_format(b, sizeof(b), e->unique_bytes);
		size_format(c, sizeof(c), e->bytes - e->unique_bytes);
		char name[1024];
		printf("%-24s %-6s %10s %10s %10s\n",
		       *e->entry.name ? printable(name, sizeof(name), e->entry.name, 0) : "(untagged)",
		       e->entry.is_cache ? "cache" : "image", a, b, c);
	}
	if (s->usage_known) {
		size_format(a, sizeof(a), s->usage_bytes);
		printf("\nthe repository's cache usage (GitHub): %lld entries, %s\n", (long long)s->usage_entries, a);
	}
	if (!s->blobs_listed) {
		printf("\nthe store does not list its blobs: unreferenced bytes unknown\n");
		return;
	}
	size_format(a, sizeof(a), s->stored_bytes);
	size_format(b, sizeof(b), s->unreferenced_bytes);
	size_format(c, sizeof(c), s->leftover_bytes);
	printf("\nstored: %zu blobs, %s; unreferenced: %zu blobs, %s; leftover uploads: %zu, %s\n", s->n_blobs, a,
	       s->n_unreferenced, b, s->n_leftovers, c);
}

static int print_json(const struct store_survey *s, const char *store)
{
	struct buffer out = BUFFER_INIT;
	struct json_out j;
	json_out_init(&j, &out);
	json_object_begin(&j);
	json_member_string(&j, "store", store);
	json_key(&j, "entries");
	json_array_begin(&j);
	for (size_t i = 0; i < s->n_entries; i++) {
		const struct entry_summary *e = &s->entries[i];
		json_object_begin(&j);
		json_member_string(&j, "name", e->entry.name);
		json_member_string(&j, "kind", e->entry.is_cache ? "cache" : "image");
		json_member_string(&j, "digest", e->entry.digest);
		json_member_int(&j, "bytes", e->bytes);
		json_member_int(&j, "uniqueBytes", e->unique_bytes);
		json_member_int(&j, "sharedBytes", e->bytes - e->unique_bytes);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_key(&j, "blobsListed");
	json_bool(&j, s->blobs_listed);
	json_member_int(&j, "blobs", (int64_t)s->n_blobs);
	json_member_int(&j, "storedBytes", s->stored_bytes);
	json_member_int(&j, "unreferencedBlobs", (int64_t)s->n_unreferenced);
	json_member_int(&j, "unreferencedBytes", s->unreferenced_bytes);
	json_member_int(&j, "leftovers", (int64_t)s->n_leftovers);
	json_member_int(&j, "leftoverBytes", s->leftover_bytes);
	if (s->usage_known) {
		json_member_int(&j, "usageBytes", s->usage_bytes);
		json_member_int(&j, "usageEntries", s->usage_entries);
	}
	json_object_end(&j);
	int rc = json_out_status(&j);
	if (!rc)
		printf("%s\n", out.data);
	buffer_free(&out);
	return rc;
}

int cmd_du(int argc, char **argv)
{
	static const struct survey_printer printer = {"du", help, print_json, print_text};
	return store_survey_command(argc, argv, &printer);
}
