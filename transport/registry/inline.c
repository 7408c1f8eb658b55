/* type=inline: writes the cache into an existing image's config, as
 * BuildKit's inline exporter does when it builds the image (see
 * docs/inline.md).  The image is in a registry (ref=) or in a local OCI
 * layout (layout=DIR, tag=); its layers are the cache's blobs, so nothing
 * but a new config and a new manifest is stored, and the manifest goes
 * back under the same tag (or name=) last. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/error.h"
#include "core/model/media_type.h"
#include "core/util/progress.h"
#include "formats/cache_manifest.h"
#include "formats/inline_config.h"
#include "formats/oci_layout.h"
#include "transport/engine/export_settings.h"
#include "transport/cache_io.h"
#include "transport/registry/registry.h"
#include "transport/transport.h"

#define IMAGE_CONFIG_MAX (32u << 20)

struct inline_transport {
	struct transport base;
	struct transport *store;  /* where the image is: a registry repository or a layout */
	struct transport *target; /* registry repository of name=, when another one; else NULL */
	char *layout, *tag, *name;
	char *where;              /* the image, for messages */
};

static int no_blobs(struct transport *t)
{
	return error_set(ERR_FAILURE, "%s stores no blobs of its own", t->display);
}

static int inline_blob_stat(struct transport *t, const char *digest, int64_t *size)
{
	(void)digest;
	(void)size;
	return no_blobs(t);
}

static int inline_blob_open(struct transport *t, const struct descriptor *d, struct byte_source **out)
{
	(void)d;
	(void)out;
	return no_blobs(t);
}

static int inline_blob_create(struct transport *t, const struct descriptor *expected, struct blob_writer **out)
{
	(void)expected;
	(void)out;
	return no_blobs(t);
}

static int inline_read_cache(struct transport *t, struct cache **out)
{
	(void)out;
	return error_set(ERR_USAGE, "%s: read an inline cache with type=registry,ref=IMAGE", t->display);
}

/* ---- the image ---------------------------------------------------------- */

struct image {
	struct buffer manifest;
	struct descriptor manifest_desc;
	struct cache_root root; /* its config descriptor and layers */
	struct buffer config;
	char **diff_ids;
	size_t n_diff_ids;
};

static void image_free(struct image *im)
{
	buffer_free(&im->manifest);
	descriptor_free(&im->manifest_desc);
	cache_root_free(&im->root);
	buffer_free(&im->config);
	for (size_t i = 0; i < im->n_diff_ids; i++)
		free(im->diff_ids[i]);
	free(im->diff_ids);
}

static int layout_manifest(struct inline_transport *it, struct image *im)
{
	struct oci_index idx;
	int lock, rc = oci_layout_lock(&lock, it->layout, false);
	if (rc)
		return rc;
	memset(&idx, 0, sizeof(idx));
	if ((rc = oci_index_read(&idx, it->layout)))
		goto out;
	const struct descriptor *found = oci_index_find(&idx, it->tag);
	if (!found) {
		rc = error_set(ERR_NOT_FOUND, "no image tagged \"%s\" in %s/index.json", it->tag, it->layout);
		goto out;
	}
	if ((rc = descriptor_copy(&im->manifest_desc, found)))
		goto out;
	rc = transport_read_small_blob(it->store, found, REGISTRY_MANIFEST_MAX, &im->manifest);
out:
	oci_index_free(&idx);
	oci_layout_unlock(lock, it->layout, false);
	return rc;
}

static int load_image(struct inline_transport *it, struct image *im)
{
	int rc = it->layout ? layout_manifest(it, im)
			    : registry_get_manifest(it->store, NULL, REGISTRY_MANIFEST_MAX, &im->manifest, &im->manifest_desc);
	if (rc)
		return rc;
	if ((rc = cache_manifest_parse(&im->root, im->manifest.data, im->manifest.len)))
		return error_wrap(rc, "%s", it->where);
	const char *kind = im->root.media_type;
	if (strcmp(kind, MT_OCI_INDEX) == 0 || strcmp(kind, MT_DOCKER_LIST) == 0)
		return error_set(ERR_USAGE,
				 "%s is an index of several images: name one image manifest (ref=NAME@sha256:... "
				 "with name=NAME:TAG)",
				 it->where);
	if (im->root.has_config)
		return error_set(ERR_USAGE, "%s is a cache, not an image: type=inline annotates an image", it->where);
	if (!im->root.has_image_config)
		return error_set(ERR_FAILURE, "%s has no image config", it->where);
	if ((rc = transport_read_small_blob(it->store, &im->root.image_config, IMAGE_CONFIG_MAX, &im->config)))
		return rc;
	if ((rc = image_config_diff_ids(&im->diff_ids, &im->n_diff_ids, im->config.data, im->config.len)))
		return error_wrap(rc, "%s", it->where);
	if (im->n_diff_ids != im->root.n_blobs)
		return error_set(ERR_FAILURE, "%s: its config lists %zu diff_ids for %zu layers", it->where,
				 im->n_diff_ids, im->root.n_blobs);
	return 0;
}

/* ---- storing ------------------------------------------------------------ */

/* Makes blob d present in `to`: already there, mounted from `from`, or
 * copied through (checked against its digest on the way). */
static int ensure_blob(struct transport *to, struct transport *from, const struct descriptor *d)
{
	int64_t have;
	int rc = to->ops->blob_stat(to, d->digest, &have);
	if (rc == 0 && have == d->size)
		return 0;
	if (rc && rc != ERR_NOT_FOUND)
		return rc;
	if (to->ops->blob_link && (rc = to->ops->blob_link(to, d, from)) != ERR_NOT_FOUND)
		return rc;
	struct byte_source *src;
	struct blob_writer *w;
	bool existed;
	if ((rc = from->ops->blob_open(from, d, &src)))
		return rc;
	if ((rc = verified_source_new(&src, src, d->digest, d->size)))
		return rc;
	if ((rc = to->ops->blob_create(to, d, &w))) {
		source_close(src);
		return rc;
	}
	char *buf = malloc(STREAM_CHUNK);
	if (!buf)
		rc = error_oom();
	while (!rc) {
		ssize_t n = source_read(src, buf, STREAM_CHUNK);
		if (n <= 0) {
			rc = (int)n;
			break;
		}
		rc = sink_write(&w->sink, buf, (size_t)n);
	}
	if (!rc)
		rc = sink_finish(&w->sink);
	if (!rc)
		rc = w->commit(w, d->digest, d->size, &existed);
	free(buf);
	w->close(w);
	source_close(src);
	return rc;
}

/* index.json: the entry of `tag` now points at the new manifest -- or,
 * with name=, a new entry under that name does, the old one kept. */
/* Entries already named so give way, as a tag moves. */
static bool named(const struct descriptor *d, const char *name)
{
	const char *ref = descriptor_annotation(d, ANN_REF_NAME);
	const char *image = descriptor_annotation(d, ANN_IMAGE_NAME);
	return (ref && strcmp(ref, name) == 0) || (image && strcmp(image, name) == 0);
}

static int layout_put(struct inline_transport *it, const struct descriptor *manifest)
{
	struct oci_index idx;
	struct buffer out = BUFFER_INIT;
	char path[4096];
	int lock, rc = oci_layout_lock(&lock, it->layout, true);
	if (rc)
		return rc;
	memset(&idx, 0, sizeof(idx));
	if ((rc = oci_index_read(&idx, it->layout)))
		goto out;
	struct descriptor *found = (struct descriptor *)oci_index_find(&idx, it->tag);
	if (!found) {
		rc = error_set(ERR_NOT_FOUND, "no image tagged \"%s\" in %s/index.json any more", it->tag, it->layout);
		goto out;
	}
	if (!it->name) {
		memcpy(found->digest, manifest->digest, DIGEST_BUF);
		found->size = manifest->size;
	} else {
		struct descriptor entry;
		if ((rc = descriptor_copy(&entry, found)))
			goto out;
		memcpy(entry.digest, manifest->digest, DIGEST_BUF);
		entry.size = manifest->size;
		descriptor_annotation_remove(&entry, ANN_IMAGE_NAME);
		if ((rc = descriptor_annotation_set(&entry, ANN_REF_NAME, it->name))) {
			descriptor_free(&entry);
			goto out;
		}
		if ((rc = oci_index_replace(&idx, named, it->name, &entry)))
			goto out;
	}
	if ((rc = oci_index_serialize(&idx, &out)))
		goto out;
	snprintf(path, sizeof(path), "%s/index.json", it->layout);
	rc = write_file_atomic(path, out.data, out.len, 0644);
out:
	oci_index_free(&idx);
	buffer_free(&out);
	oci_layout_unlock(lock, it->layout, true);
	return rc;
}

static int store_image(struct inline_transport *it, const struct image *im, const struct buffer *config,
		       const struct buffer *manifest, struct descriptor *config_desc, struct descriptor *manifest_desc)
{
	struct transport *to = it->target ? it->target : it->store;
	const char *config_type = im->root.image_config.media_type ? im->root.image_config.media_type
								   : MT_OCI_IMAGE_CONFIG;
	int rc = transport_write_small_blob(to, config_desc, config_type, config->data, config->len);
	if (rc)
		return rc;
	descriptor_init(manifest_desc);
	if ((rc = descriptor_set_media_type(manifest_desc, im->manifest_desc.media_type ? im->manifest_desc.media_type
											 : im->root.media_type)) ||
	    (rc = digest_of_bytes(manifest_desc->digest, manifest->data, manifest->len)))
		return rc;
	manifest_desc->size = (int64_t)manifest->len;
	if (it->layout) {
		struct descriptor stored;
		rc = transport_write_small_blob(to, &stored, manifest_desc->media_type, manifest->data, manifest->len);
		descriptor_free(&stored);
		return rc ? rc : layout_put(it, manifest_desc);
	}
	if (it->target)
		for (size_t i = 0; i < im->root.n_blobs && !rc; i++)
			rc = ensure_blob(it->target, it->store, &im->root.blobs[i]);
	if (rc)
		return rc;
	const char *tag = registry_ref_tag(it->target ? it->target : it->store);
	return registry_put_manifest(to, tag, manifest_desc, manifest->data, manifest->len);
}

static int inline_write_cache(struct transport *t, const struct cache *c, const struct export_form *form)
{
	struct inline_transport *it = (struct inline_transport *)t;
	struct image im;
	struct buffer records = BUFFER_INIT, config = BUFFER_INIT, manifest = BUFFER_INIT;
	struct inline_image_layer *layers = NULL;
	struct descriptor config_desc, manifest_desc;
	size_t kept = 0, left = 0;
	(void)form;
	memset(&im, 0, sizeof(im));
	descriptor_init(&config_desc);
	descriptor_init(&manifest_desc);
	/* The stores report their waits and retries where we do. */
	it->store->progress = t->progress;
	if (it->target)
		it->target->progress = t->progress;
	int rc = load_image(it, &im);
	if (rc)
		goto out;
	if (!(layers = calloc(im.root.n_blobs + 1, sizeof(*layers)))) {
		rc = error_oom();
		goto out;
	}
	for (size_t i = 0; i < im.root.n_blobs; i++)
		layers[i] = (struct inline_image_layer){im.root.blobs[i].digest, im.diff_ids[i]};
	if ((rc = inline_records_build(&records, c, layers, im.root.n_blobs, &kept, &left)))
		goto out;
	if (!kept) {
		progress_note(t->progress, "%s: no cache result has all its layers in %s (%zu left out): image left unchanged",
			      t->display, it->where, left);
		if (left && !inline_records_left_out(&records, c, layers, im.root.n_blobs))
			progress_note(t->progress, "%s: records not inlined: %.600s", t->display, records.data);
		goto out;
	}
	if ((rc = inline_config_patch(&config, im.config.data, im.config.len, records.data, records.len)))
		goto out;
	if ((rc = digest_of_bytes(config_desc.digest, config.data, config.len)) ||
	    (rc = inline_manifest_set_config(&manifest, im.manifest.data, im.manifest.len, config_desc.digest,
					     (int64_t)config.len)))
		goto out;
	descriptor_free(&config_desc);
	if ((rc = store_image(it, &im, &config, &manifest, &config_desc, &manifest_desc)))
		goto out;
	memcpy(t->written_root, manifest_desc.digest, DIGEST_BUF);
	memcpy(t->written_config, config_desc.digest, DIGEST_BUF);
	progress_note(t->progress, "%s: %zu cache results inlined into %s (config %s, manifest %s)", t->display, kept,
		      it->target ? registry_ref_text(it->target) : it->where, config_desc.digest, manifest_desc.digest);
	if (left && !inline_records_left_out(&records, c, layers, im.root.n_blobs))
		progress_note(t->progress, "%s: %zu cache results not inlined, their layers are not in the image: "
					   "records %.600s",
			      t->display, left, records.data);
out:
	image_free(&im);
	free(layers);
	buffer_free(&records);
	buffer_free(&config);
	buffer_free(&manifest);
	descriptor_free(&config_desc);
	descriptor_free(&manifest_desc);
	return rc;
}

/* ---- opening ------------------------------------------------------------ */

static void inline_free(struct transport *t)
{
	struct inline_transport *it = (struct inline_transport *)t;
	transport_free(it->store);
	transport_free(it->target);
	free(it->layout);
	free(it->tag);
	free(it->name);
	free(it->where);
	free(it);
}

static const struct transport_ops inline_ops = {
	.blob_stat = inline_blob_stat,
	.blob_open = inline_blob_open,
	.blob_create = inline_blob_create,
	.read_cache = inline_read_cache,
	.write_cache = inline_write_cache,
	.free = inline_free,
};

static int open_layout(struct inline_transport *it, const char *layout, const char *tag, struct progress *p)
{
	struct cache_options o = {0};
	int rc;
	if (!(o.type = strdup("local")) || cache_options_add(&o, "src", layout)) {
		cache_options_free(&o);
		return error_oom();
	}
	rc = transport_open(&it->store, &o, TRANSPORT_SOURCE, p);
	cache_options_free(&o);
	if (rc)
		return rc;
	size_t n = strlen(layout) + strlen(tag) + 16;
	if (!(it->layout = strdup(layout)) || !(it->tag = strdup(tag)) || !(it->where = malloc(n)))
		return error_oom();
	snprintf(it->where, n, "%s (tag %s)", layout, tag);
	return 0;
}

static int open_registry(struct inline_transport *it, const char *ref, const char *name, bool insecure)
{
	int rc = registry_open_ref(&it->store, ref, insecure, TRANSPORT_DESTINATION, NULL);
	if (rc)
		return rc;
	if (!(it->where = strdup(registry_ref_text(it->store))))
		return error_oom();
	if (name) {
		struct transport *n;
		if ((rc = registry_open_ref(&n, name, insecure, TRANSPORT_DESTINATION, NULL)))
			return rc;
		if (*registry_ref_digest(n)) {
			transport_free(n);
			return error_set(ERR_USAGE, "name=%s: the annotated image is stored under a tag, not a digest", name);
		}
		it->target = n;
	} else if (!registry_ref_tag(it->store)) {
		return error_set(ERR_USAGE, "ref=%s names a digest: add name=NAME:TAG for the annotated image", ref);
	}
	return 0;
}

static int inline_open(struct transport **out, struct cache_options *o, enum transport_direction dir)
{
	const char *ref = options_get(o, "ref"), *layout = options_get(o, "layout");
	const char *tag = options_get(o, "tag"), *name = options_get(o, "name");
	bool insecure;
	(void)dir;
	if (options_get_bool(o, "registry.insecure", false, -1, &insecure))
		return ERR_USAGE;
	if ((!ref || !*ref) == (!layout || !*layout))
		return error_set(ERR_USAGE, "type=inline needs the image to annotate: ref=NAME:TAG (in a registry) "
					    "or layout=DIR (a local OCI layout), one of them");
	if (tag && !layout)
		return error_set(ERR_USAGE, "type=inline: tag= goes with layout=; a registry image takes its tag in ref=");
	if (name && !*name)
		return error_set(ERR_USAGE, "type=inline: name= is empty");
	struct inline_transport *it = calloc(1, sizeof(*it));
	CHECK_ALLOC(it);
	int rc = layout ? open_layout(it, layout, tag && *tag ? tag : "latest", NULL)
			: open_registry(it, ref, name, insecure);
	if (!rc && layout && name && !(it->name = strdup(name)))
		rc = error_oom();
	if (!rc)
		rc = transport_init(&it->base, &inline_ops, o);
	/* The image at ref is what a registry destination of that ref writes too. */
	if (!rc)
		rc = transport_set_location(&it->base, "%s:%s", layout ? "inline-layout" : "registry", it->where);
	if (rc) {
		free(it->base.display);
		inline_free(&it->base);
		return rc;
	}
	*out = &it->base;
	return 0;
}

/* The cache lives in an image whose layers are its blobs: the engine copies
 * none, and hands write_cache the planned cache with every blob descriptor;
 * BuildKit's inline exporter ignores mode and always exports min. */
static int inline_export_settings(struct export_settings *s, struct cache_options *o)
{
	(void)o;
	s->stores_no_blobs = true;
	s->mode = EXPORT_MODE_MIN;
	return 0;
}

static const struct option_key inline_keys[] = {
	{.name = "ref", .directions = OPTION_DESTINATION},
	{.name = "layout", .directions = OPTION_DESTINATION},
	{.name = "tag", .directions = OPTION_DESTINATION},
	{.name = "name", .directions = OPTION_DESTINATION},
	{.name = "registry.insecure", .directions = OPTION_DESTINATION},
	{.name = NULL},
};

const struct transport_handler inline_transport_handler = {
	.type = "inline",
	.synopsis = "ref=IMAGE|layout=DIR",
	.summary = "export only (docs/inline.md)",
	.can_read = false,
	.can_write = true,
	.keys = inline_keys,
	.export_settings = inline_export_settings,
	.open = inline_open,
};
