#include "transport/s3/aws_profile.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/array_grow.h"
#include "core/util/buffer.h"
#include "core/util/error.h"

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

/* Whether a section header names the profile in that kind of file. */
static bool section_matches(const char *section, const char *name, bool config_file)
{
	if (!config_file)
		return strcmp(section, name) == 0;
	if (strncmp(section, "profile", 7) == 0 && (section[7] == ' ' || section[7] == '\t')) {
		const char *p = section + 8;
		while (*p == ' ' || *p == '\t')
			p++;
		return strcmp(p, name) == 0;
	}
	/* The config file spells the default profile without the word. */
	return strcmp(name, "default") == 0 && strcmp(section, "default") == 0;
}

static int put(struct aws_profile *p, const char *key, const char *value, bool from_credentials)
{
	for (size_t i = 0; i < p->n; i++) {
		if (strcmp(p->entries[i].key, key) != 0)
			continue;
		if (p->entries[i].from_credentials_file && !from_credentials)
			return 0; /* the credentials file wins */
		char *v = strdup(value);
		CHECK_ALLOC(v);
		free(p->entries[i].value);
		p->entries[i].value = v;
		p->entries[i].from_credentials_file = from_credentials;
		return 0;
	}
	int rc = ARRAY_RESERVE(p->entries, p->cap, p->n + 1);
	if (rc)
		return rc;
	struct aws_profile_entry *e = p->entries;
	e[p->n].key = strdup(key);
	e[p->n].value = strdup(value);
	e[p->n].from_credentials_file = from_credentials;
	if (!e[p->n].key || !e[p->n].value) {
		free(e[p->n].key);
		free(e[p->n].value);
		return error_oom();
	}
	p->n++;
	return 0;
}

static int load_file(struct aws_profile *p, const char *path, bool config_file, bool *found)
{
	struct buffer text = BUFFER_INIT;
	int rc = buffer_read_file(&text, path, 4u << 20);
	if (rc == ERR_NOT_FOUND) {
		error_clear();
		return 0;
	}
	if (rc)
		return rc;
	bool in_section = false, nested = false;
	char *save = NULL;
	for (char *line = strtok_r(text.data, "\n", &save); line && !rc; line = strtok_r(NULL, "\n", &save)) {
		bool indented = *line == ' ' || *line == '\t';
		char *l = trim(line);
		if (!*l || *l == '#' || *l == ';')
			continue;
		if (*l == '[') {
			char *close = strchr(l, ']');
			if (!close)
				continue;
			*close = '\0';
			in_section = section_matches(trim(l + 1), p->name, config_file);
			*found = *found || in_section;
			nested = false;
			continue;
		}
		if (!in_section)
			continue;
		char *eq = strchr(l, '=');
		if (!eq)
			continue;
		*eq = '\0';
		char *key = trim(l), *value = trim(eq + 1);
		if (indented && nested)
			continue; /* a sub-section such as "s3 =" with its indented keys */
		nested = !*value;
		for (char *c = key; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		/* An inline comment needs a space before it, as the AWS CLI reads it. */
		for (char *c = value; *c; c++)
			if ((*c == '#' || *c == ';') && c > value && (c[-1] == ' ' || c[-1] == '\t')) {
				*c = '\0';
				value = trim(value);
				break;
			}
		rc = put(p, key, value, !config_file);
	}
	buffer_free(&text);
	return rc;
}

int aws_profile_load(struct aws_profile *out, const char *name, const char *credentials_path,
		     const char *config_path, bool *found)
{
	memset(out, 0, sizeof(*out));
	*found = false;
	if (!(out->name = strdup(name)))
		return error_oom();
	int rc = 0;
	if ((credentials_path && (rc = load_file(out, credentials_path, false, found))) ||
	    (config_path && (rc = load_file(out, config_path, true, found))))
		aws_profile_free(out);
	return rc;
}

void aws_profile_free(struct aws_profile *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->entries[i].key);
		if (p->entries[i].value) {
			/* Values may be secrets. */
			memset(p->entries[i].value, 0, strlen(p->entries[i].value));
			free(p->entries[i].value);
		}
	}
	free(p->entries);
	free(p->name);
	memset(p, 0, sizeof(*p));
}

const char *aws_profile_get(const struct aws_profile *p, const char *key)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->entries[i].key, key) == 0)
			return *p->entries[i].value ? p->entries[i].value : NULL;
	return NULL;
}

static char *home_path(const char *env, const char *rel)
{
	const char *v = getenv(env);
	struct buffer b = BUFFER_INIT;
	const char *home = getenv("HOME");
	if (v && *v) {
		if (v[0] == '~' && v[1] == '/' && home) {
			if (buffer_appendf(&b, "%s%s", home, v + 1))
				return NULL;
			return buffer_detach(&b, NULL);
		}
		return strdup(v);
	}
	if (!home || !*home)
		return NULL;
	if (buffer_appendf(&b, "%s/%s", home, rel))
		return NULL;
	return buffer_detach(&b, NULL);
}

char *aws_profile_credentials_path(void)
{
	return home_path("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials");
}

char *aws_profile_config_path(void)
{
	return home_path("AWS_CONFIG_FILE", ".aws/config");
}

const char *aws_profile_selected(bool *explicit_choice)
{
	const char *p = getenv("AWS_PROFILE");
	if (!p || !*p)
		p = getenv("AWS_DEFAULT_PROFILE");
	*explicit_choice = p && *p;
	return *explicit_choice ? p : "default";
}
