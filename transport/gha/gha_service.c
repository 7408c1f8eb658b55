#include "transport/gha/gha_service.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/util/error.h"

void gha_hit_free(struct gha_hit *h)
{
	free(h->key);
	free(h->url);
	h->key = h->url = NULL;
}

int gha_service_init(struct gha_service *s, const struct gha_service_ops *ops, const struct gha_service_config *cfg,
		     const char *api_path, const char *name)
{
	struct buffer b = BUFFER_INIT, a = BUFFER_INIT;
	s->ops = ops;
	s->http = cfg->http;
	s->pacer = cfg->pacer;
	s->progress = cfg->progress;
	s->part_size = cfg->part_size;
	s->name = name;
	int rc;
	if ((rc = buffer_appendf(&b, "%s%s", cfg->url, api_path)) ||
	    (rc = buffer_appendf(&a, "Authorization: Bearer %s", cfg->token))) {
		buffer_free(&b);
		buffer_free(&a);
		return rc;
	}
	s->base = buffer_detach(&b, NULL);
	s->auth = buffer_detach(&a, NULL);
	return 0;
}

void gha_service_clear(struct gha_service *s)
{
	free(s->base);
	if (s->auth) {
		/* A credential: do not leave it in freed memory. */
		memset(s->auth, 0, strlen(s->auth));
		free(s->auth);
	}
}

static const char *member_text(const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItem(obj, name); /* case-insensitive, as Go */
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

bool gha_answer_already_exists(const struct http_response *r)
{
	cJSON *j = r->body.data ? cJSON_Parse(r->body.data) : NULL;
	const char *type_key = member_text(j, "typeKey"), *code = member_text(j, "code");
	const char *msg = member_text(j, "message");
	if (!msg)
		msg = member_text(j, "msg");
	bool exists = (type_key && strstr(type_key, "AlreadyExists")) || (code && strcmp(code, "already_exists") == 0) ||
		      (msg && strcasestr(msg, "already exists"));
	cJSON_Delete(j);
	return exists;
}

int gha_answer_error(const struct gha_service *s, const char *what, const struct http_response *r)
{
	cJSON *j = r->body.data ? cJSON_Parse(r->body.data) : NULL;
	const char *msg = member_text(j, "message");
	if (!msg)
		msg = member_text(j, "msg");
	int rc = error_set(ERR_FAILURE, "%s %s: HTTP %ld%s%.300s", s->name, what, r->status, msg ? ": " : "",
			   msg ? msg : "");
	cJSON_Delete(j);
	return rc;
}

/* http_open's stream writes into its response until closed: keep both. */
struct download {
	struct byte_source base;
	struct byte_source *inner;
	struct http_response resp;
};

static ssize_t download_read(struct byte_source *src, void *buf, size_t len)
{
	return source_read(((struct download *)src)->inner, buf, len);
}

static void download_close(struct byte_source *src)
{
	struct download *d = (struct download *)src;
	source_close(d->inner);
	http_response_free(&d->resp);
	free(d);
}

int gha_download(struct gha_service *s, const char *url, const char *const *headers, struct byte_source **out,
		 long *status)
{
	struct http_request req = {.method = "GET", .url = url, .headers = headers, .follow_redirects = true};
	struct download *d = calloc(1, sizeof(*d));
	*out = NULL;
	*status = 0;
	CHECK_ALLOC(d);
	int rc = http_open(s->http, &req, &d->resp, &d->inner);
	if (rc || !d->inner) {
		if (!rc)
			*status = d->resp.status;
		http_response_free(&d->resp);
		free(d);
		return rc;
	}
	d->base.read = download_read;
	d->base.close = download_close;
	*out = &d->base;
	return 0;
}
