/*
 * Unit tests of storage/record: the hand-written encoder must produce what
 * protobuf-c reads as a Record with the same fields, record_decode() must
 * agree, and stored bytes with a seq (and deliveries) field put in front
 * must parse as a whole Record: that is what lets the broker send stored
 * records without encoding them again.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/error.h"
#include "proto/wire.h"
#include "storage/record.h"

#define TIME_NS	1700000000123456789LL

/* A message with its storage, so tests can vary one field at a time. */
struct sample {
	Tupelo__Message	 m;
	Tupelo__Header	 h[4];
	Tupelo__Header	*hp[4];
	uint8_t		*payload;		/* owned */
};

static void
sample_init(struct sample *s, size_t nheaders, const char *msg_id,
    size_t payload_len)
{
	static const char *const keys[] = { "content-type", "trace", "empty",
	    "k" };
	static const char *const values[] = { "application/json",
	    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "",
	    ("a value longer than one hundred and twenty-seven bytes, so its "
	    "length prefix takes two bytes in the wire format of a header") };
	size_t	i;

	memset(s, 0, sizeof *s);
	tupelo__message__init(&s->m);
	assert_true(nheaders <= 4);
	for (i = 0; i < nheaders; i++) {
		tupelo__header__init(&s->h[i]);
		s->h[i].key = (char *)keys[i];
		s->h[i].value = (char *)values[i];
		s->hp[i] = &s->h[i];
	}
	s->m.n_headers = nheaders;
	s->m.headers = nheaders != 0 ? s->hp : NULL;
	if (msg_id != NULL)
		s->m.msg_id = (char *)msg_id;
	if (payload_len != 0) {
		s->payload = malloc(payload_len);
		assert_non_null(s->payload);
		for (i = 0; i < payload_len; i++)
			s->payload[i] = (uint8_t)(i * 31 + 7);
		s->m.payload.data = s->payload;
		s->m.payload.len = payload_len;
	}
}

static void
sample_free(struct sample *s)
{
	free(s->payload);
	s->payload = NULL;
}

/* Encode into a new buffer (freed by the caller), checking the size. */
static uint8_t *
encode(const Tupelo__Message *m, int64_t time_ns, size_t *len)
{
	uint8_t	*buf;
	size_t	 size;

	size = record_size(m, time_ns);
	buf = malloc(size + 1);
	assert_non_null(buf);
	buf[size] = 0xee;
	assert_int_equal(record_encode(m, time_ns, buf), size);
	assert_int_equal(buf[size], 0xee);
	*len = size;
	return (buf);
}

/* Does r carry the fields of m stored at time_ns? */
static void
check_record(const Tupelo__Record *r, const Tupelo__Message *m,
    int64_t time_ns)
{
	const char	*want;
	size_t		 i;

	assert_true(r->time_ns == time_ns);
	assert_int_equal(r->n_headers, m->n_headers);
	for (i = 0; i < m->n_headers; i++) {
		assert_string_equal(r->headers[i]->key, m->headers[i]->key);
		want = m->headers[i]->value != NULL ? m->headers[i]->value : "";
		assert_string_equal(r->headers[i]->value, want);
	}
	assert_string_equal(r->msg_id, m->msg_id != NULL ? m->msg_id : "");
	assert_int_equal(r->payload.len, m->payload.len);
	if (m->payload.len != 0)
		assert_memory_equal(r->payload.data, m->payload.data,
		    m->payload.len);
	assert_int_equal(r->codec, RECORD_CODEC_NONE);
}

/* Encode m, unpack with protobuf-c and compare. */
static void
check_protobuf_reads(const Tupelo__Message *m, int64_t time_ns)
{
	Tupelo__Record	*r;
	uint8_t		*buf;
	size_t		 len;

	buf = encode(m, time_ns, &len);
	r = tupelo__record__unpack(NULL, len, buf);
	assert_non_null(r);
	assert_int_equal(r->seq, 0);
	assert_int_equal(r->deliveries, 0);
	check_record(r, m, time_ns);
	tupelo__record__free_unpacked(r, NULL);
	free(buf);
}

/* Encode m, decode with record_decode() and compare. */
static void
check_decode_agrees(const Tupelo__Message *m, int64_t time_ns)
{
	struct record_view	 v;
	uint8_t			*buf;
	size_t			 len, idlen;

	buf = encode(m, time_ns, &len);
	assert_int_equal(record_decode(buf, len, &v), TP_OK);
	assert_true(v.time_ns == time_ns);
	assert_int_equal(v.nheaders, m->n_headers);
	idlen = m->msg_id != NULL ? strlen(m->msg_id) : 0;
	assert_int_equal(v.msg_id_len, idlen);
	if (idlen != 0) {
		assert_true(v.msg_id >= (const char *)buf &&
		    v.msg_id + idlen <= (const char *)buf + len);
		assert_memory_equal(v.msg_id, m->msg_id, idlen);
	}
	assert_int_equal(v.payload_len, m->payload.len);
	if (m->payload.len != 0) {
		assert_true(v.payload >= buf &&
		    v.payload + v.payload_len <= buf + len);
		assert_memory_equal(v.payload, m->payload.data,
		    m->payload.len);
	}
	assert_int_equal(v.codec, RECORD_CODEC_NONE);
	free(buf);
}

static void
test_record_encode_plain(void **state)
{
	struct sample	s;

	(void)state;
	sample_init(&s, 0, NULL, 100);
	check_protobuf_reads(&s.m, TIME_NS);
	sample_free(&s);
}

static void
test_record_encode_headers(void **state)
{
	struct sample	s;
	size_t		n;

	(void)state;
	for (n = 1; n <= 4; n++) {
		sample_init(&s, n, NULL, 10);
		check_protobuf_reads(&s.m, TIME_NS);
		sample_free(&s);
	}
}

static void
test_record_encode_header_null_value(void **state)
{
	struct sample	s;

	(void)state;
	sample_init(&s, 2, NULL, 10);
	s.h[1].value = NULL;
	check_protobuf_reads(&s.m, TIME_NS);
	check_decode_agrees(&s.m, TIME_NS);
	sample_free(&s);
}

static void
test_record_encode_msg_id(void **state)
{
	struct sample	s;

	(void)state;
	sample_init(&s, 1, "order-42", 10);
	check_protobuf_reads(&s.m, TIME_NS);
	sample_free(&s);

	/* An empty id is the same as none. */
	sample_init(&s, 0, "", 10);
	check_protobuf_reads(&s.m, TIME_NS);
	sample_free(&s);
}

static void
test_record_encode_empty_payload(void **state)
{
	struct sample	s;

	(void)state;
	sample_init(&s, 1, "id", 0);
	check_protobuf_reads(&s.m, TIME_NS);
	sample_free(&s);

	/* Nothing at all, time 0: zero bytes, still a valid Record. */
	sample_init(&s, 0, NULL, 0);
	assert_int_equal(record_size(&s.m, 0), 0);
	check_protobuf_reads(&s.m, 0);
	check_decode_agrees(&s.m, 0);
	sample_free(&s);
}

static void
test_record_encode_large_payload(void **state)
{
	struct sample	s;

	(void)state;
	sample_init(&s, 2, "big", 3 * 1024 * 1024 + 17);
	check_protobuf_reads(&s.m, TIME_NS);
	check_decode_agrees(&s.m, TIME_NS);
	sample_free(&s);
}

static void
test_record_encode_time_edges(void **state)
{
	struct sample	s;

	(void)state;
	sample_init(&s, 1, "t", 3);
	check_protobuf_reads(&s.m, 1);
	check_protobuf_reads(&s.m, INT64_MAX);
	/* Before the epoch: a ten-byte varint, as protobuf writes int64. */
	check_protobuf_reads(&s.m, -1);
	check_decode_agrees(&s.m, -1);
	check_protobuf_reads(&s.m, INT64_MIN);
	sample_free(&s);
}

static void
test_record_encode_matches_protobuf(void **state)
{
	Tupelo__Record	 r = TUPELO__RECORD__INIT;
	struct sample	 s;
	uint8_t		*ours, *theirs;
	size_t		 len, size;

	(void)state;
	/* With no empty strings, protobuf-c packs the same bytes. */
	sample_init(&s, 2, "order-42", 1000);
	r.time_ns = TIME_NS;
	r.n_headers = s.m.n_headers;
	r.headers = s.m.headers;
	r.msg_id = s.m.msg_id;
	r.payload = s.m.payload;
	size = tupelo__record__get_packed_size(&r);
	ours = encode(&s.m, TIME_NS, &len);
	assert_int_equal(len, size);
	theirs = malloc(size);
	assert_non_null(theirs);
	assert_int_equal(tupelo__record__pack(&r, theirs), size);
	assert_memory_equal(ours, theirs, size);
	free(theirs);
	free(ours);
	sample_free(&s);
}

static void
test_record_decode_agrees(void **state)
{
	struct sample	s;
	size_t		n;

	(void)state;
	for (n = 0; n <= 4; n++) {
		sample_init(&s, n, n % 2 ? "id-odd" : NULL, n * 100);
		check_decode_agrees(&s.m, TIME_NS);
		sample_free(&s);
	}
}

static void
test_record_prepend_seq(void **state)
{
	Tupelo__Record	*r;
	struct sample	 s;
	uint8_t		*stored, *sent;
	size_t		 len, n;
	uint64_t	 seqs[] = { 1, 300, UINT32_MAX, UINT64_MAX };
	size_t		 i;

	(void)state;
	sample_init(&s, 3, "order-42", 500);
	stored = encode(&s.m, TIME_NS, &len);
	sent = malloc(len + 2 * (WIRE_VARINT_MAX + 1));
	assert_non_null(sent);
	for (i = 0; i < sizeof seqs / sizeof seqs[0]; i++) {
		/* Seq in front, the stored bytes as they are. */
		n = wire_varint_field_put(sent, 1, seqs[i]);
		memcpy(sent + n, stored, len);
		r = tupelo__record__unpack(NULL, n + len, sent);
		assert_non_null(r);
		assert_true(r->seq == seqs[i]);
		assert_int_equal(r->deliveries, 0);
		check_record(r, &s.m, TIME_NS);
		tupelo__record__free_unpacked(r, NULL);

		/* Deliveries (7) in front too, as a Deliver sends it. */
		n = wire_varint_field_put(sent, 1, seqs[i]);
		n += wire_varint_field_put(sent + n, 7, 3);
		memcpy(sent + n, stored, len);
		r = tupelo__record__unpack(NULL, n + len, sent);
		assert_non_null(r);
		assert_true(r->seq == seqs[i]);
		assert_int_equal(r->deliveries, 3);
		check_record(r, &s.m, TIME_NS);
		tupelo__record__free_unpacked(r, NULL);
	}
	free(sent);
	free(stored);
	sample_free(&s);
}

static void
test_record_in_deliver_frame(void **state)
{
	Tupelo__Deliver	*d;
	struct sample	 s[2];
	uint8_t		*stored[2], *buf, *p;
	size_t		 len[2], inner, i, total = 0;

	(void)state;
	sample_init(&s[0], 1, "first", 20);
	sample_init(&s[1], 0, NULL, 200);
	for (i = 0; i < 2; i++) {
		stored[i] = encode(&s[i].m, TIME_NS + (int64_t)i, &len[i]);
		total += 3 * (WIRE_VARINT_MAX + 1) + len[i];
	}
	buf = malloc(WIRE_VARINT_MAX + 1 + total);
	assert_non_null(buf);

	/* Deliver { sub = 5; records = [seq 10, seq 11] } by hand. */
	p = buf;
	p += wire_varint_field_put(p, 1, 5);
	for (i = 0; i < 2; i++) {
		inner = wire_varint_field_size(1, 10 + i) +
		    wire_varint_field_size(7, 1) + len[i];
		p += wire_len_field_put(p, 2, inner);
		p += wire_varint_field_put(p, 1, 10 + i);
		p += wire_varint_field_put(p, 7, 1);
		memcpy(p, stored[i], len[i]);
		p += len[i];
	}
	d = tupelo__deliver__unpack(NULL, (size_t)(p - buf), buf);
	assert_non_null(d);
	assert_int_equal(d->sub, 5);
	assert_int_equal(d->n_records, 2);
	for (i = 0; i < 2; i++) {
		assert_int_equal(d->records[i]->seq, 10 + i);
		assert_int_equal(d->records[i]->deliveries, 1);
		check_record(d->records[i], &s[i].m, TIME_NS + (int64_t)i);
	}
	tupelo__deliver__free_unpacked(d, NULL);
	free(buf);
	for (i = 0; i < 2; i++) {
		free(stored[i]);
		sample_free(&s[i]);
	}
}

static void
test_record_decode_with_seq(void **state)
{
	struct record_view	 v;
	struct sample		 s;
	uint8_t			*stored, *sent;
	size_t			 len, n;

	(void)state;
	sample_init(&s, 1, "x", 9);
	stored = encode(&s.m, TIME_NS, &len);
	sent = malloc(len + WIRE_VARINT_MAX + 1);
	assert_non_null(sent);
	n = wire_varint_field_put(sent, 1, 99);
	memcpy(sent + n, stored, len);
	assert_int_equal(record_decode(sent, n + len, &v), TP_OK);
	assert_true(v.time_ns == TIME_NS);
	assert_int_equal(v.payload_len, 9);
	assert_memory_equal(v.payload, s.m.payload.data, 9);
	assert_int_equal(v.msg_id_len, 1);
	assert_int_equal(v.nheaders, 1);
	free(sent);
	free(stored);
	sample_free(&s);
}

static void
test_record_decode_truncated(void **state)
{
	struct record_view	 v;
	struct sample		 s;
	uint8_t			*buf;
	size_t			 len;

	(void)state;
	sample_init(&s, 2, "order-42", 300);
	buf = encode(&s.m, TIME_NS, &len);
	/* The payload is last: any cut inside it is malformed. */
	assert_int_equal(record_decode(buf, len - 1, &v), TP_EPROTO);
	assert_int_equal(record_decode(buf, len - 300, &v), TP_EPROTO);
	/* Cut after the payload's tag, or inside its length varint. */
	assert_int_equal(record_decode(buf, len - 302, &v), TP_EPROTO);
	assert_int_equal(record_decode(buf, len - 301, &v), TP_EPROTO);
	/* Cut inside the time varint (tag + 9 bytes). */
	assert_int_equal(record_decode(buf, 1, &v), TP_EPROTO);
	assert_int_equal(record_decode(buf, 5, &v), TP_EPROTO);
	/* Cut inside the first header. */
	assert_int_equal(record_decode(buf, 12, &v), TP_EPROTO);
	free(buf);
	sample_free(&s);
}

static void
test_record_decode_garbage(void **state)
{
	static const struct {
		const char	*bytes;
		size_t		 len;
	} bad[] = {
		{ "\x2a\x05" "ab", 4 },		/* payload: 5 announced */
		{ "\x2a\xff\xff\xff\xff\x0f", 6 },	/* 4 GiB announced */
		{ "\x15\x01\x02\x03\x04", 5 },		/* fixed32 wire type */
		/* fixed64 wire type */
		{ "\x11\x01\x02\x03\x04\x05\x06\x07\x08", 9 },
		{ "\x10\x80", 2 },			/* time cut short */
		{ "\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12 },
	};
	struct record_view	v;
	size_t			i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(record_decode((const uint8_t *)bad[i].bytes,
		    bad[i].len, &v), TP_EPROTO);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_encode_plain),
		cmocka_unit_test(test_record_encode_headers),
		cmocka_unit_test(test_record_encode_header_null_value),
		cmocka_unit_test(test_record_encode_msg_id),
		cmocka_unit_test(test_record_encode_empty_payload),
		cmocka_unit_test(test_record_encode_large_payload),
		cmocka_unit_test(test_record_encode_time_edges),
		cmocka_unit_test(test_record_encode_matches_protobuf),
		cmocka_unit_test(test_record_decode_agrees),
		cmocka_unit_test(test_record_prepend_seq),
		cmocka_unit_test(test_record_in_deliver_frame),
		cmocka_unit_test(test_record_decode_with_seq),
		cmocka_unit_test(test_record_decode_truncated),
		cmocka_unit_test(test_record_decode_garbage),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
