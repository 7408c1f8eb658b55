/* type=s3 inside its folder: the transport s3.c (blobs, the cache
 * document) and s3_store.c (ls, du, rm, prune) both work on. */
#ifndef CACHECTL_S3_H
#define CACHECTL_S3_H

#include <pthread.h>
#include <stdbool.h>

#include "core/util/semaphore.h"
#include "core/util/strmap.h"
#include "transport/s3/aws_credentials.h"
#include "transport/transport.h"

struct s3_client;

struct s3_transport {
	struct transport base;
	enum transport_direction dir;
	char *bucket, *region, *prefix, *blobs_prefix, *manifests_prefix, *endpoint_url;
	char **names;
	size_t n_names;
	bool path_style;
	double touch_refresh; /* seconds; <= 0 touches every present blob */
	unsigned upload_parallelism;
	unsigned max_attempts;
	struct aws_credential_chain *credentials;

	pthread_mutex_t lock;
	struct s3_client *client; /* made on first use, with the progress */
	struct strmap touched;
	struct semaphore upload_slots; /* upload_parallelism */
};

/* Makes s->client on first use. */
int s3_transport_ready(struct s3_transport *s);
/* <prefix><kind_prefix><name> as a new string. */
int s3_transport_key(char **out, const struct s3_transport *s, const char *kind_prefix, const char *name);

extern const struct store_ops s3_store_ops;

#endif
