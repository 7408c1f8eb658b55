/* The one interface every cache backend fills (local, registry, s3, gha):
 * blobs by digest -- exists, open for reading, write from a stream -- and
 * the cache document stored beside them, read and written whole.
 *
 * A backend is a folder under transport/ whose handler (`struct
 * transport_handler`) is named once in the table of transport.c; the engine
 * never knows which one it talks to.  Every call may run on several
 * threads at once for different blobs. */
#ifndef CACHECTL_TRANSPORT_H
#define CACHECTL_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/model/cache.h"
#include "transport/options.h"
#include "transport/store.h"
#include "core/util/stream.h"
#include "formats/cache_manifest.h"

struct progress;

/* A blob being written: bytes go to `sink`; commit publishes them under the
 * digest the caller computed over exactly those bytes. */
struct blob_writer {
	struct byte_sink sink;
	/* Sets *existed when the store already had the blob (nothing stored). */
	int (*commit)(struct blob_writer *w, const char *digest, int64_t size, bool *existed);
	/* Abandons an uncommitted blob and frees the writer. */
	void (*close)(struct blob_writer *w);
};

/* How a destination wants the cache written. */
struct export_form {
	struct root_form root; /* local, registry */
};

struct transport;

struct transport_ops {
	/* 0 and *size when present, ERR_NOT_FOUND when absent. */
	int (*blob_stat)(struct transport *t, const char *digest, int64_t *size);
	int (*blob_open)(struct transport *t, const struct descriptor *d, struct byte_source **out);
	/* `expected` says what will be written (digest may be empty when not
	 * known before the bytes are, as for a re-encoded layer). */
	int (*blob_create)(struct transport *t, const struct descriptor *expected, struct blob_writer **out);
	/* Optional: makes blob d present without moving its bytes, by
	 * reference to where `from` (the source the engine would read it
	 * from) keeps it -- a registry's cross-repository mount.  0 when done,
	 * ERR_NOT_FOUND when not possible (the blob is then copied). */
	int (*blob_link)(struct transport *t, const struct descriptor *d, struct transport *from);
	/* The cache the source holds; ERR_NOT_FOUND when it holds none. */
	int (*read_cache)(struct transport *t, struct cache **out);
	/* Publishes c, whose blobs are all present; called last. */
	int (*write_cache)(struct transport *t, const struct cache *c, const struct export_form *form);
	void (*free)(struct transport *t);
	/* Optional: managing the store the transport is in (ls, du, rm,
	 * prune); NULL when the backend cannot. */
	const struct store_ops *store;
};

struct transport {
	const struct transport_ops *ops;
	char *display; /* the options as text, secrets hidden */
	/* Where the cache document goes, the same text for two specs that
	 * write the same place (set by open; NULL: display): tells two
	 * destinations of one export apart. */
	char *location;
	struct progress *progress;
	/* What write_cache stored, for the export's result: the root
	 * document's digest and the config's ("" when it stores none). */
	char written_root[DIGEST_BUF], written_config[DIGEST_BUF];
};

enum transport_direction {
	TRANSPORT_SOURCE,
	TRANSPORT_DESTINATION,
};

struct export_settings;

/* A backend: its type, the options it understands, how to open it. */
struct transport_handler {
	const char *type;
	/* For --help: the keys that matter ("src=DIR|dest=DIR[,tag=T]") and
	 * what it is, with its page ("OCI layout directory (docs/local.md)"). */
	const char *synopsis, *summary;
	bool can_read, can_write;
	/* Every key the backend reads, ended by {NULL}.  A destination also
	 * takes the keys every export takes (export_option_keys). */
	const struct option_key *keys;
	/* Optional: what a destination of this type decides about the export
	 * beyond the keys every export takes -- the root document's form
	 * (export_settings_read_root_form), inline's fixed mode=min. */
	int (*export_settings)(struct export_settings *s, struct cache_options *o);
	/* Reads its keys (options_get) and opens; the keys were checked
	 * against `keys` before. */
	int (*open)(struct transport **out, struct cache_options *o, enum transport_direction dir);
};

const struct transport_handler *transport_handler_find(const char *type);
/* Every handler, in the order help lists them, ended by NULL. */
const struct transport_handler *const *transport_handlers(void);

/* The handler of o->type for dir.  ERR_USAGE when the type is unknown
 * (naming the known ones), cannot go that way, or one of o's keys is not
 * one the type takes (naming the closest one it does take).  `extra` are
 * keys taken beyond the handler's own (NULL: none). */
int transport_handler_for(const struct transport_handler **out, const struct cache_options *o,
			  enum transport_direction dir, const struct option_key *extra);

/* Opens a source or destination backend from a spec, after checking its
 * type and every key.  (Destinations of an export: destination_open.) */
int transport_open(struct transport **out, struct cache_options *o, enum transport_direction dir,
		   struct progress *progress);
/* Opens with a handler transport_handler_for returned. */
int transport_open_with(struct transport **out, const struct transport_handler *h, struct cache_options *o,
			enum transport_direction dir, struct progress *progress);
void transport_free(struct transport *t);
/* t->location, or t->display when the backend set none. */
const char *transport_location(const struct transport *t);

/* For backends: fills the common fields. */
int transport_init(struct transport *t, const struct transport_ops *ops, const struct cache_options *o);

/* For backends, after transport_init: sets t->location from a format. */
int transport_set_location(struct transport *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The options as text for messages: values of secret keys (every value, for
 * a type no handler knows) are "***", control characters escaped. */
int transport_spec_text(char *out, size_t out_size, const struct cache_options *o);
/* Whether the value of key, in a spec of `type`, is never to be printed. */
bool transport_key_is_secret(const char *type, const char *key);

#endif
