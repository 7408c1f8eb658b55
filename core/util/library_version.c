#include "core/util/library_version.h"

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <stdio.h>

#define STR_(x) #x
#define STR(x) STR_(x)

size_t util_library_versions(struct library_version *out, size_t max)
{
	const struct library_version all[] = {
		{"OpenSSL", OPENSSL_VERSION_STR, OpenSSL_version(OPENSSL_VERSION_STRING)},
		{"cJSON", STR(CJSON_VERSION_MAJOR) "." STR(CJSON_VERSION_MINOR) "." STR(CJSON_VERSION_PATCH),
		 cJSON_Version()},
	};
	size_t n = sizeof(all) / sizeof(all[0]);
	for (size_t i = 0; i < n && i < max; i++)
		out[i] = all[i];
	return n < max ? n : max;
}
