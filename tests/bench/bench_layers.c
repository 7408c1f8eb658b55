/* bench_export's inputs: layer tars of deterministic text and random bytes
 * (libarchive), gzipped by zlib, and local cache layouts around them. */
#include "bench_layers.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>


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
void layer_generate(struct layer *l, const char *blob_tmp, int random_percent)
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
void layout_write(const char *dir, struct layer **given, size_t n)
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

char *layout_create(const char *scratch, const char *name)
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
