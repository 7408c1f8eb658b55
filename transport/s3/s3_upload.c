#include "transport/s3/s3_upload.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util/digest.h"
#include "core/util/error.h"
#include "core/util/semaphore.h"
#include "core/util/spool.h"
#include "core/util/parallel.h"
#include "core/util/progress.h"
#include "transport/s3/aws_sigv4.h"

#define MIB (1LL << 20)

int64_t s3_part_size_for(int64_t size)
{
	int64_t p = S3_PART_SIZE;
	if (size > p * S3_MAX_PARTS)
		p = ((size + S3_MAX_PARTS - 1) / S3_MAX_PARTS + MIB - 1) / MIB * MIB;
	return p;
}

struct s3_upload {
	struct s3_client *client;
	struct progress *progress;
	struct semaphore *slots; /* not owned; NULL: no limit */
	bool slot_held;
	/* Spooled so that payload hashes can be signed and retries resend the
	 * bytes; parts are read back from it while more is still written. */
	struct spool *spool;
	int fd; /* the spool's, for pread */
	struct sha256 *part;
	int64_t part_size;

	pthread_mutex_t lock; /* everything below */
	pthread_cond_t change;
	int64_t written;
	char (*hashes)[SIGV4_HASH_BUF]; /* of the parts spooled so far */
	char **etags;                    /* of the parts sent */
	size_t n_parts, cap_parts;
	bool ended;                      /* no more bytes */
	/* Streaming: parts go to `key` while the writer goes on. */
	char *key;
	char *upload_id;
	size_t next, sent;
	bool failed;
	struct error_state error;
	pthread_t threads[S3_PART_CONCURRENCY];
	unsigned n_threads;
	bool completed;
};

static void slot_take(struct s3_upload *u)
{
	if (!u->slot_held && u->slots)
		semaphore_acquire(u->slots);
	u->slot_held = true;
}

static void slot_give(struct s3_upload *u)
{
	if (u->slot_held && u->slots)
		semaphore_release(u->slots);
	u->slot_held = false;
}

int s3_upload_new(struct s3_upload **out, struct s3_client *c, struct progress *p, struct semaphore *slots,
		  int64_t expected_size)
{
	struct s3_upload *u = calloc(1, sizeof(*u));
	CHECK_ALLOC(u);
	u->client = c;
	u->progress = p;
	u->slots = slots;
	u->part_size = s3_part_size_for(expected_size > 0 ? expected_size : 0);
	pthread_mutex_init(&u->lock, NULL);
	pthread_cond_init(&u->change, NULL);
	u->fd = -1;
	int rc = spool_new(&u->spool, "s3 upload");
	if (!rc) {
		u->fd = spool_fd(u->spool);
		rc = sha256_new(&u->part);
	}
	if (rc) {
		s3_upload_free(u);
		return rc;
	}
	*out = u;
	return 0;
}

/* ---- streaming parts ---------------------------------------------------- */

struct range {
	int64_t offset, length;
};

/* Part i's place in the spool; called with the lock held. */
static struct range part_range(const struct s3_upload *u, size_t i)
{
	struct range r = {(int64_t)i * u->part_size, u->part_size};
	if (r.offset + r.length > u->written)
		r.length = u->written - r.offset;
	return r;
}

static int send_part(struct s3_upload *u, size_t i, const char *key, const char *upload_id,
		     const char *hash, struct range r, char **etag)
{
	struct s3_body body = {.fd = u->fd, .offset = r.offset, .length = r.length, .sha256_hex = hash};
	return s3_multipart_upload_part(u->client, key, upload_id, (int)i + 1, &body, etag);
}

static void *part_worker(void *arg)
{
	struct s3_upload *u = arg;
	pthread_mutex_lock(&u->lock);
	for (;;) {
		while (!u->failed && u->next >= u->n_parts && !u->ended)
			pthread_cond_wait(&u->change, &u->lock);
		if (u->failed || u->next >= u->n_parts)
			break;
		size_t i = u->next++;
		char hash[SIGV4_HASH_BUF];
		memcpy(hash, u->hashes[i], sizeof(hash));
		struct range r = part_range(u, i);
		pthread_mutex_unlock(&u->lock);
		char *etag = NULL;
		int rc = send_part(u, i, u->key, u->upload_id, hash, r, &etag);
		pthread_mutex_lock(&u->lock);
		if (rc) {
			if (!u->failed)
				error_save(&u->error, rc);
			u->failed = true;
		} else {
			u->etags[i] = etag;
			u->sent++;
		}
		pthread_cond_broadcast(&u->change);
	}
	pthread_mutex_unlock(&u->lock);
	return NULL;
}

/* Starts the multipart upload and its senders at the first full part. */
static int stream_start(struct s3_upload *u)
{
	char *id = NULL;
	slot_take(u);
	int rc = s3_multipart_create(u->client, u->key, NULL, NULL, 0, &id);
	pthread_mutex_lock(&u->lock);
	if (rc) {
		u->failed = true;
		error_save(&u->error, rc);
	} else {
		u->upload_id = id;
		for (unsigned i = 0; i < S3_PART_CONCURRENCY; i++)
			if (pthread_create(&u->threads[u->n_threads], NULL, part_worker, u) == 0)
				u->n_threads++;
		if (!u->n_threads) {
			u->failed = true;
			rc = error_set(ERR_FAILURE, "cannot start upload threads");
			error_save(&u->error, rc);
		}
	}
	pthread_mutex_unlock(&u->lock);
	return rc;
}

/* Waits for the senders to finish what there is (or to fail). */
static void stream_stop(struct s3_upload *u, bool give_up)
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

static void abort_upload(struct s3_upload *u, const char *key, const char *upload_id)
{
	struct error_state saved;
	error_save(&saved, ERR_FAILURE);
	if (s3_multipart_abort(u->client, key, upload_id))
		progress_note(u->progress,
			      "could not abort multipart upload %s (%s); a bucket lifecycle rule "
			      "(AbortIncompleteMultipartUpload) removes such leftovers",
			      upload_id, error_message());
	error_restore(&saved);
}

int s3_upload_stream_to(struct s3_upload *u, const char *key)
{
	if (!(u->key = strdup(key)))
		return error_oom();
	return 0;
}

/* ---- spooling ----------------------------------------------------------- */

static int part_done(struct s3_upload *u)
{
	int rc;
	char digest[DIGEST_BUF];
	if ((rc = sha256_final(u->part, digest)) || (rc = sha256_reset(u->part)))
		return rc;
	pthread_mutex_lock(&u->lock);
	if (u->n_parts == u->cap_parts) {
		size_t cap = u->cap_parts ? u->cap_parts * 2 : 16;
		char(*h)[SIGV4_HASH_BUF] = realloc(u->hashes, cap * sizeof(*h));
		if (h)
			u->hashes = h;
		char **e = realloc(u->etags, cap * sizeof(*e));
		if (e) {
			u->etags = e;
			memset(e + u->cap_parts, 0, (cap - u->cap_parts) * sizeof(*e));
		}
		if (h && e)
			u->cap_parts = cap;
		else
			rc = error_oom();
	}
	if (!rc) {
		memcpy(u->hashes[u->n_parts++], digest_hex(digest), SIGV4_HASH_BUF);
		pthread_cond_broadcast(&u->change);
	}
	bool start = !rc && u->key && !u->upload_id && !u->failed;
	if (!rc && u->failed)
		rc = error_restore(&u->error); /* stop spooling: this blob cannot be stored */
	pthread_mutex_unlock(&u->lock);
	if (start)
		rc = stream_start(u);
	return rc;
}

int s3_upload_write(struct s3_upload *u, const void *buf, size_t len)
{
	int rc;
	const char *p = buf;
	while (len) {
		/* Never past a part boundary in one step, so part hashes stay exact. */
		int64_t room = u->part_size - u->written % u->part_size;
		size_t n = (int64_t)len < room ? len : (size_t)room;
		if ((rc = spool_write(u->spool, p, n)) || (rc = sha256_update(u->part, p, n)))
			return rc;
		ssize_t done = (ssize_t)n;
		pthread_mutex_lock(&u->lock);
		u->written += done;
		bool full = u->written % u->part_size == 0;
		pthread_mutex_unlock(&u->lock);
		p += done;
		len -= (size_t)done;
		if (full && (rc = part_done(u)))
			return rc;
	}
	return 0;
}

int s3_upload_end(struct s3_upload *u)
{
	if (u->written % u->part_size || u->written == 0)
		return part_done(u); /* the last, shorter part */
	return 0;
}

/* ---- committing --------------------------------------------------------- */

/* The hex SHA-256 of a range of the spool file. */
static int hash_range(char out[SIGV4_HASH_BUF], int fd, struct range r)
{
	struct sha256 *h;
	char *buf = malloc(1 << 20), digest[DIGEST_BUF];
	int rc = buf ? sha256_new(&h) : error_oom();
	if (rc) {
		free(buf);
		return rc;
	}
	while (!rc && r.length > 0) {
		ssize_t n = pread(fd, buf, r.length < (1 << 20) ? (size_t)r.length : (1 << 20), r.offset);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = error_set_errno(ERR_FAILURE, n < 0 ? errno : EIO, "read spooled upload");
		} else {
			rc = sha256_update(h, buf, (size_t)n);
			r.offset += n;
			r.length -= n;
		}
	}
	if (!rc && !(rc = sha256_final(h, digest)))
		memcpy(out, digest_hex(digest), SIGV4_HASH_BUF);
	sha256_free(h);
	free(buf);
	return rc;
}

struct parts_job {
	struct s3_upload *u;
	const char *key, *upload_id;
	int64_t part_size, size;
	bool hashes_known;
	char **etags;
};

static int send_spooled_part(void *ctx, size_t i)
{
	struct parts_job *j = ctx;
	char hash[SIGV4_HASH_BUF];
	struct range r = {(int64_t)i * j->part_size, j->part_size};
	if (r.offset + r.length > j->size)
		r.length = j->size - r.offset;
	int rc = 0;
	if (j->hashes_known)
		memcpy(hash, j->u->hashes[i], sizeof(hash));
	else
		rc = hash_range(hash, j->u->fd, r);
	return rc ? rc : send_part(j->u, i, j->key, j->upload_id, hash, r, &j->etags[i]);
}

/* The whole spool as a multipart upload, after the fact. */
static int multipart_from_spool(struct s3_upload *u, const char *key)
{
	char *upload_id = NULL;
	int rc = s3_multipart_create(u->client, key, NULL, NULL, 0, &upload_id);
	if (rc)
		return rc;
	int64_t part_size = s3_part_size_for(u->written);
	size_t n = (size_t)((u->written + part_size - 1) / part_size);
	struct parts_job j = {u, key, upload_id, part_size, u->written,
			      part_size == u->part_size && n == u->n_parts, calloc(n, sizeof(char *))};
	rc = j.etags ? parallel_for(n, S3_PART_CONCURRENCY, false, send_spooled_part, &j)
		     : error_oom();
	if (!rc)
		rc = s3_multipart_complete(u->client, key, upload_id, j.etags, (int)n);
	if (rc)
		abort_upload(u, key, upload_id);
	for (size_t i = 0; j.etags && i < n; i++)
		free(j.etags[i]);
	free(j.etags);
	free(upload_id);
	return rc;
}

/* Finishes a streamed upload: the parts still going, then completion. */
static int stream_finish(struct s3_upload *u)
{
	stream_stop(u, false);
	int rc = 0;
	if (u->failed)
		rc = error_restore(&u->error);
	else if (u->sent != u->n_parts)
		rc = error_set(ERR_FAILURE, "multipart upload: %zu of %zu parts sent", u->sent, u->n_parts);
	if (!rc)
		rc = s3_multipart_complete(u->client, u->key, u->upload_id, u->etags, (int)u->n_parts);
	if (rc)
		abort_upload(u, u->key, u->upload_id);
	u->completed = true; /* completed or aborted: nothing left to undo */
	return rc;
}

int s3_upload_commit(struct s3_upload *u, const char *key, const char *sha256_hex)
{
	int rc;
	if (u->upload_id) {
		if (strcmp(u->key, key) == 0 && u->n_parts <= S3_MAX_PARTS) {
			rc = stream_finish(u);
			slot_give(u);
			return rc;
		}
		/* Sent under another name (the bytes were not the announced ones),
		 * or in more parts than S3 takes: start over from the spool. */
		stream_stop(u, true);
		abort_upload(u, u->key, u->upload_id);
		u->completed = true;
	} else if (u->failed) {
		rc = error_restore(&u->error);
		slot_give(u);
		return rc;
	}
	slot_take(u);
	if (u->written < S3_SINGLE_PUT_LIMIT) {
		struct s3_body body = {.fd = u->fd, .offset = 0, .length = u->written, .sha256_hex = sha256_hex};
		rc = s3_put_object(u->client, key, &body);
	} else {
		rc = multipart_from_spool(u, key);
	}
	slot_give(u);
	return rc;
}

void s3_upload_free(struct s3_upload *u)
{
	if (!u)
		return;
	if (u->upload_id && !u->completed) {
		/* Abandoned (the source failed, or another destination did). */
		stream_stop(u, true);
		abort_upload(u, u->key, u->upload_id);
	}
	stream_stop(u, true);
	slot_give(u);
	for (size_t i = 0; i < u->n_parts; i++)
		free(u->etags[i]);
	free(u->etags);
	free(u->hashes);
	free(u->key);
	free(u->upload_id);
	sha256_free(u->part);
	spool_free(u->spool);
	pthread_cond_destroy(&u->change);
	pthread_mutex_destroy(&u->lock);
	free(u);
}
