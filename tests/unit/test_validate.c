/*
 * Unit tests of proto/validate: station and group names, and the checks
 * of a request frame (id, body kind, counts, sizes, names) with the code
 * each failure gets.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/error.h"
#include "proto/validate.h"

/* A string of n copies of c; freed by the caller. */
static char *
make_string(char c, size_t n)
{
	char	*s;

	s = malloc(n + 1);
	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return (s);
}

/* Check that the request is refused with code, err filled to match. */
static void
check_refused(const Tupelo__Frame *f, int code)
{
	struct tp_err	err;

	memset(&err, 0, sizeof err);
	assert_int_equal(validate_request(f, &err), code);
	assert_int_equal(err.code, code);
	assert_true(strlen(err.message) > 0);
	assert_int_equal(validate_request(f, NULL), code);
}

/* A valid produce frame of n messages, all pointing at m. */
static void
make_produce(Tupelo__Frame *f, Tupelo__Produce *p, Tupelo__Message *m,
    Tupelo__Message **mp, size_t n)
{
	size_t	i;

	tupelo__frame__init(f);
	tupelo__produce__init(p);
	tupelo__message__init(m);
	m->payload.data = (uint8_t *)"x";
	m->payload.len = 1;
	for (i = 0; i < n; i++)
		mp[i] = m;
	p->station = "orders";
	p->n_messages = n;
	p->messages = mp;
	f->id = 1;
	f->body_case = TUPELO__FRAME__BODY_PRODUCE;
	f->produce = p;
}

static void
test_validate_name_valid(void **state)
{
	static const char *const good[] = {
		"a", "0", "orders", "orders.eu-west_1", "9lives", "a.", "a-",
		"a_", "a..b", "abcdefghijklmnopqrstuvwxyz0123456789",
	};
	struct tp_err	 err;
	char		*max;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		assert_int_equal(validate_name("station", good[i], &err),
		    TP_OK);
		assert_int_equal(validate_name("group", good[i], NULL), TP_OK);
	}
	max = make_string('z', TP_NAME_MAX);
	assert_int_equal(validate_name("station", max, &err), TP_OK);
	free(max);
}

static void
test_validate_name_empty(void **state)
{
	struct tp_err	err;

	(void)state;
	memset(&err, 0, sizeof err);
	assert_int_equal(validate_name("station", "", &err), TP_EBADNAME);
	assert_int_equal(err.code, TP_EBADNAME);
	assert_non_null(strstr(err.message, "station"));
	assert_int_equal(validate_name("group", NULL, &err), TP_EBADNAME);
	assert_non_null(strstr(err.message, "group"));
	assert_int_equal(validate_name("group", "", NULL), TP_EBADNAME);
}

static void
test_validate_name_too_long(void **state)
{
	struct tp_err	 err;
	char		*s;

	(void)state;
	s = make_string('a', TP_NAME_MAX + 1);
	assert_int_equal(strlen(s), 129);
	memset(&err, 0, sizeof err);
	assert_int_equal(validate_name("station", s, &err), TP_EBADNAME);
	assert_int_equal(err.code, TP_EBADNAME);
	assert_true(strlen(err.message) > 0);
	free(s);

	s = make_string('a', 4096);
	assert_int_equal(validate_name("station", s, NULL), TP_EBADNAME);
	free(s);
}

static void
test_validate_name_uppercase(void **state)
{
	static const char *const bad[] = { "Orders", "ORDERS", "ordeRs", "A" };
	struct tp_err	err;
	size_t		i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&err, 0, sizeof err);
		assert_int_equal(validate_name("station", bad[i], &err),
		    TP_EBADNAME);
		assert_int_equal(err.code, TP_EBADNAME);
	}
}

static void
test_validate_name_leading_punctuation(void **state)
{
	static const char *const bad[] = { ".a", "_a", "-a", ".", "..", "-" };
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(validate_name("station", bad[i], NULL),
		    TP_EBADNAME);
	}
}

static void
test_validate_name_bad_chars(void **state)
{
	static const char *const bad[] = {
		"a/b", "a b", " a", "a ", "a:b", "a\tb", "a\nb", "a*", "a+b",
		"a@b", "a,b", "caf\xc3\xa9", "\xff", "a\x7f", "a\\b", "a%b",
	};
	struct tp_err	err;
	size_t		i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&err, 0, sizeof err);
		assert_int_equal(validate_name("station", bad[i], &err),
		    TP_EBADNAME);
		assert_int_equal(err.code, TP_EBADNAME);
		assert_true(strlen(err.message) > 0);
	}
}

static void
test_validate_request_valid(void **state)
{
	Tupelo__Frame		 f = TUPELO__FRAME__INIT;
	Tupelo__Hello		 hello = TUPELO__HELLO__INIT;
	Tupelo__StationList	 list = TUPELO__STATION_LIST__INIT;
	Tupelo__Unsubscribe	 unsub = TUPELO__UNSUBSCRIBE__INIT;
	Tupelo__StationConfig	 cfg = TUPELO__STATION_CONFIG__INIT;
	Tupelo__StationCreate	 create = TUPELO__STATION_CREATE__INIT;
	Tupelo__StationDelete	 del = TUPELO__STATION_DELETE__INIT;
	Tupelo__StationGet	 get = TUPELO__STATION_GET__INIT;
	Tupelo__Subscribe	 sub = TUPELO__SUBSCRIBE__INIT;
	Tupelo__Ack		 ack = TUPELO__ACK__INIT;
	Tupelo__Read		 rd = TUPELO__READ__INIT;
	Tupelo__Produce		 p;
	Tupelo__Message		 m, *mp[1];
	uint64_t		 seqs[3] = { 1, 2, 3 };

	(void)state;
	f.id = 1;
	f.body_case = TUPELO__FRAME__BODY_HELLO;
	f.hello = &hello;
	assert_int_equal(validate_request(&f, NULL), TP_OK);
	f.body_case = TUPELO__FRAME__BODY_STATION_LIST;
	f.station_list = &list;
	assert_int_equal(validate_request(&f, NULL), TP_OK);
	f.body_case = TUPELO__FRAME__BODY_UNSUBSCRIBE;
	f.unsubscribe = &unsub;
	assert_int_equal(validate_request(&f, NULL), TP_OK);

	cfg.name = "orders";
	create.config = &cfg;
	f.body_case = TUPELO__FRAME__BODY_STATION_CREATE;
	f.station_create = &create;
	assert_int_equal(validate_request(&f, NULL), TP_OK);
	del.name = "orders";
	f.body_case = TUPELO__FRAME__BODY_STATION_DELETE;
	f.station_delete = &del;
	assert_int_equal(validate_request(&f, NULL), TP_OK);
	get.name = "orders";
	f.body_case = TUPELO__FRAME__BODY_STATION_GET;
	f.station_get = &get;
	assert_int_equal(validate_request(&f, NULL), TP_OK);
	sub.station = "orders";
	sub.group = "billing";
	f.body_case = TUPELO__FRAME__BODY_SUBSCRIBE;
	f.subscribe = &sub;
	assert_int_equal(validate_request(&f, NULL), TP_OK);
	ack.n_seqs = 3;
	ack.seqs = seqs;
	f.body_case = TUPELO__FRAME__BODY_ACK;
	f.ack = &ack;
	assert_int_equal(validate_request(&f, NULL), TP_OK);
	rd.station = "orders";
	rd.max_count = VALIDATE_READ_MAX;
	f.body_case = TUPELO__FRAME__BODY_READ;
	f.read = &rd;
	assert_int_equal(validate_request(&f, NULL), TP_OK);

	make_produce(&f, &p, &m, mp, 1);
	f.id = UINT64_MAX;
	assert_int_equal(validate_request(&f, NULL), TP_OK);
}

static void
test_validate_request_id_zero(void **state)
{
	Tupelo__Frame	f = TUPELO__FRAME__INIT;
	Tupelo__Hello	hello = TUPELO__HELLO__INIT;

	(void)state;
	f.id = 0;
	f.body_case = TUPELO__FRAME__BODY_HELLO;
	f.hello = &hello;
	check_refused(&f, TP_EPROTO);
}

static void
test_validate_request_not_set(void **state)
{
	Tupelo__Frame	f = TUPELO__FRAME__INIT;

	(void)state;
	f.id = 5;
	assert_int_equal(f.body_case, TUPELO__FRAME__BODY__NOT_SET);
	check_refused(&f, TP_EUNSUPPORTED);
}

static void
test_validate_request_reply_bodies(void **state)
{
	Tupelo__Frame			f = TUPELO__FRAME__INIT;
	Tupelo__Ok			ok = TUPELO__OK__INIT;
	Tupelo__Error			error = TUPELO__ERROR__INIT;
	Tupelo__HelloOk			hello_ok = TUPELO__HELLO_OK__INIT;
	Tupelo__StationListReply	list = TUPELO__STATION_LIST_REPLY__INIT;
	Tupelo__StationInfo		info = TUPELO__STATION_INFO__INIT;
	Tupelo__ProduceAck		pack = TUPELO__PRODUCE_ACK__INIT;
	Tupelo__SubscribeOk		sub_ok = TUPELO__SUBSCRIBE_OK__INIT;
	Tupelo__Deliver			deliver = TUPELO__DELIVER__INIT;
	Tupelo__ReadReply		read_reply = TUPELO__READ_REPLY__INIT;

	(void)state;
	f.id = 9;
	f.body_case = TUPELO__FRAME__BODY_OK;
	f.ok = &ok;
	check_refused(&f, TP_EUNSUPPORTED);
	f.body_case = TUPELO__FRAME__BODY_ERROR;
	f.error = &error;
	check_refused(&f, TP_EUNSUPPORTED);
	f.body_case = TUPELO__FRAME__BODY_HELLO_OK;
	f.hello_ok = &hello_ok;
	check_refused(&f, TP_EUNSUPPORTED);
	f.body_case = TUPELO__FRAME__BODY_STATION_LIST_REPLY;
	f.station_list_reply = &list;
	check_refused(&f, TP_EUNSUPPORTED);
	f.body_case = TUPELO__FRAME__BODY_STATION_INFO;
	f.station_info = &info;
	check_refused(&f, TP_EUNSUPPORTED);
	f.body_case = TUPELO__FRAME__BODY_PRODUCE_ACK;
	f.produce_ack = &pack;
	check_refused(&f, TP_EUNSUPPORTED);
	f.body_case = TUPELO__FRAME__BODY_SUBSCRIBE_OK;
	f.subscribe_ok = &sub_ok;
	check_refused(&f, TP_EUNSUPPORTED);
	f.body_case = TUPELO__FRAME__BODY_DELIVER;
	f.deliver = &deliver;
	check_refused(&f, TP_EUNSUPPORTED);
	f.body_case = TUPELO__FRAME__BODY_READ_REPLY;
	f.read_reply = &read_reply;
	check_refused(&f, TP_EUNSUPPORTED);
}

static void
test_validate_request_produce_empty(void **state)
{
	Tupelo__Frame	f;
	Tupelo__Produce	p;
	Tupelo__Message	m, *mp[1];

	(void)state;
	make_produce(&f, &p, &m, mp, 0);
	check_refused(&f, TP_EINVAL);
}

static void
test_validate_request_produce_too_many(void **state)
{
	Tupelo__Frame	  f;
	Tupelo__Produce	  p;
	Tupelo__Message	  m, **mp;

	(void)state;
	mp = calloc(VALIDATE_BATCH_MAX + 1, sizeof *mp);
	assert_non_null(mp);
	make_produce(&f, &p, &m, mp, VALIDATE_BATCH_MAX + 1);
	assert_int_equal(p.n_messages, 10001);
	check_refused(&f, TP_EINVAL);

	p.n_messages = VALIDATE_BATCH_MAX;
	assert_int_equal(validate_request(&f, NULL), TP_OK);
	free(mp);
}

static void
test_validate_request_too_many_headers(void **state)
{
	Tupelo__Frame	 f;
	Tupelo__Produce	 p;
	Tupelo__Message	 m, *mp[1];
	Tupelo__Header	 h = TUPELO__HEADER__INIT;
	Tupelo__Header	*hp[VALIDATE_HEADERS_MAX + 1];
	size_t		 i;

	(void)state;
	h.key = "k";
	h.value = "v";
	for (i = 0; i < VALIDATE_HEADERS_MAX + 1; i++)
		hp[i] = &h;
	make_produce(&f, &p, &m, mp, 1);
	m.headers = hp;
	m.n_headers = VALIDATE_HEADERS_MAX + 1;
	check_refused(&f, TP_EINVAL);
	assert_int_equal(validate_message(&m, NULL), TP_EINVAL);

	m.n_headers = VALIDATE_HEADERS_MAX;
	assert_int_equal(validate_request(&f, NULL), TP_OK);
	assert_int_equal(validate_message(&m, NULL), TP_OK);
}

static void
test_validate_request_long_header_key(void **state)
{
	Tupelo__Frame	 f;
	Tupelo__Produce	 p;
	Tupelo__Message	 m, *mp[1];
	Tupelo__Header	 h = TUPELO__HEADER__INIT, *hp = &h;
	char		*key;

	(void)state;
	make_produce(&f, &p, &m, mp, 1);
	m.headers = &hp;
	m.n_headers = 1;
	key = make_string('k', VALIDATE_KEY_MAX + 1);
	h.key = key;
	h.value = "v";
	check_refused(&f, TP_EINVAL);
	key[VALIDATE_KEY_MAX] = '\0';
	assert_int_equal(validate_request(&f, NULL), TP_OK);
	free(key);

	/* An empty key is refused too. */
	h.key = "";
	check_refused(&f, TP_EINVAL);
}

static void
test_validate_request_long_header_value(void **state)
{
	Tupelo__Frame	 f;
	Tupelo__Produce	 p;
	Tupelo__Message	 m, *mp[1];
	Tupelo__Header	 h = TUPELO__HEADER__INIT, *hp = &h;
	char		*value;

	(void)state;
	make_produce(&f, &p, &m, mp, 1);
	m.headers = &hp;
	m.n_headers = 1;
	value = make_string('v', VALIDATE_VALUE_MAX + 1);
	h.key = "k";
	h.value = value;
	check_refused(&f, TP_EINVAL);
	value[VALIDATE_VALUE_MAX] = '\0';
	assert_int_equal(validate_request(&f, NULL), TP_OK);
	free(value);

	/* An empty value is fine. */
	h.value = "";
	assert_int_equal(validate_request(&f, NULL), TP_OK);
}

static void
test_validate_request_long_msg_id(void **state)
{
	Tupelo__Frame	 f;
	Tupelo__Produce	 p;
	Tupelo__Message	 m, *mp[1];
	char		*id;

	(void)state;
	make_produce(&f, &p, &m, mp, 1);
	id = make_string('i', VALIDATE_MSGID_MAX + 1);
	m.msg_id = id;
	check_refused(&f, TP_EINVAL);
	id[VALIDATE_MSGID_MAX] = '\0';
	assert_int_equal(validate_request(&f, NULL), TP_OK);
	free(id);
}

static void
test_validate_request_bad_message_in_batch(void **state)
{
	Tupelo__Frame	 f;
	Tupelo__Produce	 p;
	Tupelo__Message	 m, bad, *mp[3];
	char		*id;

	(void)state;
	make_produce(&f, &p, &m, mp, 3);
	tupelo__message__init(&bad);
	id = make_string('i', VALIDATE_MSGID_MAX + 1);
	bad.msg_id = id;
	mp[2] = &bad;
	check_refused(&f, TP_EINVAL);
	free(id);
}

static void
test_validate_request_produce_bad_station(void **state)
{
	Tupelo__Frame	f;
	Tupelo__Produce	p;
	Tupelo__Message	m, *mp[1];

	(void)state;
	make_produce(&f, &p, &m, mp, 1);
	p.station = "Orders";
	check_refused(&f, TP_EBADNAME);
	p.station = "";
	check_refused(&f, TP_EBADNAME);
}

static void
test_validate_request_create_bad_station(void **state)
{
	Tupelo__Frame		f = TUPELO__FRAME__INIT;
	Tupelo__StationConfig	cfg = TUPELO__STATION_CONFIG__INIT;
	Tupelo__StationCreate	create = TUPELO__STATION_CREATE__INIT;

	(void)state;
	f.id = 1;
	f.body_case = TUPELO__FRAME__BODY_STATION_CREATE;
	f.station_create = &create;
	create.config = &cfg;
	cfg.name = ".hidden";
	check_refused(&f, TP_EBADNAME);
	cfg.name = "";
	check_refused(&f, TP_EBADNAME);
}

static void
test_validate_request_create_without_config(void **state)
{
	Tupelo__Frame		f = TUPELO__FRAME__INIT;
	Tupelo__StationCreate	create = TUPELO__STATION_CREATE__INIT;

	(void)state;
	f.id = 1;
	f.body_case = TUPELO__FRAME__BODY_STATION_CREATE;
	f.station_create = &create;
	assert_null(create.config);
	check_refused(&f, TP_EINVAL);
}

static void
test_validate_request_delete_bad_station(void **state)
{
	Tupelo__Frame		f = TUPELO__FRAME__INIT;
	Tupelo__StationDelete	del = TUPELO__STATION_DELETE__INIT;

	(void)state;
	f.id = 1;
	f.body_case = TUPELO__FRAME__BODY_STATION_DELETE;
	f.station_delete = &del;
	del.name = "a/../b";
	check_refused(&f, TP_EBADNAME);
	del.name = "";
	check_refused(&f, TP_EBADNAME);
}

static void
test_validate_request_get_bad_station(void **state)
{
	Tupelo__Frame		f = TUPELO__FRAME__INIT;
	Tupelo__StationGet	get = TUPELO__STATION_GET__INIT;

	(void)state;
	f.id = 1;
	f.body_case = TUPELO__FRAME__BODY_STATION_GET;
	f.station_get = &get;
	get.name = "with space";
	check_refused(&f, TP_EBADNAME);
	get.name = "";
	check_refused(&f, TP_EBADNAME);
}

static void
test_validate_request_subscribe_bad_station(void **state)
{
	Tupelo__Frame		f = TUPELO__FRAME__INIT;
	Tupelo__Subscribe	sub = TUPELO__SUBSCRIBE__INIT;

	(void)state;
	f.id = 1;
	f.body_case = TUPELO__FRAME__BODY_SUBSCRIBE;
	f.subscribe = &sub;
	sub.station = "-orders";
	sub.group = "billing";
	check_refused(&f, TP_EBADNAME);
	sub.station = "";
	check_refused(&f, TP_EBADNAME);
}

static void
test_validate_request_subscribe_bad_group(void **state)
{
	Tupelo__Frame		 f = TUPELO__FRAME__INIT;
	Tupelo__Subscribe	 sub = TUPELO__SUBSCRIBE__INIT;
	char			*longname;

	(void)state;
	f.id = 1;
	f.body_case = TUPELO__FRAME__BODY_SUBSCRIBE;
	f.subscribe = &sub;
	sub.station = "orders";
	sub.group = "Billing";
	check_refused(&f, TP_EBADNAME);
	sub.group = "";
	check_refused(&f, TP_EBADNAME);
	longname = make_string('g', TP_NAME_MAX + 1);
	sub.group = longname;
	check_refused(&f, TP_EBADNAME);
	free(longname);
}

static void
test_validate_request_read_bad_station(void **state)
{
	Tupelo__Frame	f = TUPELO__FRAME__INIT;
	Tupelo__Read	rd = TUPELO__READ__INIT;

	(void)state;
	f.id = 1;
	f.body_case = TUPELO__FRAME__BODY_READ;
	f.read = &rd;
	rd.station = "_orders";
	check_refused(&f, TP_EBADNAME);
	rd.station = "";
	check_refused(&f, TP_EBADNAME);
}

static void
test_validate_request_read_too_many(void **state)
{
	Tupelo__Frame	f = TUPELO__FRAME__INIT;
	Tupelo__Read	rd = TUPELO__READ__INIT;

	(void)state;
	f.id = 1;
	f.body_case = TUPELO__FRAME__BODY_READ;
	f.read = &rd;
	rd.station = "orders";
	rd.max_count = VALIDATE_READ_MAX + 1;
	check_refused(&f, TP_EINVAL);
	rd.max_count = UINT32_MAX;
	check_refused(&f, TP_EINVAL);
}

static void
test_validate_request_ack_too_many(void **state)
{
	Tupelo__Frame	 f = TUPELO__FRAME__INIT;
	Tupelo__Ack	 ack = TUPELO__ACK__INIT;
	uint64_t	*seqs;

	(void)state;
	seqs = calloc(VALIDATE_BATCH_MAX + 1, sizeof *seqs);
	assert_non_null(seqs);
	f.id = 1;
	f.body_case = TUPELO__FRAME__BODY_ACK;
	f.ack = &ack;
	ack.seqs = seqs;
	ack.n_seqs = VALIDATE_BATCH_MAX + 1;
	check_refused(&f, TP_EINVAL);
	ack.n_seqs = VALIDATE_BATCH_MAX;
	assert_int_equal(validate_request(&f, NULL), TP_OK);
	free(seqs);
}

static void
test_validate_request_unread_too_many(void **state)
{
	Tupelo__Frame		 f = TUPELO__FRAME__INIT;
	Tupelo__Unsubscribe	 u = TUPELO__UNSUBSCRIBE__INIT;
	uint64_t		*seqs;

	(void)state;
	seqs = calloc(VALIDATE_BATCH_MAX + 1, sizeof *seqs);
	assert_non_null(seqs);
	f.id = 1;
	f.body_case = TUPELO__FRAME__BODY_UNSUBSCRIBE;
	f.unsubscribe = &u;
	u.unread = seqs;
	u.n_unread = VALIDATE_BATCH_MAX + 1;
	check_refused(&f, TP_EINVAL);
	u.n_unread = VALIDATE_BATCH_MAX;
	assert_int_equal(validate_request(&f, NULL), TP_OK);
	u.n_unread = 0;
	assert_int_equal(validate_request(&f, NULL), TP_OK);
	free(seqs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validate_name_valid),
		cmocka_unit_test(test_validate_name_empty),
		cmocka_unit_test(test_validate_name_too_long),
		cmocka_unit_test(test_validate_name_uppercase),
		cmocka_unit_test(test_validate_name_leading_punctuation),
		cmocka_unit_test(test_validate_name_bad_chars),
		cmocka_unit_test(test_validate_request_valid),
		cmocka_unit_test(test_validate_request_id_zero),
		cmocka_unit_test(test_validate_request_not_set),
		cmocka_unit_test(test_validate_request_reply_bodies),
		cmocka_unit_test(test_validate_request_produce_empty),
		cmocka_unit_test(test_validate_request_produce_too_many),
		cmocka_unit_test(test_validate_request_too_many_headers),
		cmocka_unit_test(test_validate_request_long_header_key),
		cmocka_unit_test(test_validate_request_long_header_value),
		cmocka_unit_test(test_validate_request_long_msg_id),
		cmocka_unit_test(test_validate_request_bad_message_in_batch),
		cmocka_unit_test(test_validate_request_produce_bad_station),
		cmocka_unit_test(test_validate_request_create_bad_station),
		cmocka_unit_test(test_validate_request_create_without_config),
		cmocka_unit_test(test_validate_request_delete_bad_station),
		cmocka_unit_test(test_validate_request_get_bad_station),
		cmocka_unit_test(test_validate_request_subscribe_bad_station),
		cmocka_unit_test(test_validate_request_subscribe_bad_group),
		cmocka_unit_test(test_validate_request_read_bad_station),
		cmocka_unit_test(test_validate_request_read_too_many),
		cmocka_unit_test(test_validate_request_ack_too_many),
		cmocka_unit_test(test_validate_request_unread_too_many),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
