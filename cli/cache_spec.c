/* One SRC or DST as written on the command line: BuildKit's CSV record of
 * key=value fields, or a bare word (a path, or a registry reference naming
 * its registry).
 *
 * A spec carries credentials (secret_access_key=, token=, ghtoken=), so a
 * message about a bad spec quotes only the field that is wrong, with the
 * value of a secret key -- and every value of a type nobody knows -- as
 * "***", and control characters escaped so that it stays one line. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/util/error.h"
#include "core/util/printable.h"
#include "core/util/secrets.h"
#include "transport/registry/reference.h"

#define SHOWN_MAX 40 /* bytes of a value or word quoted in a message */

/* Where the parser stands, for messages. */
struct spec_reader {
	const char *text;
	const char *p;
	size_t field;    /* 1-based number of the field being read */
	char type[64];   /* type= as found ahead of time ("" when none), for redaction */
};

/* The type the spec names, found ahead of the parse so that a field before
 * type= is redacted by the right rules. */
static void find_type(char *out, size_t size, const char *text)
{
	out[0] = '\0';
	for (const char *p = text; *p;) {
		if (strncasecmp(p, "type=", 5) == 0) {
			size_t n = strcspn(p + 5, ",\"");
			snprintf(out, size, "%.*s", (int)(n < size ? n : size - 1), p + 5);
			return;
		}
		const char *comma = strchr(p, ',');
		if (!comma)
			return;
		p = comma + 1;
	}
}

/* `"key=value"` of a field for a message, the value hidden when it may be a
 * credential; a field without '=' is not quoted (it may be one). */
static const char *describe_field(char *out, size_t size, const char *field, const char *type)
{
	const char *eq = strchr(field, '=');
	out[0] = '\0';
	if (!eq)
		return out;
	char key[80], value[SHOWN_MAX * 4 + 8];
	char *k = strndup(field, (size_t)(eq - field));
	if (!k)
		return out;
	for (char *c = k; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	bool secret = transport_key_is_secret(*type ? type : NULL, k);
	printable(key, sizeof(key), k, SHOWN_MAX);
	free(k);
	snprintf(out, size, " (\"%s=%s\")", key, secret ? "***" : printable(value, sizeof(value), eq + 1, SHOWN_MAX));
	return out;
}

static int field_error(const struct spec_reader *r, const char *partial, const char *what, const char *fix)
{
	char shown[256];
	return error_set(ERR_USAGE, "%s in field %zu%s of the cache spec%s", what, r->field,
			 describe_field(shown, sizeof(shown), partial, r->type), fix);
}

/* One field, Go encoding/csv rules without LazyQuotes, into out (as long as the text). */
static int next_field(struct spec_reader *r, char *out)
{
	const char *s = r->p;
	size_t n = 0;
	if (*s == '"') {
		for (s++;; s++) {
			out[n] = '\0';
			if (!*s)
				return field_error(r, out, "unterminated quote", "");
			if (*s == '"' && s[1] != '"')
				break;
			if (*s == '"')
				s++; /* "" is one quote */
			out[n++] = *s;
		}
		out[n] = '\0';
		if (*++s && *s != ',')
			return field_error(r, out, "text after a closing quote", " (quote the whole key=value)");
	} else {
		for (; *s && *s != ','; s++) {
			out[n] = '\0';
			if (*s == '"')
				return field_error(r, out, "a quote inside an unquoted field", " (quote the whole key=value)");
			out[n++] = *s;
		}
		out[n] = '\0';
	}
	r->p = s;
	return 0;
}

/* Takes one key=value field into out. */
static int add_field(struct cache_options *out, struct spec_reader *r, char *field)
{
	char *eq = strchr(field, '=');
	if (!eq)
		return field_error(r, field, "no '='", " (each field is key=value)");
	*eq = '\0';
	for (char *k = field; *k; k++)
		if (*k >= 'A' && *k <= 'Z')
			*k = (char)(*k - 'A' + 'a');
	if (!*field)
		return error_set(ERR_USAGE, "field %zu of the cache spec has an empty key", r->field);
	if (strcmp(field, "type") != 0)
		return cache_options_add(out, field, eq + 1);
	if (out->type)
		return error_set(ERR_USAGE, "type= is given twice in the cache spec");
	out->type = strdup(eq + 1);
	CHECK_ALLOC(out->type);
	return 0;
}

static int parse_record(struct cache_options *out, const char *text)
{
	struct spec_reader r = {.text = text, .p = text, .field = 1};
	find_type(r.type, sizeof(r.type), text);
	char *field = malloc(strlen(text) + 1);
	CHECK_ALLOC(field);
	int rc;
	for (;; r.field++) {
		if ((rc = next_field(&r, field)) || (rc = add_field(out, &r, field)) || !*r.p)
			break;
		r.p++; /* the comma */
	}
	free(field);
	if (!rc && (!out->type || !*out->type))
		rc = error_set(ERR_USAGE, "the cache spec has no type= (for example type=local,dest=DIR)");
	return rc;
}

/* ---- bare words ----------------------------------------------------------- */

static bool starts_as_path(const char *s)
{
	return s[0] == '/' || strncmp(s, "./", 2) == 0 || strncmp(s, "../", 3) == 0 || strcmp(s, ".") == 0 ||
	       strcmp(s, "..") == 0 || strncmp(s, "~/", 2) == 0;
}

/* A word without '=': an existing path or one spelt as a path is
 * type=local; a reference naming its registry is type=registry; anything
 * else could be either (a directory not made yet, a Docker Hub image), so
 * it is refused with both spellings rather than guessed. */
static int parse_bare_word(struct cache_options *out, const char *text, enum transport_direction dir)
{
	struct stat st;
	const char *path_key = dir == TRANSPORT_SOURCE ? "src" : "dest";
	if (starts_as_path(text) || stat(text, &st) == 0) {
		if (!(out->type = strdup("local")))
			return error_oom();
		return cache_options_add(out, path_key, text);
	}
	struct reference ref;
	if (reference_names_registry(text) && reference_parse(&ref, text) == 0) {
		reference_free(&ref);
		if (!(out->type = strdup("registry")))
			return error_oom();
		return cache_options_add(out, "ref", text);
	}
	error_clear();
	char shown[SHOWN_MAX * 4 + 8];
	printable(shown, sizeof(shown), text, SHOWN_MAX);
	return error_set(ERR_USAGE,
			 "\"%s\" is neither an existing path nor a registry reference naming its registry: write "
			 "./%s (or type=local,%s=%s) for a directory, or docker.io/%s%s (or type=registry,ref=...) "
			 "for an image repository",
			 shown, shown, path_key, shown, strchr(text, '/') ? "" : "library/", shown);
}

int cache_spec_parse(struct cache_options *out, const char *text, enum transport_direction dir)
{
	memset(out, 0, sizeof(*out));
	if (!*text)
		return error_set(ERR_USAGE, "empty cache spec");
	if (starts_as_path(text) || !strchr(text, '='))
		return parse_bare_word(out, text, dir);
	char type[64];
	find_type(type, sizeof(type), text);
	int rc = parse_record(out, text);
	/* For the last line of defence (report_error), whatever happens next. */
	for (size_t i = 0; i < out->n; i++)
		if (transport_key_is_secret(*type ? type : NULL, out->kv[i].key))
			secret_remember(out->kv[i].value);
	return rc;
}
