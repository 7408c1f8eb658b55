#include "core/codec/estargz_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/error.h"
#include "core/codec/estargz_toc.h"
#include "core/codec/gzip_member.h"
#include "core/codec/gzip_parallel.h"
#include "core/codec/layer_paths.h"
#include "core/codec/tar_walk.h"

/* Room in a piece for the bytes after a chunk (padding, the next headers)
 * before they go on in a new member. */
#define ESTARGZ_AFTER_CHUNK ((size_t)64 << 10)

struct chunk {
	int64_t member;       /* number of the gzip member it starts (its offset comes later) */
	int64_t chunk_offset; /* within the file */
	int64_t size;
	char digest[DIGEST_BUF];
};

struct writer {
	const char *what;
	int64_t chunk_size;
	bool lossless;
	struct tar_walk *walk;
	/* The members before the TOC, compressed on every core; the TOC member
	 * after them by zlib as it streams: it must be one member, and a large
	 * layer's TOC is larger than a piece. */
	struct gzip_members *gz;
	struct byte_sink *dest;
	bool level_set;
	int level;
	struct estargz_toc toc;
	struct layer_paths paths;
	/* Every uncompressed byte of the blob (its diffID).  Lossless, the
	 * walk feeds it the source bytes, which are the blob's; in the entry
	 * layout the blob's bytes differ, and the walk feeds src_hash (NULL
	 * when the caller knows the source's digest). */
	struct sha256 *out_hash, *src_hash;
	int64_t out_bytes;       /* uncompressed bytes of the blob so far */
	bool skipping;           /* the last entry is left out, its padding with it */
	size_t dropped;
	struct sha256 *file_hash, *chunk_hash;
	bool hash_chunks;        /* the file has several chunks, each hashed on its own */
	struct chunk *chunks;
	size_t n_chunks, cap_chunks;
};

/* Bytes of the source tar into the open member (a member is opened if
 * none is). */
static int source_to_member(struct writer *w, const void *buf, size_t len)
{
	w->out_bytes += (int64_t)len;
	if (!w->lossless && sha256_update(w->out_hash, buf, len))
		return ERR_FAILURE;
	return gzip_members_write(w->gz, buf, len);
}

/* Bytes the writer adds (landmark, TOC tar): into the member and the hash. */
static int own_to_member(struct writer *w, const void *buf, size_t len)
{
	w->out_bytes += (int64_t)len;
	if (sha256_update(w->out_hash, buf, len))
		return ERR_FAILURE;
	return gzip_members_write(w->gz, buf, len);
}

static int to_member(void *ctx, const void *buf, size_t len)
{
	return source_to_member(ctx, buf, len);
}

/* File data: into the member and into the file's hashes. */
static int data_to_member(void *ctx, const void *buf, size_t len)
{
	struct writer *w = ctx;
	if (sha256_update(w->file_hash, buf, len) || (w->hash_chunks && sha256_update(w->chunk_hash, buf, len)))
		return ERR_FAILURE;
	return source_to_member(w, buf, len);
}

static int chunk_begin(struct writer *w, int64_t chunk_offset, int64_t size)
{
	if (w->n_chunks == w->cap_chunks) {
		size_t cap = w->cap_chunks ? w->cap_chunks * 2 : 16;
		struct chunk *c = realloc(w->chunks, cap * sizeof(*c));
		CHECK_ALLOC(c);
		w->chunks = c;
		w->cap_chunks = cap;
	}
	struct chunk *c = &w->chunks[w->n_chunks++];
	memset(c, 0, sizeof(*c));
	c->chunk_offset = chunk_offset;
	c->size = size;
	/* the chunk's bytes stay in its member, whole */
	return gzip_members_begin(w->gz, (size_t)size, &c->member);
}

/* Streams a regular file's data, starting a member at every chunk. */
static int copy_file_data(struct writer *w, const struct tar_entry *e, char file_digest[DIGEST_BUF])
{
	int64_t chunk_end = e->data_pos, end_of_file = e->data_pos + e->size, pos;
	size_t len;
	int rc;
	w->n_chunks = 0;
	w->hash_chunks = e->size > w->chunk_size;
	while ((rc = tar_walk_data(w->walk, &pos, &len)) == 1) {
		int64_t end = pos + (int64_t)len;
		if (end > end_of_file)
			return error_set(ERR_CORRUPT, "%s: %s has more data than its size", w->what, e->name);
		while (tar_walk_emitted(w->walk) < end) {
			int64_t at = tar_walk_emitted(w->walk);
			if (at == chunk_end) {
				int64_t size = end_of_file - at < w->chunk_size ? end_of_file - at : w->chunk_size;
				if ((rc = chunk_begin(w, at - e->data_pos, size)))
					return rc;
				chunk_end = at + size;
			}
			int64_t to = end < chunk_end ? end : chunk_end;
			if ((rc = tar_walk_emit(w->walk, to, data_to_member, w)))
				return rc;
			if (to == chunk_end && w->hash_chunks &&
			    (rc = sha256_final(w->chunk_hash, w->chunks[w->n_chunks - 1].digest)))
				return rc;
		}
	}
	if (rc < 0)
		return rc;
	if (tar_walk_emitted(w->walk) != end_of_file)
		return error_set(ERR_CORRUPT, "%s: %s ends before its %lld bytes", w->what, e->name,
				 (long long)e->size);
	if ((rc = sha256_final(w->file_hash, file_digest)))
		return rc;
	if (!w->hash_chunks && w->n_chunks == 1)
		memcpy(w->chunks[0].digest, file_digest, DIGEST_BUF);
	return 0;
}

/* Data of other entries, if the archive gives them any: kept as it is
 * (fn to_member), or dropped (NULL). */
static int copy_other_data(struct writer *w, tar_walk_out_fn fn)
{
	int64_t pos;
	size_t len;
	int rc;
	while ((rc = tar_walk_data(w->walk, &pos, &len)) == 1)
		if ((rc = tar_walk_emit(w->walk, pos + (int64_t)len, fn, w)))
			return rc;
	return rc;
}

/* The bytes before an entry's headers (the previous entry's padding) go
 * where that entry went. */
static int close_previous(struct writer *w, int64_t header_pos)
{
	return tar_walk_emit(w->walk, header_pos, w->skipping ? NULL : to_member, w);
}

static bool is_landmark(const char *clean)
{
	return strcmp(clean, ESTARGZ_PREFETCH_LANDMARK) == 0 || strcmp(clean, ESTARGZ_NO_PREFETCH_LANDMARK) == 0;
}

/* The entry layout's first entry: the no-prefetch landmark, a one-byte
 * regular file whose data starts a member, as estargz.Build writes it when
 * no file is prioritised. */
static int write_landmark(struct writer *w)
{
	unsigned char header[512], data[512] = {ESTARGZ_LANDMARK_CONTENT};
	char digest[DIGEST_BUF];
	int rc;
	int64_t member;
	if ((rc = estargz_tar_header(header, ESTARGZ_NO_PREFETCH_LANDMARK, 1)) ||
	    (rc = digest_of_bytes(digest, data, 1)) || (rc = own_to_member(w, header, sizeof(header))) ||
	    (rc = gzip_members_begin(w->gz, sizeof(data), &member)) || (rc = own_to_member(w, data, sizeof(data))))
		return rc;
	struct estargz_toc_entry t = {
		.name = ESTARGZ_NO_PREFETCH_LANDMARK,
		.type = "reg",
		.size = 1,
		.offset = member,
		.offset_is_member = true,
		.digest = digest,
		.chunk_size = w->chunk_size == 1 ? 1 : 0,
		.chunk_digest = digest,
	};
	return estargz_toc_add(&w->toc, &t);
}

/* Entry layout: a source entry named like the TOC or a landmark is left
 * out with its data and padding (the blob gets its own). */
static int skip_entry(struct writer *w, const struct tar_entry *e)
{
	int rc = close_previous(w, e->header_pos);
	if (rc)
		return rc;
	w->skipping = true;
	w->dropped++;
	if ((rc = tar_walk_emit(w->walk, e->data_pos, NULL, NULL)))
		return rc;
	return copy_other_data(w, NULL);
}

static int add_entry(struct writer *w, const struct tar_entry *e)
{
	const char *type = estargz_entry_type(e->typeflag, e->name);
	char *clean = NULL, digest[DIGEST_BUF];
	bool escapes, is_reg;
	int rc;
	if (e->global_header)
		return error_set(ERR_CORRUPT, "%s: a pax global header before \"%s\" (eStargz has no such entry type)",
				 w->what, e->name);
	if (!type)
		return error_set(ERR_CORRUPT, "%s: \"%s\" has tar type '%c', which eStargz cannot hold", w->what,
				 e->name, e->typeflag);
	if (e->sparse)
		return error_set(ERR_CORRUPT, "%s: \"%s\" is a sparse file, which eStargz cannot hold", w->what,
				 e->name);
	if ((rc = layer_path_clean(&clean, &escapes, e->name)))
		return rc;
	bool is_toc = strcmp(clean, ESTARGZ_TOC_NAME) == 0, landmark = is_landmark(clean);
	free(clean);
	if (is_toc && w->lossless)
		return error_set(ERR_CORRUPT, "%s: the layer already holds a %s entry (an eStargz TOC); "
				 "it cannot be converted to the lossless layout without losing bytes", w->what,
				 ESTARGZ_TOC_NAME);
	if ((is_toc || landmark) && !w->lossless)
		return skip_entry(w, e);
	bool hardlink = strcmp(type, "hardlink") == 0;
	if ((rc = layer_paths_check(&w->paths, e->name, hardlink ? e->linkname : NULL, w->what)))
		return rc;

	/* headers (and the previous entry's padding) go to the open member */
	if ((rc = close_previous(w, e->header_pos)))
		return rc;
	w->skipping = false;
	if ((rc = tar_walk_emit(w->walk, e->data_pos, to_member, w)))
		return rc;
	is_reg = strcmp(type, "reg") == 0;
	if (is_reg && e->size > 0)
		rc = copy_file_data(w, e, digest);
	else
		rc = copy_other_data(w, to_member);
	if (rc)
		return rc;

	const char *user = e->uname, *group = e->gname;
	if ((rc = estargz_toc_owner_names(&w->toc, e->uid, e->gid, &user, &group)))
		return rc;
	bool has_dev = strcmp(type, "char") == 0 || strcmp(type, "block") == 0;
	struct estargz_toc_entry t = {
		.name = e->name,
		.type = type,
		.size = is_reg ? e->size : 0,
		.has_mtime = e->has_mtime,
		.mtime = e->mtime,
		.mtime_nsec = e->mtime_nsec,
		.link_name = hardlink || strcmp(type, "symlink") == 0 ? e->linkname : NULL,
		.mode = e->mode,
		.uid = e->uid,
		.gid = e->gid,
		.user_name = user,
		.group_name = group,
		.dev_major = has_dev ? e->dev_major : 0,
		.dev_minor = has_dev ? e->dev_minor : 0,
		.xattrs = e->xattrs,
		.n_xattrs = e->n_xattrs,
		.digest = is_reg ? (e->size > 0 ? digest : TAR_EMPTY_SHA256) : NULL,
	};
	if (!is_reg || e->size == 0)
		return estargz_toc_add(&w->toc, &t);
	for (size_t i = 0; i < w->n_chunks && !rc; i++) {
		const struct chunk *c = &w->chunks[i];
		if (i > 0) {
			/* later chunks: their own entries, named like the file */
			t = (struct estargz_toc_entry){.name = e->name, .type = "chunk"};
			t.chunk_offset = c->chunk_offset;
		}
		t.offset = c->member;
		t.offset_is_member = true;
		t.chunk_size = c->size == w->chunk_size ? c->size : 0; /* only full chunks say their size */
		t.chunk_digest = c->digest;
		rc = estargz_toc_add(&w->toc, &t);
	}
	return rc;
}

static int64_t member_offset(void *ctx, int64_t member)
{
	return gzip_members_offset(ctx, member);
}

/* The members so far written out, the TOC's offsets resolved; then the TOC
 * tar (header, JSON, padding, end-of-archive) in a member of its own, then
 * the footer that points at it. */
static int write_toc(struct writer *w, struct estargz_write_result *out)
{
	static const unsigned char zeros[1024];
	unsigned char header[512], footer[ESTARGZ_FOOTER_SIZE];
	struct gzip_member_writer *toc = NULL;
	int rc;
	if ((rc = gzip_members_flush(w->gz)) || (rc = estargz_toc_resolve(&w->toc, member_offset, w->gz)) ||
	    (rc = estargz_toc_finish(&w->toc)))
		return rc;
	size_t json_len = w->toc.json.len, pad = (512 - json_len % 512) % 512;
	int64_t toc_offset = gzip_members_written(w->gz);
	if ((rc = estargz_toc_tar_header(header, json_len)) ||
	    (rc = digest_of_bytes(out->toc_digest, w->toc.json.data, json_len)) ||
	    (rc = gzip_member_writer_new(&toc, w->dest, w->level_set, w->level)))
		return rc;
	const struct {
		const void *p;
		size_t n;
	} parts[] = {{header, sizeof(header)}, {w->toc.json.data, json_len}, {zeros, pad}, {zeros, sizeof(zeros)}};
	if ((rc = gzip_member_begin(toc)))
		goto out;
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		w->out_bytes += (int64_t)parts[i].n;
		if ((rc = sha256_update(w->out_hash, parts[i].p, parts[i].n)) ||
		    (rc = gzip_member_write(toc, parts[i].p, parts[i].n)))
			goto out;
	}
	estargz_footer(footer, toc_offset);
	if ((rc = gzip_member_end(toc)) || (rc = gzip_member_write_raw(toc, footer, sizeof(footer))) ||
	    (rc = gzip_member_flush(toc)))
		goto out;
	out->toc_entries = w->toc.n_entries;
	out->uncompressed_size = w->out_bytes;
	rc = sha256_final(w->out_hash, out->diff_id);
out:
	gzip_member_writer_free(toc);
	return rc;
}

/* Where the source's entries end.  Lossless, the end-of-archive blocks
 * and whatever follows stay in the last member; in the entry layout the
 * TOC entry follows the last entry, and the source's end is read (for its
 * digest) but not written. */
static int finish_source(struct writer *w, struct estargz_write_result *out)
{
	int rc;
	if (w->lossless) {
		if ((rc = tar_walk_emit_rest(w->walk, to_member, w)))
			return rc;
		out->source_size = tar_walk_emitted(w->walk);
		struct sha256 *copy = NULL;
		if (!(rc = sha256_new(&copy)) && !(rc = sha256_copy(copy, w->out_hash)))
			rc = sha256_final(copy, out->source_diff_id);
		sha256_free(copy);
		return rc;
	}
	if ((rc = close_previous(w, tar_walk_end_pos(w->walk))) || (rc = tar_walk_emit_rest(w->walk, NULL, NULL)))
		return rc;
	out->source_size = tar_walk_emitted(w->walk);
	return w->src_hash ? sha256_final(w->src_hash, out->source_diff_id) : 0;
}

static int run(struct writer *w, struct estargz_write_result *out)
{
	const struct tar_entry *e;
	int rc;
	if (!w->lossless && (rc = write_landmark(w)))
		return rc;
	while ((rc = tar_walk_next(w->walk, &e)) == 1)
		if ((rc = add_entry(w, e)))
			return rc;
	if (rc < 0)
		return rc;
	if ((rc = finish_source(w, out)))
		return rc;
	out->dropped = w->dropped;
	return write_toc(w, out);
}

int estargz_write(struct estargz_write_result *out, struct byte_source *tar, struct byte_sink *dest,
		  const struct estargz_write_options *o, const char *what)
{
	struct writer w = {.what = what,
			   .paths = LAYER_PATHS_INIT,
			   .lossless = o->lossless,
			   .dest = dest,
			   .level_set = o->level_set,
			   .level = o->level};
	int rc;
	memset(out, 0, sizeof(*out));
	w.chunk_size = o->chunk_size > 0 ? o->chunk_size : ESTARGZ_CHUNK_SIZE;
	estargz_toc_init(&w.toc);
	if ((rc = sha256_new(&w.out_hash)) || (!w.lossless && !o->source_digest_known && (rc = sha256_new(&w.src_hash))) ||
	    (rc = sha256_new(&w.file_hash)) || (rc = sha256_new(&w.chunk_hash)) ||
	    /* a chunk and the headers after it in one piece, mostly */
	    (rc = gzip_members_new(&w.gz, dest, o->level_set, o->level, (size_t)w.chunk_size + ESTARGZ_AFTER_CHUNK)) ||
	    (rc = tar_walk_new(&w.walk, tar, w.lossless ? w.out_hash : w.src_hash, what)))
		goto out;
	rc = run(&w, out);
out:
	tar_walk_free(w.walk);
	gzip_members_free(w.gz);
	estargz_toc_free(&w.toc);
	layer_paths_free(&w.paths);
	sha256_free(w.out_hash);
	sha256_free(w.src_hash);
	sha256_free(w.file_hash);
	sha256_free(w.chunk_hash);
	free(w.chunks);
	return rc;
}
