/* The HTTP client: libcurl set up once, the connections, DNS and TLS
 * sessions its threads share, and the pause every worker keeps after a 429. */
#include "transport/http/http_internal.h"
#include "core/util/debug_trace.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

double http_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void http_sleep(double seconds)
{
	if (seconds <= 0)
		return;
	struct timespec ts = {(time_t)seconds, (long)((seconds - floor(seconds)) * 1e9)};
	while (nanosleep(&ts, &ts) != 0)
		;
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ctx)
{
	(void)h;
	(void)access;
	pthread_mutex_lock(&((struct http_client *)ctx)->locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ctx)
{
	(void)h;
	pthread_mutex_unlock(&((struct http_client *)ctx)->locks[data]);
}

int http_client_new(struct http_client **out, const struct http_client_options *o)
{
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return error_set(ERR_FAILURE, "cannot initialise libcurl: %s", curl_easy_strerror(global_rc));
	struct http_client *c = calloc(1, sizeof(*c));
	CHECK_ALLOC(c);
	c->o = *o;
	if (!c->o.connect_timeout)
		c->o.connect_timeout = 30;
	if (!c->o.idle_timeout)
		c->o.idle_timeout = 60;
	if (!c->o.max_attempts)
		c->o.max_attempts = 5;
	if (c->o.backoff_base <= 0)
		c->o.backoff_base = 0.5;
	if (c->o.backoff_cap <= 0)
		c->o.backoff_cap = 30;
	if (c->o.retry_after_cap <= 0)
		c->o.retry_after_cap = 300;
	c->what = strdup(o->what ? o->what : "server");
	c->o.what = c->what;
	c->debug = debug_trace_on(DEBUG_HTTP);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&c->locks[i], NULL);
	pthread_mutex_init(&c->pause_lock, NULL);
	c->share = curl_share_init();
	if (!c->what || !c->share) {
		http_client_free(c);
		return error_oom();
	}
	int rc = http_tls_setup(c);
	if (rc) {
		http_client_free(c);
		return rc;
	}
	curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	*out = c;
	return 0;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	if (c->share)
		curl_share_cleanup(c->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&c->locks[i]);
	pthread_mutex_destroy(&c->pause_lock);
	http_tls_free(c);
	free(c->what);
	free(c);
}

void http_wait_for_pause(struct http_client *c)
{
	pthread_mutex_lock(&c->pause_lock);
	double until = c->pause_until;
	pthread_mutex_unlock(&c->pause_lock);
	http_sleep(until - http_now());
}
