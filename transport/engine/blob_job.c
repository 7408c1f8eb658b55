/* One blob job: the source blob read once, in one pass through the layer
 * pipeline -- copied or re-encoded, its diffID measured on the way when the
 * source does not say it -- and written to every destination of the job
 * still missing it (for a re-encode, also to those that take it as it is,
 * and in the encodings of the re-encodes riding on it). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/model/media_type.h"
#include "transport/engine/guarded_sink.h"

/* One job while it runs. */
struct blob_run {
	struct export_run *run;
	struct job *job;
	struct guarded_sink *guards; /* one per open writer */
	struct job **writer_job;     /* per writer: whose encoding it takes */
	struct byte_sink **outputs;  /* the guards that take the job's output */
	struct byte_sink **copies;   /* those that take the source as it is
				      * while the job re-encodes it */
	size_t n_writers, n_outputs, n_copies;
	atomic_size_t alive; /* writers not failed yet */
	unsigned skipped, stored;
	int64_t bytes_stored;
	bool read; /* the source blob went through the pipeline */
	int task;  /* progress task, -1 before it starts */
};

/* A copied blob without a diffID annotation (BuildKit refuses to load
 * those) is measured in the pass that copies it, so what we write is
 * complete.  A re-encode measures it anyway. */
static bool needs_diff_id(const struct job *j)
{
	return !j->reencode && !descriptor_annotation(j->source, ANN_UNCOMPRESSED) &&
	       layer_encoding(j->source) != COMPRESSION_UNKNOWN;
}

static void delivery_present(struct blob_run *b, struct delivery *dl)
{
	dl->done = dl->existed = true;
	b->skipped++;
}

/* A copy moves no bytes to a destination that has the blob already or
 * can link it from the source; true when the delivery is settled so
 * (present, or failed asking). */
static bool settled_without_bytes(struct blob_run *b, struct delivery *dl)
{
	const struct descriptor *d = b->job->source;
	struct transport *t = b->run->dests[dl->dest].transport;
	struct transport *origin = source_set_origin(b->run->src, d->digest);
	int64_t have;
	int rc = t->ops->blob_stat(t, d->digest, &have);
	if (rc == 0 && have == d->size) {
		delivery_present(b, dl);
		return true;
	}
	if (rc && rc != ERR_NOT_FOUND) {
		delivery_fail(dl, rc);
		return true;
	}
	if (!t->ops->blob_link || !origin)
		return false;
	rc = t->ops->blob_link(t, d, origin);
	if (rc == 0)
		delivery_present(b, dl);
	else if (rc != ERR_NOT_FOUND)
		delivery_fail(dl, rc);
	return rc != ERR_NOT_FOUND;
}

/* Whether the delivery takes the source blob unchanged. */
static bool as_is(const struct job *j, const struct delivery *dl)
{
	return !j->reencode || dl->copy;
}

/* Gives the delivery of job j (the run's, or one riding on it) a guarded
 * writer, unless it needs none. */
static void open_delivery(struct blob_run *b, struct job *j, struct delivery *dl)
{
	struct transport *t = b->run->dests[dl->dest].transport;
	struct blob_writer *w;
	if (as_is(j, dl) && settled_without_bytes(b, dl))
		return;
	/* A re-encoded blob's digest and size are known only at commit. */
	struct descriptor announced = *j->source;
	if (!as_is(j, dl)) {
		announced.digest[0] = '\0';
		announced.size = 0;
	}
	int rc = t->ops->blob_create(t, &announced, &w);
	if (rc) {
		delivery_fail(dl, rc);
		return;
	}
	b->writer_job[b->n_writers] = j;
	struct guarded_sink *g = &b->guards[b->n_writers++];
	guarded_sink_init(g, w, dl, &b->alive);
	if (j->reencode && dl->copy)
		b->copies[b->n_copies++] = &g->base;
	else if (j == b->job)
		b->outputs[b->n_outputs++] = &g->base;
}

/* Nothing to read: every destination has the blob (or failed).  The
 * source must still hold it, or it is a damaged cache that this export
 * would vouch for. */
static int check_source_holds(struct blob_run *b)
{
	struct job *j = b->job;
	struct transport *s = source_set_origin(b->run->src, j->source->digest);
	int64_t have;
	if (!s)
		return error_set(ERR_FAILURE, "no source has blob %s", j->source->digest);
	int rc = s->ops->blob_stat(s, j->source->digest, &have);
	if (rc == ERR_NOT_FOUND)
		return error_set(ERR_CORRUPT, "blob %s is missing from %s", j->source->digest, s->display);
	if (!rc && have != j->source->size)
		return error_set(ERR_CORRUPT, "blob %s in %s is %lld bytes, its descriptor says %lld",
				 j->source->digest, s->display, (long long)have, (long long)j->source->size);
	if (rc)
		return rc;
	memcpy(j->outcome.digest, j->source->digest, DIGEST_BUF);
	j->outcome.size = j->source->size;
	return 0;
}

static void on_bytes(void *ctx, int64_t n)
{
	struct blob_run *b = ctx;
	progress_task_add(b->run->progress, b->task, n);
	pthread_mutex_lock(&b->run->lock);
	b->run->totals->bytes_read += n;
	pthread_mutex_unlock(&b->run->lock);
}

/* Counts a re-encode's output for progress: the encoder's pace, which
 * the bytes it has read do not show (it may hold many MiB of them). */
struct output_meter {
	struct byte_sink base;
	struct byte_sink *next; /* borrowed */
	struct blob_run *b;
};

static int meter_write(struct byte_sink *s, const void *buf, size_t len)
{
	struct output_meter *m = (struct output_meter *)s;
	progress_task_written(m->b->run->progress, m->b->task, (int64_t)len);
	return sink_write(m->next, buf, len);
}

static int meter_finish(struct byte_sink *s)
{
	return sink_finish(((struct output_meter *)s)->next);
}

static void meter_close(struct byte_sink *s)
{
	(void)s; /* next is closed by its owner */
}

/* The encodings riding on the job: each gets a tee of its writers. */
static int open_riders(struct blob_run *b, struct encoder_target *more, struct byte_sink **tees)
{
	struct job *j = b->job;
	for (size_t k = 0; k < j->n_riders; k++) {
		struct job *r = &b->run->jobs[j->riders[k]];
		struct byte_sink **mine = b->outputs + b->n_outputs;
		size_t n = 0;
		for (size_t w = 0; w < b->n_writers; w++)
			if (b->writer_job[w] == r)
				mine[n++] = &b->guards[w].base;
		more[k] = (struct encoder_target){.options = &r->target};
		int rc = n ? tee_sink_new(&tees[k], mine, n) : 0;
		if (rc)
			return rc;
		more[k].dest = tees[k];
	}
	return 0;
}

/* What the progress line says the job does: "copy", "zstd", "zstd+gzip". */
static void describe(char *what, size_t cap, const struct blob_run *b)
{
	const struct job *j = b->job;
	if (!j->reencode) {
		snprintf(what, cap, "%s", b->n_writers ? "copy" : "measure");
		return;
	}
	size_t used = (size_t)snprintf(what, cap, "%s", compression_name(j->target.compression));
	for (size_t k = 0; k < j->n_riders && used < cap; k++)
		used += (size_t)snprintf(what + used, cap - used, "+%s",
					 compression_name(b->run->jobs[j->riders[k]].target.compression));
}

/* The riders' results: their encodings' digests and sizes, the host's
 * diffID; or the host's failure. */
static void settle_riders(struct blob_run *b, const struct encoder_target *more, int rc)
{
	struct job *j = b->job;
	for (size_t k = 0; k < j->n_riders; k++) {
		struct job *r = &b->run->jobs[j->riders[k]];
		if (rc) {
			r->failed = true;
			error_save(&r->error, rc);
			continue;
		}
		r->outcome = j->outcome;
		memcpy(r->outcome.digest, more[k].digest, DIGEST_BUF);
		r->outcome.size = more[k].size;
	}
}

/* The one pass: source blob -> layer pipeline -> every open writer. */
static int stream_blob(struct blob_run *b)
{
	struct job *j = b->job;
	struct layer_task task = {
		.source = j->source,
		.encoding = layer_encoding(j->source),
		.reencode = j->reencode,
		.target = j->target,
		.want_diff_id = needs_diff_id(j),
		.on_progress = on_bytes,
		.progress_ctx = b,
		.n_more = j->n_riders,
	};
	char what[64];
	struct byte_sink *tee = NULL, **rider_tees = calloc(j->n_riders + 1, sizeof(*rider_tees));
	struct byte_source *src;
	struct output_meter meter = {{meter_write, meter_finish, meter_close}, NULL, b};
	describe(what, sizeof(what), b);
	b->task = progress_task_begin(b->run->progress, j->source->digest, what, j->source->size);
	task.more = calloc(j->n_riders + 1, sizeof(*task.more));
	int rc = rider_tees && task.more ? open_riders(b, task.more, rider_tees) : error_oom();
	if (!rc && b->n_outputs)
		rc = tee_sink_new(&tee, b->outputs, b->n_outputs);
	if (!rc && b->n_copies)
		rc = tee_sink_new(&task.copy_to, b->copies, b->n_copies);
	if (!rc)
		rc = source_set_open_blob(b->run->src, j->source, &src);
	if (rc == ERR_NOT_FOUND)
		rc = ERR_CORRUPT; /* a cache that names a blob it lacks is damaged */
	meter.next = tee;
	if (!rc)
		rc = layer_process(&j->outcome, src, &task, j->reencode && tee ? &meter.base : tee);
	sink_close(tee);
	sink_close(task.copy_to);
	for (size_t k = 0; rider_tees && k < j->n_riders; k++)
		sink_close(rider_tees[k]);
	if (!rc && task.want_diff_id)
		memcpy(j->measured_diff_id, j->outcome.diff_id, DIGEST_BUF);
	if (task.more)
		settle_riders(b, task.more, rc);
	free(rider_tees);
	free(task.more);
	b->read = !rc;
	return rc;
}

/* Publishes the blob at every destination whose writer took it whole. */
static void commit_deliveries(struct blob_run *b)
{
	for (size_t w = 0; w < b->n_writers; w++) {
		const struct job *j = b->writer_job[w];
		struct delivery *dl = b->guards[w].delivery;
		struct blob_writer *writer = b->guards[w].writer;
		const char *digest = as_is(j, dl) ? j->source->digest : j->outcome.digest;
		int64_t size = as_is(j, dl) ? j->source->size : j->outcome.size;
		if (dl->failed)
			continue;
		int rc = writer->commit(writer, digest, size, &dl->existed);
		if (rc) {
			delivery_fail(dl, rc);
			continue;
		}
		dl->done = true;
		if (dl->existed) {
			b->skipped++;
		} else {
			b->stored++;
			b->bytes_stored += size;
		}
	}
}

/* Every open delivery gets the blob, or the source is checked for it. */
static int move_blob(struct blob_run *b)
{
	if (!b->n_writers && !needs_diff_id(b->job))
		return check_source_holds(b);
	int rc = stream_blob(b);
	if (!rc)
		commit_deliveries(b);
	return rc;
}

static void add_totals(struct blob_run *b)
{
	struct progress_totals *t = b->run->totals;
	pthread_mutex_lock(&b->run->lock);
	t->layers_read += b->read;
	t->layers_written += b->stored;
	t->bytes_written += b->bytes_stored;
	t->layers_skipped += b->skipped;
	pthread_mutex_unlock(&b->run->lock);
}

int blob_job_run(void *ctx, size_t index)
{
	struct export_run *run = ctx;
	struct job *j = &run->jobs[index];
	struct blob_run b = {.run = run, .job = j, .task = -1};
	int rc = 0;
	if (j->riding)
		return 0; /* its host reads for it and fills it in */
	size_t n = j->n_deliveries + 1;
	for (size_t k = 0; k < j->n_riders; k++)
		n += run->jobs[j->riders[k]].n_deliveries;
	b.guards = calloc(n, sizeof(*b.guards));
	b.writer_job = calloc(n, sizeof(*b.writer_job));
	b.outputs = calloc(n, sizeof(*b.outputs));
	b.copies = calloc(n, sizeof(*b.copies));
	if (!b.guards || !b.writer_job || !b.outputs || !b.copies)
		rc = error_oom();
	for (size_t i = 0; i < j->n_deliveries && !rc; i++)
		open_delivery(&b, j, &j->deliveries[i]);
	for (size_t k = 0; k < j->n_riders && !rc; k++) {
		struct job *r = &run->jobs[j->riders[k]];
		for (size_t i = 0; i < r->n_deliveries; i++)
			open_delivery(&b, r, &r->deliveries[i]);
	}
	atomic_init(&b.alive, b.n_writers);
	if (!rc)
		rc = move_blob(&b);
	if (b.task >= 0)
		progress_task_end(run->progress, b.task, rc ? "failed" : "done", rc ? error_message() : NULL);
	else
		progress_layer_settled(run->progress, j->source->size);
	add_totals(&b);
	for (size_t w = 0; w < b.n_writers; w++)
		b.guards[w].writer->close(b.guards[w].writer);
	free(b.guards);
	free(b.writer_job);
	free(b.outputs);
	free(b.copies);
	if (rc) {
		j->failed = true;
		error_save(&j->error, rc);
		settle_riders(&b, NULL, rc);
	}
	return rc;
}
