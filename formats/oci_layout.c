#include "formats/oci_layout.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/util/error.h"
#include "core/util/temp_files.h"
#include "core/util/json_out.h"
#include "core/model/media_type.h"
#include "core/util/stream.h"
#include "core/util/json_number.h"

void oci_index_free(struct oci_index *idx)
{
	free(idx->media_type);
	free(idx->artifact_type);
	for (size_t i = 0; i < idx->n_manifests; i++)
		descriptor_free(&idx->manifests[i]);
	free(idx->manifests);
	if (idx->subject) {
		descriptor_free(idx->subject);
		free(idx->subject);
	}
	descriptor_free(&idx->annotations);
	memset(idx, 0, sizeof(*idx));
}

static int opt_string(char **out, const cJSON *doc, const char *name, const char *what)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, name);
	*out = NULL;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v))
		return error_set(ERR_FAILURE, "%s: %s is not a string", what, name);
	*out = strdup(v->valuestring);
	return *out ? 0 : error_oom();
}

static int parse_manifests(struct oci_index *out, const cJSON *manifests, const char *what)
{
	if (!cJSON_IsArray(manifests))
		return error_set(ERR_FAILURE, "%s: manifests is not an array", what);
	size_t n = (size_t)cJSON_GetArraySize(manifests);
	out->manifests = calloc(n + 1, sizeof(*out->manifests));
	CHECK_ALLOC(out->manifests);
	const cJSON *it;
	cJSON_ArrayForEach(it, manifests) {
		char label[256];
		snprintf(label, sizeof(label), "%s entry %zu", what, out->n_manifests);
		int rc = descriptor_parse_json(&out->manifests[out->n_manifests], it, label);
		if (rc)
			return rc;
		out->n_manifests++;
	}
	return 0;
}

static int parse_subject(struct oci_index *out, const cJSON *subject)
{
	out->subject = calloc(1, sizeof(*out->subject));
	CHECK_ALLOC(out->subject);
	int rc = descriptor_parse_json(out->subject, subject, "index subject");
	if (rc) {
		free(out->subject);
		out->subject = NULL;
	}
	return rc;
}

static int parse_annotations(struct oci_index *out, const cJSON *ann, const char *what)
{
	if (!cJSON_IsObject(ann))
		return error_set(ERR_FAILURE, "%s: annotations is not an object", what);
	const cJSON *it;
	cJSON_ArrayForEach(it, ann) {
		if (!cJSON_IsString(it))
			return error_set(ERR_FAILURE, "%s: annotation %s is not a string", what, it->string);
		int rc = descriptor_annotation_set(&out->annotations, it->string, it->valuestring);
		if (rc)
			return rc;
	}
	return 0;
}

/* Whether a member is there with a value (null counts as absent). */
static const cJSON *present(const cJSON *doc, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, name);
	return v && !cJSON_IsNull(v) ? v : NULL;
}

static int parse_members(struct oci_index *out, const cJSON *doc, const char *what)
{
	const cJSON *sv, *manifests, *subject, *ann;
	int rc;
	if ((sv = present(doc, "schemaVersion"))) {
		int64_t version;
		if (!json_integer(sv, INT32_MIN, INT32_MAX, &version))
			return error_set(ERR_FAILURE, "%s: schemaVersion is not an integer a 32-bit int holds", what);
		out->schema_version = (int)version;
	}
	if ((rc = opt_string(&out->media_type, doc, "mediaType", what)) ||
	    (rc = opt_string(&out->artifact_type, doc, "artifactType", what)) ||
	    ((manifests = present(doc, "manifests")) && (rc = parse_manifests(out, manifests, what))) ||
	    ((subject = present(doc, "subject")) && (rc = parse_subject(out, subject))))
		return rc;
	return (ann = present(doc, "annotations")) ? parse_annotations(out, ann, what) : 0;
}

int oci_index_parse(struct oci_index *out, const char *json, size_t len, const char *what)
{
	memset(out, 0, sizeof(*out));
	cJSON *doc = cJSON_ParseWithLength(json, len);
	if (!doc)
		return error_set(ERR_FAILURE, "%s is not valid JSON", what);
	int rc = cJSON_IsObject(doc) ? parse_members(out, doc, what)
				     : error_set(ERR_FAILURE, "%s is not a JSON object", what);
	cJSON_Delete(doc);
	if (rc)
		oci_index_free(out);
	return rc;
}

int oci_index_read(struct oci_index *out, const char *dir)
{
	struct buffer b = BUFFER_INIT;
	char path[4096];
	snprintf(path, sizeof(path), "%s/index.json", dir);
	int rc = buffer_read_file(&b, path, 64u << 20);
	if (rc == ERR_NOT_FOUND)
		rc = error_set(ERR_NOT_FOUND, "no cache at %s: it has no index.json", dir);
	if (!rc)
		rc = oci_index_parse(out, b.data, b.len, path);
	buffer_free(&b);
	return rc;
}

int oci_index_serialize(const struct oci_index *idx, struct buffer *out)
{
	struct json_out j;
	buffer_reset(out);
	json_out_init(&j, out);
	json_object_begin(&j);
	json_member_int(&j, "schemaVersion", idx->schema_version);
	if (idx->media_type && *idx->media_type)
		json_member_string(&j, "mediaType", idx->media_type);
	if (idx->artifact_type && *idx->artifact_type)
		json_member_string(&j, "artifactType", idx->artifact_type);
	json_key(&j, "manifests");
	json_array_begin(&j);
	for (size_t i = 0; i < idx->n_manifests; i++)
		descriptor_write_json(&j, &idx->manifests[i]);
	json_array_end(&j);
	if (idx->subject) {
		json_key(&j, "subject");
		descriptor_write_json(&j, idx->subject);
	}
	if (idx->annotations.n_annotations) {
		json_key(&j, "annotations");
		json_object_begin(&j);
		for (size_t i = 0; i < idx->annotations.n_annotations; i++)
			json_member_string(&j, idx->annotations.annotations[i].key,
					   idx->annotations.annotations[i].value);
		json_object_end(&j);
	}
	json_object_end(&j);
	return json_out_status(&j);
}

const struct descriptor *oci_index_find(const struct oci_index *idx, const char *tag)
{
	for (size_t i = 0; i < idx->n_manifests; i++) {
		const char *name = descriptor_annotation(&idx->manifests[i], ANN_IMAGE_NAME);
		if (name && strcmp(name, tag) == 0)
			return &idx->manifests[i];
	}
	for (size_t i = 0; i < idx->n_manifests; i++) {
		const char *ref = descriptor_annotation(&idx->manifests[i], ANN_REF_NAME);
		if (ref && strcmp(ref, tag) == 0)
			return &idx->manifests[i];
	}
	return NULL;
}

int oci_index_replace(struct oci_index *idx, bool (*gone)(const struct descriptor *d, const char *name),
		      const char *name, struct descriptor *entry)
{
	size_t kept = 0;
	for (size_t i = 0; i < idx->n_manifests; i++) {
		if (gone(&idx->manifests[i], name))
			descriptor_free(&idx->manifests[i]);
		else
			idx->manifests[kept++] = idx->manifests[i];
	}
	idx->n_manifests = kept;
	struct descriptor *m = realloc(idx->manifests, (kept + 1) * sizeof(*m));
	if (!m) {
		descriptor_free(entry);
		return error_oom();
	}
	idx->manifests = m;
	idx->manifests[idx->n_manifests++] = *entry;
	return 0;
}

/* BuildKit's rule for a cache export: same-tag cache entries give way;
 * image entries (those with an image name) stay. */
static bool same_tag_cache_entry(const struct descriptor *d, const char *tag)
{
	const char *ref = descriptor_annotation(d, ANN_REF_NAME);
	const char *image = descriptor_annotation(d, ANN_IMAGE_NAME);
	return strcmp(ref ? ref : "", tag) == 0 && (!image || !*image);
}

static double lock_timeout = OCI_LAYOUT_LOCK_TIMEOUT_DEFAULT;
static void (*lock_on_wait)(void *ctx, const char *lock_path);
static void *lock_on_wait_ctx;

void oci_layout_set_lock_wait(double timeout_seconds, void (*on_wait)(void *ctx, const char *lock_path), void *ctx)
{
	lock_timeout = timeout_seconds;
	lock_on_wait = on_wait;
	lock_on_wait_ctx = ctx;
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* True when fd is still the file at path: a holder that unlinked it after
 * use (BuildKit does) leaves us locking a file nobody else will look at,
 * while a newcomer creates and locks a new one. */
static bool lock_file_current(int fd, const char *path)
{
	struct stat held, named;
	return fstat(fd, &held) == 0 && stat(path, &named) == 0 && held.st_dev == named.st_dev &&
	       held.st_ino == named.st_ino;
}

/* One try: 0 with *fd locked, 1 when another process holds it (or held it
 * and replaced the file: try again), else an error. */
static int lock_try(int *fd, const char *path, bool exclusive)
{
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (*fd < 0) {
		if (!exclusive && (errno == EROFS || errno == EPERM || errno == EACCES))
			return 0; /* read-only store: read without a lock */
		return error_set_errno(ERR_FAILURE, errno, "could not create %s", path);
	}
	int held = flock(*fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0;
	int e = errno;
	if (!held && lock_file_current(*fd, path))
		return 0;
	close(*fd);
	*fd = -1;
	if (held && e != EWOULDBLOCK)
		return error_set_errno(ERR_FAILURE, e, "could not lock %s", path);
	return 1;
}

int oci_layout_lock(int *fd, const char *dir, bool exclusive)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/index.json.lock", dir);
	double deadline = now_seconds() + lock_timeout;
	bool told = false;
	for (;;) {
		int rc = lock_try(fd, path, exclusive);
		if (rc <= 0)
			return rc;
		if (now_seconds() >= deadline)
			return error_set(ERR_FAILURE,
					 "could not lock %s: another export is writing this cache (waited %.0f s; "
					 "--lock-timeout sets how long to wait)",
					 path, lock_timeout);
		if (!told && lock_on_wait)
			lock_on_wait(lock_on_wait_ctx, path);
		told = true;
		struct timespec pause = {0, 20 * 1000 * 1000};
		nanosleep(&pause, NULL);
	}
}

void oci_layout_unlock(int fd, const char *dir, bool exclusive)
{
	char path[4096];
	if (fd < 0)
		return;
	snprintf(path, sizeof(path), "%s/index.json.lock", dir);
	/* The lock file is removed after use, as buildctl does, but only by
	 * its sole holder and only while it is still the file at the path: a
	 * reader sharing it that unlinked it after a writer had made a new one
	 * would let a second writer in beside the first (two index.json
	 * updates, one lost).  A reader becomes sole holder by converting to
	 * exclusive without waiting; when others hold it, it just lets go. */
	if (!exclusive)
		exclusive = flock(fd, LOCK_EX | LOCK_NB) == 0;
	if (exclusive && lock_file_current(fd, path))
		unlink(path);
	close(fd);
}

int write_file_atomic(const char *path, const void *data, size_t len, int mode)
{
	char tmp[4200];
	int slot, rc = 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path);
	int fd = mkstemp(tmp);
	if (fd < 0)
		return error_set_errno(ERR_FAILURE, errno, "cannot create a temporary file beside %s", path);
	temp_file_track(tmp, &slot);
	if ((rc = fd_write_all(fd, data, len, path))) {
		close(fd);
	} else if (fchmod(fd, (mode_t)mode) != 0 || fsync(fd) != 0 || close(fd) != 0) {
		rc = error_set_errno(ERR_FAILURE, errno, "write %s", path);
	} else if (rename(tmp, path) != 0) {
		rc = error_set_errno(ERR_FAILURE, errno, "replace %s", path);
	}
	if (rc)
		unlink(tmp);
	temp_file_untrack(slot);
	return rc;
}

int oci_layout_put_root(const char *dir, const struct descriptor *root, const char *tag)
{
	struct oci_index idx;
	struct buffer out = BUFFER_INIT;
	char path[4096];
	int lock, rc = oci_layout_lock(&lock, dir, true);
	if (rc)
		return rc;
	memset(&idx, 0, sizeof(idx));
	snprintf(path, sizeof(path), "%s/oci-layout", dir);
	rc = write_file_atomic(path, OCI_LAYOUT_CONTENT, strlen(OCI_LAYOUT_CONTENT), 0644);
	if (rc)
		goto out;
	rc = oci_index_read(&idx, dir);
	if (rc == ERR_NOT_FOUND) {
		memset(&idx, 0, sizeof(idx));
		rc = 0;
	}
	if (rc)
		goto out;
	if (idx.schema_version == 0)
		idx.schema_version = 2;
	if ((!idx.media_type || !*idx.media_type)) {
		free(idx.media_type);
		if (!(idx.media_type = strdup(MT_OCI_INDEX))) {
			rc = error_oom();
			goto out;
		}
	}
	struct descriptor entry;
	descriptor_init(&entry);
	memcpy(entry.digest, root->digest, DIGEST_BUF);
	entry.size = root->size;
	if ((rc = descriptor_set_media_type(&entry, root->media_type)) ||
	    (rc = descriptor_annotation_set(&entry, ANN_REF_NAME, tag))) {
		descriptor_free(&entry);
		goto out;
	}
	if ((rc = oci_index_replace(&idx, same_tag_cache_entry, tag, &entry)) ||
	    (rc = oci_index_serialize(&idx, &out)))
		goto out;
	snprintf(path, sizeof(path), "%s/index.json", dir);
	rc = write_file_atomic(path, out.data, out.len, 0644);
out:
	oci_index_free(&idx);
	buffer_free(&out);
	oci_layout_unlock(lock, dir, true);
	return rc;
}
