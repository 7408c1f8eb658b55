/* cachectl files [--format text|json] [--changes | --top N] SRC [LAYER ...] */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/layer_read.h"
#include "cli/inspect.h"
#include "core/model/cache_graph.h"
#include "core/util/error.h"
#include "core/util/json_out.h"
#include "core/util/printable.h"

static const char help[] =
	"usage: cachectl files [--format text|json] [--changes | --top N] SRC [LAYER ...]\n"
	"\n"
	"Lists the files each layer adds or changes and the paths it deletes (whiteouts and opaque\n"
	"directories), with types, modes, owners, sizes and link targets, as the layer's tar holds\n"
	"them: streamed, never extracted.  Only the layers named are read from SRC.\n"
	"LAYER is a digest or a unique prefix of its hex, as `cachectl inspect` shows it; without\n"
	"LAYER every layer of the cache is listed.\n"
	"\n"
	"  --format FORMAT   text (the default) or json\n"
	"  --changes         also read the layers below each LAYER (its first chain) and mark each\n"
	"                    entry A (added), C (changed: the path exists below) or D (deleted)\n"
	"  --top N           instead, the N biggest files of the filesystem each LAYER's chain makes\n"
	"                    (its layers stacked, deletions applied); without LAYER, of every final\n"
	"                    result's chain\n" COMMON_HELP;

struct files_options {
	bool json;
	bool changes; /* read the layers below to tell added from changed */
	long top;     /* 0: list */
};

static void mode_string(char out[11], const struct layer_file *f)
{
	static const char type_chars[] = {'-', 'd', 'l', 'h', 'c', 'b', 'p', '?', 'D', 'O'};
	const char *rwx = "rwxrwxrwx";
	out[0] = type_chars[f->kind];
	for (int i = 0; i < 9; i++)
		out[1 + i] = f->mode & (0400u >> i) ? rwx[i] : '-';
	if (f->mode & 04000)
		out[3] = f->mode & 0100 ? 's' : 'S';
	if (f->mode & 02000)
		out[6] = f->mode & 0010 ? 's' : 'S';
	if (f->mode & 01000)
		out[9] = f->mode & 0001 ? 't' : 'T';
	out[10] = '\0';
}

/* mark: "A " added, "C " changed, "D " deleted, or "" when not known. */
static void print_file_text(const struct layer_file *f, const char *from, const char *mark)
{
	char mode[11], when[32];
	if (f->kind == LAYER_FILE_WHITEOUT) {
		printf("%s  deleted     ", mark);
		print_tar_name(f->path);
		printf("\n");
		return;
	}
	if (f->kind == LAYER_FILE_OPAQUE) {
		printf("%s  opaque      ", mark);
		print_tar_name(f->path);
		printf("/  (hides everything lower layers had in it)\n");
		return;
	}
	time_t t = (time_t)f->mtime;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
	mode_string(mode, f);
	printf("%s  %s %5lld/%-5lld %10lld  %s  ", mark, mode, (long long)f->uid, (long long)f->gid,
	       (long long)f->size, when);
	print_tar_name(f->path);
	printf("%s", f->kind == LAYER_FILE_DIR ? "/" : "");
	if (f->kind == LAYER_FILE_SYMLINK || f->kind == LAYER_FILE_HARDLINK) {
		printf(" %s ", f->kind == LAYER_FILE_SYMLINK ? "->" : "=>");
		print_tar_name(f->link);
		printf("%s", f->kind == LAYER_FILE_HARDLINK ? " (hard link)" : "");
	}
	if (from) {
		printf("  [");
		printable_fputs(from, stdout);
		printf("]");
	}
	printf("\n");
}

static void json_file(struct json_out *j, const struct layer_file *f, const char *from, const char *change)
{
	json_object_begin(j);
	json_member_string(j, "path", f->path);
	json_member_string(j, "name", f->name);
	json_member_string(j, "type", layer_file_kind_name(f->kind));
	json_member_int(j, "size", f->size);
	json_member_int(j, "mode", f->mode);
	json_member_int(j, "uid", f->uid);
	json_member_int(j, "gid", f->gid);
	json_member_int(j, "mtime", f->mtime);
	json_member_string(j, "link", f->link);
	if (from)
		json_member_string(j, "layer", from);
	if (change)
		json_member_string(j, "change", change);
	json_object_end(j);
}

static void flush_json(struct buffer *out)
{
	if (out->len > 65536) {
		fwrite(out->data, 1, out->len, stdout);
		buffer_reset(out);
	}
}

/* One layer's listing, printed as it streams. */
struct listing {
	const struct layer_file_set *lower; /* the layers below stacked, with --changes */
	struct json_out *j; /* NULL: text */
	struct buffer *out; /* j's buffer, written out as it fills: memory stays bounded */
	size_t entries, files, deletions;
	int64_t bytes;
};

static int list_one(void *ctx, const struct layer_file *f)
{
	struct listing *l = ctx;
	l->entries++;
	l->files += f->kind == LAYER_FILE_REGULAR;
	l->deletions += f->kind == LAYER_FILE_WHITEOUT || f->kind == LAYER_FILE_OPAQUE;
	l->bytes += f->size;
	const char *change = NULL, *mark = "";
	if (l->lower && (f->kind == LAYER_FILE_WHITEOUT || f->kind == LAYER_FILE_OPAQUE))
		change = "deleted", mark = "D";
	else if (l->lower)
		change = layer_file_set_find(l->lower, f->path) ? "changed" : "added",
		mark = *change == 'c' ? "C" : "A";
	if (l->j) {
		json_file(l->j, f, NULL, change);
		flush_json(l->out);
	} else {
		print_file_text(f, NULL, mark);
	}
	return 0;
}

static int list_layer(struct single_source *s, const struct descriptor *d, const struct layer_file_set *lower,
		      struct json_out *j, struct buffer *out)
{
	struct listing l = {.lower = lower, .j = j, .out = out};
	if (j) {
		json_object_begin(j);
		json_member_string(j, "digest", d->digest);
		json_key(j, "entries");
		json_array_begin(j);
	} else {
		char shown[512];
		printf("layer %s\n", printable(shown, sizeof(shown), d->digest, 0));
	}
	int rc = layer_read_files(&s->set, d, false, list_one, &l);
	if (rc)
		return rc;
	if (j) {
		json_array_end(j);
		json_object_end(j);
	} else {
		printf("  = %zu entries: %zu files, %lld bytes of data, %zu deletions\n\n", l.entries, l.files,
		       (long long)l.bytes, l.deletions);
	}
	return 0;
}

/* --top: the chain ending at node stacked into one filesystem. */
struct stack_ctx {
	struct layer_file_set *set;
	int layer;
};

static int stack_one(void *ctx, const struct layer_file *f)
{
	struct stack_ctx *st = ctx;
	return layer_file_set_stack(st->set, f, st->layer);
}

struct ranked {
	const struct layer_file *f;
	int layer;
};

static int by_size_desc(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;
	if (x->f->size != y->f->size)
		return x->f->size < y->f->size ? 1 : -1;
	return strcmp(x->f->path, y->f->path);
}

static int print_top(struct layer_file_set *set, const struct cache_config *cfg, const int *chain, long top,
		     struct json_out *j)
{
	size_t n = layer_file_set_count(set), k = 0;
	struct ranked *r = calloc(n + 1, sizeof(*r));
	char s[24];
	CHECK_ALLOC(r);
	for (size_t i = 0; i < n; i++) {
		int layer;
		const struct layer_file *f = layer_file_set_at(set, i, &layer);
		if (f && f->kind == LAYER_FILE_REGULAR)
			r[k++] = (struct ranked){f, layer};
	}
	qsort(r, k, sizeof(*r), by_size_desc);
	for (size_t i = 0; i < k && i < (size_t)top; i++) {
		const char *from = cfg->layers[chain[r[i].layer]].blob;
		if (j)
			json_file(j, r[i].f, from, NULL);
		else
			print_file_text(r[i].f, short_digest(from, s), "");
	}
	free(r);
	return 0;
}

/* chain[0 .. n) stacked into a new set. */
static int stack_chain(struct layer_file_set **out, struct single_source *s, const struct cache_config *cfg,
		       const int *chain, size_t n)
{
	struct stack_ctx st = {0};
	int rc = layer_file_set_new(&st.set);
	for (size_t i = 0; i < n && !rc; i++) {
		const struct descriptor *d = cache_blob(s->set.merged, cfg->layers[chain[i]].blob);
		st.layer = (int)i;
		rc = d ? layer_read_files(&s->set, d, false, stack_one, &st)
		       : error_set(ERR_CORRUPT, "the cache describes no blob %s", cfg->layers[chain[i]].blob);
	}
	if (rc) {
		layer_file_set_free(st.set);
		return rc;
	}
	*out = st.set;
	return 0;
}

static int top_of_chain(struct single_source *s, const struct cache_graph *g, int node, long top, struct json_out *j)
{
	const struct cache_config *cfg = cache_graph_config(g);
	size_t depth = cache_graph_depth(g, node);
	int *chain = calloc(depth + 1, sizeof(*chain));
	struct layer_file_set *set = NULL;
	CHECK_ALLOC(chain);
	cache_graph_chain(g, node, chain);
	int rc = stack_chain(&set, s, cfg, chain, depth);
	if (!rc) {
		if (j) {
			json_object_begin(j);
			json_member_string(j, "top", cfg->layers[node].blob);
			json_member_int(j, "layers", (int64_t)depth);
			json_key(j, "files");
			json_array_begin(j);
		} else {
			char shown[512];
			printf("the %ld biggest files of the chain of %zu layers ending at %s\n", top, depth,
			       printable(shown, sizeof(shown), cfg->layers[node].blob, 0));
		}
		rc = print_top(set, cfg, chain, top, j);
		if (j) {
			json_array_end(j);
			json_object_end(j);
		} else {
			printf("\n");
		}
	}
	layer_file_set_free(set);
	free(chain);
	return rc;
}

/* The first chain node of a blob (every referenced blob has one). */
static int first_node_of(const struct cache_config *cfg, const char *blob)
{
	for (size_t k = 0; k < cfg->n_layers; k++)
		if (strcmp(cfg->layers[k].blob, blob) == 0)
			return (int)k;
	return 0;
}

/* The chain nodes --top ranks: the first node of each LAYER's blob, or
 * every final result's node. */
static int top_nodes(int **out, size_t *n, struct single_source *s, const struct cache_graph *g, char **layers,
		     size_t n_layers)
{
	const struct cache_config *cfg = cache_graph_config(g);
	int *nodes = calloc(cfg->n_layers + n_layers + 1, sizeof(*nodes));
	CHECK_ALLOC(nodes);
	*out = nodes;
	*n = 0;
	for (size_t i = 0; i < n_layers; i++) {
		const struct descriptor *d;
		int rc = layer_resolve(&d, s, layers[i]);
		if (rc)
			return rc;
		nodes[(*n)++] = first_node_of(cfg, d->digest);
	}
	for (size_t k = 0; !n_layers && k < cfg->n_layers; k++)
		if (cache_graph_node_final(g, (int)k))
			nodes[(*n)++] = (int)k;
	return 0;
}

static int run_top(struct single_source *s, char **layers, size_t n_layers, long top, struct json_out *j)
{
	struct cache_graph *g = NULL;
	int *nodes = NULL;
	size_t n = 0;
	int rc = cache_graph_new(&g, s->set.merged->config);
	if (!rc)
		rc = top_nodes(&nodes, &n, s, g, layers, n_layers);
	for (size_t i = 0; i < n && !rc; i++)
		rc = top_of_chain(s, g, nodes[i], top, j);
	free(nodes);
	cache_graph_free(g);
	return rc;
}

/* With --changes: the layers below d's first chain node, stacked. */
static int lower_layers(struct layer_file_set **out, struct single_source *s, const struct cache_graph *g,
			const struct descriptor *d)
{
	const struct cache_config *cfg = cache_graph_config(g);
	int node = first_node_of(cfg, d->digest);
	size_t depth = cache_graph_depth(g, node);
	int *chain = calloc(depth + 1, sizeof(*chain));
	CHECK_ALLOC(chain);
	cache_graph_chain(g, node, chain);
	int rc = stack_chain(out, s, cfg, chain, depth - 1);
	free(chain);
	return rc;
}

static int run_list(struct single_source *s, char **layers, size_t n_layers, const struct files_options *o,
		    struct json_out *j, struct buffer *out)
{
	struct cache_graph *g = NULL;
	int rc = o->changes ? cache_graph_new(&g, s->set.merged->config) : 0;
	for (size_t i = 0; i < (n_layers ? n_layers : s->n_blobs) && !rc; i++) {
		const struct descriptor *d = s->blobs[i];
		struct layer_file_set *lower = NULL;
		if (n_layers)
			rc = layer_resolve(&d, s, layers[i]);
		if (!rc && g)
			rc = lower_layers(&lower, s, g, d);
		if (!rc)
			rc = list_layer(s, d, lower, j, out);
		layer_file_set_free(lower);
	}
	cache_graph_free(g);
	return rc;
}

static int parse_args(struct files_options *o, struct common_options *common, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"format", required_argument, NULL, 'F'},
		{"top", required_argument, NULL, 't'},
		{"changes", no_argument, NULL, 'c'},
		COMMON_LONG_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	int rc = 0, opt;
	char *end;
	while (!rc && (opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (common_option(common, opt, optarg, &rc))
			continue;
		switch (opt) {
		case 'F':
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0)
				rc = error_set(ERR_USAGE, "--format %s is not text or json", optarg);
			o->json = strcmp(optarg, "json") == 0;
			break;
		case 'c':
			o->changes = true;
			break;
		case 't':
			o->top = strtol(optarg, &end, 10);
			if (!*optarg || *end || o->top < 1)
				rc = error_set(ERR_USAGE, "--top %s is not a number of files (1 or more)", optarg);
			break;
		case 'h':
			fputs(help, stdout);
			return 1;
		default:
			rc = bad_option(opt, argv);
		}
	}
	if (!rc && o->changes && o->top)
		rc = error_set(ERR_USAGE, "--changes lists layers and --top ranks chains: give one of them");
	if (!rc && optind >= argc)
		rc = error_set(ERR_USAGE, "files takes a SRC and optionally LAYERs (see cachectl files --help)");
	return rc;
}

int cmd_files(int argc, char **argv)
{
	struct common_options common;
	struct files_options o = {0};
	struct single_source src = {0};
	struct progress *progress = NULL;
	struct buffer out = BUFFER_INIT;
	struct json_out j;
	common_options_init(&common);
	int rc = parse_args(&o, &common, argc, argv);
	if (rc == 1)
		return EXIT_OK;
	if (rc || (rc = progress_new(&progress, quiet_unless_asked(common.progress), stderr)) ||
	    (rc = single_source_load(&src, argv[optind], progress)))
		goto out;
	json_out_init(&j, &out);
	char **layers = argv + optind + 1;
	size_t n_layers = (size_t)(argc - optind - 1);
	if (o.json) {
		json_object_begin(&j);
		json_member_string(&j, "source", src.transport->display);
		json_key(&j, o.top ? "chains" : "layers");
		json_array_begin(&j);
	}
	rc = o.top ? run_top(&src, layers, n_layers, o.top, o.json ? &j : NULL)
		   : run_list(&src, layers, n_layers, &o, o.json ? &j : NULL, &out);
	if (o.json) {
		json_array_end(&j);
		json_object_end(&j);
		if (!rc && !(rc = json_out_status(&j)))
			printf("%.*s\n", (int)out.len, out.data ? out.data : "");
	}
out:
	buffer_free(&out);
	single_source_free(&src);
	progress_free(progress);
	return report_error(rc);
}
