/* OCI content descriptors: what a root document or index.json says about a
 * blob (media type, digest, size, annotations ...). */
#ifndef CACHECTL_DESCRIPTOR_H
#define CACHECTL_DESCRIPTOR_H

#include "core/util/error.h"

#include <stddef.h>
#include <stdint.h>

#include "core/util/digest.h"
#include "core/util/json_out.h"

struct cJSON;

struct annotation {
	char *key;
	char *value;
};

struct platform {
	char *architecture;
	char *os;
	char *os_version;
	char **os_features;
	size_t n_os_features;
	char *variant;
};

struct descriptor {
	char *media_type;
	char digest[DIGEST_BUF];
	int64_t size;
	char **urls;
	size_t n_urls;
	struct annotation *annotations; /* sorted by key, as Go writes maps */
	size_t n_annotations, cap_annotations;
	char *data;                     /* base64 text, kept as it came */
	struct platform *platform;
	char *artifact_type;
};

void descriptor_init(struct descriptor *d);
void descriptor_free(struct descriptor *d);
CACHECTL_MUST_CHECK int descriptor_copy(struct descriptor *dst, const struct descriptor *src);
CACHECTL_MUST_CHECK int descriptor_set_media_type(struct descriptor *d, const char *media_type);

const char *descriptor_annotation(const struct descriptor *d, const char *key);
CACHECTL_MUST_CHECK int descriptor_annotation_set(struct descriptor *d, const char *key, const char *value);
void descriptor_annotation_remove(struct descriptor *d, const char *key);

/* Emits the descriptor as Go's image-spec Descriptor marshals it. */
void descriptor_write_json(struct json_out *j, const struct descriptor *d);

/* Reads a descriptor object; `what` names it in error messages. */
CACHECTL_MUST_CHECK int descriptor_parse_json(struct descriptor *d, const struct cJSON *obj, const char *what);

#endif
