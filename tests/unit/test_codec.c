/* The stream codecs: round trips at every level, multi-member gzip and
 * multi-frame zstd, and clear errors on truncated or damaged streams; the
 * same bytes however the input is cut; members placed by the caller; the
 * read-ahead stage; one stream into several encoders (encoder_set). */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "check.h"
#include "mem_sink.h"
#include "core/codec/codec.h"
#include "core/codec/gzip_parallel.h"
#include "core/util/error.h"
#include "core/codec/layer_pipeline.h"
#include "core/codec/readahead.h"
#include "core/codec/encoder_set.h"

static void sample(struct buffer *b, size_t n)
{
	unsigned x = 12345;
	buffer_reset(b);
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		/* half text, half noise, so every level has work to do */
		char c = (i / 4096) % 2 ? (char)(x >> 16) : "cache layer text "[i % 17];
		CHECK(buffer_append(b, &c, 1) == 0);
	}
}

static int compress_in_pieces(struct buffer *out, const struct buffer *in, enum compression c, bool level_set,
			      int level, size_t piece)
{
	struct mem_sink m;
	struct byte_sink *z;
	struct codec_options o = {.compression = c, .level_set = level_set, .level = level};
	mem_init(&m);
	int rc = compress_sink_new(&z, &m.base, &o);
	if (rc)
		return rc;
	for (size_t off = 0; off < in->len && !rc;) {
		size_t n = in->len - off < piece ? in->len - off : piece;
		rc = sink_write(z, in->data + off, n);
		off += n;
	}
	if (!rc)
		rc = sink_finish(z);
	sink_close(z);
	CHECK_INT(m.finished, rc ? 0 : 1);
	buffer_reset(out);
	CHECK(buffer_append(out, m.b.data, m.b.len) == 0);
	buffer_free(&m.b);
	return rc;
}

/* uneven pieces, as a stream would deliver them */
static int compress_whole(struct buffer *out, const struct buffer *in, enum compression c, bool level_set, int level)
{
	return compress_in_pieces(out, in, c, level_set, level, 7777);
}

static int decompress(struct buffer *out, const void *data, size_t len, enum compression c)
{
	struct byte_source *mem, *d;
	char buf[5000];
	CHECK(memory_source_new(&mem, data, len) == 0);
	int rc = decompress_source_new(&d, mem, c, "test stream");
	if (rc)
		return rc;
	buffer_reset(out);
	for (;;) {
		ssize_t n = source_read(d, buf, sizeof(buf));
		if (n < 0) {
			rc = (int)n;
			break;
		}
		if (n == 0)
			break;
		CHECK(buffer_append(out, buf, (size_t)n) == 0);
	}
	source_close(d);
	return rc;
}

static void test_roundtrips(void)
{
	struct buffer in = BUFFER_INIT, z = BUFFER_INIT, back = BUFFER_INIT;
	sample(&in, 300000);
	int gzip_levels[] = {-2, -1, 0, 1, 6, 9};
	for (size_t i = 0; i < 6; i++) {
		CHECK(compress_whole(&z, &in, COMPRESSION_GZIP, true, gzip_levels[i]) == 0);
		CHECK(compression_sniff((unsigned char *)z.data, z.len) == COMPRESSION_GZIP);
		CHECK(decompress(&back, z.data, z.len, COMPRESSION_GZIP) == 0);
		CHECK(back.len == in.len && memcmp(back.data, in.data, in.len) == 0);
	}
	size_t sizes[3];
	int zstd_levels[] = {1, 3, 19};
	for (size_t i = 0; i < 3; i++) {
		CHECK(compress_whole(&z, &in, COMPRESSION_ZSTD, true, zstd_levels[i]) == 0);
		sizes[i] = z.len;
		CHECK(compression_sniff((unsigned char *)z.data, z.len) == COMPRESSION_ZSTD);
		CHECK(decompress(&back, z.data, z.len, COMPRESSION_ZSTD) == 0);
		CHECK(back.len == in.len && memcmp(back.data, in.data, in.len) == 0);
	}
	CHECK(sizes[2] < sizes[0]); /* the level is applied */
	/* Same input, same bytes: digests of re-encoded layers are stable. */
	struct buffer again = BUFFER_INIT;
	CHECK(compress_whole(&z, &in, COMPRESSION_ZSTD, false, 0) == 0);
	CHECK(compress_whole(&again, &in, COMPRESSION_ZSTD, false, 0) == 0);
	CHECK(z.len == again.len && memcmp(z.data, again.data, z.len) == 0);
	CHECK(compress_whole(&z, &in, COMPRESSION_UNCOMPRESSED, false, 0) == 0);
	CHECK(z.len == in.len && memcmp(z.data, in.data, in.len) == 0);
	buffer_free(&in);
	buffer_free(&z);
	buffer_free(&back);
	buffer_free(&again);
}

static void test_concatenated(void)
{
	struct buffer a = BUFFER_INIT, b = BUFFER_INIT, za = BUFFER_INIT, zb = BUFFER_INIT, both = BUFFER_INIT,
		      back = BUFFER_INIT;
	sample(&a, 5000);
	sample(&b, 9000);
	enum compression kinds[] = {COMPRESSION_GZIP, COMPRESSION_ZSTD};
	for (size_t k = 0; k < 2; k++) {
		compress_whole(&za, &a, kinds[k], false, 0);
		compress_whole(&zb, &b, kinds[k], false, 0);
		buffer_reset(&both);
		CHECK(buffer_append(&both, za.data, za.len) == 0);
		CHECK(buffer_append(&both, zb.data, zb.len) == 0);
		CHECK(decompress(&back, both.data, both.len, kinds[k]) == 0);
		CHECK_INT(back.len, a.len + b.len);
		CHECK(memcmp(back.data, a.data, a.len) == 0 && memcmp(back.data + a.len, b.data, b.len) == 0);

		/* cut short */
		CHECK(decompress(&back, both.data, both.len - 5, kinds[k]) == ERR_CORRUPT);
		CHECK(strstr(error_message(), "truncated") != NULL || strstr(error_message(), "corrupt") != NULL);
		CHECK(strstr(error_message(), "test stream") != NULL);
		CHECK(decompress(&back, za.data, za.len / 2, kinds[k]) == ERR_CORRUPT);
		CHECK(strstr(error_message(), "truncated") != NULL);
		/* nothing at all */
		CHECK(decompress(&back, "", 0, kinds[k]) == ERR_CORRUPT);
		/* trailing garbage after a complete stream */
		CHECK(buffer_append(&za, "garbage!", 8) == 0);
		CHECK(decompress(&back, za.data, za.len, kinds[k]) == ERR_CORRUPT);
		/* damage in the middle */
		compress_whole(&za, &a, kinds[k], false, 0);
		za.data[za.len / 2] ^= 0x55;
		CHECK(decompress(&back, za.data, za.len, kinds[k]) != 0);
	}
	buffer_free(&a);
	buffer_free(&b);
	buffer_free(&za);
	buffer_free(&zb);
	buffer_free(&both);
	buffer_free(&back);
}

static void test_levels(void)
{
	CHECK(codec_check_level(COMPRESSION_GZIP, 9) == 0);
	CHECK(codec_check_level(COMPRESSION_GZIP, -2) == 0);
	CHECK(codec_check_level(COMPRESSION_GZIP, 10) == ERR_USAGE);
	CHECK(strstr(error_message(), "10") != NULL);
	CHECK(codec_check_level(COMPRESSION_ZSTD, 22) == 0);
	CHECK(codec_check_level(COMPRESSION_ZSTD, 99) == ERR_USAGE);
	CHECK(strstr(error_message(), "99") != NULL);
	CHECK(codec_check_level(COMPRESSION_ZSTD, 0) == ERR_USAGE);
	CHECK(codec_check_level(COMPRESSION_UNCOMPRESSED, 42) == 0);
}

/* BuildKit's empty layer (32 bytes of gzip holding 1024 zero bytes) through the pipeline. */
static void test_pipeline(const char *fixtures)
{
	char path[4096];
	struct buffer blob = BUFFER_INIT;
	snprintf(path, sizeof(path),
		 "%s/buildkit-v0.23.2/local-gzip-max/export/blobs/sha256/4f4fb700ef54461cfa02571ae0db9a0dc1e0cdb5577484a6d75e68dc38e8acc1",
		 fixtures);
	CHECK(buffer_read_file(&blob, path, 1 << 20) == 0);
	struct descriptor d;
	descriptor_init(&d);
	snprintf(d.digest, sizeof(d.digest), "%s", "sha256:4f4fb700ef54461cfa02571ae0db9a0dc1e0cdb5577484a6d75e68dc38e8acc1");
	d.size = 32;
	CHECK(descriptor_annotation_set(&d, ANN_UNCOMPRESSED,
				  "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef") == 0);

	/* re-encode to plain tar: the new digest is the diffID */
	struct byte_source *src;
	struct layer_outcome o;
	struct mem_sink m;
	mem_init(&m);
	struct layer_task t = {.source = &d, .encoding = COMPRESSION_GZIP, .reencode = true,
			       .target = {COMPRESSION_UNCOMPRESSED, false, 0}};
	CHECK(memory_source_new(&src, blob.data, blob.len) == 0);
	CHECK(layer_process(&o, src, &t, &m.base) == 0);
	CHECK_STR(o.digest, "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef");
	CHECK_STR(o.diff_id, o.digest);
	CHECK_INT(o.size, 1024);
	CHECK_INT(m.b.len, 1024);

	/* a lying diffID annotation is caught */
	CHECK(descriptor_annotation_set(&d, ANN_UNCOMPRESSED,
				  "sha256:0000000000000000000000000000000000000000000000000000000000000000") == 0);
	CHECK(memory_source_new(&src, blob.data, blob.len) == 0);
	CHECK(layer_process(&o, src, &t, NULL) == ERR_CORRUPT);
	CHECK(strstr(error_message(), "diffID") != NULL);

	/* so is a wrong digest, and a wrong size, on a plain copy */
	t.reencode = false;
	blob.data[20] ^= 1;
	CHECK(memory_source_new(&src, blob.data, blob.len) == 0);
	CHECK(layer_process(&o, src, &t, NULL) == ERR_CORRUPT);
	CHECK(strstr(error_message(), "does not match its digest") != NULL);
	blob.data[20] ^= 1;
	d.size = 31;
	CHECK(memory_source_new(&src, blob.data, blob.len) == 0);
	CHECK(layer_process(&o, src, &t, NULL) == ERR_CORRUPT);
	CHECK(strstr(error_message(), "larger than") != NULL);
	d.size = 33;
	CHECK(memory_source_new(&src, blob.data, blob.len) == 0);
	CHECK(layer_process(&o, src, &t, NULL) == ERR_CORRUPT);
	CHECK(strstr(error_message(), "32 bytes") != NULL);

	descriptor_free(&d);
	buffer_free(&blob);
	buffer_free(&m.b);
}

/* One read for a copy and its diffID, and for a copy riding on a
 * re-encode: the raw bytes reach their sink whole, once finished. */
static void test_pipeline_copies_in_the_same_read(const char *fixtures)
{
	char path[4096];
	struct buffer blob = BUFFER_INIT;
	snprintf(path, sizeof(path),
		 "%s/buildkit-v0.23.2/local-gzip-max/export/blobs/sha256/4f4fb700ef54461cfa02571ae0db9a0dc1e0cdb5577484a6d75e68dc38e8acc1",
		 fixtures);
	CHECK(buffer_read_file(&blob, path, 1 << 20) == 0);
	struct descriptor d; /* no diffID annotation */
	descriptor_init(&d);
	snprintf(d.digest, sizeof(d.digest), "%s", "sha256:4f4fb700ef54461cfa02571ae0db9a0dc1e0cdb5577484a6d75e68dc38e8acc1");
	d.size = 32;
	struct byte_source *src;
	struct layer_outcome o;
	struct mem_sink raw, plain;

	/* copied and measured */
	mem_init(&raw);
	struct layer_task t = {.source = &d, .encoding = COMPRESSION_GZIP, .want_diff_id = true};
	CHECK(memory_source_new(&src, blob.data, blob.len) == 0);
	CHECK(layer_process(&o, src, &t, &raw.base) == 0);
	CHECK_STR(o.diff_id, "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef");
	CHECK_STR(o.digest, d.digest);
	CHECK_INT(raw.b.len, 32);
	CHECK(memcmp(raw.b.data, blob.data, 32) == 0);
	CHECK_INT(raw.finished, 1);

	/* re-encoded to plain tar, the raw bytes copied on the way */
	mem_init(&plain);
	buffer_free(&raw.b);
	mem_init(&raw);
	struct layer_task r = {.source = &d, .encoding = COMPRESSION_GZIP, .reencode = true,
			       .target = {COMPRESSION_UNCOMPRESSED, false, 0}, .copy_to = &raw.base};
	CHECK(memory_source_new(&src, blob.data, blob.len) == 0);
	CHECK(layer_process(&o, src, &r, &plain.base) == 0);
	CHECK_STR(o.digest, "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef");
	CHECK_INT(plain.b.len, 1024);
	CHECK_INT(raw.b.len, 32);
	CHECK(memcmp(raw.b.data, blob.data, 32) == 0);
	CHECK_INT(raw.finished, 1);
	CHECK_INT(plain.finished, 1);

	/* damaged bytes: an error, and the copy is never finished */
	buffer_free(&raw.b);
	mem_init(&raw);
	blob.data[20] ^= 1;
	CHECK(memory_source_new(&src, blob.data, blob.len) == 0);
	CHECK(layer_process(&o, src, &t, &raw.base) == ERR_CORRUPT);
	CHECK_INT(raw.finished, 0);

	descriptor_free(&d);
	buffer_free(&blob);
	buffer_free(&raw.b);
	buffer_free(&plain.b);
}

/* The digest of a re-encoded layer must not depend on how its bytes
 * arrive: zstd jobs are cut by size (several jobs here), deflate sees one
 * stream. */
static void test_same_bytes_however_cut(void)
{
	struct buffer in = BUFFER_INIT, a = BUFFER_INIT, b = BUFFER_INIT;
	sample(&in, 12u << 20);
	struct {
		enum compression c;
		bool level_set;
		int level;
	} cases[] = {{COMPRESSION_ZSTD, false, 0}, {COMPRESSION_ZSTD, true, 1}, {COMPRESSION_GZIP, true, 1}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK(compress_in_pieces(&a, &in, cases[i].c, cases[i].level_set, cases[i].level, 1000) == 0);
		CHECK(compress_in_pieces(&b, &in, cases[i].c, cases[i].level_set, cases[i].level, in.len) == 0);
		CHECK(a.len > 0 && a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	}
	buffer_free(&in);
	buffer_free(&a);
	buffer_free(&b);
}

/* A source of `total` bytes (then `fail`, when set) in reads of `step`;
 * counts its closes.  total < 0: never ends. */
struct test_source {
	struct byte_source base;
	const unsigned char *data;
	long long total, pos;
	size_t step;
	int fail;
	int closed;
};

static ssize_t test_read(struct byte_source *s, void *buf, size_t len)
{
	struct test_source *t = (struct test_source *)s;
	if (t->total >= 0 && t->pos == t->total)
		return t->fail ? error_set(t->fail, "test source failed after %lld bytes", t->pos) : 0;
	size_t n = len < t->step ? len : t->step;
	if (t->total >= 0 && (long long)n > t->total - t->pos)
		n = (size_t)(t->total - t->pos);
	for (size_t i = 0; i < n; i++)
		((unsigned char *)buf)[i] = t->data ? t->data[t->pos + (long long)i] : (unsigned char)(t->pos + (long long)i);
	t->pos += (long long)n;
	return (ssize_t)n;
}

static void test_close(struct byte_source *s)
{
	((struct test_source *)s)->closed++;
}

static void test_source_init(struct test_source *t, const void *data, long long total, size_t step, int fail)
{
	memset(t, 0, sizeof(*t));
	t->base.read = test_read;
	t->base.close = test_close;
	t->data = data;
	t->total = total;
	t->step = step;
	t->fail = fail;
}

/* Reads everything in pieces of `len`; returns the final code. */
static int drain(struct byte_source *s, struct buffer *out, size_t len)
{
	char *buf = malloc(len);
	int rc = 0;
	buffer_reset(out);
	for (;;) {
		ssize_t n = source_read(s, buf, len);
		if (n <= 0) {
			rc = (int)n;
			break;
		}
		CHECK(buffer_append(out, buf, (size_t)n) == 0);
	}
	free(buf);
	return rc;
}

static void test_readahead(void)
{
	struct buffer in = BUFFER_INIT, out = BUFFER_INIT;
	struct test_source t;
	struct byte_source *r;
	/* the same bytes in the same order, across many buffer turns, for
	 * reads smaller and larger than its buffers */
	sample(&in, 5 * READAHEAD_BUFFER * READAHEAD_DEPTH + 17);
	size_t reads[] = {1000, READAHEAD_BUFFER, 3 * READAHEAD_BUFFER + 5};
	for (size_t i = 0; i < 3; i++) {
		test_source_init(&t, in.data, (long long)in.len, 4097, 0);
		r = readahead_source(&t.base, -1);
		CHECK(r != &t.base);
		CHECK(drain(r, &out, reads[i]) == 0);
		CHECK(out.len == in.len && memcmp(out.data, in.data, in.len) == 0);
		char c;
		CHECK(source_read(r, &c, 1) == 0); /* the end stays the end */
		source_close(r);
		CHECK_INT(t.closed, 1);
	}
	/* an error comes after the bytes before it, with its message, on the
	 * reading thread */
	test_source_init(&t, in.data, 3 * READAHEAD_BUFFER + 100, 65536, ERR_CORRUPT);
	r = readahead_source(&t.base, -1);
	CHECK(r != &t.base);
	error_clear();
	CHECK(drain(r, &out, 70000) == ERR_CORRUPT);
	CHECK_INT(out.len, 3 * READAHEAD_BUFFER + 100);
	CHECK(out.len <= in.len && memcmp(out.data, in.data, out.len) == 0);
	CHECK_STR(error_message(), "test source failed after 786532 bytes");
	source_close(r);
	CHECK_INT(t.closed, 1);
	/* an empty source */
	test_source_init(&t, NULL, 0, 1, 0);
	r = readahead_source(&t.base, -1);
	CHECK(drain(r, &out, 10) == 0);
	CHECK_INT(out.len, 0);
	source_close(r);
	/* closed early on a source that never ends: the thread stops, the
	 * source is closed once */
	test_source_init(&t, NULL, -1, 100000, 0);
	r = readahead_source(&t.base, -1);
	char buf[1000];
	CHECK(source_read(r, buf, sizeof(buf)) == (ssize_t)sizeof(buf));
	CHECK(buf[0] == 0 && buf[999] == (char)999);
	source_close(r);
	CHECK_INT(t.closed, 1);
	/* a small source is read directly; a large one is read ahead */
	test_source_init(&t, in.data, 1000, 1000, 0);
	CHECK(readahead_source(&t.base, 1000) == &t.base);
	r = readahead_source(&t.base, 10 << 20);
	CHECK(r != &t.base);
	source_close(r);
	buffer_free(&in);
	buffer_free(&out);
}

/* A sink that fails its `fail_at`-th write (0: never). */
struct failing_sink {
	struct mem_sink m;
	int writes, fail_at;
};

static int failing_write(struct byte_sink *s, const void *buf, size_t len)
{
	struct failing_sink *f = (struct failing_sink *)s;
	if (++f->writes == f->fail_at)
		return error_set(ERR_CORRUPT, "test sink refused write %d", f->writes);
	return mem_write(s, buf, len);
}

/* One stream into several encoders: each output is what the encoder alone
 * makes of the same bytes, the zstd ones at two levels starting together
 * under the shared memory budget; an encoder's failure on its own thread
 * comes back with its message. */
static void test_encoder_set(void)
{
	struct buffer in = BUFFER_INIT, alone = BUFFER_INIT;
	struct codec_options opts[] = {{.compression = COMPRESSION_ZSTD},
				       {.compression = COMPRESSION_GZIP},
				       {.compression = COMPRESSION_ZSTD, .level_set = true, .level = 9},
				       {.compression = COMPRESSION_UNCOMPRESSED}};
	struct mem_sink outs[4];
	struct encoder_target t[4];
	struct encoder_set *set;
	sample(&in, 3 * (1u << 20) + 4321);
	for (size_t i = 0; i < 4; i++) {
		mem_init(&outs[i]);
		t[i] = (struct encoder_target){.options = &opts[i], .dest = &outs[i].base};
	}
	CHECK(encoder_set_new(&set, t, 4) == 0);
	for (size_t off = 0; off < in.len; off += 65536)
		CHECK(sink_write(encoder_set_input(set), in.data + off, in.len - off < 65536 ? in.len - off : 65536) == 0);
	CHECK(sink_finish(encoder_set_input(set)) == 0);
	encoder_set_results(set);
	encoder_set_free(set);
	for (size_t i = 0; i < 4; i++) {
		char digest[DIGEST_BUF];
		CHECK(compress_whole(&alone, &in, opts[i].compression, opts[i].level_set, opts[i].level) == 0);
		CHECK(outs[i].b.len == alone.len && memcmp(outs[i].b.data, alone.data, alone.len) == 0);
		CHECK_INT(outs[i].finished, 1);
		CHECK(digest_of_bytes(digest, alone.data, alone.len) == 0);
		CHECK_STR(t[i].digest, digest);
		CHECK_INT(t[i].size, (long long)alone.len);
		buffer_free(&outs[i].b);
	}
	/* the second encoder's dest fails on its thread: the writer hears it */
	struct failing_sink bad = {.fail_at = 2};
	struct mem_sink good;
	mem_init(&bad.m);
	bad.m.base.write = failing_write;
	mem_init(&good);
	struct codec_options plain = {.compression = COMPRESSION_UNCOMPRESSED};
	struct encoder_target two[] = {{.options = &plain, .dest = &good.base}, {.options = &plain, .dest = &bad.m.base}};
	CHECK(encoder_set_new(&set, two, 2) == 0);
	int rc = 0;
	for (size_t off = 0; off < in.len && !rc; off += 65536)
		rc = sink_write(encoder_set_input(set), in.data + off, in.len - off < 65536 ? in.len - off : 65536);
	if (!rc)
		rc = sink_finish(encoder_set_input(set));
	CHECK_INT(rc, ERR_CORRUPT);
	CHECK_STR(error_message(), "test sink refused write 2");
	encoder_set_free(set);
	buffer_free(&bad.m.b);
	buffer_free(&good.b);
	buffer_free(&in);
	buffer_free(&alone);
}

/* The one gzip member at `at`, decompressed by zlib (which stops at its end). */
static size_t one_member(const struct buffer *gz, int64_t at, unsigned char *out, size_t room)
{
	z_stream z = {0};
	CHECK(inflateInit2(&z, 16 + MAX_WBITS) == Z_OK);
	z.next_in = (unsigned char *)gz->data + at;
	z.avail_in = (uInt)(gz->len - (size_t)at);
	z.next_out = out;
	z.avail_out = (uInt)room;
	CHECK(inflate(&z, Z_FINISH) == Z_STREAM_END);
	size_t n = room - z.avail_out;
	inflateEnd(&z);
	return n;
}

/* eStargz's use: members begun where the caller says, reserved bytes kept
 * whole, a full piece cutting a member, raw bytes, offsets once written. */
static void test_members_placed(void)
{
	struct mem_sink m;
	struct gzip_members *g;
	struct buffer in = {0};
	int64_t a, b, after;
	size_t out_room = GZIP_CHUNK + 4096;
	unsigned char *out = malloc(out_room);
	sample(&in, GZIP_CHUNK + 4000);
	mem_init(&m);
	CHECK(gzip_members_new(&g, &m.base, true, 6, GZIP_CHUNK) == 0);
	CHECK(gzip_members_write(g, in.data, 100) == 0);
	CHECK(gzip_members_begin(g, 3000, &a) == 0);
	CHECK(gzip_members_write(g, in.data + 100, 3200) == 0); /* the reserved 3000, then 200 more */
	CHECK(gzip_members_begin(g, GZIP_CHUNK, &b) == 0);      /* not in the piece left: a new one */
	CHECK(gzip_members_write(g, in.data, GZIP_CHUNK) == 0);  /* fills it: the member ends there */
	CHECK(gzip_members_write(g, in.data, 10) == 0);          /* so these go on in a new member */
	after = b + 1;
	CHECK(gzip_members_write_raw(g, "RAW", 3) == 0);
	CHECK(gzip_members_begin(g, GZIP_CHUNK + 1, NULL) == ERR_FAILURE);
	CHECK(gzip_members_flush(g) == 0);
	CHECK_INT(gzip_members_written(g), (long long)m.b.len);
	CHECK_INT(gzip_members_offset(g, 0), 0);
	CHECK_INT(one_member(&m.b, gzip_members_offset(g, a), out, out_room), 3200);
	CHECK(memcmp(out, in.data + 100, 3200) == 0);
	CHECK_INT(one_member(&m.b, gzip_members_offset(g, b), out, out_room), GZIP_CHUNK);
	CHECK(memcmp(out, in.data, GZIP_CHUNK) == 0);
	CHECK_INT(one_member(&m.b, gzip_members_offset(g, after), out, out_room), 10);
	CHECK(memcmp(m.b.data + m.b.len - 3, "RAW", 3) == 0);
	CHECK_INT(gzip_members_offset(g, after + 2), -1); /* no such member */
	gzip_members_free(g);
	buffer_free(&m.b);
	buffer_free(&in);
	free(out);
}

int main(int argc, char **argv)
{
	const char *fixtures = fixture_dir(argc, argv);
	test_roundtrips();
	test_concatenated();
	test_levels();
	test_pipeline(fixtures);
	test_pipeline_copies_in_the_same_read(fixtures);
	test_same_bytes_however_cut();
	test_members_placed();
	test_readahead();
	test_encoder_set();
	CHECK_DONE();
}
