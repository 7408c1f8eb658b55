/* type=azblob: a cache in an Azure Blob Storage container, laid out as
 * BuildKit's azblob cache does (spec: Go filepath.Join of the prefixes):
 *
 *   <prefix>/<blobs_prefix>/sha256:<hex>    each layer blob, raw bytes
 *   <prefix>/<manifests_prefix>/<name>      the cache config with per-layer
 *                                           annotations, one blob per name
 *
 * Both directions create the container when it is missing.  Export: one
 * listing of the blobs prefix tells which blobs are there (not one request
 * per blob; one each only when a SAS may not list); absent ones go up in parallel (upload_parallelism, 4), with
 * If-None-Match: *, large ones as blocks (azblob_stream_upload.c).  A
 * present blob the listing shows older than touch_refresh (cachectl's
 * key, 24h) is refreshed first (azblob_blob_touch), so a prune running
 * meanwhile with a grace past touch_refresh spares it; one gone by then
 * is uploaded.  The document goes last, unconditionally, under every name.  Import reads
 * every name and merges them, as BuildKit does; a missing name is empty. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util/error.h"
#include "core/util/progress.h"
#include "core/util/semaphore.h"
#include "core/util/strmap.h"
#include "formats/annotated_config.h"
#include "transport/azblob/azblob.h"
#include "transport/azblob/azblob_client.h"
#include "transport/azblob/azblob_config.h"
#include "transport/azblob/azblob_names.h"
#include "transport/azblob/azblob_stream_upload.h"
#include "transport/streamed_blob_writer.h"
#include "transport/resuming_source.h"
#include "transport/transport.h"

#define DOCUMENT_MAX (256u * 1024 * 1024)

struct azblob_transport {
	struct transport base;
	struct azblob_config cfg;

	pthread_mutex_t lock;
	struct azblob_client *client; /* made on first use, with the container */
	bool listed;
	bool per_blob;         /* the listing was refused: one properties request per blob */
	struct strmap present; /* digest -> size, from the listing */
	struct strmap modified; /* digest -> Last-Modified (seconds), from the listing */
	struct strmap touched;  /* digests refreshed (or found young) by this export */
	enum transport_direction dir;
	struct semaphore upload_slots; /* upload_parallelism */
};

static int ready(struct azblob_transport *a)
{
	int rc = 0;
	pthread_mutex_lock(&a->lock);
	if (!a->client) {
		struct azblob_client *c = NULL;
		rc = azblob_client_new(&c, &a->cfg, a->base.progress);
		if (!rc && (rc = azblob_container_ensure(c)))
			azblob_client_free(c);
		if (!rc)
			a->client = c;
	}
	pthread_mutex_unlock(&a->lock);
	return rc;
}

static int name_in(char **out, const struct azblob_transport *a, const char *kind_prefix, const char *last)
{
	const char *elems[] = {a->cfg.prefix, kind_prefix, last};
	return azblob_path_join(out, elems, 3);
}

static int blob_name(char **out, const struct azblob_transport *a, const char *digest)
{
	return name_in(out, a, a->cfg.blobs_prefix, digest);
}

/* ---- which blobs are there: one listing --------------------------------- */

struct listing {
	struct strmap *present, *modified;
	const char *prefix; /* "<prefix>/<blobs_prefix>/" */
	size_t prefix_len;
};

static int note_listed(void *ctx, const struct azblob_listed *b)
{
	struct listing *l = ctx;
	const char *digest = b->name + l->prefix_len;
	if (strncmp(b->name, l->prefix, l->prefix_len) != 0 || strchr(digest, '/'))
		return 0;
	int64_t when = b->last_modified.seconds > 0 ? b->last_modified.seconds : 0; /* 0: unknown, old */
	int rc = strmap_put(l->present, digest, (size_t)b->size);
	return rc ? rc : strmap_put(l->modified, digest, (size_t)when);
}

/* Called with the lock held. */
static int list_blobs(struct azblob_transport *a)
{
	char *dir = NULL;
	struct buffer prefix = BUFFER_INIT;
	int rc = name_in(&dir, a, a->cfg.blobs_prefix, NULL);
	if (!rc)
		rc = buffer_appendf(&prefix, "%s%s", dir, *dir && strcmp(dir, "/") != 0 ? "/" : "");
	if (!rc) {
		struct listing l = {&a->present, &a->modified, prefix.data, prefix.len};
		long refused = 0;
		rc = azblob_list_blobs(a->client, prefix.data, note_listed, &l, &refused);
		if (refused == 403) {
			/* A SAS without the list permission: BuildKit's way works. */
			progress_note(a->base.progress, "%s; checking each blob instead", error_message());
			a->per_blob = true;
			rc = 0;
		}
	}
	if (!rc)
		a->listed = true;
	free(dir);
	buffer_free(&prefix);
	return rc;
}

/* The blob's size from the listing; ERR_NOT_FOUND when absent. */
static int listed_size(struct azblob_transport *a, const char *digest, int64_t *size)
{
	int rc = ready(a);
	if (rc)
		return rc;
	pthread_mutex_lock(&a->lock);
	if (!a->listed)
		rc = list_blobs(a);
	size_t v = 0;
	bool per_blob = a->per_blob;
	if (!rc && !per_blob)
		rc = strmap_get(&a->present, digest, &v) ? 0 : ERR_NOT_FOUND;
	pthread_mutex_unlock(&a->lock);
	if (!rc && per_blob) {
		char *name = NULL;
		if (!(rc = blob_name(&name, a, digest)))
			rc = azblob_blob_properties(a->client, name, size);
		free(name);
		return rc;
	}
	if (!rc)
		*size = (int64_t)v;
	return rc;
}

/* A present blob an export will count on: refreshed first when older
 * than touch_refresh (once per export), so a prune running meanwhile does
 * not delete it.  ERR_NOT_FOUND when it is gone by then: uploaded instead. */
static int refresh_present(struct azblob_transport *a, const char *digest)
{
	size_t listed = 0, seen = 0;
	if (a->dir != TRANSPORT_DESTINATION)
		return 0;
	pthread_mutex_lock(&a->lock);
	bool known = strmap_get(&a->modified, digest, &listed);
	bool done = strmap_get(&a->touched, digest, &seen);
	int rc = done ? 0 : strmap_put(&a->touched, digest, 1);
	pthread_mutex_unlock(&a->lock);
	double age = known && listed ? difftime(time(NULL), (time_t)listed) : -1;
	/* Young by the listing: nothing to write.  Not listed (a SAS that may
	 * not list): Get Blob Properties tells the age. */
	if (done || rc || (a->cfg.touch_refresh > 0 && age >= 0 && age <= a->cfg.touch_refresh))
		return rc;
	char *name = NULL;
	bool touched = false;
	if (!(rc = blob_name(&name, a, digest)))
		rc = azblob_blob_touch(a->client, name, a->cfg.touch_refresh, &touched);
	if (rc == ERR_NOT_FOUND)
		error_clear(); /* the export uploads it, and then it is fresh */
	free(name);
	return rc == ERR_NOT_FOUND || !rc ? rc : error_wrap(rc, "refresh (touch_refresh)");
}

static int azblob_blob_stat(struct transport *t, const char *digest, int64_t *size)
{
	struct azblob_transport *a = (struct azblob_transport *)t;
	int rc = listed_size(a, digest, size);
	return rc ? rc : refresh_present(a, digest);
}

/* ---- reading ------------------------------------------------------------ */

/* A download that survives what the HTTP layer's own resume cannot (its
 * Range header is not part of a Shared Key signature): the rest is
 * requested again, freshly signed. */
/* resuming_source's way to open a piece of a blob. */
static int get_blob_from(void *client, const char *name, int64_t offset, struct byte_source **out)
{
	return azblob_blob_get(client, name, offset, out);
}

static int azblob_blob_open(struct transport *t, const struct descriptor *d, struct byte_source **out)
{
	struct azblob_transport *a = (struct azblob_transport *)t;
	char *name = NULL;
	int rc = ready(a);
	if (!rc)
		rc = blob_name(&name, a, d->digest);
	if (!rc && (rc = resuming_source_new(out, get_blob_from, a->client, name, a->base.progress)) == ERR_NOT_FOUND) {
		char display[1200];
		azblob_blob_display(a->client, name, display, sizeof(display));
		rc = error_set(ERR_NOT_FOUND, "blob %s is missing: %s does not exist", d->digest, display);
	}
	free(name);
	return rc;
}

/* One name's document; ERR_NOT_FOUND (with a message) when absent. */
static int read_one(struct azblob_transport *a, const char *cache_name, struct cache **out)
{
	struct buffer doc = BUFFER_INIT;
	char *name = NULL, display[1200];
	int rc = name_in(&name, a, a->cfg.manifests_prefix, cache_name);
	if (rc)
		return rc;
	azblob_blob_display(a->client, name, display, sizeof(display));
	rc = azblob_blob_get_small(a->client, name, DOCUMENT_MAX, &doc);
	if (rc == ERR_NOT_FOUND)
		rc = error_set(ERR_NOT_FOUND, "no cache named \"%s\" in %s: %s does not exist", cache_name,
			       a->cfg.container, display);
	if (!rc)
		rc = annotated_config_load(out, doc.data ? doc.data : "", doc.len, display);
	if (!rc) {
		struct cache *c = *out;
		if ((rc = descriptor_set_media_type(&c->source_config, MT_CACHE_CONFIG)) ||
		    (rc = digest_of_bytes(c->source_config.digest, doc.data ? doc.data : "", doc.len))) {
			cache_free(c);
			*out = NULL;
		} else {
			c->source_config.size = (int64_t)doc.len;
			if (c->dropped_results)
				progress_note(a->base.progress, "%s: %zu results dropped: their layers are not described",
					      display, c->dropped_results);
		}
	}
	free(name);
	buffer_free(&doc);
	return rc;
}

/* Every name, merged (BuildKit imports them all); missing names are empty. */
static int azblob_read_cache(struct transport *t, struct cache **out)
{
	struct azblob_transport *a = (struct azblob_transport *)t;
	struct cache *merged = NULL;
	int rc = ready(a);
	for (size_t i = 0; !rc && i < a->cfg.n_names; i++) {
		struct cache *c = NULL;
		rc = read_one(a, a->cfg.names[i], &c);
		if (rc == ERR_NOT_FOUND && (merged || i + 1 < a->cfg.n_names)) {
			progress_note(t->progress, "%s", error_message());
			rc = 0;
			continue;
		}
		if (rc)
			break;
		if (!merged) {
			merged = c;
			continue;
		}
		rc = cache_merge(merged, c);
		cache_free(c);
	}
	if (!rc && !merged)
		rc = ERR_NOT_FOUND; /* the last name's message says why */
	if (rc) {
		cache_free(merged);
		return rc;
	}
	*out = merged;
	return 0;
}

/* ---- writing ------------------------------------------------------------ */

static int writer_name(void *store, const char *digest, char **name)
{
	return blob_name(name, store, digest);
}

/* A digest known only at commit: the listing may have it. */
static int writer_present(void *store, const char *digest, int64_t size, bool *existed)
{
	int64_t listed;
	int rc = listed_size(store, digest, &listed);
	if (!rc && listed == size)
		rc = refresh_present(store, digest);
	*existed = !rc && listed == size;
	return rc == ERR_NOT_FOUND ? 0 : rc;
}

static int azblob_blob_create(struct transport *t, const struct descriptor *expected, struct blob_writer **out)
{
	struct azblob_transport *a = (struct azblob_transport *)t;
	int rc = ready(a);
	if (rc)
		return rc;
	const struct streamed_blob_store store = {
		.ops = &azblob_block_ops,
		.limits = &azblob_block_limits,
		.ops_ctx = a->client,
		.slots = &a->upload_slots,
		.what = "azblob upload",
		.store = a,
		.name_of = writer_name,
		.present = writer_present,
	};
	return streamed_blob_writer_new(out, &store, expected);
}

static int azblob_write_cache(struct transport *t, const struct cache *c, const struct export_form *form)
{
	struct azblob_transport *a = (struct azblob_transport *)t;
	struct buffer doc = BUFFER_INIT;
	(void)form; /* no root document: the config is the document */
	int rc = ready(a);
	if (!rc)
		rc = annotated_config_build(&doc, c);
	/* The same bytes under every name, in the order given, overwriting. */
	for (size_t i = 0; i < a->cfg.n_names && !rc; i++) {
		char *name;
		bool existed;
		if ((rc = name_in(&name, a, a->cfg.manifests_prefix, a->cfg.names[i])))
			break;
		struct byte_range body = {-1, doc.data, 0, (int64_t)doc.len};
		rc = azblob_put_blob(a->client, name, &body, false, &existed);
		free(name);
	}
	buffer_free(&doc);
	return rc;
}

static void azblob_free(struct transport *t)
{
	struct azblob_transport *a = (struct azblob_transport *)t;
	azblob_client_free(a->client);
	azblob_config_free(&a->cfg);
	strmap_free(&a->present);
	strmap_free(&a->modified);
	strmap_free(&a->touched);
	semaphore_destroy(&a->upload_slots);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

static const struct transport_ops azblob_ops = {
	.blob_stat = azblob_blob_stat,
	.blob_open = azblob_blob_open,
	.blob_create = azblob_blob_create,
	.read_cache = azblob_read_cache,
	.write_cache = azblob_write_cache,
	.free = azblob_free,
	.store = &azblob_store_ops,
};

/* Where the documents go: two specs naming the same place are one. */
static int set_location(struct azblob_transport *a)
{
	char *dir = NULL;
	struct buffer names = BUFFER_INIT;
	int rc = name_in(&dir, a, a->cfg.manifests_prefix, NULL);
	for (size_t i = 0; !rc && i < a->cfg.n_names; i++)
		rc = buffer_appendf(&names, "%s%s", i ? ";" : "", a->cfg.names[i]);
	if (!rc)
		rc = transport_set_location(&a->base, "azblob:%s/%s/%s:%s", a->cfg.account_url, a->cfg.container, dir,
					    names.data ? names.data : "");
	free(dir);
	buffer_free(&names);
	return rc;
}

static int azblob_open(struct transport **out, struct cache_options *o, enum transport_direction dir)
{
	/* both directions create the container, as BuildKit does */
	struct azblob_transport *a = calloc(1, sizeof(*a));
	CHECK_ALLOC(a);
	a->dir = dir;
	pthread_mutex_init(&a->lock, NULL);
	semaphore_init(&a->upload_slots, 1);
	int rc = azblob_config_parse(&a->cfg, o);
	if (!rc)
		semaphore_set_count(&a->upload_slots, a->cfg.upload_parallelism);
	if (!rc)
		rc = transport_init(&a->base, &azblob_ops, o);
	if (!rc)
		rc = set_location(a);
	if (rc) {
		free(a->base.display);
		azblob_free(&a->base);
		return rc;
	}
	*out = &a->base;
	return 0;
}

/* BuildKit's keys, then cachectl's (sas_token, upload_parallelism,
 * touch_refresh -- BuildKit's azblob has no touch_refresh; its s3 does).
 * account_url is secret: it may carry a SAS in its query. */
static const struct option_key azblob_keys[] = {
	{.name = "account_url", .directions = OPTION_BOTH, .secret = true},
	{.name = "account_name", .directions = OPTION_BOTH},
	{.name = "container", .directions = OPTION_BOTH},
	{.name = "prefix", .directions = OPTION_BOTH},
	{.name = "blobs_prefix", .directions = OPTION_BOTH},
	{.name = "manifests_prefix", .directions = OPTION_BOTH},
	{.name = "name", .directions = OPTION_BOTH},
	{.name = "secret_access_key", .directions = OPTION_BOTH, .secret = true},
	{.name = "sas_token", .directions = OPTION_BOTH, .secret = true},
	{.name = "upload_parallelism", .directions = OPTION_BOTH},
	{.name = "touch_refresh", .directions = OPTION_BOTH},
	{.name = NULL},
};

const struct transport_handler azblob_transport_handler = {
	.type = "azblob",
	.synopsis = "account_url=U[,name=N;...][,prefix=P]",
	.summary = "Azure Blob Storage (docs/azblob.md)",
	.can_read = true,
	.can_write = true,
	.keys = azblob_keys,
	.open = azblob_open,
};

/* ---- for azblob_store.c -------------------------------------------------- */

int azblob_transport_client(struct transport *t, struct azblob_client **out)
{
	struct azblob_transport *a = (struct azblob_transport *)t;
	int rc = ready(a);
	if (!rc)
		*out = a->client;
	return rc;
}

struct azblob_config *azblob_transport_config(struct transport *t)
{
	return &((struct azblob_transport *)t)->cfg;
}

int azblob_transport_name(char **out, struct transport *t, enum azblob_kind kind, const char *last)
{
	struct azblob_transport *a = (struct azblob_transport *)t;
	const char *kind_prefix = kind == AZBLOB_BLOBS ? a->cfg.blobs_prefix : a->cfg.manifests_prefix;
	char *dir = NULL;
	int rc = name_in(&dir, a, kind_prefix, last);
	if (rc || last) {
		*out = dir;
		return rc;
	}
	/* The folder, for a listing: "" (everything) or "x/" (never "x" alone, which would list "xy/"). */
	bool slash = *dir && strcmp(dir, "/") != 0;
	char *folder = malloc(strlen(dir) + 2);
	if (folder)
		snprintf(folder, strlen(dir) + 2, "%s%s", dir, slash ? "/" : "");
	free(dir);
	CHECK_ALLOC(folder);
	*out = folder;
	return 0;
}
