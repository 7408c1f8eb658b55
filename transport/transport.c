#include "transport/transport.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/closest_word.h"
#include "core/util/error.h"
#include "core/util/printable.h"

/* Every backend, in the order help lists them: adding one is adding its
 * name here (its folder defines <name>_transport_handler). */
#define TRANSPORT_BACKENDS(X) X(local) X(registry) X(inline) X(s3) X(gha) X(azblob)

#define DECLARE_HANDLER(name) extern const struct transport_handler name##_transport_handler;
#define LIST_HANDLER(name) &name##_transport_handler,
TRANSPORT_BACKENDS(DECLARE_HANDLER)
static const struct transport_handler *const handlers[] = {TRANSPORT_BACKENDS(LIST_HANDLER) NULL};

#define TYPE_SHOWN_MAX 40 /* bytes of an unknown type quoted in a message */

const struct transport_handler *const *transport_handlers(void)
{
	return handlers;
}

const struct transport_handler *transport_handler_find(const char *type)
{
	for (size_t i = 0; handlers[i]; i++)
		if (strcmp(handlers[i]->type, type) == 0)
			return handlers[i];
	return NULL;
}

static const struct option_key *key_in(const struct option_key *table, const char *name)
{
	for (size_t i = 0; table && table[i].name; i++)
		if (strcmp(table[i].name, name) == 0)
			return &table[i];
	return NULL;
}

bool transport_key_is_secret(const char *type, const char *key)
{
	const struct transport_handler *h = type ? transport_handler_find(type) : NULL;
	if (!h)
		return true; /* nobody can say the keys of an unknown type are harmless */
	const struct option_key *k = key_in(h->keys, key);
	if (k)
		return k->secret;
	/* A key of another type given here (token= on s3) is as secret there. */
	for (size_t i = 0; handlers[i]; i++)
		if ((k = key_in(handlers[i]->keys, key)) && k->secret)
			return true;
	return option_key_looks_secret(key);
}

int transport_spec_text(char *out, size_t out_size, const struct cache_options *o)
{
	char shown[256];
	size_t n = (size_t)snprintf(out, out_size, "type=%s",
				    printable(shown, sizeof(shown), o->type ? o->type : "?", TYPE_SHOWN_MAX));
	for (size_t i = 0; i < o->n && n < out_size; i++) {
		n += (size_t)snprintf(out + n, out_size - n, ",%s=",
				      printable(shown, sizeof(shown), o->kv[i].key, 0));
		if (n < out_size)
			n += (size_t)snprintf(out + n, out_size - n, "%s",
					      transport_key_is_secret(o->type, o->kv[i].key)
						      ? "***"
						      : printable(shown, sizeof(shown), o->kv[i].value, 0));
	}
	return 0;
}

int transport_init(struct transport *t, const struct transport_ops *ops, const struct cache_options *o)
{
	char text[2048];
	transport_spec_text(text, sizeof(text), o);
	t->ops = ops;
	t->display = strdup(text);
	return t->display ? 0 : error_oom();
}

int transport_set_location(struct transport *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	free(t->location);
	t->location = n >= 0 ? malloc((size_t)n + 1) : NULL;
	CHECK_ALLOC(t->location);
	va_start(ap, fmt);
	vsnprintf(t->location, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return 0;
}

/* "a, b, c" from the names of handlers (types) or keys, into out. */
static void join_names(char *out, size_t size, const char *const *names, size_t n)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n && used < size; i++)
		if (names[i])
			used += (size_t)snprintf(out + used, size - used, "%s%s", used ? ", " : "", names[i]);
}

static int unknown_type(const char *type, enum transport_direction dir)
{
	const char *names[16] = {0};
	size_t n = 0;
	for (size_t i = 0; handlers[i] && n < 16; i++)
		if (dir == TRANSPORT_SOURCE ? handlers[i]->can_read : handlers[i]->can_write)
			names[n++] = handlers[i]->type;
	char known[256], shown[TYPE_SHOWN_MAX * 4 + 8];
	join_names(known, sizeof(known), names, n);
	const char *near = closest_word(type, names, n);
	printable(shown, sizeof(shown), type, TYPE_SHOWN_MAX);
	if (near)
		return error_set(ERR_USAGE, "unknown cache type \"%s\": did you mean type=%s? (known: %s)", shown, near,
				 known);
	return error_set(ERR_USAGE, "unknown cache type \"%s\" (known: %s)", shown, known);
}

/* The keys a spec of handler h may carry going dir, into names (at most max). */
static size_t keys_for(const char **names, size_t max, const struct transport_handler *h, unsigned dir_bit,
		       const struct option_key *extra)
{
	size_t n = 0;
	for (size_t i = 0; h->keys && h->keys[i].name && n < max; i++)
		if (h->keys[i].directions & dir_bit)
			names[n++] = h->keys[i].name;
	for (size_t i = 0; extra && extra[i].name && n < max; i++)
		names[n++] = extra[i].name;
	return n;
}

static int unknown_key(const struct transport_handler *h, const char *key, enum transport_direction dir,
		       const struct option_key *extra)
{
	const char *what = dir == TRANSPORT_SOURCE ? "cache source" : "cache destination";
	unsigned bit = dir == TRANSPORT_SOURCE ? OPTION_SOURCE : OPTION_DESTINATION;
	char shown[128];
	printable(shown, sizeof(shown), key, 40);
	const struct option_key *other = key_in(h->keys, key);
	if (other) { /* known, but only the other way */
		if (other->other_direction)
			return error_set(ERR_USAGE, "%s= of type=%s is not for a %s: write %s= here", shown, h->type,
					 what, other->other_direction);
		return error_set(ERR_USAGE, "%s= of type=%s is not for a %s", shown, h->type, what);
	}
	const char *names[64];
	size_t n = keys_for(names, 64, h, bit, extra);
	const char *near = closest_word(key, names, n);
	if (near)
		return error_set(ERR_USAGE, "unknown option \"%s\" for a %s of type=%s: did you mean %s=?", shown, what,
				 h->type, near);
	char own[512];
	join_names(own, sizeof(own), names, keys_for(names, 64, h, bit, NULL));
	return error_set(ERR_USAGE, "unknown option \"%s\" for a %s of type=%s (it takes: %s)", shown, what, h->type,
			 *own ? own : "no options of its own");
}

int transport_handler_for(const struct transport_handler **out, const struct cache_options *o,
			  enum transport_direction dir, const struct option_key *extra)
{
	const struct transport_handler *h = transport_handler_find(o->type);
	if (!h)
		return unknown_type(o->type, dir);
	if (dir == TRANSPORT_SOURCE ? !h->can_read : !h->can_write)
		return error_set(ERR_USAGE, "type=%s cannot be used as a %s", o->type,
				 dir == TRANSPORT_SOURCE ? "cache source" : "cache destination");
	unsigned bit = dir == TRANSPORT_SOURCE ? OPTION_SOURCE : OPTION_DESTINATION;
	for (size_t i = 0; i < o->n; i++) {
		const struct option_key *k = key_in(h->keys, o->kv[i].key);
		if (!(k && (k->directions & bit)) && !key_in(extra, o->kv[i].key))
			return unknown_key(h, o->kv[i].key, dir, extra);
	}
	*out = h;
	return 0;
}

int transport_open_with(struct transport **out, const struct transport_handler *h, struct cache_options *o,
			enum transport_direction dir, struct progress *progress)
{
	struct transport *t = NULL;
	int rc = h->open(&t, o, dir);
	if (rc)
		return rc;
	t->progress = progress;
	*out = t;
	return 0;
}

int transport_open(struct transport **out, struct cache_options *o, enum transport_direction dir,
		   struct progress *progress)
{
	const struct transport_handler *h;
	int rc = transport_handler_for(&h, o, dir, NULL);
	return rc ? rc : transport_open_with(out, h, o, dir, progress);
}

void transport_free(struct transport *t)
{
	if (!t)
		return;
	char *display = t->display, *location = t->location;
	t->ops->free(t);
	free(display);
	free(location);
}

const char *transport_location(const struct transport *t)
{
	return t->location ? t->location : t->display;
}
