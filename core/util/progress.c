#include "core/util/progress.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/util/buffer.h"
#include "core/util/error.h"
#include "core/util/export_result.h"
#include "core/util/json_out.h"
#include "core/util/secrets.h"

#define TTY_REFRESH_NS 100000000L  /* 10 redraws a second */
#define TICK_NS 1000000000L        /* plain and json: a report every second */
#define JSON_PROGRESS_S 0.5        /* at most 2 byte-driven events a second per task */
#define MIN_RATE_SECONDS 0.01      /* shorter: no rate worth printing */

struct task {
	char blob[80];
	char action[16];
	int64_t total, done, written;
	double started, last_event;
	bool active;
};

struct progress {
	enum progress_mode mode;
	FILE *out;
	pthread_mutex_t lock;
	struct task *tasks;
	size_t n_tasks, cap;
	double started;
	/* the overall line */
	unsigned planned_layers, finished;
	int64_t planned_bytes, finished_bytes;
	/* the ticker (tty: redraws; plain and json: a report a second) */
	pthread_t thread;
	bool thread_running, stopping;
	pthread_cond_t wake;
	unsigned drawn; /* tty: lines of the live block currently on screen */
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void format_bytes(char *out, size_t size, int64_t n)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, size, "%" PRId64 " B", n);
	else
		snprintf(out, size, "%.1f %s", v, units[u]);
}

/* " (1.5 MiB/s)", or nothing when the time is too short to say: an
 * instant copy has no rate, and "0 B/s" would be a lie. */
static void format_rate(char *out, size_t size, int64_t bytes, double secs)
{
	char b[32];
	out[0] = '\0';
	if (secs < MIN_RATE_SECONDS || bytes <= 0)
		return;
	format_bytes(b, sizeof(b), (int64_t)((double)bytes / secs));
	snprintf(out, size, " (%s/s)", b);
}

int progress_mode_parse(enum progress_mode *out, const char *text)
{
	static const char *const names[] = {"auto", "tty", "plain", "json", "quiet"};
	for (int i = 0; i < 5; i++) {
		if (strcmp(text, names[i]) == 0) {
			*out = (enum progress_mode)i;
			return 0;
		}
	}
	return error_set(ERR_USAGE, "--progress=%s is not one of auto, tty, plain, json, quiet", text);
}

/* ---- json --------------------------------------------------------------- */

static void json_seconds(struct json_out *j, const char *key, double secs)
{
	char t[32];
	int n = snprintf(t, sizeof(t), "%.3f", secs);
	json_key(j, key);
	json_raw(j, t, (size_t)n);
}

static void json_event_begin(struct json_out *j, struct progress *p, const char *event)
{
	json_object_begin(j);
	json_member_string(j, "event", event);
	json_seconds(j, "elapsed", now() - p->started);
}

/* Ends the event's object and prints it as one line. */
static void json_emit(struct progress *p, struct json_out *j, struct buffer *b)
{
	json_object_end(j);
	if (!json_out_status(j)) {
		fprintf(p->out, "%s\n", b->data);
		fflush(p->out);
	}
	buffer_free(b);
}

static void json_task_progress(struct progress *p, struct task *t)
{
	struct buffer b = BUFFER_INIT;
	struct json_out j;
	t->last_event = now();
	json_out_init(&j, &b);
	json_event_begin(&j, p, "progress");
	json_member_string(&j, "blob", t->blob);
	json_member_string(&j, "action", t->action);
	json_member_int(&j, "current", t->done);
	json_member_int(&j, "total", t->total);
	json_member_int(&j, "written", t->written);
	json_emit(p, &j, &b);
}

/* ---- the overall line --------------------------------------------------- */

struct overall {
	unsigned done, total, active;
	int64_t read, written, bytes_total;
	int64_t moved; /* each task's pace: a re-encode's output, a copy's input */
	double secs, eta; /* eta < 0: not known yet */
};

static void overall_of(struct progress *p, struct overall *o)
{
	memset(o, 0, sizeof(*o));
	o->secs = now() - p->started;
	o->done = p->finished;
	for (size_t i = 0; i < p->n_tasks; i++) {
		o->read += p->tasks[i].done;
		o->written += p->tasks[i].written;
		o->moved += p->tasks[i].written ? p->tasks[i].written : p->tasks[i].done;
		o->active += p->tasks[i].active;
	}
	o->total = p->planned_layers > p->n_tasks ? p->planned_layers : (unsigned)p->n_tasks;
	o->bytes_total = p->planned_bytes;
	if (!o->bytes_total)
		for (size_t i = 0; i < p->n_tasks; i++)
			o->bytes_total += p->tasks[i].total;
	/* The ETA comes from finished work only: bytes read say little while
	 * an encoder still holds them. */
	o->eta = -1;
	if (p->finished_bytes > 0 && o->secs >= MIN_RATE_SECONDS && o->bytes_total >= p->finished_bytes)
		o->eta = (double)(o->bytes_total - p->finished_bytes) * o->secs / (double)p->finished_bytes;
}

static void overall_line(struct progress *p, char *line, size_t size)
{
	struct overall o;
	char read[32], total[32], written[32], rate[48], eta[32] = "";
	overall_of(p, &o);
	format_bytes(read, sizeof(read), o.read);
	format_bytes(total, sizeof(total), o.bytes_total);
	format_bytes(written, sizeof(written), o.written);
	format_rate(rate, sizeof(rate), o.moved, o.secs);
	if (o.eta >= 0)
		snprintf(eta, sizeof(eta), ", ETA %.0fs", o.eta);
	snprintf(line, size, "[%u/%u layers] %s / %s read, %s written in %.1fs%s%s", o.done, o.total, read, total,
		 written, o.secs, rate, eta);
}

static void json_status(struct progress *p)
{
	struct overall o;
	struct buffer b = BUFFER_INIT;
	struct json_out j;
	overall_of(p, &o);
	json_out_init(&j, &b);
	json_event_begin(&j, p, "status");
	json_member_int(&j, "layersDone", o.done);
	json_member_int(&j, "layersTotal", o.total);
	json_member_int(&j, "active", o.active);
	json_member_int(&j, "bytesRead", o.read);
	json_member_int(&j, "bytesTotal", o.bytes_total);
	json_member_int(&j, "bytesWritten", o.written);
	json_key(&j, "eta");
	if (o.eta >= 0) {
		char t[32];
		int n = snprintf(t, sizeof(t), "%.1f", o.eta);
		json_raw(&j, t, (size_t)n);
	} else {
		json_null(&j);
	}
	json_emit(p, &j, &b);
}

/* ---- tty ---------------------------------------------------------------- */

static void tty_erase(struct progress *p)
{
	for (unsigned i = 0; i < p->drawn; i++)
		fputs("\033[1A\033[2K", p->out);
	p->drawn = 0;
}

static void task_line(const struct task *t, char *line, size_t size)
{
	char done[32], total[32], written[48] = "", rate[48];
	double secs = now() - t->started;
	format_bytes(done, sizeof(done), t->done);
	format_bytes(total, sizeof(total), t->total);
	if (t->written) {
		char w[32];
		format_bytes(w, sizeof(w), t->written);
		snprintf(written, sizeof(written), ", %s written", w);
	}
	/* A re-encode's pace is its output's. */
	format_rate(rate, sizeof(rate), t->written ? t->written : t->done, secs);
	snprintf(line, size, " => %-9s %.19s  %s / %s%s%s", t->action, t->blob, done, total, written, rate);
}

static void tty_draw(struct progress *p)
{
	char line[256];
	tty_erase(p);
	size_t active = 0;
	for (size_t i = 0; i < p->n_tasks; i++) {
		if (!p->tasks[i].active)
			continue;
		task_line(&p->tasks[i], line, sizeof(line));
		fprintf(p->out, "%s\n", line);
		p->drawn++;
		active++;
	}
	if (active || p->planned_layers) {
		overall_line(p, line, sizeof(line));
		fprintf(p->out, "%s\n", line);
		p->drawn++;
	}
	fflush(p->out);
}

/* plain and json: what is running, once a second, however slow it is. */
static void tick_report(struct progress *p)
{
	bool active = false;
	for (size_t i = 0; i < p->n_tasks; i++) {
		active |= p->tasks[i].active;
		if (p->tasks[i].active && p->mode == PROGRESS_JSON)
			json_task_progress(p, &p->tasks[i]);
	}
	if (!active && !p->planned_layers)
		return;
	if (p->mode == PROGRESS_JSON) {
		json_status(p);
	} else {
		char line[256];
		overall_line(p, line, sizeof(line));
		fprintf(p->out, "progress: %s\n", line);
		fflush(p->out);
	}
}

static void *ticker(void *arg)
{
	struct progress *p = arg;
	long step = p->mode == PROGRESS_TTY ? TTY_REFRESH_NS : TICK_NS;
	pthread_mutex_lock(&p->lock);
	while (!p->stopping) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += step / 1000000000L;
		until.tv_nsec += step % 1000000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		/* Waits the whole step: a wake-up is only for stopping. */
		while (!p->stopping && pthread_cond_timedwait(&p->wake, &p->lock, &until) == 0)
			;
		if (p->stopping)
			break;
		if (p->mode == PROGRESS_TTY)
			tty_draw(p);
		else
			tick_report(p);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Prints a permanent line above the live block. */
static void emit_line(struct progress *p, const char *line)
{
	if (p->mode == PROGRESS_TTY)
		tty_erase(p);
	fprintf(p->out, "%s\n", line);
	if (p->mode == PROGRESS_TTY)
		tty_draw(p);
	else
		fflush(p->out);
}

/* ---- public ------------------------------------------------------------- */

int progress_new(struct progress **out, enum progress_mode mode, FILE *stream)
{
	struct progress *p = calloc(1, sizeof(*p));
	CHECK_ALLOC(p);
	if (mode == PROGRESS_AUTO) {
		const char *term = getenv("TERM");
		mode = isatty(fileno(stream)) && term && strcmp(term, "dumb") != 0 ? PROGRESS_TTY
										     : PROGRESS_PLAIN;
	}
	p->mode = mode;
	p->out = stream;
	p->started = now();
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	/* Without the thread the reports are only those the work makes. */
	if (mode != PROGRESS_QUIET && pthread_create(&p->thread, NULL, ticker, p) == 0)
		p->thread_running = true;
	*out = p;
	return 0;
}

void progress_free(struct progress *p)
{
	if (!p)
		return;
	if (p->thread_running) {
		pthread_mutex_lock(&p->lock);
		p->stopping = true;
		pthread_cond_signal(&p->wake);
		pthread_mutex_unlock(&p->lock);
		pthread_join(p->thread, NULL);
		if (p->mode == PROGRESS_TTY)
			tty_erase(p);
		fflush(p->out);
	}
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	free(p->tasks);
	free(p);
}

void progress_plan(struct progress *p, unsigned layers, int64_t bytes)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->planned_layers = layers;
	p->planned_bytes = bytes;
	pthread_mutex_unlock(&p->lock);
}

void progress_layer_settled(struct progress *p, int64_t bytes)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->finished++;
	p->planned_bytes -= p->planned_bytes >= bytes ? bytes : p->planned_bytes;
	pthread_mutex_unlock(&p->lock);
}

int progress_task_begin(struct progress *p, const char *blob, const char *action, int64_t total)
{
	if (!p)
		return -1;
	pthread_mutex_lock(&p->lock);
	if (p->n_tasks == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 32;
		struct task *t = realloc(p->tasks, cap * sizeof(*t));
		if (!t) {
			pthread_mutex_unlock(&p->lock);
			return -1;
		}
		p->tasks = t;
		p->cap = cap;
	}
	int id = (int)p->n_tasks++;
	struct task *t = &p->tasks[id];
	memset(t, 0, sizeof(*t));
	snprintf(t->blob, sizeof(t->blob), "%s", blob);
	snprintf(t->action, sizeof(t->action), "%s", action);
	t->total = total;
	t->started = t->last_event = now();
	t->active = true;
	if (p->mode == PROGRESS_JSON) {
		struct buffer b = BUFFER_INIT;
		struct json_out j;
		json_out_init(&j, &b);
		json_event_begin(&j, p, "begin");
		json_member_string(&j, "blob", blob);
		json_member_string(&j, "action", action);
		json_member_int(&j, "total", total);
		json_emit(p, &j, &b);
	}
	pthread_mutex_unlock(&p->lock);
	return id;
}

static void task_count(struct progress *p, int task, int64_t read, int64_t written)
{
	if (!p || task < 0)
		return;
	pthread_mutex_lock(&p->lock);
	struct task *t = &p->tasks[task];
	t->done += read;
	t->written += written;
	if (p->mode == PROGRESS_JSON && now() - t->last_event >= JSON_PROGRESS_S)
		json_task_progress(p, t);
	pthread_mutex_unlock(&p->lock);
}

void progress_task_add(struct progress *p, int task, int64_t bytes)
{
	task_count(p, task, bytes, 0);
}

void progress_task_written(struct progress *p, int task, int64_t bytes)
{
	task_count(p, task, 0, bytes);
}

static void json_task_end(struct progress *p, const struct task *t, const char *outcome, const char *detail,
			  double secs)
{
	struct buffer b = BUFFER_INIT;
	struct json_out j;
	json_out_init(&j, &b);
	json_event_begin(&j, p, "end");
	json_member_string(&j, "blob", t->blob);
	json_member_string(&j, "action", t->action);
	json_member_string(&j, "outcome", outcome);
	json_member_int(&j, "bytes", t->done);
	json_member_int(&j, "written", t->written);
	json_seconds(&j, "seconds", secs);
	if (detail)
		json_member_string(&j, "detail", detail);
	json_emit(p, &j, &b);
}

void progress_task_end(struct progress *p, int task, const char *outcome, const char *detail_raw)
{
	char scrubbed[1024];
	const char *detail = NULL;
	if (detail_raw) {
		snprintf(scrubbed, sizeof(scrubbed), "%s", detail_raw);
		secret_scrub(scrubbed);
		detail = scrubbed;
	}
	if (!p || task < 0)
		return;
	pthread_mutex_lock(&p->lock);
	struct task *t = &p->tasks[task];
	t->active = false;
	p->finished++;
	p->finished_bytes += t->total > 0 ? t->total : t->done;
	double secs = now() - t->started;
	if (p->mode == PROGRESS_JSON) {
		json_task_end(p, t, outcome, detail, secs);
	} else if (p->mode != PROGRESS_QUIET) {
		char line[1700], bytes[32], written[48] = "", rate[48];
		format_bytes(bytes, sizeof(bytes), t->done);
		if (t->written) {
			char w[32];
			format_bytes(w, sizeof(w), t->written);
			snprintf(written, sizeof(written), " -> %s", w);
		}
		format_rate(rate, sizeof(rate), t->written ? t->written : t->done, secs);
		snprintf(line, sizeof(line), "%-8s %-9s %s  %s%s in %.2fs%s%s%s", outcome, t->action, t->blob, bytes,
			 written, secs, rate, detail ? "  " : "", detail ? detail : "");
		emit_line(p, line);
	}
	pthread_mutex_unlock(&p->lock);
}

void progress_note(struct progress *p, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Notes quote servers' answers: no credential of this run in them. */
	secret_scrub(msg);
	if (!p) {
		fprintf(stderr, "cachectl: %s\n", msg);
		return;
	}
	pthread_mutex_lock(&p->lock);
	if (p->mode == PROGRESS_JSON) {
		struct buffer b = BUFFER_INIT;
		struct json_out j;
		json_out_init(&j, &b);
		json_event_begin(&j, p, "note");
		json_member_string(&j, "message", msg);
		json_emit(p, &j, &b);
	} else if (p->mode != PROGRESS_QUIET) {
		char line[1100];
		snprintf(line, sizeof(line), "note: %s", msg);
		emit_line(p, line);
	}
	pthread_mutex_unlock(&p->lock);
}

void progress_result(struct progress *p, const struct export_result *r)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	if (p->mode == PROGRESS_JSON) {
		struct buffer b = BUFFER_INIT;
		struct json_out j;
		json_out_init(&j, &b);
		json_event_begin(&j, p, "result");
		export_result_members(&j, r);
		json_emit(p, &j, &b);
	} else if (p->mode != PROGRESS_QUIET) {
		char line[2048], bytes[32];
		format_bytes(bytes, sizeof(bytes), r->bytes_written);
		snprintf(line, sizeof(line),
			 "%s: %s, root %s, config %s; %zu records, %u blobs written (%s), %u already there%s%s",
			 r->destination ? r->destination : "?", r->outcome ? r->outcome : "failed",
			 *r->root_digest ? r->root_digest : "(none)", *r->config_digest ? r->config_digest : "(none)",
			 r->records, r->blobs_written, bytes, r->blobs_skipped, *r->error ? ": " : "", r->error);
		secret_scrub(line);
		emit_line(p, line);
	}
	pthread_mutex_unlock(&p->lock);
}

void progress_summary(struct progress *p, const char *verb, const struct progress_totals *t)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	double secs = now() - p->started;
	if (p->mode == PROGRESS_JSON) {
		struct buffer b = BUFFER_INIT;
		struct json_out j;
		json_out_init(&j, &b);
		json_event_begin(&j, p, "summary");
		json_member_string(&j, "command", verb);
		json_member_int(&j, "layersRead", t->layers_read);
		json_member_int(&j, "layersWritten", t->layers_written);
		json_member_int(&j, "layersSkipped", t->layers_skipped);
		json_member_int(&j, "bytesRead", t->bytes_read);
		json_member_int(&j, "bytesWritten", t->bytes_written);
		json_seconds(&j, "seconds", secs);
		json_emit(p, &j, &b);
	} else if (p->mode != PROGRESS_QUIET) {
		char line[512], rd[32], wr[32];
		format_bytes(rd, sizeof(rd), t->bytes_read);
		format_bytes(wr, sizeof(wr), t->bytes_written);
		snprintf(line, sizeof(line),
			 "%s: %u layers read, %u written, %u skipped as already present; %s read, %s written in %.2fs",
			 verb, t->layers_read, t->layers_written, t->layers_skipped, rd, wr, secs);
		emit_line(p, line);
	}
	pthread_mutex_unlock(&p->lock);
}

void progress_error_event(FILE *stream, const char *message, int exit_code)
{
	struct buffer b = BUFFER_INIT;
	struct json_out j;
	json_out_init(&j, &b);
	json_object_begin(&j);
	json_member_string(&j, "event", "error");
	json_member_string(&j, "message", message);
	json_member_int(&j, "exitCode", exit_code);
	json_object_end(&j);
	if (!json_out_status(&j))
		fprintf(stream, "%s\n", b.data);
	else
		fprintf(stream, "{\"event\":\"error\",\"exitCode\":%d}\n", exit_code);
	fflush(stream);
	buffer_free(&b);
}
