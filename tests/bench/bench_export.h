/* bench_export's cases (bench_cases.c) and what they share with the
 * command line (bench_export.c). */
#ifndef CACHECTL_BENCH_EXPORT_H
#define CACHECTL_BENCH_EXPORT_H

#include "bench_layers.h"

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

static const char *const mode_names[N_MODES] __attribute__((unused)) = {"copy", "verify", "zstd", "zstd19", "uncompressed",
						"gzip", "estargz", "zstd-tar"};

static inline bool needs_uncompressed(enum mode m)
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

extern const struct config *cfg;
extern char *scratch;

/* Runs every mode cfg asks for on g, cachectl and the tools, printing a row
 * each. */
void run_group(struct group *g);
/* The ratios the issue sets targets for. */
void print_targets(struct group *groups, size_t n);

#endif
