#include "core/codec/encoder_set.h"

#include <stdlib.h>

#include "core/codec/writebehind.h"
#include "core/util/error.h"

/* One encoding: [writebehind ->] compress -> hash -> dest. */
struct encoder {
	struct encoder_target *target;
	struct byte_sink *hashed;
	struct byte_sink *compress;
	struct byte_sink *behind; /* all but the first */
};

struct encoder_set {
	struct encoder *encoders;
	size_t n;
	struct byte_sink **inputs;
	struct byte_sink *tee;
};

/* The compressors: the zstd ones made together (codec.h: zstd_sinks_new),
 * the others one by one. */
static int open_compressors(struct encoder_set *s)
{
	struct byte_sink **out = calloc(s->n, sizeof(*out)), **next = calloc(s->n, sizeof(*next));
	const struct codec_options **o = calloc(s->n, sizeof(*o));
	size_t *at = calloc(s->n, sizeof(*at)), n_zstd = 0;
	int rc = out && next && o && at ? 0 : error_oom();
	for (size_t i = 0; i < s->n && !rc; i++) {
		struct encoder *e = &s->encoders[i];
		if (e->target->options->compression != COMPRESSION_ZSTD) {
			rc = compress_sink_new(&e->compress, e->hashed, e->target->options);
			continue;
		}
		out[n_zstd] = NULL;
		next[n_zstd] = e->hashed;
		o[n_zstd] = e->target->options;
		at[n_zstd++] = i;
	}
	if (!rc && n_zstd)
		rc = zstd_sinks_new(out, next, o, n_zstd);
	for (size_t k = 0; !rc && k < n_zstd; k++)
		s->encoders[at[k]].compress = out[k];
	free(out);
	free(next);
	free(o);
	free(at);
	return rc;
}

int encoder_set_new(struct encoder_set **out, struct encoder_target *targets, size_t n)
{
	struct encoder_set *s = calloc(1, sizeof(*s));
	CHECK_ALLOC(s);
	s->encoders = calloc(n ? n : 1, sizeof(*s->encoders));
	s->inputs = calloc(n ? n : 1, sizeof(*s->inputs));
	int rc = s->encoders && s->inputs ? 0 : error_oom();
	for (size_t i = 0; i < n && !rc; i++) {
		s->n++;
		s->encoders[i].target = &targets[i];
		rc = hashing_sink_new(&s->encoders[i].hashed, targets[i].dest);
	}
	if (!rc)
		rc = open_compressors(s);
	/* Every encoder but the first on a thread of its own. */
	for (size_t i = 0; i < n && !rc; i++) {
		struct encoder *e = &s->encoders[i];
		rc = i ? writebehind_sink_new(&e->behind, e->compress) : 0;
		s->inputs[i] = e->behind ? e->behind : e->compress;
	}
	/* The first input is written in the caller's thread first: the others
	 * have their bytes queued by then and work meanwhile. */
	if (!rc)
		rc = n == 1 ? 0 : tee_sink_new(&s->tee, s->inputs, n);
	if (rc) {
		encoder_set_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

struct byte_sink *encoder_set_input(struct encoder_set *s)
{
	return s->tee ? s->tee : s->inputs[0];
}

void encoder_set_results(struct encoder_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct encoder *e = &s->encoders[i];
		hashing_sink_result(e->hashed, e->target->digest, &e->target->size);
	}
}

void encoder_set_free(struct encoder_set *s)
{
	if (!s)
		return;
	sink_close(s->tee);
	for (size_t i = 0; i < s->n; i++) {
		/* The thread first: it may be writing into the others. */
		sink_close(s->encoders[i].behind);
		sink_close(s->encoders[i].compress);
		sink_close(s->encoders[i].hashed);
	}
	free(s->encoders);
	free(s->inputs);
	free(s);
}
