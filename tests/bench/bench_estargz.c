/* bench_estargz: eStargz conversion (the default entry layout, and the
 * lossless one) against plain gzip at the same level, on the same layers,
 * through the real one-pass pipeline (layer_process: source digest check,
 * diffID, compression, output digest), and the peak memory of converting a
 * layer that holds one 1 GiB file.
 *
 * usage: bench_estargz [--quick] [--skip-memory]
 *
 * Not a test: the numbers depend on the machine.  Every layer is generated
 * here from a fixed seed, so runs are comparable. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/util/buffer.h"
#include "core/codec/codec.h"
#include "core/util/error.h"
#include "core/codec/layer_pipeline.h"
#include "core/model/media_type.h"

/* Setup steps that cannot fail unless the machine is out of memory. */
#define MUST(expr)                                                                       \
	do {                                                                             \
		if ((expr) != 0) {                                                       \
			fprintf(stderr, "%s:%d: %s failed\n", __FILE__, __LINE__, #expr); \
			exit(1);                                                         \
		}                                                                        \
	} while (0)


/* ---- generated layer tars ------------------------------------------------ */

struct rng {
	uint64_t s;
};

static uint64_t next(struct rng *r)
{
	r->s ^= r->s << 13;
	r->s ^= r->s >> 7;
	r->s ^= r->s << 17;
	return r->s;
}

static const char *words[] = {"layer", "cache", "build", "export", "digest", "chunk", "member", "gzip",
			      "the", "of", "and", "to", "a", "in", "is", "file", "static", "int", "return", "{",
			      "}", "(", ")", ";", "\n", "\t", "if", "for", "const", "char", "struct", "void"};

/* Text-like bytes (deflate finds matches) or noise (it does not). */
static void fill(struct rng *r, unsigned char *p, size_t n, bool text)
{
	size_t i = 0;
	while (i < n) {
		if (text) {
			const char *w = words[next(r) % (sizeof(words) / sizeof(words[0]))];
			size_t l = strlen(w);
			for (size_t k = 0; k < l && i < n; k++)
				p[i++] = (unsigned char)w[k];
			if (i < n)
				p[i++] = ' ';
		} else {
			uint64_t v = next(r);
			for (int k = 0; k < 8 && i < n; k++)
				p[i++] = (unsigned char)(v >> (8 * k));
		}
	}
}

static void octal(char *f, size_t n, uint64_t v)
{
	snprintf(f, n, "%0*llo", (int)(n - 1), (unsigned long long)v);
}

static void tar_header(unsigned char h[512], const char *name, uint64_t size, char type)
{
	memset(h, 0, 512);
	/* the name field holds 100 bytes; longer names are cut (never NUL-terminated in tar) */
	memcpy(h, name, strnlen(name, 100));
	octal((char *)h + 100, 8, type == '5' ? 0755 : 0644);
	octal((char *)h + 108, 8, 1000);
	octal((char *)h + 116, 8, 1000);
	octal((char *)h + 124, 12, size);
	octal((char *)h + 136, 12, 1700000000);
	h[156] = (unsigned char)type;
	memcpy(h + 257, "ustar\0" "00", 8);
	memcpy(h + 265, "dev", 3);
	memcpy(h + 297, "dev", 3);
	memset(h + 148, ' ', 8);
	unsigned sum = 0;
	for (int i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
}

static void add_file(struct buffer *tar, const char *name, size_t size, struct rng *r, bool text)
{
	unsigned char h[512];
	tar_header(h, name, size, '0');
	MUST(buffer_append(tar, h, 512));
	MUST(buffer_reserve(tar, size + 512));
	fill(r, (unsigned char *)tar->data + tar->len, size, text);
	tar->len += size;
	size_t pad = (512 - size % 512) % 512;
	memset(tar->data + tar->len, 0, pad);
	tar->len += pad;
}

/* A layer like an application image's: many small source and text files,
 * some binaries, a few large files. */
static void mixed_layer(struct buffer *tar, size_t scale)
{
	struct rng r = {0x9e3779b97f4a7c15ull};
	char name[128];
	unsigned char h[512];
	for (int d = 0; d < 40; d++) {
		snprintf(name, sizeof(name), "app/dir%02d/", d);
		tar_header(h, name, 0, '5');
		MUST(buffer_append(tar, h, 512));
		for (size_t f = 0; f < 30 * scale; f++) {
			snprintf(name, sizeof(name), "app/dir%02d/file%04zu.txt", d, f);
			add_file(tar, name, 512 + next(&r) % 12000, &r, true);
		}
		for (size_t f = 0; f < 3 * scale; f++) {
			snprintf(name, sizeof(name), "app/dir%02d/lib%04zu.so", d, f);
			add_file(tar, name, 32768 + next(&r) % 400000, &r, next(&r) % 3 != 0);
		}
	}
	for (size_t f = 0; f < 2 * scale; f++) {
		snprintf(name, sizeof(name), "app/data/big%zu.bin", f);
		add_file(tar, name, (size_t)(9 << 20) + next(&r) % 65536, &r, f % 2 == 0);
	}
	MUST(buffer_reserve(tar, 1024));
	memset(tar->data + tar->len, 0, 1024);
	tar->len += 1024;
}

/* The worst case for eStargz: only small files, each one a gzip member of
 * its own (no shared window, a member header and trailer each). */
static void small_files_layer(struct buffer *tar, size_t n)
{
	struct rng r = {42};
	char name[128];
	for (size_t f = 0; f < n; f++) {
		snprintf(name, sizeof(name), "usr/share/doc/pkg%04zu/file%zu.txt", f / 10, f % 10);
		add_file(tar, name, 200 + next(&r) % 4000, &r, true);
	}
	MUST(buffer_reserve(tar, 1024));
	memset(tar->data + tar->len, 0, 1024);
	tar->len += 1024;
}

/* ---- running the pipeline ------------------------------------------------ */

/* Counts and hashes what it is given: the digest shows that two builds
 * (or two core counts) wrote the same bytes. */
struct null_sink {
	struct byte_sink base;
	int64_t bytes;
	struct sha256 *hash;
};

static int null_write(struct byte_sink *s, const void *b, size_t n)
{
	struct null_sink *ns = (struct null_sink *)s;
	ns->bytes += (int64_t)n;
	return sha256_update(ns->hash, b, n);
}
static int null_finish(struct byte_sink *s)
{
	(void)s;
	return 0;
}
static void null_close(struct byte_sink *s)
{
	(void)s;
}

/* CPU seconds of this process, every thread counted (what the work costs,
 * whatever else a shared machine is doing), and wall seconds (what the
 * threads save). */
struct timing {
	double cpu, wall;
};

static struct timing now(void)
{
	struct timespec c, w;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c);
	clock_gettime(CLOCK_MONOTONIC, &w);
	return (struct timing){(double)c.tv_sec + (double)c.tv_nsec / 1e9, (double)w.tv_sec + (double)w.tv_nsec / 1e9};
}

/* Converts a source blob (file or memory) with the pipeline; returns the
 * time taken, the output size and its digest (out_digest may be NULL). */
static int convert(struct timing *took, int64_t *out_size, char *out_digest, struct descriptor *d,
		   enum compression from, const char *path, const struct buffer *mem, enum compression to, int level,
		   bool lossless)
{
	struct byte_source *src;
	struct null_sink sink = {{null_write, null_finish, null_close}, 0, NULL};
	struct layer_outcome o;
	struct layer_task t = {
		.source = d,
		.encoding = from,
		.reencode = true,
		.target = {.compression = to, .level_set = level != -1, .level = level, .estargz_lossless = lossless},
	};
	char digest[DIGEST_BUF];
	MUST(sha256_new(&sink.hash));
	struct timing t0 = now();
	int rc = path ? file_source_open(&src, path, "layer") : memory_source_new(&src, mem->data, mem->len);
	if (!rc)
		rc = layer_process(&o, src, &t, &sink.base);
	struct timing t1 = now();
	took->cpu = t1.cpu - t0.cpu;
	took->wall = t1.wall - t0.wall;
	*out_size = sink.bytes;
	MUST(sha256_final(sink.hash, digest));
	sha256_free(sink.hash);
	if (out_digest)
		memcpy(out_digest, digest + 7, 12), out_digest[12] = '\0'; /* enough to tell outputs apart */
	if (rc)
		fprintf(stderr, "bench_estargz: %s\n", error_message());
	return rc;
}

static void describe(struct descriptor *d, const void *data, size_t len, const char *media_type)
{
	descriptor_init(d);
	MUST(digest_of_bytes(d->digest, data, len));
	d->size = (int64_t)len;
	MUST(descriptor_set_media_type(d, media_type));
}

static int throughput(const char *label, const struct buffer *tar, int runs)
{
	struct descriptor d;
	int levels[] = {1, -1, 9};
	describe(&d, tar->data, tar->len, MT_OCI_LAYER);
	printf("\n%s: %.1f MiB tar\n", label, (double)tar->len / (1 << 20));
	printf("  %-7s %15s %15s %15s %15s %15s %11s %13s  %-12s\n", "level", "gzip cpu/wall", "esgz cpu/wall",
	       "esgz/gzip", "lossless c/w", "lossless/gzip", "gzip size", "estargz size", "esgz sha256");
	for (size_t l = 0; l < sizeof(levels) / sizeof(levels[0]); l++) {
		struct timing best[3] = {{1e9, 1e9}, {1e9, 1e9}, {1e9, 1e9}};
		int64_t size[3] = {0, 0, 0};
		char digest[13];
		enum compression to[3] = {COMPRESSION_GZIP, COMPRESSION_ESTARGZ, COMPRESSION_ESTARGZ};
		for (int run = 0; run < runs; run++) {
			for (int k = 0; k < 3; k++) {
				struct timing s;
				if (convert(&s, &size[k], k == 1 ? digest : NULL, &d, COMPRESSION_UNCOMPRESSED, NULL, tar,
					    to[k], levels[l], k == 2))
					return 1;
				best[k].cpu = s.cpu < best[k].cpu ? s.cpu : best[k].cpu;
				best[k].wall = s.wall < best[k].wall ? s.wall : best[k].wall;
			}
		}
		printf("  %-7s %7.2f/%-7.2f %7.2f/%-7.2f %6.2fx/%5.2fx %7.2f/%-7.2f %6.2fx/%5.2fx %11lld %13lld  %s\n",
		       levels[l] == -1 ? "default" : levels[l] == 1 ? "1" : "9", best[0].cpu, best[0].wall, best[1].cpu,
		       best[1].wall, best[1].cpu / best[0].cpu, best[1].wall / best[0].wall, best[2].cpu, best[2].wall,
		       best[2].cpu / best[0].cpu, best[2].wall / best[0].wall, (long long)size[0], (long long)size[1],
		       digest);
	}
	descriptor_free(&d);
	return 0;
}

/* ---- the 1 GiB file ------------------------------------------------------ */

struct file_sink {
	struct byte_sink base;
	FILE *f;
};

static int file_write(struct byte_sink *s, const void *b, size_t n)
{
	return fwrite(b, 1, n, ((struct file_sink *)s)->f) == n ? 0 : error_set(ERR_FAILURE, "write failed");
}

/* Writes a gzip layer holding one 1 GiB file of mostly zeros with a noisy
 * 4 KiB block every MiB (it compresses to a few MiB), and describes it. */
static int big_file_layer(const char *path, struct descriptor *d)
{
	const size_t file_size = (size_t)1 << 30, block = 1 << 20;
	struct rng r = {12345};
	FILE *f = fopen(path, "wb");
	struct byte_sink *hash, *gz;
	struct sha256 *diff;
	char diff_id[DIGEST_BUF];
	int64_t size;
	unsigned char *buf = calloc(1, block), h[512];
	if (!f || !buf)
		return -1;
	struct file_sink fs = {{file_write, null_finish, null_close}, f};
	if (hashing_sink_new(&hash, &fs.base) || gzip_sink_new(&gz, hash, true, 1) || sha256_new(&diff))
		return -1;
	tar_header(h, "big/one-gigabyte.bin", file_size, '0');
	sink_write(gz, h, 512);
	MUST(sha256_update(diff, h, 512));
	for (size_t off = 0; off < file_size; off += block) {
		memset(buf, 0, block);
		fill(&r, buf + (next(&r) % (block - 4096)), 4096, false);
		sink_write(gz, buf, block);
		MUST(sha256_update(diff, buf, block));
	}
	memset(buf, 0, 1024);
	sink_write(gz, buf, 1024);
	MUST(sha256_update(diff, buf, 1024));
	sink_finish(gz);
	MUST(sha256_final(diff, diff_id));
	descriptor_init(d);
	hashing_sink_result(hash, d->digest, &size);
	d->size = size;
	MUST(descriptor_set_media_type(d, MT_OCI_LAYER_GZIP));
	MUST(descriptor_annotation_set(d, ANN_UNCOMPRESSED, diff_id));
	sink_close(gz);
	sink_close(hash);
	sha256_free(diff);
	free(buf);
	return fclose(f);
}

/* Converts in a child process, so its peak RSS is the conversion's alone. */
static int peak_rss(const char *path, struct descriptor *d, enum compression to, bool lossless, long *kib,
		    double *secs, int64_t *out)
{
	int fds[2];
	if (pipe(fds))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		struct timing t;
		int64_t o;
		int rc = convert(&t, &o, NULL, d, COMPRESSION_GZIP, path, NULL, to, -1, lossless);
		double s = t.cpu;
		if (write(fds[1], &s, sizeof(s)) != sizeof(s) || write(fds[1], &o, sizeof(o)) != sizeof(o))
			rc = 1;
		_exit(rc ? 1 : 0);
	}
	close(fds[1]);
	int status;
	struct rusage ru;
	if (read(fds[0], secs, sizeof(*secs)) != sizeof(*secs) || read(fds[0], out, sizeof(*out)) != sizeof(*out))
		*secs = -1;
	close(fds[0]);
	if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	*kib = ru.ru_maxrss;
	*secs = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
		(double)ru.ru_stime.tv_usec / 1e6;
	return 0;
}

int main(int argc, char **argv)
{
	bool quick = false, memory = true;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			quick = true;
		else if (strcmp(argv[i], "--skip-memory") == 0)
			memory = false;
		else {
			fprintf(stderr, "usage: bench_estargz [--quick] [--skip-memory]\n");
			return 2;
		}
	}
	/* the memory check first, while this process is still small: the
	 * child it forks starts from its pages */
	int rc = 0;
	if (memory) {
		char path[] = "/tmp/bench-estargz-XXXXXX";
		int fd = mkstemp(path);
		struct descriptor d;
		if (fd < 0 || big_file_layer(path, &d)) {
			fprintf(stderr, "bench_estargz: cannot write the 1 GiB layer: %s\n", strerror(errno));
			return 1;
		}
		close(fd);
		printf("one 1 GiB file in a gzip layer (%.1f MiB compressed), converted in a child process:\n",
		       (double)d.size / (1 << 20));
		enum compression to[3] = {COMPRESSION_GZIP, COMPRESSION_ESTARGZ, COMPRESSION_ESTARGZ};
		const char *label[3] = {"gzip", "estargz", "lossless"};
		for (int k = 0; k < 3; k++) {
			long kib;
			double secs;
			int64_t out;
			if (peak_rss(path, &d, to[k], k == 2, &kib, &secs, &out)) {
				fprintf(stderr, "bench_estargz: conversion to %s failed\n", label[k]);
				rc = 1;
				continue;
			}
			printf("  to %-8s peak RSS %6.1f MiB  %6.1f CPU s  %7.1f MB/s  output %lld bytes%s\n", label[k],
			       kib / 1024.0, secs, (double)(1 << 30) / 1e6 / secs, (long long)out,
			       to[k] == COMPRESSION_ESTARGZ ? (kib < 64 * 1024 ? "  (under 64 MiB)" : "  (OVER 64 MiB)") : "");
		}
		unlink(path);
		descriptor_free(&d);
	}
	if (rc)
		return rc;

	printf("\nuncompressed layer -> gzip vs -> estargz (default layout, and lossless), same level, same data,\n"
	       "through layer_process (digest check, diffID, compression, output digest);\n"
	       "CPU and wall seconds (best of %d runs) and their ratios to plain gzip\n",
	       quick ? 1 : 3);
	struct buffer tar = BUFFER_INIT;
	mixed_layer(&tar, quick ? 1 : 2);
	if (throughput("mixed layer (small text files, binaries, 9 MiB files)", &tar, quick ? 1 : 3))
		return 1;
	buffer_reset(&tar);
	small_files_layer(&tar, quick ? 5000 : 20000);
	if (throughput("small files only (200 B - 4 KiB of text each)", &tar, quick ? 1 : 3))
		return 1;
	buffer_free(&tar);
	return 0;
}
