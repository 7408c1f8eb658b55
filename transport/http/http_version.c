#include "transport/http/http.h"

#include <curl/curl.h>

size_t http_library_versions(struct library_version *out, size_t max)
{
	if (max < 1)
		return 0;
	out[0] = (struct library_version){"libcurl", LIBCURL_VERSION, curl_version_info(CURLVERSION_NOW)->version};
	return 1;
}
