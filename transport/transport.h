/* The one interface every cache backend fills (local, registry, s3, gha):
 * blobs by digest -- exists, open for reading, write from a stream -- and
 * the cache document stored beside them, read and written whole.
 *
 * A backend is one file defining a `struct transport_handler`; the core
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
	struct progress *progress;
};

enum transport_direction {
	TRANSPORT_SOURCE,
	TRANSPORT_DESTINATION,
};

struct transport_handler {
	const char *type;
	bool can_read, can_write;
	/* Stores a root document (local, registry): takes oci-mediatypes and
	 * image-manifest. */
	bool has_root_form;
	/* Keeps no blobs of its own (inline: the cache lives in an image whose
	 * layers are its blobs): the engine copies none to it, exports
	 * mode=min as BuildKit's inline exporter always does, and hands
	 * write_cache the planned cache with every blob descriptor. */
	bool stores_no_blobs;
	/* Takes the options it understands (options_get); the caller then
	 * rejects any left over. */
	int (*open)(struct transport **out, struct cache_options *o, enum transport_direction dir);
};

const struct transport_handler *transport_handler_find(const char *type);

/* Opens the backend named by o->type and checks every option is known. */
int transport_open(struct transport **out, struct cache_options *o, enum transport_direction dir,
		   struct progress *progress);
void transport_free(struct transport *t);

/* For backends: fills the common fields. */
int transport_init(struct transport *t, const struct transport_ops *ops, const struct cache_options *o);

extern const struct transport_handler local_transport_handler;
extern const struct transport_handler registry_transport_handler;
extern const struct transport_handler inline_transport_handler;
extern const struct transport_handler gha_transport_handler;
extern const struct transport_handler s3_transport_handler;

#endif
