/* Shared pieces of the cachectl commands. */
#ifndef CACHECTL_CLI_H
#define CACHECTL_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "transport/options.h"
#include "core/util/progress.h"
#include "transport/engine/cache_transfer.h"
#include "transport/transport.h"

/* Exit codes, documented in docs/cachectl.1.md. */
enum exit_code {
	EXIT_OK = 0,
	EXIT_FAILURE_ = 1, /* damaged or unreadable cache, I/O error */
	EXIT_USAGE = 2,    /* bad command line or option */
	EXIT_NO_CACHE = 3, /* no cache at any source */
};

struct common_options {
	enum progress_mode progress;
	unsigned jobs;
	double lock_timeout; /* seconds a local cache's lock is waited for */
};

/* Parses a source or destination in BuildKit's syntax: one CSV record of
 * key=value fields (double quotes allow commas; "" is a quote), keys
 * lower-cased.  A word without '=' is type=local when it is an existing
 * path or starts with /, ./, ../ or ~/; type=registry when it is a
 * reference naming its registry (ghcr.io/org/app:tag); else ERR_USAGE
 * showing both spellings.  Messages quote only the offending field, with
 * secret values hidden (cli/cache_spec.c). */
int cache_spec_parse(struct cache_options *out, const char *text, enum transport_direction dir);

/* One SRC opened and its cache read: what inspect and verify start from. */
struct single_source {
	struct cache_options spec;
	struct transport *transport;
	struct source_set set;
	const struct descriptor **blobs; /* the layer blobs the config uses */
	size_t n_blobs;
};

int single_source_load(struct single_source *s, const char *text, struct progress *p);
void single_source_free(struct single_source *s);

/* Parses and opens every SRC of export or import; *n_open of them are
 * open (to be freed) even when it fails part-way. */
int sources_open(struct transport **out, struct cache_options *specs, size_t *n_open, const char *const *texts,
		 size_t n, struct progress *p);

/* Opens the store SRC names (ls, du, rm, prune); ERR_USAGE when its
 * backend cannot manage one. */
int store_open(struct cache_options *spec, struct transport **out, const char *text, struct progress *p);
/* One help line per backend, from the handler table:
 * "  type=local,src=DIR|dest=DIR...   OCI layout directory (docs/local.md)". */
void print_backend_lines(FILE *out);
/* The known types a SRC (or DST) may name: "local, registry, s3, gha". */
void known_types_text(char *out, size_t size, enum transport_direction dir);

#define BARE_WORD_HELP                                                                          \
	"A bare word is type=local when it is an existing path or starts with /, ./ or ../, and\n" \
	"type=registry when it names its registry (ghcr.io/org/app:cache); anything else is an\n"  \
	"error showing both spellings.\n"

/* Inspect and verify are quiet unless asked: their output is on stdout. */
enum progress_mode quiet_unless_asked(enum progress_mode m);

/* Looks for --progress json on the whole command line before anything is
 * parsed, so that even a usage error before it is an `error` event. */
void errors_as_json_scan(int argc, char **argv);

/* Handles --progress and --jobs; returns 1 when the option was one of them. */
int common_option(struct common_options *c, int opt, const char *arg, int *rc);
void common_options_init(struct common_options *c);
/* Puts the common options in force once progress exists: the lock timeout,
 * and a note on p when a lock must be waited for. */
void common_options_apply(const struct common_options *c, struct progress *p);

/* Names d's result after its spec (type, dir/ref/bucket..., tag), for
 * the `result` event and --metadata-file; spec must outlive the result. */
void destination_result_name(struct destination *d, struct cache_options *spec);
/* --metadata-file FILE: every destination's result, written atomically. */
int metadata_file_write(const char *path, const char *command, const struct destination *d, size_t n);

/* The message for an option getopt refused ('?' unknown, ':' missing value). */
int bad_option(int opt, char **argv);

/* Prints "cachectl: <message>" for the current error (after --progress
 * json: an `error` event) and maps rc to an exit code. */
int report_error(int rc);
int exit_code_of(int rc);

/* cachectl --version: ours and every library's, as built and as running. */
int print_version(void);

int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_files(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_du(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_prune(int argc, char **argv);

#define OPT_PROGRESS 1000
#define OPT_JOBS 1001
#define OPT_LOCK_TIMEOUT 1002
#define OPT_METADATA_FILE 1003
#define METADATA_FILE_HELP \
	"  --metadata-file FILE  write every destination's result there as JSON (docs/progress.md)\n"
#define OPT_DEBUG 1004
#define COMMON_LONG_OPTIONS                                        \
	{"progress", required_argument, NULL, OPT_PROGRESS},       \
	{"jobs", required_argument, NULL, OPT_JOBS},               \
	{"lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT}, \
	{"debug", no_argument, NULL, OPT_DEBUG},                   \
	{"help", no_argument, NULL, 'h'}

#define COMMON_HELP                                                                   \
	"  --progress MODE   auto, tty, plain, json or quiet (default auto)\n"         \
	"  --jobs N          blobs processed at once (default: processors)\n"         \
	"  --lock-timeout D  wait this long for a local cache another process has\n"   \
	"                    locked, e.g. 30s, 5m, 0 (default 60s)\n"                  \
	"  --debug           trace each HTTP request on stderr, credentials hidden\n"  \
	"                    (as CACHECTL_DEBUG=http)\n"                               \
	"  -h, --help        this help\n"

#endif
