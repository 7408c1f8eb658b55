/* Digests, Go-compatible JSON text, RFC 3339 times, array growth, JSON arrays read element by element. */
#include "check.h"
#include "core/util/json_number.h"
#include "core/util/array_grow.h"
#include "core/util/json_span.h"
#include "core/util/buffer.h"
#include "core/util/digest.h"
#include "core/util/error.h"
#include "core/util/json_out.h"
#include "core/util/timestamp.h"

static void test_digest(void)
{
	char d[DIGEST_BUF];
	CHECK(digest_of_bytes(d, "abc", 3) == 0);
	CHECK_STR(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	CHECK(digest_of_bytes(d, "", 0) == 0);
	CHECK_STR(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	CHECK(digest_is_valid("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
	CHECK(digest_is_valid("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855") != 0);
	CHECK(digest_is_valid("sha256:e3b0") != 0);
	CHECK(digest_is_valid("sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") != 0);
	CHECK(digest_is_valid("") != 0);
	CHECK(digest_check("nope", ERR_USAGE, "digest=") == ERR_USAGE);
	CHECK(strstr(error_message(), "digest=") != NULL);

	/* Streaming in pieces gives the one-shot digest. */
	struct sha256 *h;
	CHECK(sha256_new(&h) == 0);
	CHECK(sha256_update(h, "a", 1) == 0);
	CHECK(sha256_update(h, "bc", 2) == 0);
	CHECK(sha256_final(h, d) == 0);
	CHECK_STR(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sha256_free(h);
}

static void quoted(const char *in, const char *want)
{
	struct buffer b = BUFFER_INIT;
	CHECK(json_append_quoted(&b, in) == 0);
	CHECK_STR(b.data, want);
	buffer_free(&b);
}

static void test_json(void)
{
	/* Go's encoding/json: HTML characters, control characters, U+2028/9. */
	quoted("plain sha256:abc", "\"plain sha256:abc\"");
	quoted("a<b>&c", "\"a\\u003cb\\u003e\\u0026c\"");
	quoted("q\"b\\", "\"q\\\"b\\\\\"");
	quoted("\n\r\t\b\f", "\"\\n\\r\\t\\b\\f\"");
	quoted("\x01\x1f", "\"\\u0001\\u001f\"");
	quoted("\x7f", "\"\x7f\"");
	quoted("caf\xc3\xa9", "\"caf\xc3\xa9\"");
	quoted("bad\xff", "\"bad\\ufffd\"");
	quoted("\xe2\x80\xa8\xe2\x80\xa9", "\"\\u2028\\u2029\"");
	quoted("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""); /* a UTF-16 surrogate is invalid */

	struct buffer b = BUFFER_INIT;
	struct json_out j;
	json_out_init(&j, &b);
	json_object_begin(&j);
	json_key(&j, "a");
	json_array_begin(&j);
	json_int(&j, 1);
	json_int(&j, -2);
	json_object_begin(&j);
	json_key(&j, "b");
	json_null(&j);
	json_object_end(&j);
	json_array_end(&j);
	json_key(&j, "c");
	json_bool(&j, true);
	json_member_int(&j, "big", 9007199254740993LL);
	json_object_end(&j);
	CHECK(json_out_status(&j) == 0);
	CHECK_STR(b.data, "{\"a\":[1,-2,{\"b\":null}],\"c\":true,\"big\":9007199254740993}");
	buffer_free(&b);
}

static void roundtrip_time(const char *in, const char *want_local, const char *want_utc)
{
	struct timestamp t;
	char out[TIMESTAMP_BUF];
	CHECK(timestamp_parse(&t, in) == 0);
	timestamp_format(out, &t, false);
	CHECK_STR(out, want_local);
	timestamp_format(out, &t, true);
	CHECK_STR(out, want_utc);
}

static void test_time(void)
{
	roundtrip_time("2026-11-28T07:21:10.993111236Z", "2026-11-28T07:21:10.993111236Z",
		       "2026-11-28T07:21:10.993111236Z");
	roundtrip_time("2025-01-02T03:04:06.500Z", "2025-01-02T03:04:06.5Z", "2025-01-02T03:04:06.5Z");
	roundtrip_time("2025-01-02T03:04:07.000000000Z", "2025-01-02T03:04:07Z", "2025-01-02T03:04:07Z");
	roundtrip_time("2025-01-02T05:04:05.25+02:00", "2025-01-02T05:04:05.25+02:00", "2025-01-02T03:04:05.25Z");
	roundtrip_time("2025-01-01T23:30:00-01:30", "2025-01-01T23:30:00-01:30", "2025-01-02T01:00:00Z");
	roundtrip_time("2025-01-02T03:04:05+00:00", "2025-01-02T03:04:05Z", "2025-01-02T03:04:05Z");
	roundtrip_time("1969-12-31T23:59:59.5Z", "1969-12-31T23:59:59.5Z", "1969-12-31T23:59:59.5Z");
	roundtrip_time("2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z");
	roundtrip_time(TIMESTAMP_ZERO, TIMESTAMP_ZERO, TIMESTAMP_ZERO);
	/* More than nine fraction digits: Go keeps nanoseconds. */
	roundtrip_time("2025-01-02T03:04:05.1234567891Z", "2025-01-02T03:04:05.123456789Z",
		       "2025-01-02T03:04:05.123456789Z");

	struct timestamp z, a, b;
	CHECK(timestamp_parse(&z, TIMESTAMP_ZERO) == 0);
	CHECK(timestamp_is_zero(&z));
	CHECK(timestamp_parse(&a, "2025-01-02T03:04:05Z") == 0);
	CHECK(timestamp_parse(&b, "2025-01-02T05:04:05.1+02:00") == 0);
	CHECK(timestamp_compare(&a, &b) < 0);
	CHECK(timestamp_compare(&b, &a) > 0);
	CHECK(!timestamp_is_zero(&a));

	const char *bad[] = {"2025-13-01T00:00:00Z", "2025-02-30T00:00:00Z", "2023-02-29T00:00:00Z",
			     "garbage", "2025-01-02 03:04:05Z", "2025-01-02T03:04:05", "2025-01-02T03:04:05.Z",
			     "2025-01-02T24:00:00Z", "2025-01-02T03:04:05+0200", "2025-01-02T03:04:05Zjunk"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct timestamp t;
		CHECK(timestamp_parse(&t, bad[i]) != 0);
		CHECK(strstr(error_message(), "RFC 3339") != NULL);
	}
}

/* Untrusted JSON numbers: integers in range only, never a wrapped cast. */
static void test_json_integer(void)
{
	static const struct {
		const char *json;
		int64_t min, max;
		bool ok;
		int64_t want;
	} rows[] = {
		{"2", INT32_MIN, INT32_MAX, true, 2},
		{"-7", INT32_MIN, INT32_MAX, true, -7},
		{"2147483647", INT32_MIN, INT32_MAX, true, 2147483647},
		{"3000000000", INT32_MIN, INT32_MAX, false, 0},
		{"-3000000000", INT32_MIN, INT32_MAX, false, 0},
		{"1e300", 0, JSON_EXACT_MAX, false, 0},
		{"-1", 0, JSON_EXACT_MAX, false, 0},
		{"1.5", 0, JSON_EXACT_MAX, false, 0},
		{"9007199254740992", 0, JSON_EXACT_MAX, true, 9007199254740992LL},
		{"18014398509481984", 0, JSON_EXACT_MAX, false, 0},
		{"\"12\"", 0, JSON_EXACT_MAX, false, 0},
		{"null", 0, JSON_EXACT_MAX, false, 0},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		cJSON *v = cJSON_Parse(rows[i].json);
		int64_t got = -12345;
		bool ok = json_integer(v, rows[i].min, rows[i].max, &got);
		CHECK(ok == rows[i].ok);
		CHECK_INT(got, rows[i].ok ? rows[i].want : -12345);
		cJSON_Delete(v);
	}
	CHECK(!json_integer(NULL, 0, 1, &(int64_t){0}));
}

/* Appends grow the room geometrically: 100 000 appends, few reallocations. */
static void test_array_grow(void)
{
	int *a = NULL;
	size_t n = 0, cap = 0, grew = 0;
	for (int i = 0; i < 100000; i++) {
		size_t before = cap;
		CHECK(ARRAY_RESERVE(a, cap, n + 1) == 0);
		grew += cap != before;
		CHECK(cap >= n + 1);
		a[n++] = i;
	}
	CHECK(grew <= 14); /* 16, 32, ..., 131072 */
	CHECK_INT(a[99999], 99999);
	CHECK(ARRAY_RESERVE(a, cap, 10) == 0); /* already room: nothing moves */
	CHECK_INT(cap, 131072);
	free(a);
	/* an array that does not fit fails and stays as it was */
	char *big = NULL;
	size_t big_cap = 0;
	CHECK(ARRAY_RESERVE(big, big_cap, SIZE_MAX / 2 + 2) == ERR_FAILURE);
	CHECK(big == NULL && big_cap == 0);

	/* counted arrays: room implied by the count, new room zeroed */
	long *c = NULL;
	for (size_t i = 0; i < 1000; i++) {
		long *g = array_grow_counted(c, i, sizeof(*c));
		CHECK(g != NULL);
		c = g;
		CHECK(c[i] == 0);
		c[i] = (long)i + 1;
	}
	CHECK(c[999] == 1000 && c[0] == 1);
	free(c);
}

struct seen {
	char text[64];
	size_t n;
};

static int note_element(void *ctx, const char *e, size_t len)
{
	struct seen *s = ctx;
	size_t at = strlen(s->text);
	snprintf(s->text + at, sizeof(s->text) - at, "%s%.*s", at ? "|" : "", (int)len, e);
	s->n++;
	return s->n == 99 ? ERR_CORRUPT : 0;
}

static void test_json_array_each(void)
{
	static const struct {
		const char *text;
		int rc;
		const char *elements;
	} rows[] = {
		{" [ {\"a\": [1, \"]\"]} , 2,\"x,y\", null ]", 0, "{\"a\": [1, \"]\"]}|2|\"x,y\"|null"},
		{"[]", 0, ""},
		{"[ ]", 0, ""},
		{"[1,,2]", ERR_FAILURE, "1"},
		{"[1 2]", ERR_FAILURE, "1"},
		{"[,1]", ERR_FAILURE, ""},
		{"[1,", ERR_FAILURE, "1"},
		{"[1", ERR_FAILURE, "1"},
		{"{}", ERR_FAILURE, ""},
		{"", ERR_FAILURE, ""},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(*rows); i++) {
		struct seen s = {"", 0};
		int rc = json_array_each(rows[i].text, strlen(rows[i].text), 0, note_element, &s);
		CHECK_INT(rc, rows[i].rc);
		CHECK_STR(s.text, rows[i].elements);
	}
	/* the callback's code stops the walk and comes back */
	struct seen s = {"", 98};
	CHECK_INT(json_array_each("[1,2,3]", 7, 0, note_element, &s), ERR_CORRUPT);
	CHECK_STR(s.text, "1");
}

int main(void)
{
	test_array_grow();
	test_json_array_each();
	test_json_integer();
	test_digest();
	test_json();
	test_time();
	CHECK_DONE();
}
