#include "transport/streamed_upload.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util/digest.h"
#include "core/util/parallel.h"
#include "core/util/semaphore.h"

#define MIB (1LL << 20)
#define MAX_SENDERS 16
#define HASH_HEX (DIGEST_HEX_LEN + 1)

int64_t streamed_upload_part_size(const struct streamed_upload_limits *limits, int64_t size)
{
	int64_t p = limits->part_size;
	int64_t max = (int64_t)limits->max_parts;
	if (size > p * max)
		p = ((size + max - 1) / max + MIB - 1) / MIB * MIB;
	return p;
}

static unsigned senders_of(const struct streamed_upload_limits *limits)
{
	unsigned n = limits->concurrency ? limits->concurrency : 1;
	return n > MAX_SENDERS ? MAX_SENDERS : n;
}

/* ---- sending bytes at hand ------------------------------------------------ */

/* The hex SHA-256 of a range of a spool. */
static int hash_range(char out[HASH_HEX], const struct byte_range *r)
{
	struct sha256 *h;
	char *buf = malloc(1 << 20), digest[DIGEST_BUF];
	int rc = buf ? sha256_new(&h) : error_oom();
	if (rc) {
		free(buf);
		return rc;
	}
	int64_t off = r->offset, left = r->length;
	while (!rc && left > 0) {
		size_t want = left < (1 << 20) ? (size_t)left : (1 << 20);
		ssize_t n = r->data ? (ssize_t)want : pread(r->fd, buf, want, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = error_set_errno(ERR_FAILURE, n < 0 ? errno : EIO, "read spooled upload");
		} else {
			rc = sha256_update(h, r->data ? (const char *)r->data + off : buf, (size_t)n);
			off += n;
			left -= n;
		}
	}
	if (!rc && !(rc = sha256_final(h, digest)))
		memcpy(out, digest_hex(digest), HASH_HEX);
	sha256_free(h);
	free(buf);
	return rc;
}

struct parts_job {
	const struct streamed_upload_ops *ops;
	void *ctx;
	const char *name, *session;
	const struct byte_range *body;
	int64_t part_size;
	bool hash;
	const char (*hashes)[HASH_HEX]; /* known part hashes, or NULL */
	char **tokens;
};

static int send_one_part(void *arg, size_t i)
{
	struct parts_job *j = arg;
	int64_t off = (int64_t)i * j->part_size;
	int64_t len = j->body->length - off < j->part_size ? j->body->length - off : j->part_size;
	struct byte_range part = byte_range_sub(j->body, off, len);
	char hash[HASH_HEX];
	int rc = 0;
	if (j->hash && j->hashes)
		memcpy(hash, j->hashes[i], sizeof(hash));
	else if (j->hash)
		rc = hash_range(hash, &part);
	return rc ? rc : j->ops->put_part(j->ctx, j->name, j->session, i, &part, j->hash ? hash : NULL, &j->tokens[i]);
}

static void abort_parts(const struct streamed_upload_ops *ops, void *ctx, const char *name, const char *session)
{
	if (ops->abort)
		ops->abort(ctx, name, session);
}

/* begin, every part, commit; abort on failure.  hashes: the parts' known
 * SHA-256 when they were computed on the way in, else NULL. */
static int send_parts(const struct streamed_upload_ops *ops, void *ctx, const struct streamed_upload_limits *limits,
		      const char *name, const struct byte_range *body, const char (*hashes)[HASH_HEX],
		      bool *existed)
{
	char *session = NULL;
	int rc = ops->begin ? ops->begin(ctx, name, &session) : 0;
	if (rc)
		return rc;
	int64_t part_size = streamed_upload_part_size(limits, body->length);
	size_t n = (size_t)((body->length + part_size - 1) / part_size);
	struct parts_job j = {ops, ctx, name, session, body, part_size, limits->part_hashes, hashes,
			      calloc(n ? n : 1, sizeof(char *))};
	rc = j.tokens ? parallel_for(n, senders_of(limits), false, send_one_part, &j) : error_oom();
	if (!rc)
		rc = ops->commit(ctx, name, session, j.tokens, n, existed);
	if (rc)
		abort_parts(ops, ctx, name, session);
	for (size_t i = 0; j.tokens && i < n; i++)
		free(j.tokens[i]);
	free(j.tokens);
	free(session);
	return rc;
}

int streamed_upload_send(const struct streamed_upload_ops *ops, void *ctx, const struct streamed_upload_limits *limits,
			 const char *name, const struct byte_range *body, const char *sha256_hex, bool *existed)
{
	*existed = false;
	if (body->length <= limits->whole_max)
		return ops->put_whole(ctx, name, body, sha256_hex, existed);
	return send_parts(ops, ctx, limits, name, body, NULL, existed);
}

/* ---- the streaming upload ------------------------------------------------- */

struct streamed_upload {
	const struct streamed_upload_ops *ops;
	void *ctx;
	const struct streamed_upload_limits *limits;
	struct semaphore *slots; /* not owned; NULL: no limit */
	bool slot_held;
	/* Parts are read back from the spool while more is still written. */
	struct spool *spool;
	int fd; /* the spool's, for pread */
	struct sha256 *part; /* of the part being written, when part_hashes */
	int64_t part_size;

	pthread_mutex_t lock; /* everything below */
	pthread_cond_t change;
	int64_t written;
	char (*hashes)[HASH_HEX]; /* of the parts spooled so far (part_hashes) */
	char **tokens;            /* of the parts sent */
	size_t n_parts, cap_parts; /* full parts spooled (and the last one once ended) */
	bool ended;                /* no more bytes */
	/* Streaming: parts go to `name` while the writer goes on. */
	char *name;
	char *session;
	size_t next, sent;
	bool started, failed, completed;
	struct error_state error;
	pthread_t threads[MAX_SENDERS];
	unsigned n_threads;
};

static void slot_take(struct streamed_upload *u)
{
	if (!u->slot_held && u->slots)
		semaphore_acquire(u->slots);
	u->slot_held = true;
}

static void slot_give(struct streamed_upload *u)
{
	if (u->slot_held && u->slots)
		semaphore_release(u->slots);
	u->slot_held = false;
}

int streamed_upload_new(struct streamed_upload **out, const struct streamed_upload_ops *ops, void *ctx,
			const struct streamed_upload_limits *limits, struct semaphore *slots, int64_t expected_size,
			const char *what)
{
	struct streamed_upload *u = calloc(1, sizeof(*u));
	CHECK_ALLOC(u);
	u->ops = ops;
	u->ctx = ctx;
	u->limits = limits;
	u->slots = slots;
	u->part_size = streamed_upload_part_size(limits, expected_size > 0 ? expected_size : 0);
	u->fd = -1;
	pthread_mutex_init(&u->lock, NULL);
	pthread_cond_init(&u->change, NULL);
	int rc = spool_new(&u->spool, what);
	if (!rc && limits->part_hashes)
		rc = sha256_new(&u->part);
	if (rc) {
		streamed_upload_free(u);
		return rc;
	}
	u->fd = spool_fd(u->spool);
	*out = u;
	return 0;
}

int streamed_upload_stream_to(struct streamed_upload *u, const char *name)
{
	if (!(u->name = strdup(name)))
		return error_oom();
	return 0;
}

/* Called with the lock held: a sender's failure, kept for the writer. */
static void fail(struct streamed_upload *u, int rc)
{
	if (!u->failed)
		error_save(&u->error, rc);
	u->failed = true;
}

static void *part_sender(void *arg)
{
	struct streamed_upload *u = arg;
	pthread_mutex_lock(&u->lock);
	for (;;) {
		while (!u->failed && u->next >= u->n_parts && !u->ended)
			pthread_cond_wait(&u->change, &u->lock);
		if (u->failed || u->next >= u->n_parts)
			break;
		size_t i = u->next++;
		char hash[HASH_HEX];
		if (u->hashes)
			memcpy(hash, u->hashes[i], sizeof(hash));
		/* A part is sent only once complete, so `written` bounds it. */
		int64_t off = (int64_t)i * u->part_size;
		int64_t len = u->written - off < u->part_size ? u->written - off : u->part_size;
		pthread_mutex_unlock(&u->lock);
		struct byte_range part = {u->fd, NULL, off, len};
		char *token = NULL;
		int rc = u->ops->put_part(u->ctx, u->name, u->session, i, &part, u->hashes ? hash : NULL, &token);
		pthread_mutex_lock(&u->lock);
		if (rc) {
			fail(u, rc);
		} else {
			u->tokens[i] = token;
			u->sent++;
		}
		pthread_cond_broadcast(&u->change);
	}
	pthread_mutex_unlock(&u->lock);
	return NULL;
}

/* Starts the upload in parts and its senders, at the first full part. */
static int stream_start(struct streamed_upload *u)
{
	char *session = NULL;
	slot_take(u);
	int rc = u->ops->begin ? u->ops->begin(u->ctx, u->name, &session) : 0;
	pthread_mutex_lock(&u->lock);
	u->started = !rc;
	if (rc) {
		fail(u, rc);
	} else {
		u->session = session;
		for (unsigned i = 0; i < senders_of(u->limits); i++)
			if (pthread_create(&u->threads[u->n_threads], NULL, part_sender, u) == 0)
				u->n_threads++;
		if (!u->n_threads)
			fail(u, rc = error_set(ERR_FAILURE, "cannot start upload threads"));
	}
	pthread_mutex_unlock(&u->lock);
	return rc;
}

/* Waits for the senders to finish what there is (or to fail). */
static void stream_stop(struct streamed_upload *u, bool give_up)
{
	pthread_mutex_lock(&u->lock);
	if (give_up)
		u->failed = true;
	u->ended = true;
	pthread_cond_broadcast(&u->change);
	pthread_mutex_unlock(&u->lock);
	for (unsigned i = 0; i < u->n_threads; i++)
		pthread_join(u->threads[i], NULL);
	u->n_threads = 0;
}

/* ---- spooling ------------------------------------------------------------- */

/* Called with the lock held: room for one more part's hash and token. */
static int grow_parts(struct streamed_upload *u)
{
	if (u->n_parts < u->cap_parts)
		return 0;
	size_t cap = u->cap_parts ? u->cap_parts * 2 : 16;
	if (u->limits->part_hashes) {
		char(*h)[HASH_HEX] = realloc(u->hashes, cap * sizeof(*h));
		if (!h)
			return error_oom();
		u->hashes = h;
	}
	char **t = realloc(u->tokens, cap * sizeof(*t));
	if (!t)
		return error_oom();
	memset(t + u->cap_parts, 0, (cap - u->cap_parts) * sizeof(*t));
	u->tokens = t;
	u->cap_parts = cap;
	return 0;
}

static int part_done(struct streamed_upload *u)
{
	int rc = 0;
	char digest[DIGEST_BUF];
	if (u->part && ((rc = sha256_final(u->part, digest)) || (rc = sha256_reset(u->part))))
		return rc;
	pthread_mutex_lock(&u->lock);
	if (!(rc = grow_parts(u))) {
		if (u->hashes)
			memcpy(u->hashes[u->n_parts], digest_hex(digest), HASH_HEX);
		u->n_parts++;
		pthread_cond_broadcast(&u->change);
	}
	bool start = !rc && u->name && !u->started && !u->failed;
	if (!rc && u->failed)
		rc = error_restore(&u->error); /* stop spooling: this blob cannot be stored */
	pthread_mutex_unlock(&u->lock);
	if (start)
		rc = stream_start(u);
	return rc;
}

int streamed_upload_write(struct streamed_upload *u, const void *buf, size_t len)
{
	int rc;
	const char *p = buf;
	while (len) {
		/* Never past a part boundary in one step, so part hashes stay exact. */
		int64_t room = u->part_size - u->written % u->part_size;
		size_t n = (int64_t)len < room ? len : (size_t)room;
		if ((rc = spool_write(u->spool, p, n)) || (u->part && (rc = sha256_update(u->part, p, n))))
			return rc;
		pthread_mutex_lock(&u->lock);
		u->written += (int64_t)n;
		bool full = u->written % u->part_size == 0;
		pthread_mutex_unlock(&u->lock);
		p += n;
		len -= n;
		if (full && (rc = part_done(u)))
			return rc;
	}
	return 0;
}

int streamed_upload_end(struct streamed_upload *u)
{
	if (u->written % u->part_size || u->written == 0)
		return part_done(u); /* the last, shorter part */
	return 0;
}

/* ---- committing ----------------------------------------------------------- */

/* Finishes a streamed upload: the parts still going, then the commit. */
static int stream_finish(struct streamed_upload *u, bool *existed)
{
	stream_stop(u, false);
	int rc = 0;
	if (u->failed)
		rc = error_restore(&u->error);
	else if (u->sent != u->n_parts)
		rc = error_set(ERR_FAILURE, "upload in parts: %zu of %zu parts sent", u->sent, u->n_parts);
	if (!rc)
		rc = u->ops->commit(u->ctx, u->name, u->session, u->tokens, u->n_parts, existed);
	if (rc)
		abort_parts(u->ops, u->ctx, u->name, u->session);
	u->completed = true; /* committed or aborted: nothing left to undo */
	return rc;
}

int streamed_upload_commit(struct streamed_upload *u, const char *name, const char *sha256_hex, bool *existed)
{
	int rc;
	*existed = false;
	if (u->started) {
		if (strcmp(u->name, name) == 0 && u->n_parts <= u->limits->max_parts) {
			rc = stream_finish(u, existed);
			slot_give(u);
			return rc;
		}
		/* Sent under another name (the bytes were not the announced
		 * ones), or in more parts than the service takes: start over
		 * from the spool. */
		stream_stop(u, true);
		abort_parts(u->ops, u->ctx, u->name, u->session);
		u->completed = true;
	} else if (u->failed) {
		rc = error_restore(&u->error);
		slot_give(u);
		return rc;
	}
	slot_take(u);
	struct byte_range body = {u->fd, NULL, 0, u->written};
	if (u->written <= u->limits->whole_max) {
		rc = u->ops->put_whole(u->ctx, name, &body, sha256_hex, existed);
	} else {
		/* The hashes taken on the way in fit when the part size did not change. */
		bool same = streamed_upload_part_size(u->limits, u->written) == u->part_size;
		rc = send_parts(u->ops, u->ctx, u->limits, name, &body, same ? u->hashes : NULL, existed);
	}
	slot_give(u);
	return rc;
}

void streamed_upload_free(struct streamed_upload *u)
{
	if (!u)
		return;
	stream_stop(u, true);
	if (u->started && !u->completed)
		abort_parts(u->ops, u->ctx, u->name, u->session); /* abandoned: the source failed, or another destination */
	slot_give(u);
	for (size_t i = 0; u->tokens && i < u->n_parts; i++)
		free(u->tokens[i]);
	free(u->tokens);
	free(u->hashes);
	free(u->name);
	free(u->session);
	sha256_free(u->part);
	spool_free(u->spool);
	pthread_cond_destroy(&u->change);
	pthread_mutex_destroy(&u->lock);
	free(u);
}
