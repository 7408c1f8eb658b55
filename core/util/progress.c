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
#include "core/util/json_out.h"
#include "core/util/secrets.h"

#define TTY_REFRESH_NS 100000000L  /* 10 redraws a second */
#define JSON_PROGRESS_NS 500000000L /* at most 2 progress events a second per task */

struct task {
	char blob[80];
	char action[16];
	int64_t total, done;
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
	/* tty mode */
	pthread_t thread;
	bool thread_running, stopping;
	pthread_cond_t wake;
	unsigned drawn; /* lines of the live block currently on screen */
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

static void json_event_begin(struct json_out *j, struct progress *p, const char *event)
{
	json_object_begin(j);
	json_member_string(j, "event", event);
	json_key(j, "elapsed");
	char t[32];
	int n = snprintf(t, sizeof(t), "%.3f", now() - p->started);
	json_raw(j, t, (size_t)n);
}

static void json_emit(struct progress *p, struct buffer *b)
{
	fprintf(p->out, "%s\n", b->data);
	fflush(p->out);
}

/* ---- tty ---------------------------------------------------------------- */

static void tty_erase(struct progress *p)
{
	for (unsigned i = 0; i < p->drawn; i++)
		fputs("\033[1A\033[2K", p->out);
	p->drawn = 0;
}

static void task_line(struct progress *p, const struct task *t, char *line, size_t size)
{
	char done[32], total[32], rate[32];
	double secs = now() - t->started;
	format_bytes(done, sizeof(done), t->done);
	format_bytes(total, sizeof(total), t->total);
	format_bytes(rate, sizeof(rate), secs > 0.05 ? (int64_t)((double)t->done / secs) : 0);
	snprintf(line, size, " => %-9s %.19s  %10s / %-10s %10s/s", t->action, t->blob, done, total,
		 rate);
	(void)p;
}

static void tty_draw(struct progress *p)
{
	char line[256];
	tty_erase(p);
	for (size_t i = 0; i < p->n_tasks; i++) {
		if (!p->tasks[i].active)
			continue;
		task_line(p, &p->tasks[i], line, sizeof(line));
		fprintf(p->out, "%s\n", line);
		p->drawn++;
	}
	fflush(p->out);
}

static void *tty_loop(void *arg)
{
	struct progress *p = arg;
	pthread_mutex_lock(&p->lock);
	while (!p->stopping) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += TTY_REFRESH_NS;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&p->wake, &p->lock, &until);
		if (!p->stopping)
			tty_draw(p);
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
	if (mode == PROGRESS_TTY && pthread_create(&p->thread, NULL, tty_loop, p) == 0)
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
		tty_erase(p);
		fflush(p->out);
	}
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	free(p->tasks);
	free(p);
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
		json_object_end(&j);
		if (!json_out_status(&j))
			json_emit(p, &b);
		buffer_free(&b);
	}
	pthread_mutex_unlock(&p->lock);
	return id;
}

void progress_task_add(struct progress *p, int task, int64_t bytes)
{
	if (!p || task < 0)
		return;
	pthread_mutex_lock(&p->lock);
	struct task *t = &p->tasks[task];
	t->done += bytes;
	if (p->mode == PROGRESS_JSON && now() - t->last_event >= JSON_PROGRESS_NS / 1e9) {
		struct buffer b = BUFFER_INIT;
		struct json_out j;
		t->last_event = now();
		json_out_init(&j, &b);
		json_event_begin(&j, p, "progress");
		json_member_string(&j, "blob", t->blob);
		json_member_int(&j, "current", t->done);
		json_member_int(&j, "total", t->total);
		json_object_end(&j);
		if (!json_out_status(&j))
			json_emit(p, &b);
		buffer_free(&b);
	}
	pthread_mutex_unlock(&p->lock);
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
	double secs = now() - t->started;
	if (p->mode == PROGRESS_JSON) {
		struct buffer b = BUFFER_INIT;
		struct json_out j;
		char s[32];
		json_out_init(&j, &b);
		json_event_begin(&j, p, "end");
		json_member_string(&j, "blob", t->blob);
		json_member_string(&j, "action", t->action);
		json_member_string(&j, "outcome", outcome);
		json_member_int(&j, "bytes", t->done);
		json_key(&j, "seconds");
		int n = snprintf(s, sizeof(s), "%.3f", secs);
		json_raw(&j, s, (size_t)n);
		if (detail)
			json_member_string(&j, "detail", detail);
		json_object_end(&j);
		if (!json_out_status(&j))
			json_emit(p, &b);
		buffer_free(&b);
	} else if (p->mode != PROGRESS_QUIET) {
		char line[1700], bytes[32], rate[32];
		format_bytes(bytes, sizeof(bytes), t->done);
		format_bytes(rate, sizeof(rate), secs > 0.001 ? (int64_t)((double)t->done / secs) : 0);
		snprintf(line, sizeof(line), "%-8s %-9s %s  %s in %.2fs (%s/s)%s%s", outcome, t->action,
			 t->blob, bytes, secs, rate, detail ? "  " : "", detail ? detail : "");
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
		json_object_end(&j);
		if (!json_out_status(&j))
			json_emit(p, &b);
		buffer_free(&b);
	} else if (p->mode != PROGRESS_QUIET) {
		char line[1100];
		snprintf(line, sizeof(line), "note: %s", msg);
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
		char s[32];
		json_out_init(&j, &b);
		json_event_begin(&j, p, "summary");
		json_member_string(&j, "command", verb);
		json_member_int(&j, "layersRead", t->layers_read);
		json_member_int(&j, "layersWritten", t->layers_written);
		json_member_int(&j, "layersSkipped", t->layers_skipped);
		json_member_int(&j, "bytesRead", t->bytes_read);
		json_member_int(&j, "bytesWritten", t->bytes_written);
		json_key(&j, "seconds");
		int n = snprintf(s, sizeof(s), "%.3f", secs);
		json_raw(&j, s, (size_t)n);
		json_object_end(&j);
		if (!json_out_status(&j))
			json_emit(p, &b);
		buffer_free(&b);
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
