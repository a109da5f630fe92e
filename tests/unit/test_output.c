/*
 * Unit tests of tools/output: JSON strings (escapes, UTF-8 passed through,
 * bad UTF-8 replaced), the UTF-8 check, base64 against the RFC 4648
 * vectors, RFC 3339 times with nanoseconds, and aligned tables. Output is
 * written to open_memstream() buffers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tools/output.h"

struct capture {
	FILE	*f;
	char	*buf;		/* owned, from open_memstream */
	size_t	 len;
};

static void
capture_start(struct capture *c)
{
	c->buf = NULL;
	c->len = 0;
	c->f = open_memstream(&c->buf, &c->len);
	assert_non_null(c->f);
}

/* Close the stream; the text stays in c->buf until capture_free. */
static const char *
capture_end(struct capture *c)
{
	assert_int_equal(fclose(c->f), 0);
	c->f = NULL;
	assert_non_null(c->buf);
	return (c->buf);
}

static void
capture_free(struct capture *c)
{
	free(c->buf);
	c->buf = NULL;
}

/* output_json_string of len bytes at p must give want. */
static void
json_is(const char *p, size_t len, const char *want)
{
	struct capture	c;

	capture_start(&c);
	output_json_string(c.f, p, len);
	assert_string_equal(capture_end(&c), want);
	assert_int_equal(c.len, strlen(want));
	capture_free(&c);
}

/* output_json_str of s must give want. */
static void
json_str_is(const char *s, const char *want)
{
	struct capture	c;

	capture_start(&c);
	output_json_str(c.f, s);
	assert_string_equal(capture_end(&c), want);
	capture_free(&c);
	json_is(s, strlen(s), want);
}

static void
base64_is(const char *p, size_t len, const char *want)
{
	struct capture	c;

	capture_start(&c);
	output_json_base64(c.f, p, len);
	assert_string_equal(capture_end(&c), want);
	capture_free(&c);
}

static void
time_is(int64_t ns, const char *want)
{
	char	buf[OUTPUT_TIME_MAX];

	memset(buf, 'x', sizeof buf);
	output_time(buf, sizeof buf, ns);
	assert_string_equal(buf, want);
}

static void
test_output_json_plain(void **state)
{
	(void)state;
	json_str_is("", "\"\"");
	json_str_is("orders", "\"orders\"");
	json_str_is("a b/c{}[]:,'~", "\"a b/c{}[]:,'~\"");
}

static void
test_output_json_quote_backslash(void **state)
{
	(void)state;
	json_str_is("\"", "\"\\\"\"");
	json_str_is("\\", "\"\\\\\"");
	json_str_is("say \"hi\"", "\"say \\\"hi\\\"\"");
	json_str_is("C:\\dir\\", "\"C:\\\\dir\\\\\"");
	json_str_is("\\\"", "\"\\\\\\\"\"");
}

static void
test_output_json_control(void **state)
{
	(void)state;
	json_str_is("a\nb", "\"a\\nb\"");
	json_str_is("\r\t", "\"\\r\\t\"");
	json_str_is("\x01", "\"\\u0001\"");
	json_str_is("\b\f", "\"\\u0008\\u000c\"");
	json_str_is("\x1f", "\"\\u001f\"");
	json_str_is("\x1b[0m", "\"\\u001b[0m\"");
	/* DEL and space need no escape. */
	json_str_is("\x7f ", "\"\x7f \"");
	/* NUL inside counted bytes. */
	json_is("a\0b", 3, "\"a\\u0000b\"");
	json_is("\0", 1, "\"\\u0000\"");
}

static void
test_output_json_utf8_passthrough(void **state)
{
	(void)state;
	json_str_is("caf\xc3\xa9", "\"caf\xc3\xa9\"");
	json_str_is("\xc2\x80", "\"\xc2\x80\"");
	json_str_is("\xe2\x82\xac 5", "\"\xe2\x82\xac 5\"");
	json_str_is("\xef\xbf\xbf", "\"\xef\xbf\xbf\"");
	json_str_is("\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\"");
	json_str_is("\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\"");
	json_str_is("\"\xc3\xa9\"\n", "\"\\\"\xc3\xa9\\\"\\n\"");
}

static void
test_output_json_bad_utf8(void **state)
{
	(void)state;
	/* Each byte that starts no valid sequence becomes U+FFFD. */
	json_str_is("\x80", "\"\\ufffd\"");
	json_str_is("\xbf", "\"\\ufffd\"");
	json_str_is("\xff", "\"\\ufffd\"");
	json_str_is("\xfe", "\"\\ufffd\"");
	json_str_is("a\xc3", "\"a\\ufffd\"");
	json_str_is("\xc3(", "\"\\ufffd(\"");
	json_str_is("\xc0\xaf", "\"\\ufffd\\ufffd\"");
	json_str_is("\xc1\xbf", "\"\\ufffd\\ufffd\"");
	json_str_is("\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"");
	json_str_is("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");
	json_str_is("\xf4\x90\x80\x80",
	    "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	json_str_is("\xf0\x80\x80\xaf",
	    "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	json_str_is("\xf5\x80\x80\x80",
	    "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	json_str_is("\xe2\x82", "\"\\ufffd\\ufffd\"");
	json_str_is("x\xe2\x82y\xc3\xa9", "\"x\\ufffd\\ufffdy\xc3\xa9\"");
	/* A sequence cut short by the length, not by a NUL. */
	json_is("\xc3\xa9", 1, "\"\\ufffd\"");
	json_is("\xf0\x9f\x98\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"");
}

static void
test_output_utf8_valid(void **state)
{
	static const struct {
		const char	*s;
		int		 valid;
	} v[] = {
		{ "", 1 },
		{ "ascii only", 1 },
		{ "\x7f", 1 },
		{ "caf\xc3\xa9", 1 },
		{ "\xc2\x80", 1 },
		{ "\xdf\xbf", 1 },
		{ "\xe0\xa0\x80", 1 },
		{ "\xed\x9f\xbf", 1 },		/* U+D7FF */
		{ "\xee\x80\x80", 1 },		/* U+E000 */
		{ "\xf0\x90\x80\x80", 1 },
		{ "\xf4\x8f\xbf\xbf", 1 },	/* U+10FFFF */
		{ "\x80", 0 },
		{ "\xc0\x80", 0 },		/* overlong NUL */
		{ "\xc1\xbf", 0 },
		{ "\xe0\x9f\xbf", 0 },		/* overlong */
		{ "\xed\xa0\x80", 0 },		/* U+D800 */
		{ "\xed\xbf\xbf", 0 },		/* U+DFFF */
		{ "\xf0\x8f\xbf\xbf", 0 },	/* overlong */
		{ "\xf4\x90\x80\x80", 0 },	/* U+110000 */
		{ "\xf8\x88\x80\x80\x80", 0 },
		{ "\xff", 0 },
		{ "\xc3", 0 },
		{ "\xe2\x82", 0 },
		{ "\xc3\x28", 0 },
		{ "ok\xc3\xa9\x80", 0 },
	};
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		if (output_utf8_valid(v[i].s, strlen(v[i].s)) != v[i].valid)
			fail_msg("vector %zu: want %d", i, v[i].valid);
	}
	/* Only len bytes count. */
	assert_true(output_utf8_valid("a\0b", 3));
	assert_false(output_utf8_valid("\xc3\xa9", 1));
	assert_true(output_utf8_valid("\xff", 0));
	assert_true(output_utf8_valid("ab\xff", 2));
}

static void
test_output_base64_rfc4648(void **state)
{
	(void)state;
	/* RFC 4648, section 10. */
	base64_is("", 0, "\"\"");
	base64_is("f", 1, "\"Zg==\"");
	base64_is("fo", 2, "\"Zm8=\"");
	base64_is("foo", 3, "\"Zm9v\"");
	base64_is("foob", 4, "\"Zm9vYg==\"");
	base64_is("fooba", 5, "\"Zm9vYmE=\"");
	base64_is("foobar", 6, "\"Zm9vYmFy\"");
}

static void
test_output_base64_binary(void **state)
{
	(void)state;
	base64_is("\0", 1, "\"AA==\"");
	base64_is("\0\0\0", 3, "\"AAAA\"");
	base64_is("\xff\xff\xff", 3, "\"////\"");
	base64_is("\xfb\xff", 2, "\"+/8=\"");
	base64_is("\xfb\xef\xbe", 3, "\"++++\"");
	base64_is("\x00\x10\x83\x10\x51\x87", 6, "\"ABCDEFGH\"");
	base64_is("hello\n\"world\"", 13, "\"aGVsbG8KIndvcmxkIg==\"");
}

static void
test_output_time_epoch(void **state)
{
	(void)state;
	time_is(0, "1970-01-01T00:00:00.000000000Z");
	time_is(1, "1970-01-01T00:00:00.000000001Z");
	time_is(999999999, "1970-01-01T00:00:00.999999999Z");
	time_is(1000000000, "1970-01-01T00:00:01.000000000Z");
}

static void
test_output_time_nanoseconds(void **state)
{
	(void)state;
	time_is(1700000000123456789LL, "2023-11-14T22:13:20.123456789Z");
	time_is(951782400000000000LL, "2000-02-29T00:00:00.000000000Z");
	time_is(1735689599999999999LL, "2024-12-31T23:59:59.999999999Z");
	time_is(INT64_MAX, "2262-04-11T23:47:16.854775807Z");
}

static void
test_output_time_before_epoch(void **state)
{
	(void)state;
	time_is(-1, "1969-12-31T23:59:59.999999999Z");
	time_is(-1000000000LL, "1969-12-31T23:59:59.000000000Z");
	time_is(-1000000001LL, "1969-12-31T23:59:58.999999999Z");
	time_is(INT64_MIN, "1677-09-21T00:12:43.145224192Z");
}

static void
test_output_time_small_buffer(void **state)
{
	char	buf[64];
	size_t	size;

	(void)state;
	/* Whatever fits, always NUL-terminated, never past size. */
	for (size = 1; size < OUTPUT_TIME_MAX; size++) {
		memset(buf, 'x', sizeof buf);
		output_time(buf, size, 1700000000123456789LL);
		assert_non_null(memchr(buf, '\0', size));
		assert_int_equal(buf[size], 'x');
	}
	memset(buf, 'x', sizeof buf);
	output_time(buf, 31, 1700000000123456789LL);
	assert_string_equal(buf, "2023-11-14T22:13:20.123456789Z");
}

static void
test_output_table_aligned(void **state)
{
	static const char *const	 names[] = { "NAME", "SEQ", "NOTE" };
	static const char *const	 r1[] = { "orders", "12", "x" };
	static const char *const	 r2[] = { "a", "3456", "" };
	static const char *const	 r3[] = { "", "", "last" };
	struct output_table		*t;
	struct capture			 c;

	(void)state;
	t = output_table_new(3, names);
	assert_non_null(t);
	assert_int_equal(output_table_add(t, r1), 0);
	assert_int_equal(output_table_add(t, r2), 0);
	assert_int_equal(output_table_add(t, r3), 0);
	capture_start(&c);
	output_table_print(t, c.f);
	/* Two spaces between columns; the last one is not padded. */
	assert_string_equal(capture_end(&c),
	    "NAME    SEQ   NOTE\n"
	    "orders  12    x\n"
	    "a       3456  \n"
	    "              last\n");
	capture_free(&c);
	output_table_free(t);
}

static void
test_output_table_header_only(void **state)
{
	static const char *const	 names[] = { "STATION", "GROUPS" };
	static const char *const	 one[] = { "ONLY" };
	struct output_table		*t;
	struct capture			 c;

	(void)state;
	t = output_table_new(2, names);
	assert_non_null(t);
	capture_start(&c);
	output_table_print(t, c.f);
	assert_string_equal(capture_end(&c), "STATION  GROUPS\n");
	capture_free(&c);
	output_table_free(t);

	t = output_table_new(1, one);
	assert_non_null(t);
	capture_start(&c);
	output_table_print(t, c.f);
	assert_string_equal(capture_end(&c), "ONLY\n");
	capture_free(&c);
	output_table_free(t);
}

static void
test_output_table_many_rows(void **state)
{
	static const char *const	 names[] = { "N", "SQUARE" };
	struct output_table		*t;
	struct capture			 c;
	const char			*row[2], *p;
	char				 a[16], b[32], line[64];
	int				 i;

	(void)state;
	t = output_table_new(2, names);
	assert_non_null(t);
	for (i = 0; i < 100; i++) {
		snprintf(a, sizeof a, "%d", i);
		snprintf(b, sizeof b, "%d", i * i);
		row[0] = a;
		row[1] = b;
		assert_int_equal(output_table_add(t, row), 0);
	}
	/* The cells were copied: the buffers are reused. */
	snprintf(a, sizeof a, "gone");
	capture_start(&c);
	output_table_print(t, c.f);
	p = capture_end(&c);
	assert_memory_equal(p, "N   SQUARE\n0   0\n1   1\n", 23);
	for (i = 0; i < 100; i++) {
		snprintf(line, sizeof line, "\n%-2d  %d\n", i, i * i);
		assert_non_null(strstr(p, line));
	}
	assert_null(strstr(p, "gone"));
	capture_free(&c);
	output_table_free(t);
}

static void
test_output_table_free_null(void **state)
{
	(void)state;
	output_table_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_output_json_plain),
		cmocka_unit_test(test_output_json_quote_backslash),
		cmocka_unit_test(test_output_json_control),
		cmocka_unit_test(test_output_json_utf8_passthrough),
		cmocka_unit_test(test_output_json_bad_utf8),
		cmocka_unit_test(test_output_utf8_valid),
		cmocka_unit_test(test_output_base64_rfc4648),
		cmocka_unit_test(test_output_base64_binary),
		cmocka_unit_test(test_output_time_epoch),
		cmocka_unit_test(test_output_time_nanoseconds),
		cmocka_unit_test(test_output_time_before_epoch),
		cmocka_unit_test(test_output_time_small_buffer),
		cmocka_unit_test(test_output_table_aligned),
		cmocka_unit_test(test_output_table_header_only),
		cmocka_unit_test(test_output_table_many_rows),
		cmocka_unit_test(test_output_table_free_null),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
