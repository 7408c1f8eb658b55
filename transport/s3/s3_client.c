/* The S3 client and its addressing: the endpoint for a region (or the
 * custom one), virtual-host or path style, and the corrections the store
 * makes to the region.  Signing is in s3_sign.c, sending in s3_call.c,
 * the operations in s3_objects.c. */
#include "transport/s3/s3_call.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/debug_trace.h"
#include "core/util/progress.h"

/* ---- addressing --------------------------------------------------------- */

/* Whether the bucket can be a DNS label in front of the endpoint host
 * (dots break TLS certificate matching, so only over plain http). */
static bool virtual_hostable(const char *bucket, bool https)
{
	size_t n = strlen(bucket);
	if (n < 3 || n > 63 || bucket[0] == '-' || bucket[n - 1] == '-' || bucket[0] == '.' || bucket[n - 1] == '.')
		return false;
	bool all_digits_dots = true;
	for (const char *p = bucket; *p; p++) {
		if (*p == '.' && (https || p[1] == '.'))
			return false;
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-' || *p == '.'))
			return false;
		all_digits_dots = all_digits_dots && (isdigit((unsigned char)*p) || *p == '.');
	}
	return !all_digits_dots; /* looks like an IPv4 address */
}

/* Sets the endpoint for the current region; called with the lock held. */
static int set_endpoint(struct s3_client *c, const char *custom)
{
	char url[512];
	struct url_parts u;
	if (custom) {
		snprintf(url, sizeof(url), "%s", custom);
	} else {
		bool china = strncmp(c->region, "cn-", 3) == 0;
		snprintf(url, sizeof(url), "https://s3.%s.amazonaws.com%s", c->region, china ? ".cn" : "");
	}
	int rc = url_parts_parse(&u, url, custom ? "endpoint_url" : "S3 endpoint");
	if (rc)
		return rc;
	url_parts_free(&c->endpoint);
	c->endpoint = u;
	bool https = strcmp(u.scheme, "https") == 0;
	c->path_style = (c->custom_endpoint && (c->path_style_option || u.host_is_ip)) ||
			!virtual_hostable(c->bucket, https);
	return 0;
}

void s3_object_name(const struct s3_client *c, const char *key, char *out, size_t size)
{
	snprintf(out, size, "s3://%s/%s", c->bucket, key);
}

int s3_client_new(struct s3_client **out, const struct s3_client_options *o)
{
	struct s3_client *c = calloc(1, sizeof(*c));
	CHECK_ALLOC(c);
	pthread_mutex_init(&c->lock, NULL);
	c->bucket = strdup(o->bucket);
	c->region = strdup(o->region);
	c->custom_endpoint = o->endpoint_url && *o->endpoint_url;
	c->path_style_option = o->path_style;
	c->credentials = o->credentials;
	c->progress = o->progress;
	c->debug = debug_trace_on(DEBUG_S3);
	char what[600];
	int rc = c->bucket && c->region ? 0 : error_oom();
	if (rc || (rc = set_endpoint(c, c->custom_endpoint ? o->endpoint_url : NULL)))
		goto fail;
	snprintf(what, sizeof(what), "s3 %s", c->endpoint.authority);
	struct http_client_options ho = {.max_attempts = o->max_attempts, .progress = o->progress, .what = what};
	if ((rc = http_client_new(&c->http, &ho)))
		goto fail;
	*out = c;
	return 0;
fail:
	s3_client_free(c);
	return rc;
}

void s3_client_free(struct s3_client *c)
{
	if (!c)
		return;
	http_client_free(c->http);
	url_parts_free(&c->endpoint);
	free(c->bucket);
	free(c->region);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* Appends "/" and the encoded segment. */
static int append_segment(struct buffer *path, const char *segment, bool keep_slash)
{
	int rc = buffer_append_str(path, "/");
	return rc ? rc : sigv4_uri_encode(path, segment, keep_slash);
}

/* The part of the address that the store may correct; lock held. */
static int address_base(const struct s3_client *c, struct s3_address *a)
{
	snprintf(a->region, sizeof(a->region), "%s", c->region);
	snprintf(a->scheme, sizeof(a->scheme), "%s", c->endpoint.scheme);
	if (c->path_style)
		snprintf(a->host, sizeof(a->host), "%s", c->endpoint.authority);
	else
		snprintf(a->host, sizeof(a->host), "%s.%s", c->bucket, c->endpoint.authority);
	a->skew = c->skew;
	int rc = buffer_append_str(&a->path, c->endpoint.path);
	if (rc || !c->path_style)
		return rc;
	return append_segment(&a->path, c->bucket, false);
}

int s3_address_of(struct s3_client *c, const char *key, struct s3_address *a)
{
	memset(a, 0, sizeof(*a));
	pthread_mutex_lock(&c->lock);
	int rc = address_base(c, a);
	pthread_mutex_unlock(&c->lock);
	if (rc || (rc = append_segment(&a->path, key, true)))
		buffer_free(&a->path);
	return rc;
}

int s3_object_url(struct s3_client *c, const char *key, struct buffer *url, char region[64])
{
	struct s3_address a;
	int rc = s3_address_of(c, key, &a);
	if (rc)
		return rc;
	rc = buffer_appendf(url, "%s://%s%s", a.scheme, a.host, a.path.data);
	snprintf(region, 64, "%s", a.region);
	buffer_free(&a.path);
	return rc;
}

/* Switches to the region the store named (once for all threads: the
 * others' requests signed for the old region are simply re-signed). */
void s3_adopt_region(struct s3_client *c, const char *region)
{
	char old[64] = "";
	bool changed = false;
	pthread_mutex_lock(&c->lock);
	if (strcmp(region, c->region) != 0 && strlen(region) < 64) {
		char *r = strdup(region);
		if (r) {
			snprintf(old, sizeof(old), "%s", c->region);
			free(c->region);
			c->region = r;
			changed = true;
			if (!c->custom_endpoint)
				set_endpoint(c, NULL);
		}
	}
	pthread_mutex_unlock(&c->lock);
	if (changed)
		progress_note(c->progress, "s3: bucket %s is in region %s, not %s: using %s", c->bucket, region, old,
			      region);
}
