/* bench_export's plumbing: dying with a message, allocation, SHA-256 by
 * libcrypto (the bench does not use cachectl's code), files and folders,
 * and running a command while measuring its wall time, CPU time and peak
 * RSS. */
#include "bench_util.h"

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


volatile sig_atomic_t interrupted;
volatile pid_t running;

void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
	if (running > 0)
		kill(-running, SIGTERM);
}

char *scratch_root;

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

void remove_tree(const char *path)
{
	nftw(path, remove_one, 32, FTW_DEPTH | FTW_PHYS);
}

void die(const char *fmt, ...)
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

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		die("out of memory");
	return p;
}

char *xasprintf(const char *fmt, ...)
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

double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- SHA-256 (libcrypto; the bench does not use cachectl's code) --------- */

EVP_MD_CTX *sha_new(void)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1)
		die("cannot initialise SHA-256");
	return c;
}

void sha_update(EVP_MD_CTX *c, const void *p, size_t n)
{
	if (n && EVP_DigestUpdate(c, p, n) != 1)
		die("SHA-256 failed");
}

void sha_final(EVP_MD_CTX *c, char out[DIGEST_BUF])
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

void sha_of(char out[DIGEST_BUF], const void *p, size_t n)
{
	EVP_MD_CTX *c = sha_new();
	sha_update(c, p, n);
	sha_final(c, out);
}

/* ---- files and folders --------------------------------------------------- */

void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len || fchmod(fd, mode) != 0 || close(fd) != 0)
		die("write %s: %s", path, strerror(errno));
}

void mkdir_or_die(const char *path)
{
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		die("mkdir %s: %s", path, strerror(errno));
}

/* ---- running a command and measuring it -------------------------------- */


/* Drops a file's pages from the page cache (for --cold). */
int drop_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
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

int64_t tree_bytes(const char *dir)
{
	tree_bytes_total = 0;
	nftw(dir, add_size, 32, FTW_PHYS);
	return tree_bytes_total;
}

/* Runs argv with stdout and stderr into `log`; fills wall time, CPU time
 * and peak RSS of the child (and of any children it waited for: for a
 * shell pipeline that is the largest single process, not the sum). */
void run(struct measure *m, char *const argv[], const char *log)
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
