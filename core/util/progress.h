/* Progress reporting, as buildx and oras users know it: live per-blob lines
 * under an overall line (layers, bytes, rate, ETA) on a terminal, plain
 * lines in logs, one JSON event per line for CI tools (docs/progress.md),
 * or nothing.  In plain and JSON mode a ticker reports at least once a
 * second while work runs, so a long re-encode is never silent.  All calls
 * are thread-safe; everything goes to one stream (stderr), so the
 * command's real output on stdout stays clean. */
#ifndef CACHECTL_PROGRESS_H
#define CACHECTL_PROGRESS_H

#include "core/util/error.h"

#include <stdint.h>
#include <stdio.h>

enum progress_mode {
	PROGRESS_AUTO,
	PROGRESS_TTY,
	PROGRESS_PLAIN,
	PROGRESS_JSON,
	PROGRESS_QUIET,
};

struct progress_totals {
	unsigned layers_read;    /* blobs read from a source */
	unsigned layers_written; /* blobs written to a destination */
	unsigned layers_skipped; /* already present at the destination */
	int64_t bytes_read;
	int64_t bytes_written;
};

struct progress;
struct export_result;

CACHECTL_MUST_CHECK int progress_mode_parse(enum progress_mode *out, const char *text);
CACHECTL_MUST_CHECK int progress_new(struct progress **out, enum progress_mode mode, FILE *stream);
/* Stops the live display and the ticker (printing what is left); does not
 * print a summary. */
void progress_free(struct progress *p);

/* The work ahead, for the overall line and its ETA: `layers` tasks moving
 * `bytes` source bytes.  Without it, the tasks begun so far are the total. */
void progress_plan(struct progress *p, unsigned layers, int64_t bytes);

/* A planned layer that needed no task (every destination had it). */
void progress_layer_settled(struct progress *p, int64_t bytes);

/* One unit of work on a blob: returns a handle for the calls below. */
int progress_task_begin(struct progress *p, const char *blob, const char *action, int64_t total);
/* Source bytes the task consumed. */
void progress_task_add(struct progress *p, int task, int64_t bytes);
/* Encoded bytes the task produced (a re-encode's output): an encoder that
 * takes its input long before it gives its output (zstd at level 19)
 * shows its work here, not in the bytes read. */
void progress_task_written(struct progress *p, int task, int64_t bytes);
/* outcome: "done", "ok", "failed" ...; detail may be NULL. */
void progress_task_end(struct progress *p, int task, const char *outcome, const char *detail);

/* A one-line notice ("note: ...") or warning. */
void progress_note(struct progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* What one destination of an export got: a `result` event, or a line
 * naming the root it wrote. */
void progress_result(struct progress *p, const struct export_result *r);

/* The closing line: layers read, written, skipped, bytes and time. */
void progress_summary(struct progress *p, const char *verb, const struct progress_totals *t);

/* A fatal error as the one JSON event it is in JSON mode:
 * {"event":"error","message":...,"exitCode":N}.  For the command line's
 * last word, when there may be no struct progress at all. */
void progress_error_event(FILE *stream, const char *message, int exit_code);

/* Human byte counts: "1.5 MiB". */
void format_bytes(char *out, size_t size, int64_t n);

#endif
