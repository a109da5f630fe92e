/*
 * Retention and compression against a real tupelod: count, age and
 * ack-based limits, limits changed on a live station, groups skipping
 * what retention removed, dead-letter stations' own retention, and zstd
 * payloads that consumers read back unchanged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <tupelo/tupelo.h>

#include "harness.h"

static void
produce_n(struct tp_conn *c, const char *station, size_t n, size_t len)
{
	struct tp_message	 msgs[1000];
	struct tp_err		 err;
	char			*buf;
	size_t			 i, k;

	buf = malloc(len + 1);
	assert_non_null(buf);
	/* JSON-like text, compressible like real payloads. */
	for (i = 0; i < len; i++)
		buf[i] = "{\"id\": 12345, \"status\": \"shipped\"}"[i % 35];
	memset(msgs, 0, sizeof msgs);
	for (i = 0; i < 1000; i++) {
		msgs[i].payload = buf;
		msgs[i].len = len;
	}
	for (i = 0; i < n; i += k) {
		k = n - i < 1000 ? n - i : 1000;
		if (tp_produce(c, station, msgs, k, NULL, NULL, &err) != TP_OK)
			fail_msg("produce: %s", err.message);
	}
	free(buf);
}

/* Wait (up to 15 s) until the station keeps at most max messages. */
static void
wait_messages_at_most(struct tp_conn *c, const char *station, uint64_t max,
    struct tp_station_info *info)
{
	struct tp_err	err;
	int		i;

	for (i = 0; i < 300; i++) {
		assert_int_equal(tp_station_info(c, station, info, &err),
		    TP_OK);
		if (info->messages <= max)
			return;
		usleep(50000);
	}
	fail_msg("%s still holds %llu messages, want <= %llu", station,
	    (unsigned long long)info->messages, (unsigned long long)max);
}

static void
test_retention_messages_keeps_newest(void **state)
{
	struct broker		*b = *state;
	struct tp_conn		*c = harness_connect(b, "test_retention");
	struct tp_station_opts	 opts;
	struct tp_station_info	 info;
	struct tp_group_info	 gi;
	struct tp_consumer	*cons;
	struct tp_msg		*m, **msgs;
	struct tp_err		 err;
	size_t			 n;

	memset(&opts, 0, sizeof opts);
	opts.retention_messages = 1000;
	assert_int_equal(tp_station_create(c, "cap", &opts, &err), TP_OK);
	produce_n(c, "cap", 100000, 16);
	wait_messages_at_most(c, "cap", 1000, &info);
	assert_int_equal(info.messages, 1000);
	assert_int_equal(info.first_seq, 99001);
	assert_int_equal(info.last_seq, 100000);
	assert_int_equal(info.removed, 99000);
	assert_int_equal(tp_read(c, "cap", 1, 1, &msgs, &n, &err), TP_OK);
	assert_int_equal(n, 1);
	assert_int_equal(tp_msg_seq(msgs[0]), 99001);
	tp_msg_free(msgs[0]);
	free(msgs);

	/* A group that starts below the first kept seq skips ahead. */
	assert_int_equal(tp_consumer_new(c, "cap", "late", NULL, &cons, &err),
	    TP_OK);
	assert_int_equal(tp_consume(cons, 10000, &m, &err), TP_OK);
	assert_int_equal(tp_msg_seq(m), 99001);
	tp_ack(cons, m, &err);
	tp_msg_free(m);
	assert_int_equal(tp_consumer_commit(cons, 10000, &err), TP_OK);
	assert_int_equal(tp_group_info(c, "cap", "late", &gi, &err), TP_OK);
	assert_int_equal(gi.skipped, 99000);
	tp_consumer_free(cons);

	/* Sequence numbers are never reused. */
	produce_n(c, "cap", 1, 16);
	assert_int_equal(tp_station_info(c, "cap", &info, &err), TP_OK);
	assert_int_equal(info.last_seq, 100001);
	tp_close(c);
}

static void
test_retention_age(void **state)
{
	struct broker		*b = *state;
	struct tp_conn		*c = harness_connect(b, "test_retention");
	struct tp_station_opts	 opts;
	struct tp_station_info	 info;
	struct tp_err		 err;

	memset(&opts, 0, sizeof opts);
	opts.retention_age_s = 2;
	assert_int_equal(tp_station_create(c, "aging", &opts, &err), TP_OK);
	produce_n(c, "aging", 100, 16);
	assert_int_equal(tp_station_info(c, "aging", &info, &err), TP_OK);
	assert_int_equal(info.messages, 100);
	sleep(2);
	produce_n(c, "aging", 10, 16);
	/* Only what is older than ~2 s goes. */
	wait_messages_at_most(c, "aging", 10, &info);
	assert_int_equal(info.first_seq, 101);
	wait_messages_at_most(c, "aging", 0, &info);
	assert_int_equal(info.last_seq, 110);
	tp_close(c);
}

static void
ack_all(struct tp_conn *c, const char *station, const char *group,
    size_t n)
{
	struct tp_consumer	*cons;
	struct tp_msg		*m;
	struct tp_err		 err;
	size_t			 i;

	assert_int_equal(tp_consumer_new(c, station, group, NULL, &cons,
	    &err), TP_OK);
	for (i = 0; i < n; i++) {
		assert_int_equal(tp_consume(cons, 10000, &m, &err), TP_OK);
		tp_ack(cons, m, &err);
		tp_msg_free(m);
	}
	assert_int_equal(tp_consumer_commit(cons, 10000, &err), TP_OK);
	tp_consumer_free(cons);
}

static void
test_retention_ack_based(void **state)
{
	struct broker		*b = *state;
	struct tp_conn		*c = harness_connect(b, "test_retention");
	struct tp_station_opts	 opts;
	struct tp_station_info	 info;
	struct tp_err		 err;

	memset(&opts, 0, sizeof opts);
	opts.retention_ack = 1;
	assert_int_equal(tp_station_create(c, "acked", &opts, &err), TP_OK);
	/* No group yet: messages stay. */
	produce_n(c, "acked", 20, 16);
	sleep(2);
	assert_int_equal(tp_station_info(c, "acked", &info, &err), TP_OK);
	assert_int_equal(info.messages, 20);
	assert_int_equal(tp_group_create(c, "acked", "a", NULL, &err), TP_OK);
	assert_int_equal(tp_group_create(c, "acked", "b", NULL, &err), TP_OK);
	ack_all(c, "acked", "a", 20);
	/* Acked by one group of two: still there. */
	sleep(2);
	assert_int_equal(tp_station_info(c, "acked", &info, &err), TP_OK);
	assert_int_equal(info.messages, 20);
	ack_all(c, "acked", "b", 10);
	wait_messages_at_most(c, "acked", 10, &info);
	assert_int_equal(info.first_seq, 11);
	tp_close(c);
}

static void
test_retention_update_live(void **state)
{
	struct broker		*b = *state;
	struct tp_conn		*c = harness_connect(b, "test_retention");
	struct tp_station_opts	 opts;
	struct tp_station_info	 info;
	struct tp_err		 err;

	assert_int_equal(tp_station_create(c, "live", NULL, &err), TP_OK);
	produce_n(c, "live", 500, 16);
	memset(&opts, 0, sizeof opts);
	opts.retention_messages = 100;
	assert_int_equal(tp_station_update(c, "live", &opts,
	    TP_SET_RETENTION_MESSAGES, &err), TP_OK);
	wait_messages_at_most(c, "live", 100, &info);
	assert_int_equal(info.opts.retention_messages, 100);
	assert_int_equal(info.first_seq, 401);
	assert_int_equal(tp_station_update(c, "nope", &opts,
	    TP_SET_RETENTION_MESSAGES, &err), TP_ENOSTATION);
	/* Settings not named stay as they were. */
	opts.retention_messages = 0;
	opts.retention_bytes = 1 << 20;
	assert_int_equal(tp_station_update(c, "live", &opts,
	    TP_SET_RETENTION_BYTES, &err), TP_OK);
	assert_int_equal(tp_station_info(c, "live", &info, &err), TP_OK);
	assert_int_equal(info.opts.retention_messages, 100);
	assert_int_equal(info.opts.retention_bytes, 1 << 20);
	/* Regression: a huge age wrapped around and emptied the station. */
	opts.retention_age_s = UINT64_MAX;
	assert_int_equal(tp_station_update(c, "live", &opts,
	    TP_SET_RETENTION_AGE, &err), TP_EINVAL);
	opts.retention_age_s = 3000000000ULL;
	assert_int_equal(tp_station_update(c, "live", &opts,
	    TP_SET_RETENTION_AGE, &err), TP_OK);
	sleep(2);
	assert_int_equal(tp_station_info(c, "live", &info, &err), TP_OK);
	assert_int_equal(info.messages, 100);
	/* Dead-letter stations keep three days by default. */
	assert_int_equal(tp_station_info(c, "live.dls", &info, &err), TP_OK);
	assert_int_equal(info.opts.retention_age_s, 3 * 24 * 3600);
	tp_close(c);
}

static void
test_retention_compression_transparent(void **state)
{
	struct broker		*b = *state;
	struct tp_conn		*c = harness_connect(b, "test_retention");
	struct tp_station_opts	 opts;
	struct tp_station_info	 info, plain;
	struct tp_msg		**msgs;
	struct tp_err		 err;
	const char		*p;
	size_t			 n, len, i;

	memset(&opts, 0, sizeof opts);
	opts.compression = TP_COMPRESSION_ZSTD;
	assert_int_equal(tp_station_create(c, "zipped", &opts, &err), TP_OK);
	assert_int_equal(tp_station_create(c, "plain", NULL, &err), TP_OK);
	produce_n(c, "zipped", 1000, 1024);
	produce_n(c, "plain", 1000, 1024);
	assert_int_equal(tp_station_info(c, "zipped", &info, &err), TP_OK);
	assert_int_equal(tp_station_info(c, "plain", &plain, &err), TP_OK);
	assert_int_equal(info.opts.compression, TP_COMPRESSION_ZSTD);
	/* Stored smaller, logically the same. */
	assert_true(info.bytes * 4 < plain.bytes);
	assert_int_equal(info.logical_bytes, plain.bytes);
	assert_int_equal(tp_read(c, "zipped", 1, 10, &msgs, &n, &err), TP_OK);
	assert_int_equal(n, 10);
	for (i = 0; i < n; i++) {
		p = tp_msg_payload(msgs[i], &len);
		assert_int_equal(len, 1024);
		assert_memory_equal(p, "{\"id\": 12345", 12);
		tp_msg_free(msgs[i]);
	}
	free(msgs);
	tp_close(c);
}

/* Small JSON-like payloads, different enough to need a dictionary. */
static void
produce_orders(struct tp_conn *c, const char *station, size_t from,
    size_t n)
{
	struct tp_message	msgs[100];
	char			bufs[100][256];
	struct tp_err		err;
	size_t			i, j;

	memset(msgs, 0, sizeof msgs);
	for (i = 0; i < n; i += 100) {
		for (j = 0; j < 100; j++) {
			snprintf(bufs[j], sizeof bufs[j], "{\"order_id\": %zu, "
			    "\"customer\": \"c-%zu\", \"status\": \"%s\", "
			    "\"items\": [{\"sku\": \"SKU-%zu\", "
			    "\"qty\": %zu}], "
			    "\"total\": %zu.%02zu, \"currency\": \"EUR\"}",
			    from + i + j, (from + i + j) * 7 % 1000,
			    (i + j) % 3 ? "shipped" : "pending",
			    (from + i + j) * 13 % 500, j % 5 + 1,
			    (from + i + j) % 300, j);
			msgs[j].payload = bufs[j];
			msgs[j].len = strlen(bufs[j]);
		}
		if (tp_produce(c, station, msgs, 100, NULL, NULL, &err) !=
		    TP_OK)
			fail_msg("produce: %s", err.message);
	}
}

static void
test_retention_compression_dictionary(void **state)
{
	struct broker		*b = *state;
	struct tp_conn		*c = harness_connect(b, "dict"), *cold;
	struct tp_station_opts	 opts;
	struct tp_station_info	 before, after;
	struct tp_msg		**msgs;
	struct tp_err		 err;
	const char		*p;
	char			 want[64];
	size_t			 n, len, i;
	int			 tries;

	memset(&opts, 0, sizeof opts);
	opts.compression = TP_COMPRESSION_ZSTD;
	assert_int_equal(tp_station_create(c, "dict", &opts, &err), TP_OK);
	/* Enough samples to train on. */
	produce_orders(c, "dict", 0, 3000);
	for (tries = 0; tries < 100; tries++) {
		if (b->external || broker_log_has(b, "dictionary trained"))
			break;
		usleep(50000);
	}
	assert_int_equal(tp_station_info(c, "dict", &before, &err), TP_OK);
	produce_orders(c, "dict", 3000, 3000);
	assert_int_equal(tp_station_info(c, "dict", &after, &err), TP_OK);
	print_message("dictionary: %llu logical bytes stored in %llu\n",
	    (unsigned long long)(after.logical_bytes - before.logical_bytes),
	    (unsigned long long)(after.bytes - before.bytes));
	/* With the dictionary, at least twice smaller than the text. */
	assert_true((after.bytes - before.bytes) * 2 <
	    after.logical_bytes - before.logical_bytes);
	/* A new connection fetches the dictionary it needs. */
	cold = harness_connect(b, "cold");
	assert_int_equal(tp_read(cold, "dict", 5990, 11, &msgs, &n, &err),
	    TP_OK);
	assert_int_equal(n, 11);
	for (i = 0; i < n; i++) {
		p = tp_msg_payload(msgs[i], &len);
		snprintf(want, sizeof want, "{\"order_id\": %zu,", 5989 + i);
		assert_memory_equal(p, want, strlen(want));
		tp_msg_free(msgs[i]);
	}
	free(msgs);
	tp_close(cold);
	tp_close(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retention_messages_keeps_newest),
		cmocka_unit_test(test_retention_age),
		cmocka_unit_test(test_retention_ack_based),
		cmocka_unit_test(test_retention_update_live),
		cmocka_unit_test(test_retention_compression_transparent),
		cmocka_unit_test(test_retention_compression_dictionary),
	};

	harness_watchdog(300);
	return (cmocka_run_group_tests(tests, harness_setup,
	    harness_teardown));
}
