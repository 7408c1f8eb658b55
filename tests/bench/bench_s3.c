/* bench_s3: upload and download speed of type=s3 against a store on this
 * machine, through the same engine `cachectl export` and `import` use.
 *
 *   bench_s3 --endpoint http://127.0.0.1:PORT --bucket B [--access-key-id ID
 *            --secret-access-key S] [--big-mib 256] [--small 32] [--jobs N]
 *
 * Builds a local cache in a temporary directory (one large layer that goes
 * up in multipart, and `small` 1 MiB layers that go up in single PUTs),
 * then measures: the first export (everything sent), a repeated export
 * (must send no blob byte: only HEADs and the manifest), and an import of
 * it all back.  Prints MB/s and the peak resident memory, which stays far
 * below the layer sizes because blobs are streamed.  tests/bench/bench_s3.sh
 * starts s3rver (and optionally the signature-checking front) for it. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/util/digest.h"
#include "core/util/error.h"
#include "core/util/parallel.h"
#include "transport/engine/cache_transfer.h"

/* Setup steps that cannot fail unless the machine is out of memory. */
#define MUST(expr)                                                                       \
	do {                                                                             \
		if ((expr) != 0) {                                                       \
			fprintf(stderr, "%s:%d: %s failed\n", __FILE__, __LINE__, #expr); \
			exit(1);                                                         \
		}                                                                        \
	} while (0)


static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_s3: %s: %s\n", what, error_message());
	exit(1);
}

/* Deterministic incompressible bytes (xorshift). */
static void fill(unsigned char *buf, size_t n, uint64_t *state)
{
	for (size_t i = 0; i + 8 <= n; i += 8) {
		uint64_t x = *state;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		*state = x;
		memcpy(buf + i, &x, 8);
	}
}

struct layer {
	char digest[DIGEST_BUF];
	int64_t size;
};

/* Writes one uncompressed "layer" blob of size bytes; its diffID is its digest. */
static void write_layer(const char *dir, int64_t size, uint64_t seed, struct layer *out)
{
	char tmp[4400], path[4400];
	unsigned char *buf = malloc(1 << 20);
	struct sha256 *h;
	snprintf(tmp, sizeof(tmp), "%s/blobs/sha256/tmp", dir);
	FILE *f = fopen(tmp, "wb");
	if (!buf || !f || sha256_new(&h))
		die("write layer");
	for (int64_t left = size; left > 0;) {
		size_t n = left < (1 << 20) ? (size_t)left : (1 << 20);
		fill(buf, n, &seed);
		if (fwrite(buf, 1, n, f) != n || sha256_update(h, buf, n))
			die("write layer");
		left -= (int64_t)n;
	}
	fclose(f);
	MUST(sha256_final(h, out->digest));
	sha256_free(h);
	free(buf);
	out->size = size;
	snprintf(path, sizeof(path), "%s/blobs/sha256/%s", dir, digest_hex(out->digest));
	if (rename(tmp, path))
		die("rename");
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f))
		die(path);
}

/* An OCI layout holding a cache whose one record has all layers as a chain. */
static void make_cache(const char *dir, int big_mib, int small)
{
	char path[4400];
	struct buffer config = BUFFER_INIT, manifest = BUFFER_INIT, index = BUFFER_INIT;
	struct layer *layers = calloc((size_t)small + 1, sizeof(*layers));
	size_t n = 0;
	char blobs[4400];
	snprintf(blobs, sizeof(blobs), "%s/blobs", dir);
	snprintf(path, sizeof(path), "%s/blobs/sha256", dir);
	if (mkdir(dir, 0755) || mkdir(blobs, 0755) || mkdir(path, 0755))
		die("mkdir");
	write_layer(dir, (int64_t)big_mib << 20, 42, &layers[n++]);
	for (int i = 0; i < small; i++)
		write_layer(dir, 1 << 20, 1000 + (uint64_t)i, &layers[n++]);
	MUST(buffer_append_str(&config, "{\"layers\":["));
	for (size_t i = 0; i < n; i++)
		MUST(buffer_appendf(&config, "%s{\"blob\":\"%s\",\"parent\":%d}", i ? "," : "", layers[i].digest,
			       (int)i - 1));
	MUST(buffer_appendf(&config, "],\"records\":[{\"layers\":[{\"layer\":%zu,\"createdAt\":\"2025-01-02T03:04:05Z\"}],"
				"\"digest\":\"sha256:%064d\"}]}", n - 1, 0));
	char config_digest[DIGEST_BUF], manifest_digest[DIGEST_BUF];
	MUST(digest_of_bytes(config_digest, config.data, config.len));
	snprintf(path, sizeof(path), "%s/blobs/sha256/%s", dir, digest_hex(config_digest));
	write_file(path, config.data);
	MUST(buffer_appendf(&manifest, "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
				  "\"config\":{\"mediaType\":\"application/vnd.buildkit.cacheconfig.v0\",\"digest\":\"%s\","
				  "\"size\":%zu},\"layers\":[", config_digest, config.len));
	for (size_t i = 0; i < n; i++)
		MUST(buffer_appendf(&manifest, "%s{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\","
					  "\"size\":%lld,\"annotations\":{\"containerd.io/uncompressed\":\"%s\"}}",
			       i ? "," : "", layers[i].digest, (long long)layers[i].size, layers[i].digest));
	MUST(buffer_append_str(&manifest, "]}"));
	MUST(digest_of_bytes(manifest_digest, manifest.data, manifest.len));
	snprintf(path, sizeof(path), "%s/blobs/sha256/%s", dir, digest_hex(manifest_digest));
	write_file(path, manifest.data);
	MUST(buffer_appendf(&index, "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
			       "\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
			       "\"digest\":\"%s\",\"size\":%zu,\"annotations\":{\"org.opencontainers.image.ref.name\":"
			       "\"latest\"}}]}", manifest_digest, manifest.len));
	snprintf(path, sizeof(path), "%s/index.json", dir);
	write_file(path, index.data);
	snprintf(path, sizeof(path), "%s/oci-layout", dir);
	write_file(path, "{\"imageLayoutVersion\":\"1.0.0\"}");
	buffer_free(&config);
	buffer_free(&manifest);
	buffer_free(&index);
	free(layers);
}

/* One transfer from `from` to `to` (option strings), timed. */
static double transfer(const char *from, const char *to, unsigned jobs, struct progress_totals *totals,
		       struct progress *p)
{
	struct cache_options src = {0}, dst = {0};
	struct transport *s = NULL;
	struct destination d = {0};
	struct source_set set;
	memset(totals, 0, sizeof(*totals));
	if (cache_spec_parse(&src, from, TRANSPORT_SOURCE) || cache_spec_parse(&dst, to, TRANSPORT_DESTINATION))
		die("options");
	if (destination_open(&d, &dst, p) || transport_open(&s, &src, TRANSPORT_SOURCE, p))
		die("open");
	double t0 = now();
	if (source_set_load(&set, &s, 1, p) || cache_export(&set, &d, 1, jobs, p, totals))
		die("transfer");
	double t = now() - t0;
	source_set_free(&set);
	transport_free(s);
	transport_free(d.transport);
	cache_options_free(&src);
	cache_options_free(&dst);
	return t;
}

static void report(const char *what, double seconds, int64_t bytes, const struct progress_totals *t)
{
	printf("%-22s %8.2f s  %8.1f MB/s  (%u layers written, %u skipped, %lld blob bytes sent)\n", what, seconds,
	       seconds > 0 ? (double)bytes / 1e6 / seconds : 0.0, t->layers_written, t->layers_skipped,
	       (long long)t->bytes_written);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"endpoint", required_argument, NULL, 'e'},
		{"bucket", required_argument, NULL, 'b'},
		{"access-key-id", required_argument, NULL, 'a'},
		{"secret-access-key", required_argument, NULL, 's'},
		{"big-mib", required_argument, NULL, 'B'},
		{"small", required_argument, NULL, 'S'},
		{"jobs", required_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	const char *endpoint = NULL, *bucket = "bench", *akid = "S3RVER", *secret = "S3RVER";
	int big = 256, small = 32, opt;
	unsigned jobs = parallel_default_threads();
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'e': endpoint = optarg; break;
		case 'b': bucket = optarg; break;
		case 'a': akid = optarg; break;
		case 's': secret = optarg; break;
		case 'B': big = atoi(optarg); break;
		case 'S': small = atoi(optarg); break;
		case 'j': jobs = (unsigned)atoi(optarg); break;
		default:
			fprintf(stderr, "usage: bench_s3 --endpoint URL [--bucket B] [--big-mib N] [--small N] [--jobs N]\n");
			return 2;
		}
	}
	if (!endpoint) {
		fprintf(stderr, "bench_s3: --endpoint is required (tests/bench/bench_s3.sh starts a store)\n");
		return 2;
	}
	char dir[] = "/tmp/cachectl-bench-s3-XXXXXX", src[256], back[256], from[512], to[512], s3[2048];
	if (!mkdtemp(dir))
		die("mkdtemp");
	snprintf(src, sizeof(src), "%s/src", dir);
	snprintf(back, sizeof(back), "%s/back", dir);
	make_cache(src, big, small);
	int64_t total = ((int64_t)big << 20) + ((int64_t)small << 20);
	snprintf(s3, sizeof(s3), "type=s3,bucket=%s,region=us-east-1,endpoint_url=%s,use_path_style=true,"
				 "access_key_id=%s,secret_access_key=%s,name=bench-%ld",
		 bucket, endpoint, akid, secret, (long)getpid());
	snprintf(from, sizeof(from), "type=local,src=%s", src);
	snprintf(to, sizeof(to), "type=local,dest=%s", back);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);

	struct progress *p;
	struct progress_totals t;
	if (progress_new(&p, PROGRESS_QUIET, stderr))
		die("progress");
	printf("cache: one %d MiB layer + %d x 1 MiB layers = %.1f MB, %u jobs, store %s\n", big, small,
	       (double)total / 1e6, jobs, endpoint);
	double up = transfer(from, s3, jobs, &t, p);
	report("export (first)", up, total, &t);
	double again = transfer(from, s3, jobs, &t, p);
	report("export (repeat)", again, 0, &t);
	if (t.bytes_written != 0 || t.layers_written != 0) {
		fprintf(stderr, "bench_s3: the repeated export sent blob bytes\n");
		return 1;
	}
	double down = transfer(s3, to, jobs, &t, p);
	report("import", down, total, &t);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("peak resident memory: %.1f MiB\n", (double)ru.ru_maxrss / 1024);
	progress_free(p);
	char cmd[4400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_s3: could not remove %s\n", dir);
	return 0;
}
