/* bench_export's plumbing (bench_util.c): messages, allocation, SHA-256,
 * files, and measured runs of a command. */
#ifndef CACHECTL_BENCH_UTIL_H
#define CACHECTL_BENCH_UTIL_H

#include <ftw.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#ifndef CACHECTL_DEFAULT_PATH
#define CACHECTL_DEFAULT_PATH "cachectl"
#endif

#define MIB (1024.0 * 1024.0)
#define MAX_SIZES 16
#define RSS_TARGET_MIB 64.0
#define DIGEST_BUF 72 /* "sha256:" + 64 hex + NUL */
#define CREATED_AT "2025-01-02T03:04:05Z"
#define MT_GZIP_LAYER "application/vnd.oci.image.layer.v1.tar+gzip"

/* Set by SIGINT and SIGTERM (on_signal), which also stop `running`, the
 * process group of the command being measured. */
extern volatile sig_atomic_t interrupted;
extern volatile pid_t running;
void on_signal(int sig);

/* The scratch folder, removed by die() too. */
extern char *scratch_root;
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void remove_tree(const char *path);
void *xcalloc(size_t n, size_t size);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Monotonic seconds. */
double now(void);

EVP_MD_CTX *sha_new(void);
void sha_update(EVP_MD_CTX *c, const void *p, size_t n);
/* "sha256:<hex>" into out; frees c. */
void sha_final(EVP_MD_CTX *c, char out[DIGEST_BUF]);
void sha_of(char out[DIGEST_BUF], const void *p, size_t n);

void write_file(const char *path, const void *data, size_t len, mode_t mode);
void mkdir_or_die(const char *path);
/* nftw callback: drops a file's pages from the page cache (for --cold). */
int drop_one(const char *path, const struct stat *st, int flag, struct FTW *ftw);
/* Bytes of the regular files under dir. */
int64_t tree_bytes(const char *dir);

struct measure {
	bool ok;
	double wall, cpu;
	double rss_mib;
	int64_t out_bytes;
	char error[200];
};

/* Runs argv with stdout and stderr into `log`; fills wall time, CPU time
 * and peak RSS of the child (and of any children it waited for: for a
 * shell pipeline that is the largest single process, not the sum). */
void run(struct measure *m, char *const argv[], const char *log);

#endif
