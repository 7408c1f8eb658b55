/* The fixed pieces of the eStargz format (stargz-snapshotter's estargz
 * package, as BuildKit v0.23.2 writes it; see shared/spec/estargz.md):
 * the table of contents as Go's json.MarshalIndent(toc, "", "\t") prints
 * it, the tar header that wraps it, and the footer that points at it. */
#ifndef CACHECTL_ESTARGZ_TOC_H
#define CACHECTL_ESTARGZ_TOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/util/buffer.h"
#include "core/util/strmap.h"
#include "core/codec/tar_walk.h"

#define ESTARGZ_TOC_NAME "stargz.index.json"
#define ESTARGZ_CHUNK_SIZE ((int64_t)4 << 20)
#define ESTARGZ_FOOTER_SIZE 51
#define ESTARGZ_LEGACY_FOOTER_SIZE 47
#define ESTARGZ_PREFETCH_LANDMARK ".prefetch.landmark"
#define ESTARGZ_NO_PREFETCH_LANDMARK ".no.prefetch.landmark"
/* The one byte a landmark file holds. */
#define ESTARGZ_LANDMARK_CONTENT 0x0f
#define TAR_EMPTY_SHA256 "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* The TOC type of a tar entry ("reg", "dir", ...), or NULL for the types
 * eStargz has no name for (sparse, pax global headers, GNU extensions).
 * A '\0' type flag is a directory when the name ends in '/', as in Go. */
const char *estargz_entry_type(char typeflag, const char *name);

/* One element of the TOC's "entries"; zero/NULL/"" members are omitted
 * as Go's omitempty omits them. */
struct estargz_toc_entry {
	const char *name;
	const char *type;
	int64_t size;
	bool has_mtime;
	int64_t mtime;
	long mtime_nsec;
	const char *link_name;
	int64_t mode;
	int64_t uid, gid;
	const char *user_name, *group_name; /* as given: see estargz_toc_owner_names */
	int64_t offset, inner_offset;
	/* offset is not known yet: it holds the number of the gzip member the
	 * entry starts, resolved by estargz_toc_resolve (the key is written
	 * then: an entry's member never starts a blob, so never at 0) */
	bool offset_is_member;
	int64_t dev_major, dev_minor;
	const struct tar_xattr *xattrs; /* sorted by name */
	size_t n_xattrs;
	const char *digest;
	int64_t chunk_offset, chunk_size;
	const char *chunk_digest;
};

/* The TOC JSON, built entry by entry in tar order. */
struct estargz_toc {
	struct buffer json;
	size_t n_entries;
	bool finished;
	/* the last user/group name written per id (index into names) */
	struct strmap last_user, last_group;
	char **names;
	size_t n_names, cap_names;
	/* where offsets still to resolve go in json, and their members */
	struct estargz_toc_hole {
		size_t at;
		int64_t member;
	} *holes;
	size_t n_holes, cap_holes;
};

void estargz_toc_init(struct estargz_toc *t);
void estargz_toc_free(struct estargz_toc *t);
/* Replaces *user and *group by "" when the TOC already named that id so
 * (the writer writes a name only when it changes for its id). */
int estargz_toc_owner_names(struct estargz_toc *t, int64_t uid, int64_t gid, const char **user,
			    const char **group);
int estargz_toc_add(struct estargz_toc *t, const struct estargz_toc_entry *e);
/* Writes every member-numbered offset (offset_is_member) as the offset
 * offset_of gives for its member (< 0: an error). */
int estargz_toc_resolve(struct estargz_toc *t, int64_t (*offset_of)(void *ctx, int64_t member), void *ctx);
/* Closes the document; t->json then holds the exact TOC bytes (after
 * estargz_toc_resolve when an entry's offset was a member). */
int estargz_toc_finish(struct estargz_toc *t);

/* RFC 3339 UTC time rounded to the second, or "" when eStargz omits it
 * (no time, or a time within the epoch's second). */
void estargz_format_modtime(char out[40], bool has_mtime, int64_t sec, long nsec);

/* The USTAR header Go's archive/tar writes for a regular file given only
 * its name and size (mode, owner and mtime 0): how the eStargz writers
 * write the TOC entry and the landmark files. */
int estargz_tar_header(unsigned char out[512], const char *name, size_t size);
/* That header for the TOC entry. */
int estargz_toc_tar_header(unsigned char out[512], size_t json_len);

/* The 51-byte footer pointing at a TOC that starts at toc_offset. */
void estargz_footer(unsigned char out[ESTARGZ_FOOTER_SIZE], int64_t toc_offset);
/* Reads the footer at the end of a blob (tail: its last len bytes): the
 * 51-byte form, else the legacy 47-byte one.  -1 when neither parses. */
int estargz_footer_parse(const unsigned char *tail, size_t len, int64_t *toc_offset, size_t *footer_size);

#endif
