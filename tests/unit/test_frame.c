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
#include "proto/validate.h"

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

/* A growing buffer of protobuf fields, for frames no encoder would make. */
struct pb {
	uint8_t	*p;
	size_t	 len, cap;
};

static void
pb_byte(struct pb *b, uint8_t c)
{
	if (b->len == b->cap) {
		b->cap = b->cap != 0 ? 2 * b->cap : 4096;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	b->p[b->len++] = c;
}

static void
pb_varint(struct pb *b, uint64_t v)
{
	for (; v >= 0x80; v >>= 7)
		pb_byte(b, (uint8_t)(v | 0x80));
	pb_byte(b, (uint8_t)v);
}

static void
pb_bytes(struct pb *b, uint32_t num, const void *data, size_t len)
{
	size_t	i;

	pb_varint(b, (uint64_t)num << 3 | 2);
	pb_varint(b, len);
	for (i = 0; i < len; i++)
		pb_byte(b, ((const uint8_t *)data)[i]);
}

/* A frame: id, then body field num holding the bytes of inner. */
static struct pb
pb_frame(uint32_t num, struct pb *inner)
{
	struct pb	f = { NULL, 0, 0 };

	pb_varint(&f, 1 << 3);
	pb_varint(&f, 9);
	pb_bytes(&f, num, inner->p, inner->len);
	free(inner->p);
	return (f);
}

/*
 * Two bytes per element ask protobuf-c for a whole struct each: a reply
 * type (which validation refuses only once it is decoded) and a Produce
 * with a field the hand decoder leaves to protobuf-c. Both are refused
 * once they pass the arena's budget instead of taking ~70 and ~36 times
 * their size.
 */
static void
test_frame_arena_bomb_refused(void **state)
{
	struct frame_arena	*a;
	Tupelo__Frame		*f;
	struct tp_err		 err;
	struct pb		 in = { NULL, 0, 0 }, fr;
	size_t			 i;

	(void)state;
	assert_int_equal(frame_arena_new(&a), TP_OK);
	for (i = 0; i < 1000000; i++)
		pb_bytes(&in, 1, NULL, 0);	/* an empty StationInfo */
	fr = pb_frame(23, &in);			/* station_list_reply */
	assert_int_equal(frame_unpack_arena(a, fr.p, fr.len, &f, &err),
	    TP_ETOOBIG);
	assert_non_null(strstr(err.message, "too large to decode"));
	free(fr.p);

	memset(&in, 0, sizeof in);
	pb_bytes(&in, 1, "orders", 6);
	for (i = 0; i < 1000000; i++)
		pb_bytes(&in, 2, NULL, 0);	/* an empty Message */
	fr = pb_frame(30, &in);
	pb_bytes(&fr, 30, NULL, 0);		/* merged: not the fast path */
	assert_int_equal(frame_unpack_arena(a, fr.p, fr.len, &f, &err),
	    TP_ETOOBIG);
	free(fr.p);
	frame_arena_free(a);
}

/*
 * The hand decoder reads tags as protobuf-c does: an unknown field whose
 * tag takes more than 5 bytes makes the frame malformed rather than
 * skipped (found by tests/fuzz: the broker took a Produce protobuf-c
 * refuses); a 5-byte one is skipped by both.
 */
static void
test_frame_arena_tags_as_protobuf_c(void **state)
{
	static const uint8_t	 tails[][8] = {
		{ 0xc0, 0xbe, 0x80, 0x80, 0x80, 0x00, 0x01 },	/* 6 bytes */
		{ 0x80, 0x80, 0x80, 0x80, 0x10, 0x01 },		/* 1 << 29 */
	};
	static const size_t	 tlen[] = { 7, 6 };
	static const int	 code[] = { TP_EPROTO, TP_OK };
	struct frame_arena	*a;
	Tupelo__Frame		*f;
	struct tp_err		 err;
	uint8_t			 buf[512], *p;
	size_t			 len, i;

	(void)state;
	assert_int_equal(frame_arena_new(&a), TP_OK);
	p = produce_packed(1, &len);
	memcpy(buf, p, len);
	free(p);
	for (i = 0; i < 2; i++) {
		memcpy(buf + len, tails[i], tlen[i]);
		assert_int_equal(frame_unpack(buf, len + tlen[i], &f, &err),
		    code[i]);
		if (code[i] == TP_OK)
			frame_free(f);
		assert_int_equal(frame_unpack_arena(a, buf, len + tlen[i],
		    &f, &err), code[i]);
		frame_arena_reset(a);
	}
	frame_arena_free(a);
}

/* More messages than a Produce may hold: refused before decoding them. */
static void
test_frame_arena_produce_too_many(void **state)
{
	struct frame_arena	*a;
	Tupelo__Frame		*f;
	struct tp_err		 err;
	uint8_t			*buf;
	size_t			 len;

	(void)state;
	assert_int_equal(frame_arena_new(&a), TP_OK);
	buf = produce_packed(VALIDATE_BATCH_MAX + 1, &len);
	assert_int_equal(frame_unpack_arena(a, buf, len, &f, &err),
	    TP_EINVAL);
	assert_non_null(strstr(err.message, "10001 messages"));
	free(buf);
	buf = produce_packed(VALIDATE_BATCH_MAX, &len);
	assert_int_equal(frame_unpack_arena(a, buf, len, &f, &err), TP_OK);
	assert_int_equal(f->produce->n_messages, VALIDATE_BATCH_MAX);
	free(buf);
	frame_arena_free(a);
}

/*
 * The budget fits the densest valid requests: a full batch of one-byte
 * payloads, a full batch of messages with the most one-byte headers;
 * with fields of a newer client's too, which the hand decoder skips.
 */
static void
test_frame_arena_budget_fits_valid(void **state)
{
	struct frame_arena	*a;
	Tupelo__Frame		*f;
	struct tp_err		 err;
	struct pb		 in, msg, hdr, fr;
	size_t			 i, j;
	int			 shape, newer;

	(void)state;
	assert_int_equal(frame_arena_new(&a), TP_OK);
	for (shape = 0; shape < 2; shape++) {
		for (newer = 0; newer < 2; newer++) {
			memset(&in, 0, sizeof in);
			pb_bytes(&in, 1, "orders", 6);
			for (i = 0; i < VALIDATE_BATCH_MAX; i++) {
				memset(&msg, 0, sizeof msg);
				for (j = 0; shape == 1 &&
				    j < VALIDATE_HEADERS_MAX; j++) {
					memset(&hdr, 0, sizeof hdr);
					pb_bytes(&hdr, 1, "k", 1);
					pb_bytes(&hdr, 2, "v", 1);
					pb_bytes(&msg, 1, hdr.p, hdr.len);
					free(hdr.p);
				}
				pb_bytes(&msg, 3, "x", shape == 0);
				if (newer)
					pb_bytes(&msg, 7, "n", 1);
				pb_bytes(&in, 2, msg.p, msg.len);
				free(msg.p);
			}
			fr = pb_frame(30, &in);
			if (newer) {
				pb_varint(&fr, 1000 << 3 | 1);	/* fixed64 */
				for (j = 0; j < 8; j++)
					pb_byte(&fr, 0xff);
				pb_bytes(&fr, 1001, "new", 3);
			}
			assert_int_equal(frame_unpack_arena(a, fr.p, fr.len,
			    &f, &err), TP_OK);
			assert_int_equal(f->produce->n_messages,
			    VALIDATE_BATCH_MAX);
			assert_int_equal(validate_request(f, &err), TP_OK);
			frame_arena_reset(a);
			free(fr.p);
		}
	}
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

	/*
	 * A Produce frame with an unknown field 9 after it: skipped by the
	 * hand decoder (the payload still points into the frame). With a
	 * second body after it, protobuf-c decides: the last body wins.
	 */
	p = produce_packed(1, &len);
	memcpy(buf, p, len);
	free(p);
	buf[len++] = 9 << 3;
	buf[len++] = 1;
	assert_int_equal(frame_unpack_arena(a, buf, len, &g, &err), TP_OK);
	assert_int_equal(g->produce->n_messages, 1);
	assert_string_equal(g->produce->station, "orders");
	assert_true(g->produce->messages[0]->payload.data >= buf &&
	    g->produce->messages[0]->payload.data < buf + len);
	frame_arena_reset(a);
	buf[len++] = 10 << 3 | 2;	/* hello, empty */
	buf[len++] = 0;
	assert_int_equal(frame_unpack_arena(a, buf, len, &g, &err), TP_OK);
	assert_int_equal(g->body_case, TUPELO__FRAME__BODY_HELLO);
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
		cmocka_unit_test(test_frame_arena_bomb_refused),
		cmocka_unit_test(test_frame_arena_produce_too_many),
		cmocka_unit_test(test_frame_arena_tags_as_protobuf_c),
		cmocka_unit_test(test_frame_arena_budget_fits_valid),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
