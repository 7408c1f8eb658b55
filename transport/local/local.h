/* type=local inside its folder: the transport both local.c (blobs, the
 * cache document) and local_store.c (ls, du, rm, prune) work on. */
#ifndef CACHECTL_LOCAL_H
#define CACHECTL_LOCAL_H

#include <pthread.h>
#include <stdbool.h>

#include "core/util/digest.h"
#include "transport/transport.h"

struct local_transport {
	struct transport base;
	char *dir;
	char *tag;
	char digest[DIGEST_BUF]; /* import: explicit root, wins over tag */
	/* A destination refreshes the time of a blob it finds already stored,
	 * so that a prune running meanwhile counts it as young (--grace). */
	bool destination;
	int store_lock; /* index.json.lock held by prune, or -1 */
	pthread_mutex_t stale_lock; /* blob writers start on several threads */
	bool stale_checked;         /* stale ingest files looked for once a run */
};

extern const struct store_ops local_store_ops;

#endif
