/* The plan of an export: per destination, the cache it gets (mode=min
 * applied) and, per blob, a copy, a re-encode, or the blob it holds
 * already.  Destinations that want a blob the same way share one job, and
 * the copies and the other re-encodes of a blob ride on one re-encode of
 * it, so a blob is read once (twice when eStargz and another re-encoding
 * are both asked: eStargz walks the tar on its own read). */
#include <stdlib.h>
#include <string.h>

#include "core/model/media_type.h"
#include "core/util/array_grow.h"
#include "transport/engine/blob_reuse.h"
#include "transport/engine/export_run.h"

static bool same_target(const struct codec_options *a, const struct codec_options *b)
{
	return a->compression == b->compression && a->level_set == b->level_set &&
	       (!a->level_set || a->level == b->level) && a->estargz_lossless == b->estargz_lossless;
}

static struct job *find_job(struct export_run *run, const struct descriptor *d, bool reencode,
			    const struct codec_options *target)
{
	for (size_t i = 0; i < run->n_jobs; i++) {
		struct job *j = &run->jobs[i];
		if (strcmp(j->source->digest, d->digest) == 0 && j->reencode == reencode &&
		    (!reencode || same_target(&j->target, target)))
			return j;
	}
	return NULL;
}

static int add_job(struct job **out, struct export_run *run, const struct descriptor *d, bool reencode,
		   const struct codec_options *target)
{
	int rc = ARRAY_RESERVE(run->jobs, run->cap_jobs, run->n_jobs + 1);
	if (rc)
		return rc;
	struct job *j = &run->jobs[run->n_jobs++];
	memset(j, 0, sizeof(*j));
	j->source = d;
	j->reencode = reencode;
	if (reencode)
		j->target = *target;
	*out = j;
	return 0;
}

/* Destination `dest` wants blob d (copied, or re-encoded to target). */
static int want_blob(struct export_run *run, const struct descriptor *d, bool reencode,
		     const struct codec_options *target, size_t dest)
{
	struct job *j = find_job(run, d, reencode, target);
	if (!j) {
		int rc = add_job(&j, run, d, reencode, target);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < j->n_deliveries; i++)
		if (j->deliveries[i].dest == dest)
			return 0;
	int rc = ARRAY_RESERVE(j->deliveries, j->cap_deliveries, j->n_deliveries + 1);
	if (rc)
		return rc;
	j->deliveries[j->n_deliveries++] = (struct delivery){.dest = dest};
	return 0;
}

/* Instead of re-encoding d for destination di: the destination's own blob
 * with d's content in the encoding asked, when it holds one. */
static int find_reuse(bool *reused, struct export_run *run, size_t di, struct existing_blobs *existing,
		      const struct descriptor *d)
{
	struct transport *t = run->dests[di].transport;
	const char *diff_id = descriptor_annotation(d, ANN_UNCOMPRESSED);
	*reused = false;
	if (!diff_id)
		return 0;
	int rc = existing_blobs_load(existing, t, run->progress);
	if (rc)
		return rc;
	const struct descriptor *found =
		existing_blobs_find(existing, t, diff_id, run->dests[di].settings.codec.compression);
	if (!found)
		return 0;
	if ((rc = ARRAY_RESERVE(run->reuses, run->cap_reuses, run->n_reuses + 1)))
		return rc;
	struct reuse *r = &run->reuses[run->n_reuses];
	*r = (struct reuse){.dest = di, .source = d};
	if ((rc = descriptor_copy(&r->found, found)))
		return rc;
	run->n_reuses++;
	run->totals->layers_skipped++;
	*reused = true;
	return 0;
}

/* Blobs written as they were although the destination asked for another
 * encoding or a level: each kind gets one note. */
struct kept_blobs {
	size_t encoding; /* in another encoding, without force-compression */
	size_t level;    /* already in the encoding asked, when a level was asked */
};

/* How destination di gets blob d: a copy, a re-encode (a blob in another
 * encoding than the one asked, with force-compression), or the blob it
 * already holds; *kept counts the blobs copied although asked otherwise. */
static int plan_blob(struct export_run *run, size_t di, struct existing_blobs *existing,
		     const struct descriptor *d, struct kept_blobs *kept)
{
	const struct export_settings *s = &run->dests[di].settings;
	enum compression enc = layer_encoding(d);
	bool reencode = false, reused = false;
	if (s->compression_set && enc != s->codec.compression && enc != COMPRESSION_UNKNOWN) {
		if (s->force_compression)
			reencode = true;
		else
			kept->encoding++;
	} else if (s->codec.level_set && enc == s->codec.compression) {
		kept->level++; /* as BuildKit: a blob in the right encoding is never recompressed */
	}
	int rc = reencode ? find_reuse(&reused, run, di, existing, d) : 0;
	if (rc || reused)
		return rc;
	return want_blob(run, d, reencode, &s->codec, di);
}

static void note_kept(struct export_run *run, size_t di, const struct kept_blobs *kept)
{
	const struct export_settings *s = &run->dests[di].settings;
	const char *where = run->dests[di].transport->display, *name = compression_name(s->codec.compression);
	if (kept->encoding)
		progress_note(run->progress,
			      "%s: compression=%s not applied to %zu existing layers (they keep their encoding; "
			      "force-compression=true re-encodes them)",
			      where, name, kept->encoding);
	if (kept->level)
		progress_note(run->progress,
			      "%s: compression-level=%d not applied to %zu existing layers already in %s (they are "
			      "copied as they are; only re-encoded layers take a level)",
			      where, s->codec.level, kept->level, name);
}

/* A job (or a reuse) for every blob cache c references. */
static int plan_blobs(struct export_run *run, size_t di, const struct cache *c)
{
	const struct descriptor **blobs = NULL;
	struct existing_blobs existing = {0};
	struct kept_blobs kept = {0};
	size_t n_blobs = 0;
	int rc = cache_referenced_blobs(c, &blobs, &n_blobs);
	for (size_t i = 0; i < n_blobs && !rc; i++)
		rc = plan_blob(run, di, &existing, cache_blob(run->src->merged, blobs[i]->digest), &kept);
	free(blobs);
	existing_blobs_free(&existing);
	if (!rc)
		note_kept(run, di, &kept);
	return rc;
}

int export_plan_destination(struct export_run *run, size_t di)
{
	struct destination *dest = &run->dests[di];
	struct cache *c = NULL;
	int rc = cache_clone(&c, run->src->merged);
	if (!rc && dest->settings.mode == EXPORT_MODE_MIN)
		rc = cache_keep_min(c);
	if (!rc)
		rc = config_budget_apply(c, &dest->settings.config_budget, dest->transport->display, run->progress);
	if (rc)
		goto out;
	if (c->config->n_layers == 0) {
		progress_note(run->progress, "%s: nothing to export: no cache record has layers",
			      dest->transport->display);
		goto out;
	}
	/* A destination that keeps no blobs needs none copied: write_cache
	 * finds them where they are. */
	if (!dest->settings.stores_no_blobs && (rc = plan_blobs(run, di, c)))
		goto out;
	run->caches[di] = c;
	c = NULL;
out:
	cache_free(c);
	return rc;
}

/* ---- one read for copies and a re-encode -------------------------------- */

static struct job *reencode_of(struct export_run *run, const struct descriptor *d)
{
	for (size_t i = 0; i < run->n_jobs; i++)
		if (run->jobs[i].reencode && strcmp(run->jobs[i].source->digest, d->digest) == 0)
			return &run->jobs[i];
	return NULL;
}

/* Moves copy job c's deliveries onto re-encode job host. */
static int ride_along(struct job *host, struct job *c)
{
	int rc = ARRAY_RESERVE(host->deliveries, host->cap_deliveries, host->n_deliveries + c->n_deliveries);
	if (rc)
		return rc;
	struct delivery *dl = host->deliveries;
	for (size_t k = 0; k < c->n_deliveries; k++) {
		dl[host->n_deliveries] = c->deliveries[k];
		dl[host->n_deliveries++].copy = true;
	}
	free(c->deliveries);
	c->deliveries = NULL;
	c->n_deliveries = c->cap_deliveries = 0; /* no job is planned without deliveries: gone */
	return 0;
}

/* eStargz is written by walking a tar source, not from a stream of plain
 * bytes: it cannot share an encoder set (core/codec/encoder_set.h). */
static bool can_share_encoders(const struct job *j)
{
	return j->reencode && j->target.compression != COMPRESSION_ESTARGZ && !j->riding;
}

/* Every other re-encode of host's blob rides on host's read. */
static int gather_riders(struct export_run *run, size_t host)
{
	struct job *h = &run->jobs[host];
	for (size_t i = host + 1; i < run->n_jobs; i++) {
		struct job *r = &run->jobs[i];
		if (!can_share_encoders(r) || strcmp(r->source->digest, h->source->digest) != 0)
			continue;
		size_t *riders = realloc(h->riders, (h->n_riders + 1) * sizeof(*riders));
		CHECK_ALLOC(riders);
		h->riders = riders;
		h->riders[h->n_riders++] = i;
		r->riding = true;
	}
	return 0;
}

int export_plan_share_reads(struct export_run *run)
{
	int rc = 0;
	for (size_t i = 0; i < run->n_jobs && !rc; i++) {
		struct job *c = &run->jobs[i];
		struct job *host = c->reencode || !descriptor_annotation(c->source, ANN_UNCOMPRESSED)
					   ? NULL
					   : reencode_of(run, c->source);
		if (host)
			rc = ride_along(host, c);
	}
	size_t kept = 0;
	for (size_t i = 0; i < run->n_jobs; i++)
		if (run->jobs[i].n_deliveries)
			run->jobs[kept++] = run->jobs[i];
	run->n_jobs = kept;
	for (size_t i = 0; i < run->n_jobs && !rc; i++)
		if (can_share_encoders(&run->jobs[i]))
			rc = gather_riders(run, i);
	return rc;
}
