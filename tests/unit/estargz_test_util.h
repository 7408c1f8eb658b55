/* Helpers of the eStargz unit tests (test_estargz.c, test_estargz_writer.c):
 * writing and reading blobs in memory, the TOC of a blob read the plain
 * way, the member layout of a gzip stream, tars built with libarchive. */
#ifndef CACHECTL_ESTARGZ_TEST_UTIL_H
#define CACHECTL_ESTARGZ_TEST_UTIL_H

#include <archive.h>
#include <archive_entry.h>
#include <cjson/cJSON.h>
#include <regex.h>

#include "check.h"
#include "mem_sink.h"
#include "core/codec/codec.h"
#include "core/codec/estargz_reader.h"
#include "core/codec/estargz_toc.h"
#include "core/codec/estargz_writer.h"
#include "core/codec/gzip_member.h"

/* ---- helpers ------------------------------------------------------------ */

/* Plain gunzip of bytes (every member) through the codec layer; the
 * independent judges are the Go reader and libarchive in the e2e tests. */
static inline int gunzip(struct buffer *out, const void *data, size_t len)
{
	struct byte_source *mem, *d;
	char buf[65536];
	buffer_reset(out);
	if (memory_source_new(&mem, data, len) || gzip_source_new(&d, mem, "test"))
		return -1;
	int rc = 0;
	for (;;) {
		ssize_t n = source_read(d, buf, sizeof(buf));
		if (n <= 0) {
			rc = (int)n;
			break;
		}
		CHECK(buffer_append(out, buf, (size_t)n) == 0);
	}
	source_close(d);
	return rc;
}

#define ENTRIES false
#define LOSSLESS true

static inline int write_esgz(struct estargz_write_result *r, struct buffer *blob, const void *tar, size_t len, int level,
		      bool lossless)
{
	struct byte_source *src;
	struct mem_sink m;
	struct estargz_write_options o = {.level_set = level != -1, .level = level, .lossless = lossless};
	mem_init(&m);
	if (memory_source_new(&src, tar, len))
		return -1;
	int rc = estargz_write(r, src, &m.base, &o, "test layer");
	source_close(src);
	buffer_reset(blob);
	CHECK(buffer_append(blob, m.b.data, m.b.len) == 0);
	buffer_free(&m.b);
	return rc;
}

static inline int read_esgz(struct estargz_read_result *r, struct buffer *plain, const void *blob, size_t len)
{
	struct byte_source *src;
	struct mem_sink m;
	mem_init(&m);
	if (memory_source_new(&src, blob, len))
		return -1;
	int rc = estargz_read(r, src, &m.base, "test blob");
	buffer_reset(plain);
	CHECK(buffer_append(plain, m.b.data, m.b.len) == 0);
	buffer_free(&m.b);
	return rc;
}

static inline int64_t footer_offset(const struct buffer *blob)
{
	int64_t off = -1;
	size_t fs;
	if (estargz_footer_parse((const unsigned char *)blob->data, blob->len, &off, &fs))
		return -1;
	return off;
}

/* The TOC JSON of a blob, read the plain way: gunzip from the footer's
 * offset, skip the tar header. */
static inline int toc_of(struct buffer *json, const struct buffer *blob)
{
	struct buffer tar = BUFFER_INIT;
	int64_t off = footer_offset(blob);
	if (off < 0 || gunzip(&tar, blob->data + off, blob->len - (size_t)off - ESTARGZ_FOOTER_SIZE) || tar.len < 512) {
		buffer_free(&tar);
		return -1;
	}
	size_t size = strtoul(tar.data + 124, NULL, 8);
	buffer_reset(json);
	CHECK(buffer_append(json, tar.data + 512, size) == 0);
	buffer_free(&tar);
	return 0;
}

#define LANDMARK_DIGEST "sha256:dc0e9c3658a1a3ed1ec94274d8b19925c93e1abb7ddba294923ad9bde30f8cb8"
/* The landmark as the TOC lists it (estargz.Build's, offset masked). */
#define LANDMARK_TOC_ENTRY                                                                                         \
	"\t\t{\n\t\t\t\"name\": \".no.prefetch.landmark\",\n\t\t\t\"type\": \"reg\",\n\t\t\t\"size\": 1,\n"           \
	"\t\t\t\"offset\": X,\n\t\t\t\"digest\": \"" LANDMARK_DIGEST "\",\n\t\t\t\"chunkDigest\": \"" LANDMARK_DIGEST  \
	"\"\n\t\t}"

/* "offset": N (compressed offsets depend on the compressor) -> "offset": X */
static inline void mask_offsets(struct buffer *json)
{
	regex_t re;
	regmatch_t m;
	struct buffer out = BUFFER_INIT;
	regcomp(&re, "\"offset\": [0-9]+", REG_EXTENDED);
	const char *p = json->data;
	while (regexec(&re, p, 1, &m, 0) == 0) {
		CHECK(buffer_append(&out, p, (size_t)m.rm_so) == 0);
		CHECK(buffer_append_str(&out, "\"offset\": X") == 0);
		p += m.rm_eo;
	}
	CHECK(buffer_append_str(&out, p) == 0);
	regfree(&re);
	buffer_reset(json);
	CHECK(buffer_append(json, out.data, out.len) == 0);
	buffer_free(&out);
}

/* Decompressed lengths of the members of a gzip stream, in order. */
struct member_log {
	int64_t starts[4096];
	size_t n;
};

static inline int log_member(void *ctx, const struct gzip_member_start *m)
{
	struct member_log *l = ctx;
	if (l->n < 4096)
		l->starts[l->n++] = m->uncompressed;
	return 0;
}

static inline int member_layout(struct member_log *log, const struct buffer *blob)
{
	struct byte_source *mem, *g;
	char buf[65536];
	log->n = 0;
	if (memory_source_new(&mem, blob->data, blob->len) ||
	    gzip_members_source_new(&g, mem, log_member, log, "members"))
		return -1;
	ssize_t n;
	while ((n = source_read(g, buf, sizeof(buf))) > 0)
		;
	source_close(g);
	return (int)n;
}

/* Tars built here, with libarchive: regular files of a pattern, directories,
 * links. */
static inline la_ssize_t tar_out(struct archive *a, void *ctx, const void *buf, size_t len)
{
	(void)a;
	return buffer_append(ctx, buf, len) ? -1 : (la_ssize_t)len;
}

struct file_spec {
	const char *name;
	mode_t type;
	int64_t size; /* regular files: bytes of pattern */
	const char *link;
};

static inline void make_tar(struct buffer *out, const struct file_spec *files, size_t n)
{
	struct archive *a = archive_write_new();
	buffer_reset(out);
	archive_write_set_format_pax_restricted(a);
	archive_write_set_bytes_per_block(a, 0);
	archive_write_open(a, out, NULL, tar_out, NULL);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, files[i].name);
		archive_entry_set_filetype(e, files[i].type);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_mtime(e, 1700000000, 0);
		if (files[i].type == AE_IFLNK)
			archive_entry_set_symlink(e, files[i].link);
		if (files[i].link && files[i].type == AE_IFREG)
			archive_entry_set_hardlink(e, files[i].link);
		archive_entry_set_size(e, files[i].type == AE_IFREG && !files[i].link ? files[i].size : 0);
		archive_write_header(a, e);
		for (int64_t k = 0; files[i].type == AE_IFREG && !files[i].link && k < files[i].size;) {
			char block[8192];
			size_t m = files[i].size - k < (int64_t)sizeof(block) ? (size_t)(files[i].size - k) : sizeof(block);
			for (size_t j = 0; j < m; j++)
				block[j] = (char)((k + (int64_t)j) * 7 / 3);
			archive_write_data(a, block, m);
			k += (int64_t)m;
		}
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
}

#endif
