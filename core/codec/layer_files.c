#include "core/codec/layer_files.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/codec/codec.h"
#include "core/codec/layer_pipeline.h"
#include "core/util/error.h"

#define WHITEOUT_PREFIX ".wh."
#define OPAQUE_MARKER ".wh..wh..opq"

struct walk_state {
	struct byte_source *src;
	unsigned char *buf;
	int rc; /* the source's own error, kept for the caller */
	char *path;
	size_t path_cap;
};

static la_ssize_t read_cb(struct archive *a, void *ctx, const void **block)
{
	struct walk_state *w = ctx;
	ssize_t n = source_read(w->src, w->buf, STREAM_CHUNK);
	if (n < 0) {
		w->rc = (int)n;
		archive_set_error(a, EIO, "%s", error_message());
		return -1;
	}
	*block = w->buf;
	return n;
}

const char *layer_file_kind_name(enum layer_file_kind k)
{
	static const char *const names[] = {"file",  "dir",  "symlink", "hardlink", "char",
					    "block", "fifo", "other",   "whiteout", "opaque"};
	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "other";
}

static enum layer_file_kind kind_of(struct archive_entry *ae)
{
	if (archive_entry_hardlink(ae))
		return LAYER_FILE_HARDLINK;
	switch (archive_entry_filetype(ae)) {
	case AE_IFREG:
		return LAYER_FILE_REGULAR;
	case AE_IFDIR:
		return LAYER_FILE_DIR;
	case AE_IFLNK:
		return LAYER_FILE_SYMLINK;
	case AE_IFCHR:
		return LAYER_FILE_CHAR;
	case AE_IFBLK:
		return LAYER_FILE_BLOCK;
	case AE_IFIFO:
		return LAYER_FILE_FIFO;
	default:
		return LAYER_FILE_OTHER;
	}
}

/* Cleans name into w->path and turns whiteout names into the path they
 * delete, adjusting *kind. */
static int clean_path(struct walk_state *w, const char *name, enum layer_file_kind *kind)
{
	size_t len = strlen(name);
	if (len + 1 > w->path_cap) {
		char *p = realloc(w->path, len + 1);
		CHECK_ALLOC(p);
		w->path = p;
		w->path_cap = len + 1;
	}
	while (name[0] == '.' && name[1] == '/')
		name += 2;
	while (*name == '/')
		name++;
	len = strlen(name);
	while (len && name[len - 1] == '/')
		len--;
	memcpy(w->path, name, len);
	w->path[len] = '\0';
	char *base = strrchr(w->path, '/');
	base = base ? base + 1 : w->path;
	if (strcmp(base, OPAQUE_MARKER) == 0) {
		*kind = LAYER_FILE_OPAQUE;
		base[base > w->path ? -1 : 0] = '\0'; /* the directory it sits in ("" for the root) */
	} else if (strncmp(base, WHITEOUT_PREFIX, strlen(WHITEOUT_PREFIX)) == 0) {
		*kind = LAYER_FILE_WHITEOUT;
		memmove(base, base + strlen(WHITEOUT_PREFIX), strlen(base) - strlen(WHITEOUT_PREFIX) + 1);
	}
	return 0;
}

/* Reads (and hashes when asked) the current entry's data. */
static int read_data(struct archive *a, struct walk_state *w, struct layer_file *f, bool hash, const char *what)
{
	struct sha256 *h = NULL;
	int rc = hash && f->kind == LAYER_FILE_REGULAR ? sha256_new(&h) : 0;
	const void *block;
	size_t n;
	la_int64_t off;
	int r;
	while (!rc && (r = archive_read_data_block(a, &block, &n, &off)) == ARCHIVE_OK)
		if (h)
			rc = sha256_update(h, block, n);
	if (!rc && r != ARCHIVE_EOF)
		rc = w->rc ? w->rc
			   : error_set(ERR_CORRUPT, "%s: reading %s: %s", what, f->name, archive_error_string(a));
	if (!rc && h)
		rc = sha256_final(h, f->content);
	sha256_free(h);
	return rc;
}

static int walk_entries(struct archive *a, struct walk_state *w, bool hash, layer_file_fn fn, void *ctx,
			const char *what)
{
	struct archive_entry *ae;
	int r, rc = 0;
	while (!rc && (r = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
		struct layer_file f = {.name = archive_entry_pathname(ae)};
		if (!f.name)
			f.name = "";
		f.kind = kind_of(ae);
		if ((rc = clean_path(w, f.name, &f.kind)))
			break;
		f.path = w->path;
		f.size = f.kind == LAYER_FILE_REGULAR ? archive_entry_size(ae) : 0;
		f.mode = (unsigned)archive_entry_perm(ae) & 07777;
		f.uid = archive_entry_uid(ae);
		f.gid = archive_entry_gid(ae);
		f.mtime = archive_entry_mtime(ae);
		f.link = archive_entry_hardlink(ae) ? archive_entry_hardlink(ae) : archive_entry_symlink(ae);
		if (!f.link)
			f.link = "";
		if (!(rc = read_data(a, w, &f, hash, what)))
			rc = fn(ctx, &f);
	}
	if (!rc && r != ARCHIVE_EOF)
		rc = w->rc ? w->rc : error_set(ERR_CORRUPT, "%s: not a readable tar: %s", what, archive_error_string(a));
	return rc;
}

int layer_files_walk(struct byte_source *tar, bool hash_content, layer_file_fn fn, void *ctx, const char *what)
{
	struct walk_state w = {.src = tar};
	struct archive *a = archive_read_new();
	int rc = 0;
	if (!a || !(w.buf = malloc(STREAM_CHUNK))) {
		archive_read_free(a);
		return error_oom();
	}
	archive_read_support_format_tar(a);
	archive_read_support_format_empty(a);
	if (archive_read_open(a, &w, NULL, read_cb, NULL) != ARCHIVE_OK)
		rc = w.rc ? w.rc : error_set(ERR_CORRUPT, "%s: not a tar archive: %s", what, archive_error_string(a));
	if (!rc)
		rc = walk_entries(a, &w, hash_content, fn, ctx, what);
	/* drain what follows the archive, so a checking source sees every byte */
	for (ssize_t n = 1; !rc && n > 0;)
		if ((n = source_read(tar, w.buf, STREAM_CHUNK)) < 0)
			rc = (int)n;
	archive_read_free(a);
	free(w.buf);
	free(w.path);
	return rc;
}

int layer_tar_open(struct byte_source **out, struct byte_source *blob, const struct descriptor *d)
{
	struct byte_source *checked;
	enum compression c = layer_encoding(d);
	int rc = verified_source_new(&checked, blob, d->digest, d->size);
	if (rc)
		return rc;
	if (c == COMPRESSION_UNKNOWN) {
		source_close(checked);
		return error_set(ERR_USAGE, "%s: media type %s is not a layer cachectl can read", d->digest,
				 d->media_type ? d->media_type : "(none)");
	}
	return decompress_source_new(out, checked, c, d->digest);
}
