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
#include "bench_export.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>


const struct config *cfg;
char *scratch;

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
