/*
 * libFuzzer target: a frame body as the broker's loop decodes it.
 *
 * Every input goes through frame_unpack_arena() (the hand decoder of
 * Produce, protobuf-c for the rest) and validate_request(). A Produce it
 * accepts is decoded again with plain protobuf-c, which must agree on
 * every field the broker stores, and each valid message is encoded as a
 * stored record and decoded back (record_decode, record_logical_size).
 * Sanitizers catch the memory errors; abort() marks a disagreement.
 *
 * tests/fuzz/run.sh builds and runs it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/error.h"
#include "proto/frame.h"
#include "proto/validate.h"
#include "storage/record.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz_frame: %s\n", what);
	abort();
}

static int
fuzz_str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return ((a == NULL || *a == '\0') && (b == NULL || *b == '\0'));
	return (strcmp(a, b) == 0);
}

static void
fuzz_same_message(const Tupelo__Message *a, const Tupelo__Message *b)
{
	size_t	i;

	if (a->payload.len != b->payload.len || (a->payload.len != 0 &&
	    memcmp(a->payload.data, b->payload.data, a->payload.len) != 0))
		fuzz_fail("payloads differ");
	if (!fuzz_str_eq(a->msg_id, b->msg_id))
		fuzz_fail("message ids differ");
	if (a->n_headers != b->n_headers)
		fuzz_fail("header counts differ");
	for (i = 0; i < a->n_headers; i++)
		if (!fuzz_str_eq(a->headers[i]->key, b->headers[i]->key) ||
		    !fuzz_str_eq(a->headers[i]->value, b->headers[i]->value))
			fuzz_fail("headers differ");
}

/* Encode m as the broker stores it and read it back. */
static void
fuzz_record(const Tupelo__Message *m)
{
	struct record_view	 v;
	uint8_t			*buf;
	size_t			 n, len;

	n = record_size(m, 1234567890);
	if ((buf = malloc(n)) == NULL)
		return;
	if ((len = record_encode(m, 1234567890, buf)) != n)
		fuzz_fail("record_encode wrote other than record_size");
	if (record_decode(buf, len, &v) != TP_OK)
		fuzz_fail("a stored record does not decode");
	if (v.time_ns != 1234567890 || v.payload_len != m->payload.len ||
	    (v.payload_len != 0 &&
	    memcmp(v.payload, m->payload.data, v.payload_len) != 0) ||
	    v.nheaders != m->n_headers)
		fuzz_fail("record round trip differs");
	if (record_logical_size(buf, len) != len)
		fuzz_fail("record_logical_size of an uncompressed record");
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct frame_arena	*arena;
	Tupelo__Frame			*f, *g;
	struct tp_err			 err;
	struct record_view		 v;
	size_t				 i;

	if (arena == NULL && frame_arena_new(&arena) != TP_OK)
		return (0);
	/* Whatever the bytes, record_decode must not read past them. */
	(void)record_decode(data, size, &v);
	(void)record_logical_size(data, size);

	if (frame_unpack_arena(arena, data, size, &f, &err) != TP_OK)
		return (0);
	if (validate_request(f, &err) != TP_OK ||
	    f->body_case != TUPELO__FRAME__BODY_PRODUCE) {
		frame_arena_reset(arena);
		return (0);
	}
	if ((g = tupelo__frame__unpack(NULL, size, data)) == NULL)
		fuzz_fail("protobuf-c refuses a Produce the broker accepts");
	if (g->body_case != TUPELO__FRAME__BODY_PRODUCE || g->id != f->id ||
	    !fuzz_str_eq(g->produce->station, f->produce->station) ||
	    g->produce->n_messages != f->produce->n_messages)
		fuzz_fail("the frames differ");
	for (i = 0; i < f->produce->n_messages; i++) {
		fuzz_same_message(f->produce->messages[i],
		    g->produce->messages[i]);
		fuzz_record(f->produce->messages[i]);
	}
	tupelo__frame__free_unpacked(g, NULL);
	frame_arena_reset(arena);
	return (0);
}
