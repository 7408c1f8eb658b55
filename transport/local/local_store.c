/* type=local as a store: the tags of index.json, the files of
 * blobs/sha256, and the uploads a crashed export left in ingest/.
 * Changes happen under index.json.lock, the lock every export takes to
 * publish its tag. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/model/media_type.h"
#include "core/util/buffer.h"
#include "core/util/error.h"
#include "formats/cache_manifest.h"
#include "formats/oci_layout.h"
#include "transport/local/local.h"

/* Documents the mark walks through: roots and what they list. */
#define DOCUMENT_READ_MAX (64u << 20)

static void blob_file(char *out, size_t size, const struct local_transport *l, const char *digest)
{
	snprintf(out, size, "%s/blobs/sha256/%s", l->dir, digest_hex(digest));
}

static void time_of(struct timestamp *out, const struct stat *st)
{
	*out = (struct timestamp){.seconds = st->st_mtim.tv_sec, .nanos = (int32_t)st->st_mtim.tv_nsec};
}

static const char *entry_name(const struct descriptor *d)
{
	const char *name = descriptor_annotation(d, ANN_IMAGE_NAME);
	if (!name || !*name)
		name = descriptor_annotation(d, ANN_REF_NAME);
	return name ? name : "";
}

/* A root is a cache when it names a cache config, as the importer decides. */
static bool root_is_cache(const struct local_transport *l, const struct descriptor *d)
{
	char path[4096];
	struct buffer b = BUFFER_INIT;
	struct cache_root root;
	bool is_cache = false;
	blob_file(path, sizeof(path), l, d->digest);
	if (buffer_read_file(&b, path, DOCUMENT_READ_MAX) == 0 && cache_manifest_parse(&root, b.data, b.len) == 0) {
		is_cache = root.has_config;
		cache_root_free(&root);
	}
	buffer_free(&b);
	error_clear();
	return is_cache;
}

static int local_store_list(struct transport *t, struct store_entry **out, size_t *n)
{
	struct local_transport *l = (struct local_transport *)t;
	struct oci_index idx;
	*out = NULL;
	*n = 0;
	memset(&idx, 0, sizeof(idx));
	int rc = oci_index_read(&idx, l->dir);
	if (rc)
		return rc;
	struct store_entry *e = calloc(idx.n_manifests + 1, sizeof(*e));
	if (!e) {
		oci_index_free(&idx);
		return error_oom();
	}
	for (size_t i = 0; i < idx.n_manifests; i++) {
		const struct descriptor *d = &idx.manifests[i];
		char path[4096];
		struct stat st;
		if (!(e[i].name = strdup(entry_name(d)))) {
			rc = error_oom();
			break;
		}
		memcpy(e[i].digest, d->digest, DIGEST_BUF);
		e[i].size = d->size;
		blob_file(path, sizeof(path), l, d->digest);
		if (stat(path, &st) == 0)
			time_of(&e[i].written, &st);
		/* An image tag (io.containerd.image.name) is never a cache export. */
		const char *image = descriptor_annotation(d, ANN_IMAGE_NAME);
		e[i].is_cache = !(image && *image) && root_is_cache(l, d);
	}
	size_t count = idx.n_manifests;
	oci_index_free(&idx);
	if (rc) {
		store_entries_free(e, count);
		return rc;
	}
	*out = e;
	*n = count;
	return 0;
}

static const char *local_store_selected(struct transport *t)
{
	return ((struct local_transport *)t)->tag;
}

static int local_store_select(struct transport *t, const char *name)
{
	struct local_transport *l = (struct local_transport *)t;
	char *tag = strdup(name);
	CHECK_ALLOC(tag);
	free(l->tag);
	l->tag = tag;
	memset(l->digest, 0, sizeof(l->digest));
	return 0;
}

static bool is_manifest_type(const char *mt)
{
	return mt && (strcmp(mt, MT_OCI_MANIFEST) == 0 || strcmp(mt, MT_OCI_INDEX) == 0 ||
		      strcmp(mt, MT_DOCKER_MANIFEST) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0);
}

static int mark_document(struct local_transport *l, const char *digest, int64_t size, struct strmap *marks,
			 int depth);

static int mark_descriptor(struct local_transport *l, const cJSON *d, struct strmap *marks, int depth)
{
	const cJSON *digest = cJSON_GetObjectItemCaseSensitive(d, "digest");
	const cJSON *size = cJSON_GetObjectItemCaseSensitive(d, "size");
	const cJSON *mt = cJSON_GetObjectItemCaseSensitive(d, "mediaType");
	if (!cJSON_IsString(digest) || digest_check(digest->valuestring, ERR_FAILURE, "descriptor")) {
		error_clear();
		return 0;
	}
	int64_t n = cJSON_IsNumber(size) ? (int64_t)size->valuedouble : 0;
	if (is_manifest_type(cJSON_IsString(mt) ? mt->valuestring : NULL))
		return mark_document(l, digest->valuestring, n, marks, depth + 1);
	return strmap_put(marks, digest->valuestring, (size_t)n);
}

/* Marks a document and, when it is a manifest or an index, everything it
 * lists.  A missing or unreadable document marks only itself. */
static int mark_document(struct local_transport *l, const char *digest, int64_t size, struct strmap *marks,
			 int depth)
{
	char path[4096];
	struct buffer b = BUFFER_INIT;
	size_t seen;
	if (strmap_get(marks, digest, &seen) || depth > 8)
		return 0;
	int rc = strmap_put(marks, digest, (size_t)size);
	if (rc)
		return rc;
	blob_file(path, sizeof(path), l, digest);
	if (buffer_read_file(&b, path, DOCUMENT_READ_MAX)) {
		error_clear();
		buffer_free(&b);
		return 0;
	}
	cJSON *doc = cJSON_ParseWithLength(b.data, b.len);
	buffer_free(&b);
	if (!doc)
		return 0;
	const char *lists[] = {"config", "layers", "manifests", "blobs"};
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]) && !rc; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, lists[i]);
		if (cJSON_IsObject(v)) {
			rc = mark_descriptor(l, v, marks, depth);
			continue;
		}
		const cJSON *item;
		cJSON_ArrayForEach(item, v)
		{
			if (rc || (rc = mark_descriptor(l, item, marks, depth)))
				break;
		}
	}
	cJSON_Delete(doc);
	return rc;
}

static int local_store_mark(struct transport *t, const struct store_entry *e, struct strmap *marks)
{
	return mark_document((struct local_transport *)t, e->digest, e->size, marks, 0);
}

static bool entry_matches(const struct descriptor *d, const struct store_entry *e)
{
	return strcmp(d->digest, e->digest) == 0 && strcmp(entry_name(d), e->name) == 0;
}

/* Under the store lock (prune) or its own (rm). */
static int local_store_remove(struct transport *t, const struct store_entry *e)
{
	struct local_transport *l = (struct local_transport *)t;
	struct oci_index idx;
	struct buffer out = BUFFER_INIT;
	char path[4096];
	int lock = -1, rc = 0;
	size_t kept = 0;
	bool found = false;
	if (l->store_lock < 0 && (rc = oci_layout_lock(&lock, l->dir, true)))
		return rc;
	memset(&idx, 0, sizeof(idx));
	if ((rc = oci_index_read(&idx, l->dir)))
		goto out;
	for (size_t i = 0; i < idx.n_manifests; i++) {
		if (entry_matches(&idx.manifests[i], e)) {
			descriptor_free(&idx.manifests[i]);
			found = true;
		} else {
			idx.manifests[kept++] = idx.manifests[i];
		}
	}
	idx.n_manifests = kept;
	if (!found) {
		rc = error_set(ERR_NOT_FOUND, "%s/index.json no longer tags %s as \"%s\"", l->dir, e->digest, e->name);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/index.json", l->dir);
	if (!(rc = oci_index_serialize(&idx, &out)))
		rc = write_file_atomic(path, out.data, out.len, 0644);
out:
	oci_index_free(&idx);
	buffer_free(&out);
	oci_layout_unlock(lock, l->dir, true);
	return rc;
}

static int add_files(struct local_transport *l, const char *sub, bool are_blobs, struct store_blob **list,
		     size_t *n, size_t *cap)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/%s", l->dir, sub);
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : error_set_errno(ERR_FAILURE, errno, "cannot list %s", dir);
	struct dirent *de;
	int rc = 0;
	while (!rc && (de = readdir(d))) {
		char path[4400];
		struct stat st;
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 64;
			struct store_blob *g = realloc(*list, nc * sizeof(*g));
			if (!g) {
				rc = error_oom();
				break;
			}
			*list = g;
			*cap = nc;
		}
		struct store_blob *b = &(*list)[*n];
		memset(b, 0, sizeof(*b));
		b->size = (int64_t)st.st_size;
		time_of(&b->modified, &st);
		if (are_blobs && strlen(de->d_name) == 64) {
			memcpy(b->digest, "sha256:", 7);
			memcpy(b->digest + 7, de->d_name, 65); /* with its NUL */
		} else if (!(b->id = malloc(strlen(sub) + strlen(de->d_name) + 2))) {
			rc = error_oom();
			break;
		} else {
			sprintf(b->id, "%s/%s", sub, de->d_name);
		}
		(*n)++;
	}
	closedir(d);
	return rc;
}

static int local_store_list_blobs(struct transport *t, struct store_blob **out, size_t *n)
{
	struct local_transport *l = (struct local_transport *)t;
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	int rc = add_files(l, "blobs/sha256", true, out, n, &cap);
	if (!rc)
		rc = add_files(l, "ingest", false, out, n, &cap);
	if (rc) {
		store_blobs_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

/* Sets the file aside (rename) before looking at its time a last time: an
 * export refreshes a blob's time before it counts it as present, so it
 * either refreshed it before this rename (the blob is put back) or finds
 * it gone and writes it again. */
static int delete_one(const char *path, const struct timestamp *spare_after, bool *deleted, int64_t *size)
{
	char aside[4500];
	struct stat st;
	struct timestamp mtime;
	*deleted = false;
	snprintf(aside, sizeof(aside), "%s.pruning", path);
	if (rename(path, aside) != 0)
		return errno == ENOENT ? 0 : error_set_errno(ERR_FAILURE, errno, "cannot delete %s", path);
	if (stat(aside, &st) != 0)
		return error_set_errno(ERR_FAILURE, errno, "stat %s", aside);
	time_of(&mtime, &st);
	if (timestamp_compare(&mtime, spare_after) > 0) {
		if (rename(aside, path) != 0)
			return error_set_errno(ERR_FAILURE, errno, "cannot put %s back", path);
		return 0;
	}
	if (unlink(aside) != 0)
		return error_set_errno(ERR_FAILURE, errno, "cannot delete %s", aside);
	*deleted = true;
	*size = (int64_t)st.st_size;
	return 0;
}

static int local_store_delete_blobs(struct transport *t, const struct store_blob *b, size_t n,
				    const struct timestamp *spare_after, size_t *deleted, int64_t *bytes)
{
	struct local_transport *l = (struct local_transport *)t;
	*deleted = 0;
	*bytes = 0;
	for (size_t i = 0; i < n; i++) {
		char path[4400];
		bool gone;
		int64_t size = 0;
		if (b[i].id)
			snprintf(path, sizeof(path), "%s/%s", l->dir, b[i].id);
		else
			blob_file(path, sizeof(path), l, b[i].digest);
		int rc = delete_one(path, spare_after, &gone, &size);
		if (rc)
			return rc;
		if (gone) {
			(*deleted)++;
			*bytes += size;
		}
	}
	return 0;
}

/* Waits for an export that holds it (only while it rewrites index.json),
 * up to the lock timeout (--lock-timeout). */
static int local_store_lock(struct transport *t)
{
	struct local_transport *l = (struct local_transport *)t;
	return oci_layout_lock(&l->store_lock, l->dir, true);
}

static void local_store_unlock(struct transport *t)
{
	struct local_transport *l = (struct local_transport *)t;
	oci_layout_unlock(l->store_lock, l->dir, true);
	l->store_lock = -1;
}

const struct store_ops local_store_ops = {
	.list = local_store_list,
	.selected = local_store_selected,
	.select = local_store_select,
	.mark = local_store_mark,
	.remove = local_store_remove,
	.list_blobs = local_store_list_blobs,
	.delete_blobs = local_store_delete_blobs,
	.lock = local_store_lock,
	.unlock = local_store_unlock,
	.blob_fate = "deleted",
};
