/* tar_manifest: what libarchive extracts from a layer blob, one JSON line
 * per entry, so the end-to-end tests can compare the file list and the
 * file contents of two encodings of one layer.
 *
 * usage: tar_manifest BLOB   (plain tar, gzip -- eStargz included -- or zstd)
 *
 * Strings are hex (names need not be UTF-8); contents are sha256 digests;
 * xattrs are name (hex) -> value (hex). */
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/digest.h"

/* Setup steps that cannot fail unless the machine is out of memory. */
#define MUST(expr)                                                                       \
	do {                                                                             \
		if ((expr) != 0) {                                                       \
			fprintf(stderr, "%s:%d: %s failed\n", __FILE__, __LINE__, #expr); \
			exit(1);                                                         \
		}                                                                        \
	} while (0)


static void hex(const char *key, const void *data, size_t len)
{
	const unsigned char *p = data;
	printf("\"%s\":\"", key);
	for (size_t i = 0; i < len; i++)
		printf("%02x", p[i]);
	printf("\"");
}

static void hex_str(const char *key, const char *s)
{
	hex(key, s ? s : "", s ? strlen(s) : 0);
}

static const char *type_of(struct archive_entry *e)
{
	if (archive_entry_hardlink(e))
		return "hardlink";
	switch (archive_entry_filetype(e)) {
	case AE_IFREG:
		return "file";
	case AE_IFDIR:
		return "dir";
	case AE_IFLNK:
		return "symlink";
	case AE_IFCHR:
		return "char";
	case AE_IFBLK:
		return "block";
	case AE_IFIFO:
		return "fifo";
	default:
		return "other";
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: tar_manifest BLOB\n");
		return 2;
	}
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	struct sha256 *h;
	char digest[DIGEST_BUF];
	int r;
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_empty(a);
	if (sha256_new(&h) || archive_read_open_filename(a, argv[1], 1 << 16) != ARCHIVE_OK) {
		fprintf(stderr, "tar_manifest: %s: %s\n", argv[1], archive_error_string(a));
		return 1;
	}
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		const void *block;
		size_t n;
		la_int64_t off;
		int64_t size = 0;
		while ((r = archive_read_data_block(a, &block, &n, &off)) == ARCHIVE_OK) {
			MUST(sha256_update(h, block, n));
			size += (int64_t)n;
		}
		if (r != ARCHIVE_EOF) {
			fprintf(stderr, "tar_manifest: %s: %s\n", archive_entry_pathname(e), archive_error_string(a));
			return 1;
		}
		MUST(sha256_final(h, digest));
		printf("{");
		hex_str("path", archive_entry_pathname(e));
		printf(",\"type\":\"%s\",\"mode\":%d,\"uid\":%lld,\"gid\":%lld,", type_of(e),
		       (int)archive_entry_perm(e), (long long)archive_entry_uid(e), (long long)archive_entry_gid(e));
		hex_str("uname", archive_entry_uname(e));
		printf(",");
		hex_str("gname", archive_entry_gname(e));
		printf(",\"mtime\":%lld,\"mtime_nsec\":%ld,\"size\":%lld,", (long long)archive_entry_mtime(e),
		       archive_entry_mtime_nsec(e), (long long)size);
		hex_str("link", archive_entry_hardlink(e) ? archive_entry_hardlink(e) : archive_entry_symlink(e));
		printf(",\"sha256\":\"%s\",\"rdev\":[%lld,%lld],\"xattrs\":{", digest,
		       (long long)archive_entry_rdevmajor(e), (long long)archive_entry_rdevminor(e));
		const char *name;
		const void *value;
		size_t len;
		int first = 1;
		archive_entry_xattr_reset(e);
		while (archive_entry_xattr_next(e, &name, &value, &len) == ARCHIVE_OK) {
			printf("%s\"", first ? "" : ",");
			for (const char *p = name; *p; p++)
				printf("%02x", (unsigned char)*p);
			printf("\":\"");
			for (size_t i = 0; i < len; i++)
				printf("%02x", ((const unsigned char *)value)[i]);
			printf("\"");
			first = 0;
		}
		printf("}}\n");
	}
	if (r != ARCHIVE_EOF) {
		fprintf(stderr, "tar_manifest: %s: %s\n", argv[1], archive_error_string(a));
		return 1;
	}
	archive_read_free(a);
	sha256_free(h);
	return 0;
}
