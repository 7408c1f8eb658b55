/* type=local: an OCI image layout directory, as BuildKit's client and
 * containerd's content store keep it.  Blobs are written once, through a
 * temporary file under ingest/ that is renamed into blobs/sha256/ after its
 * digest has been checked; index.json is merged under the tag last. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/util/error.h"
#include "core/util/temp_files.h"
#include "formats/oci_layout.h"
#include "transport/engine/export_settings.h"
#include "transport/cache_io.h"
#include "transport/local/local.h"
#include "transport/transport.h"


/* Sets the file's time to now: young again for prune's --grace.
 * ERR_NOT_FOUND when it is not there. */
static int refresh_time(const char *path)
{
	if (utimensat(AT_FDCWD, path, NULL, 0) == 0)
		return 0;
	return errno == ENOENT ? ERR_NOT_FOUND : ERR_FAILURE;
}

static void blob_path(char *out, size_t size, const struct local_transport *l, const char *digest)
{
	snprintf(out, size, "%s/blobs/sha256/%s", l->dir, digest_hex(digest));
}

static int local_blob_stat(struct transport *t, const char *digest, int64_t *size)
{
	struct local_transport *l = (struct local_transport *)t;
	char path[4096];
	struct stat st;
	blob_path(path, sizeof(path), l, digest);
	/* A destination refreshes the blob's time first, and only a blob it
	 * could refresh counts as present: prune sets a blob aside before it
	 * looks at the time a last time (local_store.c), so a blob is either
	 * refreshed in place, and kept, or not found here, and written again. */
	if (l->destination && refresh_time(path) == ERR_NOT_FOUND)
		return ERR_NOT_FOUND;
	if (stat(path, &st) != 0) {
		if (errno == ENOENT)
			return ERR_NOT_FOUND;
		return error_set_errno(ERR_FAILURE, errno, "stat %s", path);
	}
	*size = (int64_t)st.st_size;
	return 0;
}

static int local_blob_open(struct transport *t, const struct descriptor *d, struct byte_source **out)
{
	struct local_transport *l = (struct local_transport *)t;
	char path[4096];
	blob_path(path, sizeof(path), l, d->digest);
	int rc = file_source_open(out, path, path);
	if (rc == ERR_NOT_FOUND)
		return error_set(ERR_NOT_FOUND, "blob %s is missing from %s", d->digest, l->dir);
	return rc;
}

/* ---- writing ------------------------------------------------------------ */

struct local_writer {
	struct blob_writer base;
	struct local_transport *l;
	int fd;
	char tmp[4096];
	int tmp_slot; /* tracked for removal if a signal ends the run */
	bool committed;
	off_t written, flushed; /* bytes written; handed to the disk so far */
};

/* The disk gets the bytes while the layer is still being produced, not all
 * at once in the fdatasync of the commit; that also keeps a big layer from
 * filling the page cache with dirty pages. */
#define WRITEBACK_STEP ((off_t)8 << 20)

static int writer_write(struct byte_sink *s, const void *buf, size_t len)
{
	struct local_writer *w = (struct local_writer *)s;
	int rc = fd_write_all(w->fd, buf, len, w->tmp);
	if (rc)
		return rc;
	w->written += (int64_t)len;
	if (w->written - w->flushed >= WRITEBACK_STEP) {
		/* Starts the writeback, does not wait for it; a hint only. */
		sync_file_range(w->fd, w->flushed, w->written - w->flushed, SYNC_FILE_RANGE_WRITE);
		w->flushed = w->written;
	}
	return 0;
}

static int writer_finish(struct byte_sink *s)
{
	(void)s;
	return 0;
}

static void writer_sink_close(struct byte_sink *s)
{
	(void)s; /* the writer's close frees it */
}

static int writer_commit(struct blob_writer *bw, const char *digest, int64_t size, bool *existed)
{
	struct local_writer *w = (struct local_writer *)bw;
	char path[4096];
	struct stat st;
	*existed = false;
	blob_path(path, sizeof(path), w->l, digest);
	if (refresh_time(path) == 0 && stat(path, &st) == 0 && (int64_t)st.st_size == size) {
		/* Written once: the store already has these bytes (refreshed, as above). */
		*existed = true;
		return 0;
	}
	if (fstat(w->fd, &st) != 0 || (int64_t)st.st_size != size)
		return error_set(ERR_FAILURE, "blob %s: wrote %lld bytes, expected %lld", digest,
				 (long long)st.st_size, (long long)size);
	if (fchmod(w->fd, 0444) != 0 || fdatasync(w->fd) != 0)
		return error_set_errno(ERR_FAILURE, errno, "write %s", w->tmp);
	if (rename(w->tmp, path) != 0)
		return error_set_errno(ERR_FAILURE, errno, "rename %s to %s", w->tmp, path);
	w->committed = true;
	temp_file_untrack(w->tmp_slot);
	w->tmp_slot = -1;
	return 0;
}

static void writer_close(struct blob_writer *bw)
{
	struct local_writer *w = (struct local_writer *)bw;
	close(w->fd);
	if (!w->committed)
		unlink(w->tmp);
	temp_file_untrack(w->tmp_slot);
	free(w);
}

static int mkdir_p(const char *dir, const char *what)
{
	char path[4096];
	struct stat st;
	snprintf(path, sizeof(path), "%s", dir);
	for (char *p = path + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST)
			return error_set_errno(ERR_FAILURE, errno, "%s: cannot create %s", what, path);
		if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
			return error_set(ERR_FAILURE, "%s: %s exists and is not a directory", what, path);
		*p = saved;
		if (!saved)
			return 0;
	}
}

/* An ingest file is written to without pause while its blob streams in;
 * one untouched for this long belongs to a run that died (SIGKILL, a
 * crash, a lost machine) and is removed by the next export. */
#define STALE_INGEST_SECONDS (60 * 60)

static void remove_stale_ingest_once(struct local_transport *l, const char *ingest)
{
	pthread_mutex_lock(&l->stale_lock);
	bool first = !l->stale_checked;
	l->stale_checked = true;
	pthread_mutex_unlock(&l->stale_lock);
	if (!first)
		return;
	DIR *d = opendir(ingest);
	if (!d)
		return;
	time_t now = time(NULL);
	struct dirent *e;
	while ((e = readdir(d))) {
		struct stat st;
		if (strncmp(e->d_name, "blob-", 5) != 0 || fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (S_ISREG(st.st_mode) && now - st.st_mtime > STALE_INGEST_SECONDS)
			unlinkat(dirfd(d), e->d_name, 0); /* best effort: a cleanup, not the export's job */
	}
	closedir(d);
}

static int local_blob_create(struct transport *t, const struct descriptor *expected, struct blob_writer **out)
{
	struct local_transport *l = (struct local_transport *)t;
	char dir[4096];
	(void)expected;
	snprintf(dir, sizeof(dir), "%s/blobs/sha256", l->dir);
	int rc = mkdir_p(dir, l->dir);
	if (rc)
		return rc;
	snprintf(dir, sizeof(dir), "%s/ingest", l->dir);
	if ((rc = mkdir_p(dir, l->dir)))
		return rc;
	remove_stale_ingest_once(l, dir);
	struct local_writer *w = calloc(1, sizeof(*w));
	CHECK_ALLOC(w);
	snprintf(w->tmp, sizeof(w->tmp), "%s/ingest/blob-XXXXXX", l->dir);
	w->fd = mkstemp(w->tmp);
	if (w->fd < 0) {
		int e = errno;
		free(w);
		return error_set_errno(ERR_FAILURE, e, "cannot write into %s", l->dir);
	}
	temp_file_track(w->tmp, &w->tmp_slot);
	w->l = l;
	w->base.sink.write = writer_write;
	w->base.sink.finish = writer_finish;
	w->base.sink.close = writer_sink_close;
	w->base.commit = writer_commit;
	w->base.close = writer_close;
	*out = &w->base;
	return 0;
}

/* ---- the cache document ------------------------------------------------- */

static int local_read_cache(struct transport *t, struct cache **out)
{
	struct local_transport *l = (struct local_transport *)t;
	struct stat st;
	struct oci_index idx;
	struct descriptor root;
	struct buffer bytes = BUFFER_INIT;
	int lock = -1, rc;

	if (stat(l->dir, &st) != 0)
		return error_set_errno(errno == ENOENT ? ERR_NOT_FOUND : ERR_FAILURE, errno, "no cache at %s",
				       l->dir);
	if (!S_ISDIR(st.st_mode))
		return error_set(ERR_NOT_FOUND, "no cache at %s: not a directory", l->dir);
	memset(&idx, 0, sizeof(idx));
	descriptor_init(&root);
	if ((rc = oci_layout_lock(&lock, l->dir, false)))
		return rc;
	if (*l->digest) {
		memcpy(root.digest, l->digest, DIGEST_BUF);
	} else {
		if ((rc = oci_index_read(&idx, l->dir)))
			goto out;
		const struct descriptor *found = oci_index_find(&idx, l->tag);
		if (!found) {
			rc = error_set(ERR_NOT_FOUND, "no cache tagged \"%s\" in %s/index.json", l->tag, l->dir);
			goto out;
		}
		memcpy(root.digest, found->digest, DIGEST_BUF);
		root.size = found->size;
	}
	/* The root descriptor carries no media type: the JSON tells its kind. */
	int64_t stored = 0; /* read below even when the stat failed (then unused) */
	rc = local_blob_stat(t, root.digest, &stored);
	if (rc == ERR_NOT_FOUND)
		rc = error_set(ERR_NOT_FOUND, "no cache at %s: root %s is not in the store", l->dir, root.digest);
	/* An index.json entry's size is part of what it vouches for, as for
	 * any descriptor: containerd and BuildKit refuse a mismatch, so do we. */
	if (!rc && !*l->digest && root.size != stored)
		rc = error_set(ERR_CORRUPT, "%s/index.json says root %s is %lld bytes; the blob is %lld", l->dir,
			       root.digest, (long long)root.size, (long long)stored);
	root.size = stored;
	if (rc || (rc = transport_read_small_blob(t, &root, CACHE_DOCUMENT_MAX, &bytes)))
		goto out;
	oci_layout_unlock(lock, l->dir, false);
	lock = -1;
	rc = cache_load_from_root(out, t, &root, bytes.data, bytes.len);
out:
	oci_layout_unlock(lock, l->dir, false);
	oci_index_free(&idx);
	descriptor_free(&root);
	buffer_free(&bytes);
	return rc;
}

/* The config and root as blobs, then the root in index.json; root and
 * the descriptors are the caller's to free. */
static int store_cache(struct transport *t, const struct cache *c, const struct export_form *form,
		       struct buffer *root, struct descriptor *root_desc, struct descriptor *stored)
{
	struct local_transport *l = (struct local_transport *)t;
	int rc;
	if ((rc = mkdir_p(l->dir, l->dir)) ||
	    (rc = cache_store_config_and_root(t, c, &form->root, root, root_desc)) ||
	    (rc = transport_write_small_blob(t, stored, root_desc->media_type, root->data, root->len)))
		return rc;
	return oci_layout_put_root(l->dir, root_desc, l->tag);
}

static int local_write_cache(struct transport *t, const struct cache *c, const struct export_form *form)
{
	struct buffer root = BUFFER_INIT;
	struct descriptor root_desc, stored;
	descriptor_init(&root_desc);
	descriptor_init(&stored);
	int rc = store_cache(t, c, form, &root, &root_desc, &stored);
	buffer_free(&root);
	descriptor_free(&root_desc);
	descriptor_free(&stored);
	return rc;
}

static void local_free(struct transport *t)
{
	struct local_transport *l = (struct local_transport *)t;
	oci_layout_unlock(l->store_lock, l->dir, true);
	free(l->dir);
	free(l->tag);
	pthread_mutex_destroy(&l->stale_lock);
	free(l);
}

static const struct transport_ops local_ops = {
	.blob_stat = local_blob_stat,
	.blob_open = local_blob_open,
	.blob_create = local_blob_create,
	.read_cache = local_read_cache,
	.write_cache = local_write_cache,
	.free = local_free,
	.store = &local_store_ops,
};

/* "local:/abs/dir#tag", resolved without touching the disk (the directory
 * may not exist yet): "x", "./x/" and "$PWD/x" are one place. */
static char *location_of(const char *dir, const char *tag)
{
	char cwd[4096] = "";
	if (dir[0] != '/' && !getcwd(cwd, sizeof(cwd)))
		cwd[0] = '\0';
	size_t size = strlen(cwd) + strlen(dir) + strlen(tag) + 16;
	char *joined = malloc(size), *out = malloc(size);
	if (!joined || !out) {
		free(joined);
		free(out);
		return NULL;
	}
	snprintf(joined, size, "%s/%s", cwd, dir);
	size_t n = 0;
	char *save = NULL;
	for (char *seg = strtok_r(joined, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
		if (strcmp(seg, ".") == 0)
			continue;
		if (strcmp(seg, "..") == 0) {
			while (n > 0 && out[--n] != '/')
				;
			continue;
		}
		n += (size_t)snprintf(out + n, size - n, "/%s", seg);
	}
	snprintf(out + n, size - n, "%s#%s", n ? "" : "/", tag);
	free(joined);
	char *located = malloc(strlen(out) + 8);
	if (located)
		snprintf(located, strlen(out) + 8, "local:%s", out);
	free(out);
	return located;
}

static int local_open(struct transport **out, struct cache_options *o, enum transport_direction dir)
{
	const char *path = options_get(o, dir == TRANSPORT_SOURCE ? "src" : "dest");
	const char *tag = options_get(o, "tag");
	const char *digest = dir == TRANSPORT_SOURCE ? options_get(o, "digest") : NULL;
	if (!path || !*path)
		return error_set(ERR_USAGE, "type=local %s requires %s=DIR",
				 dir == TRANSPORT_SOURCE ? "import" : "export",
				 dir == TRANSPORT_SOURCE ? "src" : "dest");
	if (tag && !*tag)
		return error_set(ERR_USAGE, "type=local: tag= is empty (leave it out for latest)");
	if (digest && digest_check(digest, ERR_USAGE, "type=local digest="))
		return ERR_USAGE;
	if (dir == TRANSPORT_DESTINATION) {
		struct stat st;
		if (stat(path, &st) == 0 && !S_ISDIR(st.st_mode))
			return error_set(ERR_FAILURE, "dest %s exists and is not a directory", path);
	}
	struct local_transport *l = calloc(1, sizeof(*l));
	if (l)
		pthread_mutex_init(&l->stale_lock, NULL);
	CHECK_ALLOC(l);
	l->dir = strdup(path);
	l->tag = strdup(tag ? tag : "latest");
	if (digest)
		memcpy(l->digest, digest, DIGEST_BUF);
	l->destination = dir == TRANSPORT_DESTINATION;
	l->store_lock = -1;
	if (!l->dir || !l->tag || transport_init(&l->base, &local_ops, o)) {
		free(l->base.display);
		local_free(&l->base);
		return error_oom();
	}
	if (!(l->base.location = location_of(l->dir, l->tag))) {
		transport_free(&l->base);
		return error_oom();
	}
	*out = &l->base;
	return 0;
}

static const struct option_key local_keys[] = {
	{.name = "src", .directions = OPTION_SOURCE, .other_direction = "dest"},
	{.name = "dest", .directions = OPTION_DESTINATION, .other_direction = "src"},
	{.name = "tag", .directions = OPTION_BOTH},
	{.name = "digest", .directions = OPTION_SOURCE},
	ROOT_FORM_OPTION_KEYS,
	{.name = NULL},
};

const struct transport_handler local_transport_handler = {
	.type = "local",
	.synopsis = "src=DIR|dest=DIR[,tag=T][,digest=D]",
	.summary = "OCI layout directory (docs/local.md)",
	.can_read = true,
	.can_write = true,
	.keys = local_keys,
	.export_settings = export_settings_read_root_form,
	.open = local_open,
};
