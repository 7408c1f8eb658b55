/* Progress reporting, as buildx and oras users know it: live per-blob lines
 * on a terminal, plain lines in logs, one JSON event per line for CI tools,
 * or nothing.  All calls are thread-safe; everything goes to one stream
 * (stderr), so the command's real output on stdout stays clean. */
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

CACHECTL_MUST_CHECK int progress_mode_parse(enum progress_mode *out, const char *text);
CACHECTL_MUST_CHECK int progress_new(struct progress **out, enum progress_mode mode, FILE *stream);
/* Stops the live display (printing what is left); does not print a summary. */
void progress_free(struct progress *p);

/* One unit of work on a blob: returns a handle for the calls below. */
int progress_task_begin(struct progress *p, const char *blob, const char *action, int64_t total);
void progress_task_add(struct progress *p, int task, int64_t bytes);
/* outcome: "written", "skipped", "verified", "failed" ...; detail may be NULL. */
void progress_task_end(struct progress *p, int task, const char *outcome, const char *detail);

/* A one-line notice ("note: ...") or warning. */
void progress_note(struct progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The closing line: layers read, written, skipped, bytes and time. */
void progress_summary(struct progress *p, const char *verb, const struct progress_totals *t);

/* Human byte counts: "1.5 MiB". */
void format_bytes(char *out, size_t size, int64_t n);

#endif
