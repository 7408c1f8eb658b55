/* cachectl ls STORE */
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
	"usage: cachectl ls [--format text|json] STORE\n"
	"\n"
	"Lists every cache the store holds -- its tag or name, root digest, records, blobs,\n"
	"bytes and when it was last written -- and the images that share its blobs.  STORE is\n"
	"a SRC without its tag or name: type=local,src=DIR (or DIR), type=registry,ref=REPO,\n"
	"type=s3,bucket=B,region=R[,prefix=P], type=gha[,scope=S,repository=OWNER/NAME].\n"
	"A cache whose config BuildKit would refuse (over 1 MiB) is flagged.\n"
	"\n"
	"  --format FORMAT   text (the default) or json\n" COMMON_HELP;

static void print_text(const struct store_survey *s)
{
	char bytes[32], when[TIMESTAMP_BUF];
	printf("%-24s %-6s %-19s %8s %6s %10s  %s\n", "NAME", "KIND", "DIGEST", "RECORDS", "BLOBS", "BYTES",
	       "WRITTEN");
	for (size_t i = 0; i < s->n_entries; i++) {
		const struct entry_summary *e = &s->entries[i];
		size_format(bytes, sizeof(bytes), e->bytes);
		if (timestamp_is_zero(&e->entry.written) || e->entry.written.seconds == 0)
			snprintf(when, sizeof(when), "-");
		else
			timestamp_format(when, &e->entry.written, true);
		char name[1024], digest[512];
		printf("%-24s %-6s %-19.19s %8zu %6zu %10s  %s%s\n",
		       *e->entry.name ? printable(name, sizeof(name), e->entry.name, 0) : "(untagged)",
		       e->entry.is_cache ? "cache" : "image", printable(digest, sizeof(digest), e->entry.digest, 0),
		       e->records, e->blobs, bytes, when,
		       e->over_buildkit_limit ? "  config over BuildKit's 1 MiB limit" : "");
		if (e->entry.is_cache && !e->readable)
			printf("    unreadable: %s\n", printable(name, sizeof(name), e->problem, 0));
	}
}

static int print_json(const struct store_survey *s, const char *store)
{
	struct buffer out = BUFFER_INIT;
	struct json_out j;
	char when[TIMESTAMP_BUF];
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
		json_member_int(&j, "size", e->entry.size);
		json_key(&j, "written");
		if (e->entry.written.seconds) {
			timestamp_format(when, &e->entry.written, true);
			json_string(&j, when);
		} else {
			json_null(&j);
		}
		json_member_int(&j, "records", (int64_t)e->records);
		json_member_int(&j, "results", (int64_t)e->results);
		json_member_int(&j, "blobs", (int64_t)e->blobs);
		json_member_int(&j, "bytes", e->bytes);
		json_member_int(&j, "configSize", e->config_size);
		json_key(&j, "overBuildKitConfigLimit");
		json_bool(&j, e->over_buildkit_limit);
		json_key(&j, "problem");
		e->entry.is_cache && !e->readable ? json_string(&j, e->problem) : json_null(&j);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_object_end(&j);
	int rc = json_out_status(&j);
	if (!rc)
		printf("%s\n", out.data);
	buffer_free(&out);
	return rc;
}

int cmd_ls(int argc, char **argv)
{
	static const struct survey_printer printer = {"ls", help, print_json, print_text};
	return store_survey_command(argc, argv, &printer);
}
