/* zstd through libzstd.  Encoding always uses libzstd's worker threads (at
 * least one): its output then does not depend on how many there are, so the
 * same layer gives the same digest on every machine.  How many there are is
 * therefore free to choose: as many as fit in a memory budget. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_getCParams, ZSTD_estimateCCtxSize_usingCParams */
#include <zstd.h>

#include "core/codec/codec.h"
#include "core/util/error.h"

struct zstd_source {
	struct byte_source base;
	struct byte_source *inner;
	ZSTD_DStream *d;
	ZSTD_inBuffer in;
	void *in_buf;
	size_t in_size;
	size_t last;      /* last return of ZSTD_decompressStream: 0 at a frame end */
	bool eof, started;
	char *what;
};

static ssize_t zstd_read(struct byte_source *s, void *buf, size_t len)
{
	struct zstd_source *z = (struct zstd_source *)s;
	ZSTD_outBuffer out = {buf, len, 0};
	while (out.pos == 0) {
		if (z->in.pos == z->in.size && !z->eof) {
			ssize_t n = source_read(z->inner, z->in_buf, z->in_size);
			if (n < 0)
				return n;
			if (n == 0)
				z->eof = true;
			z->in.src = z->in_buf;
			z->in.size = (size_t)n;
			z->in.pos = 0;
		}
		if (z->in.pos == z->in.size && z->eof) {
			/* At the end of input the decoder may still hold output. */
			size_t before = out.pos;
			if (z->started && z->last != 0) {
				z->last = ZSTD_decompressStream(z->d, &out, &z->in);
				if (ZSTD_isError(z->last))
					return error_set(ERR_CORRUPT, "%s: corrupt zstd stream (%s)", z->what,
							 ZSTD_getErrorName(z->last));
			}
			if (out.pos > before)
				break;
			if (!z->started || z->last != 0)
				return error_set(ERR_CORRUPT, "%s: truncated zstd stream", z->what);
			return 0;
		}
		z->started = true;
		z->last = ZSTD_decompressStream(z->d, &out, &z->in);
		if (ZSTD_isError(z->last))
			return error_set(ERR_CORRUPT, "%s: corrupt zstd stream (%s)", z->what,
					 ZSTD_getErrorName(z->last));
	}
	return (ssize_t)out.pos;
}

static void zstd_source_close(struct byte_source *s)
{
	struct zstd_source *z = (struct zstd_source *)s;
	ZSTD_freeDStream(z->d);
	source_close(z->inner);
	free(z->in_buf);
	free(z->what);
	free(z);
}

int zstd_source_new(struct byte_source **out, struct byte_source *inner, const char *what)
{
	struct zstd_source *z = calloc(1, sizeof(*z));
	if (z) {
		z->in_size = ZSTD_DStreamInSize();
		z->in_buf = malloc(z->in_size);
		z->what = strdup(what);
		z->d = ZSTD_createDStream();
	}
	if (!z || !z->in_buf || !z->what || !z->d) {
		if (z) {
			ZSTD_freeDStream(z->d);
			free(z->in_buf);
			free(z->what);
		}
		free(z);
		source_close(inner);
		return error_set(ERR_FAILURE, "cannot start a zstd decoder");
	}
	z->base.read = zstd_read;
	z->base.close = zstd_source_close;
	z->inner = inner;
	*out = &z->base;
	return 0;
}

struct zstd_sink {
	struct byte_sink base;
	struct byte_sink *next;
	size_t budget_taken; /* of the encoders' shared budget, given back at close */
	ZSTD_CCtx *c;
	void *out_buf;
	size_t out_size;
};

static int zstd_pump(struct zstd_sink *z, ZSTD_inBuffer *in, ZSTD_EndDirective mode)
{
	for (;;) {
		ZSTD_outBuffer out = {z->out_buf, z->out_size, 0};
		size_t left = ZSTD_compressStream2(z->c, &out, in, mode);
		if (ZSTD_isError(left))
			return error_set(ERR_FAILURE, "zstd compression failed: %s", ZSTD_getErrorName(left));
		if (out.pos) {
			int rc = sink_write(z->next, z->out_buf, out.pos);
			if (rc)
				return rc;
		}
		if (mode == ZSTD_e_end ? left == 0 : in->pos == in->size)
			return 0;
	}
}

/* Input goes in by pieces of libzstd's recommended size, each call also
 * draining up to one output buffer: taking a large piece at once would let
 * finished jobs wait unflushed, each holding a job-sized buffer (88 MiB
 * instead of 65 MiB at level 3 with two workers).  The pieces do not change
 * the bytes: jobs are cut by size, not by calls. */
static int zstd_write(struct byte_sink *s, const void *buf, size_t len)
{
	const size_t piece = ZSTD_CStreamInSize();
	const char *p = buf;
	while (len) {
		ZSTD_inBuffer in = {p, len < piece ? len : piece, 0};
		int rc = zstd_pump((struct zstd_sink *)s, &in, ZSTD_e_continue);
		if (rc)
			return rc;
		p += in.size;
		len -= in.size;
	}
	return 0;
}

static int zstd_finish(struct byte_sink *s)
{
	struct zstd_sink *z = (struct zstd_sink *)s;
	ZSTD_inBuffer in = {NULL, 0, 0};
	int rc = zstd_pump(z, &in, ZSTD_e_end);
	return rc ? rc : sink_finish(z->next);
}

/* ---- encoders running at once share a memory budget ---------------------- */

/* An encoder's memory is estimated (encoder_memory below) and taken from
 * one budget before it starts; an encoder that does not fit waits for
 * others to finish, and one runs whatever its size when no other does (a
 * level-19 encoder needs ~235 MiB: it runs alone instead of once per job).
 * Default: the same 52 MiB that sizes the default level's workers, so the
 * default level runs one encoder at a time and a process stays within
 * 64 MiB; CACHECTL_ZSTD_MEMORY=MiB raises it to run several at once. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t freed;
	size_t budget, in_use;
	unsigned running;
} encoders = {.lock = PTHREAD_MUTEX_INITIALIZER, .freed = PTHREAD_COND_INITIALIZER};

/* `count` encoders wanting `want` bytes in all start together: taken at
 * once, as holding some while waiting for the others could wait forever. */
static void budget_take(size_t budget, size_t want, unsigned count)
{
	pthread_mutex_lock(&encoders.lock);
	encoders.budget = budget;
	while (encoders.running > 0 && encoders.in_use + want > encoders.budget)
		pthread_cond_wait(&encoders.freed, &encoders.lock);
	encoders.in_use += want;
	encoders.running += count;
	pthread_mutex_unlock(&encoders.lock);
}

static void budget_give_back(size_t taken)
{
	pthread_mutex_lock(&encoders.lock);
	encoders.in_use -= taken;
	encoders.running--;
	pthread_cond_broadcast(&encoders.freed);
	pthread_mutex_unlock(&encoders.lock);
}

static void zstd_sink_close(struct byte_sink *s)
{
	struct zstd_sink *z = (struct zstd_sink *)s;
	if (z->budget_taken)
		budget_give_back(z->budget_taken);
	ZSTD_freeCCtx(z->c);
	free(z->out_buf);
	free(z);
}

/* What the multi-threaded encoder may hold with `workers` threads: its
 * round buffer of (workers + 3) jobs of input, a compressed buffer for each
 * running job and the one being flushed, and a context per worker.  A job is
 * 4 windows, at least 1 MiB (libzstd's ZSTDMT_computeTargetJobLog).  An
 * estimate: if libzstd changes, only the worker count moves, not the bytes. */
static size_t encoder_memory(const ZSTD_compressionParameters *cp, int workers)
{
	unsigned job_log = cp->windowLog + 2 > 20 ? cp->windowLog + 2 : 20;
	size_t job = (size_t)1 << job_log;
	return (size_t)(workers + 3) * job + (size_t)(workers + 1) * ZSTD_compressBound(job) +
	       (size_t)workers * ZSTD_estimateCCtxSize_usingCParams(*cp);
}

/* The most workers (up to the processors, at most 8) whose memory stays in
 * ZSTD_MEMORY_BUDGET, so that a layer at the default level costs the same
 * bounded memory on any machine (one worker at levels 3 to 8, about 50 MiB;
 * four at level 2; eight at level 1 and the fast levels).  From level 9 on a
 * single worker needs more than twice the budget (110 MiB to 3.7 GiB): that
 * is the price of the level, and taking workers away would only make it slow
 * as well, so those levels get the processors. */
#define ZSTD_MEMORY_BUDGET ((size_t)52 << 20)

/* CACHECTL_ZSTD_MEMORY in MiB, else ZSTD_MEMORY_BUDGET; ERR_USAGE naming
 * the variable when it is not a number of MiB from 1 on. */
static int budget_from_environment(size_t *out)
{
	const char *v = getenv("CACHECTL_ZSTD_MEMORY");
	char *end;
	*out = ZSTD_MEMORY_BUDGET;
	if (!v || !*v)
		return 0;
	errno = 0;
	unsigned long long mib = strtoull(v, &end, 10);
	if (errno || *end || v[0] == '-' || mib < 1 || mib > ((size_t)-1 >> 21))
		return error_set(ERR_USAGE, "CACHECTL_ZSTD_MEMORY=%.40s is not a memory budget (want a number of MiB, "
				 "1 or more)", v);
	*out = (size_t)mib << 20;
	return 0;
}

static int worker_count(int level)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int max = cpus < 1 ? 1 : cpus > 8 ? 8 : (int)cpus;
	ZSTD_compressionParameters cp = ZSTD_getCParams(level, ZSTD_CONTENTSIZE_UNKNOWN, 0);
	if (encoder_memory(&cp, 1) > 2 * ZSTD_MEMORY_BUDGET)
		return max; /* nowhere near the budget: see above */
	int n = 1;
	while (n < max && encoder_memory(&cp, n + 1) <= ZSTD_MEMORY_BUDGET)
		n++;
	return n;
}

/* An encoder not counted in the budget yet; *want: the memory it will take. */
static int zstd_sink_create(struct zstd_sink **out, size_t *want, struct byte_sink *next, bool level_set, int level)
{
	if (level_set && codec_check_level(COMPRESSION_ZSTD, level))
		return ERR_USAGE;
	struct zstd_sink *z = calloc(1, sizeof(*z));
	if (z) {
		z->out_size = ZSTD_CStreamOutSize();
		z->out_buf = malloc(z->out_size);
		z->c = ZSTD_createCCtx();
	}
	if (!z || !z->out_buf || !z->c) {
		if (z) {
			ZSTD_freeCCtx(z->c);
			free(z->out_buf);
		}
		free(z);
		return error_set(ERR_FAILURE, "cannot start a zstd encoder");
	}
	if (!level_set)
		level = 3;
	size_t rc = ZSTD_CCtx_setParameter(z->c, ZSTD_c_compressionLevel, level);
	if (!ZSTD_isError(rc))
		rc = ZSTD_CCtx_setParameter(z->c, ZSTD_c_checksumFlag, 1);
	int workers = worker_count(level);
	if (!ZSTD_isError(rc))
		rc = ZSTD_CCtx_setParameter(z->c, ZSTD_c_nbWorkers, workers);
	if (ZSTD_isError(rc)) {
		zstd_sink_close(&z->base);
		return error_set(ERR_FAILURE, "cannot configure the zstd encoder: %s", ZSTD_getErrorName(rc));
	}
	ZSTD_compressionParameters cp = ZSTD_getCParams(level, ZSTD_CONTENTSIZE_UNKNOWN, 0);
	*want = encoder_memory(&cp, workers);
	z->base.write = zstd_write;
	z->base.finish = zstd_finish;
	z->base.close = zstd_sink_close;
	z->next = next;
	*out = z;
	return 0;
}

int zstd_sink_new(struct byte_sink **out, struct byte_sink *next, bool level_set, int level)
{
	struct zstd_sink *z;
	size_t budget, want;
	int rc = budget_from_environment(&budget);
	if (!rc)
		rc = zstd_sink_create(&z, &want, next, level_set, level);
	if (rc)
		return rc;
	budget_take(budget, want, 1);
	z->budget_taken = want;
	*out = &z->base;
	return 0;
}

int zstd_sinks_new(struct byte_sink **out, struct byte_sink **next, const struct codec_options **o, size_t n)
{
	struct zstd_sink **z = calloc(n ? n : 1, sizeof(*z));
	size_t budget, *want = calloc(n ? n : 1, sizeof(*want)), total = 0, made = 0;
	int rc = z && want ? budget_from_environment(&budget) : error_oom();
	while (!rc && made < n) {
		rc = zstd_sink_create(&z[made], &want[made], next[made], o[made]->level_set, o[made]->level);
		if (!rc)
			total += want[made++];
	}
	if (!rc) {
		budget_take(budget, total, (unsigned)n);
		for (size_t i = 0; i < n; i++) {
			z[i]->budget_taken = want[i];
			out[i] = &z[i]->base;
		}
	}
	/* On failure none is counted yet: each closes giving nothing back. */
	for (size_t i = 0; rc && i < made; i++)
		zstd_sink_close(&z[i]->base);
	free(z);
	free(want);
	return rc;
}
