/*
 * The request table against the protocol's own descriptor: every member
 * of Frame's oneof is either a request in the table or a reply only the
 * broker sends, never both, so a new request cannot be added unguarded;
 * and the verbs of a few requests are what the grants will mean.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "broker/dispatch.h"
#include "proto/tupelo.pb-c.h"

static void
test_dispatch_every_body_is_request_or_reply(void **state)
{
	const ProtobufCMessageDescriptor	*d = &tupelo__frame__descriptor;
	enum dispatch_verb			 verb;
	unsigned				 i, requests = 0, replies = 0;
	int					 flags, request, reply;

	(void)state;
	for (i = 0; i < d->n_fields; i++) {
		if (!(d->fields[i].flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
			continue;
		request = dispatch_verb((int)d->fields[i].id, &verb,
		    &flags) == 0;
		reply = dispatch_is_reply((int)d->fields[i].id);
		if (request == reply)
			fail_msg("Frame.%s (%u) is %s", d->fields[i].name,
			    d->fields[i].id, request ? "both a request and "
			    "a reply" : "neither a request in the table nor "
			    "a reply");
		requests += request;
		replies += reply;
	}
	assert_true(requests >= 27);
	assert_true(replies >= 16);
	/* Nothing that is not in the protocol. */
	assert_int_equal(dispatch_verb(0, &verb, &flags), -1);
	assert_int_equal(dispatch_verb(9999, &verb, &flags), -1);
	assert_int_equal(dispatch_is_reply(0), 0);
}

static void
test_dispatch_verbs(void **state)
{
	static const struct {
		int			body;
		enum dispatch_verb	verb;
		int			writes;
	} want[] = {
		{ TUPELO__FRAME__BODY_HELLO, VERB_NONE, 0 },
		{ TUPELO__FRAME__BODY_PRODUCE, VERB_PRODUCE, 1 },
		{ TUPELO__FRAME__BODY_SUBSCRIBE, VERB_CONSUME, 0 },
		{ TUPELO__FRAME__BODY_ACK, VERB_CONSUME, 0 },
		{ TUPELO__FRAME__BODY_READ, VERB_BROWSE, 0 },
		{ TUPELO__FRAME__BODY_STATION_LIST, VERB_BROWSE, 0 },
		{ TUPELO__FRAME__BODY_STATION_DELETE, VERB_ADMIN, 1 },
		{ TUPELO__FRAME__BODY_STATION_PURGE, VERB_ADMIN, 1 },
		{ TUPELO__FRAME__BODY_DLS_REPLAY, VERB_ADMIN, 1 },
		{ TUPELO__FRAME__BODY_TRIGGER_CREATE, VERB_TRIGGER, 1 },
		{ TUPELO__FRAME__BODY_REQUEST, VERB_PRODUCE, 1 },
	};
	enum dispatch_verb	verb;
	size_t			i;
	int			flags;

	(void)state;
	for (i = 0; i < sizeof want / sizeof want[0]; i++) {
		assert_int_equal(dispatch_verb(want[i].body, &verb, &flags),
		    0);
		assert_int_equal(verb, want[i].verb);
		assert_int_equal((flags & DISPATCH_WRITES) != 0,
		    want[i].writes);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dispatch_every_body_is_request_or_reply),
		cmocka_unit_test(test_dispatch_verbs),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
