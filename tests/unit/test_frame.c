/*
 * Unit tests of proto/frame: the length prefix, frame_peek() against the
 * limit (a prefix claiming a gigabyte is refused from its four bytes), and
 * the pack/unpack round trip through protobuf-c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
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

/* Pack a Produce of n messages (2 headers, an id on odd ones). */
static uint8_t *
produce_packed(size_t n, size_t *len)
{
	Tupelo__Frame	 f = TUPELO__FRAME__INIT;
	Tupelo__Produce	 p = TUPELO__PRODUCE__INIT;
	Tupelo__Message	*m, **mp;
	Tupelo__Header	*h, *hp[2];
	uint8_t		*buf;
	char		 payload[32];
	size_t		 i;

	m = calloc(n, sizeof *m);
	mp = calloc(n, sizeof *mp);
	h = calloc(2, sizeof *h);
	assert_non_null(m);
	assert_non_null(mp);
	assert_non_null(h);
	tupelo__header__init(&h[0]);
	tupelo__header__init(&h[1]);
	h[0].key = "type";
	h[0].value = "order";
	h[1].key = "region";
	h[1].value = "";
	hp[0] = &h[0];
	hp[1] = &h[1];
	for (i = 0; i < n; i++) {
		tupelo__message__init(&m[i]);
		m[i].n_headers = 2;
		m[i].headers = hp;
		if (i % 2 == 1)
			m[i].msg_id = "id-odd";
		snprintf(payload, sizeof payload, "payload %zu", i);
		m[i].payload.data = (uint8_t *)strdup(payload);
		m[i].payload.len = strlen(payload);
		mp[i] = &m[i];
	}
	p.station = "orders";
	p.n_messages = n;
	p.messages = mp;
	f.id = 77;
	f.body_case = TUPELO__FRAME__BODY_PRODUCE;
	f.produce = &p;
	*len = tupelo__frame__get_packed_size(&f);
	buf = malloc(*len);
	assert_non_null(buf);
	tupelo__frame__pack(&f, buf);
	for (i = 0; i < n; i++)
		free(m[i].payload.data);
	free(m);
	free(mp);
	free(h);
	return (buf);
}

/* A Produce decoded by hand equals protobuf-c's decoding of it. */
static void
test_frame_arena_produce(void **state)
{
	struct frame_arena	*a;
	Tupelo__Frame		*f, *ref;
	struct tp_err		 err;
	uint8_t			*buf;
	size_t			 len, i, j;
	int			 round;

	(void)state;
	assert_int_equal(frame_arena_new(&a), TP_OK);
	/* 3000 messages need more than the arena's first chunk. */
	buf = produce_packed(3000, &len);
	for (round = 0; round < 3; round++) {
		assert_int_equal(frame_unpack_arena(a, buf, len, &f, &err),
		    TP_OK);
		assert_int_equal(frame_unpack(buf, len, &ref, &err), TP_OK);
		assert_int_equal(f->id, 77);
		assert_int_equal(f->body_case, TUPELO__FRAME__BODY_PRODUCE);
		assert_string_equal(f->produce->station, "orders");
		assert_int_equal(f->produce->n_messages, 3000);
		for (i = 0; i < 3000; i++) {
			Tupelo__Message	*m = f->produce->messages[i];
			Tupelo__Message	*r = ref->produce->messages[i];

			assert_string_equal(m->msg_id, r->msg_id);
			assert_int_equal(m->payload.len, r->payload.len);
			assert_memory_equal(m->payload.data, r->payload.data,
			    r->payload.len);
			/* Not copied: it points into the frame. */
			assert_true(m->payload.data >= buf &&
			    m->payload.data < buf + len);
			assert_int_equal(m->n_headers, r->n_headers);
			for (j = 0; j < r->n_headers; j++) {
				assert_string_equal(m->headers[j]->key,
				    r->headers[j]->key);
				assert_string_equal(m->headers[j]->value,
				    r->headers[j]->value);
			}
		}
		frame_free(ref);
		frame_arena_reset(a);
	}
	free(buf);
	frame_arena_free(a);
}

/* Other frames, and Produce frames with unknown fields, go through
 * protobuf-c; garbage is refused. */
static void
test_frame_arena_other(void **state)
{
	struct frame_arena	*a;
	Tupelo__Frame		 f = TUPELO__FRAME__INIT, *g;
	Tupelo__StationGet	 sg = TUPELO__STATION_GET__INIT;
	struct tp_err		 err;
	uint8_t			 buf[256], *p;
	size_t			 len;

	(void)state;
	assert_int_equal(frame_arena_new(&a), TP_OK);
	sg.name = "orders";
	f.id = 5;
	f.body_case = TUPELO__FRAME__BODY_STATION_GET;
	f.station_get = &sg;
	len = tupelo__frame__pack(&f, buf);
	assert_int_equal(frame_unpack_arena(a, buf, len, &g, &err), TP_OK);
	assert_int_equal(g->body_case, TUPELO__FRAME__BODY_STATION_GET);
	assert_string_equal(g->station_get->name, "orders");
	frame_arena_reset(a);

	/* A Produce frame with an unknown field 9 after it. */
	p = produce_packed(1, &len);
	memcpy(buf, p, len);
	free(p);
	buf[len++] = 9 << 3;
	buf[len++] = 1;
	assert_int_equal(frame_unpack_arena(a, buf, len, &g, &err), TP_OK);
	assert_int_equal(g->produce->n_messages, 1);
	assert_string_equal(g->produce->station, "orders");
	/* protobuf-c copied the payload: the field sent it that way. */
	assert_false(g->produce->messages[0]->payload.data >= buf &&
	    g->produce->messages[0]->payload.data < buf + len);
	frame_arena_reset(a);

	memcpy(buf, "\x0a\xff\xff\xff", 4);
	assert_int_equal(frame_unpack_arena(a, buf, 4, &g, &err), TP_EPROTO);
	frame_arena_reset(a);
	frame_arena_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_len_big_endian),
		cmocka_unit_test(test_frame_arena_produce),
		cmocka_unit_test(test_frame_arena_other),
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
