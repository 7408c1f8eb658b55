/* Benchmark: exporting a 50-layer cache to the GitHub Actions cache service
 * (the project's test server on 127.0.0.1; API v2 stores blobs in azurite).
 *
 * usage: bench_gha [--api 1|2] [--layers N] [--layer-kib K] [--jobs J] [--listing 0|1]
 *
 * Builds a synthetic cache of N incompressible gzip layers
 * (tests/e2e/makecache.py), starts tests/peers/gha_server.py, and runs the
 * cachectl binary twice: the first export uploads every blob, the second
 * must upload none.  Reports MB/s of the first export and, for both, the
 * HTTP requests cachectl made (counted from its CACHECTL_DEBUG=http trace,
 * which has one line per attempt) and the entries the service created.
 * --listing 1 gives ghtoken= and repository= so that existing entries are
 * learnt from one REST listing instead of one lookup per blob. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/util/buffer.h"
#include "transport/http/http.h"

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run(const char *cmd)
{
	int rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* First line a command prints, or "" */
static void first_line(const char *cmd, char *out, size_t size)
{
	FILE *p = popen(cmd, "r");
	out[0] = '\0';
	if (p && fgets(out, (int)size, p))
		out[strcspn(out, "\n")] = '\0';
	if (p)
		pclose(p);
}

/* Lines of the trace that are requests ("http: GET URL -> 200 (...)"), not
 * their header lines ("http:   > ...") nor a body's closing line. */
static long count_lines(const char *path, const char *prefix)
{
	FILE *f = fopen(path, "r");
	char line[8192];
	long n = 0;
	while (f && fgets(line, sizeof(line), f))
		n += strncmp(line, prefix, strlen(prefix)) == 0 && line[strlen(prefix)] != ' ' && strstr(line, " -> ");
	if (f)
		fclose(f);
	return n;
}

/* How many entries the server has created so far (its control endpoint). */
static long created(struct http_client *c, int port)
{
	char url[128];
	struct http_response r;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/_control/stats", port);
	struct http_request req = {.method = "GET", .url = url};
	if (http_do(c, &req, &r) || r.status != 200) {
		http_response_free(&r);
		return -1;
	}
	/* "created_times": [t, t, ...]: count the commas inside the array */
	const char *p = strstr(r.body.data, "\"created_times\": [");
	long n = 0;
	if (p) {
		p += strlen("\"created_times\": [");
		n = *p == ']' ? 0 : 1;
		for (; *p && *p != ']'; p++)
			n += *p == ',';
	}
	http_response_free(&r);
	return n;
}

int main(int argc, char **argv)
{
	int api = 1, layers = 50, kib = 2048, jobs = 4, listing = 0;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--api"))
			api = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--layers"))
			layers = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--layer-kib"))
			kib = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--jobs"))
			jobs = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--listing"))
			listing = atoi(argv[i + 1]);
	}
	char tmp[] = "/tmp/bench-gha-XXXXXX", cmd[8192], modules[4096] = "";
	if (!mkdtemp(tmp))
		return 1;
	snprintf(cmd, sizeof(cmd), "python3 %s/tests/e2e/makecache.py %s/src %d %d 7", SOURCE_DIR, tmp, layers,
		 kib * 1024);
	if (run(cmd)) {
		fprintf(stderr, "bench_gha: cannot make the source cache\n");
		return 1;
	}
	if (api == 2) {
		first_line("python3 " SOURCE_DIR "/tests/peers/npm_peers.py", modules, sizeof(modules));
		if (!*modules) {
			fprintf(stderr, "bench_gha: API v2 needs azurite (node and npm)\n");
			return 1;
		}
	}

	/* the server, its port on a pipe */
	int fds[2];
	if (pipe(fds))
		return 1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		if (api == 2)
			execlp("python3", "python3", SOURCE_DIR "/tests/peers/gha_server.py", "--azurite", modules,
			       (char *)NULL);
		else
			execlp("python3", "python3", SOURCE_DIR "/tests/peers/gha_server.py", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	char port_text[16] = {0};
	if (read(fds[0], port_text, sizeof(port_text) - 1) <= 0) {
		fprintf(stderr, "bench_gha: the test server did not start\n");
		return 1;
	}
	int port = atoi(port_text);
	struct http_client *c;
	struct http_client_options ho = {.what = "bench"};
	if (http_client_new(&c, &ho))
		return 1;

	/* a runtime token for refs/heads/main, as the runner hands out */
	const char *token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhYyI6Ilt7XCJTY29wZVwiOiBcInJlZnMvaGVhZHMvbWFpblwiLCB"
			    "cIlBlcm1pc3Npb25cIjogM31dIiwibmJmIjoxNzk1ODQ2ODI5LCJpYXQiOjE3OTU4NDY4MjksImV4cCI6MjExMTIx"
			    "MDQyOSwiaXNzIjoicGVlci1sYWIiLCJhdWQiOiJ2c3Rva2VuIn0.0t0IaEU1dKnP2Ips-qRfjYRK9PjxwSNNW5Vqxt"
			    "awJ38";
	double mib = (double)layers * kib / 1024.0;
	printf("bench_gha: API v%d, %d layers of %d KiB (%.1f MiB, incompressible), --jobs %d%s\n", api, layers, kib,
	       mib, jobs, listing ? ", REST listing" : "");
	char extra[256] = "";
	if (listing)
		snprintf(extra, sizeof(extra), ",ghtoken=ghp-test-token,repository=octo/bench");
	long before = 0;
	for (int round = 1; round <= 2; round++) {
		snprintf(cmd, sizeof(cmd),
			 "GITHUB_API_URL=http://127.0.0.1:%d ACTIONS_RUNTIME_TOKEN=%s CACHECTL_DEBUG=http %s export "
			 "--progress plain --jobs %d --from type=local,src=%s/src "
			 "--export-cache type=gha,%s=http://127.0.0.1:%d/,mode=max%s 2>%s/round%d.log",
			 port, token, CACHECTL_BINARY, jobs, tmp, api == 2 ? "url_v2" : "url", port, extra, tmp, round);
		double start = mono();
		int rc = run(cmd);
		double secs = mono() - start;
		char log[4200];
		snprintf(log, sizeof(log), "%s/round%d.log", tmp, round);
		if (rc) {
			fprintf(stderr, "bench_gha: export failed, see %s\n", log);
			return 1;
		}
		long requests = count_lines(log, "http: ");
		long now_created = created(c, port);
		long made = now_created - before;
		char rate[32] = "      -";
		if (round == 1)
			snprintf(rate, sizeof(rate), "%7.1f", mib / secs);
		printf("export %d: %6.2f s  %s MiB/s  %5ld HTTP requests  %3ld entries created%s\n", round, secs, rate,
		       requests, made,
		       round == 1 ? "" : made == 1 ? " (the index alone: no blob uploaded)" : " -- BLOBS UPLOADED AGAIN");
		if (round == 2 && made != 1)
			return 1;
		before = now_created;
	}
	http_client_free(c);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	run(cmd);
	return 0;
}
