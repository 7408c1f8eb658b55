/* eStargz: the format's fixed bytes, both layouts of the writer (the
 * default entry layout of estargz.Build, and BuildKit's lossless one checked
 * against the layers a real BuildKit wrote, fixtures/buildkit-v0.23.2/
 * local-estargz).  Chunking, refused tars and the reader's checks:
 * test_estargz_writer.c. */
#include "estargz_test_util.h"
#include "core/util/error.h"
#include "formats/oci_layout.h"
#include "formats/cache_manifest.h"

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

/* ---- the entry layout, on a tar built here ------------------------------- */

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

int main(int argc, char **argv)
{
	const char *fixtures = fixture_dir(argc, argv);
	test_footer();
	test_modtime();
	test_empty_layer_lossless();
	test_empty_layer_entries();
	test_fixture_layers(fixtures);
	test_entry_layout();
	CHECK_DONE();
}
