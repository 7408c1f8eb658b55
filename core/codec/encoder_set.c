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

static int encoder_open(struct encoder *e, struct encoder_target *t, bool own_thread)
{
	int rc;
	e->target = t;
	if ((rc = hashing_sink_new(&e->hashed, t->dest)) || (rc = compress_sink_new(&e->compress, e->hashed, t->options)))
		return rc;
	return own_thread ? writebehind_sink_new(&e->behind, e->compress) : 0;
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
		rc = encoder_open(&s->encoders[i], &targets[i], i > 0);
		if (!rc)
			s->inputs[i] = s->encoders[i].behind ? s->encoders[i].behind : s->encoders[i].compress;
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
