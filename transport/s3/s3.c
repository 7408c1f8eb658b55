/* type=s3: a cache in an S3 bucket, laid out as BuildKit's s3 cache does.
 *
 *   <prefix><blobs_prefix>sha256:<hex>     each layer blob, raw bytes
 *   <prefix><manifests_prefix><name>       the cache config with per-layer
 *                                          annotations, one object per name
 *
 * Export: blobs first (HEAD skips present ones; present ones older than
 * touch_refresh are copied onto themselves so lifecycle rules keep them),
 * then the document under every name.  Uploads (s3_upload.c) are spooled
 * while hashed, sent whole below 16 MiB and as fixed-size parts above, at
 * most upload_parallelism blobs at once.  Import reads the first name's
 * document and streams blobs, re-requesting the rest of a broken download. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/util/array_grow.h"
#include "core/util/buffer.h"
#include "core/util/duration.h"
#include "core/util/error.h"
#include "core/util/parallel.h"
#include "core/util/progress.h"
#include "core/util/semaphore.h"
#include "formats/annotated_config.h"
#include "transport/s3/aws_credentials.h"
#include "transport/s3/aws_sigv4.h"
#include "transport/s3/s3.h"
#include "transport/s3/s3_client.h"
#include "transport/s3/s3_upload.h"
#include "transport/streamed_blob_writer.h"
#include "transport/resuming_source.h"
#include "transport/transport.h"
#include "transport/s3/url_parts.h"

#define COPY_LIMIT (5LL << 30) /* CopyObject takes sources below 5 GiB */
#define DOCUMENT_MAX (256u * 1024 * 1024)


static int ready(struct s3_transport *s)
{
	int rc = 0;
	pthread_mutex_lock(&s->lock);
	if (!s->client) {
		aws_credential_chain_set_progress(s->credentials, s->base.progress);
		struct s3_client_options o = {.bucket = s->bucket, .region = s->region, .endpoint_url = s->endpoint_url,
					      .path_style = s->path_style, .credentials = s->credentials,
					      .max_attempts = s->max_attempts, .progress = s->base.progress};
		rc = s3_client_new(&s->client, &o);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static int key_for(char **out, const struct s3_transport *s, const char *kind_prefix, const char *name)
{
	int rc;
	struct buffer b = BUFFER_INIT;
	if ((rc = buffer_appendf(&b, "%s%s%s", s->prefix, kind_prefix, name)))
		return rc;
	*out = buffer_detach(&b, NULL);
	return *out ? 0 : error_oom();
}

static int blob_key(char **out, const struct s3_transport *s, const char *digest)
{
	return key_for(out, s, s->blobs_prefix, digest);
}

/* ---- touch refresh ------------------------------------------------------ */

/* Go's time.Time String() form, which BuildKit stores as "updated-at"
 * (without the monotonic clock reading; the value is opaque). */
static void go_time_text(char *out, size_t size)
{
	struct timespec ts;
	struct tm tm;
	char frac[16] = "";
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	if (ts.tv_nsec) {
		snprintf(frac, sizeof(frac), ".%09ld", ts.tv_nsec);
		for (size_t n = strlen(frac); n > 1 && frac[n - 1] == '0'; n--)
			frac[n - 1] = '\0';
	}
	char base[32];
	strftime(base, sizeof(base), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(out, size, "%s%s +0000 UTC", base, frac);
}

struct copy_parts {
	struct s3_client *client;
	const char *key, *upload_id;
	int64_t size;
	char **etags;
};

static int copy_one_part(void *ctx, size_t i)
{
	struct copy_parts *p = ctx;
	int64_t first = (int64_t)i * COPY_LIMIT, last = first + COPY_LIMIT;
	if (last > p->size)
		last = p->size;
	return s3_multipart_copy_part(p->client, p->key, p->upload_id, (int)i + 1, first, last - 1, &p->etags[i]);
}

/* Multipart copy onto itself, for objects CopyObject refuses (>= 5 GiB). */
static int touch_large(struct s3_transport *s, const char *key, int64_t size, const char *when)
{
	const char *meta_name = "updated-at";
	char *upload_id = NULL;
	int rc = s3_multipart_create(s->client, key, &meta_name, &when, 1, &upload_id);
	if (rc)
		return rc;
	size_t n = (size_t)((size + COPY_LIMIT - 1) / COPY_LIMIT);
	struct copy_parts p = {s->client, key, upload_id, size, calloc(n, sizeof(char *))};
	rc = p.etags ? parallel_for(n, S3_PART_CONCURRENCY, false, copy_one_part, &p)
		     : error_oom();
	if (!rc)
		rc = s3_multipart_complete(s->client, key, upload_id, p.etags, (int)n);
	if (rc) {
		struct error_state saved;
		error_save(&saved, rc);
		if (s3_multipart_abort(s->client, key, upload_id))
			progress_note(s->base.progress, "could not abort multipart copy %s: %s", upload_id, error_message());
		rc = error_restore(&saved);
	}
	for (size_t i = 0; p.etags && i < n; i++)
		free(p.etags[i]);
	free(p.etags);
	free(upload_id);
	return rc;
}

/* BuildKit's touch: a present blob older than touch_refresh is copied onto
 * itself with fresh metadata, which renews its LastModified. */
static int maybe_touch(struct s3_transport *s, const char *key, const struct s3_object_info *info)
{
	size_t dummy;
	double age = difftime(time(NULL), (time_t)info->last_modified);
	/* touch_refresh=0s (or negative) touches every time, as in BuildKit. */
	if (s->dir != TRANSPORT_DESTINATION || !info->last_modified || (s->touch_refresh > 0 && age <= s->touch_refresh))
		return 0;
	pthread_mutex_lock(&s->lock);
	bool done = strmap_get(&s->touched, key, &dummy);
	int rc = done ? 0 : strmap_put(&s->touched, key, 1);
	pthread_mutex_unlock(&s->lock);
	if (done || rc)
		return rc;
	char when[64];
	go_time_text(when, sizeof(when));
	if (info->size < COPY_LIMIT)
		rc = s3_copy_object_to_itself(s->client, key, "updated-at", when);
	else
		rc = touch_large(s, key, info->size, when);
	return rc ? error_wrap(rc, "touch (touch_refresh)") : 0;
}

/* ---- reading ------------------------------------------------------------ */

static int s3_blob_stat(struct transport *t, const char *digest, int64_t *size)
{
	struct s3_transport *s = (struct s3_transport *)t;
	struct s3_object_info info;
	char *key;
	int rc = ready(s);
	if (rc || (rc = blob_key(&key, s, digest)))
		return rc;
	if ((rc = s3_head_object(s->client, key, &info)))
		goto out;
	if (info.size < 0) {
		char name[1200];
		s3_object_name(s->client, key, name, sizeof(name));
		rc = error_set(ERR_FAILURE, "HEAD %s: the answer has no Content-Length", name);
		goto out;
	}
	*size = info.size;
	rc = maybe_touch(s, key, &info);
out:
	free(key);
	return rc;
}

/* A blob download that survives what the HTTP layer's own resume cannot
 * (an expired signature): the rest is requested again, freshly signed. */
/* resuming_source's way to open a piece of an object. */
static int get_object_from(void *client, const char *key, int64_t offset, struct byte_source **out)
{
	return s3_get_object(client, key, offset, out);
}

static int s3_blob_open(struct transport *t, const struct descriptor *d, struct byte_source **out)
{
	struct s3_transport *s = (struct s3_transport *)t;
	char *key = NULL;
	int rc;
	if ((rc = ready(s)) || (rc = blob_key(&key, s, d->digest)))
		goto out;
	if ((rc = resuming_source_new(out, get_object_from, s->client, key, s->base.progress)) == ERR_NOT_FOUND) {
		char name[1200];
		s3_object_name(s->client, key, name, sizeof(name));
		rc = error_set(ERR_NOT_FOUND, "blob %s is missing: %s does not exist", d->digest, name);
	}
out:
	free(key);
	return rc;
}

static int s3_read_cache(struct transport *t, struct cache **out)
{
	struct s3_transport *s = (struct s3_transport *)t;
	struct buffer doc = BUFFER_INIT;
	char *key = NULL, name[1200];
	size_t dropped = 0;
	int rc = ready(s);
	if (rc || (rc = key_for(&key, s, s->manifests_prefix, s->names[0])))
		return rc;
	s3_object_name(s->client, key, name, sizeof(name));
	rc = s3_get_small(s->client, key, DOCUMENT_MAX, &doc);
	if (rc == ERR_NOT_FOUND)
		rc = error_set(ERR_NOT_FOUND, "no cache named \"%s\" in %s: %s does not exist", s->names[0], s->bucket,
			       name);
	if (rc || (rc = annotated_config_load(out, doc.data ? doc.data : "", doc.len, name)))
		goto out;
	struct cache *c = *out;
	dropped = c->dropped_results;
	if ((rc = descriptor_set_media_type(&c->source_config, MT_CACHE_CONFIG)) ||
	    (rc = digest_of_bytes(c->source_config.digest, doc.data ? doc.data : "", doc.len))) {
		cache_free(c);
		*out = NULL;
		goto out;
	}
	c->source_config.size = (int64_t)doc.len;
	if (dropped)
		progress_note(t->progress, "%s: %zu results dropped: their layers are not described", name, dropped);
out:
	free(key);
	buffer_free(&doc);
	return rc;
}

/* ---- writing ------------------------------------------------------------ */

static int writer_key(void *store, const char *digest, char **key)
{
	return blob_key(key, store, digest);
}

/* A digest known only at commit: a HEAD finds it (and refreshes it). */
static int writer_present(void *store, const char *digest, int64_t size, bool *existed)
{
	struct s3_transport *s = store;
	struct s3_object_info info;
	char *key = NULL;
	int rc = blob_key(&key, s, digest);
	if (!rc)
		rc = s3_head_object(s->client, key, &info);
	if (!rc && info.size == size) {
		*existed = true;
		rc = maybe_touch(s, key, &info);
	} else if (rc == ERR_NOT_FOUND) {
		rc = 0;
	}
	free(key);
	return rc;
}

static int s3_blob_create(struct transport *t, const struct descriptor *expected, struct blob_writer **out)
{
	struct s3_transport *s = (struct s3_transport *)t;
	int rc = ready(s);
	if (rc)
		return rc;
	const struct streamed_blob_store store = {
		.ops = &s3_upload_ops,
		.limits = &s3_upload_limits,
		.ops_ctx = s,
		.slots = &s->upload_slots,
		.what = "s3 upload",
		.store = s,
		.name_of = writer_key,
		.present = writer_present,
	};
	return streamed_blob_writer_new(out, &store, expected);
}

static int s3_write_cache(struct transport *t, const struct cache *c, const struct export_form *form)
{
	struct s3_transport *s = (struct s3_transport *)t;
	struct buffer doc = BUFFER_INIT;
	char hash[SIGV4_HASH_BUF];
	(void)form; /* no root document: the config is the document */
	int rc;
	if ((rc = ready(s)) || (rc = annotated_config_build(&doc, c)) || (rc = sigv4_hash_hex(hash, doc.data, doc.len)))
		goto out;
	/* The same bytes under every name, in the order given. */
	for (size_t i = 0; i < s->n_names && !rc; i++) {
		char *key;
		if ((rc = key_for(&key, s, s->manifests_prefix, s->names[i])))
			break;
		struct s3_body body = {.data = doc.data, .len = doc.len, .sha256_hex = hash};
		rc = s3_put_object(s->client, key, &body);
		free(key);
	}
out:
	buffer_free(&doc);
	return rc;
}

static void s3_free(struct transport *t)
{
	struct s3_transport *s = (struct s3_transport *)t;
	s3_client_free(s->client);
	aws_credential_chain_free(s->credentials);
	for (size_t i = 0; i < s->n_names; i++)
		free(s->names[i]);
	free(s->names);
	free(s->bucket);
	free(s->region);
	free(s->prefix);
	free(s->blobs_prefix);
	free(s->manifests_prefix);
	free(s->endpoint_url);
	strmap_free(&s->touched);
	semaphore_destroy(&s->upload_slots);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static const struct transport_ops s3_ops = {
	.blob_stat = s3_blob_stat,
	.blob_open = s3_blob_open,
	.blob_create = s3_blob_create,
	.read_cache = s3_read_cache,
	.write_cache = s3_write_cache,
	.free = s3_free,
	.store = &s3_store_ops,
};

/* ---- options ------------------------------------------------------------ */

static int split_names(struct s3_transport *s, const char *names)
{
	const char *p = names;
	size_t cap = 0; /* the names are only ever set here */
	for (;;) {
		const char *semi = strchr(p, ';');
		size_t len = semi ? (size_t)(semi - p) : strlen(p);
		int rc = ARRAY_RESERVE(s->names, cap, s->n_names + 1);
		if (rc)
			return rc;
		if (!(s->names[s->n_names] = strndup(p, len)))
			return error_oom();
		s->n_names++;
		if (!semi)
			return 0;
		p = semi + 1;
	}
}

static const char *option_or_env(struct cache_options *o, const char *key, const char *env)
{
	const char *v = options_get(o, key);
	if (!v || !*v)
		v = getenv(env);
	return v && *v ? v : NULL;
}

static int parse_options(struct s3_transport *s, struct cache_options *o)
{
	const char *bucket = option_or_env(o, "bucket", "AWS_BUCKET");
	const char *region = option_or_env(o, "region", "AWS_REGION");
	const char *endpoint = options_get(o, "endpoint_url");
	const char *touch = options_get(o, "touch_refresh");
	const char *name = options_get(o, "name");
	const char *v;
	if (!bucket)
		return error_set(ERR_USAGE, "bucket ($AWS_BUCKET) not set for s3 cache");
	if (!region)
		return error_set(ERR_USAGE, "region ($AWS_REGION) not set for s3 cache");
	if (!endpoint || !*endpoint)
		endpoint = getenv("AWS_ENDPOINT_URL_S3");
	if (!endpoint || !*endpoint)
		endpoint = getenv("AWS_ENDPOINT_URL");
	/* BuildKit falls back to defaults on bad values here; cachectl refuses
	 * them like every other bad value, so a typo cannot change the cache. */
	bool ignored;
	s->touch_refresh = 24 * 3600;
	if (touch && duration_parse(&s->touch_refresh, touch, "touch_refresh"))
		return error_set(ERR_USAGE, "s3: touch_refresh=\"%s\" is not a duration (like 24h or 90m)", touch);
	if (options_get_bool(o, "use_path_style", false, -1, &s->path_style) ||
	    options_get_bool(o, "disable_accept_encoding", false, -1, &ignored)) /* never sent anyway */
		return ERR_USAGE;
	s->upload_parallelism = 4;
	if ((v = options_get(o, "upload_parallelism"))) {
		char *end;
		long n = strtol(v, &end, 10);
		if (!*v || *end || n <= 0 || n > 1024)
			return error_set(ERR_USAGE, "upload_parallelism must be a positive integer (got \"%s\")", v);
		s->upload_parallelism = (unsigned)n;
	}
	if ((v = options_get(o, "retry_mode")) && strcmp(v, "standard") != 0 && strcmp(v, "adaptive") != 0)
		return error_set(ERR_USAGE, "retry_mode=\"%s\": want standard or adaptive", v);
	if (!(v = options_get(o, "retry_max_attempts")))
		v = getenv("AWS_MAX_ATTEMPTS");
	if (v && *v) {
		char *end;
		long n = strtol(v, &end, 10);
		if (*end || n < 1 || n > 100)
			return error_set(ERR_USAGE, "retry_max_attempts must be an integer >= 1 (got \"%s\")", v);
		s->max_attempts = (unsigned)n;
	}
	s->bucket = strdup(bucket);
	s->region = strdup(region);
	s->prefix = strdup((v = options_get(o, "prefix")) ? v : "");
	s->blobs_prefix = strdup((v = options_get(o, "blobs_prefix")) ? v : "blobs/");
	s->manifests_prefix = strdup((v = options_get(o, "manifests_prefix")) ? v : "manifests/");
	s->endpoint_url = endpoint && *endpoint ? strdup(endpoint) : NULL;
	if (!s->bucket || !s->region || !s->prefix || !s->blobs_prefix || !s->manifests_prefix ||
	    (endpoint && *endpoint && !s->endpoint_url))
		return error_oom();
	if (s->endpoint_url) {
		/* Checked now, so that a typo is a usage error before any work. */
		struct url_parts u;
		int rc = url_parts_parse(&u, s->endpoint_url, "endpoint_url");
		url_parts_free(&u);
		if (rc)
			return rc;
	}
	struct aws_credential_options co = {.access_key_id = options_get(o, "access_key_id"),
					    .secret_access_key = options_get(o, "secret_access_key"),
					    .session_token = options_get(o, "session_token"),
					    .region = s->region};
	int rc = split_names(s, name ? name : "buildkit");
	return rc ? rc : aws_credential_chain_new(&s->credentials, &co);
}

/* The bucket, the manifests' place and the names the document goes under. */
static int set_location(struct s3_transport *s)
{
	struct buffer names = BUFFER_INIT;
	int rc = 0;
	for (size_t i = 0; i < s->n_names && !rc; i++)
		rc = buffer_appendf(&names, "%s%s", i ? ";" : "", s->names[i]);
	if (rc)
		goto out;
	rc = transport_set_location(&s->base, "s3:%s/%s/%s%s:%s", s->endpoint_url ? s->endpoint_url : s->region,
				    s->bucket, s->prefix, s->manifests_prefix, names.data ? names.data : "");
out:
	buffer_free(&names);
	return rc;
}

static int s3_open(struct transport **out, struct cache_options *o, enum transport_direction dir)
{
	struct s3_transport *s = calloc(1, sizeof(*s));
	CHECK_ALLOC(s);
	pthread_mutex_init(&s->lock, NULL);
	semaphore_init(&s->upload_slots, 0);
	s->dir = dir;
	int rc = parse_options(s, o);
	if (rc)
		goto fail;
	semaphore_set_count(&s->upload_slots, s->upload_parallelism);
	if ((rc = transport_init(&s->base, &s3_ops, o)) || (rc = set_location(s)))
		goto fail;
	*out = &s->base;
	return 0;
fail:
	free(s->base.display);
	s3_free(&s->base);
	return rc;
}

/* BuildKit reads every one of these in both directions (touch_refresh and
 * upload_parallelism matter only to exports). */
static const struct option_key s3_keys[] = {
	{.name = "bucket", .directions = OPTION_BOTH},
	{.name = "region", .directions = OPTION_BOTH},
	{.name = "prefix", .directions = OPTION_BOTH},
	{.name = "blobs_prefix", .directions = OPTION_BOTH},
	{.name = "manifests_prefix", .directions = OPTION_BOTH},
	{.name = "name", .directions = OPTION_BOTH},
	{.name = "endpoint_url", .directions = OPTION_BOTH},
	{.name = "use_path_style", .directions = OPTION_BOTH},
	{.name = "access_key_id", .directions = OPTION_BOTH},
	{.name = "secret_access_key", .directions = OPTION_BOTH, .secret = true},
	{.name = "session_token", .directions = OPTION_BOTH, .secret = true},
	{.name = "touch_refresh", .directions = OPTION_BOTH},
	{.name = "upload_parallelism", .directions = OPTION_BOTH},
	{.name = "disable_accept_encoding", .directions = OPTION_BOTH},
	{.name = "retry_mode", .directions = OPTION_BOTH},
	{.name = "retry_max_attempts", .directions = OPTION_BOTH},
	{.name = NULL},
};

const struct transport_handler s3_transport_handler = {
	.type = "s3",
	.synopsis = "bucket=B,region=R[,name=N;...][,prefix=P]",
	.summary = "S3 and compatible stores (docs/s3.md)",
	.can_read = true,
	.can_write = true,
	.keys = s3_keys,
	.open = s3_open,
};

/* ---- for s3_store.c ------------------------------------------------------ */

int s3_transport_ready(struct s3_transport *s)
{
	return ready(s);
}

int s3_transport_key(char **out, const struct s3_transport *s, const char *kind_prefix, const char *name)
{
	return key_for(out, s, kind_prefix, name);
}
