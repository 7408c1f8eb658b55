#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/util/error.h"
#include "core/util/parallel.h"

/* One field of a CSV record, Go encoding/csv rules without LazyQuotes. */
static int next_field(const char **p, char *out, size_t size, const char *text)
{
	const char *s = *p;
	size_t n = 0;
	if (*s == '"') {
		s++;
		for (;;) {
			if (!*s)
				return error_set(ERR_USAGE, "unterminated quote in \"%s\"", text);
			if (*s == '"') {
				if (s[1] == '"') {
					s++;
				} else {
					s++;
					break;
				}
			}
			if (n + 1 >= size)
				return error_set(ERR_USAGE, "option field too long in \"%s\"", text);
			out[n++] = *s++;
		}
		if (*s && *s != ',')
			return error_set(ERR_USAGE, "text after a closing quote in \"%s\"", text);
	} else {
		while (*s && *s != ',') {
			if (*s == '"')
				return error_set(ERR_USAGE,
						 "a quote inside an unquoted field in \"%s\" (quote the whole key=value)",
						 text);
			if (n + 1 >= size)
				return error_set(ERR_USAGE, "option field too long in \"%s\"", text);
			out[n++] = *s++;
		}
	}
	out[n] = '\0';
	*p = s;
	return 0;
}

static bool looks_like_path(const char *s)
{
	struct stat st;
	return s[0] == '/' || s[0] == '.' || s[0] == '~' || stat(s, &st) == 0;
}

int cache_spec_parse(struct cache_options *out, const char *text, enum transport_direction dir)
{
	memset(out, 0, sizeof(*out));
	if (!(out->text = strdup(text)))
		return error_oom();
	if (!strchr(text, '=')) {
		if (!*text)
			return error_set(ERR_USAGE, "empty cache option");
		if (looks_like_path(text)) {
			if (!(out->type = strdup("local")))
				return error_oom();
			return cache_options_add(out, dir == TRANSPORT_SOURCE ? "src" : "dest", text);
		}
		if (!(out->type = strdup("registry")))
			return error_oom();
		return cache_options_add(out, "ref", text);
	}
	size_t len = strlen(text);
	char *field = malloc(len + 1);
	CHECK_ALLOC(field);
	const char *p = text;
	int rc = 0;
	for (;;) {
		if ((rc = next_field(&p, field, len + 1, text)))
			break;
		char *eq = strchr(field, '=');
		if (!eq) {
			rc = error_set(ERR_USAGE, "\"%s\" in \"%s\" is not key=value", field, text);
			break;
		}
		*eq = '\0';
		for (char *k = field; *k; k++)
			if (*k >= 'A' && *k <= 'Z')
				*k = (char)(*k - 'A' + 'a');
		if (!*field) {
			rc = error_set(ERR_USAGE, "empty key in \"%s\"", text);
			break;
		}
		if (strcmp(field, "type") == 0) {
			if (out->type) {
				rc = error_set(ERR_USAGE, "type= is given twice in \"%s\"", text);
				break;
			}
			if (!(out->type = strdup(eq + 1))) {
				rc = error_oom();
				break;
			}
		} else if ((rc = cache_options_add(out, field, eq + 1))) {
			break;
		}
		if (!*p)
			break;
		p++; /* the comma */
	}
	free(field);
	if (!rc && (!out->type || !*out->type))
		rc = error_set(ERR_USAGE, "\"%s\" has no type= (for example type=local)", text);
	return rc;
}

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
		    (rc = transport_open(&out[i], &specs[i], TRANSPORT_SOURCE, p)))
			break;
		(*n_open)++;
	}
	return rc;
}

enum progress_mode quiet_unless_asked(enum progress_mode m)
{
	return m == PROGRESS_AUTO ? PROGRESS_QUIET : m;
}

void common_options_init(struct common_options *c)
{
	c->progress = PROGRESS_AUTO;
	c->jobs = parallel_default_threads();
}

int common_option(struct common_options *c, int opt, const char *arg, int *rc)
{
	if (opt == OPT_PROGRESS) {
		*rc = progress_mode_parse(&c->progress, arg);
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
	if (rc)
		fprintf(stderr, "cachectl: %s\n", error_message());
	return exit_code_of(rc);
}
