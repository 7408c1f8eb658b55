/* bench_export: how fast cachectl moves layers, and how much memory it needs.
 *
 * Generates layer tars (real tar archives of mixed compressible text and
 * random bytes) and gzips them into local BuildKit cache layouts.  By
 * default the workloads of issue 12: one 512 MiB layer, one cache of 20
 * layers of 8 MiB, one layer of 100 000 small files (--scale N divides
 * them; --sizes gives layers of chosen sizes instead).  Then it runs the
 * real cachectl binary on them:
 *
 *   copy          export to a fresh directory (blobs hashed and copied)
 *   verify        verify the source (sha256 of the blob, gunzip, diffID)
 *   zstd          export with compression=zstd,force-compression=true
 *   zstd19        the same at compression-level=19
 *   uncompressed  export with compression=uncompressed
 *   gzip          export of that uncompressed cache with compression=gzip,
 *                 compression-level=6 (gzip -> gzip is a copy: BuildKit and
 *                 cachectl only re-encode a blob whose *type* differs)
 *   estargz       the same with compression=estargz, compression-level=6
 *   zstd-tar      the same with compression=zstd
 *
 * For each it prints wall time, CPU time, MiB/s of UNCOMPRESSED (tar) data
 * and the child's peak RSS (wait4), and next to it the same bytes pushed
 * through the command-line tools (cp, sha256sum, gzip, pigz, zstd), so a
 * reader sees how far cachectl is from them.  Every cachectl export is then
 * checked with `cachectl verify` (not timed).  It ends with the ratios the
 * issue sets targets for (cachectl's time over the tool's, same bytes, same
 * run: the machine is noisy, absolute times are not comparable across runs).
 *
 * Not a test: numbers depend on the machine.  Run it by hand:
 *   build/tests/bench/bench_export [--scale 8] [--sizes 1,16,128,512] [--modes ...]
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#ifndef CACHECTL_DEFAULT_PATH
#define CACHECTL_DEFAULT_PATH "cachectl"
#endif

#define MIB (1024.0 * 1024.0)
#define MAX_SIZES 16
#define RSS_TARGET_MIB 64.0
#define DIGEST_BUF 72 /* "sha256:" + 64 hex + NUL */
#define CREATED_AT "2025-01-02T03:04:05Z"
#define MT_GZIP_LAYER "application/vnd.oci.image.layer.v1.tar+gzip"

static volatile sig_atomic_t interrupted;
static volatile pid_t running; /* the process group of the command being measured */

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
	if (running > 0)
		kill(-running, SIGTERM);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static char *scratch_root; /* removed by die() too */

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (remove(path) != 0 && errno != ENOENT) {
		/* Blobs are 0444; their directory is what matters, but be thorough. */
		chmod(path, 0700);
		remove(path);
	}
	return 0;
}

static void remove_tree(const char *path)
{
	nftw(path, remove_one, 32, FTW_DEPTH | FTW_PHYS);
}

static void die(const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	fputs("bench_export: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (scratch_root)
		remove_tree(scratch_root);
	exit(1);
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		die("out of memory");
	return p;
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		die("out of memory");
	return s;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- SHA-256 (libcrypto; the bench does not use cachectl's code) --------- */

static EVP_MD_CTX *sha_new(void)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1)
		die("cannot initialise SHA-256");
	return c;
}

static void sha_update(EVP_MD_CTX *c, const void *p, size_t n)
{
	if (n && EVP_DigestUpdate(c, p, n) != 1)
		die("SHA-256 failed");
}

static void sha_final(EVP_MD_CTX *c, char out[DIGEST_BUF])
{
	unsigned char md[32];
	unsigned int n = 0;
	if (EVP_DigestFinal_ex(c, md, &n) != 1 || n != 32)
		die("SHA-256 failed");
	EVP_MD_CTX_free(c);
	strcpy(out, "sha256:");
	for (unsigned i = 0; i < 32; i++)
		sprintf(out + 7 + 2 * i, "%02x", md[i]);
}

static void sha_of(char out[DIGEST_BUF], const void *p, size_t n)
{
	EVP_MD_CTX *c = sha_new();
	sha_update(c, p, n);
	sha_final(c, out);
}

/* ---- content: deterministic text and random bytes ---------------------- */

struct rng {
	uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
	/* xorshift64* */
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545F4914F6CDD1DULL;
}

static void fill_random(struct rng *r, unsigned char *p, size_t n)
{
	while (n >= 8) {
		uint64_t v = rng_next(r);
		memcpy(p, &v, 8);
		p += 8;
		n -= 8;
	}
	uint64_t v = rng_next(r);
	memcpy(p, &v, n);
}

/* Text that compresses roughly like source code and logs do (gzip -6 about
 * 3:1): lines of words drawn with a skewed distribution from a vocabulary,
 * some indentation, numbers and punctuation. */
#define VOCABULARY 4096

struct text_gen {
	struct rng rng;
	char words[VOCABULARY][16];
	unsigned char lens[VOCABULARY];
};

static void text_gen_init(struct text_gen *t, uint64_t seed)
{
	t->rng.s = seed * 0x9E3779B97F4A7C15ULL + 1;
	for (int i = 0; i < VOCABULARY; i++) {
		int len = 2 + (int)(rng_next(&t->rng) % 11);
		for (int k = 0; k < len; k++)
			t->words[i][k] = (char)('a' + rng_next(&t->rng) % 26);
		t->lens[i] = (unsigned char)len;
	}
}

static void fill_text(struct text_gen *t, unsigned char *p, size_t n)
{
	static const char punct[] = ".,;:(){}=+-*/_<>\"'";
	size_t i = 0;
	while (i < n) {
		uint64_t v = rng_next(&t->rng);
		char tmp[64];
		size_t len = 0;
		switch (v & 31) {
		case 0: /* end of line, then indentation */
			tmp[len++] = '\n';
			for (unsigned k = (unsigned)((v >> 5) & 3) * 4; k; k--)
				tmp[len++] = ' ';
			break;
		case 1:
			len = (size_t)snprintf(tmp, sizeof(tmp), "%u ", (unsigned)((v >> 8) & 0xfffff));
			break;
		case 2:
		case 3:
			tmp[len++] = punct[(v >> 8) % (sizeof(punct) - 1)];
			break;
		default: {
			/* Skewed: a few hundred words make most of the text. */
			uint64_t a = (v >> 8) & 0xfff, b = (v >> 20) & 0xfff;
			unsigned w = (unsigned)(a * b / 4096);
			memcpy(tmp, t->words[w], t->lens[w]);
			len = t->lens[w];
			tmp[len++] = ' ';
		}
		}
		if (len > n - i)
			len = n - i;
		memcpy(p + i, tmp, len);
		i += len;
	}
}

/* ---- one layer: tar written once into a .tar and a .gz, both hashed ----- */

struct layer {
	int size_mib;       /* requested size */
	int small_files;    /* > 0: that many files of 64 B..8 KiB instead of size_mib */
	uint64_t seed;      /* of its content: layers of one size still differ */
	char *tar_path;     /* the uncompressed tar (for the tools) */
	char *blob_path;    /* the gzip blob inside its layout */
	char diff_id[DIGEST_BUF];
	char digest[DIGEST_BUF];
	int64_t tar_size, blob_size, random_bytes;
	char *layout;       /* the cache holding only this layer */
};

struct layer_writer {
	FILE *tar, *gz;
	EVP_MD_CTX *tar_hash, *gz_hash;
	z_stream z;
	unsigned char *zout;
	int64_t tar_size, gz_size;
};

#define ZOUT (256u << 10)

static void gz_pump(struct layer_writer *w, int flush)
{
	do {
		w->z.next_out = w->zout;
		w->z.avail_out = ZOUT;
		int rc = deflate(&w->z, flush);
		if (rc == Z_STREAM_ERROR)
			die("deflate failed");
		size_t n = ZOUT - w->z.avail_out;
		if (n && fwrite(w->zout, 1, n, w->gz) != n)
			die("write: %s", strerror(errno));
		sha_update(w->gz_hash, w->zout, n);
		w->gz_size += (int64_t)n;
		if (rc == Z_STREAM_END)
			break;
	} while (w->z.avail_out == 0 || flush == Z_FINISH);
}

static la_ssize_t tar_out(struct archive *a, void *ctx, const void *buf, size_t len)
{
	struct layer_writer *w = ctx;
	(void)a;
	if (fwrite(buf, 1, len, w->tar) != len)
		die("write: %s", strerror(errno));
	sha_update(w->tar_hash, buf, len);
	w->tar_size += (int64_t)len;
	w->z.next_in = (unsigned char *)(uintptr_t)buf;
	w->z.avail_in = (uInt)len;
	gz_pump(w, Z_NO_FLUSH);
	return (la_ssize_t)len;
}

static void tar_add(struct archive *a, const char *name, const unsigned char *data, size_t len, bool dir)
{
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, dir ? AE_IFDIR : AE_IFREG);
	archive_entry_set_perm(e, dir ? 0755 : 0644);
	archive_entry_set_size(e, dir ? 0 : (la_int64_t)len);
	archive_entry_set_mtime(e, 1735787045, 0);
	archive_entry_set_uname(e, "root");
	archive_entry_set_gname(e, "root");
	if (archive_write_header(a, e) != ARCHIVE_OK)
		die("tar: %s", archive_error_string(a));
	archive_entry_free(e);
	if (!dir && len && archive_write_data(a, data, len) != (la_ssize_t)len)
		die("tar: %s", archive_error_string(a));
}

/* Writes a tar of about size_mib MiB: files of log-uniform sizes (512 B to
 * 4 MiB), random or text so that random_percent of the bytes are random. */
static void layer_generate(struct layer *l, const char *blob_tmp, int random_percent)
{
	struct layer_writer w = {0};
	struct text_gen *text = xcalloc(1, sizeof(*text));
	struct rng pick = {l->seed * 7919 + 17};
	int64_t target = (int64_t)l->size_mib << 20, text_bytes = 0;
	/* At least ~16 files, so that even a 1 MiB layer has its mix. */
	size_t max_file = target / 16 < (4 << 20) ? (size_t)target / 16 : 4u << 20;
	if (l->small_files)
		max_file = 16u << 10;
	unsigned char *data = xcalloc(1, max_file);

	text_gen_init(text, l->seed);
	if (!(w.tar = fopen(l->tar_path, "wb")) || !(w.gz = fopen(blob_tmp, "wb")))
		die("create %s: %s", w.tar ? blob_tmp : l->tar_path, strerror(errno));
	setvbuf(w.tar, NULL, _IOFBF, 1 << 20);
	setvbuf(w.gz, NULL, _IOFBF, 1 << 20);
	w.tar_hash = sha_new();
	w.gz_hash = sha_new();
	w.zout = xcalloc(1, ZOUT);
	if (deflateInit2(&w.z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		die("deflateInit2 failed");

	struct archive *a = archive_write_new();
	if (!a || archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(a, 64 << 10) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
	    archive_write_open2(a, &w, NULL, tar_out, NULL, NULL) != ARCHIVE_OK)
		die("tar: %s", a ? archive_error_string(a) : "out of memory");

	for (unsigned n = 0; !interrupted; n++) {
		char name[64];
		if (n % 64 == 0) {
			snprintf(name, sizeof(name), "d%04u/", n / 64);
			tar_add(a, name, NULL, 0, true);
		}
		/* About 1 KiB of header and padding per file, 2 KiB at the end. */
		int64_t written = l->random_bytes + text_bytes;
		int64_t room = l->small_files ? INT64_MAX : target - written - (int64_t)(n + 1) * 1024 - 2048;
		if (room <= 0 || (l->small_files && n == (unsigned)l->small_files))
			break;
		double e = (double)(rng_next(&pick) % 10000) / 10000.0; /* log-uniform 2^9..2^22 */
		size_t len = (size_t)(512.0 * (double)(1u << (unsigned)(e * 13.0)) *
				      (1.0 + (double)(rng_next(&pick) % 1000) / 1000.0));
		if (l->small_files) /* log-uniform 2^6..2^13 */
			len = (size_t)(64.0 * (double)(1u << (unsigned)(e * 7.0)) *
				       (1.0 + (double)(rng_next(&pick) % 1000) / 1000.0));
		if (len > max_file)
			len = max_file;
		if ((int64_t)len > room)
			len = (size_t)room;
		/* Random when that keeps the random share nearest the target. */
		bool random = (double)l->random_bytes + (double)len / 2 <
			      (double)(written + (int64_t)len) * random_percent / 100.0;
		if (random) {
			fill_random(&pick, data, len);
			l->random_bytes += (int64_t)len;
		} else {
			fill_text(text, data, len);
			text_bytes += (int64_t)len;
		}
		snprintf(name, sizeof(name), "d%04u/f%06u.%s", n / 64, n, random ? "bin" : "txt");
		tar_add(a, name, data, len, false);
	}
	if (archive_write_close(a) != ARCHIVE_OK)
		die("tar: %s", archive_error_string(a));
	archive_write_free(a);
	w.z.next_in = NULL;
	w.z.avail_in = 0;
	gz_pump(&w, Z_FINISH);
	deflateEnd(&w.z);
	if (fclose(w.tar) != 0 || fclose(w.gz) != 0)
		die("write layer %d MiB: %s", l->size_mib, strerror(errno));
	sha_final(w.tar_hash, l->diff_id);
	sha_final(w.gz_hash, l->digest);
	l->tar_size = w.tar_size;
	l->blob_size = w.gz_size;
	free(w.zout);
	free(data);
	free(text);
}

/* ---- a local cache layout, written the way spec/local.md says ---------- */

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len || fchmod(fd, mode) != 0 || close(fd) != 0)
		die("write %s: %s", path, strerror(errno));
}

static void mkdir_or_die(const char *path)
{
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		die("mkdir %s: %s", path, strerror(errno));
}

/* Stores bytes as a blob; returns its digest. */
static void put_blob(const char *layout, const char *bytes, size_t len, char digest[DIGEST_BUF])
{
	sha_of(digest, bytes, len);
	char *path = xasprintf("%s/blobs/sha256/%s", layout, digest + 7);
	write_file(path, bytes, len, 0444);
	free(path);
}

static int by_digest(const void *a, const void *b)
{
	const struct layer *const *x = a, *const *y = b;
	return strcmp((*x)->digest, (*y)->digest);
}

struct record {
	char digest[DIGEST_BUF];
	size_t layer;
};

static int record_order(const void *a, const void *b)
{
	return strcmp(((const struct record *)a)->digest, ((const struct record *)b)->digest);
}

/* One base layer per record, one record per layer; the image-manifest root
 * form BuildKit writes by default, tagged "latest".  The layer blobs must
 * already be in dir/blobs/sha256. */
static void layout_write(const char *dir, struct layer **given, size_t n)
{
	struct layer **layers = xcalloc(n, sizeof(*layers));
	struct record *records = xcalloc(n, sizeof(*records));
	char *doc;
	size_t len;
	FILE *f;
	char config_digest[DIGEST_BUF], root_digest[DIGEST_BUF];

	memcpy(layers, given, n * sizeof(*layers));
	qsort(layers, n, sizeof(*layers), by_digest); /* canonical layer order */
	for (size_t i = 0; i < n; i++) {
		char *key = xasprintf("bench record for %s@0", layers[i]->digest);
		sha_of(records[i].digest, key, strlen(key));
		records[i].layer = i;
		free(key);
	}
	qsort(records, n, sizeof(*records), record_order);

	if (!(f = open_memstream(&doc, &len)))
		die("out of memory");
	fputs("{\"layers\":[", f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s{\"blob\":\"%s\",\"parent\":-1}", i ? "," : "", layers[i]->digest);
	fputs("],\"records\":[", f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s{\"layers\":[{\"layer\":%zu,\"createdAt\":\"" CREATED_AT "\"}],\"digest\":\"%s\"}",
			i ? "," : "", records[i].layer, records[i].digest);
	fputs("]}", f);
	fclose(f);
	put_blob(dir, doc, len, config_digest);
	size_t config_len = len;
	free(doc);

	if (!(f = open_memstream(&doc, &len)))
		die("out of memory");
	fprintf(f,
		"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		"\"config\":{\"mediaType\":\"application/vnd.buildkit.cacheconfig.v0\",\"digest\":\"%s\",\"size\":%zu},"
		"\"layers\":[",
		config_digest, config_len);
	for (size_t i = 0; i < n; i++)
		fprintf(f,
			"%s{\"mediaType\":\"" MT_GZIP_LAYER "\",\"digest\":\"%s\",\"size\":%lld,"
			"\"annotations\":{\"buildkit/createdat\":\"" CREATED_AT "\",\"containerd.io/uncompressed\":\"%s\"}}",
			i ? "," : "", layers[i]->digest, (long long)layers[i]->blob_size, layers[i]->diff_id);
	fputs("]}", f);
	fclose(f);
	put_blob(dir, doc, len, root_digest);
	size_t root_len = len;
	free(doc);

	char *path = xasprintf("%s/index.json", dir);
	doc = xasprintf("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
			"\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\","
			"\"size\":%zu,\"annotations\":{\"org.opencontainers.image.ref.name\":\"latest\"}}]}",
			root_digest, root_len);
	write_file(path, doc, strlen(doc), 0644);
	free(doc);
	free(path);
	path = xasprintf("%s/oci-layout", dir);
	write_file(path, "{\"imageLayoutVersion\":\"1.0.0\"}", 30, 0644);
	free(path);
	free(layers);
	free(records);
}

static char *layout_create(const char *scratch, const char *name)
{
	char *dir = xasprintf("%s/%s", scratch, name);
	char *blobs = xasprintf("%s/blobs", dir), *sha = xasprintf("%s/blobs/sha256", dir);
	mkdir_or_die(dir);
	mkdir_or_die(blobs);
	mkdir_or_die(sha);
	free(blobs);
	free(sha);
	return dir;
}

/* ---- running a command and measuring it -------------------------------- */

struct measure {
	bool ok;
	double wall, cpu;
	double rss_mib;
	int64_t out_bytes;
	char error[200];
};

/* Drops a file's pages from the page cache (for --cold). */
static int drop_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (flag != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		fdatasync(fd);
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		close(fd);
	}
	return 0;
}

static int64_t tree_bytes_total;

static int add_size(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (flag == FTW_F && S_ISREG(st->st_mode))
		tree_bytes_total += st->st_size;
	return 0;
}

static int64_t tree_bytes(const char *dir)
{
	tree_bytes_total = 0;
	nftw(dir, add_size, 32, FTW_PHYS);
	return tree_bytes_total;
}

/* Runs argv with stdout and stderr into `log`; fills wall time, CPU time
 * and peak RSS of the child (and of any children it waited for: for a
 * shell pipeline that is the largest single process, not the sum). */
static void run(struct measure *m, char *const argv[], const char *log)
{
	struct rusage ru;
	int status = 0;
	memset(m, 0, sizeof(*m));
	fflush(stdout);
	double t0 = now();
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		/* Its own process group, so that a pipeline can be stopped whole. */
		setpgid(0, 0);
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid); /* also here: no window in which a signal misses it */
	running = pid;
	if (interrupted)
		kill(-pid, SIGTERM);
	while (wait4(pid, &status, 0, &ru) < 0)
		if (errno != EINTR)
			die("wait4: %s", strerror(errno));
	m->wall = now() - t0;
	running = 0;
	m->cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
		 (double)ru.ru_stime.tv_usec / 1e6;
	m->rss_mib = (double)ru.ru_maxrss / 1024.0; /* KiB on Linux */
	m->ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (!m->ok) {
		FILE *f = fopen(log, "r");
		char line[sizeof(m->error)] = "";
		if (f) {
			/* The last non-empty line says what went wrong. */
			char buf[sizeof(m->error)];
			while (fgets(buf, sizeof(buf), f))
				if (buf[0] != '\n')
					memcpy(line, buf, sizeof(buf));
			fclose(f);
		}
		line[strcspn(line, "\n")] = '\0';
		if (WIFSIGNALED(status))
			snprintf(m->error, sizeof(m->error), "killed by signal %d", WTERMSIG(status));
		else
			snprintf(m->error, sizeof(m->error), "exit %d: %.180s", WEXITSTATUS(status), line);
	}
}

/* ---- the benchmark ----------------------------------------------------- */

/* In the order they run: the last three start from what uncompressed wrote. */
enum mode {
	MODE_COPY,
	MODE_VERIFY,
	MODE_ZSTD,
	MODE_ZSTD19,
	MODE_UNCOMPRESSED,
	MODE_GZIP,
	MODE_ESTARGZ,
	MODE_ZSTD_TAR,
	N_MODES
};

static const char *const mode_names[N_MODES] = {"copy", "verify", "zstd", "zstd19", "uncompressed",
						"gzip", "estargz", "zstd-tar"};

static bool needs_uncompressed(enum mode m)
{
	return m == MODE_GZIP || m == MODE_ESTARGZ || m == MODE_ZSTD_TAR;
}

struct config {
	const char *cachectl;
	const char *scratch_parent;
	int sizes[MAX_SIZES];
	size_t n_sizes;
	bool custom_sizes; /* --sizes given: those layers instead of the standard workloads */
	int scale;         /* the standard workloads divided by this */
	bool modes[N_MODES];
	int random_percent;
	int repeat;
	int zstd19_max_mib;
	const char *jobs;
	bool tools, all, cold, check, keep;
	bool have_pigz, have_openssl;
};

/* A case: a cachectl command or a shell script standing for it. */
struct bench_case {
	const char *label;
	bool is_tool;
	const char *script; /* tool: sh -c script sh OUT FILES... */
	bool on_tars;       /* tool: FILES are the tars, else the gzip blobs */
	const char *needs; /* an optional tool: skipped when absent */
};

struct row {
	char label[64];
	struct measure m;
	bool skipped;
};

/* What the ratios compare: wall time, and CPU time (steadier on a machine
 * shared with other work). */
struct timing {
	double wall, cpu;
};

struct group {
	const char *title;
	struct layer **layers;
	size_t n_layers;
	const char *layout;          /* the gzip cache */
	char *uncompressed_layout;   /* produced by MODE_UNCOMPRESSED, source of MODE_GZIP */
	int64_t tar_bytes, blob_bytes;
	struct row rows[64];
	size_t n_rows;
	/* for the targets */
	struct timing zstd_wall, zstd_tool_wall, zstd_pipe_wall;
	struct timing gzip_wall, pigz_wall, gzip_tool_wall, estargz_wall, zstd_tar_wall, zstd_tar_tool_wall;
	struct timing copy_wall, cp_wall, sha_wall, verify_wall, verify_tool_wall;
	double max_rss;
};

static const struct config *cfg;
static char *scratch;
static unsigned long run_counter;

static void drop_caches(const struct group *g)
{
	if (!cfg->cold)
		return;
	nftw(g->layout, drop_one, 32, FTW_PHYS);
	if (g->uncompressed_layout)
		nftw(g->uncompressed_layout, drop_one, 32, FTW_PHYS);
	for (size_t i = 0; i < g->n_layers; i++)
		drop_one(g->layers[i]->tar_path, &(struct stat){.st_mode = S_IFREG}, FTW_F, NULL);
}

static void print_row(const struct group *g, const struct row *r, bool tool)
{
	const struct measure *m = &r->m;
	if (interrupted)
		return; /* its numbers mean nothing */
	if (r->skipped) {
		printf("  %s%-38s %s\n", tool ? "  " : "", r->label, "(skipped: tool not installed)");
		return;
	}
	if (!m->ok) {
		printf("  %s%-38s FAILED %s\n", tool ? "  " : "", r->label, m->error);
		return;
	}
	double tar_mib = (double)g->tar_bytes / MIB;
	printf("  %s%-38s %8.2f %8.2f %9.1f %9.1f %8.1f %9.1f\n", tool ? "  " : "", r->label, m->wall, m->cpu,
	       tar_mib / m->wall, (double)g->blob_bytes / MIB / m->wall, m->rss_mib,
	       (double)m->out_bytes / MIB);
	fflush(stdout);
}

/* Runs one case cfg->repeat times, keeps the fastest run. */
static void measure_case(struct measure *best, struct group *g, char **argv, const char *out_dir,
			 const char *verify_dir)
{
	for (int rep = 0; rep < cfg->repeat && !interrupted; rep++) {
		struct measure m;
		char *log = xasprintf("%s/run-%lu.log", scratch, run_counter++);
		remove_tree(out_dir);
		mkdir_or_die(out_dir);
		drop_caches(g);
		run(&m, argv, log);
		if (m.ok)
			m.out_bytes = tree_bytes(out_dir);
		if (m.ok && verify_dir && cfg->check) {
			/* Not timed: the export must have produced a sound cache. */
			struct measure v;
			char *spec = xasprintf("type=local,src=%s", verify_dir);
			char *vargv[] = {(char *)cfg->cachectl, "verify", "--progress=quiet", spec, NULL};
			run(&v, vargv, log);
			if (!v.ok) {
				m.ok = false;
				snprintf(m.error, sizeof(m.error), "its output does not verify: %.160s", v.error);
			}
			free(spec);
		}
		unlink(log);
		free(log);
		if (rep == 0 || (m.ok && (!best->ok || m.wall < best->wall)))
			*best = m;
		if (!m.ok)
			break;
	}
}

static struct row *next_row(struct group *g, const char *label)
{
	if (g->n_rows == sizeof(g->rows) / sizeof(g->rows[0]))
		die("too many rows");
	struct row *r = &g->rows[g->n_rows++];
	const char *cores = strstr(label, "$cores");
	if (cores) /* the tools' thread count, as the label says */
		snprintf(r->label, sizeof(r->label), "%.*s%ld%s", (int)(cores - label), label,
			 sysconf(_SC_NPROCESSORS_ONLN), cores + 6);
	else
		snprintf(r->label, sizeof(r->label), "%s", label);
	return r;
}

static struct measure *run_cachectl(struct group *g, enum mode mode)
{
	const char *src = g->layout;
	char *out_dir = xasprintf("%s/out", scratch);
	char *dest = xasprintf("%s/cache", out_dir);
	char *from = NULL, *to = NULL, *label;
	char *argv[12];
	size_t n = 0;

	if (needs_uncompressed(mode))
		src = g->uncompressed_layout;
	from = xasprintf("type=local,src=%s", src);
	argv[n++] = (char *)cfg->cachectl;
	switch (mode) {
	case MODE_VERIFY:
		label = "cachectl verify";
		argv[n++] = "verify";
		argv[n++] = from;
		break;
	case MODE_COPY:
		label = "cachectl export (copy)";
		to = xasprintf("type=local,dest=%s", dest);
		break;
	case MODE_ZSTD:
		label = "cachectl export gzip->zstd (3)";
		to = xasprintf("type=local,dest=%s,compression=zstd,force-compression=true", dest);
		break;
	case MODE_ZSTD19:
		label = "cachectl export gzip->zstd (19)";
		to = xasprintf("type=local,dest=%s,compression=zstd,compression-level=19,force-compression=true", dest);
		break;
	case MODE_UNCOMPRESSED:
		label = "cachectl export gzip->tar";
		to = xasprintf("type=local,dest=%s,compression=uncompressed,force-compression=true", dest);
		break;
	case MODE_ESTARGZ:
		label = "cachectl export tar->estargz (6)";
		to = xasprintf("type=local,dest=%s,compression=estargz,compression-level=6,force-compression=true", dest);
		break;
	case MODE_ZSTD_TAR:
		label = "cachectl export tar->zstd (3)";
		to = xasprintf("type=local,dest=%s,compression=zstd,force-compression=true", dest);
		break;
	case MODE_GZIP:
	default:
		label = "cachectl export tar->gzip (6)";
		to = xasprintf("type=local,dest=%s,compression=gzip,compression-level=6,force-compression=true", dest);
		break;
	}
	if (to) {
		argv[n++] = "export";
		argv[n++] = "--from";
		argv[n++] = from;
		argv[n++] = "--export-cache";
		argv[n++] = to;
	}
	argv[n++] = "--progress=quiet";
	char *jobs = cfg->jobs ? xasprintf("--jobs=%s", cfg->jobs) : NULL;
	if (jobs)
		argv[n++] = jobs;
	argv[n] = NULL;

	struct row *r = next_row(g, label);
	measure_case(&r->m, g, argv, out_dir, to ? dest : NULL);
	if (r->m.ok && r->m.rss_mib > g->max_rss)
		g->max_rss = r->m.rss_mib;
	if (mode == MODE_UNCOMPRESSED && r->m.ok) {
		/* Keep it: the source of the tar->gzip case. */
		g->uncompressed_layout = xasprintf("%s/%s-tar", scratch, g->title);
		remove_tree(g->uncompressed_layout);
		if (rename(dest, g->uncompressed_layout) != 0)
			die("rename %s: %s", dest, strerror(errno));
	}
	remove_tree(out_dir);
	print_row(g, r, false);
	free(jobs);
	free(from);
	free(to);
	free(dest);
	free(out_dir);
	return &r->m;
}

static struct measure *run_tool(struct group *g, const struct bench_case *c)
{
	struct row *r = next_row(g, c->label);
	if (c->needs && !((strcmp(c->needs, "pigz") == 0 && cfg->have_pigz) ||
			  (strcmp(c->needs, "openssl") == 0 && cfg->have_openssl))) {
		r->skipped = true;
		print_row(g, r, true);
		return NULL;
	}
	char *out_dir = xasprintf("%s/out", scratch);
	char **argv = xcalloc(g->n_layers + 6, sizeof(*argv));
	size_t n = 0;
	argv[n++] = "sh";
	argv[n++] = "-c";
	argv[n++] = (char *)c->script;
	argv[n++] = "sh";
	argv[n++] = out_dir;
	for (size_t i = 0; i < g->n_layers; i++)
		argv[n++] = c->on_tars ? g->layers[i]->tar_path : g->layers[i]->blob_path;
	argv[n] = NULL;
	measure_case(&r->m, g, argv, out_dir, NULL);
	remove_tree(out_dir);
	print_row(g, r, true);
	free(argv);
	free(out_dir);
	return r->m.ok ? &r->m : NULL;
}

/* The shell stand-ins.  $1 is an empty output directory, the rest the
 * input files (gzip blobs, or the tars when on_tars). */
static const struct bench_case tool_cp = {
	"cp blob + sync --data", true,
	"o=$1; shift; for f; do cp \"$f\" \"$o/\"; done; sync --data \"$o\"/*", false, NULL};
static const struct bench_case tool_sha = {
	"sha256sum blob", true, "shift; sha256sum \"$@\" >/dev/null", false, NULL};
static const struct bench_case tool_openssl = {
	"openssl sha256 blob (SHA-NI)", true, "shift; openssl dgst -sha256 \"$@\" >/dev/null", false, "openssl"};
static const struct bench_case tool_verify = {
	"sha256sum blob; gzip -dc | sha256sum", true,
	"shift; for f; do sha256sum \"$f\" >/dev/null; gzip -dc \"$f\" | sha256sum >/dev/null; done", false, NULL};
static const struct bench_case tool_verify_pigz = {
	"openssl blob; pigz -dc | openssl", true,
	"shift; for f; do openssl dgst -sha256 \"$f\" >/dev/null; pigz -dc \"$f\" | openssl dgst -sha256 >/dev/null; done",
	false, "pigz"};
static const struct bench_case tool_zstd = {
	"zstd -T$cores -3 tar", true,
	"o=$1; shift; for f; do zstd -q -T$BENCH_CORES -3 -c \"$f\" >\"$o/${f##*/}.zst\"; done", true, NULL};
static const struct bench_case tool_zstd_pipe = {
	"gzip -dc | zstd -T$cores -3", true,
	"o=$1; shift; for f; do gzip -dc \"$f\" | zstd -q -T$BENCH_CORES -3 -c >\"$o/${f##*/}.zst\"; done", false, NULL};
static const struct bench_case tool_zstd_pipe_pigz = {
	"pigz -dc | zstd -T$cores -3", true,
	"o=$1; shift; for f; do pigz -dc \"$f\" | zstd -q -T$BENCH_CORES -3 -c >\"$o/${f##*/}.zst\"; done", false, "pigz"};
static const struct bench_case tool_zstd19 = {
	"zstd -T$cores -19 tar", true,
	"o=$1; shift; for f; do zstd -q -T$BENCH_CORES -19 -c \"$f\" >\"$o/${f##*/}.zst\"; done", true, NULL};
static const struct bench_case tool_zstd19_pipe = {
	"gzip -dc | zstd -T$cores -19", true,
	"o=$1; shift; for f; do gzip -dc \"$f\" | zstd -q -T$BENCH_CORES -19 -c >\"$o/${f##*/}.zst\"; done", false, NULL};
static const struct bench_case tool_gunzip = {
	"gzip -dc > tar", true, "o=$1; shift; for f; do gzip -dc \"$f\" >\"$o/${f##*/}.tar\"; done", false, NULL};
static const struct bench_case tool_gzip = {
	"gzip -6 tar", true, "o=$1; shift; for f; do gzip -6 -c \"$f\" >\"$o/${f##*/}.gz\"; done", true, NULL};
static const struct bench_case tool_pigz = {
	"pigz -6 -p$cores tar", true, "o=$1; shift; for f; do pigz -6 -p$BENCH_CORES -c \"$f\" >\"$o/${f##*/}.gz\"; done", true,
	"pigz"};

static const struct bench_case tool_zstd_tar = {
	"zstd -T$cores -3 tar", true,
	"o=$1; shift; for f; do zstd -q -T$BENCH_CORES -3 -c \"$f\" >\"$o/${f##*/}.zst\"; done", true, NULL};

static struct timing wall_of(const struct measure *m)
{
	return m && m->ok ? (struct timing){m->wall, m->cpu} : (struct timing){0, 0};
}

static void run_group(struct group *g)
{
	int64_t random = 0;
	for (size_t i = 0; i < g->n_layers; i++)
		random += g->layers[i]->random_bytes;
	printf("\n== %s: tar %.1f MiB (%.0f%% random), gzip blob %.1f MiB ==\n", g->title,
	       (double)g->tar_bytes / MIB, 100.0 * (double)random / (double)g->tar_bytes, (double)g->blob_bytes / MIB);
	printf("  %-38s %8s %8s %9s %9s %8s %9s\n", "case", "wall s", "cpu s", "MiB/s tar", "MiB/s gz", "RSS MiB",
	       "out MiB");
	for (int mode = 0; mode < N_MODES && !interrupted; mode++) {
		bool wanted = cfg->modes[mode] ||
			      (mode == MODE_UNCOMPRESSED && (cfg->modes[MODE_GZIP] || cfg->modes[MODE_ESTARGZ] ||
							     cfg->modes[MODE_ZSTD_TAR]));
		if (!wanted)
			continue;
		if (mode == MODE_ZSTD19 && g->tar_bytes > ((int64_t)cfg->zstd19_max_mib << 20) + (1 << 20)) {
			printf("  %-38s (skipped: level 19 runs at a few MiB/s; --zstd19-max-mib %d)\n",
			       "cachectl export gzip->zstd (19)", cfg->zstd19_max_mib);
			continue;
		}
		struct measure *m = run_cachectl(g, (enum mode)mode);
		if (!cfg->tools)
			continue;
		switch (mode) {
		case MODE_COPY:
			g->copy_wall = wall_of(m);
			g->cp_wall = wall_of(run_tool(g, &tool_cp));
			g->sha_wall = wall_of(run_tool(g, &tool_sha));
			run_tool(g, &tool_openssl);
			break;
		case MODE_VERIFY:
			g->verify_wall = wall_of(m);
			g->verify_tool_wall = wall_of(run_tool(g, &tool_verify));
			run_tool(g, &tool_verify_pigz);
			break;
		case MODE_ZSTD:
			g->zstd_wall = wall_of(m);
			g->zstd_tool_wall = wall_of(run_tool(g, &tool_zstd));
			g->zstd_pipe_wall = wall_of(run_tool(g, &tool_zstd_pipe));
			run_tool(g, &tool_zstd_pipe_pigz);
			break;
		case MODE_ZSTD19:
			run_tool(g, &tool_zstd19);
			run_tool(g, &tool_zstd19_pipe);
			break;
		case MODE_UNCOMPRESSED:
			run_tool(g, &tool_gunzip);
			break;
		case MODE_GZIP:
			g->gzip_wall = wall_of(m);
			g->gzip_tool_wall = wall_of(run_tool(g, &tool_gzip));
			g->pigz_wall = wall_of(run_tool(g, &tool_pigz));
			break;
		case MODE_ESTARGZ:
			g->estargz_wall = wall_of(m);
			break;
		case MODE_ZSTD_TAR:
			g->zstd_tar_wall = wall_of(m);
			g->zstd_tar_tool_wall = wall_of(run_tool(g, &tool_zstd_tar));
			break;
		}
	}
	if (g->uncompressed_layout) {
		remove_tree(g->uncompressed_layout);
		free(g->uncompressed_layout);
		g->uncompressed_layout = NULL;
	}
}

/* One ratio line: cachectl's time over a tool's, wall and CPU, and whether
 * the wall ratio meets the target. */
static void print_ratio(const char *what, struct timing ours, const char *tool, struct timing theirs, double target)
{
	if (ours.wall <= 0 || theirs.wall <= 0)
		return;
	double ratio = ours.wall / theirs.wall, cpu = theirs.cpu > 0 ? ours.cpu / theirs.cpu : 0;
	printf("    %-20s %6.2f s / %-32s %6.2f s = %5.2fx (cpu %5.2fx)  target <= %.2fx: %s\n", what, ours.wall, tool,
	       theirs.wall, ratio, cpu, target, ratio <= target ? "met" : "NOT met");
}

static void print_targets(struct group *groups, size_t n)
{
	char pigz[32], zstd[32], pipe[48];
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	snprintf(pigz, sizeof(pigz), "pigz -6 -p%ld", cores);
	snprintf(zstd, sizeof(zstd), "zstd -3 -T%ld", cores);
	snprintf(pipe, sizeof(pipe), "gzip -dc | zstd -3 -T%ld", cores);
	printf("\n== ratios (cachectl / tool, same bytes, same run; wall, and CPU seconds in brackets) ==\n");
	for (size_t i = 0; i < n; i++) {
		struct group *g = &groups[i];
		printf("  %s:\n", g->title);
		print_ratio("gzip re-encode (6)", g->gzip_wall, pigz, g->pigz_wall, 0.6);
		print_ratio("gzip re-encode (6)", g->gzip_wall, "gzip -6", g->gzip_tool_wall, 1.0);
		print_ratio("zstd from gzip (3)", g->zstd_wall, pipe, g->zstd_pipe_wall, 1.1);
		print_ratio("zstd from tar (3)", g->zstd_tar_wall, zstd, g->zstd_tar_tool_wall, 1.1);
		print_ratio("estargz (6)", g->estargz_wall, "cachectl gzip (6)", g->gzip_wall, 1.1);
		print_ratio("copy", g->copy_wall, "sha256sum blob", g->sha_wall, 1.2);
		print_ratio("verify", g->verify_wall, "sha256sum; gzip -dc|sha256sum", g->verify_tool_wall, 1.2);
		if (g->max_rss > 0)
			printf("    largest cachectl peak RSS %.1f MiB (target: <= %.0f MiB)\n", g->max_rss, RSS_TARGET_MIB);
	}
}

/* ---- the workloads ----------------------------------------------------- */

/* Generates the layer (size_mib or small_files, and seed, set) under `name`
 * (taken), gzipped into a layout of its own. */
static void layer_make(struct layer *l, char *name)
{
	l->tar_path = xasprintf("%s/%s.tar", scratch, name);
	l->layout = layout_create(scratch, name);
	char *tmp = xasprintf("%s/blob.tmp", l->layout);
	layer_generate(l, tmp, cfg->random_percent);
	l->blob_path = xasprintf("%s/blobs/sha256/%s", l->layout, l->digest + 7);
	if (rename(tmp, l->blob_path) != 0 || chmod(l->blob_path, 0444) != 0)
		die("rename %s: %s", tmp, strerror(errno));
	free(tmp);
	layout_write(l->layout, &l, 1);
	free(name);
}

/* A group of layers already in `layout`; takes title. */
static void group_add(struct group *g, char *title, const char *layout, struct layer **layers, size_t n)
{
	g->title = title;
	g->layers = xcalloc(n, sizeof(*g->layers));
	for (size_t i = 0; i < n; i++) {
		g->layers[g->n_layers++] = layers[i];
		g->tar_bytes += layers[i]->tar_size;
		g->blob_bytes += layers[i]->blob_size;
	}
	g->layout = layout;
}

/* Every layer in one cache: the worker pool gets them all at once. */
static void group_of_all(struct group *g, const char *name, char *title, struct layer *layers, size_t n)
{
	char *dir = layout_create(scratch, name);
	struct layer **list = xcalloc(n, sizeof(*list));
	for (size_t i = 0; i < n; i++) {
		char *p = xasprintf("%s/blobs/sha256/%s", dir, layers[i].digest + 7);
		if (link(layers[i].blob_path, p) != 0)
			die("link %s: %s", p, strerror(errno));
		free(p);
		list[i] = &layers[i];
	}
	layout_write(dir, list, n);
	group_add(g, title, dir, list, n);
	free(list);
}

/* ---- command line ------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench_export [options]\n"
		"  --cachectl PATH       the binary to measure (default: %s)\n"
		"  --scratch DIR         where to generate (a temporary folder inside it; default /tmp)\n"
		"  --sizes LIST          layer sizes in MiB, comma-separated, instead of the standard workloads:\n"
		"                        one 512 MiB layer, 20 layers of 8 MiB, one layer of 100000 small files\n"
		"  --scale N             the standard workloads divided by N, for quick runs (default 1)\n"
		"  --modes LIST          of copy,verify,zstd,zstd19,uncompressed,gzip,estargz,zstd-tar\n"
		"                        (default: all)\n"
		"  --random-percent N    share of random (incompressible) bytes in a layer (default 25)\n"
		"  --repeat N            run each case N times, keep the fastest (default 1)\n"
		"  --zstd19-max-mib N    run zstd19 only on caches of at most N MiB (default 128)\n"
		"  --jobs N              pass --jobs N to cachectl (default: cachectl's own)\n"
		"  --no-tools            do not run the command-line tools for comparison\n"
		"  --no-all              no run over the cache holding every layer at once\n"
		"  --no-check            do not verify what each export wrote\n"
		"  --cold                drop the inputs from the page cache before each run\n"
		"  --keep                keep the scratch folder\n",
		CACHECTL_DEFAULT_PATH);
}

static int parse_int(const char *s, int lo, int hi, const char *what)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < lo || v > hi)
		die("%s: \"%s\" is not a number from %d to %d", what, s, lo, hi);
	return (int)v;
}

static void parse_sizes(struct config *c, const char *list)
{
	char *copy = strdup(list), *save = NULL;
	c->n_sizes = 0;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (c->n_sizes == MAX_SIZES)
			die("--sizes: at most %d sizes", MAX_SIZES);
		c->sizes[c->n_sizes++] = parse_int(t, 1, 65536, "--sizes");
	}
	if (!c->n_sizes)
		die("--sizes: empty list");
	free(copy);
}

static void parse_modes(struct config *c, const char *list)
{
	char *copy = strdup(list), *save = NULL;
	memset(c->modes, 0, sizeof(c->modes));
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int m = 0;
		while (m < N_MODES && strcmp(mode_names[m], t) != 0)
			m++;
		if (m == N_MODES)
			die("--modes: unknown mode \"%s\" (copy, verify, zstd, zstd19, uncompressed, gzip, estargz, "
			    "zstd-tar)", t);
		c->modes[m] = true;
	}
	free(copy);
}

static bool on_path(const char *tool)
{
	const char *path = getenv("PATH");
	if (!path)
		return false;
	char *copy = strdup(path), *save = NULL;
	bool found = false;
	for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
		char *p = xasprintf("%s/%s", *d ? d : ".", tool);
		found = access(p, X_OK) == 0;
		free(p);
	}
	free(copy);
	return found;
}

static void print_machine(void)
{
	struct utsname u;
	char model[256] = "unknown";
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (f) {
		char line[512];
		while (fgets(line, sizeof(line), f)) {
			char *colon = strchr(line, ':');
			if (strncmp(line, "model name", 10) == 0 && colon) {
				snprintf(model, sizeof(model), "%s", colon + 2);
				model[strcspn(model, "\n")] = '\0';
				break;
			}
		}
		fclose(f);
	}
	uname(&u);
	printf("machine: %ld online CPUs (%s), Linux %s\n", sysconf(_SC_NPROCESSORS_ONLN), model, u.release);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"cachectl", required_argument, NULL, 'c'},
		{"scratch", required_argument, NULL, 's'},
		{"sizes", required_argument, NULL, 'z'},
		{"modes", required_argument, NULL, 'm'},
		{"random-percent", required_argument, NULL, 'r'},
		{"repeat", required_argument, NULL, 'n'},
		{"zstd19-max-mib", required_argument, NULL, 'x'},
		{"jobs", required_argument, NULL, 'j'},
		{"scale", required_argument, NULL, 'S'},
		{"no-tools", no_argument, NULL, 'T'},
		{"no-all", no_argument, NULL, 'A'},
		{"no-check", no_argument, NULL, 'C'},
		{"cold", no_argument, NULL, 'o'},
		{"keep", no_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static struct config c = {
		.cachectl = CACHECTL_DEFAULT_PATH,
		.scratch_parent = "/tmp",
		.sizes = {1, 16, 128, 512},
		.n_sizes = 4,
		.random_percent = 25,
		.repeat = 1,
		.zstd19_max_mib = 128,
		.scale = 1,
		.tools = true,
		.all = true,
		.check = true,
	};
	int opt;
	for (int m = 0; m < N_MODES; m++)
		c.modes[m] = true;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': c.cachectl = optarg; break;
		case 's': c.scratch_parent = optarg; break;
		case 'z': parse_sizes(&c, optarg); c.custom_sizes = true; break;
		case 'S': c.scale = parse_int(optarg, 1, 512, "--scale"); break;
		case 'm': parse_modes(&c, optarg); break;
		case 'r': c.random_percent = parse_int(optarg, 0, 100, "--random-percent"); break;
		case 'n': c.repeat = parse_int(optarg, 1, 100, "--repeat"); break;
		case 'x': c.zstd19_max_mib = parse_int(optarg, 0, INT_MAX, "--zstd19-max-mib"); break;
		case 'j': parse_int(optarg, 1, 256, "--jobs"); c.jobs = optarg; break;
		case 'T': c.tools = false; break;
		case 'A': c.all = false; break;
		case 'C': c.check = false; break;
		case 'o': c.cold = true; break;
		case 'k': c.keep = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	if (access(c.cachectl, X_OK) != 0)
		die("%s: %s (give --cachectl PATH)", c.cachectl, strerror(errno));
	c.have_pigz = on_path("pigz");
	c.have_openssl = on_path("openssl");
	if (c.tools && (!on_path("zstd") || !on_path("gzip") || !on_path("sha256sum")))
		die("zstd, gzip and sha256sum must be installed (or pass --no-tools)");
	cfg = &c;
	char cores[16];
	snprintf(cores, sizeof(cores), "%ld", sysconf(_SC_NPROCESSORS_ONLN));
	setenv("BENCH_CORES", cores, 1); /* the tools' -p and -T */

	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	scratch = xasprintf("%s/cachectl-bench-XXXXXX", c.scratch_parent);
	if (!mkdtemp(scratch))
		die("create a folder in %s: %s", c.scratch_parent, strerror(errno));
	scratch_root = scratch;

	print_machine();
	printf("cachectl: %s\nscratch: %s%s\n", c.cachectl, scratch, c.cold ? " (inputs dropped from the page cache)" : " (inputs in the page cache)");
	printf("layers: tar of files of 512 B..4 MiB (small files: 64 B..16 KiB), %d%% random bytes, the rest text;"
	       " gzip -6 by zlib\n",
	       c.random_percent);

	size_t n_layers = c.custom_sizes ? c.n_sizes : 22;
	struct layer *layers = xcalloc(n_layers, sizeof(*layers));
	struct group *groups = xcalloc(n_layers + 1, sizeof(*groups));
	size_t n_groups = 0;
	double t0 = now();
	if (c.custom_sizes) {
		for (size_t i = 0; i < c.n_sizes && !interrupted; i++) {
			layers[i].size_mib = c.sizes[i];
			layers[i].seed = (uint64_t)c.sizes[i];
			struct layer *one = &layers[i];
			layer_make(one, xasprintf("layer-%dM", c.sizes[i]));
			group_add(&groups[n_groups++], xasprintf("%d MiB layer", c.sizes[i]), one->layout, &one, 1);
		}
		if (c.all && c.n_sizes > 1 && !interrupted)
			group_of_all(&groups[n_groups++], "all-layers", xasprintf("all %zu layers in one cache", c.n_sizes),
				     layers, c.n_sizes);
	} else {
		/* The workloads of issue 12: one large layer, many middle-sized
		 * layers, one layer of small files. */
		int big = 512 / c.scale > 1 ? 512 / c.scale : 1, mid = 8 / c.scale > 1 ? 8 / c.scale : 1;
		int files = 100000 / c.scale;
		struct layer *one = &layers[0];
		one->size_mib = big;
		one->seed = 512;
		layer_make(one, xasprintf("layer-%dM", big));
		group_add(&groups[n_groups++], xasprintf("one %d MiB layer", big), one->layout, &one, 1);
		for (int i = 0; i < 20 && !interrupted; i++) {
			layers[1 + i].size_mib = mid;
			layers[1 + i].seed = 1000 + (uint64_t)i;
			layer_make(&layers[1 + i], xasprintf("layer-%dM-%02d", mid, i));
		}
		if (!interrupted)
			group_of_all(&groups[n_groups++], "twenty-layers", xasprintf("20 layers of %d MiB", mid), layers + 1, 20);
		one = &layers[21];
		one->small_files = files;
		one->seed = 7;
		if (!interrupted) {
			layer_make(one, xasprintf("layer-%d-files", files));
			group_add(&groups[n_groups++], xasprintf("one layer of %d small files", files), one->layout, &one, 1);
		}
	}
	printf("generated %zu layers in %.1f s\n", n_layers, now() - t0);
	printf("columns: wall and CPU (user+sys) seconds; MiB/s of uncompressed tar bytes (and of gzip blob bytes);\n"
	       "peak RSS of the process (for a shell pipeline: its largest process); size of what was written\n");

	for (size_t i = 0; i < n_groups && !interrupted; i++)
		run_group(&groups[i]);
	if (!interrupted)
		print_targets(groups, n_groups);

	if (c.keep)
		printf("\nkept %s\n", scratch);
	else
		remove_tree(scratch);
	if (interrupted) {
		fprintf(stderr, "bench_export: interrupted\n");
		return 130;
	}
	for (size_t i = 0; i < n_groups; i++)
		for (size_t r = 0; r < groups[i].n_rows; r++)
			if (!groups[i].rows[r].skipped && !groups[i].rows[r].m.ok)
				return 1;
	return 0;
}
