/* The state of one export, shared by its steps inside transport/engine
 * (not for other layers): the jobs the plan makes, what each delivers to
 * which destination, and what came of it. */
#ifndef CACHECTL_EXPORT_RUN_H
#define CACHECTL_EXPORT_RUN_H

#include <pthread.h>
#include <stdbool.h>

#include "core/codec/layer_pipeline.h"
#include "core/util/error.h"
#include "transport/engine/cache_transfer.h"

/* What one destination gets for one blob. */
struct delivery {
	size_t dest;
	bool done;      /* stored or found present */
	bool existed;   /* found present: nothing written */
	bool failed;    /* this destination could not take it */
	/* In a re-encode job: takes the source blob as it is, riding on the
	 * job's read (export_plan_share_reads). */
	bool copy;
	struct error_state error;
};

/* One source blob, read once, delivered in one encoding to several
 * destinations -- and, for a re-encode, as it is to others. */
struct job {
	const struct descriptor *source; /* in the merged cache */
	bool reencode;
	struct codec_options target;
	struct delivery *deliveries;
	size_t n_deliveries, cap_deliveries;
	/* results */
	struct layer_outcome outcome;
	char measured_diff_id[DIGEST_BUF]; /* computed when the source had none */
	bool failed;
	struct error_state error;
	/* Other re-encodes of the same blob that ride on this job's read
	 * (indexes in run->jobs, owned): one read feeds every encoding. */
	size_t *riders;
	size_t n_riders;
	bool riding; /* this job is one of those: its host runs it */
};

/* A re-encode not done: destination `dest` holds its result already
 * (transport/engine/blob_reuse.h). */
struct reuse {
	size_t dest;
	const struct descriptor *source; /* in the merged cache */
	struct descriptor found;         /* the destination's, owned */
};

struct export_run {
	struct source_set *src;
	struct destination *dests;
	struct cache **caches; /* per destination, NULL when skipped */
	struct job *jobs;      /* owned, with their deliveries */
	size_t n_jobs, cap_jobs;
	struct reuse *reuses; /* owned */
	size_t n_reuses, cap_reuses;
	struct progress *progress;
	pthread_mutex_t lock; /* guards totals while jobs run */
	struct progress_totals *totals;
};

/* Decides which blobs destination di needs and how, adding them to the
 * run's jobs; sets run->caches[di] unless there is nothing to export. */
int export_plan_destination(struct export_run *run, size_t di);

/* Once every destination is planned: a blob both copied and re-encoded is
 * read once, its copies riding on the re-encode's read.  Not when the
 * copy would need its diffID measured (a re-encode measures the diffID of
 * what it writes).  A blob re-encoded several ways (zstd for one
 * destination, gzip or another level for another) is read once too, the
 * other re-encodes riding on the first -- unless one of them writes
 * eStargz, which walks the tar on its own. */
int export_plan_share_reads(struct export_run *run);

/* Runs job `index` of the run (a parallel_for body): every delivery ends
 * done or failed, and the job itself failed when the source blob could not
 * be read. */
int blob_job_run(void *run, size_t index);

#endif
