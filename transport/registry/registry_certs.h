/* A registry's private CAs and client certificate, found where docker,
 * podman and skopeo users already keep them: a folder named after the
 * registry (host or host:port) under a certs.d root.
 *
 * Roots, first folder found wins: $CACHECTL_CERTS_D (a ':'-separated list,
 * replacing the defaults; for tests and unusual set-ups), else
 * /etc/containers/certs.d then /etc/docker/certs.d.  In the folder:
 * every *.crt is a CA trusted in addition to the system's; a *.cert with
 * the *.key of the same name is the client certificate (docker's rule). */
#ifndef CACHECTL_REGISTRY_CERTS_H
#define CACHECTL_REGISTRY_CERTS_H

#include "core/util/error.h"

#include "core/util/buffer.h"

struct registry_certs {
	char *dir;           /* the folder used; NULL when the registry has none */
	struct buffer ca_pem;/* every *.crt in it, one after the other */
	char *client_cert;   /* paths, NULL when absent */
	char *client_key;
};

/* Fills *out (zeroed first) for the registry `domain`; no folder is not an
 * error.  A *.cert without its *.key is. */
CACHECTL_MUST_CHECK int registry_certs_find(struct registry_certs *out, const char *domain);
void registry_certs_free(struct registry_certs *c);

#endif
