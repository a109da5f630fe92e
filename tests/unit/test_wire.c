/*
 * Unit tests of proto/wire: varint sizes, encoding and decoding at every
 * length boundary up to UINT64_MAX, truncated and over-long varints, and
 * field headers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/wire.h"

/* Values at each varint length boundary, with their size in bytes. */
static const struct {
	uint64_t	v;
	size_t		size;
} boundaries[] = {
	{ 0, 1 },
	{ 1, 1 },
	{ 127, 1 },
	{ 128, 2 },
	{ 16383, 2 },
	{ 16384, 3 },
	{ (1ULL << 21) - 1, 3 },
	{ 1ULL << 21, 4 },
	{ (1ULL << 28) - 1, 4 },
	{ 1ULL << 28, 5 },
	{ UINT32_MAX, 5 },
	{ (1ULL << 35) - 1, 5 },
	{ 1ULL << 35, 6 },
	{ 1ULL << 42, 7 },
	{ 1ULL << 49, 8 },
	{ (1ULL << 56) - 1, 8 },
	{ 1ULL << 56, 9 },
	{ (1ULL << 63) - 1, 9 },
	{ 1ULL << 63, 10 },
	{ UINT64_MAX, 10 },
};
#define NBOUNDARIES	(sizeof boundaries / sizeof boundaries[0])

static void
test_wire_varint_size(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < NBOUNDARIES; i++) {
		assert_int_equal(wire_varint_size(boundaries[i].v),
		    boundaries[i].size);
	}
}

static void
test_wire_varint_put_known(void **state)
{
	uint8_t	b[WIRE_VARINT_MAX];

	(void)state;
	assert_int_equal(wire_varint_put(b, 0), 1);
	assert_int_equal(b[0], 0x00);
	assert_int_equal(wire_varint_put(b, 1), 1);
	assert_int_equal(b[0], 0x01);
	assert_int_equal(wire_varint_put(b, 127), 1);
	assert_int_equal(b[0], 0x7f);
	assert_int_equal(wire_varint_put(b, 128), 2);
	assert_memory_equal(b, "\x80\x01", 2);
	assert_int_equal(wire_varint_put(b, 300), 2);
	assert_memory_equal(b, "\xac\x02", 2);
	assert_int_equal(wire_varint_put(b, UINT32_MAX), 5);
	assert_memory_equal(b, "\xff\xff\xff\xff\x0f", 5);
	assert_int_equal(wire_varint_put(b, UINT64_MAX), 10);
	assert_memory_equal(b, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10);
}

static void
test_wire_varint_put_size_agree(void **state)
{
	uint8_t	b[WIRE_VARINT_MAX + 1];
	size_t	i, n;

	(void)state;
	for (i = 0; i < NBOUNDARIES; i++) {
		memset(b, 0xee, sizeof b);
		n = wire_varint_put(b, boundaries[i].v);
		assert_int_equal(n, boundaries[i].size);
		/* Continuation bits on all but the last byte. */
		assert_int_equal(b[n - 1] & 0x80, 0);
		if (n > 1)
			assert_int_equal(b[0] & 0x80, 0x80);
		/* Nothing written past the varint. */
		assert_int_equal(b[n], 0xee);
	}
}

static void
test_wire_varint_round_trip(void **state)
{
	uint8_t		b[WIRE_VARINT_MAX];
	uint64_t	v, got;
	size_t		i, n;
	int		shift;

	(void)state;
	for (i = 0; i < NBOUNDARIES; i++) {
		n = wire_varint_put(b, boundaries[i].v);
		got = 12345;
		assert_int_equal(wire_varint_get(b, n, &got), n);
		assert_int_equal(got, boundaries[i].v);
	}
	for (shift = 0; shift < 64; shift++) {
		v = (1ULL << shift) | (0x5555555555555555ULL >> (63 - shift));
		n = wire_varint_put(b, v);
		assert_int_equal(wire_varint_get(b, sizeof b, &got), n);
		assert_int_equal(got, v);
	}
}

static void
test_wire_varint_get_uint64_max(void **state)
{
	const uint8_t	b[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			    0xff, 0x01 };
	uint64_t	v = 0;

	(void)state;
	assert_int_equal(wire_varint_get(b, sizeof b, &v), 10);
	assert_true(v == UINT64_MAX);
}

static void
test_wire_varint_get_truncated(void **state)
{
	uint8_t		b[WIRE_VARINT_MAX];
	uint64_t	v;
	size_t		i, len, n;

	(void)state;
	memset(b, 0x80, sizeof b);
	v = 77;
	assert_int_equal(wire_varint_get(b, 0, &v), 0);
	assert_int_equal(v, 77);
	for (i = 0; i < NBOUNDARIES; i++) {
		n = wire_varint_put(b, boundaries[i].v);
		for (len = 0; len < n; len++) {
			v = 77;
			assert_int_equal(wire_varint_get(b, len, &v), 0);
			assert_int_equal(v, 77);
		}
	}
}

static void
test_wire_varint_get_too_long(void **state)
{
	uint8_t		b[16];
	uint64_t	v = 77;

	(void)state;
	/* Ten bytes, all with the continuation bit, then a last byte. */
	memset(b, 0x80, sizeof b);
	b[10] = 0x01;
	assert_int_equal(wire_varint_get(b, 11, &v), 0);
	assert_int_equal(wire_varint_get(b, sizeof b, &v), 0);
	assert_int_equal(v, 77);
}

static void
test_wire_varint_get_stops_at_end(void **state)
{
	const uint8_t	b[] = { 0xac, 0x02, 0x05, 0xff };
	uint64_t	v = 0;

	(void)state;
	assert_int_equal(wire_varint_get(b, sizeof b, &v), 2);
	assert_int_equal(v, 300);
	assert_int_equal(wire_varint_get(b + 2, 2, &v), 1);
	assert_int_equal(v, 5);
}

static void
test_wire_field_put(void **state)
{
	uint8_t	b[32];
	size_t	n;

	(void)state;
	n = wire_varint_field_put(b, 1, 150);
	assert_int_equal(n, 3);
	assert_memory_equal(b, "\x08\x96\x01", 3);
	assert_int_equal(wire_varint_field_size(1, 150), 3);

	n = wire_varint_field_put(b, 7, 0);
	assert_int_equal(n, 2);
	assert_memory_equal(b, "\x38\x00", 2);

	n = wire_len_field_put(b, 2, 3);
	assert_int_equal(n, 2);
	assert_memory_equal(b, "\x12\x03", 2);
	assert_int_equal(wire_len_field_size(2, 3), 2 + 3);

	/* Field 16 needs a two-byte tag. */
	n = wire_len_field_put(b, 16, 200);
	assert_int_equal(n, 4);
	assert_memory_equal(b, "\x82\x01\xc8\x01", 4);
	assert_int_equal(wire_len_field_size(16, 200), 4 + 200);

	n = wire_varint_field_put(b, 1, UINT64_MAX);
	assert_int_equal(n, 11);
	assert_int_equal(wire_varint_field_size(1, UINT64_MAX), 11);
}

static void
test_wire_field_size_agree(void **state)
{
	static const uint32_t	fields[] = { 1, 2, 15, 16, 2047, 2048,
				    (1U << 29) - 1 };
	uint8_t			b[32];
	size_t			i, j, n;

	(void)state;
	for (i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		for (j = 0; j < NBOUNDARIES; j++) {
			n = wire_varint_field_put(b, fields[i],
			    boundaries[j].v);
			assert_int_equal(n, wire_varint_field_size(fields[i],
			    boundaries[j].v));
		}
		n = wire_len_field_put(b, fields[i], 100000);
		assert_int_equal(n + 100000,
		    wire_len_field_size(fields[i], 100000));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wire_varint_size),
		cmocka_unit_test(test_wire_varint_put_known),
		cmocka_unit_test(test_wire_varint_put_size_agree),
		cmocka_unit_test(test_wire_varint_round_trip),
		cmocka_unit_test(test_wire_varint_get_uint64_max),
		cmocka_unit_test(test_wire_varint_get_truncated),
		cmocka_unit_test(test_wire_varint_get_too_long),
		cmocka_unit_test(test_wire_varint_get_stops_at_end),
		cmocka_unit_test(test_wire_field_put),
		cmocka_unit_test(test_wire_field_size_agree),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
