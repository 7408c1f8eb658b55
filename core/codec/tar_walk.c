#include "core/codec/tar_walk.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/array_grow.h"
#include "core/util/error.h"

#define WALK_BLOCK (256u << 10)
#define TAR_BLOCK 512
#define XATTR_PREFIX "SCHILY.xattr."

struct tar_walk {
	struct archive *a;
	struct byte_source *src;
	struct sha256 *hash;
	/* raw bytes [base, base + len) of the stream; [base, emitted) may go */
	unsigned char *buf;
	size_t cap, len;
	int64_t base, emitted;
	bool src_eof;
	bool at_end;
	int64_t end_pos;
	int src_error; /* the source's error code, its message already set */
	struct tar_entry entry;
	struct tar_xattr *xattrs;
	size_t n_xattrs, cap_xattrs;
	char *what;
};

/* ---- raw bytes ---------------------------------------------------------- */

/* Reads one block from the source behind what is held, first letting go of
 * what has been emitted.  Moving the held bytes is safe here: libarchive
 * gives up the previous block whenever it asks for another. */
static ssize_t fetch_block(struct tar_walk *w)
{
	size_t gone = (size_t)(w->emitted - w->base);
	if (gone) {
		memmove(w->buf, w->buf + gone, w->len - gone);
		w->len -= gone;
		w->base = w->emitted;
	}
	if (w->cap - w->len < WALK_BLOCK) {
		size_t cap = w->len + WALK_BLOCK;
		unsigned char *b = realloc(w->buf, cap);
		CHECK_ALLOC(b);
		w->buf = b;
		w->cap = cap;
	}
	if (w->src_eof)
		return 0;
	ssize_t n = source_read(w->src, w->buf + w->len, WALK_BLOCK);
	if (n < 0)
		return n;
	if (n == 0)
		w->src_eof = true;
	if (n > 0 && w->hash && sha256_update(w->hash, w->buf + w->len, (size_t)n))
		return ERR_FAILURE;
	w->len += (size_t)n;
	return n;
}

static la_ssize_t walk_read(struct archive *a, void *ctx, const void **out)
{
	struct tar_walk *w = ctx;
	ssize_t n = fetch_block(w);
	if (n < 0) {
		w->src_error = (int)n;
		archive_set_error(a, EIO, "%s", error_message());
		return -1;
	}
	/* the new bytes are the last n held (fetch_block may have moved them) */
	*out = w->buf + (w->len - (size_t)n);
	return n;
}

int64_t tar_walk_fetched(const struct tar_walk *w)
{
	return w->base + (int64_t)w->len;
}

int64_t tar_walk_emitted(const struct tar_walk *w)
{
	return w->emitted;
}

const unsigned char *tar_walk_peek(const struct tar_walk *w, int64_t pos, size_t len)
{
	if (pos < w->base || pos + (int64_t)len > tar_walk_fetched(w))
		return NULL;
	return w->buf + (pos - w->base);
}

ssize_t tar_walk_fetch(struct tar_walk *w)
{
	if (!w->at_end)
		return error_set(ERR_FAILURE, "%s: raw read inside the archive", w->what);
	return fetch_block(w);
}

int tar_walk_emit(struct tar_walk *w, int64_t to, tar_walk_out_fn fn, void *ctx)
{
	if (to < w->emitted)
		return error_set(ERR_FAILURE, "%s: bytes at offset %lld were already passed on", w->what,
				 (long long)to);
	while (w->emitted < to) {
		if (to > tar_walk_fetched(w)) {
			if (tar_walk_fetched(w) == w->emitted) {
				ssize_t n = tar_walk_fetch(w);
				if (n < 0)
					return (int)n;
				if (n == 0)
					return error_set(ERR_CORRUPT, "%s: the stream ends at offset %lld, before %lld",
							 w->what, (long long)w->emitted, (long long)to);
				continue;
			}
		}
		int64_t end = to < tar_walk_fetched(w) ? to : tar_walk_fetched(w);
		size_t n = (size_t)(end - w->emitted);
		if (fn) {
			int rc = fn(ctx, w->buf + (w->emitted - w->base), n);
			if (rc)
				return rc;
		}
		w->emitted = end;
	}
	return 0;
}

int tar_walk_emit_rest(struct tar_walk *w, tar_walk_out_fn fn, void *ctx)
{
	for (;;) {
		int rc = tar_walk_emit(w, tar_walk_fetched(w), fn, ctx);
		if (rc)
			return rc;
		ssize_t n = tar_walk_fetch(w);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return 0;
	}
}

/* ---- header fields as Go's archive/tar reads them ------------------------ */

/* Go's parseNumeric: base-256 when the top bit is set, else octal with
 * spaces and NULs trimmed.  -1 on a malformed field. */
static int parse_numeric(const unsigned char *f, size_t n, int64_t *out)
{
	if (n && (f[0] & 0x80)) {
		unsigned char inv = (f[0] & 0x40) ? 0xff : 0;
		uint64_t x = 0;
		for (size_t i = 0; i < n; i++) {
			unsigned char c = f[i] ^ inv;
			if (i == 0)
				c &= 0x7f;
			if (x >> 56)
				return -1;
			x = x << 8 | c;
		}
		if (x >> 63)
			return -1;
		*out = inv ? (int64_t)~x : (int64_t)x;
		return 0;
	}
	while (n && (f[0] == ' ' || f[0] == 0))
		f++, n--;
	while (n && (f[n - 1] == ' ' || f[n - 1] == 0))
		n--;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (f[i] < '0' || f[i] > '7' || (v >> 60))
			return -1;
		v = v * 8 + (uint64_t)(f[i] - '0');
	}
	*out = (int64_t)v;
	return 0;
}

static void xattrs_clear(struct tar_walk *w)
{
	for (size_t i = 0; i < w->n_xattrs; i++) {
		free(w->xattrs[i].name);
		free(w->xattrs[i].value);
	}
	free(w->xattrs);
	w->xattrs = NULL;
	w->n_xattrs = w->cap_xattrs = 0;
}

/* Records one SCHILY.xattr record; a repeated name keeps the last value,
 * as Go's map does. */
static int xattr_put(struct tar_walk *w, const char *name, size_t name_len, const char *value,
		     size_t value_len)
{
	struct tar_xattr *x = NULL;
	for (size_t i = 0; i < w->n_xattrs && !x; i++)
		if (strlen(w->xattrs[i].name) == name_len && memcmp(w->xattrs[i].name, name, name_len) == 0)
			x = &w->xattrs[i];
	if (!x) {
		int rc = ARRAY_RESERVE(w->xattrs, w->cap_xattrs, w->n_xattrs + 1);
		if (rc)
			return rc;
		x = &w->xattrs[w->n_xattrs++];
		memset(x, 0, sizeof(*x));
		if (!(x->name = strndup(name, name_len)))
			return error_oom();
	}
	free(x->value);
	if (!(x->value = malloc(value_len ? value_len : 1)))
		return error_oom();
	memcpy(x->value, value, value_len);
	x->len = value_len;
	return 0;
}

/* The records of a pax extended header ("<len> <key>=<value>\n" ...),
 * checked as strictly as Go checks them. */
static int parse_pax(struct tar_walk *w, const char *p, size_t n)
{
	while (n) {
		size_t i = 0, len = 0;
		while (i < n && i < 20 && p[i] >= '0' && p[i] <= '9')
			len = len * 10 + (size_t)(p[i++] - '0');
		if (i == 0 || i >= n || p[i] != ' ' || len <= i + 1 || len > n || p[len - 1] != '\n')
			return error_set(ERR_CORRUPT, "%s: malformed pax extended header", w->what);
		const char *key = p + i + 1, *end = p + len - 1;
		const char *eq = memchr(key, '=', (size_t)(end - key));
		if (!eq || eq == key || memchr(key, 0, (size_t)(eq - key)))
			return error_set(ERR_CORRUPT, "%s: malformed pax extended header record", w->what);
		size_t klen = (size_t)(eq - key);
		if (klen > strlen(XATTR_PREFIX) && memcmp(key, XATTR_PREFIX, strlen(XATTR_PREFIX)) == 0) {
			int rc = xattr_put(w, key + strlen(XATTR_PREFIX), klen - strlen(XATTR_PREFIX), eq + 1,
					   (size_t)(end - eq - 1));
			if (rc)
				return rc;
		}
		p += len;
		n -= len;
	}
	return 0;
}

static int cmp_xattr(const void *a, const void *b)
{
	return strcmp(((const struct tar_xattr *)a)->name, ((const struct tar_xattr *)b)->name);
}

/* Reads the extension headers and the final header of the current entry
 * from its raw bytes [header_pos, data_pos). */
static int read_raw_headers(struct tar_walk *w)
{
	struct tar_entry *e = &w->entry;
	xattrs_clear(w);
	int64_t pos = e->header_pos, last = e->data_pos - TAR_BLOCK;
	if (last < pos || !tar_walk_peek(w, pos, (size_t)(e->data_pos - pos)))
		return error_set(ERR_FAILURE, "%s: the headers of %s are out of reach", w->what, e->name);
	while (pos < last) {
		const unsigned char *h = tar_walk_peek(w, pos, TAR_BLOCK);
		int64_t size;
		if (parse_numeric(h + 124, 12, &size) || size < 0 || pos + TAR_BLOCK + size > last)
			return error_set(ERR_CORRUPT, "%s: malformed extension header before %s", w->what, e->name);
		const char *data = (const char *)h + TAR_BLOCK;
		if (h[156] == 'x') {
			int rc = parse_pax(w, data, (size_t)size);
			if (rc)
				return rc;
		} else if (h[156] == 'g') {
			e->global_header = true;
		}
		pos += TAR_BLOCK + (size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
	}
	const unsigned char *h = tar_walk_peek(w, last, TAR_BLOCK);
	e->typeflag = (char)h[156];
	if (parse_numeric(h + 100, 8, &e->mode))
		return error_set(ERR_CORRUPT, "%s: %s has a malformed mode field", w->what, e->name);
	if (w->n_xattrs > 1)
		qsort(w->xattrs, w->n_xattrs, sizeof(*w->xattrs), cmp_xattr);
	e->xattrs = w->xattrs;
	e->n_xattrs = w->n_xattrs;
	return 0;
}

/* ---- the walk ----------------------------------------------------------- */

static int archive_failure(struct tar_walk *w, const char *doing)
{
	if (w->src_error)
		return w->src_error; /* the source's own message says it best */
	const char *msg = archive_error_string(w->a);
	return error_set(ERR_CORRUPT, "%s: %s: %s", w->what, doing, msg ? msg : "unreadable tar");
}

int tar_walk_new(struct tar_walk **out, struct byte_source *src, struct sha256 *hash, const char *what)
{
	struct tar_walk *w = calloc(1, sizeof(*w));
	if (!w || !(w->what = strdup(what)) || !(w->a = archive_read_new())) {
		if (w)
			free(w->what);
		free(w);
		return error_oom();
	}
	w->src = src;
	w->hash = hash;
	archive_read_support_format_tar(w->a);
	archive_read_support_format_empty(w->a);
	if (archive_read_open(w->a, w, NULL, walk_read, NULL) != ARCHIVE_OK) {
		int rc = archive_failure(w, "not a tar archive");
		tar_walk_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

void tar_walk_free(struct tar_walk *w)
{
	if (!w)
		return;
	archive_read_free(w->a);
	xattrs_clear(w);
	free(w->buf);
	free(w->what);
	free(w);
}

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

int tar_walk_next(struct tar_walk *w, const struct tar_entry **out)
{
	struct archive_entry *ae;
	if (w->at_end)
		return 0;
	int r = archive_read_next_header(w->a, &ae);
	if (r == ARCHIVE_EOF) {
		w->at_end = true;
		w->end_pos = archive_read_header_position(w->a);
		return 0;
	}
	/* a warning is about character sets: the raw names are kept */
	if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
		return archive_failure(w, "reading a tar header");
	struct tar_entry *e = &w->entry;
	memset(e, 0, sizeof(*e));
	e->name = or_empty(archive_entry_pathname(ae));
	e->size = archive_entry_size(ae);
	e->uid = archive_entry_uid(ae);
	e->gid = archive_entry_gid(ae);
	e->uname = or_empty(archive_entry_uname(ae));
	e->gname = or_empty(archive_entry_gname(ae));
	e->has_mtime = archive_entry_mtime_is_set(ae);
	e->mtime = archive_entry_mtime(ae);
	e->mtime_nsec = archive_entry_mtime_nsec(ae);
	e->linkname = archive_entry_hardlink(ae) ? archive_entry_hardlink(ae) : or_empty(archive_entry_symlink(ae));
	e->dev_major = archive_entry_rdevmajor(ae);
	e->dev_minor = archive_entry_rdevminor(ae);
	e->sparse = archive_entry_sparse_count(ae) > 0;
	e->header_pos = archive_read_header_position(w->a);
	e->data_pos = archive_filter_bytes(w->a, 0);
	int rc = read_raw_headers(w);
	if (rc)
		return rc;
	*out = e;
	return 1;
}

void tar_walk_stop(struct tar_walk *w)
{
	if (!w->at_end) {
		w->at_end = true;
		w->end_pos = w->emitted;
	}
}

int64_t tar_walk_end_pos(const struct tar_walk *w)
{
	return w->end_pos;
}

int tar_walk_data(struct tar_walk *w, int64_t *pos, size_t *len)
{
	const void *block;
	size_t n;
	la_int64_t off;
	for (;;) {
		int r = archive_read_data_block(w->a, &block, &n, &off);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			return archive_failure(w, w->entry.name);
		if (n == 0)
			continue;
		*pos = w->entry.data_pos + off;
		*len = n;
		if (*pos + (int64_t)n > tar_walk_fetched(w) || *pos < w->emitted)
			return error_set(ERR_FAILURE, "%s: data of %s is not where the walk expects it", w->what,
					 w->entry.name);
		return 1;
	}
}
