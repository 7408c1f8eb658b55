/* bench_export's cases: each mode run through the real cachectl binary and
 * the same bytes through the command-line tools, one row each, and the
 * ratios at the end. */
#include "bench_export.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


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

void run_group(struct group *g)
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

void print_targets(struct group *groups, size_t n)
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
