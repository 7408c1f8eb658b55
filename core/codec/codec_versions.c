#include "core/codec/codec.h"

#include <archive.h>
#include <isa-l.h>
#include <libdeflate.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#define STR_(x) #x
#define STR(x) STR_(x)

/* libarchive says "libarchive 3.6.2"; the others say just the number. */
static const char *archive_version_text(void)
{
	const char *v = archive_version_string();
	const char *prefix = "libarchive ";
	return strncmp(v, prefix, strlen(prefix)) == 0 ? v + strlen(prefix) : v;
}

size_t codec_library_versions(struct library_version *out, size_t max)
{
	const struct library_version all[] = {
		{"libarchive", ARCHIVE_VERSION_ONLY_STRING, archive_version_text()},
		{"libzstd", ZSTD_VERSION_STRING, ZSTD_versionString()},
		{"zlib", ZLIB_VERSION, zlibVersion()},
		/* Neither says its version at run time: the headers' is all there is. */
		{"libdeflate", LIBDEFLATE_VERSION_STRING, LIBDEFLATE_VERSION_STRING},
		{"ISA-L", STR(ISAL_MAJOR_VERSION) "." STR(ISAL_MINOR_VERSION) "." STR(ISAL_PATCH_VERSION),
		 STR(ISAL_MAJOR_VERSION) "." STR(ISAL_MINOR_VERSION) "." STR(ISAL_PATCH_VERSION)},
	};
	size_t n = sizeof(all) / sizeof(all[0]);
	for (size_t i = 0; i < n && i < max; i++)
		out[i] = all[i];
	return n < max ? n : max;
}
