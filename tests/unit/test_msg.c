/*
 * Unit tests of client/msg: a struct tp_msg built from a received record
 * (its own copy of every field), the getters, zstd payloads returned
 * decompressed, and records refused with a code: corrupt zstd, a size past
 * MSG_PAYLOAD_MAX, an unknown codec.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zstd.h>

#include "client/msg.h"
#include "proto/error.h"

#define CODEC_NONE	0
#define CODEC_ZSTD	1

/* Build a message that must succeed. */
static struct tp_msg *
msg_ok(const Tupelo__Record *r)
{
	struct tp_msg	*m = NULL;
	struct tp_err	 err;
	int		 code;

	memset(&err, 0, sizeof err);
	code = msg_from_record(NULL, r, &m, &err);
	if (code != TP_OK)
		fail_msg("msg_from_record: %s (%s)", error_name(code),
		    err.message);
	assert_non_null(m);
	return (m);
}

/* Build a message that must fail with code; *out is left NULL. */
static void
msg_bad(const Tupelo__Record *r, int want)
{
	struct tp_msg	*m = (struct tp_msg *)&m;
	struct tp_err	 err;

	memset(&err, 0, sizeof err);
	assert_int_equal(msg_from_record(NULL, r, &m, &err), want);
	assert_null(m);
	assert_int_equal(err.code, want);
	assert_true(strlen(err.message) > 0);

	/* err may be NULL. */
	m = (struct tp_msg *)&m;
	assert_int_equal(msg_from_record(NULL, r, &m, NULL), want);
	assert_null(m);
}

/* Compress len bytes at p into a new buffer; *zlen gets its size. */
static uint8_t *
zstd_pack(const void *p, size_t len, size_t *zlen)
{
	uint8_t	*z;
	size_t	 bound = ZSTD_compressBound(len), n;

	z = malloc(bound);
	assert_non_null(z);
	n = ZSTD_compress(z, bound, p, len, 3);
	assert_false(ZSTD_isError(n));
	*zlen = n;
	return (z);
}

static void
test_msg_numbers(void **state)
{
	Tupelo__Record	 r = TUPELO__RECORD__INIT;
	struct tp_msg	*m;

	(void)state;
	r.seq = 0x123456789abcULL;
	r.time_ns = 1700000000123456789LL;
	r.deliveries = 3;
	m = msg_ok(&r);
	assert_int_equal(tp_msg_seq(m), 0x123456789abcULL);
	assert_int_equal(tp_msg_time_ns(m), 1700000000123456789LL);
	assert_int_equal(tp_msg_deliveries(m), 3);
	tp_msg_free(m);

	r.seq = UINT64_MAX;
	r.time_ns = -1;
	r.deliveries = UINT32_MAX;
	m = msg_ok(&r);
	assert_true(tp_msg_seq(m) == UINT64_MAX);
	assert_true(tp_msg_time_ns(m) == -1);
	assert_true(tp_msg_deliveries(m) == UINT32_MAX);
	tp_msg_free(m);
}

static void
test_msg_payload(void **state)
{
	Tupelo__Record	 r = TUPELO__RECORD__INIT;
	struct tp_msg	*m;
	const void	*p;
	size_t		 len = 0;

	(void)state;
	r.seq = 1;
	r.payload.data = (uint8_t *)"hello\0world";
	r.payload.len = 11;
	m = msg_ok(&r);
	p = tp_msg_payload(m, &len);
	assert_int_equal(len, 11);
	assert_memory_equal(p, "hello\0world", 11);
	/* len may be NULL. */
	assert_ptr_equal(tp_msg_payload(m, NULL), p);
	tp_msg_free(m);
}

static void
test_msg_empty(void **state)
{
	Tupelo__Record	 r = TUPELO__RECORD__INIT;
	struct tp_msg	*m;
	const char	*k = "k", *v = "v";
	size_t		 len = 99;

	(void)state;
	m = msg_ok(&r);
	assert_int_equal(tp_msg_seq(m), 0);
	tp_msg_payload(m, &len);
	assert_int_equal(len, 0);
	assert_string_equal(tp_msg_id(m), "");
	assert_int_equal(tp_msg_nheaders(m), 0);
	tp_msg_header_at(m, 0, &k, &v);
	assert_null(k);
	assert_null(v);
	assert_null(tp_msg_header(m, "k"));
	tp_msg_free(m);
}

static void
test_msg_id(void **state)
{
	Tupelo__Record	 r = TUPELO__RECORD__INIT;
	struct tp_msg	*m;
	char		 id[] = "order-42";

	(void)state;
	r.msg_id = id;
	m = msg_ok(&r);
	assert_string_equal(tp_msg_id(m), "order-42");
	tp_msg_free(m);

	/* Absent: protobuf-c's empty string, or NULL. */
	r.msg_id = (char *)protobuf_c_empty_string;
	m = msg_ok(&r);
	assert_non_null(tp_msg_id(m));
	assert_string_equal(tp_msg_id(m), "");
	tp_msg_free(m);

	r.msg_id = NULL;
	m = msg_ok(&r);
	assert_non_null(tp_msg_id(m));
	assert_string_equal(tp_msg_id(m), "");
	tp_msg_free(m);
}

static void
test_msg_headers(void **state)
{
	Tupelo__Record	 r = TUPELO__RECORD__INIT;
	Tupelo__Header	 h[3] = { TUPELO__HEADER__INIT, TUPELO__HEADER__INIT,
			     TUPELO__HEADER__INIT };
	Tupelo__Header	*hp[3] = { &h[0], &h[1], &h[2] };
	struct tp_msg	*m;
	const char	*k, *v;

	(void)state;
	h[0].key = "content-type";
	h[0].value = "text/plain";
	h[1].key = "trace";
	h[1].value = "";
	h[2].key = "x-n";
	h[2].value = "7";
	r.n_headers = 3;
	r.headers = hp;
	r.payload.data = (uint8_t *)"body";
	r.payload.len = 4;
	m = msg_ok(&r);
	assert_int_equal(tp_msg_nheaders(m), 3);

	tp_msg_header_at(m, 0, &k, &v);
	assert_string_equal(k, "content-type");
	assert_string_equal(v, "text/plain");
	tp_msg_header_at(m, 1, &k, &v);
	assert_string_equal(k, "trace");
	assert_string_equal(v, "");
	tp_msg_header_at(m, 2, &k, &v);
	assert_string_equal(k, "x-n");
	assert_string_equal(v, "7");

	/* Either out-parameter may be NULL. */
	k = v = NULL;
	tp_msg_header_at(m, 2, &k, NULL);
	assert_string_equal(k, "x-n");
	tp_msg_header_at(m, 2, NULL, &v);
	assert_string_equal(v, "7");
	tp_msg_header_at(m, 2, NULL, NULL);

	/* Past the end: both NULL. */
	k = v = "stale";
	tp_msg_header_at(m, 3, &k, &v);
	assert_null(k);
	assert_null(v);
	k = v = "stale";
	tp_msg_header_at(m, SIZE_MAX, &k, &v);
	assert_null(k);
	assert_null(v);
	tp_msg_free(m);
}

static void
test_msg_header_by_key(void **state)
{
	Tupelo__Record	 r = TUPELO__RECORD__INIT;
	Tupelo__Header	 h[3] = { TUPELO__HEADER__INIT, TUPELO__HEADER__INIT,
			     TUPELO__HEADER__INIT };
	Tupelo__Header	*hp[3] = { &h[0], &h[1], &h[2] };
	struct tp_msg	*m;

	(void)state;
	h[0].key = "a";
	h[0].value = "1";
	h[1].key = "b";
	h[1].value = "";
	h[2].key = "a";
	h[2].value = "3";
	r.n_headers = 3;
	r.headers = hp;
	m = msg_ok(&r);
	/* The first of repeated keys wins. */
	assert_string_equal(tp_msg_header(m, "a"), "1");
	assert_non_null(tp_msg_header(m, "b"));
	assert_string_equal(tp_msg_header(m, "b"), "");
	/* Missing keys, prefixes and longer keys are not found. */
	assert_null(tp_msg_header(m, "c"));
	assert_null(tp_msg_header(m, ""));
	assert_null(tp_msg_header(m, "aa"));
	tp_msg_free(m);
}

static void
test_msg_copies_record(void **state)
{
	Tupelo__Record	 r = TUPELO__RECORD__INIT;
	Tupelo__Header	 h = TUPELO__HEADER__INIT, *hp = &h;
	struct tp_msg	*m;
	char		 key[] = "key", value[] = "value", id[] = "id-1";
	uint8_t		 payload[] = "payload";
	const void	*p;
	size_t		 len;

	(void)state;
	h.key = key;
	h.value = value;
	r.n_headers = 1;
	r.headers = &hp;
	r.msg_id = id;
	r.payload.data = payload;
	r.payload.len = 7;
	m = msg_ok(&r);

	/* The record's buffers may go away once the message is built. */
	memset(key, 'X', sizeof key - 1);
	memset(value, 'X', sizeof value - 1);
	memset(id, 'X', sizeof id - 1);
	memset(payload, 'X', sizeof payload - 1);
	hp = NULL;

	assert_string_equal(tp_msg_header(m, "key"), "value");
	assert_string_equal(tp_msg_id(m), "id-1");
	p = tp_msg_payload(m, &len);
	assert_int_equal(len, 7);
	assert_memory_equal(p, "payload", 7);
	tp_msg_free(m);
}

static void
test_msg_zstd(void **state)
{
	Tupelo__Record	 r = TUPELO__RECORD__INIT;
	Tupelo__Header	 h = TUPELO__HEADER__INIT, *hp = &h;
	struct tp_msg	*m;
	uint8_t		*plain, *z;
	const void	*p;
	size_t		 i, zlen, len = 0, size = 100000;

	(void)state;
	plain = malloc(size);
	assert_non_null(plain);
	for (i = 0; i < size; i++)
		plain[i] = (uint8_t)(i % 251 < 200 ? 'a' + i % 7 : i);
	z = zstd_pack(plain, size, &zlen);
	assert_true(zlen < size);

	h.key = "k";
	h.value = "v";
	r.n_headers = 1;
	r.headers = &hp;
	r.msg_id = "zipped";
	r.seq = 5;
	r.codec = CODEC_ZSTD;
	r.payload.data = z;
	r.payload.len = zlen;
	m = msg_ok(&r);
	p = tp_msg_payload(m, &len);
	assert_int_equal(len, size);
	assert_memory_equal(p, plain, size);
	assert_int_equal(tp_msg_seq(m), 5);
	assert_string_equal(tp_msg_id(m), "zipped");
	assert_string_equal(tp_msg_header(m, "k"), "v");
	tp_msg_free(m);
	free(z);
	free(plain);
}

static void
test_msg_zstd_empty(void **state)
{
	Tupelo__Record	 r = TUPELO__RECORD__INIT;
	struct tp_msg	*m;
	uint8_t		*z;
	size_t		 zlen, len = 99;

	(void)state;
	z = zstd_pack("", 0, &zlen);
	r.codec = CODEC_ZSTD;
	r.payload.data = z;
	r.payload.len = zlen;
	m = msg_ok(&r);
	tp_msg_payload(m, &len);
	assert_int_equal(len, 0);
	tp_msg_free(m);
	free(z);
}

static void
test_msg_zstd_corrupt(void **state)
{
	Tupelo__Record	 r = TUPELO__RECORD__INIT;
	const char	*text = "a message that zstd will compress for us, "
			    "a message that zstd will compress for us";
	uint8_t		*z, *bad;
	size_t		 zlen, i;

	(void)state;
	r.seq = 9;
	r.codec = CODEC_ZSTD;

	/* Not zstd at all. */
	r.payload.data = (uint8_t *)"plain text, not zstd";
	r.payload.len = strlen((char *)r.payload.data);
	msg_bad(&r, TP_EPROTO);

	/* Nothing at all. */
	r.payload.data = NULL;
	r.payload.len = 0;
	msg_bad(&r, TP_EPROTO);

	z = zstd_pack(text, strlen(text), &zlen);
	bad = malloc(zlen);
	assert_non_null(bad);
	r.payload.data = bad;

	/* Cut short: the header is whole, the data is not. */
	memcpy(bad, z, zlen);
	r.payload.len = zlen - 4;
	msg_bad(&r, TP_EPROTO);
	r.payload.len = 6;
	msg_bad(&r, TP_EPROTO);

	/* A broken magic number. */
	memcpy(bad, z, zlen);
	bad[0] ^= 0xff;
	r.payload.len = zlen;
	msg_bad(&r, TP_EPROTO);

	/* Garbage after the header. */
	memcpy(bad, z, zlen);
	for (i = 6; i < zlen; i++)
		bad[i] = 0xff;
	msg_bad(&r, TP_EPROTO);

	/* Bytes after the frame. */
	r.payload.data = malloc(zlen + 3);
	assert_non_null(r.payload.data);
	memcpy(r.payload.data, z, zlen);
	memcpy(r.payload.data + zlen, "xyz", 3);
	r.payload.len = zlen + 3;
	msg_bad(&r, TP_EPROTO);
	free(r.payload.data);

	free(bad);
	free(z);
}

static void
test_msg_zstd_unknown_size(void **state)
{
	Tupelo__Record	 r = TUPELO__RECORD__INIT;
	ZSTD_CCtx	*cctx;
	ZSTD_inBuffer	 in = { "streamed without a size", 23, 0 };
	ZSTD_outBuffer	 out;
	uint8_t		 z[256];
	size_t		 left;

	(void)state;
	/* A frame that does not say how large it will be. */
	cctx = ZSTD_createCCtx();
	assert_non_null(cctx);
	assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cctx,
	    ZSTD_c_contentSizeFlag, 0)));
	out.dst = z;
	out.size = sizeof z;
	out.pos = 0;
	left = ZSTD_compressStream2(cctx, &out, &in, ZSTD_e_end);
	assert_false(ZSTD_isError(left));
	assert_int_equal(left, 0);
	ZSTD_freeCCtx(cctx);
	assert_true(ZSTD_getFrameContentSize(z, out.pos) ==
	    ZSTD_CONTENTSIZE_UNKNOWN);

	r.codec = CODEC_ZSTD;
	r.payload.data = z;
	r.payload.len = out.pos;
	msg_bad(&r, TP_EPROTO);
}

static void
test_msg_zstd_too_big(void **state)
{
	Tupelo__Record	 r = TUPELO__RECORD__INIT;
	uint8_t		 z[32];
	uint64_t	 size;
	size_t		 i;

	(void)state;
	/*
	 * A frame header alone: magic, single segment with an 8-byte content
	 * size one past the limit. Refused from the header, before any
	 * allocation of that size.
	 */
	memset(z, 0, sizeof z);
	z[0] = 0x28;
	z[1] = 0xb5;
	z[2] = 0x2f;
	z[3] = 0xfd;
	z[4] = 0xe0;
	size = (uint64_t)MSG_PAYLOAD_MAX + 1;
	for (i = 0; i < 8; i++)
		z[5 + i] = (uint8_t)(size >> (8 * i));
	assert_true(ZSTD_getFrameContentSize(z, sizeof z) == size);
	r.codec = CODEC_ZSTD;
	r.payload.data = z;
	r.payload.len = sizeof z;
	msg_bad(&r, TP_ETOOBIG);

	size = 1ULL << 62;
	for (i = 0; i < 8; i++)
		z[5 + i] = (uint8_t)(size >> (8 * i));
	msg_bad(&r, TP_ETOOBIG);
}

static void
test_msg_unknown_codec(void **state)
{
	Tupelo__Record	 r = TUPELO__RECORD__INIT;
	struct tp_msg	*m = (struct tp_msg *)&m;
	struct tp_err	 err;

	(void)state;
	r.seq = 77;
	r.payload.data = (uint8_t *)"data";
	r.payload.len = 4;
	r.codec = 2;
	msg_bad(&r, TP_EPROTO);
	r.codec = UINT32_MAX;
	msg_bad(&r, TP_EPROTO);

	/* The message names the record. */
	memset(&err, 0, sizeof err);
	r.codec = 2;
	assert_int_equal(msg_from_record(NULL, &r, &m, &err), TP_EPROTO);
	assert_non_null(strstr(err.message, "77"));
}

static void
test_msg_free_null(void **state)
{
	(void)state;
	tp_msg_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msg_numbers),
		cmocka_unit_test(test_msg_payload),
		cmocka_unit_test(test_msg_empty),
		cmocka_unit_test(test_msg_id),
		cmocka_unit_test(test_msg_headers),
		cmocka_unit_test(test_msg_header_by_key),
		cmocka_unit_test(test_msg_copies_record),
		cmocka_unit_test(test_msg_zstd),
		cmocka_unit_test(test_msg_zstd_empty),
		cmocka_unit_test(test_msg_zstd_corrupt),
		cmocka_unit_test(test_msg_zstd_unknown_size),
		cmocka_unit_test(test_msg_zstd_too_big),
		cmocka_unit_test(test_msg_unknown_codec),
		cmocka_unit_test(test_msg_free_null),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
