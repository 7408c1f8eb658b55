/* bench_registry: how fast cachectl pushes a cache to a registry and pulls
 * it back, and what a second push of the same cache costs.
 *
 * Writes a synthetic cache (a chain of N incompressible layers of S MiB in
 * a local OCI layout, with its own code: libcrypto and hand-written JSON),
 * starts Debian's docker-registry on a free loopback port with its access
 * log on, then runs the cachectl binary built beside this program:
 *
 *   push          local -> registry, every blob new
 *   push again    the same cache to the same tag: HEADs only
 *   pull          registry -> a fresh local layout
 *   local copy    local -> local, for comparison (no network)
 *
 * For each it prints wall time and MiB/s of blob bytes, cachectl's own
 * count of blobs and bytes written (--progress json summary), and, read
 * from the registry's access log, how many requests sent blob bytes (PUT
 * or PATCH on an upload session) -- the second push must send none.
 *
 * Not a test: numbers depend on the machine.  Run it by hand:
 *   build/tests/bench/bench_registry [--layers 8] [--size 32] [--jobs N]
 *                                    [--chunk-size BYTES] [--keep]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CACHECTL_DEFAULT_PATH
#define CACHECTL_DEFAULT_PATH "cachectl"
#endif

#define MIB (1024.0 * 1024.0)
#define MT_LAYER "application/vnd.oci.image.layer.v1.tar"

static char scratch[256];
static pid_t registry_pid;

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void cleanup(void)
{
	if (registry_pid > 0) {
		kill(registry_pid, SIGTERM);
		waitpid(registry_pid, NULL, 0);
		registry_pid = 0;
	}
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "bench_registry: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	cleanup();
	if (*scratch)
		nftw(scratch, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	exit(1);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void hex_digest(char out[72], const unsigned char md[32])
{
	strcpy(out, "sha256:");
	for (int i = 0; i < 32; i++)
		sprintf(out + 7 + 2 * i, "%02x", md[i]);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		die("cannot write %s: %s", path, strerror(errno));
}

static void digest_of(char out[72], const void *data, size_t len)
{
	unsigned char md[32];
	unsigned int n;
	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	hex_digest(out, md);
}

static void blob_path(char *out, size_t size, const char *dir, const char *digest)
{
	snprintf(out, size, "%s/blobs/sha256/%s", dir, digest + 7);
}

/* A chain of n layers of `size` random bytes (typed uncompressed, so
 * their digest is their diffID), one record per layer with a result. */
static double make_cache(const char *dir, int n, size_t size)
{
	char path[4096], (*digests)[72] = calloc((size_t)n, 72);
	unsigned char *buf = malloc(size);
	if (!digests || !buf)
		die("out of memory");
	snprintf(path, sizeof(path), "%s/blobs/sha256", dir);
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", path);
	if (system(cmd) != 0)
		die("cannot create %s", path);
	uint64_t x = 0x9E3779B97F4A7C15ull;
	for (int i = 0; i < n; i++) {
		for (size_t k = 0; k + 8 <= size; k += 8) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift: incompressible enough */
			memcpy(buf + k, &x, 8);
		}
		digest_of(digests[i], buf, size);
		blob_path(path, sizeof(path), dir, digests[i]);
		write_file(path, buf, size);
	}
	/* The cache config: layers[] a chain, records with one result each. */
	size_t cap = 4096 + (size_t)n * 512, len = 0;
	char *config = malloc(cap), *root = malloc(cap), rec[72], cfg_digest[72], root_digest[72];
	if (!config || !root)
		die("out of memory");
	len += (size_t)snprintf(config + len, cap - len, "{\"layers\":[");
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(config + len, cap - len, "%s{\"blob\":\"%s\",\"parent\":%d}", i ? "," : "",
					digests[i], i - 1);
	len += (size_t)snprintf(config + len, cap - len, "],\"records\":[");
	for (int i = 0; i < n; i++) {
		char seed[32];
		snprintf(seed, sizeof(seed), "record %d", i);
		digest_of(rec, seed, strlen(seed));
		len += (size_t)snprintf(config + len, cap - len,
					"%s{\"layers\":[{\"layer\":%d,\"createdAt\":\"2025-01-02T03:04:05Z\"}],\"digest\":\"%s\"%s",
					i ? "," : "", i, rec, i ? "" : "}");
		if (i)
			len += (size_t)snprintf(config + len, cap - len, ",\"inputs\":[[{\"link\":%d}]]}", i - 1);
	}
	len += (size_t)snprintf(config + len, cap - len, "]}");
	digest_of(cfg_digest, config, len);
	blob_path(path, sizeof(path), dir, cfg_digest);
	write_file(path, config, len);
	size_t rlen = (size_t)snprintf(root, cap,
				       "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
				       "\"config\":{\"mediaType\":\"application/vnd.buildkit.cacheconfig.v0\",\"digest\":\"%s\","
				       "\"size\":%zu},\"layers\":[",
				       cfg_digest, len);
	for (int i = 0; i < n; i++)
		rlen += (size_t)snprintf(root + rlen, cap - rlen,
					 "%s{\"mediaType\":\"" MT_LAYER "\",\"digest\":\"%s\",\"size\":%zu,\"annotations\":"
					 "{\"buildkit/createdat\":\"2025-01-02T03:04:05Z\",\"containerd.io/uncompressed\":\"%s\"}}",
					 i ? "," : "", digests[i], size, digests[i]);
	rlen += (size_t)snprintf(root + rlen, cap - rlen, "]}");
	digest_of(root_digest, root, rlen);
	blob_path(path, sizeof(path), dir, root_digest);
	write_file(path, root, rlen);
	snprintf(path, sizeof(path), "%s/oci-layout", dir);
	write_file(path, "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
	char index[512];
	int ilen = snprintf(index, sizeof(index),
			    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":"
			    "[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":%zu,"
			    "\"annotations\":{\"org.opencontainers.image.ref.name\":\"latest\"}}]}",
			    root_digest, rlen);
	snprintf(path, sizeof(path), "%s/index.json", dir);
	write_file(path, index, (size_t)ilen);
	free(config);
	free(root);
	free(digests);
	free(buf);
	return (double)size * n;
}

static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) != 0 || getsockname(s, (struct sockaddr *)&a, &len) != 0)
		die("no free port: %s", strerror(errno));
	close(s);
	return ntohs(a.sin_port);
}

static bool port_open(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int s = socket(AF_INET, SOCK_STREAM, 0);
	bool ok = s >= 0 && connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (s >= 0)
		close(s);
	return ok;
}

static void start_registry(int port, const char *log)
{
	char cfg[4096], text[8192];
	snprintf(cfg, sizeof(cfg), "%s/registry.yml", scratch);
	int n = snprintf(text, sizeof(text),
			 "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s/registry\n"
			 "  maintenance:\n    uploadpurging:\n      enabled: false\nhttp:\n  addr: 127.0.0.1:%d\n",
			 scratch, port);
	write_file(cfg, text, (size_t)n);
	registry_pid = fork();
	if (registry_pid < 0)
		die("fork: %s", strerror(errno));
	if (registry_pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("docker-registry", "docker-registry", "serve", cfg, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200 && !port_open(port); i++) {
		int status;
		if (waitpid(registry_pid, &status, WNOHANG) == registry_pid) {
			registry_pid = 0;
			die("docker-registry did not start (apt-get install docker-registry)");
		}
		usleep(50000);
	}
	if (!port_open(port))
		die("docker-registry did not start listening on %d", port);
}

/* Requests in the access log from byte `from` on that sent blob bytes. */
static int upload_requests(const char *log, long from, long *end)
{
	FILE *f = fopen(log, "r");
	char line[8192];
	int n = 0;
	if (!f)
		die("cannot read %s", log);
	fseek(f, from, SEEK_SET);
	while (fgets(line, sizeof(line), f))
		if ((strstr(line, "\"PUT /v2/") || strstr(line, "\"PATCH /v2/")) && strstr(line, "/blobs/uploads/"))
			n++;
	*end = ftell(f);
	fclose(f);
	return n;
}

struct run {
	double seconds;
	long layers_written, bytes_written;
	long max_rss_kib;
};

/* Runs cachectl with --progress json; the summary line has the counts. */
static struct run cachectl(const char *exe, char *const args[])
{
	int fds[2];
	struct run r = {0, -1, -1, 0};
	if (pipe(fds) != 0)
		die("pipe: %s", strerror(errno));
	double t0 = now();
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 2);
		close(fds[0]);
		execv(exe, args);
		_exit(127);
	}
	close(fds[1]);
	FILE *f = fdopen(fds[0], "r");
	char line[65536], last[65536] = "";
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "\"summary\""))
			snprintf(last, sizeof(last), "%s", line);
	fclose(f);
	int status;
	struct rusage ru;
	wait4(pid, &status, 0, &ru);
	r.seconds = now() - t0;
	r.max_rss_kib = ru.ru_maxrss;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("%s %s %s failed (status %d)", exe, args[1], args[args[5] ? 5 : 4], status);
	const char *w = strstr(last, "\"layersWritten\":"), *b = strstr(last, "\"bytesWritten\":");
	if (w)
		r.layers_written = strtol(w + 16, NULL, 10);
	if (b)
		r.bytes_written = strtol(b + 15, NULL, 10);
	return r;
}

static void report(const char *what, const struct run *r, double bytes, int uploads)
{
	char up[32] = "-", speed[32] = "-";
	if (uploads >= 0)
		snprintf(up, sizeof(up), "%d", uploads);
	/* Throughput only where blob bytes moved. */
	if (r->bytes_written > 0)
		snprintf(speed, sizeof(speed), "%.1f MiB/s", bytes / MIB / r->seconds);
	printf("%-12s %8.2f s %15s %8ld %12ld %10s %9.1f MiB\n", what, r->seconds, speed, r->layers_written,
	       r->bytes_written, up, (double)r->max_rss_kib / 1024.0);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"layers", required_argument, NULL, 'n'}, {"size", required_argument, NULL, 's'},
		{"jobs", required_argument, NULL, 'j'},   {"chunk-size", required_argument, NULL, 'c'},
		{"cachectl", required_argument, NULL, 'x'}, {"keep", no_argument, NULL, 'k'},
		{NULL, 0, NULL, 0},
	};
	int layers = 8, size_mib = 32, opt;
	long chunk = 0;
	const char *jobs = NULL, *exe = CACHECTL_DEFAULT_PATH;
	bool keep = false;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'n': layers = atoi(optarg); break;
		case 's': size_mib = atoi(optarg); break;
		case 'j': jobs = optarg; break;
		case 'c': chunk = atol(optarg); break;
		case 'x': exe = optarg; break;
		case 'k': keep = true; break;
		default:
			fprintf(stderr, "usage: bench_registry [--layers N] [--size MiB] [--jobs N] [--chunk-size BYTES] "
					"[--cachectl PATH] [--keep]\n");
			return 2;
		}
	}
	if (layers < 1 || size_mib < 1)
		die("--layers and --size must be positive");
	const char *tmp = getenv("TMPDIR");
	snprintf(scratch, sizeof(scratch), "%s/bench-registry-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(scratch))
		die("mkdtemp: %s", strerror(errno));
	char src[300], pulled[300], copied[300], log[300], ref[200], spec[400], from[400], dest[400], source[400];
	snprintf(src, sizeof(src), "%s/source", scratch);
	snprintf(pulled, sizeof(pulled), "%s/pulled", scratch);
	snprintf(copied, sizeof(copied), "%s/copied", scratch);
	snprintf(log, sizeof(log), "%s/registry.log", scratch);
	double bytes = make_cache(src, layers, (size_t)size_mib << 20);
	int port = free_port();
	start_registry(port, log);
	snprintf(ref, sizeof(ref), "127.0.0.1:%d/bench/cache:t", port);
	if (chunk > 0)
		snprintf(spec, sizeof(spec), "type=registry,ref=%s,registry.chunk-size=%ld", ref, chunk);
	else
		snprintf(spec, sizeof(spec), "type=registry,ref=%s", ref);
	snprintf(from, sizeof(from), "type=local,src=%s", src);
	snprintf(source, sizeof(source), "type=registry,ref=%s", ref);
	char jobs_arg[32];
	snprintf(jobs_arg, sizeof(jobs_arg), "%s", jobs ? jobs : "");

	printf("cache: %d layers of %d MiB (%.0f MiB), cachectl %s%s%s\n", layers, size_mib, bytes / MIB, exe,
	       jobs ? ", --jobs " : "", jobs ? jobs : "");
	printf("%-12s %10s %15s %8s %12s %10s %13s\n", "", "wall", "throughput", "written", "bytes", "uploads",
	       "peak RSS");
	long pos = 0;
	char *push[] = {(char *)exe, "export", "--progress", "json", "--from", from, "--export-cache", spec,
			jobs ? "--jobs" : NULL, jobs_arg, NULL};
	upload_requests(log, 0, &pos);
	struct run r = cachectl(exe, push);
	report("push", &r, bytes, upload_requests(log, pos, &pos));
	r = cachectl(exe, push);
	int again = upload_requests(log, pos, &pos);
	report("push again", &r, bytes, again);
	snprintf(dest, sizeof(dest), "%s", pulled);
	char *pull[] = {(char *)exe, "import", "--progress", "json", "--import-cache", source, "--dest", dest,
			jobs ? "--jobs" : NULL, jobs_arg, NULL};
	r = cachectl(exe, pull);
	report("pull", &r, bytes, -1);
	char local[400];
	snprintf(local, sizeof(local), "type=local,dest=%s", copied);
	char *copy[] = {(char *)exe, "export", "--progress", "json", "--from", from, "--export-cache", local,
			jobs ? "--jobs" : NULL, jobs_arg, NULL};
	r = cachectl(exe, copy);
	report("local copy", &r, bytes, -1);
	if (again != 0)
		printf("WARNING: the second push sent blob bytes (%d upload requests)\n", again);
	else
		printf("second push: no blob bytes sent (HEAD found every blob; the tag already pointed at the root)\n");
	cleanup();
	if (keep)
		printf("kept %s\n", scratch);
	else
		nftw(scratch, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	return again != 0;
}
