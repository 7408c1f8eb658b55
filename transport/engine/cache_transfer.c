/* An export from start to end: the plan, the blob jobs in parallel, then
 * each destination's cache document, written only after all its blobs. */
#include "transport/engine/cache_transfer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/model/media_type.h"
#include "core/util/buffer.h"
#include "core/util/secrets.h"
#include "formats/annotated_config.h"
#include "core/util/parallel.h"
#include "transport/engine/export_run.h"

/* ---- finishing a destination -------------------------------------------- */

/* The descriptor of a re-encoded blob: the source's, with the new digest,
 * size and media type, and the annotations of the new encoding instead of
 * the old one's (an eStargz blob says its TOC digest and full size). */
static int reencoded_descriptor(struct descriptor *out, const struct descriptor *source, enum compression target,
				const struct layer_outcome *o)
{
	int rc = descriptor_copy(out, source);
	if (rc)
		return rc;
	memcpy(out->digest, o->digest, DIGEST_BUF);
	out->size = o->size;
	descriptor_annotation_remove(out, ANN_STARGZ_TOC);
	descriptor_annotation_remove(out, ANN_ESTARGZ_SIZE);
	bool oci = !source->media_type || strstr(source->media_type, "vnd.oci.") != NULL;
	if ((rc = descriptor_set_media_type(out, media_type_for(target, oci))) ||
	    (rc = descriptor_annotation_set(out, ANN_UNCOMPRESSED, o->diff_id)))
		return rc;
	if (target == COMPRESSION_ESTARGZ) {
		char size[24];
		snprintf(size, sizeof(size), "%lld", (long long)o->uncompressed_size);
		if ((rc = descriptor_annotation_set(out, ANN_STARGZ_TOC, o->toc_digest)) ||
		    (rc = descriptor_annotation_set(out, ANN_ESTARGZ_SIZE, size)))
			return rc;
	}
	return 0;
}

/* Blob `source` of cache c becomes its re-encoded twin. */
static int replace_reencoded(struct cache *c, const struct descriptor *source, enum compression target,
			     const struct layer_outcome *o)
{
	struct descriptor nd;
	int rc = reencoded_descriptor(&nd, source, target, o);
	if (!rc)
		rc = cache_replace_blob(c, source->digest, &nd);
	descriptor_free(&nd);
	return rc;
}

/* What job j did for cache c, written into c: the re-encoded blob in place
 * of its source, or the diffID measured on the way. */
static int apply_job(struct cache *c, const struct job *j, const struct delivery *dl)
{
	if (j->reencode && !dl->copy)
		return replace_reencoded(c, j->source, j->target.compression, &j->outcome);
	struct descriptor *d = cache_blob_mut(c, j->source->digest);
	if (*j->measured_diff_id && d)
		return descriptor_annotation_set(d, ANN_UNCOMPRESSED, j->measured_diff_id);
	return 0;
}

/* The blobs destination di holds already in the encoding asked, in c as a
 * re-encode would have put them (same diffID, so same records). */
static int apply_reuses(struct export_run *run, size_t di, struct cache *c)
{
	enum compression target = run->dests[di].settings.codec.compression;
	for (size_t i = 0; i < run->n_reuses; i++) {
		const struct reuse *r = &run->reuses[i];
		if (r->dest != di)
			continue;
		struct layer_outcome o = {.size = r->found.size, .uncompressed_size = -1, .toc_entries = -1};
		memcpy(o.digest, r->found.digest, DIGEST_BUF);
		snprintf(o.diff_id, sizeof(o.diff_id), "%s", descriptor_annotation(r->source, ANN_UNCOMPRESSED));
		int rc = replace_reencoded(c, r->source, target, &o);
		if (rc)
			return rc;
	}
	return 0;
}

/* Every job for destination di, in c; the first failure is the answer. */
static int apply_jobs(struct export_run *run, size_t di, struct cache *c)
{
	for (size_t i = 0; i < run->n_jobs; i++) {
		const struct job *j = &run->jobs[i];
		for (size_t k = 0; k < j->n_deliveries; k++) {
			if (j->deliveries[k].dest != di)
				continue;
			if (j->failed)
				return error_restore(&j->error);
			if (j->deliveries[k].failed)
				return error_restore(&j->deliveries[k].error);
			int rc = apply_job(c, j, &j->deliveries[k]);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* The cache document, once every blob of destination di is there. */
static int finish_destination(struct export_run *run, size_t di)
{
	struct destination *dest = &run->dests[di];
	struct cache *c = run->caches[di];
	int rc = apply_jobs(run, di, c);
	if (!rc)
		rc = apply_reuses(run, di, c);
	if (!rc)
		rc = cache_normalize(c, NULL);
	if (!rc) /* re-encoded blobs keep the config's length; checked again all the same */
		rc = config_budget_check(c, &dest->settings.config_budget);
	if (rc)
		return rc;
	struct export_form form = {.root = dest->settings.form};
	if (!dest->settings.form_set &&
	    (!c->root_media_type || root_form_of(&form.root, c->root_media_type))) {
		/* A source without a root of its own: BuildKit's default form. */
		form.root = (struct root_form){.oci_mediatypes = true, .image_manifest = true, .convert_layers = true};
	}
	return dest->transport->ops->write_cache(dest->transport, c, &form);
}

/* ---- what each destination got ------------------------------------------ */

/* Blobs written and found present at destination di, and the bytes written. */
static void count_deliveries(const struct export_run *run, size_t di, struct export_result *r)
{
	for (size_t i = 0; i < run->n_jobs; i++) {
		const struct job *j = &run->jobs[i];
		for (size_t k = 0; k < j->n_deliveries; k++) {
			const struct delivery *dl = &j->deliveries[k];
			if (dl->dest != di || !dl->done)
				continue;
			if (dl->existed) {
				r->blobs_skipped++;
				continue;
			}
			r->blobs_written++;
			r->bytes_written += !j->reencode || dl->copy ? j->source->size : j->outcome.size;
		}
	}
	for (size_t i = 0; i < run->n_reuses; i++)
		r->blobs_skipped += run->reuses[i].dest == di;
}

/* The digests destination di's document has: what write_cache stored, or
 * for a backend whose document is the annotated config (s3, gha, azblob)
 * the digest of the same bytes, built again. */
static void written_digests(struct destination *dest, const struct cache *c)
{
	struct export_result *r = &dest->result;
	struct buffer doc = BUFFER_INIT;
	memcpy(r->root_digest, dest->transport->written_root, DIGEST_BUF);
	memcpy(r->config_digest, dest->transport->written_config, DIGEST_BUF);
	if (!*r->config_digest && c && !annotated_config_build(&doc, c) &&
	    digest_of_bytes(r->config_digest, doc.data, doc.len))
		r->config_digest[0] = '\0';
	buffer_free(&doc);
}

/* Fills and reports destination di's result; rc is how it ended. */
static void report_destination(struct export_run *run, size_t di, int rc, bool ignored)
{
	struct destination *dest = &run->dests[di];
	struct export_result *r = &dest->result;
	const struct cache *c = run->caches[di];
	count_deliveries(run, di, r);
	r->records = c ? c->config->n_records : 0;
	if (rc) {
		r->outcome = ignored ? "ignored" : "failed";
		snprintf(r->error, sizeof(r->error), "%s", error_message());
		secret_scrub(r->error);
	} else {
		r->outcome = c ? "ok" : "unchanged";
		if (c)
			written_digests(dest, c);
	}
	progress_result(run->progress, r);
}

/* ---- the whole export --------------------------------------------------- */

int cache_export(struct source_set *src, struct destination *dests, size_t n, unsigned jobs,
		 struct progress *p, struct progress_totals *totals)
{
	struct export_run run = {.src = src, .dests = dests, .progress = p, .totals = totals};
	int rc = 0, first_error = 0;
	struct error_state saved, *plan_errors = NULL;
	pthread_mutex_init(&run.lock, NULL);
	if (!(run.caches = calloc(n + 1, sizeof(*run.caches)))) {
		rc = error_oom();
		goto out;
	}
	/* A destination that cannot be planned (a config over its budget)
	 * fails alone, as one that cannot take a blob. */
	if (!(plan_errors = calloc(n + 1, sizeof(*plan_errors)))) {
		rc = error_oom();
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if ((rc = export_plan_destination(&run, i)))
			error_save(&plan_errors[i], rc);
	if ((rc = export_plan_share_reads(&run)))
		goto out;
	int64_t planned_bytes = 0;
	for (size_t i = 0; i < run.n_jobs; i++)
		planned_bytes += run.jobs[i].source->size;
	progress_plan(p, (unsigned)run.n_jobs, planned_bytes);
	/* Every job runs even when one fails: each destination then knows
	 * exactly which of its blobs made it. */
	parallel_for(run.n_jobs, jobs, true, blob_job_run, &run);
	for (size_t i = 0; i < n; i++) {
		if (plan_errors[i].code)
			rc = error_restore(&plan_errors[i]);
		else if (run.caches[i])
			rc = finish_destination(&run, i);
		else
			rc = 0; /* nothing to export there: reported as unchanged */
		if (rc)
			error_wrap(rc, "export to %s", dests[i].transport->display);
		report_destination(&run, i, rc, dests[i].settings.ignore_error);
		if (!rc)
			continue;
		if (dests[i].settings.ignore_error) {
			progress_note(p, "ignored (ignore-error=true): %s", error_message());
			rc = 0;
		} else if (!first_error) {
			first_error = rc;
			error_save(&saved, rc);
		}
	}
	rc = first_error ? error_restore(&saved) : 0;
out:
	for (size_t i = 0; i < run.n_jobs; i++) {
		free(run.jobs[i].deliveries);
		free(run.jobs[i].riders);
	}
	free(run.jobs);
	for (size_t i = 0; i < run.n_reuses; i++)
		descriptor_free(&run.reuses[i].found);
	free(run.reuses);
	if (run.caches)
		for (size_t i = 0; i < n; i++)
			cache_free(run.caches[i]);
	free(run.caches);
	free(plan_errors);
	pthread_mutex_destroy(&run.lock);
	return rc;
}
