#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/debug_trace.h"
#include "core/util/duration.h"
#include "core/util/error.h"
#include "formats/oci_layout.h"
#include "core/util/parallel.h"
#include "core/util/export_result.h"
#include "core/util/secrets.h"

int single_source_load(struct single_source *s, const char *text, struct progress *p)
{
	memset(s, 0, sizeof(*s));
	int rc = cache_spec_parse(&s->spec, text, TRANSPORT_SOURCE);
	if (!rc)
		rc = transport_open(&s->transport, &s->spec, TRANSPORT_SOURCE, p);
	if (!rc)
		rc = source_set_load(&s->set, &s->transport, 1, p);
	if (!rc)
		rc = cache_referenced_blobs(s->set.merged, &s->blobs, &s->n_blobs);
	return rc;
}

int store_open(struct cache_options *spec, struct transport **out, const char *text, struct progress *p)
{
	int rc = cache_spec_parse(spec, text, TRANSPORT_SOURCE);
	if (!rc)
		rc = transport_open(out, spec, TRANSPORT_SOURCE, p);
	if (!rc && !(*out)->ops->store) {
		rc = error_set(ERR_USAGE, "type=%s has no store to list or prune (local, registry, s3 and gha have)",
			       spec->type);
		transport_free(*out);
		*out = NULL;
	}
	return rc;
}

void single_source_free(struct single_source *s)
{
	free(s->blobs);
	source_set_free(&s->set);
	transport_free(s->transport);
	cache_options_free(&s->spec);
	memset(s, 0, sizeof(*s));
}

int sources_open(struct transport **out, struct cache_options *specs, size_t *n_open, const char *const *texts,
		 size_t n, struct progress *p)
{
	int rc = 0;
	*n_open = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		if ((rc = cache_spec_parse(&specs[i], texts[i], TRANSPORT_SOURCE)) ||
		    (rc = transport_open(&out[i], &specs[i], TRANSPORT_SOURCE, p))) {
			rc = n > 1 ? error_wrap(rc, "--from #%zu", i + 1) : error_wrap(rc, "--from");
			break;
		}
		(*n_open)++;
	}
	return rc;
}

void print_backend_lines(FILE *out)
{
	const struct transport_handler *const *h = transport_handlers();
	for (size_t i = 0; h[i]; i++) {
		char spec[96];
		snprintf(spec, sizeof(spec), "type=%s%s%s", h[i]->type, *h[i]->synopsis == '[' ? "" : ",",
			 h[i]->synopsis);
		fprintf(out, "  %-52s %s\n", spec, h[i]->summary);
	}
}

void known_types_text(char *out, size_t size, enum transport_direction dir)
{
	const struct transport_handler *const *h = transport_handlers();
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; h[i] && used < size; i++)
		if (dir == TRANSPORT_SOURCE ? h[i]->can_read : h[i]->can_write)
			used += (size_t)snprintf(out + used, size - used, "%s%s", used ? ", " : "", h[i]->type);
}

enum progress_mode quiet_unless_asked(enum progress_mode m)
{
	return m == PROGRESS_AUTO ? PROGRESS_QUIET : m;
}

void common_options_init(struct common_options *c)
{
	c->progress = PROGRESS_AUTO;
	c->jobs = parallel_default_threads();
	c->lock_timeout = OCI_LAYOUT_LOCK_TIMEOUT_DEFAULT;
}

static void note_lock_wait(void *ctx, const char *lock_path)
{
	progress_note(ctx, "waiting for %s: another process is using this cache", lock_path);
}

void common_options_apply(const struct common_options *c, struct progress *p)
{
	oci_layout_set_lock_wait(c->lock_timeout, p ? note_lock_wait : NULL, p);
}

/* Once --progress json is read, everything on stderr is JSON: the last
 * word too (report_error), usage errors after it included. */
static bool errors_as_json;

void errors_as_json_scan(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--progress=json") == 0)
			errors_as_json = true;
		else if (strcmp(argv[i], "--progress") == 0 && i + 1 < argc)
			errors_as_json = strcmp(argv[++i], "json") == 0;
	}
}

int common_option(struct common_options *c, int opt, const char *arg, int *rc)
{
	if (opt == OPT_PROGRESS) {
		*rc = progress_mode_parse(&c->progress, arg);
		if (!*rc)
			errors_as_json = c->progress == PROGRESS_JSON;
		return 1;
	}
	if (opt == OPT_DEBUG) {
		debug_trace_enable(DEBUG_HTTP);
		return 1;
	}
	if (opt == OPT_LOCK_TIMEOUT) {
		double seconds;
		*rc = duration_parse(&seconds, arg, "--lock-timeout");
		if (!*rc && seconds < 0)
			*rc = error_set(ERR_USAGE, "--lock-timeout=%s is negative", arg);
		if (!*rc)
			c->lock_timeout = seconds;
		return 1;
	}
	if (opt == OPT_JOBS) {
		char *end;
		errno = 0;
		long n = strtol(arg, &end, 10);
		if (!*arg || *end || errno || n < 1 || n > 256)
			*rc = error_set(ERR_USAGE, "--jobs=%s is not a number from 1 to 256", arg);
		else
			c->jobs = (unsigned)n;
		return 1;
	}
	return 0;
}

int bad_option(int opt, char **argv)
{
	const char *arg = argv[optind - 1];
	if (opt == ':')
		return error_set(ERR_USAGE, "%s: option %s needs a value", argv[0], arg);
	return error_set(ERR_USAGE, "%s: unknown option %s (see cachectl %s --help)", argv[0], arg, argv[0]);
}

int exit_code_of(int rc)
{
	switch (rc) {
	case 0:
		return EXIT_OK;
	case ERR_USAGE:
		return EXIT_USAGE;
	case ERR_NOT_FOUND:
		return EXIT_NO_CACHE;
	default:
		return EXIT_FAILURE_;
	}
}

int report_error(int rc)
{
	if (!rc)
		return EXIT_OK;
	/* The last line of defence: no credential of this run, and no control
	 * character (a newline would split the message, an escape reach the
	 * terminal), whatever path the text took to get here. */
	char text[ERROR_MESSAGE_MAX];
	snprintf(text, sizeof(text), "%s", error_message());
	secret_scrub(text);
	if (errors_as_json) {
		progress_error_event(stderr, text, exit_code_of(rc));
		return exit_code_of(rc);
	}
	fputs("cachectl: ", stderr);
	for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
		if (*c == '\n')
			fputs("\\n", stderr);
		else if (*c < 0x20 || *c == 0x7f)
			fprintf(stderr, "\\x%02x", *c);
		else
			fputc(*c, stderr);
	}
	fputc('\n', stderr);
	return exit_code_of(rc);
}

/* Where each type keeps its cache, as the result names it. */
static const struct {
	const char *type, *key, *result_key;
} places[] = {
	{"local", "dest", "dir"},    {"registry", "ref", "ref"},  {"inline", "ref", "ref"},
	{"s3", "bucket", "bucket"},  {"gha", "scope", "scope"},  {"azblob", "container", "container"},
};

/* The tag of a registry reference (host:port/repo:tag), or NULL. */
static const char *reference_tag(const char *ref)
{
	const char *slash = strrchr(ref, '/'), *colon = strrchr(ref, ':');
	if (strchr(ref, '@') || !colon || (slash && colon < slash))
		return NULL;
	return colon + 1;
}

void destination_result_name(struct destination *d, struct cache_options *spec)
{
	struct export_result *r = &d->result;
	r->destination = d->transport->display;
	r->type = spec->type;
	for (size_t i = 0; i < sizeof(places) / sizeof(places[0]); i++) {
		if (strcmp(spec->type, places[i].type) != 0)
			continue;
		r->place_key = places[i].result_key;
		r->place = options_get(spec, places[i].key);
	}
	r->tag = options_get(spec, "tag");
	if (!r->tag)
		r->tag = options_get(spec, "name");
	if (!r->tag && r->place && strcmp(r->place_key, "ref") == 0)
		r->tag = reference_tag(r->place);
}

int metadata_file_write(const char *path, const char *command, const struct destination *d, size_t n)
{
	struct export_result *r = calloc(n + 1, sizeof(*r));
	CHECK_ALLOC(r);
	for (size_t i = 0; i < n; i++)
		r[i] = d[i].result;
	int rc = export_results_write_file(path, command, r, n);
	free(r);
	return rc;
}
