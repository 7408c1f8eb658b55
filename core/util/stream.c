#include "core/util/stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util/error.h"

int source_read_full(struct byte_source *s, void *buf, size_t len, size_t *got)
{
	size_t n = 0;
	while (n < len) {
		ssize_t r = source_read(s, (char *)buf + n, len - n);
		if (r < 0)
			return (int)r;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*got = n;
	return 0;
}

/* ---- file --------------------------------------------------------------- */

struct file_source {
	struct byte_source base;
	int fd;
	char *what;
};

static ssize_t file_read(struct byte_source *s, void *buf, size_t len)
{
	struct file_source *f = (struct file_source *)s;
	for (;;) {
		ssize_t n = read(f->fd, buf, len);
		if (n >= 0)
			return n;
		if (errno != EINTR)
			return error_set_errno(ERR_FAILURE, errno, "read %s", f->what);
	}
}

static void file_close(struct byte_source *s)
{
	struct file_source *f = (struct file_source *)s;
	close(f->fd);
	free(f->what);
	free(f);
}

int file_source_open(struct byte_source **out, const char *path, const char *what)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_set_errno(errno == ENOENT ? ERR_NOT_FOUND : ERR_FAILURE, errno, "open %s", what);
	struct file_source *f = calloc(1, sizeof(*f));
	if (!f || !(f->what = strdup(what))) {
		free(f);
		close(fd);
		return error_oom();
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	f->base.read = file_read;
	f->base.close = file_close;
	f->fd = fd;
	*out = &f->base;
	return 0;
}

int fd_write_all(int fd, const void *buf, size_t len, const char *what)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return error_set_errno(ERR_FAILURE, errno, "write %s", what);
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ---- memory ------------------------------------------------------------- */

struct memory_source {
	struct byte_source base;
	const char *data;
	size_t len, pos;
};

static ssize_t memory_read(struct byte_source *s, void *buf, size_t len)
{
	struct memory_source *m = (struct memory_source *)s;
	size_t n = m->len - m->pos < len ? m->len - m->pos : len;
	memcpy(buf, m->data + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

static void memory_close(struct byte_source *s)
{
	free(s);
}

int memory_source_new(struct byte_source **out, const void *data, size_t len)
{
	struct memory_source *m = calloc(1, sizeof(*m));
	CHECK_ALLOC(m);
	m->base.read = memory_read;
	m->base.close = memory_close;
	m->data = data;
	m->len = len;
	*out = &m->base;
	return 0;
}

/* ---- digest and size check ---------------------------------------------- */

struct verified_source {
	struct byte_source base;
	struct byte_source *inner;
	struct sha256 *hash;
	char digest[DIGEST_BUF];
	int64_t size, seen;
	bool done;
};

static ssize_t verified_read(struct byte_source *s, void *buf, size_t len)
{
	int rc;
	struct verified_source *v = (struct verified_source *)s;
	if (v->done)
		return 0;
	ssize_t n = source_read(v->inner, buf, len);
	if (n < 0)
		return n;
	if (n > 0) {
		v->seen += n;
		if (v->size >= 0 && v->seen > v->size)
			return error_set(ERR_CORRUPT, "blob %s is larger than the %lld bytes its descriptor says",
					 v->digest, (long long)v->size);
		if ((rc = sha256_update(v->hash, buf, (size_t)n)))
			return rc;
		return n;
	}
	char got[DIGEST_BUF];
	v->done = true;
	if (v->size >= 0 && v->seen != v->size)
		return error_set(ERR_CORRUPT, "blob %s is %lld bytes, its descriptor says %lld", v->digest,
				 (long long)v->seen, (long long)v->size);
	if ((rc = sha256_final(v->hash, got)))
		return rc;
	if (strcmp(got, v->digest) != 0)
		return error_set(ERR_CORRUPT, "blob %s does not match its digest (its bytes hash to %s)",
				 v->digest, got);
	return 0;
}

static void verified_close(struct byte_source *s)
{
	struct verified_source *v = (struct verified_source *)s;
	source_close(v->inner);
	sha256_free(v->hash);
	free(v);
}

int verified_source_new(struct byte_source **out, struct byte_source *inner, const char *digest,
			int64_t size)
{
	struct verified_source *v = calloc(1, sizeof(*v));
	if (!v || sha256_new(&v->hash)) {
		free(v);
		source_close(inner);
		return error_oom();
	}
	v->base.read = verified_read;
	v->base.close = verified_close;
	v->inner = inner;
	v->size = size;
	snprintf(v->digest, sizeof(v->digest), "%s", digest);
	*out = &v->base;
	return 0;
}

/* ---- hashing sink ------------------------------------------------------- */

struct hashing_sink {
	struct byte_sink base;
	struct byte_sink *next;
	struct sha256 *hash;
	char digest[DIGEST_BUF];
	int64_t size;
};

static int hashing_write(struct byte_sink *s, const void *buf, size_t len)
{
	int rc;
	struct hashing_sink *h = (struct hashing_sink *)s;
	h->size += (int64_t)len;
	if ((rc = sha256_update(h->hash, buf, len)))
		return rc;
	return h->next ? sink_write(h->next, buf, len) : 0;
}

static int hashing_finish(struct byte_sink *s)
{
	int rc;
	struct hashing_sink *h = (struct hashing_sink *)s;
	if ((rc = sha256_final(h->hash, h->digest)))
		return rc;
	return h->next ? sink_finish(h->next) : 0;
}

static void hashing_close(struct byte_sink *s)
{
	struct hashing_sink *h = (struct hashing_sink *)s;
	sha256_free(h->hash);
	free(h);
}

int hashing_sink_new(struct byte_sink **out, struct byte_sink *next)
{
	struct hashing_sink *h = calloc(1, sizeof(*h));
	if (!h || sha256_new(&h->hash)) {
		free(h);
		return error_oom();
	}
	h->base.write = hashing_write;
	h->base.finish = hashing_finish;
	h->base.close = hashing_close;
	h->next = next;
	*out = &h->base;
	return 0;
}

void hashing_sink_result(struct byte_sink *s, char digest[DIGEST_BUF], int64_t *size)
{
	struct hashing_sink *h = (struct hashing_sink *)s;
	memcpy(digest, h->digest, DIGEST_BUF);
	*size = h->size;
}

/* ---- tee ---------------------------------------------------------------- */

struct tee_sink {
	struct byte_sink base;
	struct byte_sink **sinks;
	size_t n;
};

static int tee_write(struct byte_sink *s, const void *buf, size_t len)
{
	struct tee_sink *t = (struct tee_sink *)s;
	for (size_t i = 0; i < t->n; i++) {
		int rc = sink_write(t->sinks[i], buf, len);
		if (rc)
			return rc;
	}
	return 0;
}

static int tee_finish(struct byte_sink *s)
{
	struct tee_sink *t = (struct tee_sink *)s;
	for (size_t i = 0; i < t->n; i++) {
		int rc = sink_finish(t->sinks[i]);
		if (rc)
			return rc;
	}
	return 0;
}

static void tee_close(struct byte_sink *s)
{
	struct tee_sink *t = (struct tee_sink *)s;
	free(t->sinks);
	free(t);
}

int tee_sink_new(struct byte_sink **out, struct byte_sink **sinks, size_t n)
{
	struct tee_sink *t = calloc(1, sizeof(*t));
	if (!t || !(t->sinks = calloc(n ? n : 1, sizeof(*sinks)))) {
		free(t);
		return error_oom();
	}
	memcpy(t->sinks, sinks, n * sizeof(*sinks));
	t->n = n;
	t->base.write = tee_write;
	t->base.finish = tee_finish;
	t->base.close = tee_close;
	*out = &t->base;
	return 0;
}
