/* eStargz: the format's fixed bytes, both layouts of the writer (the
 * default entry layout of estargz.Build, and BuildKit's lossless one checked
 * against the layers a real BuildKit wrote, fixtures/buildkit-v0.23.2/
 * local-estargz), chunking, and the reader's checks. */
#include <archive.h>
#include <archive_entry.h>
#include <cjson/cJSON.h>
#include <regex.h>

#include "check.h"
#include "mem_sink.h"
#include "core/codec/codec.h"
#include "core/util/error.h"
#include "core/codec/estargz_reader.h"
#include "core/codec/estargz_toc.h"
#include "core/codec/estargz_writer.h"
#include "core/codec/gzip_member.h"
#include "formats/oci_layout.h"
#include "formats/cache_manifest.h"

/* ---- helpers ------------------------------------------------------------ */

/* Plain gunzip of bytes (every member) through the codec layer; the
 * independent judges are the Go reader and libarchive in the e2e tests. */
static int gunzip(struct buffer *out, const void *data, size_t len)
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

static int write_esgz(struct estargz_write_result *r, struct buffer *blob, const void *tar, size_t len, int level,
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

static int read_esgz(struct estargz_read_result *r, struct buffer *plain, const void *blob, size_t len)
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

static int64_t footer_offset(const struct buffer *blob)
{
	int64_t off = -1;
	size_t fs;
	if (estargz_footer_parse((const unsigned char *)blob->data, blob->len, &off, &fs))
		return -1;
	return off;
}

/* The TOC JSON of a blob, read the plain way: gunzip from the footer's
 * offset, skip the tar header. */
static int toc_of(struct buffer *json, const struct buffer *blob)
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
static void mask_offsets(struct buffer *json)
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

static int log_member(void *ctx, const struct gzip_member_start *m)
{
	struct member_log *l = ctx;
	if (l->n < 4096)
		l->starts[l->n++] = m->uncompressed;
	return 0;
}

static int member_layout(struct member_log *log, const struct buffer *blob)
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

/* ---- format pieces ------------------------------------------------------ */

static void test_footer(void)
{
	/* shared/spec/estargz.md §2.3, fixture blob 6616d0fd... */
	static const unsigned char want[ESTARGZ_FOOTER_SIZE] = {
		0x1f, 0x8b, 0x08, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x1a, 0x00, 0x53, 0x47, 0x16, 0x00, 0x30,
		0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x32, 0x30, 0x53, 0x54,
		0x41, 0x52, 0x47, 0x5a, 0x01, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
	unsigned char f[ESTARGZ_FOOTER_SIZE];
	int64_t off = 0;
	size_t size = 0;
	estargz_footer(f, 0x20);
	CHECK(memcmp(f, want, sizeof(want)) == 0);
	CHECK(estargz_footer_parse(f, sizeof(f), &off, &size) == 0);
	CHECK_INT(off, 0x20);
	CHECK_INT(size, 51);
	/* the footer is a valid, empty gzip member */
	struct buffer out = BUFFER_INIT;
	CHECK(gunzip(&out, f, sizeof(f)) == 0);
	CHECK_INT(out.len, 0);
	/* the legacy 47-byte form */
	unsigned char legacy[ESTARGZ_LEGACY_FOOTER_SIZE] = {0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 22, 0};
	memcpy(legacy + 12, "00000000000001a5STARGZ", 22);
	memcpy(legacy + 34, "\x01\x00\x00\xff\xff\0\0\0\0\0\0\0\0", 13);
	CHECK(estargz_footer_parse(legacy, sizeof(legacy), &off, &size) == 0);
	CHECK_INT(off, 0x1a5);
	CHECK_INT(size, 47);
	f[20] = 'x';
	CHECK(estargz_footer_parse(f + 4, sizeof(f) - 4, &off, &size) == -1);
	buffer_free(&out);
}

static void test_modtime(void)
{
	char s[40];
	estargz_format_modtime(s, true, 1795850632, 499999999);
	CHECK_STR(s, "2026-11-28T07:23:52Z");
	estargz_format_modtime(s, true, 1795850632, 500000000);
	CHECK_STR(s, "2026-11-28T07:23:53Z");
	estargz_format_modtime(s, true, 0, 900000000);
	CHECK_STR(s, ""); /* Go: t.Unix() == 0 */
	estargz_format_modtime(s, false, 5, 0);
	CHECK_STR(s, "");
	estargz_format_modtime(s, true, -1, 0);
	CHECK_STR(s, "1969-12-31T23:59:59Z");
}

/* The empty layer of the spec's worked example: 1024 zero bytes.  In the
 * lossless layout the TOC, its digest, the diffID and the size are the very
 * values BuildKit wrote (fixture blob 6616d0fd...). */
static void test_empty_layer_lossless(void)
{
	static const char zeros[1024];
	struct estargz_write_result w;
	struct estargz_read_result r;
	struct buffer blob = BUFFER_INIT, json = BUFFER_INIT, plain = BUFFER_INIT;
	CHECK(write_esgz(&w, &blob, zeros, sizeof(zeros), -1, LOSSLESS) == 0);
	CHECK_STR(w.toc_digest, "sha256:34389139a1c1b35477be831e2253885fa98a9fc3906b16880a391631786dd194");
	CHECK_STR(w.diff_id, "sha256:63780bb77499d981523cbe6ee5cb26d5bbefce35531f0a8f4837fa14fcae9cda");
	CHECK_INT(w.uncompressed_size, 3072);
	CHECK_STR(w.source_diff_id, "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef");
	CHECK_INT(w.toc_entries, 0);
	CHECK(toc_of(&json, &blob) == 0);
	CHECK_STR(json.data, "{\n\t\"version\": 1,\n\t\"entries\": null\n}");
	CHECK(read_esgz(&r, &plain, blob.data, blob.len) == 0);
	CHECK(plain.len == 1024 && memcmp(plain.data, zeros, 1024) == 0);
	CHECK_STR(r.diff_id, w.diff_id);
	CHECK_STR(r.toc_digest, w.toc_digest);
	/* a stream with no bytes at all is a layer with no members but the TOC */
	CHECK(write_esgz(&w, &blob, "", 0, -1, LOSSLESS) == 0);
	CHECK_INT(footer_offset(&blob), 0);
	CHECK(read_esgz(&r, &plain, blob.data, blob.len) == 0);
	CHECK_INT(plain.len, 0);
	buffer_free(&blob);
	buffer_free(&json);
	buffer_free(&plain);
}

/* The same layer in the entry layout: one tar holding the landmark and
 * the TOC entry, nothing of the source but what its end-of-archive
 * marker meant. */
static void test_empty_layer_entries(void)
{
	static const char zeros[2048];
	struct estargz_write_result w;
	struct estargz_read_result r;
	struct buffer blob = BUFFER_INIT, json = BUFFER_INIT, plain = BUFFER_INIT, full = BUFFER_INIT;
	struct member_log *log = calloc(1, sizeof(*log));
	char digest[DIGEST_BUF];
	for (int k = 0; k < 2; k++) {
		/* 1024 zero bytes, and no bytes at all */
		CHECK(write_esgz(&w, &blob, zeros, k ? 0 : 1024, -1, ENTRIES) == 0);
		CHECK_INT(w.toc_entries, 1);
		CHECK_INT(w.source_size, k ? 0 : 1024);
		CHECK(toc_of(&json, &blob) == 0);
		mask_offsets(&json);
		CHECK_STR(json.data, "{\n\t\"version\": 1,\n\t\"entries\": [\n" LANDMARK_TOC_ENTRY "\n\t]\n}");
		/* landmark header | landmark data | TOC tar: members at 0, 512, 1024 */
		CHECK(member_layout(log, &blob) == 0);
		CHECK_INT(log->n, 4);
		CHECK_INT(log->starts[0], 0);
		CHECK_INT(log->starts[1], 512);
		CHECK_INT(log->starts[2], 1024);
		CHECK(gunzip(&full, blob.data, blob.len) == 0);
		CHECK_INT(full.len, w.uncompressed_size);
		CHECK_INT(full.len, 1024 + 512 + 512 + 1024);
		CHECK(memcmp(full.data, ESTARGZ_NO_PREFETCH_LANDMARK, sizeof(ESTARGZ_NO_PREFETCH_LANDMARK)) == 0);
		CHECK(full.data[512] == ESTARGZ_LANDMARK_CONTENT && memcmp(full.data + 513, zeros, 511) == 0);
		CHECK(memcmp(full.data + 1024, ESTARGZ_TOC_NAME, sizeof(ESTARGZ_TOC_NAME)) == 0);
		CHECK(memcmp(full.data + full.len - 1024, zeros, 1024) == 0);
		CHECK(digest_of_bytes(digest, full.data, full.len) == 0);
		CHECK_STR(w.diff_id, digest);
		CHECK(digest_of_bytes(digest, zeros, k ? 0 : 1024) == 0);
		CHECK_STR(w.source_diff_id, digest);
		/* read back: the landmark is left out, the archive still ends */
		CHECK(read_esgz(&r, &plain, blob.data, blob.len) == 0);
		CHECK(plain.len == 1024 && memcmp(plain.data, zeros, 1024) == 0);
		CHECK_INT(r.landmarks, 1);
		CHECK_INT(r.toc_entries, 1);
		CHECK_STR(r.diff_id, w.diff_id);
		CHECK_STR(r.toc_digest, w.toc_digest);
		CHECK_INT(r.uncompressed_size, w.uncompressed_size);
	}
	free(log);
	buffer_free(&blob);
	buffer_free(&json);
	buffer_free(&plain);
	buffer_free(&full);
}

/* ---- against BuildKit's own eStargz layers ------------------------------ */

/* A masked lossless TOC with the landmark entry put in front: the entry
 * layout's TOC of the same tar. */
static void with_landmark(struct buffer *out, const char *lossless)
{
	static const char head[] = "{\n\t\"version\": 1,\n\t\"entries\": [\n";
	buffer_reset(out);
	CHECK(buffer_append_str(out, head) == 0);
	CHECK(buffer_append_str(out, LANDMARK_TOC_ENTRY) == 0);
	if (strncmp(lossless, head, strlen(head)) == 0) {
		CHECK(buffer_append_str(out, ",\n") == 0);
		CHECK(buffer_append_str(out, lossless + strlen(head)) == 0);
	} else {
		CHECK(buffer_append_str(out, "\n\t]\n}") == 0); /* it had "entries": null */
	}
}

static void test_fixture_layers(const char *fixtures)
{
	char dir[4096], path[4300];
	struct oci_index idx;
	struct buffer root = BUFFER_INIT;
	struct cache_root parsed;
	snprintf(dir, sizeof(dir), "%s/buildkit-v0.23.2/local-estargz/export", fixtures);
	if (oci_index_read(&idx, dir)) {
		fprintf(stderr, "fixture local-estargz: %s\n", error_message());
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/blobs/sha256/%s", dir, digest_hex(idx.manifests[0].digest));
	oci_index_free(&idx);
	if (buffer_read_file(&root, path, 1 << 20) || cache_manifest_parse(&parsed, root.data, root.len)) {
		fprintf(stderr, "fixture local-estargz: %s\n", error_message());
		exit(1);
	}
	size_t checked = 0;
	for (size_t i = 0; i < parsed.n_blobs; i++) {
		const struct descriptor *d = &parsed.blobs[i];
		const char *toc = descriptor_annotation(d, ANN_STARGZ_TOC);
		if (!toc)
			continue; /* the plain gzip base layer */
		struct buffer blob = BUFFER_INIT, tar = BUFFER_INIT, plain = BUFFER_INIT, mine = BUFFER_INIT,
			      json_theirs = BUFFER_INIT, json_mine = BUFFER_INIT, again = BUFFER_INIT;
		struct estargz_read_result r;
		struct estargz_write_result w;
		struct member_log *theirs = calloc(1, sizeof(*theirs)), *ours = calloc(1, sizeof(*ours));
		snprintf(path, sizeof(path), "%s/blobs/sha256/%s", dir, digest_hex(d->digest));
		CHECK(buffer_read_file(&blob, path, 64 << 20) == 0);
		/* the original layer tar: the members before the TOC, gunzipped */
		int64_t off = footer_offset(&blob);
		CHECK(off > 0);
		CHECK(gunzip(&tar, blob.data, (size_t)off) == 0);

		/* reading: the plain tar is exactly that, and the facts match
		 * BuildKit's annotations */
		CHECK(read_esgz(&r, &plain, blob.data, blob.len) == 0);
		CHECK(plain.len == tar.len && memcmp(plain.data, tar.data, tar.len) == 0);
		CHECK_STR(r.toc_digest, toc);
		CHECK_STR(r.diff_id, descriptor_annotation(d, ANN_UNCOMPRESSED));
		char size[24];
		snprintf(size, sizeof(size), "%lld", (long long)r.uncompressed_size);
		CHECK_STR(size, descriptor_annotation(d, ANN_ESTARGZ_SIZE));
		CHECK_INT(r.toc_offset, off);

		/* writing the same tar again: the same TOC byte for byte but
		 * for compressed offsets, and members cut at the same places */
		CHECK(write_esgz(&w, &mine, tar.data, tar.len, -1, LOSSLESS) == 0);
		CHECK(toc_of(&json_theirs, &blob) == 0 && toc_of(&json_mine, &mine) == 0);
		mask_offsets(&json_theirs);
		mask_offsets(&json_mine);
		CHECK_STR(json_mine.data, json_theirs.data);
		CHECK(member_layout(theirs, &blob) == 0 && member_layout(ours, &mine) == 0);
		CHECK_INT(ours->n, theirs->n);
		for (size_t k = 0; k < ours->n && k < theirs->n; k++)
			CHECK_INT(ours->starts[k], theirs->starts[k]);
		CHECK_INT(w.toc_entries, r.toc_entries);
		/* and what we wrote reads back to the same tar */
		CHECK(read_esgz(&r, &again, mine.data, mine.len) == 0);
		CHECK(again.len == tar.len && memcmp(again.data, tar.data, tar.len) == 0);
		CHECK_STR(r.diff_id, w.diff_id);
		CHECK_STR(r.toc_digest, w.toc_digest);
		CHECK_INT(r.uncompressed_size, w.uncompressed_size);

		/* the entry layout of the same tar: BuildKit's TOC with the
		 * landmark in front; it reads back to the same tar, as BuildKit's
		 * tars end with exactly one end-of-archive marker */
		CHECK(write_esgz(&w, &mine, tar.data, tar.len, -1, ENTRIES) == 0);
		CHECK(toc_of(&json_mine, &mine) == 0);
		mask_offsets(&json_mine);
		with_landmark(&again, json_theirs.data);
		CHECK_STR(json_mine.data, again.data);
		CHECK_INT(w.toc_entries, r.toc_entries + 1);
		char tar_digest[DIGEST_BUF];
		CHECK(digest_of_bytes(tar_digest, tar.data, tar.len) == 0);
		CHECK_STR(w.source_diff_id, tar_digest);
		CHECK_INT(w.source_size, tar.len);
		CHECK(read_esgz(&r, &again, mine.data, mine.len) == 0);
		CHECK(again.len == tar.len && memcmp(again.data, tar.data, tar.len) == 0);
		CHECK_INT(r.landmarks, 1);
		CHECK_STR(r.diff_id, w.diff_id);
		checked++;
		free(theirs);
		free(ours);
		buffer_free(&blob);
		buffer_free(&tar);
		buffer_free(&plain);
		buffer_free(&mine);
		buffer_free(&json_theirs);
		buffer_free(&json_mine);
		buffer_free(&again);
	}
	CHECK_INT(checked, 8);
	cache_root_free(&parsed);
	buffer_free(&root);
}

/* ---- tars built here ---------------------------------------------------- */

static la_ssize_t tar_out(struct archive *a, void *ctx, const void *buf, size_t len)
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

static void make_tar(struct buffer *out, const struct file_spec *files, size_t n)
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

/* Chunking, the same in both layouts; the entry layout has the landmark
 * entry (and its member) in front. */
static void test_chunks(bool lossless)
{
	const int64_t C = ESTARGZ_CHUNK_SIZE;
	struct file_spec files[] = {
		{"big", AE_IFREG, 2 * C + 1, NULL},
		{"exact", AE_IFREG, 2 * C, NULL},
		{"small", AE_IFREG, 10, NULL},
		{"empty", AE_IFREG, 0, NULL},
	};
	struct buffer tar = BUFFER_INIT, blob = BUFFER_INIT, json = BUFFER_INIT, plain = BUFFER_INIT;
	struct estargz_write_result w;
	struct estargz_read_result r;
	int lm = lossless ? 0 : 1;
	make_tar(&tar, files, 4);
	CHECK(write_esgz(&w, &blob, tar.data, tar.len, 1, lossless) == 0);
	CHECK_INT(w.toc_entries, lm + 3 + 2 + 1 + 1);
	CHECK(toc_of(&json, &blob) == 0);
	cJSON *toc = cJSON_Parse(json.data);
	const cJSON *e = cJSON_GetObjectItem(toc, "entries");
	CHECK_INT(cJSON_GetArraySize(e), lm + 7);
	if (lm)
		CHECK_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(e, 0), "name")->valuestring, ESTARGZ_NO_PREFETCH_LANDMARK);
	const char *want_types[] = {"reg", "chunk", "chunk", "reg", "chunk", "reg", "reg"};
	const int64_t want_chunk_offset[] = {0, C, 2 * C, 0, C, 0, 0};
	const int64_t want_chunk_size[] = {C, C, 0, C, C, 0, 0};
	for (int i = 0; i < 7; i++) {
		const cJSON *x = cJSON_GetArrayItem(e, i + lm);
		CHECK_STR(cJSON_GetObjectItem(x, "type")->valuestring, want_types[i]);
		const cJSON *co = cJSON_GetObjectItem(x, "chunkOffset"), *cs = cJSON_GetObjectItem(x, "chunkSize");
		CHECK_INT(co ? (int64_t)co->valuedouble : 0, want_chunk_offset[i]);
		CHECK_INT(cs ? (int64_t)cs->valuedouble : 0, want_chunk_size[i]);
		CHECK((cJSON_GetObjectItem(x, "offset") != NULL) == (i < 6));
		CHECK((cJSON_GetObjectItem(x, "chunkDigest") != NULL) == (i < 6));
		CHECK((cJSON_GetObjectItem(x, "digest") != NULL) == (strcmp(want_types[i], "reg") == 0));
	}
	cJSON_Delete(toc);
	/* one member per chunk: the tar head (the landmark's data), 3 + 2 + 1
	 * chunks, TOC, footer */
	struct member_log *log = calloc(1, sizeof(*log));
	CHECK(member_layout(log, &blob) == 0);
	CHECK_INT(log->n, lm + 1 + 6 + 2);
	free(log);
	/* libarchive wrote exactly one end-of-archive marker: both layouts
	 * read back to the very tar */
	CHECK(read_esgz(&r, &plain, blob.data, blob.len) == 0);
	CHECK(plain.len == tar.len && memcmp(plain.data, tar.data, tar.len) == 0);
	CHECK_STR(r.toc_digest, w.toc_digest);
	CHECK_INT(r.landmarks, lm);
	/* the level is applied: stored (0) is larger than 9 */
	struct buffer stored = BUFFER_INIT;
	CHECK(write_esgz(&w, &stored, tar.data, tar.len, 0, lossless) == 0);
	CHECK(stored.len > blob.len);
	CHECK(read_esgz(&r, &plain, stored.data, stored.len) == 0);
	buffer_free(&stored);
	buffer_free(&tar);
	buffer_free(&blob);
	buffer_free(&json);
	buffer_free(&plain);
}

/* Layers cachectl refuses to rewrite, each with a message naming why. */
static void test_bad_tars(bool lossless)
{
	struct {
		struct file_spec files[3];
		size_t n;
		const char *says;
	} cases[] = {
		{{{"../escape", AE_IFREG, 3, NULL}}, 1, "leads outside the layer root"},
		{{{"a/../../x", AE_IFDIR, 0, NULL}}, 1, "leads outside the layer root"},
		{{{"/etc/passwd", AE_IFREG, 3, NULL}}, 1, "absolute path"},
		{{{"f", AE_IFREG, 3, NULL}, {"./f", AE_IFREG, 3, NULL}}, 2, "appears twice"},
		{{{"f", AE_IFREG, 3, NULL}, {"h", AE_IFREG, 0, "/f"}}, 2, "absolute path"},
		{{{"f", AE_IFREG, 3, NULL}, {"h", AE_IFREG, 0, "../f"}}, 2, "leads outside"},
		{{{"h", AE_IFREG, 0, "nothing"}}, 1, "not an earlier entry"},
	};
	struct buffer tar = BUFFER_INIT, blob = BUFFER_INIT;
	struct estargz_write_result w;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		make_tar(&tar, cases[i].files, cases[i].n);
		CHECK(write_esgz(&w, &blob, tar.data, tar.len, -1, lossless) == ERR_CORRUPT);
		if (!strstr(error_message(), cases[i].says))
			fprintf(stderr, "case %zu: %s\n", i, error_message());
		CHECK(strstr(error_message(), cases[i].says) != NULL);
	}
	/* a truncated tar */
	struct file_spec one[] = {{"f", AE_IFREG, 5000, NULL}};
	make_tar(&tar, one, 1);
	CHECK(write_esgz(&w, &blob, tar.data, 3000, -1, lossless) == ERR_CORRUPT);
	CHECK(strstr(error_message(), "runcated") != NULL);
	/* symlinks may point anywhere */
	struct file_spec links[] = {{"abs", AE_IFLNK, 0, "/does/not/exist"}, {"up", AE_IFLNK, 0, "../../x"}};
	make_tar(&tar, links, 2);
	CHECK(write_esgz(&w, &blob, tar.data, tar.len, -1, lossless) == 0);
	buffer_free(&tar);
	buffer_free(&blob);
}

/* A layer that holds a TOC entry (an eStargz blob whose annotations were
 * lost, or a file so named): the lossless layout cannot keep it; the entry
 * layout leaves it out, and the old landmarks with it, as estargz.Build
 * does. */
static void test_old_toc_in_the_source(void)
{
	struct file_spec files[] = {
		{ESTARGZ_NO_PREFETCH_LANDMARK, AE_IFREG, 1, NULL},
		{"a", AE_IFREG, 700, NULL},
		{"./" ESTARGZ_PREFETCH_LANDMARK, AE_IFREG, 1, NULL},
		{"b", AE_IFREG, 10, NULL},
		{ESTARGZ_TOC_NAME, AE_IFREG, 600, NULL},
	};
	struct file_spec kept[] = {{"a", AE_IFREG, 700, NULL}, {"b", AE_IFREG, 10, NULL}};
	struct buffer tar = BUFFER_INIT, blob = BUFFER_INIT, want = BUFFER_INIT, plain = BUFFER_INIT;
	struct estargz_write_result w;
	struct estargz_read_result r;
	make_tar(&tar, files, 5);
	CHECK(write_esgz(&w, &blob, tar.data, tar.len, -1, LOSSLESS) == ERR_CORRUPT);
	CHECK(strstr(error_message(), "already holds a stargz.index.json") != NULL);
	CHECK(write_esgz(&w, &blob, tar.data, tar.len, -1, ENTRIES) == 0);
	CHECK_INT(w.dropped, 3);
	CHECK_INT(w.toc_entries, 3); /* the new landmark, a, b */
	CHECK(read_esgz(&r, &plain, blob.data, blob.len) == 0);
	make_tar(&want, kept, 2);
	CHECK(plain.len == want.len && memcmp(plain.data, want.data, want.len) == 0);
	CHECK_INT(r.landmarks, 1);
	buffer_free(&tar);
	buffer_free(&blob);
	buffer_free(&want);
	buffer_free(&plain);
}

/* The entry layout byte for byte: landmark, the source's entries up to its
 * end-of-archive marker (record padding after it left out), the TOC entry,
 * one end-of-archive marker. */
static void test_entry_layout(void)
{
	static const char zeros[8192];
	struct file_spec files[] = {{"d", AE_IFDIR, 0, NULL}, {"d/f", AE_IFREG, 700, NULL}, {"d/l", AE_IFLNK, 0, "f"}};
	struct buffer tar = BUFFER_INIT, blob = BUFFER_INIT, full = BUFFER_INIT, json = BUFFER_INIT,
		      plain = BUFFER_INIT;
	struct estargz_write_result w;
	struct estargz_read_result r;
	char digest[DIGEST_BUF];
	make_tar(&tar, files, 3);
	size_t entries_end = tar.len - 1024;
	CHECK(buffer_append(&tar, zeros, sizeof(zeros)) == 0); /* record padding, as tar(1) writes it */
	CHECK(write_esgz(&w, &blob, tar.data, tar.len, 6, ENTRIES) == 0);
	CHECK(gunzip(&full, blob.data, blob.len) == 0);
	CHECK(toc_of(&json, &blob) == 0);
	size_t toc_tar = 512 + (json.len + 511) / 512 * 512 + 1024;
	CHECK_INT(full.len, 1024 + entries_end + toc_tar);
	CHECK_INT(w.uncompressed_size, full.len);

	/* the landmark: Go's archive/tar header for name, size 1, type '0' */
	const char *h = full.data;
	CHECK(memcmp(h, ".no.prefetch.landmark\0", 22) == 0 && memcmp(h + 22, zeros, 100 - 22) == 0);
	CHECK(memcmp(h + 100, "0000000\0" "0000000\0" "0000000\0" "00000000001\0" "00000000000\0", 44) == 0);
	CHECK(h[156] == '0');
	CHECK(memcmp(h + 257, "ustar\0" "00", 8) == 0);
	CHECK(memcmp(h + 329, "0000000\0" "0000000\0", 16) == 0);
	unsigned sum = 0;
	for (int i = 0; i < 512; i++)
		sum += (i >= 148 && i < 156) ? ' ' : (unsigned char)h[i];
	CHECK_INT(strtoul(h + 148, NULL, 8), sum);
	CHECK(h[512] == ESTARGZ_LANDMARK_CONTENT && memcmp(h + 513, zeros, 511) == 0);
	/* the source's entries as they were */
	CHECK(memcmp(full.data + 1024, tar.data, entries_end) == 0);
	/* the TOC entry right after them, then one end-of-archive marker */
	unsigned char toc_header[512];
	estargz_toc_tar_header(toc_header, json.len);
	CHECK(memcmp(full.data + 1024 + entries_end, toc_header, 512) == 0);
	CHECK(memcmp(full.data + 1024 + entries_end + 512, json.data, json.len) == 0);
	CHECK(memcmp(full.data + full.len - 1024 - (toc_tar - 1024 - 512 - json.len), zeros,
		     toc_tar - 512 - json.len) == 0);

	/* digests: the blob's over its own bytes, the source's over all of it */
	CHECK(digest_of_bytes(digest, full.data, full.len) == 0);
	CHECK_STR(w.diff_id, digest);
	CHECK(digest_of_bytes(digest, tar.data, tar.len) == 0);
	CHECK_STR(w.source_diff_id, digest);
	CHECK_INT(w.source_size, tar.len);
	CHECK_INT(w.toc_entries, 4);
	CHECK_INT(w.dropped, 0);
	CHECK(digest_of_bytes(digest, json.data, json.len) == 0);
	CHECK_STR(w.toc_digest, digest);
	mask_offsets(&json);
	CHECK(strncmp(json.data, "{\n\t\"version\": 1,\n\t\"entries\": [\n" LANDMARK_TOC_ENTRY ",\n",
		      strlen("{\n\t\"version\": 1,\n\t\"entries\": [\n" LANDMARK_TOC_ENTRY ",\n")) == 0);

	/* read back: without the landmark, with one end-of-archive marker */
	CHECK(read_esgz(&r, &plain, blob.data, blob.len) == 0);
	CHECK(plain.len == entries_end + 1024 && memcmp(plain.data, tar.data, entries_end + 1024) == 0);
	CHECK_STR(r.diff_id, w.diff_id);
	CHECK_STR(r.toc_digest, w.toc_digest);
	CHECK_INT(r.landmarks, 1);
	CHECK_INT(r.toc_entries, 4);
	buffer_free(&tar);
	buffer_free(&blob);
	buffer_free(&full);
	buffer_free(&json);
	buffer_free(&plain);
}

/* A blob whose TOC or footer lies is refused by the reader. */
static void test_lying_blobs(void)
{
	struct file_spec files[] = {{"a", AE_IFREG, 100, NULL}, {"b", AE_IFREG, 5000, NULL}};
	struct buffer tar = BUFFER_INIT, blob = BUFFER_INIT, bad = BUFFER_INIT, plain = BUFFER_INIT;
	struct estargz_write_result w;
	struct estargz_read_result r;
	make_tar(&tar, files, 2);
	CHECK(write_esgz(&w, &blob, tar.data, tar.len, -1, ENTRIES) == 0);
	int64_t off = footer_offset(&blob);
	unsigned char footer[ESTARGZ_FOOTER_SIZE];

	/* footer pointing elsewhere, or beyond the blob */
	int64_t wrong[] = {off - 1, (int64_t)blob.len + 100};
	const char *says[] = {"but it starts at", "beyond the blob"};
	for (int i = 0; i < 2; i++) {
		buffer_reset(&bad);
		CHECK(buffer_append(&bad, blob.data, blob.len - ESTARGZ_FOOTER_SIZE) == 0);
		estargz_footer(footer, wrong[i]);
		CHECK(buffer_append(&bad, footer, sizeof(footer)) == 0);
		CHECK(read_esgz(&r, &plain, bad.data, bad.len) == ERR_CORRUPT);
		CHECK(strstr(error_message(), says[i]) != NULL);
	}
	/* no footer at all: a plain gzip stream */
	buffer_reset(&bad);
	CHECK(buffer_append(&bad, blob.data, blob.len - ESTARGZ_FOOTER_SIZE) == 0);
	CHECK(read_esgz(&r, &plain, bad.data, bad.len) == ERR_CORRUPT);

	/* a TOC whose offsets or digests are wrong: rebuild the TOC member */
	struct buffer json = BUFFER_INIT;
	CHECK(toc_of(&json, &blob) == 0);
	const char *edits[][3] = {
		{"\"size\": 100,", "\"size\": 101,", "size is 101"},
		{"\"digest\": \"sha256:", "\"digest\": \"sha256:0", "digest is"},
		{"\"chunkDigest\": \"sha256:", "\"chunkDigest\": \"sha256:0", "chunkDigest is"},
		{"\"offset\": ", "\"offset\": 1", "offset is"},
		{"\"name\": \"b\"", "\"name\": \"c\"", "the name is"},
	};
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		char *at = strstr(json.data, edits[i][0]);
		CHECK(at != NULL);
		if (!at)
			continue;
		struct buffer j2 = BUFFER_INIT, toc_tar = BUFFER_INIT;
		CHECK(buffer_append(&j2, json.data, (size_t)(at - json.data)) == 0);
		CHECK(buffer_append_str(&j2, edits[i][1]) == 0);
		CHECK(buffer_append_str(&j2, at + strlen(edits[i][0])) == 0);
		if (i == 1 || i == 2) /* keep the digest 71 characters long */
			memmove(strstr(j2.data, edits[i][1]) + strlen(edits[i][1]) + 63,
				strstr(j2.data, edits[i][1]) + strlen(edits[i][1]) + 64,
				strlen(strstr(j2.data, edits[i][1]) + strlen(edits[i][1]) + 63)), j2.len--;
		unsigned char h[512];
		static const char zeros[1536];
		estargz_toc_tar_header(h, j2.len);
		CHECK(buffer_append(&toc_tar, h, 512) == 0);
		CHECK(buffer_append(&toc_tar, j2.data, j2.len) == 0);
		CHECK(buffer_append(&toc_tar, zeros, (512 - j2.len % 512) % 512 + 1024) == 0);
		struct mem_sink m;
		struct byte_sink *z;
		struct codec_options o = {.compression = COMPRESSION_GZIP};
		mem_init(&m);
		compress_sink_new(&z, &m.base, &o);
		sink_write(z, toc_tar.data, toc_tar.len);
		sink_finish(z);
		sink_close(z);
		buffer_reset(&bad);
		CHECK(buffer_append(&bad, blob.data, (size_t)off) == 0);
		CHECK(buffer_append(&bad, m.b.data, m.b.len) == 0);
		estargz_footer(footer, off);
		CHECK(buffer_append(&bad, footer, sizeof(footer)) == 0);
		CHECK(read_esgz(&r, &plain, bad.data, bad.len) == ERR_CORRUPT);
		if (!strstr(error_message(), edits[i][2]))
			fprintf(stderr, "edit %zu: %s\n", i, error_message());
		CHECK(strstr(error_message(), edits[i][2]) != NULL);
		buffer_free(&m.b);
		buffer_free(&j2);
		buffer_free(&toc_tar);
	}
	buffer_free(&json);
	buffer_free(&tar);
	buffer_free(&blob);
	buffer_free(&bad);
	buffer_free(&plain);
}

/* The layout of stargz writers without lossless mode (estargz.Build,
 * ctr-remote): a landmark file first, the TOC as the tar's last entry, no
 * end-of-archive marker before it.  The plain tar leaves out the landmark
 * and the TOC and gets an end-of-archive marker. */
static void test_toc_inside_the_tar(void)
{
	struct file_spec files[] = {{ESTARGZ_NO_PREFETCH_LANDMARK, AE_IFREG, 1, NULL}, {"f", AE_IFREG, 10, NULL}};
	struct buffer tar = BUFFER_INIT, plain = BUFFER_INIT, want = BUFFER_INIT;
	struct estargz_toc toc;
	struct estargz_read_result r;
	struct mem_sink m;
	struct gzip_member_writer *gz;
	char d1[DIGEST_BUF], d2[DIGEST_BUF];
	make_tar(&tar, files, 2);
	CHECK(tar.len >= 2048 + 1024);
	mem_init(&m);
	CHECK(gzip_member_writer_new(&gz, &m.base, false, 0) == 0);
	CHECK(digest_of_bytes(d1, tar.data + 512, 1) == 0);
	CHECK(digest_of_bytes(d2, tar.data + 1536, 10) == 0);
	/* members start at each file's data */
	gzip_member_write(gz, tar.data, 512);
	gzip_member_end(gz);
	int64_t off1 = gzip_member_offset(gz);
	gzip_member_begin(gz);
	gzip_member_write(gz, tar.data + 512, 1024);
	gzip_member_end(gz);
	int64_t off2 = gzip_member_offset(gz);
	gzip_member_begin(gz);
	gzip_member_write(gz, tar.data + 1536, 512);
	gzip_member_end(gz);
	int64_t toc_off = gzip_member_offset(gz);
	estargz_toc_init(&toc);
	struct estargz_toc_entry e1 = {.name = ESTARGZ_NO_PREFETCH_LANDMARK, .type = "reg", .size = 1, .offset = off1,
				       .digest = d1, .chunk_digest = d1};
	struct estargz_toc_entry e2 = {.name = "f", .type = "reg", .size = 10, .offset = off2, .digest = d2,
				       .chunk_digest = d2};
	estargz_toc_add(&toc, &e1);
	estargz_toc_add(&toc, &e2);
	estargz_toc_finish(&toc);
	unsigned char h[512], footer[ESTARGZ_FOOTER_SIZE];
	static const char zeros[1536];
	estargz_toc_tar_header(h, toc.json.len);
	gzip_member_begin(gz);
	gzip_member_write(gz, h, 512);
	gzip_member_write(gz, toc.json.data, toc.json.len);
	gzip_member_write(gz, zeros, (512 - toc.json.len % 512) % 512 + 1024);
	estargz_footer(footer, toc_off);
	gzip_member_write_raw(gz, footer, sizeof(footer));
	gzip_member_flush(gz);
	gzip_member_writer_free(gz);

	CHECK(read_esgz(&r, &plain, m.b.data, m.b.len) == 0);
	CHECK(buffer_append(&want, tar.data + 1024, 1024) == 0);
	CHECK(buffer_append(&want, zeros, 1024) == 0);
	CHECK(plain.len == want.len && memcmp(plain.data, want.data, want.len) == 0);
	CHECK_INT(r.landmarks, 1);
	CHECK_INT(r.toc_entries, 2);
	CHECK_INT(r.toc_offset, toc_off);
	estargz_toc_free(&toc);
	buffer_free(&m.b);
	buffer_free(&tar);
	buffer_free(&plain);
	buffer_free(&want);
}

int main(int argc, char **argv)
{
	const char *fixtures = fixture_dir(argc, argv);
	test_footer();
	test_modtime();
	test_empty_layer_lossless();
	test_empty_layer_entries();
	test_fixture_layers(fixtures);
	test_entry_layout();
	test_chunks(ENTRIES);
	test_chunks(LOSSLESS);
	test_bad_tars(ENTRIES);
	test_bad_tars(LOSSLESS);
	test_old_toc_in_the_source();
	test_lying_blobs();
	test_toc_inside_the_tar();
	CHECK_DONE();
}
