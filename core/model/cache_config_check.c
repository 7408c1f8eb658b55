/* What BuildKit's importer refuses in a cache config: indexes outside their
 * arrays and loops, through layer parents or through record inputs. */
#include <stdlib.h>

#include "core/model/cache_config.h"
#include "core/util/error.h"

static int check_layers(const struct cache_config *cfg)
{
	size_t n = cfg->n_layers;
	for (size_t i = 0; i < n; i++) {
		int p = cfg->layers[i].parent;
		if (p != -1 && (p < 0 || (size_t)p >= n))
			return error_set(ERR_FAILURE, "cache config: layer %zu has parent %d, outside 0..%zu",
					 i, p, n ? n - 1 : 0);
	}
	/* 0 unvisited, 1 on the current walk, 2 known to reach a base layer */
	unsigned char *state = calloc(n ? n : 1, 1);
	CHECK_ALLOC(state);
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		int k = (int)i;
		while (k != -1 && state[k] == 0) {
			state[k] = 1;
			k = cfg->layers[k].parent;
		}
		if (k != -1 && state[k] == 1)
			rc = error_set(ERR_FAILURE, "cache config: layer parents loop at layer %d (%s)", k,
				       cfg->layers[k].blob);
		for (k = (int)i; k != -1 && state[k] == 1; k = cfg->layers[k].parent)
			state[k] = 2;
	}
	free(state);
	return rc;
}

static int check_record_indexes(const struct cache_config *cfg)
{
	for (size_t i = 0; i < cfg->n_records; i++) {
		const struct cache_record *r = &cfg->records[i];
		for (size_t k = 0; k < r->n_results; k++) {
			int l = r->results[k].layer;
			if (l < 0 || (size_t)l >= cfg->n_layers)
				return error_set(ERR_FAILURE,
						 "cache config: record %zu (%s) has a result at layer %d, outside 0..%zu",
						 i, r->digest, l, cfg->n_layers ? cfg->n_layers - 1 : 0);
		}
		for (size_t k = 0; k < r->n_chains; k++)
			for (size_t m = 0; m < r->chains[k].n_layers; m++) {
				int l = r->chains[k].layers[m];
				if (l < 0 || (size_t)l >= cfg->n_layers)
					return error_set(ERR_FAILURE,
							 "cache config: record %zu (%s) has a chain through layer %d, outside 0..%zu",
							 i, r->digest, l, cfg->n_layers ? cfg->n_layers - 1 : 0);
			}
		for (size_t s = 0; s < r->n_inputs; s++)
			for (size_t k = 0; k < r->inputs[s].n_alts; k++) {
				int l = r->inputs[s].alts[k].link;
				if (l < 0 || (size_t)l >= cfg->n_records)
					return error_set(ERR_FAILURE,
							 "cache config: record %zu (%s) links to record %d, outside 0..%zu",
							 i, r->digest, l, cfg->n_records - 1);
			}
	}
	return 0;
}

/* Depth-first walk over inputs with an explicit stack, so that a long
 * chain of records cannot overflow the C stack. */
static int check_record_loops(const struct cache_config *cfg)
{
	size_t n = cfg->n_records;
	struct frame {
		size_t record, slot, alt;
	};
	unsigned char *state = calloc(n ? n : 1, 1);
	struct frame *stack = malloc((n ? n : 1) * sizeof(*stack));
	int rc = 0;
	if (!state || !stack) {
		rc = error_oom();
		goto out;
	}
	for (size_t root = 0; root < n && !rc; root++) {
		if (state[root])
			continue;
		size_t depth = 0;
		stack[depth++] = (struct frame){root, 0, 0};
		state[root] = 1;
		while (depth && !rc) {
			struct frame *f = &stack[depth - 1];
			const struct cache_record *r = &cfg->records[f->record];
			if (f->slot >= r->n_inputs) {
				state[f->record] = 2;
				depth--;
				continue;
			}
			if (f->alt >= r->inputs[f->slot].n_alts) {
				f->slot++;
				f->alt = 0;
				continue;
			}
			size_t next = (size_t)r->inputs[f->slot].alts[f->alt++].link;
			if (state[next] == 1)
				rc = error_set(ERR_FAILURE, "cache config: records loop through inputs at record %zu (%s)",
					       next, cfg->records[next].digest);
			else if (state[next] == 0) {
				state[next] = 1;
				stack[depth++] = (struct frame){next, 0, 0};
			}
		}
	}
out:
	free(state);
	free(stack);
	return rc;
}

int cache_config_check(const struct cache_config *cfg)
{
	int rc = check_layers(cfg);
	if (!rc)
		rc = check_record_indexes(cfg);
	if (!rc)
		rc = check_record_loops(cfg);
	return rc;
}
