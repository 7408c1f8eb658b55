#include "core/util/export_result.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util/buffer.h"
#include "core/util/json_out.h"

static void member_or_null(struct json_out *j, const char *key, const char *value)
{
	json_key(j, key);
	if (value && *value)
		json_string(j, value);
	else
		json_null(j);
}

void export_result_members(struct json_out *j, const struct export_result *r)
{
	json_member_string(j, "destination", r->destination ? r->destination : "");
	json_member_string(j, "type", r->type ? r->type : "");
	if (r->place_key)
		member_or_null(j, r->place_key, r->place);
	member_or_null(j, "tag", r->tag);
	json_member_string(j, "outcome", r->outcome ? r->outcome : "failed");
	member_or_null(j, "root", r->root_digest);
	member_or_null(j, "config", r->config_digest);
	json_member_int(j, "records", (int64_t)r->records);
	json_member_int(j, "blobsWritten", r->blobs_written);
	json_member_int(j, "blobsSkipped", r->blobs_skipped);
	json_member_int(j, "bytesWritten", r->bytes_written);
	if (*r->error)
		json_member_string(j, "error", r->error);
}

static int write_all(const char *tmp, const struct buffer *b)
{
	FILE *f = fopen(tmp, "wb");
	if (!f)
		return error_set_errno(ERR_FAILURE, errno, "--metadata-file: cannot create %s", tmp);
	int failed = fwrite(b->data, 1, b->len, f) != b->len || fflush(f) != 0 || fsync(fileno(f)) != 0;
	int err = errno;
	if (fclose(f) != 0 && !failed) {
		failed = 1;
		err = errno;
	}
	if (failed) {
		unlink(tmp);
		return error_set_errno(ERR_FAILURE, err, "--metadata-file: cannot write %s", tmp);
	}
	return 0;
}

int export_results_write_file(const char *path, const char *command, const struct export_result *r, size_t n)
{
	struct buffer b = BUFFER_INIT, tmp = BUFFER_INIT;
	struct json_out j;
	json_out_init(&j, &b);
	json_object_begin(&j);
	json_member_string(&j, "command", command);
	json_key(&j, "destinations");
	json_array_begin(&j);
	for (size_t i = 0; i < n; i++) {
		json_object_begin(&j);
		export_result_members(&j, &r[i]);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_object_end(&j);
	int rc = json_out_status(&j);
	if (!rc)
		rc = buffer_append(&b, "\n", 1);
	/* A reader never sees half a file: the whole of it appears at once. */
	if (!rc)
		rc = buffer_appendf(&tmp, "%s.tmp-%ld", path, (long)getpid());
	if (!rc)
		rc = write_all(tmp.data, &b);
	if (!rc && rename(tmp.data, path) != 0) {
		rc = error_set_errno(ERR_FAILURE, errno, "--metadata-file: cannot rename %s to %s", tmp.data, path);
		unlink(tmp.data);
	}
	buffer_free(&b);
	buffer_free(&tmp);
	return rc;
}
