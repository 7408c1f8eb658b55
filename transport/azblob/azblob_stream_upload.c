#include "transport/azblob/azblob_stream_upload.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/error.h"
#include "core/util/parallel.h"
#include "core/util/semaphore.h"
#include "core/util/spool.h"
#include "transport/azblob/azblob_upload.h"

#define MIB (1LL << 20)

int64_t azblob_block_size_for(int64_t size)
{
	int64_t b = AZBLOB_BLOCK_SIZE;
	if (size > b * AZBLOB_MAX_BLOCKS)
		b = ((size + AZBLOB_MAX_BLOCKS - 1) / AZBLOB_MAX_BLOCKS + MIB - 1) / MIB * MIB;
	return b;
}

struct azblob_stream_upload {
	struct azblob_client *client;
	struct semaphore *slots;
	bool slot_held;
	struct spool *spool;
	int fd;
	int64_t block_size;
	unsigned char uuid[16]; /* of this upload's block ids */

	pthread_mutex_t lock; /* everything below */
	pthread_cond_t change;
	int64_t written;
	size_t n_blocks; /* full blocks spooled (and the last one once ended) */
	bool ended;
	char *name; /* streaming: blocks go to this blob while the writer goes on */
	size_t next, sent;
	bool started, failed;
	struct error_state error;
	pthread_t threads[AZBLOB_BLOCK_CONCURRENCY];
	unsigned n_threads;
};

static void slot_take(struct azblob_stream_upload *u)
{
	if (!u->slot_held && u->slots)
		semaphore_acquire(u->slots);
	u->slot_held = true;
}

static void slot_give(struct azblob_stream_upload *u)
{
	if (u->slot_held && u->slots)
		semaphore_release(u->slots);
	u->slot_held = false;
}

int azblob_stream_upload_new(struct azblob_stream_upload **out, struct azblob_client *c, struct semaphore *slots,
			     int64_t expected_size)
{
	struct azblob_stream_upload *u = calloc(1, sizeof(*u));
	CHECK_ALLOC(u);
	u->client = c;
	u->slots = slots;
	u->block_size = azblob_block_size_for(expected_size > 0 ? expected_size : 0);
	u->fd = -1;
	pthread_mutex_init(&u->lock, NULL);
	pthread_cond_init(&u->change, NULL);
	int rc = spool_new(&u->spool, "azblob upload");
	if (!rc && RAND_bytes(u->uuid, sizeof(u->uuid)) != 1)
		rc = error_set(ERR_FAILURE, "no random bytes for a block id");
	if (rc) {
		azblob_stream_upload_free(u);
		return rc;
	}
	u->uuid[6] = (unsigned char)((u->uuid[6] & 0x0f) | 0x40); /* a version 4 UUID */
	u->uuid[8] = (unsigned char)((u->uuid[8] & 0x3f) | 0x80);
	u->fd = spool_fd(u->spool);
	*out = u;
	return 0;
}

/* Block i of the spool, of a blob of `size` bytes in blocks of block_size. */
static int send_block(struct azblob_stream_upload *u, const char *name, size_t i, int64_t block_size, int64_t size)
{
	char id[AZBLOB_BLOCK_ID_BUF];
	int64_t off = (int64_t)i * block_size;
	struct byte_range body = {u->fd, NULL, off, size - off < block_size ? size - off : block_size};
	int rc = azblob_block_id(id, u->uuid, (uint32_t)i);
	return rc ? rc : azblob_put_block(u->client, name, id, &body);
}

static int block_list(struct azblob_stream_upload *u, const char *name, size_t n, bool *existed)
{
	char **ids = calloc(n ? n : 1, sizeof(*ids));
	CHECK_ALLOC(ids);
	int rc = 0;
	for (size_t i = 0; !rc && i < n; i++) {
		if (!(ids[i] = malloc(AZBLOB_BLOCK_ID_BUF)))
			rc = error_oom();
		else
			rc = azblob_block_id(ids[i], u->uuid, (uint32_t)i);
	}
	if (!rc)
		rc = azblob_put_block_list(u->client, name, ids, n, true, existed);
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	return rc;
}

/* ---- streaming ---------------------------------------------------------- */

static void *block_worker(void *arg)
{
	struct azblob_stream_upload *u = arg;
	pthread_mutex_lock(&u->lock);
	for (;;) {
		while (!u->failed && u->next >= u->n_blocks && !u->ended)
			pthread_cond_wait(&u->change, &u->lock);
		if (u->failed || u->next >= u->n_blocks)
			break;
		size_t i = u->next++;
		/* A block is sent only once complete, so `written` bounds it. */
		int64_t size = u->written;
		pthread_mutex_unlock(&u->lock);
		int rc = send_block(u, u->name, i, u->block_size, size);
		pthread_mutex_lock(&u->lock);
		if (rc) {
			if (!u->failed)
				error_save(&u->error, rc);
			u->failed = true;
		} else {
			u->sent++;
		}
		pthread_cond_broadcast(&u->change);
	}
	pthread_mutex_unlock(&u->lock);
	return NULL;
}

/* Called with the lock held, at the first full block. */
static void stream_start(struct azblob_stream_upload *u)
{
	u->started = true;
	for (unsigned i = 0; i < AZBLOB_BLOCK_CONCURRENCY; i++)
		if (pthread_create(&u->threads[u->n_threads], NULL, block_worker, u) == 0)
			u->n_threads++;
	if (!u->n_threads) {
		u->failed = true;
		error_save(&u->error, error_set(ERR_FAILURE, "cannot start upload threads"));
	}
}

static void stream_stop(struct azblob_stream_upload *u, bool give_up)
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

int azblob_stream_upload_to(struct azblob_stream_upload *u, const char *name)
{
	if (!(u->name = strdup(name)))
		return error_oom();
	return 0;
}

/* ---- spooling ----------------------------------------------------------- */

int azblob_stream_upload_write(struct azblob_stream_upload *u, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		/* Never past a block boundary in one step, so blocks are counted exactly. */
		int64_t room = u->block_size - u->written % u->block_size;
		size_t n = (int64_t)len < room ? len : (size_t)room;
		int rc = spool_write(u->spool, p, n);
		if (rc)
			return rc;
		p += n;
		len -= n;
		pthread_mutex_lock(&u->lock);
		u->written += (int64_t)n;
		if (u->written % u->block_size == 0) {
			u->n_blocks++;
			if (u->name && !u->started && !u->failed) {
				if (!u->slot_held) {
					pthread_mutex_unlock(&u->lock);
					slot_take(u);
					pthread_mutex_lock(&u->lock);
				}
				stream_start(u);
			}
			pthread_cond_broadcast(&u->change);
		}
		if (u->failed && u->started)
			rc = error_restore(&u->error); /* stop spooling: this blob cannot be stored */
		pthread_mutex_unlock(&u->lock);
		if (rc)
			return rc;
	}
	return 0;
}

int azblob_stream_upload_end(struct azblob_stream_upload *u)
{
	pthread_mutex_lock(&u->lock);
	if (u->written % u->block_size)
		u->n_blocks++; /* the last, shorter block */
	pthread_cond_broadcast(&u->change);
	pthread_mutex_unlock(&u->lock);
	return 0;
}

/* ---- committing --------------------------------------------------------- */

struct blocks_job {
	struct azblob_stream_upload *u;
	const char *name;
	int64_t block_size, size;
};

static int send_spooled_block(void *ctx, size_t i)
{
	struct blocks_job *j = ctx;
	return send_block(j->u, j->name, i, j->block_size, j->size);
}

/* The whole spool as blocks, after the fact. */
static int blocks_from_spool(struct azblob_stream_upload *u, const char *name, bool *existed)
{
	int64_t block_size = azblob_block_size_for(u->written);
	size_t n = (size_t)((u->written + block_size - 1) / block_size);
	struct blocks_job j = {u, name, block_size, u->written};
	int rc = parallel_for(n, AZBLOB_BLOCK_CONCURRENCY, false, send_spooled_block, &j);
	return rc ? rc : block_list(u, name, n, existed);
}

/* Finishes a streamed upload: the blocks still going, then the list. */
static int stream_finish(struct azblob_stream_upload *u, bool *existed)
{
	stream_stop(u, false);
	if (u->failed)
		return error_restore(&u->error);
	if (u->sent != u->n_blocks)
		return error_set(ERR_FAILURE, "block upload: %zu of %zu blocks sent", u->sent, u->n_blocks);
	return block_list(u, u->name, u->n_blocks, existed);
}

int azblob_stream_upload_commit(struct azblob_stream_upload *u, const char *name, bool *existed)
{
	int rc;
	*existed = false;
	if (u->started) {
		if (strcmp(u->name, name) == 0 && u->n_blocks <= AZBLOB_MAX_BLOCKS) {
			rc = stream_finish(u, existed);
			slot_give(u);
			return rc;
		}
		/* Sent under another name (the bytes were not the announced
		 * ones), or in too many blocks: start over from the spool. */
		stream_stop(u, true);
	}
	slot_take(u);
	if (u->written <= AZBLOB_SINGLE_PUT_LIMIT) {
		struct byte_range body = {u->fd, NULL, 0, u->written};
		rc = azblob_put_blob(u->client, name, &body, true, existed);
	} else {
		rc = blocks_from_spool(u, name, existed);
	}
	slot_give(u);
	return rc;
}

void azblob_stream_upload_free(struct azblob_stream_upload *u)
{
	if (!u)
		return;
	stream_stop(u, true);
	slot_give(u);
	free(u->name);
	spool_free(u->spool);
	pthread_cond_destroy(&u->change);
	pthread_mutex_destroy(&u->lock);
	free(u);
}
