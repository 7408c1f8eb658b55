#include "core/codec/estargz_reader.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/array_grow.h"
#include "core/util/buffer.h"
#include "core/util/error.h"
#include "core/codec/estargz_toc.h"
#include "core/codec/gzip_member.h"
#include "core/codec/layer_paths.h"
#include "core/codec/tar_walk.h"
#include "core/util/json_number.h"
#include "core/util/json_span.h"

/* The TOC tar is held whole to be parsed; beyond this it is refused. */
#define TOC_TAR_MAX ((int64_t)512 << 20)

/* A stretch of one file's data lying in one gzip member. */
struct segment {
	int64_t compressed;  /* offset of that member */
	int64_t inner;       /* of the stretch within the member's bytes */
	int64_t file_offset; /* of the stretch within the file */
	int64_t len;
	char digest[DIGEST_BUF];
};

/* What the tar said about one entry, to hold the TOC against. */
struct record {
	char *name;
	const char *type;
	int64_t size;
	char *link;
	char digest[DIGEST_BUF];
	size_t first_segment, n_segments;
};

struct reader {
	const char *what;
	struct byte_source *gz;
	struct tar_walk *walk;
	struct sha256 *all_hash;
	struct byte_sink *plain;
	struct layer_paths paths;
	/* member starts read ahead of the walk, oldest first */
	struct gzip_member_start *starts;
	size_t n_starts, first_start, cap_starts;
	struct gzip_member_start cur; /* the member the walk is in */
	struct gzip_member_start last_start, before_last;
	/* hashing the current file */
	struct sha256 *file_hash, *seg_hash, *scratch;
	struct record *records;
	size_t n_records, cap_records;
	struct segment *segments;
	size_t n_segments, cap_segments;
	bool dropping; /* the current entry stays out of the plain tar */
};

/* ---- member starts ------------------------------------------------------ */

static int on_member_start(void *ctx, const struct gzip_member_start *m)
{
	struct reader *r = ctx;
	if (r->first_start == r->n_starts)
		r->first_start = r->n_starts = 0;
	if (r->n_starts == r->cap_starts) {
		if (r->first_start) {
			memmove(r->starts, r->starts + r->first_start, (r->n_starts - r->first_start) * sizeof(*r->starts));
			r->n_starts -= r->first_start;
			r->first_start = 0;
		} else {
			size_t cap = r->cap_starts ? r->cap_starts * 2 : 64;
			struct gzip_member_start *s = realloc(r->starts, cap * sizeof(*s));
			CHECK_ALLOC(s);
			r->starts = s;
			r->cap_starts = cap;
		}
	}
	r->starts[r->n_starts++] = *m;
	r->before_last = r->last_start;
	r->last_start = *m;
	return 0;
}

/* Moves `cur` to the last member starting at or before uncompressed offset
 * p; true when it moved. */
static bool advance_members(struct reader *r, int64_t p)
{
	bool moved = false;
	while (r->first_start < r->n_starts && r->starts[r->first_start].uncompressed <= p) {
		r->cur = r->starts[r->first_start++];
		moved = true;
	}
	return moved;
}

static int64_t next_member_start(const struct reader *r)
{
	return r->first_start < r->n_starts ? r->starts[r->first_start].uncompressed : INT64_MAX;
}

/* ---- output ------------------------------------------------------------- */

static int to_plain(void *ctx, const void *buf, size_t len)
{
	struct reader *r = ctx;
	return r->plain ? sink_write(r->plain, buf, len) : 0;
}

static int data_to_plain(void *ctx, const void *buf, size_t len)
{
	struct reader *r = ctx;
	bool split = r->n_segments && r->records[r->n_records - 1].n_segments > 1;
	if (sha256_update(r->file_hash, buf, len) || (split && sha256_update(r->seg_hash, buf, len)))
		return ERR_FAILURE;
	return r->dropping ? 0 : to_plain(ctx, buf, len);
}

/* Passes the walk's bytes up to `to` on, or drops them with the entry. */
static int pass(struct reader *r, int64_t to)
{
	return tar_walk_emit(r->walk, to, r->dropping ? NULL : to_plain, r);
}

/* ---- records ------------------------------------------------------------ */

static int segment_begin(struct reader *r, struct record *rec, int64_t at, int64_t data_pos)
{
	int rc = ARRAY_RESERVE(r->segments, r->cap_segments, r->n_segments + 1);
	if (rc)
		return rc;
	struct segment *s = &r->segments[r->n_segments++];
	memset(s, 0, sizeof(*s));
	s->compressed = r->cur.compressed;
	s->inner = at - r->cur.uncompressed;
	s->file_offset = at - data_pos;
	rec->n_segments++;
	return 0;
}

/* Ends the newest segment at `at`.  The first segment's hash is the file
 * hash so far; later ones have their own. */
static int segment_end(struct reader *r, struct record *rec, int64_t at, int64_t data_pos)
{
	struct segment *s = &r->segments[r->n_segments - 1];
	s->len = at - data_pos - s->file_offset;
	if (rec->n_segments > 1)
		return sha256_final(r->seg_hash, s->digest);
	int rc = sha256_copy(r->scratch, r->file_hash);
	return rc ? rc : sha256_final(r->scratch, s->digest);
}

/* A regular file's data, cut into segments where gzip members start. */
static int read_file_data(struct reader *r, struct record *rec, const struct tar_entry *e)
{
	int64_t pos, end_of_file = e->data_pos + e->size;
	size_t len;
	int rc;
	rec->first_segment = r->n_segments;
	while ((rc = tar_walk_data(r->walk, &pos, &len)) == 1) {
		int64_t end = pos + (int64_t)len;
		if (end > end_of_file)
			return error_set(ERR_CORRUPT, "%s: %s has more data than its size", r->what, e->name);
		while (tar_walk_emitted(r->walk) < end) {
			/* member starts are known once their bytes have been read */
			int64_t at = tar_walk_emitted(r->walk);
			bool moved = advance_members(r, at);
			if (at == e->data_pos) {
				if ((rc = segment_begin(r, rec, at, e->data_pos)))
					return rc;
			} else if (moved) {
				if ((rc = segment_end(r, rec, at, e->data_pos)) ||
				    (rc = segment_begin(r, rec, at, e->data_pos)))
					return rc;
			}
			int64_t to = next_member_start(r) < end ? next_member_start(r) : end;
			if ((rc = tar_walk_emit(r->walk, to, data_to_plain, r)))
				return rc;
		}
	}
	if (rc < 0)
		return rc;
	if (tar_walk_emitted(r->walk) != end_of_file)
		return error_set(ERR_CORRUPT, "%s: %s ends before its %lld bytes", r->what, e->name,
				 (long long)e->size);
	if ((rc = segment_end(r, rec, end_of_file, e->data_pos)))
		return rc;
	if (rec->n_segments == 1) {
		memcpy(rec->digest, r->segments[rec->first_segment].digest, DIGEST_BUF);
		return sha256_reset(r->file_hash);
	}
	return sha256_final(r->file_hash, rec->digest);
}

static int read_other_data(struct reader *r)
{
	int64_t pos;
	size_t len;
	int rc;
	while ((rc = tar_walk_data(r->walk, &pos, &len)) == 1)
		if ((rc = pass(r, pos + (int64_t)len)))
			return rc;
	return rc;
}

static bool is_landmark(const char *clean)
{
	return strcmp(clean, ESTARGZ_PREFETCH_LANDMARK) == 0 || strcmp(clean, ESTARGZ_NO_PREFETCH_LANDMARK) == 0;
}

/* One tar entry: checked, recorded, passed on (or dropped).  *toc_here when
 * it is the TOC entry itself (stargz writers without lossless mode put the
 * TOC in the same tar). */
static int read_entry(struct reader *r, const struct tar_entry *e, bool *toc_here, struct estargz_read_result *out)
{
	char *clean = NULL;
	bool escapes;
	int rc = layer_path_clean(&clean, &escapes, e->name);
	if (rc)
		return rc;
	if (strcmp(clean, ESTARGZ_TOC_NAME) == 0) {
		free(clean);
		*toc_here = true;
		return pass(r, e->header_pos); /* the previous entry's padding */
	}
	bool landmark = is_landmark(clean);
	free(clean);
	/* the previous entry ends where this one's headers begin */
	if ((rc = pass(r, e->header_pos)))
		return rc;
	r->dropping = landmark;
	out->landmarks += landmark;

	const char *type = estargz_entry_type(e->typeflag, e->name);
	if (!type)
		return error_set(ERR_CORRUPT, "%s: \"%s\" has tar type '%c', which eStargz cannot hold", r->what,
				 e->name, e->typeflag);
	if (e->sparse)
		return error_set(ERR_CORRUPT, "%s: \"%s\" is a sparse file, which eStargz cannot hold", r->what,
				 e->name);
	bool hardlink = strcmp(type, "hardlink") == 0, is_reg = strcmp(type, "reg") == 0;
	if ((rc = layer_paths_check(&r->paths, e->name, hardlink ? e->linkname : NULL, r->what)))
		return rc;
	if ((rc = ARRAY_RESERVE(r->records, r->cap_records, r->n_records + 1)))
		return rc;
	struct record *rec = &r->records[r->n_records++];
	memset(rec, 0, sizeof(*rec));
	rec->type = type;
	rec->size = is_reg ? e->size : 0;
	if (!(rec->name = strdup(e->name)) ||
	    ((hardlink || strcmp(type, "symlink") == 0) && !(rec->link = strdup(e->linkname))))
		return error_oom();
	if ((rc = pass(r, e->data_pos)))
		return rc;
	if (is_reg && e->size > 0)
		return read_file_data(r, rec, e);
	if (is_reg)
		memcpy(rec->digest, TAR_EMPTY_SHA256, DIGEST_BUF);
	return read_other_data(r);
}

/* ---- the TOC member ----------------------------------------------------- */

/* An octal tar header field, leading spaces allowed; -1 when malformed. */
static int64_t octal_value(const unsigned char *f, size_t n)
{
	int64_t v = 0;
	size_t i = 0;
	while (i < n && f[i] == ' ')
		i++;
	if (i == n || f[i] < '0' || f[i] > '7')
		return -1;
	for (; i < n && f[i] >= '0' && f[i] <= '7'; i++)
		v = v * 8 + (f[i] - '0');
	return v;
}

static bool is_toc_header(const unsigned char *h)
{
	int64_t sum = 0;
	for (int i = 0; i < 512; i++)
		sum += (i >= 148 && i < 156) ? ' ' : h[i];
	return octal_value(h + 148, 8) == sum && memcmp(h, ESTARGZ_TOC_NAME, sizeof(ESTARGZ_TOC_NAME)) == 0;
}

/* After the end of the layer's tar: everything up to the member that holds
 * the TOC tar is the tar's trailing bytes, kept.  Sets *toc_pos. */
static int find_toc_member(struct reader *r, int64_t *toc_pos)
{
	int64_t pos = tar_walk_emitted(r->walk);
	for (;;) {
		advance_members(r, pos - 1);
		int64_t m = next_member_start(r);
		if (m == INT64_MAX) {
			ssize_t n = tar_walk_fetch(r->walk);
			if (n < 0)
				return (int)n;
			if (n == 0)
				return error_set(ERR_CORRUPT, "%s: no eStargz TOC (%s) after the layer's tar", r->what,
						 ESTARGZ_TOC_NAME);
			continue;
		}
		/* the member's first block, fetched whole (or up to the end) */
		while (tar_walk_fetched(r->walk) < m + 512) {
			ssize_t n = tar_walk_fetch(r->walk);
			if (n < 0)
				return (int)n;
			if (n == 0)
				break;
		}
		const unsigned char *h = tar_walk_peek(r->walk, m, 512);
		int rc = tar_walk_emit(r->walk, m, to_plain, r);
		if (rc)
			return rc;
		if (h && is_toc_header(h)) {
			*toc_pos = m;
			return 0;
		}
		pos = m + 1;
	}
}

/* Reads the TOC tar from toc_pos to the end of the stream into `toc`. */
static int read_toc_tar(struct reader *r, int64_t toc_pos, struct buffer *toc)
{
	int rc = tar_walk_emit(r->walk, toc_pos, NULL, NULL);
	if (rc)
		return rc;
	for (;;) {
		int64_t have = tar_walk_fetched(r->walk);
		if (have - toc_pos > TOC_TAR_MAX)
			return error_set(ERR_CORRUPT, "%s: the eStargz TOC is larger than %lld MiB", r->what,
					 (long long)(TOC_TAR_MAX >> 20));
		const unsigned char *p = tar_walk_peek(r->walk, tar_walk_emitted(r->walk),
						      (size_t)(have - tar_walk_emitted(r->walk)));
		if (p && buffer_append(toc, p, (size_t)(have - tar_walk_emitted(r->walk))))
			return ERR_FAILURE;
		if ((rc = tar_walk_emit(r->walk, have, NULL, NULL)))
			return rc;
		ssize_t n = tar_walk_fetch(r->walk);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return 0;
	}
}

/* The TOC JSON out of the TOC tar: one entry, then nothing but zeros. */
static int toc_json(struct reader *r, const struct buffer *tar, const char **json, size_t *len)
{
	const unsigned char *h = (const unsigned char *)tar->data;
	if (tar->len < 512 || !is_toc_header(h))
		return error_set(ERR_CORRUPT, "%s: the TOC member does not hold a %s tar entry", r->what, ESTARGZ_TOC_NAME);
	int64_t size = octal_value(h + 124, 12);
	if (size < 0)
		return error_set(ERR_CORRUPT, "%s: the TOC entry has a malformed size", r->what);
	if (size > (int64_t)tar->len - 512)
		return error_set(ERR_CORRUPT, "%s: the TOC entry says %lld bytes, the TOC member holds %zu", r->what,
				 (long long)size, tar->len - 512);
	for (size_t i = 512 + (size_t)size; i < tar->len; i++)
		if (tar->data[i])
			return error_set(ERR_CORRUPT, "%s: unexpected bytes after the TOC entry", r->what);
	*json = tar->data + 512;
	*len = (size_t)size;
	return 0;
}

/* ---- holding the TOC against the blob ----------------------------------- */

static int64_t num(const cJSON *o, const char *k)
{
	/* Absent, or not a byte count or offset, reads as 0: the checks
	 * against the blob then refuse the entry. */
	int64_t n = 0;
	json_integer(cJSON_GetObjectItemCaseSensitive(o, k), 0, JSON_EXACT_MAX, &n);
	return n;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int lie(struct reader *r, size_t i, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int lie(struct reader *r, size_t i, const char *name, const char *fmt, ...)
{
	char detail[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	return error_set(ERR_CORRUPT, "%s: its eStargz TOC does not match its content: entry %zu (\"%.200s\"): %s",
			 r->what, i, name ? name : "?", detail);
}

static const char *or_none(const char *s)
{
	return s ? s : "(none)";
}

/* One chunk of a file (the reg entry itself or a chunk entry). */
static int check_chunk(struct reader *r, size_t i, const cJSON *e, const struct record *rec, size_t k)
{
	const struct segment *s = &r->segments[rec->first_segment + k];
	const char *digest = str(e, "chunkDigest");
	int64_t size = num(e, "chunkSize");
	if (num(e, "offset") != s->compressed)
		return lie(r, i, rec->name, "offset is %" PRId64 ", the chunk starts in the gzip member at %" PRId64,
			   num(e, "offset"), s->compressed);
	if (num(e, "innerOffset") != s->inner)
		return lie(r, i, rec->name, "innerOffset is %" PRId64 ", the chunk starts %" PRId64 " bytes into its member",
			   num(e, "innerOffset"), s->inner);
	if (num(e, "chunkOffset") != s->file_offset)
		return lie(r, i, rec->name, "chunkOffset is %" PRId64 ", the gzip member starts at file offset %" PRId64,
			   num(e, "chunkOffset"), s->file_offset);
	if (size ? size != s->len : s->file_offset + s->len != rec->size)
		return lie(r, i, rec->name, "the chunk is %" PRId64 " bytes, its gzip member holds %" PRId64,
			   size ? size : rec->size - s->file_offset, s->len);
	if (digest && strcmp(digest, s->digest) != 0)
		return lie(r, i, rec->name, "chunkDigest is %s, the chunk hashes to %s", digest, s->digest);
	if (!digest && rec->n_segments > 1)
		return lie(r, i, rec->name, "no chunkDigest for a chunk of a file in %zu chunks", rec->n_segments);
	return 0;
}

/* Where the walk through the TOC's entries is: entries are read one at a
 * time (a TOC of 300 000 entries parsed whole costs about 1 KiB of cJSON
 * nodes per entry), each held against the records of the tar. */
struct toc_walk {
	struct reader *r;
	size_t next;               /* the next record to meet */
	size_t i;                  /* entries seen */
	size_t chunk;              /* chunks of rec seen */
	const struct record *rec;  /* the record of the last file entry */
	bool parse_failed;
};

static int check_entry(struct toc_walk *w, const cJSON *e)
{
	struct reader *r = w->r;
	const char *type = str(e, "type"), *name = str(e, "name");
	int rc;
	if (type && strcmp(type, "chunk") == 0) {
		if (!w->rec || !w->rec->size || w->chunk >= w->rec->n_segments)
			return lie(r, w->i, name, "a chunk entry where the file has no further chunk");
		if ((rc = check_chunk(r, w->i, e, w->rec, w->chunk++)))
			return rc;
		w->i++;
		return 0;
	}
	const struct record *last = w->rec;
	if (last && w->chunk != last->n_segments)
		return lie(r, w->i - 1, last->name, "%zu chunks listed, the file lies in %zu gzip members", w->chunk,
			   last->n_segments);
	if (w->next == r->n_records)
		return lie(r, w->i, name, "listed, but the tar has no more entries");
	const struct record *rec = w->rec = &r->records[w->next++];
	w->chunk = 0;
	if (!name || strcmp(name, rec->name) != 0)
		return lie(r, w->i, rec->name, "the name is \"%.200s\", the tar has this one", or_none(name));
	if (!type || strcmp(type, rec->type) != 0)
		return lie(r, w->i, rec->name, "the type is %s, the tar has %s", or_none(type), rec->type);
	/* Go's writer leaves an empty linkName out (omitempty), as ours
	 * does: absent is the empty target. */
	const char *link = str(e, "linkName") ? str(e, "linkName") : "";
	if (rec->link && strcmp(link, rec->link) != 0)
		return lie(r, w->i, rec->name, "the link target is \"%.200s\", the tar has \"%.200s\"", link, rec->link);
	if (strcmp(rec->type, "reg") == 0) {
		const char *digest = str(e, "digest");
		if (num(e, "size") != rec->size)
			return lie(r, w->i, rec->name, "size is %" PRId64 ", the tar has %" PRId64, num(e, "size"), rec->size);
		if ((digest || rec->size) && (!digest || strcmp(digest, rec->digest) != 0))
			return lie(r, w->i, rec->name, "digest is %s, the file hashes to %s", or_none(digest), rec->digest);
		if (rec->size && (rc = check_chunk(r, w->i, e, rec, w->chunk++)))
			return rc;
	}
	w->i++;
	return 0;
}

/* One element of "entries": parsed alone, checked, freed. */
static int check_entry_text(void *ctx, const char *text, size_t len)
{
	struct toc_walk *w = ctx;
	const char *parse_end = NULL;
	cJSON *e = cJSON_ParseWithLengthOpts(text, len, &parse_end, false);
	if (!e || parse_end != text + len) {
		cJSON_Delete(e);
		w->parse_failed = true;
		return error_set(ERR_CORRUPT, "%s: the eStargz TOC is not valid JSON", w->r->what);
	}
	int rc = check_entry(w, e);
	cJSON_Delete(e);
	return rc;
}

static int check_toc_end(struct toc_walk *w)
{
	struct reader *r = w->r;
	if (w->rec && w->chunk != w->rec->n_segments)
		return lie(r, w->i - 1, w->rec->name, "%zu chunks listed, the file lies in %zu gzip members", w->chunk,
			   w->rec->n_segments);
	if (w->next != r->n_records)
		return lie(r, w->i, r->records[w->next].name, "in the tar, but not in the TOC");
	return 0;
}

/* The TOC without its entries ("entries": null in their place), parsed to
 * check the rest of the document is JSON and a TOC object. */
static int check_toc_frame(struct reader *r, const char *json, size_t len, const struct json_member *entries)
{
	struct buffer frame = BUFFER_INIT;
	size_t cut = entries ? entries->value_start : len, resume = entries ? entries->value_end : len;
	int rc = buffer_append(&frame, json, cut);
	if (!rc && entries)
		rc = buffer_append_str(&frame, "null");
	if (!rc)
		rc = buffer_append(&frame, json + resume, len - resume);
	if (rc) {
		buffer_free(&frame);
		return rc;
	}
	cJSON *toc = cJSON_ParseWithLength(frame.data, frame.len);
	buffer_free(&frame);
	if (!toc)
		return error_set(ERR_CORRUPT, "%s: the eStargz TOC is not valid JSON", r->what);
	bool object = cJSON_IsObject(toc);
	cJSON_Delete(toc);
	return object ? 0 : error_set(ERR_CORRUPT, "%s: the eStargz TOC is not a TOC object", r->what);
}

/* Holds the TOC's entries against the tar's records, one entry at a time;
 * *n_entries: how many the TOC lists. */
static int check_toc(struct reader *r, const char *json, size_t len, size_t *n_entries)
{
	struct json_member *members = NULL;
	size_t n_members = 0, end;
	struct toc_walk w = {.r = r};
	*n_entries = 0;
	if (json_object_members(json, len, 0, &members, &n_members, &end)) {
		/* not an object: tell a JSON value that is not a TOC from a text
		 * that is not JSON */
		cJSON *v = cJSON_ParseWithLength(json, len);
		cJSON_Delete(v);
		return error_set(ERR_CORRUPT, v ? "%s: the eStargz TOC is not a TOC object" : "%s: the eStargz TOC is not valid JSON",
				 r->what);
	}
	long at = json_find_member(json, members, n_members, "entries");
	const struct json_member *entries = at >= 0 ? &members[at] : NULL;
	int rc = check_toc_frame(r, json, len, entries);
	if (!rc && entries && json[entries->value_start] != '[' &&
	    !(entries->value_end - entries->value_start == 4 && memcmp(json + entries->value_start, "null", 4) == 0))
		rc = error_set(ERR_CORRUPT, "%s: the eStargz TOC is not a TOC object", r->what);
	else if (!rc && entries && json[entries->value_start] == '[') {
		rc = json_array_each(json, entries->value_end, entries->value_start, check_entry_text, &w);
		if (rc && !w.parse_failed && rc == ERR_FAILURE)
			rc = error_set(ERR_CORRUPT, "%s: the eStargz TOC is not valid JSON", r->what);
	}
	free(members);
	if (rc)
		return rc;
	*n_entries = w.i;
	return check_toc_end(&w);
}

/* The footer must be the last member, empty, and point at the TOC member. */
static int check_footer(struct reader *r, int64_t toc_compressed, int64_t total)
{
	size_t tail_len, footer_size;
	int64_t offset;
	int64_t blob_size = gzip_members_compressed_size(r->gz);
	const unsigned char *tail = gzip_members_tail(r->gz, &tail_len);
	if (estargz_footer_parse(tail, tail_len, &offset, &footer_size))
		return error_set(ERR_CORRUPT, "%s: no eStargz footer at the end of the blob", r->what);
	if (r->last_start.compressed != blob_size - (int64_t)footer_size || r->last_start.uncompressed != total)
		return error_set(ERR_CORRUPT, "%s: the eStargz footer is not an empty gzip member of its own", r->what);
	if (r->before_last.compressed != toc_compressed)
		return error_set(ERR_CORRUPT, "%s: gzip members lie between the eStargz TOC and its footer", r->what);
	if (offset > blob_size)
		return error_set(ERR_CORRUPT, "%s: the footer puts the TOC at offset %lld, beyond the blob's %lld bytes",
				 r->what, (long long)offset, (long long)blob_size);
	if (offset != toc_compressed)
		return error_set(ERR_CORRUPT, "%s: the footer puts the TOC at offset %lld, but it starts at %lld", r->what,
				 (long long)offset, (long long)toc_compressed);
	return 0;
}

/* The member that holds the TOC, and nothing but the footer after it. */
static int toc_member(struct reader *r, int64_t toc_pos, int64_t *compressed)
{
	advance_members(r, toc_pos);
	if (r->cur.uncompressed != toc_pos)
		return error_set(ERR_CORRUPT, "%s: the eStargz TOC does not start a gzip member of its own", r->what);
	*compressed = r->cur.compressed;
	return 0;
}

/* ---- the pass ----------------------------------------------------------- */

static int run(struct reader *r, struct estargz_read_result *out)
{
	static const unsigned char eoa[1024];
	const struct tar_entry *e;
	struct buffer tar = BUFFER_INIT;
	bool toc_here = false;
	int64_t toc_pos = 0, toc_compressed = 0;
	const char *json = NULL;
	size_t json_len = 0;
	int rc;
	while (!toc_here && (rc = tar_walk_next(r->walk, &e)) == 1)
		if ((rc = read_entry(r, e, &toc_here, out)))
			goto out;
	if (rc < 0)
		goto out;
	if (toc_here) {
		/* the TOC was the tar's last entry: the plain tar gets the
		 * end-of-archive marker it then lacks (an empty stream stays
		 * empty) */
		toc_pos = e->header_pos;
		tar_walk_stop(r->walk);
		if (r->plain && toc_pos > 0 && (rc = sink_write(r->plain, eoa, sizeof(eoa))))
			goto out;
	} else {
		if ((rc = pass(r, tar_walk_end_pos(r->walk))))
			goto out;
		/* the end-of-archive marker and whatever follows it are the tar's */
		r->dropping = false;
		if ((rc = find_toc_member(r, &toc_pos)))
			goto out;
	}
	r->dropping = false;
	if ((rc = toc_member(r, toc_pos, &toc_compressed)) || (rc = read_toc_tar(r, toc_pos, &tar)))
		goto out;
	int64_t total = tar_walk_fetched(r->walk);
	if ((rc = check_footer(r, toc_compressed, total)))
		goto out;
	if ((rc = toc_json(r, &tar, &json, &json_len)) || (rc = digest_of_bytes(out->toc_digest, json, json_len)))
		goto out;
	if ((rc = check_toc(r, json, json_len, &out->toc_entries)))
		goto out;
	out->toc_offset = toc_compressed;
	out->uncompressed_size = total;
	rc = sha256_final(r->all_hash, out->diff_id);
out:
	buffer_free(&tar);
	return rc;
}

int estargz_read(struct estargz_read_result *out, struct byte_source *blob, struct byte_sink *plain,
		 const char *what)
{
	struct reader r = {.what = what, .plain = plain, .paths = LAYER_PATHS_INIT};
	int rc;
	memset(out, 0, sizeof(*out));
	if ((rc = gzip_members_source_new(&r.gz, blob, on_member_start, &r, what)))
		return rc;
	if ((rc = sha256_new(&r.all_hash)) || (rc = sha256_new(&r.file_hash)) || (rc = sha256_new(&r.seg_hash)) ||
	    (rc = sha256_new(&r.scratch)) || (rc = tar_walk_new(&r.walk, r.gz, r.all_hash, what)))
		goto out;
	rc = run(&r, out);
out:
	tar_walk_free(r.walk);
	source_close(r.gz);
	layer_paths_free(&r.paths);
	sha256_free(r.all_hash);
	sha256_free(r.file_hash);
	sha256_free(r.seg_hash);
	sha256_free(r.scratch);
	for (size_t i = 0; i < r.n_records; i++) {
		free(r.records[i].name);
		free(r.records[i].link);
	}
	free(r.records);
	free(r.segments);
	free(r.starts);
	return rc;
}
