#include "transport/transport.h"

#include <stdlib.h>
#include <string.h>

#include "core/util/error.h"

static const struct transport_handler *const handlers[] = {
	&local_transport_handler,
	&gha_transport_handler,
	&registry_transport_handler,
	&inline_transport_handler,
	&s3_transport_handler,
	&azblob_transport_handler,
	NULL,
};

int transport_init(struct transport *t, const struct transport_ops *ops, const struct cache_options *o)
{
	char text[2048];
	options_display(o, text, sizeof(text));
	t->ops = ops;
	t->display = strdup(text);
	return t->display ? 0 : error_oom();
}

const struct transport_handler *transport_handler_find(const char *type)
{
	for (size_t i = 0; handlers[i]; i++)
		if (strcmp(handlers[i]->type, type) == 0)
			return handlers[i];
	return NULL;
}

int transport_open(struct transport **out, struct cache_options *o, enum transport_direction dir,
		   struct progress *progress)
{
	const char *what = dir == TRANSPORT_SOURCE ? "cache source" : "cache destination";
	for (size_t i = 0; handlers[i]; i++) {
		const struct transport_handler *h = handlers[i];
		if (strcmp(h->type, o->type) != 0)
			continue;
		if (dir == TRANSPORT_SOURCE ? !h->can_read : !h->can_write)
			return error_set(ERR_USAGE, "type=%s cannot be used as a %s", o->type, what);
		struct transport *t = NULL;
		int rc = h->open(&t, o, dir);
		if (!rc && (rc = options_check_unknown(o, what)))
			transport_free(t);
		if (rc)
			return rc;
		t->progress = progress;
		*out = t;
		return 0;
	}
	return error_set(ERR_USAGE, "unknown cache type \"%s\" in %s (known: local, registry, inline, s3, gha, azblob)", o->type, o->text ? o->text : what);
}

void transport_free(struct transport *t)
{
	if (!t)
		return;
	char *display = t->display;
	t->ops->free(t);
	free(display);
}
