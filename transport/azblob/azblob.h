/* What type=azblob's transport (azblob.c) lends to its store operations
 * (azblob_store.c: ls, du, rm, prune), as s3.h does for s3. */
#ifndef CACHECTL_AZBLOB_H
#define CACHECTL_AZBLOB_H

#include "transport/azblob/azblob_client.h"
#include "transport/azblob/azblob_config.h"
#include "transport/store.h"

struct transport;

enum azblob_kind { AZBLOB_BLOBS, AZBLOB_MANIFESTS };

/* The client of t, made (and the container created) on first use; owned
 * by t. */
int azblob_transport_client(struct transport *t, struct azblob_client **out);

/* t's settings; the store operations change only `names` (select). */
struct azblob_config *azblob_transport_config(struct transport *t);

/* The blob name of `last` under the blobs or manifests prefix, joined as
 * BuildKit joins it; last NULL: the folder itself followed by '/' (or ""
 * when every prefix is empty), for a listing.  *out is new. */
int azblob_transport_name(char **out, struct transport *t, enum azblob_kind kind, const char *last);

extern const struct store_ops azblob_store_ops;

#endif
