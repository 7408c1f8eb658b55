#include "transport/engine/cache_transfer.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/error.h"
#include "core/codec/layer_pipeline.h"
#include "core/model/media_type.h"
#include "core/util/parallel.h"

/* ---- settings ----------------------------------------------------------- */

int export_settings_parse(struct export_settings *out, struct cache_options *o,
			  const struct transport_handler *h)
{
	memset(out, 0, sizeof(*out));
	const char *mode = options_get(o, "mode");
	if (mode) {
		if (strcmp(mode, "min") == 0)
			out->mode = EXPORT_MODE_MIN;
		else if (strcmp(mode, "max") == 0)
			out->mode = EXPORT_MODE_MAX;
		else
			return error_set(ERR_USAGE, "mode=\"%s\" is not min or max", mode);
	}
	if (h->stores_no_blobs) {
		/* BuildKit's inline exporter ignores mode: always min. */
		out->stores_no_blobs = true;
		out->mode = EXPORT_MODE_MIN;
	}
	const char *comp = options_get(o, "compression");
	if (comp) {
		if (compression_from_name(&out->codec.compression, comp))
			return ERR_USAGE;
		out->compression_set = true;
	}
	if (options_get_int(o, "compression-level", &out->codec.level_set, &out->codec.level) ||
	    options_get_bool(o, "force-compression", false, 1, &out->force_compression) ||
	    options_get_bool(o, "ignore-error", false, -1, &out->ignore_error))
		return ERR_USAGE;
	if (!out->compression_set && (out->codec.level_set || out->force_compression)) {
		/* BuildKit's default compression is gzip; level and force apply to it. */
		out->codec.compression = COMPRESSION_GZIP;
		out->compression_set = true;
	}
	if (out->codec.level_set && codec_check_level(out->codec.compression, out->codec.level))
		return ERR_USAGE;
	/* cachectl extension: BuildKit's own eStargz layout (docs/estargz.md) */
	if (options_get(o, "estargz-lossless")) {
		if (!out->compression_set || out->codec.compression != COMPRESSION_ESTARGZ)
			return error_set(ERR_USAGE, "estargz-lossless applies only to compression=estargz (compression is %s)",
					 out->compression_set ? compression_name(out->codec.compression) : "not set");
		if (options_get_bool(o, "estargz-lossless", false, -1, &out->codec.estargz_lossless))
			return ERR_USAGE;
	}
	if (h->has_root_form) {
		bool oci, im;
		const char *given = options_get(o, "image-manifest");
		if (options_get_bool(o, "oci-mediatypes", true, -1, &oci) ||
		    options_get_bool(o, "image-manifest", oci, -1, &im))
			return ERR_USAGE;
		if (!oci && given && im)
			return error_set(ERR_USAGE,
					 "image-manifest=true needs oci-mediatypes=true (BuildKit refuses it too)");
		out->form_set = true;
		out->form = (struct root_form){.oci_mediatypes = oci, .image_manifest = im, .convert_layers = true};
	}
	return config_budget_parse(&out->config_budget, o, h);
}

/* ---- sources ------------------------------------------------------------ */

int source_set_load(struct source_set *out, struct transport **sources, size_t n, struct progress *p)
{
	memset(out, 0, sizeof(*out));
	out->sources = sources;
	out->n_sources = n;
	size_t found = 0;
	for (size_t i = 0; i < n; i++) {
		struct cache *c = NULL;
		int rc = sources[i]->ops->read_cache(sources[i], &c);
		if (rc == ERR_NOT_FOUND) {
			if (n > 1)
				progress_note(p, "%s", error_message());
			continue;
		}
		if (rc) {
			source_set_free(out);
			return rc;
		}
		for (size_t k = 0; k < c->n_blobs; k++) {
			size_t dummy;
			if (!strmap_get(&out->origin, c->blobs[k].digest, &dummy) &&
			    strmap_put(&out->origin, c->blobs[k].digest, i)) {
				cache_free(c);
				source_set_free(out);
				return ERR_FAILURE;
			}
		}
		found++;
		if (!out->merged) {
			out->merged = c;
			continue;
		}
		rc = cache_merge(out->merged, c);
		cache_free(c);
		if (rc) {
			source_set_free(out);
			return error_wrap(rc, "merge %s", sources[i]->display);
		}
	}
	if (!found) {
		source_set_free(out);
		if (n == 1)
			return ERR_NOT_FOUND; /* its own message says where and why */
		return error_set(ERR_NOT_FOUND, "no cache found at any of the %zu sources", n);
	}
	return 0;
}

void source_set_free(struct source_set *s)
{
	cache_free(s->merged);
	strmap_free(&s->origin);
	memset(s, 0, sizeof(*s));
}

int source_set_open_blob(struct source_set *s, const struct descriptor *d, struct byte_source **out)
{
	size_t i;
	if (!strmap_get(&s->origin, d->digest, &i))
		return error_set(ERR_NOT_FOUND, "no source has blob %s", d->digest);
	return s->sources[i]->ops->blob_open(s->sources[i], d, out);
}

/* ---- the plan ----------------------------------------------------------- */

/* The encoding of a blob as its descriptor tells it. */
static enum compression blob_encoding(const struct descriptor *d)
{
	return layer_encoding(d);
}

/* What one destination gets for one blob. */
struct delivery {
	size_t dest;
	bool done;      /* stored or found present */
	bool existed;   /* found present: nothing written */
	bool failed;    /* this destination could not take it */
	struct error_state error;
};

/* One source blob, read once, delivered in one encoding to several
 * destinations. */
struct job {
	const struct descriptor *source;
	bool reencode;
	struct codec_options target;
	struct delivery *deliveries;
	size_t n_deliveries;
	/* results */
	struct layer_outcome outcome;
	char measured_diff_id[DIGEST_BUF]; /* computed when the source had none */
	bool failed;
	struct error_state error;
};

struct export_run {
	struct source_set *src;
	struct destination *dests;
	struct cache **caches; /* per destination, NULL when skipped */
	struct job *jobs;
	size_t n_jobs;
	struct progress *progress;
	pthread_mutex_t lock;
	struct progress_totals *totals;
};

static int find_or_add_job(struct export_run *run, const struct descriptor *d, bool reencode,
			   const struct codec_options *target, size_t dest)
{
	struct job *j = NULL;
	for (size_t i = 0; i < run->n_jobs && !j; i++) {
		struct job *c = &run->jobs[i];
		if (strcmp(c->source->digest, d->digest) == 0 && c->reencode == reencode &&
		    (!reencode || (c->target.compression == target->compression &&
				   c->target.level_set == target->level_set &&
				   (!target->level_set || c->target.level == target->level) &&
				   c->target.estargz_lossless == target->estargz_lossless)))
			j = c;
	}
	if (!j) {
		struct job *jobs = realloc(run->jobs, (run->n_jobs + 1) * sizeof(*jobs));
		CHECK_ALLOC(jobs);
		run->jobs = jobs;
		j = &run->jobs[run->n_jobs++];
		memset(j, 0, sizeof(*j));
		j->source = d;
		j->reencode = reencode;
		if (reencode)
			j->target = *target;
	}
	for (size_t i = 0; i < j->n_deliveries; i++)
		if (j->deliveries[i].dest == dest)
			return 0;
	struct delivery *dl = realloc(j->deliveries, (j->n_deliveries + 1) * sizeof(*dl));
	CHECK_ALLOC(dl);
	j->deliveries = dl;
	dl[j->n_deliveries++] = (struct delivery){.dest = dest};
	return 0;
}

/* Decides, for one destination, which blobs it needs and how. */
static int plan_destination(struct export_run *run, size_t di)
{
	struct destination *dest = &run->dests[di];
	const struct export_settings *s = &dest->settings;
	struct cache *c = NULL;
	const struct descriptor **blobs = NULL;
	size_t n_blobs = 0, kept = 0;
	int rc = cache_clone(&c, run->src->merged);
	if (!rc && s->mode == EXPORT_MODE_MIN)
		rc = cache_keep_min(c);
	if (!rc)
		rc = config_budget_apply(c, &s->config_budget, dest->transport->display, run->progress);
	if (rc)
		goto out;
	if (c->config->n_layers == 0) {
		progress_note(run->progress, "%s: nothing to export: no cache record has layers",
			      dest->transport->display);
		goto out;
	}
	if (s->stores_no_blobs) {
		/* Nothing to copy: write_cache finds the blobs where they are. */
		run->caches[di] = c;
		c = NULL;
		goto out;
	}
	if ((rc = cache_referenced_blobs(c, &blobs, &n_blobs)))
		goto out;
	for (size_t i = 0; i < n_blobs; i++) {
		const struct descriptor *d = cache_blob(run->src->merged, blobs[i]->digest);
		enum compression enc = blob_encoding(d);
		bool reencode = false;
		if (s->compression_set && enc != s->codec.compression && enc != COMPRESSION_UNKNOWN) {
			if (s->force_compression)
				reencode = true;
			else
				kept++;
		}
		if ((rc = find_or_add_job(run, d, reencode, &s->codec, di)))
			goto out;
	}
	if (kept)
		progress_note(run->progress,
			      "%s: compression=%s not applied to %zu existing layers (they keep their encoding; "
			      "force-compression=true re-encodes them)",
			      dest->transport->display, compression_name(s->codec.compression), kept);
	run->caches[di] = c;
	c = NULL;
out:
	free(blobs);
	cache_free(c);
	return rc;
}

/* ---- running jobs ------------------------------------------------------- */

struct job_progress {
	struct export_run *run;
	int task;
};

static void on_bytes(void *ctx, int64_t n)
{
	struct job_progress *jp = ctx;
	progress_task_add(jp->run->progress, jp->task, n);
	pthread_mutex_lock(&jp->run->lock);
	jp->run->totals->bytes_read += n;
	pthread_mutex_unlock(&jp->run->lock);
}

/* Some blobs arrive without a diffID annotation (BuildKit refuses to load
 * those): measure it first, so that what we write is complete. */
static int measure_diff_id(struct export_run *run, struct job *j, enum compression enc)
{
	struct byte_source *src;
	struct layer_outcome o;
	struct layer_task t = {.source = j->source, .encoding = enc, .want_diff_id = true};
	int rc = source_set_open_blob(run->src, j->source, &src);
	if (!rc)
		rc = layer_process(&o, src, &t, NULL);
	if (!rc)
		memcpy(j->measured_diff_id, o.diff_id, DIGEST_BUF);
	return rc;
}

/* Shields the other destinations of a blob from one that fails: the first
 * error of its writer is kept for that delivery alone, later bytes are
 * dropped; only when every destination has failed does the stream stop. */
struct guarded_sink {
	struct byte_sink base;
	struct blob_writer *writer;
	struct delivery *delivery;
	size_t *alive;
};

static int guarded_write(struct byte_sink *s, const void *buf, size_t len)
{
	struct guarded_sink *g = (struct guarded_sink *)s;
	if (g->delivery->failed)
		return 0;
	int rc = sink_write(&g->writer->sink, buf, len);
	if (!rc)
		return 0;
	g->delivery->failed = true;
	error_save(&g->delivery->error, rc);
	return --*g->alive ? 0 : rc;
}

static int guarded_finish(struct byte_sink *s)
{
	struct guarded_sink *g = (struct guarded_sink *)s;
	if (g->delivery->failed)
		return 0;
	int rc = sink_finish(&g->writer->sink);
	if (!rc)
		return 0;
	g->delivery->failed = true;
	error_save(&g->delivery->error, rc);
	return --*g->alive ? 0 : rc;
}

static void guarded_close(struct byte_sink *s)
{
	(void)s;
}

static void delivery_fail(struct delivery *dl, int rc)
{
	dl->failed = true;
	error_save(&dl->error, rc);
}

/* Reads the blob once and hands it to every destination still missing it. */
static int run_job(void *ctx, size_t index)
{
	struct export_run *run = ctx;
	struct job *j = &run->jobs[index];
	struct guarded_sink *guards = calloc(j->n_deliveries + 1, sizeof(*guards));
	struct byte_sink **sinks = calloc(j->n_deliveries + 1, sizeof(*sinks));
	struct byte_sink *tee = NULL;
	size_t n_writers = 0, skipped = 0, alive = 0;
	struct job_progress jp = {run, -1};
	enum compression enc = blob_encoding(j->source);
	int rc = 0;
	if (!guards || !sinks) {
		rc = error_oom();
		goto out;
	}
	for (size_t i = 0; i < j->n_deliveries; i++) {
		struct delivery *dl = &j->deliveries[i];
		struct transport *t = run->dests[dl->dest].transport;
		struct blob_writer *w;
		int64_t have;
		if (!j->reencode) {
			int st = t->ops->blob_stat(t, j->source->digest, &have);
			if (st == 0 && have == j->source->size) {
				dl->done = dl->existed = true;
				skipped++;
				continue;
			}
			if (st && st != ERR_NOT_FOUND) {
				delivery_fail(dl, st);
				continue;
			}
			size_t origin;
			if (t->ops->blob_link && strmap_get(&run->src->origin, j->source->digest, &origin)) {
				int lr = t->ops->blob_link(t, j->source, run->src->sources[origin]);
				if (lr == 0) {
					dl->done = dl->existed = true;
					skipped++;
					continue;
				}
				if (lr != ERR_NOT_FOUND) {
					delivery_fail(dl, lr);
					continue;
				}
			}
		}
		/* A re-encoded blob's digest and size are known only at commit. */
		struct descriptor announced = *j->source;
		if (j->reencode) {
			announced.digest[0] = '\0';
			announced.size = 0;
		}
		int cr = t->ops->blob_create(t, &announced, &w);
		if (cr) {
			delivery_fail(dl, cr);
			continue;
		}
		guards[n_writers] = (struct guarded_sink){
			{guarded_write, guarded_finish, guarded_close}, w, dl, &alive};
		sinks[n_writers] = &guards[n_writers].base;
		n_writers++;
	}
	alive = n_writers;
	if (!descriptor_annotation(j->source, ANN_UNCOMPRESSED) && enc != COMPRESSION_UNKNOWN &&
	    !j->reencode && (rc = measure_diff_id(run, j, enc)))
		goto out;
	if (n_writers == 0) {
		/* Every destination has it (or failed); the source must still hold
		 * it, or it is a damaged cache that this export would vouch for. */
		size_t origin;
		int64_t have;
		struct transport *s = strmap_get(&run->src->origin, j->source->digest, &origin)
					      ? run->src->sources[origin]
					      : NULL;
		if (!s) {
			rc = error_set(ERR_FAILURE, "no source has blob %s", j->source->digest);
			goto out;
		}
		rc = s->ops->blob_stat(s, j->source->digest, &have);
		if (rc == ERR_NOT_FOUND)
			rc = error_set(ERR_CORRUPT, "blob %s is missing from %s", j->source->digest, s->display);
		else if (!rc && have != j->source->size)
			rc = error_set(ERR_CORRUPT, "blob %s in %s is %lld bytes, its descriptor says %lld",
				       j->source->digest, s->display, (long long)have, (long long)j->source->size);
		if (rc)
			goto out;
		memcpy(j->outcome.digest, j->source->digest, DIGEST_BUF);
		j->outcome.size = j->source->size;
		goto out;
	}

	jp.task = progress_task_begin(run->progress, j->source->digest,
				      j->reencode ? compression_name(j->target.compression) : "copy",
				      j->source->size);
	struct layer_task task = {
		.source = j->source,
		.encoding = enc,
		.reencode = j->reencode,
		.target = j->target,
		.on_progress = on_bytes,
		.progress_ctx = &jp,
	};
	struct byte_source *src;
	if ((rc = tee_sink_new(&tee, sinks, n_writers)))
		goto out;
	rc = source_set_open_blob(run->src, j->source, &src);
	if (rc == ERR_NOT_FOUND)
		rc = ERR_CORRUPT; /* a cache that names a blob it lacks is damaged */
	if (rc || (rc = layer_process(&j->outcome, src, &task, tee)))
		goto out;
	size_t stored = 0;
	for (size_t w = 0; w < n_writers; w++) {
		struct delivery *dl = guards[w].delivery;
		if (dl->failed)
			continue;
		int cr = guards[w].writer->commit(guards[w].writer, j->outcome.digest, j->outcome.size, &dl->existed);
		if (cr) {
			delivery_fail(dl, cr);
			continue;
		}
		dl->done = true;
		if (dl->existed)
			skipped++;
		else
			stored++;
	}
	pthread_mutex_lock(&run->lock);
	run->totals->layers_read++;
	run->totals->layers_written += (unsigned)stored;
	run->totals->bytes_written += (int64_t)stored * j->outcome.size;
	pthread_mutex_unlock(&run->lock);
out:
	if (jp.task >= 0)
		progress_task_end(run->progress, jp.task, rc ? "failed" : "done", rc ? error_message() : NULL);
	pthread_mutex_lock(&run->lock);
	run->totals->layers_skipped += (unsigned)skipped;
	pthread_mutex_unlock(&run->lock);
	for (size_t w = 0; w < n_writers; w++)
		guards[w].writer->close(guards[w].writer);
	sink_close(tee);
	free(guards);
	free(sinks);
	if (rc) {
		j->failed = true;
		error_save(&j->error, rc);
	}
	return rc;
}

/* ---- finishing a destination -------------------------------------------- */

/* The descriptor of a re-encoded blob: the source's, with the new digest,
 * size and media type, and the annotations of the new encoding instead of
 * the old one's (an eStargz blob says its TOC digest and full size). */
static int reencoded_descriptor(struct descriptor *out, const struct job *j)
{
	if (descriptor_copy(out, j->source))
		return ERR_FAILURE;
	memcpy(out->digest, j->outcome.digest, DIGEST_BUF);
	out->size = j->outcome.size;
	descriptor_annotation_remove(out, ANN_STARGZ_TOC);
	descriptor_annotation_remove(out, ANN_ESTARGZ_SIZE);
	bool oci = !j->source->media_type || strstr(j->source->media_type, "vnd.oci.") != NULL;
	if (descriptor_set_media_type(out, media_type_for(j->target.compression, oci)) ||
	    descriptor_annotation_set(out, ANN_UNCOMPRESSED, j->outcome.diff_id))
		return ERR_FAILURE;
	if (j->target.compression == COMPRESSION_ESTARGZ) {
		char size[24];
		snprintf(size, sizeof(size), "%lld", (long long)j->outcome.uncompressed_size);
		if (descriptor_annotation_set(out, ANN_STARGZ_TOC, j->outcome.toc_digest) ||
		    descriptor_annotation_set(out, ANN_ESTARGZ_SIZE, size))
			return ERR_FAILURE;
	}
	return 0;
}

static int finish_destination(struct export_run *run, size_t di)
{
	struct destination *dest = &run->dests[di];
	struct cache *c = run->caches[di];
	for (size_t i = 0; i < run->n_jobs; i++) {
		struct job *j = &run->jobs[i];
		for (size_t k = 0; k < j->n_deliveries; k++) {
			if (j->deliveries[k].dest != di)
				continue;
			if (j->failed)
				return error_restore(&j->error);
			if (j->deliveries[k].failed)
				return error_restore(&j->deliveries[k].error);
			if (j->reencode) {
				struct descriptor nd;
				int rc = reencoded_descriptor(&nd, j);
				if (!rc)
					rc = cache_replace_blob(c, j->source->digest, &nd);
				descriptor_free(&nd);
				if (rc)
					return rc;
			} else if (*j->measured_diff_id) {
				struct descriptor *d = cache_blob_mut(c, j->source->digest);
				if (d && descriptor_annotation_set(d, ANN_UNCOMPRESSED, j->measured_diff_id))
					return ERR_FAILURE;
			}
		}
	}
	int rc = cache_normalize(c, NULL);
	if (!rc) /* re-encoded blobs keep the config's length; checked again all the same */
		rc = config_budget_apply(c, &(struct config_budget){.enforced = dest->settings.config_budget.enforced,
						  .max = dest->settings.config_budget.max},
				 dest->transport->display, run->progress);
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
		if ((rc = plan_destination(&run, i)))
			error_save(&plan_errors[i], rc);
	/* Every job runs even when one fails: each destination then knows
	 * exactly which of its blobs made it. */
	parallel_for(run.n_jobs, jobs, true, run_job, &run);
	for (size_t i = 0; i < n; i++) {
		if (plan_errors[i].code)
			rc = error_restore(&plan_errors[i]);
		else if (!run.caches[i])
			continue;
		else
			rc = finish_destination(&run, i);
		if (!rc)
			continue;
		error_wrap(rc, "export to %s", dests[i].transport->display);
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
	for (size_t i = 0; i < run.n_jobs; i++)
		free(run.jobs[i].deliveries);
	free(run.jobs);
	if (run.caches)
		for (size_t i = 0; i < n; i++)
			cache_free(run.caches[i]);
	free(run.caches);
	free(plan_errors);
	pthread_mutex_destroy(&run.lock);
	return rc;
}
