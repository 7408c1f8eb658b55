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
/* A piece holds at most this many members, and its output room is enough
 * for any deflate output of its input: libdeflate's bound is the input plus
 * 5 bytes per 5000 (0.1%) and a few, zlib's (Huffman only) smaller. */
#define MAX_MEMBERS 4096
#define MEMBER_SLACK 64
#define OUT_ROOM(in_cap) ((in_cap) + (in_cap) / 128 + (size_t)MAX_MEMBERS * (MEMBER_SLACK + MEMBER_OVERHEAD))
#define MAX_THREADS 16
#define LEVELS 10 /* libdeflate compressors kept per thread: levels 0..9 */
/* A piece's members are compressed in batches of consecutive members, each
 * batch by one thread, so that the members of one piece (an eStargz piece
 * holds a 4 MiB chunk or thousands of small files) keep every thread busy.
 * A batch closes once it holds BATCH_INPUT bytes; the last one takes what
 * remains when a piece would need more than MAX_BATCHES. */
#define BATCH_INPUT ((size_t)256 << 10)
#define MAX_BATCHES 64

enum piece_state { PIECE_FILLING, PIECE_QUEUED, PIECE_WORKING, PIECE_DONE };

/* Members [first, end) of a piece, whose output goes to out + out_start:
 * the room for any deflate output of the input before it, so batches
 * written at the same time never overlap. */
struct batch {
	unsigned first, end;
	size_t out_start, out_len;
	int error;
	char message[160];
};

/* A member's input starts at `start` in its piece and ends where the next
 * one starts (the last: at in_len). */
struct span {
	size_t start;
	size_t out_len; /* set by the worker */
	bool raw;       /* written as it is, not compressed */
};

struct piece {
	unsigned char *in, *out;
	size_t in_len;
	struct span *spans;
	unsigned n_spans;
	int level;            /* 0..9, or -2 for Huffman only */
	unsigned char xfl;
	enum piece_state state;
	struct batch batches[MAX_BATCHES];
	/* under pool.lock: batches handed to threads, and finished */
	unsigned n_batches, claimed, finished;
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
	size_t budget_left; /* bytes of pieces that may still be allocated */
} pool = {.life = PTHREAD_MUTEX_INITIALIZER,
	  .lock = PTHREAD_MUTEX_INITIALIZER,
	  .work = PTHREAD_COND_INITIALIZER,
	  .done = PTHREAD_COND_INITIALIZER};

struct worker {
	struct libdeflate_compressor *by_level[LEVELS];
	z_stream huffman;
	bool huffman_ready;
};

static size_t deflate_huffman(struct worker *w, const unsigned char *in, size_t len, unsigned char *out,
			      size_t room)
{
	if (!w->huffman_ready) {
		if (deflateInit2(&w->huffman, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_HUFFMAN_ONLY) != Z_OK)
			return 0;
		w->huffman_ready = true;
	} else if (deflateReset(&w->huffman) != Z_OK) {
		return 0;
	}
	w->huffman.next_in = (unsigned char *)in;
	w->huffman.avail_in = (uInt)len;
	w->huffman.next_out = out;
	w->huffman.avail_out = (uInt)room;
	return deflate(&w->huffman, Z_FINISH) == Z_STREAM_END ? room - w->huffman.avail_out : 0;
}

/* One member at out: Go's header, the deflate stream, CRC-32 and size.
 * Returns its length, 0 when it failed (message in p). */
static size_t compress_member(struct worker *w, const struct piece *p, struct batch *b, const unsigned char *in,
			      size_t len, unsigned char *out, size_t room)
{
	const unsigned char header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, p->xfl, 0xff};
	size_t made = 0;
	if (room < MEMBER_OVERHEAD)
		goto failed;
	memcpy(out, header, sizeof(header));
	room -= MEMBER_OVERHEAD;
	if (p->level == -2) {
		made = deflate_huffman(w, in, len, out + 10, room);
	} else {
		if (!w->by_level[p->level] && !(w->by_level[p->level] = libdeflate_alloc_compressor(p->level))) {
			b->error = ERR_FAILURE;
			snprintf(b->message, sizeof(b->message), "out of memory");
			return 0;
		}
		made = libdeflate_deflate_compress(w->by_level[p->level], in, len, out + 10, room);
	}
	if (!made)
		goto failed;
	uint32_t crc = libdeflate_crc32(0, in, len), size = (uint32_t)len;
	unsigned char *trailer = out + 10 + made;
	for (int i = 0; i < 4; i++) {
		trailer[i] = (unsigned char)(crc >> (8 * i));
		trailer[4 + i] = (unsigned char)(size >> (8 * i));
	}
	return made + MEMBER_OVERHEAD;
failed:
	b->error = ERR_FAILURE;
	snprintf(b->message, sizeof(b->message), "gzip compression failed");
	return 0;
}

/* Where batch output may start: after the room of every member before it
 * (OUT_ROOM counted member by member). */
static size_t out_room_before(size_t in_pos, unsigned members)
{
	return in_pos + in_pos / 128 + (size_t)members * (MEMBER_SLACK + MEMBER_OVERHEAD);
}

static size_t span_end(const struct piece *p, unsigned i)
{
	return i + 1 < p->n_spans ? p->spans[i + 1].start : p->in_len;
}

/* Cuts the piece's members into batches (before it is queued). */
static void plan_batches(struct piece *p)
{
	unsigned first = 0;
	p->n_batches = 0;
	p->claimed = p->finished = 0;
	if (!p->n_spans) {
		p->batches[p->n_batches++] = (struct batch){0};
		return;
	}
	for (unsigned i = 0; i < p->n_spans; i++) {
		bool last_room = p->n_batches == MAX_BATCHES - 1;
		if (i + 1 < p->n_spans && (last_room || span_end(p, i) - p->spans[first].start < BATCH_INPUT))
			continue;
		struct batch *b = &p->batches[p->n_batches++];
		*b = (struct batch){.first = first, .end = i + 1, .out_start = out_room_before(p->spans[first].start, first)};
		first = i + 1;
	}
}

static void compress_batch(struct worker *w, struct piece *p, struct batch *b)
{
	size_t room_end = b + 1 < p->batches + p->n_batches ? (b + 1)->out_start : OUT_ROOM(p->in_len);
	size_t pos = b->out_start;
	for (unsigned i = b->first; i < b->end && !b->error; i++) {
		struct span *s = &p->spans[i];
		size_t len = span_end(p, i) - s->start;
		if (s->raw) {
			memcpy(p->out + pos, p->in + s->start, len);
			s->out_len = len;
		} else {
			s->out_len = compress_member(w, p, b, p->in + s->start, len, p->out + pos, room_end - pos);
		}
		pos += s->out_len;
	}
	b->out_len = pos - b->out_start;
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
		/* The oldest piece's next batch; the piece leaves the queue
		 * with its last batch. */
		struct piece *p = pool.head;
		struct batch *b = &p->batches[p->claimed++];
		p->state = PIECE_WORKING;
		if (p->claimed == p->n_batches && !(pool.head = p->queued_next))
			pool.tail = NULL;
		pthread_mutex_unlock(&pool.lock);
		compress_batch(&w, p, b);
		pthread_mutex_lock(&pool.lock);
		if (++p->finished == p->n_batches) {
			p->state = PIECE_DONE;
			pthread_cond_broadcast(&pool.done);
		}
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
		pool.budget_left = GZIP_MEMORY_BUDGET;
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

struct gzip_members {
	struct byte_sink *next;
	int level;
	unsigned char xfl;
	size_t in_cap, piece_bytes;
	/* Pieces in stream order from `oldest`, `count` of them in use; the
	 * last in use is the one filling, when `filling`. */
	struct piece *pieces;
	unsigned max_pieces, allocated, oldest, count;
	bool filling;
	bool member_open;  /* the filling piece's last span takes more bytes */
	size_t reserve_end; /* up to there, the open member may not be cut */
	int64_t next_seq;  /* members begun */
	int64_t emitted;   /* members written out; offsets[0..emitted) known */
	int64_t *offsets;
	size_t cap_offsets;
	int64_t written;   /* compressed bytes written out */
};

static struct piece *piece_at(struct gzip_members *g, unsigned k)
{
	return &g->pieces[(g->oldest + k) % g->max_pieces];
}

static struct piece *filling_piece(struct gzip_members *g)
{
	return piece_at(g, g->count - 1);
}

static void enqueue(struct piece *p)
{
	plan_batches(p);
	pthread_mutex_lock(&pool.lock);
	p->state = PIECE_QUEUED;
	p->queued_next = NULL;
	if (pool.tail)
		pool.tail->queued_next = p;
	else
		pool.head = p;
	pool.tail = p;
	if (p->n_batches > 1)
		pthread_cond_broadcast(&pool.work);
	else
		pthread_cond_signal(&pool.work);
	pthread_mutex_unlock(&pool.lock);
}

/* Writes the oldest piece out once compressed (waiting for it when `wait`);
 * *emitted tells whether it did. */
static int emit_oldest(struct gzip_members *g, bool wait, bool *emitted)
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
	for (unsigned b = 0; b < p->n_batches; b++)
		if (p->batches[b].error)
			return error_set(p->batches[b].error, "%s", p->batches[b].message);
	for (unsigned b = 0; b < p->n_batches; b++) {
		int rc = sink_write(g->next, p->out + p->batches[b].out_start, p->batches[b].out_len);
		if (rc)
			return rc;
	}
	for (unsigned i = 0; i < p->n_spans; i++) {
		g->offsets[g->emitted++] = g->written;
		g->written += (int64_t)p->spans[i].out_len;
	}
	p->state = PIECE_FILLING;
	g->oldest = (g->oldest + 1) % g->max_pieces;
	g->count--;
	*emitted = true;
	return 0;
}

/* Gives p the buffers of a piece not in use, if one has them. */
static void take_idle_buffers(struct gzip_members *g, struct piece *p)
{
	for (unsigned k = g->count + 1; k < g->max_pieces && !p->in; k++) {
		struct piece *idle = piece_at(g, k);
		if (idle->in) {
			p->in = idle->in;
			p->out = idle->out;
			p->spans = idle->spans;
			idle->in = idle->out = NULL;
			idle->spans = NULL;
		}
	}
}

/* Takes a piece's worth of the shared budget; the stream's first piece
 * waits for it, the others only take what is free. */
static bool take_budget(struct gzip_members *g)
{
	bool granted = false;
	pthread_mutex_lock(&pool.lock);
	while (g->allocated == 0 && pool.budget_left < g->piece_bytes)
		pthread_cond_wait(&pool.done, &pool.lock);
	if (pool.budget_left >= g->piece_bytes) {
		pool.budget_left -= g->piece_bytes;
		granted = true;
	}
	pthread_mutex_unlock(&pool.lock);
	return granted;
}

/* Buffers for p (not yet in use): an idle piece's, new ones while the
 * shared budget allows, else the oldest piece's once written out. */
static int piece_buffers(struct gzip_members *g, struct piece *p)
{
	bool emitted;
	take_idle_buffers(g, p);
	if (p->in)
		return 0;
	if (take_budget(g)) {
		g->allocated++; /* counted now: closing gives it back even if malloc fails */
		if (!(p->in = malloc(g->in_cap)) || !(p->out = malloc(OUT_ROOM(g->in_cap))) ||
		    !(p->spans = malloc(MAX_MEMBERS * sizeof(*p->spans))))
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
static int start_piece(struct gzip_members *g)
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
	p->n_spans = 0;
	p->level = g->level;
	p->xfl = g->xfl;
	p->state = PIECE_FILLING;
	g->count++;
	g->filling = true;
	return 0;
}

/* Hands the filling piece to the threads. */
static void close_piece(struct gzip_members *g)
{
	g->filling = false;
	g->member_open = false;
	enqueue(filling_piece(g));
}

/* A new span in the filling piece, starting a piece when this one has not
 * `room` bytes left or no span left. */
static int add_span(struct gzip_members *g, size_t room, bool raw, int64_t *seq)
{
	int rc;
	if (g->next_seq == (int64_t)g->cap_offsets) {
		size_t cap = g->cap_offsets ? g->cap_offsets * 2 : 1024;
		int64_t *o = realloc(g->offsets, cap * sizeof(*o));
		CHECK_ALLOC(o);
		g->offsets = o;
		g->cap_offsets = cap;
	}
	g->member_open = false;
	if (g->filling) {
		struct piece *p = filling_piece(g);
		if (g->in_cap - p->in_len < room || p->n_spans == MAX_MEMBERS)
			close_piece(g);
	}
	if (!g->filling && (rc = start_piece(g)))
		return rc;
	struct piece *p = filling_piece(g);
	p->spans[p->n_spans++] = (struct span){.start = p->in_len, .raw = raw};
	g->reserve_end = p->in_len + room;
	g->member_open = !raw;
	if (seq)
		*seq = g->next_seq;
	g->next_seq++;
	return 0;
}

int gzip_members_begin(struct gzip_members *g, size_t reserve, int64_t *seq)
{
	if (reserve > g->in_cap)
		return error_set(ERR_FAILURE, "a gzip member of %zu bytes does not fit a piece of %zu", reserve,
				 g->in_cap);
	return add_span(g, reserve, false, seq);
}

void gzip_members_end(struct gzip_members *g)
{
	g->member_open = false;
}

/* Appends to the open span; a full piece goes to the threads at once. */
static int append(struct gzip_members *g, const unsigned char **buf, size_t *len)
{
	struct piece *p = filling_piece(g);
	size_t n = g->in_cap - p->in_len < *len ? g->in_cap - p->in_len : *len;
	memcpy(p->in + p->in_len, *buf, n);
	p->in_len += n;
	*buf += n;
	*len -= n;
	if (p->in_len == g->in_cap)
		close_piece(g);
	return 0;
}

int gzip_members_write(struct gzip_members *g, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	int rc;
	while (len) {
		/* A member cut by a full piece goes on in a new one. */
		if (!g->member_open && (rc = add_span(g, 0, false, NULL)))
			return rc;
		if ((rc = append(g, &p, &len)))
			return rc;
	}
	return 0;
}

int gzip_members_write_raw(struct gzip_members *g, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	int rc;
	g->member_open = false;
	while (len) {
		if ((rc = add_span(g, 0, true, NULL)) || (rc = append(g, &p, &len)))
			return rc;
	}
	return 0;
}

int gzip_members_flush(struct gzip_members *g)
{
	int rc;
	bool emitted;
	if (g->filling)
		close_piece(g);
	while (g->count)
		if ((rc = emit_oldest(g, true, &emitted)))
			return rc;
	return 0;
}

int64_t gzip_members_offset(const struct gzip_members *g, int64_t seq)
{
	return seq >= 0 && seq < g->emitted ? g->offsets[seq] : -1;
}

int64_t gzip_members_written(const struct gzip_members *g)
{
	return g->written;
}

void gzip_members_free(struct gzip_members *g)
{
	if (!g)
		return;
	/* Pieces still queued leave the queue; those being compressed are
	 * waited for: their buffers are the pool's until then. */
	pthread_mutex_lock(&pool.lock);
	struct piece **link = &pool.head;
	pool.tail = NULL;
	while (*link) {
		struct piece *p = *link;
		if (p->owner == g) {
			/* no batch of it starts any more; those started are waited for */
			*link = p->queued_next;
			p->n_batches = p->claimed;
			p->state = p->finished == p->n_batches ? PIECE_DONE : PIECE_WORKING;
		} else {
			pool.tail = p;
			link = &p->queued_next;
		}
	}
	for (unsigned i = 0; i < g->max_pieces; i++)
		while (g->pieces[i].state == PIECE_WORKING)
			pthread_cond_wait(&pool.done, &pool.lock);
	pool.budget_left += g->allocated * g->piece_bytes;
	pthread_cond_broadcast(&pool.done); /* streams waiting for a first piece */
	pthread_mutex_unlock(&pool.lock);
	for (unsigned i = 0; i < g->max_pieces; i++) {
		free(g->pieces[i].in);
		free(g->pieces[i].out);
		free(g->pieces[i].spans);
	}
	free(g->pieces);
	free(g->offsets);
	free(g);
	pool_leave();
}

int gzip_members_new(struct gzip_members **out, struct byte_sink *next, bool level_set, int level,
		     size_t piece_size)
{
	if (level_set && (level < -2 || level > 9))
		return error_set(ERR_USAGE, "compression-level %d is not a gzip level (want -2..9)", level);
	unsigned threads;
	int rc = pool_join(&threads);
	if (rc)
		return rc;
	struct gzip_members *g = calloc(1, sizeof(*g));
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
	g->in_cap = piece_size < GZIP_CHUNK ? GZIP_CHUNK : piece_size;
	g->piece_bytes = g->in_cap + OUT_ROOM(g->in_cap) + MAX_MEMBERS * sizeof(struct span);
	if (g->piece_bytes > GZIP_MEMORY_BUDGET) {
		gzip_members_free(g);
		return error_set(ERR_FAILURE, "gzip members of %zu bytes do not fit the memory budget", piece_size);
	}
	g->level = !level_set || level == -1 ? 6 : level;
	g->xfl = level_set && level == 9 ? 2 : level_set && level == 1 ? 4 : 0;
	g->next = next;
	*out = g;
	return 0;
}

/* ---- the plain stream ----------------------------------------------------- */

struct gzip_parallel {
	struct byte_sink base;
	struct byte_sink *next;
	struct gzip_members *members;
	bool wrote_any;
};

static int gzip_parallel_write(struct byte_sink *s, const void *buf, size_t len)
{
	struct gzip_parallel *g = (struct gzip_parallel *)s;
	g->wrote_any = g->wrote_any || len > 0;
	return gzip_members_write(g->members, buf, len);
}

static int gzip_parallel_finish(struct byte_sink *s)
{
	struct gzip_parallel *g = (struct gzip_parallel *)s;
	int rc = g->wrote_any ? 0 : gzip_members_begin(g->members, 0, NULL); /* no input: one empty member */
	if (!rc)
		rc = gzip_members_flush(g->members);
	return rc ? rc : sink_finish(g->next);
}

static void gzip_parallel_close(struct byte_sink *s)
{
	struct gzip_parallel *g = (struct gzip_parallel *)s;
	gzip_members_free(g->members);
	free(g);
}

int gzip_parallel_sink_new(struct byte_sink **out, struct byte_sink *next, bool level_set, int level)
{
	struct gzip_parallel *g = calloc(1, sizeof(*g));
	CHECK_ALLOC(g);
	int rc = gzip_members_new(&g->members, next, level_set, level, GZIP_CHUNK);
	if (rc) {
		free(g);
		return rc;
	}
	g->base.write = gzip_parallel_write;
	g->base.finish = gzip_parallel_finish;
	g->base.close = gzip_parallel_close;
	g->next = next;
	*out = &g->base;
	return 0;
}
