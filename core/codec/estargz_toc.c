#include "core/codec/estargz_toc.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util/array_grow.h"
#include "core/util/error.h"
#include "core/util/json_out.h"

const char *estargz_entry_type(char typeflag, const char *name)
{
	switch (typeflag) {
	case '0':
		return "reg";
	case '\0': {
		size_t n = strlen(name);
		return n && name[n - 1] == '/' ? "dir" : "reg";
	}
	case '1':
		return "hardlink";
	case '2':
		return "symlink";
	case '3':
		return "char";
	case '4':
		return "block";
	case '5':
		return "dir";
	case '6':
		return "fifo";
	default:
		return NULL;
	}
}

void estargz_toc_init(struct estargz_toc *t)
{
	memset(t, 0, sizeof(*t));
}

void estargz_toc_free(struct estargz_toc *t)
{
	buffer_free(&t->json);
	strmap_free(&t->last_user);
	strmap_free(&t->last_group);
	for (size_t i = 0; i < t->n_names; i++)
		free(t->names[i]);
	free(t->names);
	free(t->holes);
	memset(t, 0, sizeof(*t));
}

/* stargz-snapshotter's nameIfChanged: a name is written when it differs
 * from the last one written for the same id. */
static int name_if_changed(struct estargz_toc *t, struct strmap *last, int64_t id, const char **name)
{
	char key[24];
	size_t at;
	if (!**name)
		return 0;
	snprintf(key, sizeof(key), "%" PRId64, id);
	if (strmap_get(last, key, &at) && strcmp(t->names[at], *name) == 0) {
		*name = "";
		return 0;
	}
	int rc = ARRAY_RESERVE(t->names, t->cap_names, t->n_names + 1);
	if (rc)
		return rc;
	if (!(t->names[t->n_names] = strdup(*name)))
		return error_oom();
	return strmap_put(last, key, t->n_names++);
}

int estargz_toc_owner_names(struct estargz_toc *t, int64_t uid, int64_t gid, const char **user,
			    const char **group)
{
	int rc = name_if_changed(t, &t->last_user, uid, user);
	return rc ? rc : name_if_changed(t, &t->last_group, gid, group);
}

void estargz_format_modtime(char out[40], bool has_mtime, int64_t sec, long nsec)
{
	struct tm tm;
	out[0] = '\0';
	if (!has_mtime || sec == 0)
		return; /* Go: t.IsZero() || t.Unix() == 0 */
	if (nsec >= 500000000L)
		sec++; /* Round(time.Second) rounds halves up */
	time_t t = (time_t)sec;
	if (!gmtime_r(&t, &tm))
		return;
	snprintf(out, 40, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* ---- the JSON ----------------------------------------------------------- */

struct members {
	struct buffer *b;
	bool first;
	int rc;
};

static void key(struct members *m, const char *k)
{
	if (m->rc)
		return;
	if (buffer_append_str(m->b, m->first ? "\n\t\t\t" : ",\n\t\t\t") || json_append_quoted(m->b, k) ||
	    buffer_append_str(m->b, ": "))
		m->rc = ERR_FAILURE;
	m->first = false;
}

static void string_member(struct members *m, const char *k, const char *v, bool always)
{
	if (!always && (!v || !*v))
		return;
	key(m, k);
	if (!m->rc && json_append_quoted(m->b, v ? v : ""))
		m->rc = ERR_FAILURE;
}

static void int_member(struct members *m, const char *k, int64_t v)
{
	if (!v)
		return;
	key(m, k);
	if (!m->rc && buffer_appendf(m->b, "%" PRId64, v))
		m->rc = ERR_FAILURE;
}

/* Go marshals []byte as standard base64 with padding. */
static void xattrs_member(struct members *m, const struct tar_xattr *x, size_t n)
{
	if (!n)
		return;
	key(m, "xattrs");
	if (!m->rc && buffer_append_str(m->b, "{"))
		m->rc = ERR_FAILURE;
	for (size_t i = 0; i < n && !m->rc; i++) {
		size_t enc_len = 4 * ((x[i].len + 2) / 3);
		unsigned char *enc = malloc(enc_len + 1);
		if (!enc) {
			m->rc = error_oom();
			break;
		}
		EVP_EncodeBlock(enc, x[i].value, (int)x[i].len);
		if (buffer_append_str(m->b, i ? ",\n\t\t\t\t" : "\n\t\t\t\t") || json_append_quoted(m->b, x[i].name) ||
		    buffer_append_str(m->b, ": ") || json_append_quoted(m->b, (const char *)enc))
			m->rc = ERR_FAILURE;
		free(enc);
	}
	if (!m->rc && buffer_append_str(m->b, "\n\t\t\t}"))
		m->rc = ERR_FAILURE;
}

/* The "offset" key, its value left for estargz_toc_resolve. */
static void offset_hole(struct members *m, struct estargz_toc *t, int64_t member)
{
	key(m, "offset");
	if (m->rc)
		return;
	if (t->n_holes == t->cap_holes) {
		size_t cap = t->cap_holes ? t->cap_holes * 2 : 256;
		struct estargz_toc_hole *h = realloc(t->holes, cap * sizeof(*h));
		if (!h) {
			m->rc = error_oom();
			return;
		}
		t->holes = h;
		t->cap_holes = cap;
	}
	t->holes[t->n_holes++] = (struct estargz_toc_hole){m->b->len, member};
}

int estargz_toc_resolve(struct estargz_toc *t, int64_t (*offset_of)(void *ctx, int64_t member), void *ctx)
{
	/* In place, from the end: the TOC of a large layer is tens of MiB,
	 * and a second copy would double it. */
	char (*digits)[24] = calloc(t->n_holes ? t->n_holes : 1, sizeof(*digits));
	size_t grow = 0;
	int rc = 0;
	CHECK_ALLOC(digits);
	for (size_t i = 0; i < t->n_holes; i++) {
		int64_t offset = offset_of(ctx, t->holes[i].member);
		if (offset < 0) {
			free(digits);
			return error_set(ERR_FAILURE, "eStargz: gzip member %lld has no offset yet",
					 (long long)t->holes[i].member);
		}
		grow += (size_t)snprintf(digits[i], sizeof(digits[i]), "%" PRId64, offset);
	}
	if ((rc = buffer_reserve(&t->json, grow))) {
		free(digits);
		return rc;
	}
	char *b = t->json.data;
	size_t end = t->json.len; /* of the text still to move */
	for (size_t i = t->n_holes; i-- > 0;) {
		size_t at = t->holes[i].at, n = strlen(digits[i]);
		memmove(b + at + grow, b + at, end - at);
		grow -= n;
		memcpy(b + at + grow, digits[i], n);
		end = at;
	}
	for (size_t i = 0; i < t->n_holes; i++)
		t->json.len += strlen(digits[i]);
	t->json.data[t->json.len] = '\0';
	t->n_holes = 0;
	free(digits);
	return 0;
}

int estargz_toc_add(struct estargz_toc *t, const struct estargz_toc_entry *e)
{
	char modtime[40];
	struct members m = {&t->json, true, 0};
	const char *open = t->n_entries ? ",\n\t\t{" : "{\n\t\"version\": 1,\n\t\"entries\": [\n\t\t{";
	if (buffer_append_str(&t->json, open))
		return ERR_FAILURE;
	estargz_format_modtime(modtime, e->has_mtime, e->mtime, e->mtime_nsec);
	string_member(&m, "name", e->name, true);
	string_member(&m, "type", e->type, true);
	int_member(&m, "size", e->size);
	string_member(&m, "modtime", modtime, false);
	string_member(&m, "linkName", e->link_name, false);
	int_member(&m, "mode", e->mode);
	int_member(&m, "uid", e->uid);
	int_member(&m, "gid", e->gid);
	string_member(&m, "userName", e->user_name, false);
	string_member(&m, "groupName", e->group_name, false);
	if (e->offset_is_member)
		offset_hole(&m, t, e->offset);
	else
		int_member(&m, "offset", e->offset);
	int_member(&m, "innerOffset", e->inner_offset);
	int_member(&m, "devMajor", e->dev_major);
	int_member(&m, "devMinor", e->dev_minor);
	xattrs_member(&m, e->xattrs, e->n_xattrs);
	string_member(&m, "digest", e->digest, false);
	int_member(&m, "chunkOffset", e->chunk_offset);
	int_member(&m, "chunkSize", e->chunk_size);
	string_member(&m, "chunkDigest", e->chunk_digest, false);
	if (m.rc || buffer_append_str(&t->json, "\n\t\t}"))
		return m.rc ? m.rc : ERR_FAILURE;
	t->n_entries++;
	return 0;
}

int estargz_toc_finish(struct estargz_toc *t)
{
	if (t->finished)
		return 0;
	t->finished = true;
	if (!t->n_entries)
		return buffer_append_str(&t->json, "{\n\t\"version\": 1,\n\t\"entries\": null\n}");
	return buffer_append_str(&t->json, "\n\t]\n}");
}

/* ---- tar header and footer ---------------------------------------------- */

/* Go's formatOctal: zero-padded digits and a NUL filling the field. */
static void octal_field(unsigned char *f, size_t n, uint64_t v)
{
	char tmp[32];
	snprintf(tmp, sizeof(tmp), "%0*" PRIo64, (int)(n - 1), v);
	memcpy(f, tmp, n - 1);
	f[n - 1] = '\0';
}

int estargz_tar_header(unsigned char h[512], const char *name, size_t size)
{
	if ((uint64_t)size > 077777777777ULL)
		return error_set(ERR_FAILURE, "the eStargz entry %s is too large (%zu bytes)", name, size);
	if (strlen(name) > 100)
		return error_set(ERR_FAILURE, "the eStargz entry name %s is too long", name);
	memset(h, 0, 512);
	memcpy(h, name, strlen(name));
	octal_field(h + 100, 8, 0);  /* mode */
	octal_field(h + 108, 8, 0);  /* uid */
	octal_field(h + 116, 8, 0);  /* gid */
	octal_field(h + 124, 12, size);
	octal_field(h + 136, 12, 0); /* mtime */
	h[156] = '0';
	memcpy(h + 257, "ustar\0" "00", 8);
	octal_field(h + 329, 8, 0);  /* devmajor */
	octal_field(h + 337, 8, 0);  /* devminor */
	memset(h + 148, ' ', 8);
	unsigned sum = 0;
	for (int i = 0; i < 512; i++)
		sum += h[i];
	octal_field(h + 148, 7, sum); /* six digits and a NUL; the eighth byte stays a space */
	return 0;
}

int estargz_toc_tar_header(unsigned char h[512], size_t json_len)
{
	return estargz_tar_header(h, ESTARGZ_TOC_NAME, json_len);
}

void estargz_footer(unsigned char out[ESTARGZ_FOOTER_SIZE], int64_t toc_offset)
{
	static const unsigned char head[16] = {0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 26, 0, 'S', 'G', 22, 0};
	static const unsigned char body[13] = {1, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0};
	char off[17];
	snprintf(off, sizeof(off), "%016" PRIx64, (uint64_t)toc_offset);
	memcpy(out, head, 16);
	memcpy(out + 16, off, 16);
	memcpy(out + 32, "STARGZ", 6);
	memcpy(out + 38, body, 13);
}

static int parse_hex16(const unsigned char *p, int64_t *out)
{
	uint64_t v = 0;
	for (int i = 0; i < 16; i++) {
		unsigned char c = p[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		v = v << 4 | (uint64_t)d;
	}
	if (v >> 63)
		return -1;
	*out = (int64_t)v;
	return 0;
}

/* The gzip header both footers share: FEXTRA only, then XLEN. */
static int footer_head(const unsigned char *f, unsigned xlen)
{
	return f[0] == 0x1f && f[1] == 0x8b && f[2] == 8 && f[3] == 4 && f[10] == (xlen & 0xff) &&
	       f[11] == (xlen >> 8);
}

int estargz_footer_parse(const unsigned char *tail, size_t len, int64_t *toc_offset, size_t *footer_size)
{
	if (len >= ESTARGZ_FOOTER_SIZE) {
		const unsigned char *f = tail + len - ESTARGZ_FOOTER_SIZE;
		if (footer_head(f, 26) && f[12] == 'S' && f[13] == 'G' && f[14] == 22 && f[15] == 0 &&
		    memcmp(f + 32, "STARGZ", 6) == 0 && parse_hex16(f + 16, toc_offset) == 0) {
			*footer_size = ESTARGZ_FOOTER_SIZE;
			return 0;
		}
	}
	if (len >= ESTARGZ_LEGACY_FOOTER_SIZE) {
		const unsigned char *f = tail + len - ESTARGZ_LEGACY_FOOTER_SIZE;
		if (footer_head(f, 22) && memcmp(f + 28, "STARGZ", 6) == 0 && parse_hex16(f + 12, toc_offset) == 0) {
			*footer_size = ESTARGZ_LEGACY_FOOTER_SIZE;
			return 0;
		}
	}
	return -1;
}
