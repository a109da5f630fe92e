/*
 * Unit tests of proto/frame: the length prefix, frame_peek() against the
 * limit (a prefix claiming a gigabyte is refused from its four bytes), and
 * the pack/unpack round trip through protobuf-c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/error.h"
#include "proto/frame.h"

static void
test_frame_len_big_endian(void **state)
{
	uint8_t	b[4];

	(void)state;
	frame_put_len(b, 0x01020304);
	assert_int_equal(b[0], 0x01);
	assert_int_equal(b[1], 0x02);
	assert_int_equal(b[2], 0x03);
	assert_int_equal(b[3], 0x04);
	assert_int_equal(frame_get_len(b), 0x01020304);

	frame_put_len(b, 0);
	assert_int_equal(b[0] | b[1] | b[2] | b[3], 0);
	assert_int_equal(frame_get_len(b), 0);

	frame_put_len(b, UINT32_MAX);
	assert_int_equal(b[0] & b[1] & b[2] & b[3], 0xff);
	assert_int_equal(frame_get_len(b), UINT32_MAX);

	frame_put_len(b, 0x80000001U);
	assert_int_equal(b[0], 0x80);
	assert_int_equal(b[3], 0x01);
	assert_int_equal(frame_get_len(b), 0x80000001U);
}

static void
test_frame_peek_need_header(void **state)
{
	uint8_t		b[4] = { 0, 0, 0, 1 };
	uint32_t	body_len = 77;
	size_t		avail;

	(void)state;
	for (avail = 0; avail < FRAME_HEADER; avail++) {
		assert_int_equal(frame_peek(b, avail, FRAME_MAX_DEFAULT,
		    &body_len), FRAME_NEED);
	}
	assert_int_equal(body_len, 77);
}

static void
test_frame_peek_need_body(void **state)
{
	uint8_t		b[4 + 10];
	uint32_t	body_len = 0;
	size_t		avail;

	(void)state;
	memset(b, 0xab, sizeof b);
	frame_put_len(b, 10);
	for (avail = FRAME_HEADER; avail < sizeof b; avail++) {
		assert_int_equal(frame_peek(b, avail, FRAME_MAX_DEFAULT,
		    &body_len), FRAME_NEED);
		assert_int_equal(body_len, 10);
	}
}

static void
test_frame_peek_ready(void **state)
{
	uint8_t		b[4 + 10 + 3];
	uint32_t	body_len = 0;

	(void)state;
	memset(b, 0, sizeof b);
	frame_put_len(b, 10);
	assert_int_equal(frame_peek(b, 14, FRAME_MAX_DEFAULT, &body_len),
	    FRAME_READY);
	assert_int_equal(body_len, 10);

	/* Bytes of the next frame behind this one change nothing. */
	body_len = 0;
	assert_int_equal(frame_peek(b, sizeof b, FRAME_MAX_DEFAULT,
	    &body_len), FRAME_READY);
	assert_int_equal(body_len, 10);
}

static void
test_frame_peek_empty_body(void **state)
{
	uint8_t		b[4];
	uint32_t	body_len = 99;

	(void)state;
	frame_put_len(b, 0);
	assert_int_equal(frame_peek(b, sizeof b, FRAME_MAX_DEFAULT,
	    &body_len), FRAME_READY);
	assert_int_equal(body_len, 0);
}

static void
test_frame_peek_at_limit(void **state)
{
	uint8_t		b[4];
	uint32_t	body_len = 0;

	(void)state;
	frame_put_len(b, 1000);
	assert_int_equal(frame_peek(b, sizeof b, 1000, &body_len),
	    FRAME_NEED);
	assert_int_equal(body_len, 1000);
}

static void
test_frame_peek_too_big(void **state)
{
	uint8_t		b[4 + 16];
	uint32_t	body_len = 77;

	(void)state;
	memset(b, 0, sizeof b);
	frame_put_len(b, 1001);
	assert_int_equal(frame_peek(b, 4, 1000, &body_len), -TP_ETOOBIG);
	/* The verdict does not wait for the body. */
	assert_int_equal(frame_peek(b, sizeof b, 1000, &body_len),
	    -TP_ETOOBIG);
	assert_int_equal(body_len, 77);

	frame_put_len(b, 16);
	assert_int_equal(frame_peek(b, sizeof b, 15, &body_len),
	    -TP_ETOOBIG);
	assert_int_equal(frame_peek(b, sizeof b, 0, &body_len), -TP_ETOOBIG);
}

static void
test_frame_peek_gigabyte(void **state)
{
	uint8_t		b[4];
	uint32_t	body_len = 77;

	(void)state;
	frame_put_len(b, 1024U * 1024 * 1024);
	assert_int_equal(frame_peek(b, sizeof b, FRAME_MAX_DEFAULT,
	    &body_len), -TP_ETOOBIG);
	assert_int_equal(body_len, 77);

	frame_put_len(b, UINT32_MAX);
	assert_int_equal(frame_peek(b, sizeof b, FRAME_MAX_DEFAULT,
	    &body_len), -TP_ETOOBIG);
	assert_int_equal(body_len, 77);
}

static void
test_frame_pack_round_trip(void **state)
{
	Tupelo__Frame		 f = TUPELO__FRAME__INIT, *g = NULL;
	Tupelo__Produce		 p = TUPELO__PRODUCE__INIT;
	Tupelo__Message		 m[2] = { TUPELO__MESSAGE__INIT,
				     TUPELO__MESSAGE__INIT };
	Tupelo__Message		*mp[2] = { &m[0], &m[1] };
	Tupelo__Header		 h = TUPELO__HEADER__INIT, *hp = &h;
	struct tp_err		 err;
	uint8_t			*buf;
	uint32_t		 body_len = 0;
	size_t			 size;

	(void)state;
	h.key = "content-type";
	h.value = "text/plain";
	m[0].n_headers = 1;
	m[0].headers = &hp;
	m[0].msg_id = "id-1";
	m[0].payload.data = (uint8_t *)"hello";
	m[0].payload.len = 5;
	m[1].payload.data = (uint8_t *)"";
	m[1].payload.len = 0;
	p.station = "orders";
	p.n_messages = 2;
	p.messages = mp;
	f.id = 0x123456789ULL;
	f.body_case = TUPELO__FRAME__BODY_PRODUCE;
	f.produce = &p;

	size = frame_size(&f);
	assert_true(size > FRAME_HEADER);
	buf = malloc(size);
	assert_non_null(buf);
	assert_int_equal(frame_pack(&f, buf), size);
	assert_int_equal(frame_get_len(buf), size - FRAME_HEADER);
	assert_int_equal(frame_peek(buf, size, FRAME_MAX_DEFAULT, &body_len),
	    FRAME_READY);
	assert_int_equal(body_len, size - FRAME_HEADER);

	assert_int_equal(frame_unpack(buf + FRAME_HEADER, body_len, &g, &err),
	    TP_OK);
	assert_non_null(g);
	assert_int_equal(g->id, 0x123456789ULL);
	assert_int_equal(g->body_case, TUPELO__FRAME__BODY_PRODUCE);
	assert_string_equal(g->produce->station, "orders");
	assert_int_equal(g->produce->n_messages, 2);
	assert_int_equal(g->produce->messages[0]->n_headers, 1);
	assert_string_equal(g->produce->messages[0]->headers[0]->key,
	    "content-type");
	assert_string_equal(g->produce->messages[0]->headers[0]->value,
	    "text/plain");
	assert_string_equal(g->produce->messages[0]->msg_id, "id-1");
	assert_int_equal(g->produce->messages[0]->payload.len, 5);
	assert_memory_equal(g->produce->messages[0]->payload.data, "hello",
	    5);
	assert_int_equal(g->produce->messages[1]->n_headers, 0);
	assert_string_equal(g->produce->messages[1]->msg_id, "");
	assert_int_equal(g->produce->messages[1]->payload.len, 0);
	frame_free(g);
	free(buf);
}

static void
test_frame_pack_empty_body(void **state)
{
	Tupelo__Frame	 f = TUPELO__FRAME__INIT, *g = NULL;
	Tupelo__Ok	 ok = TUPELO__OK__INIT;
	uint8_t		 buf[64];
	size_t		 size;

	(void)state;
	f.id = 7;
	f.body_case = TUPELO__FRAME__BODY_OK;
	f.ok = &ok;
	size = frame_size(&f);
	assert_true(size <= sizeof buf);
	assert_int_equal(frame_pack(&f, buf), size);
	assert_int_equal(frame_unpack(buf + FRAME_HEADER, size - FRAME_HEADER,
	    &g, NULL), TP_OK);
	assert_int_equal(g->id, 7);
	assert_int_equal(g->body_case, TUPELO__FRAME__BODY_OK);
	assert_non_null(g->ok);
	frame_free(g);
}

static void
test_frame_unpack_garbage(void **state)
{
	static const struct {
		const char	*bytes;
		size_t		 len;
	} bad[] = {
		{ "\x08", 1 },			/* id without its varint */
		{ "\x08\xff", 2 },		/* id varint cut short */
		{ "\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12 },
		{ "\x1a\x05\x00", 3 },		/* ok: 5 bytes announced */
		{ "\xf2\x02\x7f", 3 },		/* produce: 127 announced */
		{ "\x0f\x00", 2 },		/* wire type 7 */
		{ "\x00\x00", 2 },		/* field number 0 */
		{ "\xff\xff\xff\xff", 4 },
	};
	Tupelo__Frame	*g;
	struct tp_err	 err;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		g = (Tupelo__Frame *)&err;
		memset(&err, 0, sizeof err);
		assert_int_equal(frame_unpack((const uint8_t *)bad[i].bytes,
		    bad[i].len, &g, &err), TP_EPROTO);
		assert_null(g);
		assert_int_equal(err.code, TP_EPROTO);
		assert_true(strlen(err.message) > 0);

		/* err may be NULL. */
		assert_int_equal(frame_unpack((const uint8_t *)bad[i].bytes,
		    bad[i].len, &g, NULL), TP_EPROTO);
		assert_null(g);
	}
}

static void
test_frame_free_null(void **state)
{
	(void)state;
	frame_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_len_big_endian),
		cmocka_unit_test(test_frame_peek_need_header),
		cmocka_unit_test(test_frame_peek_need_body),
		cmocka_unit_test(test_frame_peek_ready),
		cmocka_unit_test(test_frame_peek_empty_body),
		cmocka_unit_test(test_frame_peek_at_limit),
		cmocka_unit_test(test_frame_peek_too_big),
		cmocka_unit_test(test_frame_peek_gigabyte),
		cmocka_unit_test(test_frame_pack_round_trip),
		cmocka_unit_test(test_frame_pack_empty_body),
		cmocka_unit_test(test_frame_unpack_garbage),
		cmocka_unit_test(test_frame_free_null),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
