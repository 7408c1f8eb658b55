#include "core/estargz_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/estargz_toc.h"
#include "core/gzip_member.h"
#include "core/layer_paths.h"
#include "core/tar_walk.h"

struct chunk {
	int64_t offset;       /* compressed offset of the member it starts */
	int64_t chunk_offset; /* within the file */
	int64_t size;
	char digest[DIGEST_BUF];
};

struct writer {
	const char *what;
	int64_t chunk_size;
	struct tar_walk *walk;
	struct gzip_member_writer *gz;
	struct estargz_toc toc;
	struct layer_paths paths;
	struct sha256 *tar_hash; /* every byte of the tar, then of the TOC tar */
	struct sha256 *file_hash, *chunk_hash;
	bool hash_chunks;        /* the file has several chunks, each hashed on its own */
	struct chunk *chunks;
	size_t n_chunks, cap_chunks;
};

/* Tar bytes into the open member (a member is opened if none is). */
static int to_member(void *ctx, const void *buf, size_t len)
{
	struct writer *w = ctx;
	return gzip_member_write(w->gz, buf, len);
}

/* File data: into the member and into the file's hashes. */
static int data_to_member(void *ctx, const void *buf, size_t len)
{
	struct writer *w = ctx;
	if (sha256_update(w->file_hash, buf, len) || (w->hash_chunks && sha256_update(w->chunk_hash, buf, len)))
		return ERR_FAILURE;
	return gzip_member_write(w->gz, buf, len);
}

static int chunk_begin(struct writer *w, int64_t chunk_offset, int64_t size)
{
	if (w->n_chunks == w->cap_chunks) {
		size_t cap = w->cap_chunks ? w->cap_chunks * 2 : 16;
		struct chunk *c = realloc(w->chunks, cap * sizeof(*c));
		if (!c)
			return error_set(ERR_FAILURE, "out of memory");
		w->chunks = c;
		w->cap_chunks = cap;
	}
	int rc = gzip_member_end(w->gz);
	if (rc)
		return rc;
	struct chunk *c = &w->chunks[w->n_chunks++];
	memset(c, 0, sizeof(*c));
	c->offset = gzip_member_offset(w->gz);
	c->chunk_offset = chunk_offset;
	c->size = size;
	return gzip_member_begin(w->gz);
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

/* Data of other entries, if the archive gives them any: kept as it is. */
static int copy_other_data(struct writer *w)
{
	int64_t pos;
	size_t len;
	int rc;
	while ((rc = tar_walk_data(w->walk, &pos, &len)) == 1)
		if ((rc = tar_walk_emit(w->walk, pos + (int64_t)len, to_member, w)))
			return rc;
	return rc;
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
	bool is_toc = strcmp(clean, ESTARGZ_TOC_NAME) == 0;
	free(clean);
	if (is_toc)
		return error_set(ERR_CORRUPT, "%s: the layer already holds a %s entry (an eStargz TOC); "
				 "it cannot be converted without losing bytes", w->what, ESTARGZ_TOC_NAME);
	bool hardlink = strcmp(type, "hardlink") == 0;
	if ((rc = layer_paths_check(&w->paths, e->name, hardlink ? e->linkname : NULL, w->what)))
		return rc;

	/* headers (and the previous entry's padding) go to the open member */
	if ((rc = tar_walk_emit(w->walk, e->data_pos, to_member, w)))
		return rc;
	is_reg = strcmp(type, "reg") == 0;
	if (is_reg && e->size > 0)
		rc = copy_file_data(w, e, digest);
	else
		rc = copy_other_data(w);
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
		t.offset = c->offset;
		t.chunk_size = c->size == w->chunk_size ? c->size : 0; /* only full chunks say their size */
		t.chunk_digest = c->digest;
		rc = estargz_toc_add(&w->toc, &t);
	}
	return rc;
}

/* The TOC tar (header, JSON, padding, end-of-archive) in a member of its
 * own, then the footer that points at it. */
static int write_toc(struct writer *w, struct estargz_write_result *out)
{
	static const unsigned char zeros[1024];
	unsigned char header[512], footer[ESTARGZ_FOOTER_SIZE];
	int rc;
	if ((rc = estargz_toc_finish(&w->toc)) || (rc = gzip_member_end(w->gz)))
		return rc;
	size_t json_len = w->toc.json.len, pad = (512 - json_len % 512) % 512;
	int64_t toc_offset = gzip_member_offset(w->gz);
	if ((rc = estargz_toc_tar_header(header, json_len)) ||
	    (rc = digest_of_bytes(out->toc_digest, w->toc.json.data, json_len)))
		return rc;
	const struct {
		const void *p;
		size_t n;
	} parts[] = {{header, sizeof(header)}, {w->toc.json.data, json_len}, {zeros, pad}, {zeros, sizeof(zeros)}};
	if ((rc = gzip_member_begin(w->gz)))
		return rc;
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		if ((rc = gzip_member_write(w->gz, parts[i].p, parts[i].n)) ||
		    (rc = sha256_update(w->tar_hash, parts[i].p, parts[i].n)))
			return rc;
		out->uncompressed_size += (int64_t)parts[i].n;
	}
	estargz_footer(footer, toc_offset);
	if ((rc = gzip_member_end(w->gz)) || (rc = gzip_member_write_raw(w->gz, footer, sizeof(footer))) ||
	    (rc = gzip_member_flush(w->gz)))
		return rc;
	out->toc_entries = w->toc.n_entries;
	return sha256_final(w->tar_hash, out->diff_id);
}

static int run(struct writer *w, struct estargz_write_result *out)
{
	const struct tar_entry *e;
	struct sha256 *copy = NULL;
	int rc;
	while ((rc = tar_walk_next(w->walk, &e)) == 1)
		if ((rc = add_entry(w, e)))
			return rc;
	if (rc < 0)
		return rc;
	/* the end-of-archive blocks and whatever follows stay in the last member */
	if ((rc = tar_walk_emit_rest(w->walk, to_member, w)))
		return rc;
	out->source_size = out->uncompressed_size = tar_walk_emitted(w->walk);
	if ((rc = sha256_new(&copy)) || (rc = sha256_copy(copy, w->tar_hash)) ||
	    (rc = sha256_final(copy, out->source_diff_id)))
		goto done;
	rc = write_toc(w, out);
done:
	sha256_free(copy);
	return rc;
}

int estargz_write(struct estargz_write_result *out, struct byte_source *tar, struct byte_sink *dest,
		  const struct estargz_write_options *o, const char *what)
{
	struct writer w = {.what = what, .paths = LAYER_PATHS_INIT};
	int rc;
	memset(out, 0, sizeof(*out));
	w.chunk_size = o->chunk_size > 0 ? o->chunk_size : ESTARGZ_CHUNK_SIZE;
	estargz_toc_init(&w.toc);
	if ((rc = sha256_new(&w.tar_hash)) || (rc = sha256_new(&w.file_hash)) || (rc = sha256_new(&w.chunk_hash)) ||
	    (rc = gzip_member_writer_new(&w.gz, dest, o->level_set, o->level)) ||
	    (rc = tar_walk_new(&w.walk, tar, w.tar_hash, what)))
		goto out;
	rc = run(&w, out);
out:
	tar_walk_free(w.walk);
	gzip_member_writer_free(w.gz);
	estargz_toc_free(&w.toc);
	layer_paths_free(&w.paths);
	sha256_free(w.tar_hash);
	sha256_free(w.file_hash);
	sha256_free(w.chunk_hash);
	free(w.chunks);
	return rc;
}
