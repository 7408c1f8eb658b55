#include "core/codec/gzip_parallel.h"

#include <libdeflate.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/util/error.h"

#define MEMBER_OVERHEAD 18 /* header 10, trailer 8 */
/* Room for any deflate output of one piece: stored blocks cost 5 bytes per
 * 64 KiB, zlib's Huffman-only bound is smaller than this too. */
#define PIECE_OUT (GZIP_CHUNK + GZIP_CHUNK / 16 + 4096)
#define PIECE_BYTES ((size_t)GZIP_CHUNK + PIECE_OUT)
#define MAX_THREADS 16
#define LEVELS 10 /* libdeflate compressors kept per thread: levels 0..9 */

enum piece_state { PIECE_FILLING, PIECE_QUEUED, PIECE_WORKING, PIECE_DONE };

struct piece {
	unsigned char *in, *out;
	size_t in_len, out_len;
	int level;            /* 0..9, or -2 for Huffman only */
	unsigned char xfl;
	enum piece_state state;
	int error;
	char message[160];
	const void *owner; /* the stream */
	struct piece *queued_next;
};

/* ---- the pool: threads shared by every stream, started while any is open -- */

static struct {
	pthread_mutex_t life; /* held while starting or stopping the threads */
	pthread_mutex_t lock;
	pthread_cond_t work, done;
	unsigned users, n_threads;
	pthread_t threads[MAX_THREADS];
	struct piece *head, *tail;
	bool stopping;
	size_t budget_left; /* pieces that may still be allocated beyond each stream's first */
} pool = {.life = PTHREAD_MUTEX_INITIALIZER,
	  .lock = PTHREAD_MUTEX_INITIALIZER,
	  .work = PTHREAD_COND_INITIALIZER,
	  .done = PTHREAD_COND_INITIALIZER};

struct worker {
	struct libdeflate_compressor *by_level[LEVELS];
	z_stream huffman;
	bool huffman_ready;
};

static size_t deflate_huffman(struct worker *w, struct piece *p, unsigned char *out, size_t room)
{
	if (!w->huffman_ready) {
		if (deflateInit2(&w->huffman, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_HUFFMAN_ONLY) != Z_OK)
			return 0;
		w->huffman_ready = true;
	} else if (deflateReset(&w->huffman) != Z_OK) {
		return 0;
	}
	w->huffman.next_in = p->in;
	w->huffman.avail_in = (uInt)p->in_len;
	w->huffman.next_out = out;
	w->huffman.avail_out = (uInt)room;
	return deflate(&w->huffman, Z_FINISH) == Z_STREAM_END ? room - w->huffman.avail_out : 0;
}

/* One member: Go's header, the deflate stream, CRC-32 and size. */
static void compress_piece(struct worker *w, struct piece *p)
{
	unsigned char *out = p->out;
	const unsigned char header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, p->xfl, 0xff};
	memcpy(out, header, sizeof(header));
	size_t room = PIECE_OUT - MEMBER_OVERHEAD, made;
	if (p->level == -2) {
		made = deflate_huffman(w, p, out + 10, room);
	} else {
		if (!w->by_level[p->level] && !(w->by_level[p->level] = libdeflate_alloc_compressor(p->level))) {
			p->error = ERR_FAILURE;
			snprintf(p->message, sizeof(p->message), "out of memory");
			return;
		}
		made = libdeflate_deflate_compress(w->by_level[p->level], p->in, p->in_len, out + 10, room);
	}
	if (!made) {
		p->error = ERR_FAILURE;
		snprintf(p->message, sizeof(p->message), "gzip compression failed");
		return;
	}
	uint32_t crc = libdeflate_crc32(0, p->in, p->in_len), size = (uint32_t)p->in_len;
	unsigned char *trailer = out + 10 + made;
	for (int i = 0; i < 4; i++) {
		trailer[i] = (unsigned char)(crc >> (8 * i));
		trailer[4 + i] = (unsigned char)(size >> (8 * i));
	}
	p->out_len = made + MEMBER_OVERHEAD;
}

static void *worker_main(void *arg)
{
	struct worker w = {0};
	(void)arg;
	pthread_mutex_lock(&pool.lock);
	for (;;) {
		while (!pool.head && !pool.stopping)
			pthread_cond_wait(&pool.work, &pool.lock);
		if (!pool.head)
			break; /* stopping, and nothing left */
		struct piece *p = pool.head;
		if (!(pool.head = p->queued_next))
			pool.tail = NULL;
		p->state = PIECE_WORKING;
		pthread_mutex_unlock(&pool.lock);
		compress_piece(&w, p);
		pthread_mutex_lock(&pool.lock);
		p->state = PIECE_DONE;
		pthread_cond_broadcast(&pool.done);
	}
	pthread_mutex_unlock(&pool.lock);
	for (int i = 0; i < LEVELS; i++)
		libdeflate_free_compressor(w.by_level[i]);
	if (w.huffman_ready)
		deflateEnd(&w.huffman);
	return NULL;
}

static void pool_stop_locked(void)
{
	pthread_mutex_lock(&pool.lock);
	pool.stopping = true;
	pthread_cond_broadcast(&pool.work);
	pthread_mutex_unlock(&pool.lock);
	for (unsigned i = 0; i < pool.n_threads; i++)
		pthread_join(pool.threads[i], NULL);
	pool.n_threads = 0;
	pool.stopping = false;
}

/* One thread per processor this process may run on (a container's CPU set,
 * `taskset`), at most MAX_THREADS. */
static unsigned processors(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return 1;
	int n = CPU_COUNT(&set);
	return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (unsigned)n;
}

/* The first user starts the threads; returns how many run. */
static int pool_join(unsigned *threads)
{
	int rc = 0;
	pthread_mutex_lock(&pool.life);
	if (pool.users == 0) {
		unsigned want = processors();
		pool.budget_left = GZIP_MEMORY_BUDGET / PIECE_BYTES;
		while (pool.n_threads < want &&
		       pthread_create(&pool.threads[pool.n_threads], NULL, worker_main, NULL) == 0)
			pool.n_threads++;
		if (pool.n_threads == 0)
			rc = error_set(ERR_FAILURE, "cannot start a gzip compression thread");
	}
	if (!rc)
		pool.users++;
	*threads = pool.n_threads;
	pthread_mutex_unlock(&pool.life);
	return rc;
}

/* The last user stops them. */
static void pool_leave(void)
{
	pthread_mutex_lock(&pool.life);
	if (--pool.users == 0)
		pool_stop_locked();
	pthread_mutex_unlock(&pool.life);
}

/* ---- one stream ---------------------------------------------------------- */

struct gzip_parallel {
	struct byte_sink base;
	struct byte_sink *next;
	int level;
	unsigned char xfl;
	/* Pieces in stream order from `oldest`, `count` of them in use; the
	 * last in use is the one filling, when `filling`. */
	struct piece *pieces;
	unsigned max_pieces, allocated, oldest, count;
	bool filling, wrote_any;
};

static struct piece *piece_at(struct gzip_parallel *g, unsigned k)
{
	return &g->pieces[(g->oldest + k) % g->max_pieces];
}

static void enqueue(struct piece *p)
{
	pthread_mutex_lock(&pool.lock);
	p->state = PIECE_QUEUED;
	p->queued_next = NULL;
	if (pool.tail)
		pool.tail->queued_next = p;
	else
		pool.head = p;
	pool.tail = p;
	pthread_cond_signal(&pool.work);
	pthread_mutex_unlock(&pool.lock);
}

/* Writes the oldest piece out once compressed (waiting for it when `wait`);
 * *emitted tells whether it did. */
static int emit_oldest(struct gzip_parallel *g, bool wait, bool *emitted)
{
	struct piece *p = piece_at(g, 0);
	*emitted = false;
	pthread_mutex_lock(&pool.lock);
	while (wait && p->state != PIECE_DONE)
		pthread_cond_wait(&pool.done, &pool.lock);
	bool done = p->state == PIECE_DONE;
	pthread_mutex_unlock(&pool.lock);
	if (!done)
		return 0;
	if (p->error)
		return error_set(p->error, "%s", p->message);
	int rc = sink_write(g->next, p->out, p->out_len);
	if (rc)
		return rc;
	p->state = PIECE_FILLING;
	g->oldest = (g->oldest + 1) % g->max_pieces;
	g->count--;
	*emitted = true;
	return 0;
}

/* Gives p the buffers of a piece not in use, if one has them. */
static void take_idle_buffers(struct gzip_parallel *g, struct piece *p)
{
	for (unsigned k = g->count + 1; k < g->max_pieces && !p->in; k++) {
		struct piece *idle = piece_at(g, k);
		if (idle->in) {
			p->in = idle->in;
			p->out = idle->out;
			idle->in = idle->out = NULL;
		}
	}
}

/* Buffers for p (not yet in use): an idle piece's, new ones while the
 * shared budget allows, else the oldest piece's once written out. */
static int piece_buffers(struct gzip_parallel *g, struct piece *p)
{
	bool emitted, granted = g->allocated == 0;
	take_idle_buffers(g, p);
	if (p->in)
		return 0;
	pthread_mutex_lock(&pool.lock);
	if (!granted && pool.budget_left > 0) {
		pool.budget_left--;
		granted = true;
	}
	pthread_mutex_unlock(&pool.lock);
	if (granted) {
		g->allocated++; /* counted now: closing gives it back even if malloc fails */
		if (!(p->in = malloc(GZIP_CHUNK)) || !(p->out = malloc(PIECE_OUT)))
			return error_oom();
		return 0;
	}
	/* Every allocated piece is in use, so there is an oldest. */
	int rc = emit_oldest(g, true, &emitted);
	if (!rc)
		take_idle_buffers(g, p);
	return rc;
}

/* Starts the next piece, writing out the compressed ones before it. */
static int start_piece(struct gzip_parallel *g)
{
	bool emitted = true;
	int rc;
	while (g->count && emitted)
		if ((rc = emit_oldest(g, false, &emitted)))
			return rc;
	if (g->count == g->max_pieces && (rc = emit_oldest(g, true, &emitted)))
		return rc;
	struct piece *p = piece_at(g, g->count);
	if (!p->in && (rc = piece_buffers(g, p)))
		return rc;
	p->in_len = 0;
	p->out_len = 0;
	p->error = 0;
	p->level = g->level;
	p->xfl = g->xfl;
	p->state = PIECE_FILLING;
	g->count++;
	g->filling = true;
	return 0;
}

static int gzip_parallel_write(struct byte_sink *s, const void *buf, size_t len)
{
	struct gzip_parallel *g = (struct gzip_parallel *)s;
	const unsigned char *p = buf;
	int rc;
	while (len) {
		if (!g->filling && (rc = start_piece(g)))
			return rc;
		struct piece *cur = piece_at(g, g->count - 1);
		size_t n = GZIP_CHUNK - cur->in_len < len ? GZIP_CHUNK - cur->in_len : len;
		memcpy(cur->in + cur->in_len, p, n);
		cur->in_len += n;
		p += n;
		len -= n;
		g->wrote_any = true;
		if (cur->in_len == GZIP_CHUNK) {
			g->filling = false;
			enqueue(cur);
		}
	}
	return 0;
}

static int gzip_parallel_finish(struct byte_sink *s)
{
	struct gzip_parallel *g = (struct gzip_parallel *)s;
	int rc;
	bool emitted;
	if (!g->wrote_any && !g->filling && (rc = start_piece(g)))
		return rc; /* no input: one empty member */
	if (g->filling) {
		g->filling = false;
		enqueue(piece_at(g, g->count - 1));
	}
	while (g->count)
		if ((rc = emit_oldest(g, true, &emitted)))
			return rc;
	return sink_finish(g->next);
}

static void gzip_parallel_close(struct byte_sink *s)
{
	struct gzip_parallel *g = (struct gzip_parallel *)s;
	/* Pieces still queued leave the queue; those being compressed are
	 * waited for: their buffers are the pool's until then. */
	pthread_mutex_lock(&pool.lock);
	struct piece **link = &pool.head;
	pool.tail = NULL;
	while (*link) {
		struct piece *p = *link;
		if (p->owner == g) {
			*link = p->queued_next;
			p->state = PIECE_DONE;
		} else {
			pool.tail = p;
			link = &p->queued_next;
		}
	}
	for (unsigned i = 0; i < g->max_pieces; i++)
		while (g->pieces[i].state == PIECE_WORKING)
			pthread_cond_wait(&pool.done, &pool.lock);
	if (g->allocated > 1)
		pool.budget_left += g->allocated - 1;
	pthread_mutex_unlock(&pool.lock);
	for (unsigned i = 0; i < g->max_pieces; i++) {
		free(g->pieces[i].in);
		free(g->pieces[i].out);
	}
	free(g->pieces);
	free(g);
	pool_leave();
}

int gzip_parallel_sink_new(struct byte_sink **out, struct byte_sink *next, bool level_set, int level)
{
	if (level_set && (level < -2 || level > 9))
		return error_set(ERR_USAGE, "compression-level %d is not a gzip level (want -2..9)", level);
	unsigned threads;
	int rc = pool_join(&threads);
	if (rc)
		return rc;
	struct gzip_parallel *g = calloc(1, sizeof(*g));
	if (g)
		g->pieces = calloc(threads + 1, sizeof(*g->pieces));
	if (!g || !g->pieces) {
		free(g);
		pool_leave();
		return error_oom();
	}
	g->max_pieces = threads + 1;
	for (unsigned i = 0; i < g->max_pieces; i++)
		g->pieces[i].owner = g;
	g->level = !level_set || level == -1 ? 6 : level;
	g->xfl = level_set && level == 9 ? 2 : level_set && level == 1 ? 4 : 0;
	g->base.write = gzip_parallel_write;
	g->base.finish = gzip_parallel_finish;
	g->base.close = gzip_parallel_close;
	g->next = next;
	*out = &g->base;
	return 0;
}
