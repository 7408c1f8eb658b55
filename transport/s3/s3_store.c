/* type=s3 as a store: the documents under <prefix><manifests_prefix> (one
 * per cache name) and the blobs under <prefix><blobs_prefix>, listed page
 * by page and deleted in DeleteObjects batches.  S3 has no lock: prune
 * lists again right before deleting, and --grace covers the exports that
 * uploaded blobs whose document is not written yet. */
#include <stdlib.h>
#include <string.h>

#include "core/util/error.h"
#include "formats/annotated_config.h"
#include "transport/s3/s3.h"
#include "transport/s3/s3_bucket.h"
#include "transport/s3/s3_client.h"

#define DOCUMENT_MAX (256u * 1024 * 1024)

/* The cache document called name, its bytes and their digest. */
static int read_document(struct s3_transport *s, const char *name, struct buffer *doc, char digest[DIGEST_BUF])
{
	char *key = NULL;
	int rc = s3_transport_ready(s);
	if (rc || (rc = s3_transport_key(&key, s, s->manifests_prefix, name)) ||
	    (rc = s3_get_small(s->client, key, DOCUMENT_MAX, doc)))
		goto out;
	rc = digest_of_bytes(digest, doc->data ? doc->data : "", doc->len);
out:
	free(key);
	return rc;
}

static int s3_store_list(struct transport *t, struct store_entry **out, size_t *n)
{
	struct s3_transport *s = (struct s3_transport *)t;
	struct s3_listed *objs = NULL;
	struct store_entry *e = NULL;
	size_t n_objs = 0, kept = 0;
	char *prefix = NULL;
	*out = NULL;
	*n = 0;
	int rc = s3_transport_ready(s);
	if (rc || (rc = s3_transport_key(&prefix, s, s->manifests_prefix, "")) ||
	    (rc = s3_list_objects(s->client, prefix, &objs, &n_objs)))
		goto out;
	if (!(e = calloc(n_objs + 1, sizeof(*e)))) {
		rc = error_oom();
		goto out;
	}
	for (size_t i = 0; !rc && i < n_objs; i++) {
		struct buffer doc = BUFFER_INIT;
		struct store_entry *x = &e[kept];
		if (!(x->name = strdup(objs[i].key + strlen(prefix)))) {
			rc = error_oom();
			break;
		}
		rc = read_document(s, x->name, &doc, x->digest);
		buffer_free(&doc);
		if (rc == ERR_NOT_FOUND) { /* deleted since the listing */
			free(x->name);
			x->name = NULL;
			error_clear();
			rc = 0;
			continue;
		}
		x->size = objs[i].size;
		x->written = objs[i].last_modified;
		x->is_cache = true;
		kept++;
	}
out:
	s3_listed_free(objs, n_objs);
	free(prefix);
	if (rc) {
		store_entries_free(e, n_objs);
		return rc;
	}
	*out = e;
	*n = kept;
	return 0;
}

static const char *s3_store_selected(struct transport *t)
{
	return ((struct s3_transport *)t)->names[0];
}

static int s3_store_select(struct transport *t, const char *name)
{
	struct s3_transport *s = (struct s3_transport *)t;
	char *copy = strdup(name);
	CHECK_ALLOC(copy);
	for (size_t i = 0; i < s->n_names; i++)
		free(s->names[i]);
	s->names[0] = copy;
	s->n_names = 1;
	return 0;
}

/* The document as it is now (a newer one wins: its blobs are the ones to keep). */
static int s3_store_mark(struct transport *t, const struct store_entry *e, struct strmap *marks)
{
	struct s3_transport *s = (struct s3_transport *)t;
	struct buffer doc = BUFFER_INIT;
	struct cache *c = NULL;
	char digest[DIGEST_BUF];
	int rc = read_document(s, e->name, &doc, digest);
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

static int s3_store_remove(struct transport *t, const struct store_entry *e)
{
	struct s3_transport *s = (struct s3_transport *)t;
	struct buffer doc = BUFFER_INIT;
	char digest[DIGEST_BUF], *key = NULL;
	int rc = read_document(s, e->name, &doc, digest);
	buffer_free(&doc);
	if (rc)
		return rc;
	if (strcmp(digest, e->digest) != 0)
		return error_set(ERR_NOT_FOUND, "cache \"%s\" was written again meanwhile", e->name);
	if ((rc = s3_transport_key(&key, s, s->manifests_prefix, e->name)))
		return rc;
	rc = s3_delete_object(s->client, key);
	free(key);
	return rc;
}

/* Blob objects only: anything else under the blobs prefix is not ours. */
static int s3_store_list_blobs(struct transport *t, struct store_blob **out, size_t *n)
{
	struct s3_transport *s = (struct s3_transport *)t;
	struct s3_listed *objs = NULL;
	struct store_blob *b = NULL;
	size_t n_objs = 0, kept = 0;
	char *prefix = NULL;
	*out = NULL;
	*n = 0;
	int rc = s3_transport_ready(s);
	if (rc || (rc = s3_transport_key(&prefix, s, s->blobs_prefix, "")) ||
	    (rc = s3_list_objects(s->client, prefix, &objs, &n_objs)))
		goto out;
	if (!(b = calloc(n_objs + 1, sizeof(*b)))) {
		rc = error_oom();
		goto out;
	}
	for (size_t i = 0; !rc && i < n_objs; i++) {
		const char *digest = objs[i].key + strlen(prefix);
		if (digest_check(digest, ERR_FAILURE, "blob key")) {
			error_clear();
			continue;
		}
		memcpy(b[kept].digest, digest, strlen(digest) + 1);
		b[kept].size = objs[i].size;
		b[kept].modified = objs[i].last_modified;
		if (!(b[kept].id = strdup(objs[i].key)))
			rc = error_oom();
		kept++;
	}
out:
	s3_listed_free(objs, n_objs);
	free(prefix);
	if (rc) {
		store_blobs_free(b, kept);
		return rc;
	}
	*out = b;
	*n = kept;
	return 0;
}

/* Listed again right before: a blob an export refreshed (touch_refresh)
 * since the first listing is spared. */
static int s3_store_delete_blobs(struct transport *t, const struct store_blob *b, size_t n,
				 const struct timestamp *spare_after, size_t *deleted, int64_t *bytes)
{
	struct store_blob *now = NULL;
	struct strmap fresh = STRMAP_INIT;
	char **keys = calloc(n + 1, sizeof(*keys));
	size_t n_now = 0, n_keys = 0, v;
	*deleted = 0;
	*bytes = 0;
	CHECK_ALLOC(keys);
	int rc = s3_store_list_blobs(t, &now, &n_now);
	for (size_t i = 0; !rc && i < n_now; i++)
		if (timestamp_compare(&now[i].modified, spare_after) > 0)
			rc = strmap_put(&fresh, now[i].digest, 1);
	for (size_t i = 0; !rc && i < n; i++) {
		if (!b[i].id || strmap_get(&fresh, b[i].digest, &v))
			continue;
		keys[n_keys++] = b[i].id;
		*bytes += b[i].size;
	}
	if (!rc && n_keys)
		rc = s3_delete_objects(((struct s3_transport *)t)->client, keys, n_keys);
	if (rc)
		*bytes = 0;
	else
		*deleted = n_keys;
	free(keys);
	strmap_free(&fresh);
	store_blobs_free(now, n_now);
	return rc;
}

/* An exporter finds a present blob and refreshes it only when it is older
 * than its touch_refresh (BuildKit: 24h): a younger one keeps its old time,
 * so the grace must be longer than that. */
static double s3_store_grace_floor(struct transport *t)
{
	double refresh = ((struct s3_transport *)t)->touch_refresh;
	return (refresh > 0 ? refresh : 0) + 3600;
}

const struct store_ops s3_store_ops = {
	.list = s3_store_list,
	.selected = s3_store_selected,
	.select = s3_store_select,
	.mark = s3_store_mark,
	.remove = s3_store_remove,
	.list_blobs = s3_store_list_blobs,
	.delete_blobs = s3_store_delete_blobs,
	.grace_floor = s3_store_grace_floor,
	.blob_fate = "deleted",
};
