/* type=azblob as a store: the documents under <prefix>/<manifests_prefix>/
 * (one per cache name) and the blobs under <prefix>/<blobs_prefix>/, both
 * found with List Blobs (every page) and removed with Delete Blob, each
 * under a condition Azure checks itself:
 *
 *   rm, prune's removals   If-Match: the ETag of the document that was read
 *                          and judged, so a name an export re-pointed
 *                          meanwhile is never removed;
 *   prune's blob deletions If-Unmodified-Since: now - --grace, so a blob
 *                          written since is spared even after the listing.
 *
 * Azure has no lock: prune lists the documents again right before it
 * deletes (store_prune.c).  BuildKit's azblob exporter never refreshes a
 * blob it finds present (spec: azblob.md, "no touch/refresh"); cachectl's
 * does when it is older than touch_refresh (azblob.c), so the grace must
 * be longer than that for a blob an export reuses meanwhile to be spared. */
#include <stdlib.h>
#include <string.h>

#include "core/util/error.h"
#include "core/util/parallel.h"
#include "formats/annotated_config.h"
#include "transport/azblob/azblob.h"
#include "transport/transport.h"

#define DOCUMENT_MAX (256u * 1024 * 1024)

/* The document called `name`, its digest and ETag. */
static int read_document(struct transport *t, const char *name, struct buffer *doc, char digest[DIGEST_BUF],
			 char etag[AZBLOB_ETAG_BUF])
{
	struct azblob_client *c = NULL;
	char *blob = NULL;
	char unused[AZBLOB_ETAG_BUF];
	int rc = azblob_transport_client(t, &c);
	if (!rc)
		rc = azblob_transport_name(&blob, t, AZBLOB_MANIFESTS, name);
	if (!rc)
		rc = azblob_blob_get_versioned(c, blob, DOCUMENT_MAX, doc, etag ? etag : unused);
	if (!rc)
		rc = digest_of_bytes(digest, doc->data ? doc->data : "", doc->len);
	free(blob);
	return rc;
}

/* Every blob under one folder, as the listing gives it. */
struct collected {
	struct store_blob *b;
	size_t n, cap;
	size_t folder_len;
	const char *blobs; /* listing documents: the blobs folder, whose blobs are not documents */
};

/* A blob of the blobs folder met while listing documents: the blobs
 * folder inside the documents' (prefix "" and "blobs"), or the same
 * folder (blobs_prefix=. and manifests_prefix=.), then only digests. */
static bool is_blob_of(const struct collected *col, const char *name)
{
	size_t n = col->blobs ? strlen(col->blobs) : 0;
	if (!col->blobs || strncmp(name, col->blobs, n) != 0)
		return false;
	if (n > col->folder_len)
		return true;
	bool digest = digest_check(name + n, ERR_FAILURE, "blob name") == 0;
	error_clear();
	return digest;
}

static int collect(void *ctx, const struct azblob_listed *l)
{
	struct collected *col = ctx;
	if (is_blob_of(col, l->name))
		return 0;
	if (col->n == col->cap) {
		size_t cap = col->cap ? col->cap * 2 : 256;
		struct store_blob *g = realloc(col->b, (cap + 1) * sizeof(*g));
		CHECK_ALLOC(g);
		col->b = g;
		col->cap = cap;
	}
	struct store_blob *b = &col->b[col->n];
	memset(b, 0, sizeof(*b));
	b->size = l->size;
	b->modified = l->last_modified;
	CHECK_ALLOC(b->id = strdup(l->name));
	col->n++;
	return 0;
}

/* The blobs under kind's folder; id is the full blob name. */
static int list_folder(struct transport *t, enum azblob_kind kind, struct collected *col)
{
	struct azblob_client *c = NULL;
	char *folder = NULL, *other = NULL;
	memset(col, 0, sizeof(*col));
	int rc = azblob_transport_client(t, &c);
	if (!rc)
		rc = azblob_transport_name(&folder, t, kind, NULL);
	/* Documents under an empty manifests prefix would list the blobs too. */
	if (!rc && kind == AZBLOB_MANIFESTS)
		rc = azblob_transport_name(&other, t, AZBLOB_BLOBS, NULL);
	if (!rc) {
		col->folder_len = strlen(folder);
		col->blobs = other;
		rc = azblob_list_blobs(c, folder, collect, col, NULL);
	}
	if (rc) {
		store_blobs_free(col->b, col->n);
		memset(col, 0, sizeof(*col));
	}
	free(folder);
	free(other);
	return rc;
}

static int azblob_store_list(struct transport *t, struct store_entry **out, size_t *n)
{
	struct collected col;
	size_t kept = 0;
	*out = NULL;
	*n = 0;
	int rc = list_folder(t, AZBLOB_MANIFESTS, &col);
	struct store_entry *e = rc ? NULL : calloc(col.n + 1, sizeof(*e));
	if (!rc && !e)
		rc = error_oom();
	for (size_t i = 0; !rc && i < col.n; i++) {
		struct buffer doc = BUFFER_INIT;
		struct store_entry *x = &e[kept];
		if (!(x->name = strdup(col.b[i].id + col.folder_len))) {
			rc = error_oom();
			break;
		}
		rc = read_document(t, x->name, &doc, x->digest, NULL);
		buffer_free(&doc);
		if (rc == ERR_NOT_FOUND) { /* deleted since the listing */
			free(x->name);
			x->name = NULL;
			error_clear();
			rc = 0;
			continue;
		}
		x->size = col.b[i].size;
		x->written = col.b[i].modified;
		x->is_cache = true;
		kept++;
	}
	store_blobs_free(col.b, col.n);
	if (rc) {
		store_entries_free(e, col.n); /* the one being filled in too */
		return rc;
	}
	*out = e;
	*n = kept;
	return 0;
}

static const char *azblob_store_selected(struct transport *t)
{
	return azblob_transport_config(t)->names[0];
}

static int azblob_store_select(struct transport *t, const char *name)
{
	struct azblob_config *cfg = azblob_transport_config(t);
	char *copy = strdup(name);
	CHECK_ALLOC(copy);
	for (size_t i = 0; i < cfg->n_names; i++)
		free(cfg->names[i]);
	cfg->names[0] = copy;
	cfg->n_names = 1;
	return 0;
}

/* The document as it is now (a newer one wins: its blobs are the ones to keep). */
static int azblob_store_mark(struct transport *t, const struct store_entry *e, struct strmap *marks)
{
	struct buffer doc = BUFFER_INIT;
	struct cache *c = NULL;
	char digest[DIGEST_BUF];
	int rc = read_document(t, e->name, &doc, digest, NULL);
	if (rc == ERR_NOT_FOUND) {
		error_clear();
		rc = 0;
		goto out;
	}
	if (rc || (rc = annotated_config_load(&c, doc.data ? doc.data : "", doc.len, e->name)))
		goto out;
	rc = store_mark_cache(marks, c);
out:
	cache_free(c);
	buffer_free(&doc);
	return rc;
}

/* Deleted only if it is still the document judged: If-Match on the ETag
 * of the bytes whose digest matched. */
static int azblob_store_remove(struct transport *t, const struct store_entry *e)
{
	struct buffer doc = BUFFER_INIT;
	struct azblob_client *c = NULL;
	char digest[DIGEST_BUF], etag[AZBLOB_ETAG_BUF], *blob = NULL;
	enum azblob_deleted result = AZBLOB_DELETED;
	int rc = read_document(t, e->name, &doc, digest, etag);
	buffer_free(&doc);
	if (!rc && strcmp(digest, e->digest) != 0)
		rc = error_set(ERR_NOT_FOUND, "cache \"%s\" was written again meanwhile", e->name);
	if (!rc)
		rc = azblob_transport_client(t, &c);
	if (!rc)
		rc = azblob_transport_name(&blob, t, AZBLOB_MANIFESTS, e->name);
	if (!rc)
		rc = azblob_delete_blob(c, blob, etag, NULL, &result);
	if (!rc && result == AZBLOB_CHANGED)
		rc = error_set(ERR_NOT_FOUND, "cache \"%s\" was written again meanwhile", e->name);
	else if (!rc && result == AZBLOB_ABSENT)
		rc = error_set(ERR_NOT_FOUND, "cache \"%s\" was removed meanwhile", e->name);
	free(blob);
	return rc;
}

/* Blobs named by a digest only: anything else under the blobs prefix
 * (a folder of another prefix, a stray file) is not ours. */
static int azblob_store_list_blobs(struct transport *t, struct store_blob **out, size_t *n)
{
	struct collected col;
	size_t kept = 0;
	*out = NULL;
	*n = 0;
	int rc = list_folder(t, AZBLOB_BLOBS, &col);
	if (rc)
		return rc;
	for (size_t i = 0; i < col.n; i++) {
		struct store_blob b = col.b[i];
		const char *digest = b.id + col.folder_len;
		if (digest_check(digest, ERR_FAILURE, "blob name")) {
			error_clear();
			free(b.id);
			continue;
		}
		memcpy(b.digest, digest, strlen(digest) + 1);
		col.b[kept++] = b;
	}
	*out = col.b;
	*n = kept;
	return 0;
}

/* Delete Blob has no batch form cachectl speaks (Blob Batch wants every
 * sub-request signed on its own): one request per blob, this many at once. */
#define DELETE_PARALLELISM 8

struct deletion {
	struct azblob_client *client;
	const struct store_blob *b;
	const struct timestamp *spare_after;
	enum azblob_deleted *result;
};

static int delete_one(void *ctx, size_t i)
{
	struct deletion *d = ctx;
	if (!d->b[i].id)
		return 0;
	return azblob_delete_blob(d->client, d->b[i].id, NULL, d->spare_after, &d->result[i]);
}

/* Under If-Unmodified-Since: a blob an export wrote again after the
 * listing is spared by Azure itself. */
static int azblob_store_delete_blobs(struct transport *t, const struct store_blob *b, size_t n,
				     const struct timestamp *spare_after, size_t *deleted, int64_t *bytes)
{
	struct deletion d = {.b = b, .spare_after = spare_after};
	*deleted = 0;
	*bytes = 0;
	int rc = azblob_transport_client(t, &d.client);
	if (rc)
		return rc;
	CHECK_ALLOC(d.result = calloc(n + 1, sizeof(*d.result)));
	for (size_t i = 0; i < n; i++)
		d.result[i] = AZBLOB_ABSENT; /* until its job says otherwise */
	/* keep_going: what was deleted before a failure is still counted. */
	rc = parallel_for(n, DELETE_PARALLELISM, true, delete_one, &d);
	for (size_t i = 0; i < n; i++)
		if (d.result[i] == AZBLOB_DELETED) {
			(*deleted)++;
			*bytes += b[i].size;
		}
	free(d.result);
	return rc;
}

/* A present blob younger than touch_refresh (24h) keeps its old time when
 * an export reuses it: the grace must outlast that, plus an hour. */
static double azblob_store_grace_floor(struct transport *t)
{
	double refresh = azblob_transport_config(t)->touch_refresh;
	return (refresh > 0 ? refresh : 0) + 3600;
}

const struct store_ops azblob_store_ops = {
	.list = azblob_store_list,
	.selected = azblob_store_selected,
	.select = azblob_store_select,
	.mark = azblob_store_mark,
	.remove = azblob_store_remove,
	.list_blobs = azblob_store_list_blobs,
	.delete_blobs = azblob_store_delete_blobs,
	.grace_floor = azblob_store_grace_floor,
	.blob_fate = "deleted",
};
