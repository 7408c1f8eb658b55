/* eStargz on tars built here: chunking in both layouts, the tars the writer
 * refuses or trims, and the reader's checks of blobs that lie.  The format's
 * fixed bytes and the BuildKit fixtures: test_estargz.c. */
#include <sched.h>

#include "estargz_test_util.h"
#include "core/util/error.h"

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

/* The members are compressed on a pool of one thread per processor this
 * process may use: the blob must not depend on how many there are.  A
 * layer of many small files (many members per piece), directories and
 * links between them, and files of several chunks (members that fill
 * pieces), written with this process on one CPU and then on all of them. */
static void write_on_cpus(struct buffer *blob, const cpu_set_t *cpus, const struct buffer *tar, int level,
			  bool lossless)
{
	struct byte_source *src;
	struct mem_sink m;
	struct estargz_write_result r;
	struct estargz_write_options o = {
		.level_set = level != -1, .level = level, .lossless = lossless, .chunk_size = 256 << 10};
	CHECK(sched_setaffinity(0, sizeof(*cpus), cpus) == 0);
	mem_init(&m);
	CHECK(memory_source_new(&src, tar->data, tar->len) == 0);
	CHECK(estargz_write(&r, src, &m.base, &o, "test layer") == 0);
	source_close(src);
	buffer_reset(blob);
	CHECK(buffer_append(blob, m.b.data, m.b.len) == 0);
	buffer_free(&m.b);
}

static void test_same_bytes_on_any_core_count(void)
{
	cpu_set_t all, one;
	CHECK(sched_getaffinity(0, sizeof(all), &all) == 0);
	if (CPU_COUNT(&all) < 2) {
		printf("test_same_bytes_on_any_core_count: one CPU only, nothing to compare\n");
		return;
	}
	CPU_ZERO(&one);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &all)) {
			CPU_SET(c, &one);
			break;
		}
	enum { N = 1200 };
	static struct file_spec files[N];
	static char names[N][40];
	for (size_t i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "d%02zu/f%04zu", i / 100, i);
		files[i] = (struct file_spec){names[i], AE_IFREG, (int64_t)((i * 7919) % 6000), NULL};
		if (i % 100 == 0)
			files[i] = (struct file_spec){names[i], AE_IFDIR, 0, NULL};
		else if (i % 97 == 0)
			files[i] = (struct file_spec){names[i], AE_IFLNK, 0, names[i - 1]};
		else if (i % 401 == 0)
			files[i].size = (int64_t)(1 << 20) + (int64_t)i; /* 5 chunks, more than a piece */
	}
	for (size_t i = 0; i < N; i++) /* directories first: names under them come later */
		if (i % 100 == 0)
			snprintf(names[i], sizeof(names[i]), "d%02zu", i / 100);
	struct buffer tar = BUFFER_INIT, on_one = BUFFER_INIT, on_all = BUFFER_INIT;
	make_tar(&tar, files, N);
	const int levels[] = {1, -1, -2}; /* libdeflate fast and lazy, zlib Huffman only */
	for (size_t l = 0; l < sizeof(levels) / sizeof(levels[0]); l++)
		for (int lossless = 0; lossless < 2; lossless++) {
			write_on_cpus(&on_one, &one, &tar, levels[l], lossless);
			write_on_cpus(&on_all, &all, &tar, levels[l], lossless);
			CHECK(on_one.len > 0 && on_one.len == on_all.len &&
			      memcmp(on_one.data, on_all.data, on_one.len) == 0);
		}
	CHECK(sched_setaffinity(0, sizeof(all), &all) == 0);
	buffer_free(&tar);
	buffer_free(&on_one);
	buffer_free(&on_all);
}

int main(int argc, char **argv)
{
	(void)fixture_dir(argc, argv);
	test_chunks(ENTRIES);
	test_chunks(LOSSLESS);
	test_bad_tars(ENTRIES);
	test_bad_tars(LOSSLESS);
	test_old_toc_in_the_source();
	test_lying_blobs();
	test_toc_inside_the_tar();
	test_same_bytes_on_any_core_count();
	CHECK_DONE();
}
