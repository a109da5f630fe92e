/*
 * Unit tests of broker/tevent: records made by storage/record are decoded
 * in place, the documents a function receives are parsed back with
 * jansson, and the filters and the batchItemFailures answer are checked
 * operator by operator.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "broker/tevent.h"
#include "proto/error.h"
#include "proto/wire.h"
#include "storage/record.h"

#define TIME_NS		1795764600123456789LL	/* 2026-11-27T07:30:00.123Z */
#define TIME_TEXT	"2026-11-27T07:30:00.123Z"
#define TIME_MS		"1795764600123"
#define REC_HEADERS	8
#define REC_SLACK	64	/* room to append fields */

/* A stored record and its decoded view. */
struct rec {
	uint8_t			*buf;		/* owned: stored bytes */
	size_t			 len;
	struct tevent_msg	 m;		/* borrows buf */
	struct tevent_header	 h[REC_HEADERS];
};

static const struct tevent_ctx ctx = { "orders", "notify", 3 };

/* Store a message (headers: key, value pairs, NULL-ended) and decode it. */
static void
rec_make(struct rec *r, const char *const *kv, const char *msg_id,
    const void *payload, size_t plen)
{
	Tupelo__Message	 m = TUPELO__MESSAGE__INIT;
	Tupelo__Header	 h[REC_HEADERS], *hp[REC_HEADERS];
	size_t		 n;

	for (n = 0; kv != NULL && kv[2 * n] != NULL; n++) {
		assert_true(n < REC_HEADERS);
		tupelo__header__init(&h[n]);
		h[n].key = (char *)kv[2 * n];
		h[n].value = (char *)kv[2 * n + 1];
		hp[n] = &h[n];
	}
	m.n_headers = n;
	m.headers = hp;
	if (msg_id != NULL)
		m.msg_id = (char *)msg_id;
	m.payload.data = (uint8_t *)payload;
	m.payload.len = plen;
	r->len = record_size(&m, TIME_NS);
	r->buf = malloc(r->len + REC_SLACK);
	assert_non_null(r->buf);
	assert_int_equal(record_encode(&m, TIME_NS, r->buf), r->len);
	memset(&r->m, 0, sizeof r->m);
	r->m.seq = 42;
	r->m.deliveries = 2;
	assert_int_equal(tevent_decode(r->buf, r->len, &r->m, r->h,
	    REC_HEADERS), TP_OK);
}

static void
rec_free(struct rec *r)
{
	free(r->buf);
	r->buf = NULL;
}

static void
check_header(const struct tevent_header *h, const char *key,
    const char *value)
{
	assert_int_equal(h->klen, strlen(key));
	assert_memory_equal(h->key, key, h->klen);
	assert_int_equal(h->vlen, strlen(value));
	if (h->vlen != 0)
		assert_memory_equal(h->value, value, h->vlen);
}

static const char *
jstr(const json_t *o, const char *key)
{
	const char	*s;

	s = json_string_value(json_object_get(o, key));
	assert_non_null(s);
	return (s);
}

static const char *const sample_kv[] = {
	"content-type", "text/plain", "trace", "abc", "empty", "", NULL
};

static void
test_tevent_decode(void **state)
{
	struct rec	r;

	(void)state;
	rec_make(&r, sample_kv, "m-1", "hello", 5);
	assert_true(r.m.seq == 42);
	assert_int_equal(r.m.deliveries, 2);
	assert_true(r.m.time_ns == TIME_NS);
	assert_int_equal(r.m.nheaders, 3);
	assert_ptr_equal(r.m.headers, r.h);
	check_header(&r.h[0], "content-type", "text/plain");
	check_header(&r.h[1], "trace", "abc");
	check_header(&r.h[2], "empty", "");
	assert_int_equal(r.m.msg_id_len, 3);
	assert_memory_equal(r.m.msg_id, "m-1", 3);
	assert_true(r.m.msg_id > (const char *)r.buf &&
	    r.m.msg_id < (const char *)r.buf + r.len);
	assert_int_equal(r.m.payload_len, 5);
	assert_memory_equal(r.m.payload, "hello", 5);
	assert_true(r.m.payload > r.buf && r.m.payload < r.buf + r.len);
	assert_int_equal(r.m.codec, RECORD_CODEC_NONE);
	rec_free(&r);

	rec_make(&r, NULL, NULL, NULL, 0);
	assert_null(r.m.msg_id);
	assert_int_equal(r.m.payload_len, 0);
	assert_int_equal(r.m.nheaders, 0);
	rec_free(&r);
}

/* A dead letter appends a time: the last wins; unknown fields skip. */
static void
test_tevent_decode_last_time(void **state)
{
	struct rec	 r;
	uint8_t		*p;

	(void)state;
	rec_make(&r, sample_kv, "m-1", "hello", 5);
	p = r.buf + r.len;
	p += wire_varint_field_put(p, 2, 1000000000LL * 86400);
	*p++ = (9 << 3) | 5;		/* fixed32 */
	memset(p, 0xaa, 4);
	p += 4;
	*p++ = (10 << 3) | 1;		/* fixed64 */
	memset(p, 0xbb, 8);
	p += 8;
	p += wire_varint_field_put(p, 11, 300);
	p += wire_len_field_put(p, 12, 3);
	memcpy(p, "xyz", 3);
	p += 3;
	assert_int_equal(tevent_decode(r.buf, (size_t)(p - r.buf), &r.m, r.h,
	    REC_HEADERS), TP_OK);
	assert_true(r.m.time_ns == 1000000000LL * 86400);
	assert_int_equal(r.m.nheaders, 3);
	assert_int_equal(r.m.payload_len, 5);
	assert_memory_equal(r.m.payload, "hello", 5);
	assert_int_equal(r.m.msg_id_len, 3);
	rec_free(&r);
}

static void
test_tevent_decode_malformed(void **state)
{
	static const struct {
		const char	*bytes;
		size_t		 len;
	} bad[] = {
		{ "\x2a\x05" "a", 3 },		/* length past the end */
		{ "\x10", 1 },			/* varint missing */
		{ "\x10\xff", 2 },		/* varint cut */
		{ "\x12\x01" "a", 3 },		/* time as bytes */
		{ "\x1b", 1 },			/* group */
		{ "\x00\x00", 2 },		/* field 0 */
		{ "\x1a\x02\x0a\x05", 4 },	/* header key past its end */
		{ "\x1a\x02\x08\x01", 4 },	/* header key as a varint */
		{ "\x4d\x01\x02", 3 },		/* fixed32 cut */
	};
	struct tevent_header	h[2];
	struct tevent_msg	m;
	struct rec		r;
	size_t			i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(tevent_decode((const uint8_t *)bad[i].bytes,
		    bad[i].len, &m, h, 2), TP_EPROTO);
	}
	rec_make(&r, sample_kv, "m-1", "hello", 5);
	assert_int_equal(tevent_decode(r.buf, r.len - 1, &m, h, 2),
	    TP_EPROTO);
	rec_free(&r);
}

static void
test_tevent_decode_too_many_headers(void **state)
{
	struct tevent_header	h[2];
	struct tevent_msg	m;
	struct rec		r;

	(void)state;
	rec_make(&r, sample_kv, NULL, "x", 1);
	assert_int_equal(tevent_decode(r.buf, r.len, &m, h, 2), TP_ETOOBIG);
	assert_int_equal(tevent_decode(r.buf, r.len, &m, h, 3), TP_OK);
	rec_free(&r);
}

static void
test_tevent_records_json(void **state)
{
	static const char *const kv2[] = { "x", "a\xff" "b", NULL };
	struct tevent_msg	 msgs[2];
	struct rec		 r[2];
	json_t			*doc, *list, *rec, *a, *h;
	char			*s;
	size_t			 len;

	(void)state;
	rec_make(&r[0], sample_kv, "m-1", "hello", 5);
	rec_make(&r[1], kv2, NULL, "\xff\x00\x01", 3);
	r[1].m.seq = 43;
	msgs[0] = r[0].m;
	msgs[1] = r[1].m;
	s = tevent_records_json(&ctx, msgs, 2, &len);
	assert_non_null(s);
	assert_int_equal(len, strlen(s));
	doc = json_loads(s, 0, NULL);
	assert_non_null(doc);
	list = json_object_get(doc, "Records");
	assert_true(json_is_array(list));
	assert_int_equal(json_array_size(list), 2);

	rec = json_array_get(list, 0);
	assert_string_equal(jstr(rec, "messageId"), "42");
	assert_string_equal(jstr(rec, "sequenceNumber"), "42");
	assert_string_equal(jstr(rec, "eventSource"), "tupelo");
	assert_string_equal(jstr(rec, "eventSourceARN"),
	    "tupelo:station:orders");
	assert_string_equal(jstr(rec, "station"), "orders");
	assert_string_equal(jstr(rec, "trigger"), "notify");
	assert_string_equal(jstr(rec, "body"), "hello");
	assert_null(json_object_get(rec, "isBase64Encoded"));
	assert_string_equal(jstr(rec, "time"), TIME_TEXT);
	assert_string_equal(jstr(rec, "msgId"), "m-1");
	a = json_object_get(rec, "attributes");
	assert_string_equal(jstr(a, "ApproximateReceiveCount"), "2");
	assert_string_equal(jstr(a, "SentTimestamp"), TIME_MS);
	assert_string_equal(jstr(a, "attempt"), "3");
	assert_true(json_is_object(json_object_get(rec,
	    "messageAttributes")));
	assert_int_equal(json_object_size(json_object_get(rec,
	    "messageAttributes")), 0);
	h = json_object_get(rec, "headers");
	assert_int_equal(json_object_size(h), 3);
	assert_string_equal(jstr(h, "content-type"), "text/plain");
	assert_string_equal(jstr(h, "trace"), "abc");
	assert_string_equal(jstr(h, "empty"), "");

	rec = json_array_get(list, 1);
	assert_string_equal(jstr(rec, "messageId"), "43");
	assert_string_equal(jstr(rec, "body"), "/wAB");
	assert_true(json_is_true(json_object_get(rec, "isBase64Encoded")));
	assert_null(json_object_get(rec, "msgId"));
	/* A byte that is not UTF-8 in a header becomes U+FFFD. */
	h = json_object_get(rec, "headers");
	assert_string_equal(jstr(h, "x"), "a\xef\xbf\xbd" "b");
	json_decref(doc);
	free(s);
	rec_free(&r[0]);
	rec_free(&r[1]);
}

/* Times before the epoch round down; no messages is an empty list. */
static void
test_tevent_records_json_time(void **state)
{
	struct tevent_msg	 m;
	json_t			*doc, *rec;
	char			*s;
	size_t			 len;

	(void)state;
	s = tevent_records_json(&ctx, NULL, 0, &len);
	assert_string_equal(s, "{\"Records\":[]}");
	free(s);
	memset(&m, 0, sizeof m);
	m.seq = 1;
	m.time_ns = -1;
	s = tevent_records_json(&ctx, &m, 1, &len);
	assert_non_null(s);
	doc = json_loads(s, 0, NULL);
	rec = json_array_get(json_object_get(doc, "Records"), 0);
	assert_string_equal(jstr(rec, "time"), "1969-12-31T23:59:59.999Z");
	assert_string_equal(jstr(json_object_get(rec, "attributes"),
	    "SentTimestamp"), "-1");
	assert_string_equal(jstr(rec, "body"), "");
	json_decref(doc);
	free(s);
}

static void
test_tevent_cloudevents_batch(void **state)
{
	static const char *const kv1[] = { "X-Trace_Id", "t1", "ID", "nope",
	    "--", "dropped", "Content-Type", "text/plain", NULL };
	static const char *const kv3[] = { "content-type", "application/json",
	    NULL };
	static const char	 jsonp[] = "{\"a\":1,\"b\":[true]}";
	struct tevent_msg	 msgs[4];
	struct rec		 r[4];
	json_t			*doc, *e, *d;
	char			*s;
	size_t			 len, i;

	(void)state;
	rec_make(&r[0], NULL, NULL, jsonp, strlen(jsonp));
	rec_make(&r[1], kv1, NULL, "42", 2);
	rec_make(&r[2], NULL, NULL, "\xff\xfe", 2);
	rec_make(&r[3], kv3, NULL, "not json", 8);
	for (i = 0; i < 4; i++) {
		r[i].m.seq = 7 + i;
		msgs[i] = r[i].m;
	}
	s = tevent_cloudevents_batch(&ctx, msgs, 4, &len);
	assert_non_null(s);
	assert_int_equal(len, strlen(s));
	doc = json_loads(s, 0, NULL);
	assert_true(json_is_array(doc));
	assert_int_equal(json_array_size(doc), 4);

	/* JSON payload: the value itself. */
	e = json_array_get(doc, 0);
	assert_string_equal(jstr(e, "specversion"), "1.0");
	assert_string_equal(jstr(e, "id"), "orders/7");
	assert_string_equal(jstr(e, "source"), "tupelo://station/orders");
	assert_string_equal(jstr(e, "type"), "io.tupelo.message");
	assert_string_equal(jstr(e, "time"), TIME_TEXT);
	assert_string_equal(jstr(e, "subject"), "7");
	assert_string_equal(jstr(e, "datacontenttype"), "application/json");
	assert_int_equal(json_integer_value(json_object_get(e, "tupeloseq")),
	    7);
	assert_int_equal(json_integer_value(json_object_get(e,
	    "tupelodeliveries")), 2);
	assert_int_equal(json_integer_value(json_object_get(e,
	    "tupeloattempt")), 3);
	assert_string_equal(jstr(e, "tupelotrigger"), "notify");
	d = json_object_get(e, "data");
	assert_true(json_is_object(d));
	assert_int_equal(json_integer_value(json_object_get(d, "a")), 1);
	assert_null(json_object_get(e, "data_base64"));

	/* Text under a text content type: a string, even if it parses. */
	e = json_array_get(doc, 1);
	assert_string_equal(jstr(e, "id"), "orders/8");
	assert_string_equal(jstr(e, "datacontenttype"), "text/plain");
	assert_string_equal(jstr(e, "data"), "42");
	assert_string_equal(jstr(e, "xtraceid"), "t1");
	/* The content-type header is datacontenttype, not an extension. */
	assert_null(json_object_get(e, "contenttype"));
	assert_null(json_object_get(e, ""));
	assert_null(json_object_get(e, "X-Trace_Id"));

	/* Not UTF-8: base64. */
	e = json_array_get(doc, 2);
	assert_string_equal(jstr(e, "datacontenttype"),
	    "application/octet-stream");
	assert_string_equal(jstr(e, "data_base64"), "//4=");
	assert_null(json_object_get(e, "data"));

	/* Claimed JSON that is not: base64, the claim kept. */
	e = json_array_get(doc, 3);
	assert_string_equal(jstr(e, "datacontenttype"), "application/json");
	assert_string_equal(jstr(e, "data_base64"), "bm90IGpzb24=");
	json_decref(doc);
	free(s);

	/* Plain text without a content type. */
	r[3].m.nheaders = 0;
	s = tevent_cloudevents_batch(&ctx, &r[3].m, 1, &len);
	doc = json_loads(s, 0, NULL);
	e = json_array_get(doc, 0);
	assert_string_equal(jstr(e, "datacontenttype"),
	    "text/plain; charset=utf-8");
	assert_string_equal(jstr(e, "data"), "not json");
	json_decref(doc);
	free(s);
	for (i = 0; i < 4; i++)
		rec_free(&r[i]);
}

static int	oom_countdown;		/* jansson allocations left */

static void *
oom_malloc(size_t size)
{
	if (oom_countdown-- <= 0)
		return (NULL);
	return (malloc(size));
}

/* Every jansson allocation failing in turn: NULL back, nothing leaked. */
static void
test_tevent_out_of_memory(void **state)
{
	static const char *const kv[] = { "Content-Type", "application/json",
	    "k", "v\xff", NULL };
	struct tevent_msg	 msgs[2];
	struct rec		 r[2];
	char			*s;
	size_t			 len;
	int			 i, done = 0;

	(void)state;
	rec_make(&r[0], kv, "m-1", "{\"a\": [1, {}]}", 14);
	rec_make(&r[1], NULL, NULL, "\xff", 1);
	msgs[0] = r[0].m;
	msgs[1] = r[1].m;
	for (i = 0; !done; i++) {
		oom_countdown = i;
		json_set_alloc_funcs(oom_malloc, free);
		s = tevent_records_json(&ctx, msgs, 2, &len);
		done = s != NULL;
		free(s);
		oom_countdown = i;
		s = tevent_cloudevents_batch(&ctx, msgs, 2, &len);
		done = done && s != NULL;
		free(s);
		json_set_alloc_funcs(malloc, free);
		assert_true(i < 10000);
	}
	rec_free(&r[0]);
	rec_free(&r[1]);
}

static size_t
lines_count(char **lines)
{
	size_t	n;

	for (n = 0; lines[n] != NULL; n++)
		;
	return (n);
}

static int
lines_have(char **lines, const char *line)
{
	size_t	i;

	for (i = 0; lines[i] != NULL; i++) {
		if (strcmp(lines[i], line) == 0)
			return (1);
	}
	return (0);
}

static void
test_tevent_binary_headers(void **state)
{
	static const char *const kv[] = { "Note", "a b\nc \xc3\xa9",
	    "pct", "50% \"x\"", "Content-Type", "application/json", NULL };
	static const char *const want[] = {
		"ce-specversion: 1.0",
		"ce-id: orders/42",
		"ce-source: tupelo://station/orders",
		"ce-type: io.tupelo.message",
		"ce-time: " TIME_TEXT,
		"ce-subject: 42",
		"ce-tupeloseq: 42",
		"ce-tupelodeliveries: 2",
		"ce-tupeloattempt: 3",
		"ce-tupelotrigger: notify",
		"ce-note: a%20b%0Ac%20%C3%A9",
		"ce-pct: 50%25%20%22x%22",
		"Content-Type: application/json",
	};
	static const char *const kv2[] = { "content-type",
	    "text/plain\r\nX-Evil: 1", NULL };
	struct rec	 r;
	char		**lines;
	size_t		 i;

	(void)state;
	rec_make(&r, kv, NULL, "{}", 2);
	lines = tevent_binary_headers(&ctx, &r.m);
	assert_non_null(lines);
	for (i = 0; i < sizeof want / sizeof want[0]; i++) {
		if (!lines_have(lines, want[i]))
			fail_msg("no line \"%s\"", want[i]);
	}
	assert_int_equal(lines_count(lines), sizeof want / sizeof want[0]);
	tevent_lines_free(lines);
	rec_free(&r);

	/* No usable content type: octet-stream, and no header injection. */
	rec_make(&r, kv2, NULL, "x", 1);
	lines = tevent_binary_headers(&ctx, &r.m);
	assert_non_null(lines);
	assert_true(lines_have(lines,
	    "Content-Type: application/octet-stream"));
	assert_false(lines_have(lines,
	    "ce-contenttype: text/plain%0D%0AX-Evil:%201"));
	for (i = 0; lines[i] != NULL; i++)
		assert_null(strstr(lines[i], "X-Evil: 1"));
	tevent_lines_free(lines);
	r.m.nheaders = 0;
	lines = tevent_binary_headers(&ctx, &r.m);
	assert_true(lines_have(lines,
	    "Content-Type: application/octet-stream"));
	assert_int_equal(lines_count(lines), 11);
	tevent_lines_free(lines);
	rec_free(&r);
	tevent_lines_free(NULL);
}

static void
check_no_failures(const char *out)
{
	uint64_t	*seqs = (uint64_t *)1;
	size_t		 n = 99;

	assert_int_equal(tevent_item_failures(out, strlen(out), &seqs, &n),
	    TP_OK);
	assert_int_equal(n, 0);
	assert_null(seqs);
}

static void
test_tevent_item_failures_none(void **state)
{
	(void)state;
	check_no_failures("");
	check_no_failures(" \n\t\r\n");
	check_no_failures("null");
	check_no_failures("{}");
	check_no_failures("  {\"batchItemFailures\": []}\n");
	check_no_failures("{\"batchItemFailures\": null}");
	check_no_failures("[1, 2]");
	check_no_failures("{\"other\": 1}");
	/* A function that prints text reports no item failures. */
	check_no_failures("hello");
}

static void
test_tevent_item_failures_two(void **state)
{
	static const char	 out[] = "\n {\"batchItemFailures\": ["
	    "{\"itemIdentifier\": \"12\"}, {\"itemIdentifier\": 13, "
	    "\"extra\": true}]}\r\n";
	uint64_t		*seqs;
	size_t			 n;

	(void)state;
	assert_int_equal(tevent_item_failures(out, strlen(out), &seqs, &n),
	    TP_OK);
	assert_int_equal(n, 2);
	assert_int_equal(seqs[0], 12);
	assert_int_equal(seqs[1], 13);
	free(seqs);
}

static void
test_tevent_item_failures_malformed(void **state)
{
	static const char *const bad[] = {
		"{\"batchItemFailures\": {}}",
		"{\"batchItemFailures\": \"12\"}",
		"{\"batchItemFailures\": 1}",
		"{\"batchItemFailures\": [12]}",
		"{\"batchItemFailures\": [{}]}",
		"{\"batchItemFailures\": [{\"itemIdentifier\": \"1a\"}]}",
		"{\"batchItemFailures\": [{\"itemIdentifier\": \"\"}]}",
		"{\"batchItemFailures\": [{\"itemIdentifier\": \" 1\"}]}",
		"{\"batchItemFailures\": [{\"itemIdentifier\": -1}]}",
		"{\"batchItemFailures\": [{\"itemIdentifier\": 1.5}]}",
		"{\"batchItemFailures\": [{\"itemIdentifier\": null}]}",
		"{\"batchItemFailures\": [{\"itemIdentifier\": "
		    "\"18446744073709551616\"}]}",
		"{\"batchItemFailures\": [{\"itemIdentifier\": \"1\"}, "
		    "{\"id\": \"2\"}]}",
	};
	uint64_t	*seqs;
	size_t		 i, n;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		seqs = (uint64_t *)1;
		n = 99;
		if (tevent_item_failures(bad[i], strlen(bad[i]), &seqs, &n) !=
		    TP_EPROTO)
			fail_msg("not TP_EPROTO: %s", bad[i]);
		assert_null(seqs);
		assert_int_equal(n, 0);
	}
}

/* Does m pass all filters of exprs (NULL-ended)? */
static int
filters_run(const char *const *exprs, const struct tevent_msg *m)
{
	struct tevent_filter	*fs[8] = { NULL };
	struct tp_err		 err;
	size_t			 n;
	int			 ok;

	for (n = 0; exprs[n] != NULL; n++) {
		assert_true(n < 8);
		if (tevent_filter_parse(exprs[n], &fs[n], &err) != TP_OK)
			fail_msg("%s: %s", exprs[n], err.message);
	}
	ok = tevent_filter_match(fs, n, m);
	while (n > 0)
		tevent_filter_free(fs[--n]);
	return (ok);
}

static int
filter_one(const char *expr, const struct tevent_msg *m)
{
	const char	*exprs[2] = { expr, NULL };

	return (filters_run(exprs, m));
}

static void
check_filters(const struct tevent_msg *m, const char *const *pass,
    const char *const *reject)
{
	for (; *pass != NULL; pass++) {
		if (!filter_one(*pass, m))
			fail_msg("filter %s did not pass", *pass);
	}
	for (; *reject != NULL; reject++) {
		if (filter_one(*reject, m))
			fail_msg("filter %s passed", *reject);
	}
}

static void
test_tevent_filter_headers(void **state)
{
	static const char *const kv[] = { "type", "order.created",
	    "dup", "first", "empty", "", "dup", "second", NULL };
	static const char *const pass[] = { "type=order.created",
	    "type^=order.", "type^=", "type!=order.deleted", "type?",
	    "dup=second", "empty=", "empty?", "empty^=", NULL };
	static const char *const reject[] = { "type=order",
	    "type^=invoice", "type!=order.created", "Type=order.created",
	    "Type?", "dup=first", "missing?", "missing=x", "missing!=x",
	    "missing^=", "empty!=", NULL };
	struct rec	r;

	(void)state;
	rec_make(&r, kv, NULL, "{\"type\": \"x\"}", 13);
	check_filters(&r.m, pass, reject);
	rec_free(&r);
}

static void
test_tevent_filter_json(void **state)
{
	static const char	 p[] = "{\"kind\": \"a=b\", \"n\": 42, "
	    "\"r\": 1.5, \"ok\": true, \"no\": false, \"z\": null, "
	    "\"o\": {\"x\": 1}, \"arr\": [1, 2]}";
	static const char *const pass[] = { "$.kind=a=b", "$.kind^=a=",
	    "$.kind!=a", "$.n=42", "$.n^=4", "$.n!=43", "$.r=1.5",
	    "$.ok=true", "$.no=false", "$.ok!=false", "$.z=null", "$.z?",
	    "$.o={\"x\":1}", "$.arr=[1,2]", "$.kind?", NULL };
	static const char *const reject[] = { "$.kind=\"a=b\"", "$.n=42.0",
	    "$.ok=1", "$.missing?", "$.missing!=1", "$.missing=",
	    "$.KIND?", "kind?", NULL };
	static const char *const none[] = { NULL };
	static const char *const absent[] = { "$.x?", "$.x!=1", "$.x=",
	    NULL };
	struct rec		 r;

	(void)state;
	rec_make(&r, NULL, NULL, p, strlen(p));
	check_filters(&r.m, pass, reject);
	rec_free(&r);
	/* Not JSON, not an object, not UTF-8, empty: the field is absent. */
	rec_make(&r, NULL, NULL, "hello", 5);
	check_filters(&r.m, none, absent);
	rec_free(&r);
	rec_make(&r, NULL, NULL, "[{\"x\": 1}]", 10);
	check_filters(&r.m, none, absent);
	rec_free(&r);
	rec_make(&r, NULL, NULL, "{\"x\": \"\xff\"}", 10);
	check_filters(&r.m, none, absent);
	rec_free(&r);
	rec_make(&r, NULL, NULL, NULL, 0);
	check_filters(&r.m, none, absent);
	rec_free(&r);
}

static void
test_tevent_filter_and(void **state)
{
	static const char *const kv[] = { "type", "order", "region", "eu",
	    NULL };
	static const char *const all[] = { "type=order", "$.total!=0",
	    "region^=e", "$.vip=true", NULL };
	static const char *const one_off[] = { "type=order", "$.total!=0",
	    "region^=us", "$.vip=true", NULL };
	static const char *const json_off[] = { "$.vip=false", "type?",
	    NULL };
	static const char *const empty[] = { NULL };
	static const char	 p[] = "{\"total\": 12, \"vip\": true}";
	struct rec		 r;

	(void)state;
	rec_make(&r, kv, NULL, p, strlen(p));
	assert_true(filters_run(all, &r.m));
	assert_false(filters_run(one_off, &r.m));
	assert_false(filters_run(json_off, &r.m));
	assert_true(filters_run(empty, &r.m));
	assert_true(tevent_filter_match(NULL, 0, &r.m));
	rec_free(&r);
}

static void
test_tevent_filter_parse_errors(void **state)
{
	static const char *const bad[] = { "", "=x", "$.=1", "?", "$.?",
	    "name", "!=x", "^=x", NULL };
	static const char *const good[] = { "a?", "a!=", "a^=b=c", "$?",
	    "$.a?", "a?=b", NULL };
	struct tevent_filter	*f;
	struct tp_err		 err;
	size_t			 i;

	(void)state;
	for (i = 0; bad[i] != NULL; i++) {
		f = (struct tevent_filter *)1;
		memset(&err, 0, sizeof err);
		if (tevent_filter_parse(bad[i], &f, &err) != TP_EINVAL)
			fail_msg("filter \"%s\" parsed", bad[i]);
		assert_null(f);
		assert_int_equal(err.code, TP_EINVAL);
		if (strstr(err.message, bad[i]) == NULL)
			fail_msg("\"%s\" not in: %s", bad[i], err.message);
	}
	assert_int_equal(tevent_filter_parse("=x", &f, NULL), TP_EINVAL);
	for (i = 0; good[i] != NULL; i++) {
		if (tevent_filter_parse(good[i], &f, &err) != TP_OK)
			fail_msg("%s: %s", good[i], err.message);
		tevent_filter_free(f);
	}
	tevent_filter_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tevent_decode),
		cmocka_unit_test(test_tevent_decode_last_time),
		cmocka_unit_test(test_tevent_decode_malformed),
		cmocka_unit_test(test_tevent_decode_too_many_headers),
		cmocka_unit_test(test_tevent_records_json),
		cmocka_unit_test(test_tevent_records_json_time),
		cmocka_unit_test(test_tevent_cloudevents_batch),
		cmocka_unit_test(test_tevent_out_of_memory),
		cmocka_unit_test(test_tevent_binary_headers),
		cmocka_unit_test(test_tevent_item_failures_none),
		cmocka_unit_test(test_tevent_item_failures_two),
		cmocka_unit_test(test_tevent_item_failures_malformed),
		cmocka_unit_test(test_tevent_filter_headers),
		cmocka_unit_test(test_tevent_filter_json),
		cmocka_unit_test(test_tevent_filter_and),
		cmocka_unit_test(test_tevent_filter_parse_errors),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
