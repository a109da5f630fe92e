/*
 * The core through libtupelo against a real tupelod: station admin,
 * produce and consume, reads, durable groups across restarts, and nothing
 * acknowledged lost when the broker is killed.
 */
#include <sys/wait.h>

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <tupelo/tupelo.h>

#include "harness.h"

/* Produce n messages "<prefix>-<i>" in batches of batch. */
static void
produce_n(struct tp_conn *c, const char *station, const char *prefix,
    size_t n, size_t batch)
{
	struct tp_message	*msgs;
	struct tp_err		 err;
	char			(*bufs)[64];
	size_t			 i, j, k;
	uint64_t		 first, last;

	msgs = calloc(batch, sizeof *msgs);
	bufs = calloc(batch, sizeof *bufs);
	assert_non_null(msgs);
	assert_non_null(bufs);
	for (i = 0; i < n; i += batch) {
		k = n - i < batch ? n - i : batch;
		for (j = 0; j < k; j++) {
			snprintf(bufs[j], sizeof bufs[j], "%s-%zu", prefix,
			    i + j);
			msgs[j].payload = bufs[j];
			msgs[j].len = strlen(bufs[j]);
		}
		if (tp_produce(c, station, msgs, k, &first, &last,
		    &err) != TP_OK)
			fail_msg("produce: %s", err.message);
		assert_int_equal(last - first + 1, k);
	}
	free(msgs);
	free(bufs);
}

static void
expect_payload(struct tp_msg *m, const char *prefix, size_t i)
{
	char		 want[64];
	const void	*p;
	size_t		 len;

	snprintf(want, sizeof want, "%s-%zu", prefix, i);
	p = tp_msg_payload(m, &len);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(p, want, len);
}

static void
test_core_station_admin(void **state)
{
	struct broker		*b = *state;
	struct tp_conn		*c = harness_connect(b, "test_core");
	struct tp_station_opts	 opts;
	struct tp_station_info	 info, *list;
	struct tp_err		 err;
	size_t			 n, i;
	int			 found = 0;

	memset(&opts, 0, sizeof opts);
	opts.retention_age_s = 3600;
	opts.retention_messages = 5000;
	opts.retention_bytes = 1 << 20;
	assert_int_equal(tp_station_create(c, "admin.a", &opts, &err), TP_OK);
	assert_int_equal(tp_station_create(c, "admin.a", NULL, &err),
	    TP_EEXIST);
	assert_int_equal(err.code, TP_EEXIST);
	assert_int_equal(tp_station_create(c, "Bad Name", NULL, &err),
	    TP_EBADNAME);
	assert_int_equal(tp_station_create(c, ".dot", NULL, &err),
	    TP_EBADNAME);

	assert_int_equal(tp_station_info(c, "admin.a", &info, &err), TP_OK);
	assert_string_equal(info.name, "admin.a");
	assert_int_equal(info.messages, 0);
	assert_int_equal(info.first_seq, 0);
	assert_int_equal(info.last_seq, 0);
	assert_int_equal(info.opts.retention_age_s, 3600);
	assert_int_equal(info.opts.retention_messages, 5000);
	assert_int_equal(info.opts.retention_bytes, 1 << 20);

	assert_int_equal(tp_station_list(c, &list, &n, &err), TP_OK);
	for (i = 0; i < n; i++)
		found += strcmp(list[i].name, "admin.a") == 0;
	assert_int_equal(found, 1);
	free(list);

	assert_int_equal(tp_station_delete(c, "admin.a", &err), TP_OK);
	assert_int_equal(tp_station_info(c, "admin.a", &info, &err),
	    TP_ENOSTATION);
	assert_int_equal(tp_station_delete(c, "admin.a", &err),
	    TP_ENOSTATION);
	/* The name can be used again, from an empty log. */
	assert_int_equal(tp_station_create(c, "admin.a", NULL, &err), TP_OK);
	produce_n(c, "admin.a", "x", 3, 3);
	assert_int_equal(tp_station_info(c, "admin.a", &info, &err), TP_OK);
	assert_int_equal(info.first_seq, 1);
	assert_int_equal(info.last_seq, 3);
	tp_close(c);
}

static void
test_core_produce_consume(void **state)
{
	struct broker		*b = *state;
	struct tp_conn		*c = harness_connect(b, "test_core");
	struct tp_consumer	*cons;
	struct tp_station_info	 info;
	struct tp_msg		*m;
	struct tp_err		 err;
	struct tp_header	 hdr[2] = { { "kind", "order" }, { "k2", "" } };
	struct tp_message	 msg;
	uint64_t		 first, last;
	size_t			 i;

	assert_int_equal(tp_station_create(c, "pc", NULL, &err), TP_OK);
	produce_n(c, "pc", "m", 1000, 97);
	memset(&msg, 0, sizeof msg);
	msg.payload = "with-headers";
	msg.len = 12;
	msg.headers = hdr;
	msg.nheaders = 2;
	msg.msg_id = "id-1";
	assert_int_equal(tp_produce(c, "pc", &msg, 1, &first, &last, &err),
	    TP_OK);
	assert_int_equal(first, 1001);
	assert_int_equal(last, 1001);

	assert_int_equal(tp_station_info(c, "pc", &info, &err), TP_OK);
	assert_int_equal(info.messages, 1001);
	assert_int_equal(info.first_seq, 1);
	assert_int_equal(info.last_seq, 1001);
	assert_true(info.bytes > 1001 * 5);

	assert_int_equal(tp_consumer_new(c, "pc", "g1", NULL, &cons, &err),
	    TP_OK);
	for (i = 0; i < 1000; i++) {
		assert_int_equal(tp_consume(cons, 10000, &m, &err), TP_OK);
		assert_int_equal(tp_msg_seq(m), i + 1);
		assert_int_equal(tp_msg_deliveries(m), 1);
		assert_true(tp_msg_time_ns(m) > 0);
		expect_payload(m, "m", i);
		assert_int_equal(tp_ack(cons, m, &err), TP_OK);
		tp_msg_free(m);
	}
	assert_int_equal(tp_consume(cons, 10000, &m, &err), TP_OK);
	assert_int_equal(tp_msg_seq(m), 1001);
	assert_string_equal(tp_msg_id(m), "id-1");
	assert_int_equal(tp_msg_nheaders(m), 2);
	assert_string_equal(tp_msg_header(m, "kind"), "order");
	assert_string_equal(tp_msg_header(m, "k2"), "");
	assert_null(tp_msg_header(m, "nope"));
	assert_int_equal(tp_ack(cons, m, &err), TP_OK);
	tp_msg_free(m);
	assert_int_equal(tp_consume(cons, 200, &m, &err), TP_ETIMEDOUT);
	assert_int_equal(tp_consumer_commit(cons, 10000, &err), TP_OK);
	tp_consumer_free(cons);

	/* Messages produced while subscribed are pushed as they commit. */
	assert_int_equal(tp_consumer_new(c, "pc", "g1", NULL, &cons, &err),
	    TP_OK);
	produce_n(c, "pc", "late", 5, 5);
	for (i = 0; i < 5; i++) {
		assert_int_equal(tp_consume(cons, 10000, &m, &err), TP_OK);
		assert_int_equal(tp_msg_seq(m), 1002 + i);
		expect_payload(m, "late", i);
		tp_ack(cons, m, &err);
		tp_msg_free(m);
	}
	tp_consumer_free(cons);
	tp_close(c);
}

static void
test_core_read_range(void **state)
{
	struct broker	*b = *state;
	struct tp_conn	*c = harness_connect(b, "test_core");
	struct tp_msg	**msgs;
	struct tp_err	 err;
	size_t		 n, i;

	assert_int_equal(tp_station_create(c, "rd", NULL, &err), TP_OK);
	produce_n(c, "rd", "r", 600, 200);
	assert_int_equal(tp_read(c, "rd", 500, 10, &msgs, &n, &err), TP_OK);
	assert_int_equal(n, 10);
	for (i = 0; i < n; i++) {
		assert_int_equal(tp_msg_seq(msgs[i]), 500 + i);
		assert_int_equal(tp_msg_deliveries(msgs[i]), 0);
		expect_payload(msgs[i], "r", 499 + i);
		tp_msg_free(msgs[i]);
	}
	free(msgs);
	assert_int_equal(tp_read(c, "rd", 601, 10, &msgs, &n, &err), TP_OK);
	assert_int_equal(n, 0);
	free(msgs);
	assert_int_equal(tp_read(c, "nope", 1, 10, &msgs, &n, &err),
	    TP_ENOSTATION);
	tp_close(c);
}

/* Consume count messages from group, acking those with seq <= ack_upto. */
static void
consume_some(struct tp_conn *c, const char *station, const char *group,
    uint64_t from, size_t count, uint64_t ack_upto)
{
	struct tp_consumer	*cons;
	struct tp_msg		*m;
	struct tp_err		 err;
	size_t			 i;

	assert_int_equal(tp_consumer_new(c, station, group, NULL, &cons,
	    &err), TP_OK);
	for (i = 0; i < count; i++) {
		assert_int_equal(tp_consume(cons, 10000, &m, &err), TP_OK);
		assert_int_equal(tp_msg_seq(m), from + i);
		if (tp_msg_seq(m) <= ack_upto)
			assert_int_equal(tp_ack(cons, m, &err), TP_OK);
		tp_msg_free(m);
	}
	assert_int_equal(tp_consumer_commit(cons, 10000, &err), TP_OK);
	assert_int_equal(tp_consume(cons, 200, &m, &err), TP_ETIMEDOUT);
	tp_consumer_free(cons);
}

static void
test_core_group_resumes_after_restart(void **state)
{
	struct broker	*b = *state;
	struct tp_conn	*c;
	struct tp_err	 err;

	if (b->external)
		skip();
	c = harness_connect(b, "test_core");
	assert_int_equal(tp_station_create(c, "resume", NULL, &err), TP_OK);
	produce_n(c, "resume", "v", 20, 20);
	consume_some(c, "resume", "g", 1, 20, 10);
	tp_close(c);

	broker_term_clean(b);
	assert_int_equal(broker_restart(b), 0);
	c = harness_connect(b, "test_core");
	/* Exactly the other 10. */
	consume_some(c, "resume", "g", 11, 10, 15);
	tp_close(c);

	/* And after a SIGKILL, what was committed still holds. */
	broker_kill(b, SIGKILL);
	assert_int_equal(broker_restart(b), 0);
	c = harness_connect(b, "test_core");
	consume_some(c, "resume", "g", 16, 5, 20);
	tp_close(c);
}

static void
test_core_unacked_go_to_another_member(void **state)
{
	struct broker		*b = *state;
	struct tp_conn		*c1 = harness_connect(b, "c1");
	struct tp_conn		*c2 = harness_connect(b, "c2");
	struct tp_consumer	*a, *z;
	struct tp_msg		*m;
	struct tp_err		 err;
	size_t			 i;

	assert_int_equal(tp_station_create(c1, "share", NULL, &err), TP_OK);
	produce_n(c1, "share", "s", 5, 5);
	assert_int_equal(tp_consumer_new(c1, "share", "g", NULL, &a, &err),
	    TP_OK);
	for (i = 0; i < 5; i++) {
		assert_int_equal(tp_consume(a, 10000, &m, &err), TP_OK);
		tp_msg_free(m);
	}
	tp_consumer_free(a);
	assert_int_equal(tp_consumer_new(c2, "share", "g", NULL, &z, &err),
	    TP_OK);
	for (i = 0; i < 5; i++) {
		assert_int_equal(tp_consume(z, 10000, &m, &err), TP_OK);
		assert_int_equal(tp_msg_seq(m), i + 1);
		assert_int_equal(tp_msg_deliveries(m), 2);
		tp_ack(z, m, &err);
		tp_msg_free(m);
	}
	tp_consumer_free(z);
	tp_close(c1);
	tp_close(c2);
}

static void
test_core_groups_are_independent(void **state)
{
	struct broker	*b = *state;
	struct tp_conn	*c = harness_connect(b, "test_core");
	struct tp_err	 err;

	assert_int_equal(tp_station_create(c, "fan", NULL, &err), TP_OK);
	produce_n(c, "fan", "f", 300, 100);
	consume_some(c, "fan", "one", 1, 300, 300);
	consume_some(c, "fan", "two", 1, 300, 300);
	tp_close(c);
}

static void
test_core_errors_keep_the_connection(void **state)
{
	struct broker		*b = *state;
	struct tp_conn		*c = harness_connect(b, "test_core");
	struct tp_message	 msg;
	struct tp_err		 err;
	char			*big;
	uint64_t		 first, last;

	assert_int_equal(tp_station_create(c, "errs", NULL, &err), TP_OK);
	memset(&msg, 0, sizeof msg);
	msg.payload = "x";
	msg.len = 1;
	assert_int_equal(tp_produce(c, "missing", &msg, 1, &first, &last,
	    &err), TP_ENOSTATION);
	assert_non_null(strstr(err.message, "missing"));
	big = calloc(1, (1 << 20) + 1);
	assert_non_null(big);
	msg.payload = big;
	msg.len = (1 << 20) + 1;
	assert_int_equal(tp_produce(c, "errs", &msg, 1, &first, &last, &err),
	    TP_ETOOBIG);
	free(big);
	msg.payload = "ok";
	msg.len = 2;
	assert_int_equal(tp_produce(c, "errs", &msg, 1, &first, &last, &err),
	    TP_OK);
	assert_int_equal(first, 1);
	tp_close(c);
}

struct async_state {
	uint64_t	last_seq;
	size_t		ok, failed;
	int		in_order;
};

static void
async_cb(void *arg, int code, uint64_t seq, void *opaque)
{
	struct async_state	*as = arg;

	if (code != TP_OK) {
		as->failed++;
		return;
	}
	if (seq != as->last_seq + 1 || (uintptr_t)opaque != seq)
		as->in_order = 0;
	as->last_seq = seq;
	as->ok++;
}

static void
test_core_async_producer(void **state)
{
	struct broker		*b = *state;
	struct tp_conn		*c = harness_connect(b, "test_core");
	struct tp_producer	*p;
	struct tp_message	 msg;
	struct async_state	 as = { 0, 0, 0, 1 };
	struct tp_station_info	 info;
	struct tp_err		 err;
	char			 buf[32];
	size_t			 i;

	assert_int_equal(tp_station_create(c, "async", NULL, &err), TP_OK);
	assert_int_equal(tp_producer_new(c, "async", NULL, async_cb, &as, &p,
	    &err), TP_OK);
	memset(&msg, 0, sizeof msg);
	for (i = 1; i <= 20000; i++) {
		snprintf(buf, sizeof buf, "a-%zu", i);
		msg.payload = buf;
		msg.len = strlen(buf);
		assert_int_equal(tp_producer_send(p, &msg, (void *)i), TP_OK);
	}
	assert_int_equal(tp_producer_flush(p, 60000), TP_OK);
	tp_producer_free(p);
	assert_int_equal(as.ok, 20000);
	assert_int_equal(as.failed, 0);
	assert_true(as.in_order);
	assert_int_equal(tp_station_info(c, "async", &info, &err), TP_OK);
	assert_int_equal(info.messages, 20000);
	tp_close(c);
}

/*
 * A child produces in a loop and reports each acknowledged range on a
 * pipe; the broker is SIGKILLed under it. After a restart every
 * acknowledged message is there, in order, with no gap before it.
 */
static void
sigkill_while_producing(struct broker *b, const char *station,
    int durability)
{
	struct tp_station_opts	 so;
	struct tp_conn		*c;
	struct tp_msg		**msgs;
	struct tp_err		 err;
	uint64_t		 acked = 0, v, seq = 0;
	char			 want[64];
	const void		*p;
	size_t			 n, i, len;
	pid_t			 pid;
	int			 fds[2], status;

	c = harness_connect(b, "test_core");
	memset(&so, 0, sizeof so);
	so.durability = durability;
	assert_int_equal(tp_station_create(c, station, &so, &err), TP_OK);
	tp_close(c);
	assert_int_equal(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		struct tp_message	msgs1[10];
		char			bufs[10][32];
		uint64_t		first, last, next = 1;
		size_t			j;

		close(fds[0]);
		if (tp_connect(b->url, "killer", &c, NULL) != TP_OK)
			_exit(1);
		for (;;) {
			for (j = 0; j < 10; j++) {
				snprintf(bufs[j], sizeof bufs[j], "k-%llu",
				    (unsigned long long)(next + j));
				msgs1[j].payload = bufs[j];
				msgs1[j].len = strlen(bufs[j]);
				msgs1[j].headers = NULL;
				msgs1[j].nheaders = 0;
				msgs1[j].msg_id = NULL;
			}
			if (tp_produce(c, station, msgs1, 10, &first, &last,
			    NULL) != TP_OK)
				_exit(0);
			if (first != next)
				_exit(2);
			next = last + 1;
			if (write(fds[1], &last, sizeof last) != sizeof last)
				_exit(3);
		}
	}
	close(fds[1]);
	/* Let some batches be acknowledged, then kill mid-stream. */
	while (acked < 2000 && read(fds[0], &v, sizeof v) == sizeof v)
		acked = v;
	broker_kill(b, SIGKILL);
	while (read(fds[0], &v, sizeof v) == sizeof v)
		acked = v;
	close(fds[0]);
	waitpid(pid, &status, 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	assert_int_equal(broker_restart(b), 0);
	c = harness_connect(b, "test_core");
	for (;;) {
		assert_int_equal(tp_read(c, station, seq + 1, 1000, &msgs, &n,
		    &err), TP_OK);
		for (i = 0; i < n; i++) {
			assert_int_equal(tp_msg_seq(msgs[i]), seq + 1);
			seq++;
			snprintf(want, sizeof want, "k-%llu",
			    (unsigned long long)seq);
			p = tp_msg_payload(msgs[i], &len);
			assert_int_equal(len, strlen(want));
			assert_memory_equal(p, want, len);
			tp_msg_free(msgs[i]);
		}
		free(msgs);
		if (n == 0)
			break;
	}
	assert_true(seq >= acked);
	tp_close(c);
}

static void
test_core_sigkill_loses_nothing_acked(void **state)
{
	struct broker	*b = *state;

	if (b->external)
		skip();
	sigkill_while_producing(b, "kill", TP_DURABILITY_SYNC);
}

/*
 * The same on an interval station: acknowledged before any flush, its
 * messages are in the write-ahead log, which a restart replays.
 */
static void
test_core_sigkill_interval_keeps_acked(void **state)
{
	struct broker	*b = *state;

	if (b->external)
		skip();
	sigkill_while_producing(b, "kill-interval", TP_DURABILITY_INTERVAL);
}

/* SIGTERM while an async producer runs: exit 0, acked messages kept. */
static void
test_core_sigterm_finishes_writes(void **state)
{
	struct broker		*b = *state;
	struct tp_conn		*c;
	struct tp_producer	*p;
	struct tp_message	 msg;
	struct async_state	 as = { 0, 0, 0, 1 };
	struct tp_station_info	 info;
	struct tp_err		 err;
	size_t			 i;

	if (b->external)
		skip();
	c = harness_connect(b, "test_core");
	assert_int_equal(tp_station_create(c, "term", NULL, &err), TP_OK);
	assert_int_equal(tp_producer_new(c, "term", NULL, async_cb, &as, &p,
	    &err), TP_OK);
	tp_close(c);
	memset(&msg, 0, sizeof msg);
	msg.payload = "t";
	msg.len = 1;
	for (i = 1; i <= 5000; i++)
		assert_int_equal(tp_producer_send(p, &msg, (void *)i), TP_OK);
	broker_term_clean(b);
	tp_producer_flush(p, 10000);
	tp_producer_free(p);
	assert_int_equal(as.ok + as.failed, 5000);
	assert_int_equal(broker_restart(b), 0);
	c = harness_connect(b, "test_core");
	assert_int_equal(tp_station_info(c, "term", &info, &err), TP_OK);
	assert_true(info.messages >= as.ok);
	assert_int_equal(info.last_seq, info.messages);
	tp_close(c);
}

/*
 * Regression: at shutdown a closing member's messages went back to the
 * group and were redelivered, queueing a save on the writer already
 * freed. SIGTERM with a member holding messages must exit cleanly.
 */
static void
test_core_sigterm_with_members_holding(void **state)
{
	struct broker		*b = *state;
	struct tp_conn		*c1, *c2;
	struct tp_consumer	*a, *z;
	struct tp_consumer_opts	 o;
	struct tp_msg		*m;
	struct tp_err		 err;
	int			 i;

	if (b->external)
		skip();
	c1 = harness_connect(b, "a");
	c2 = harness_connect(b, "z");
	assert_int_equal(tp_station_create(c1, "hold", NULL, &err), TP_OK);
	produce_n(c1, "hold", "h", 20, 20);
	memset(&o, 0, sizeof o);
	o.max_unacked = 10;
	assert_int_equal(tp_consumer_new(c1, "hold", "g", &o, &a, &err),
	    TP_OK);
	assert_int_equal(tp_consumer_new(c2, "hold", "g", &o, &z, &err),
	    TP_OK);
	for (i = 0; i < 10; i++) {
		assert_int_equal(tp_consume(a, 10000, &m, &err), TP_OK);
		tp_msg_free(m);
	}
	while (tp_consume(z, 300, &m, &err) == TP_OK) {
		tp_ack(z, m, &err);
		tp_msg_free(m);
	}
	assert_int_equal(tp_consumer_commit(z, 10000, &err), TP_OK);
	broker_term_clean(b);
	tp_consumer_free(a);
	tp_consumer_free(z);
	tp_close(c1);
	tp_close(c2);
	assert_int_equal(broker_restart(b), 0);
}

/* A second broker on the same data directory refuses to start. */
static void
test_core_data_dir_locked(void **state)
{
	struct broker	*b = *state;
	char		 cmd[1024], *out;
	int		 rc;

	if (b->external)
		skip();
	snprintf(cmd, sizeof cmd, "timeout 10 %s -c /dev/null -d '%s' "
	    "-l 127.0.0.1:0 2>&1",
	    harness_tupelod(), b->data);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	out = calloc(1, 4096);
	assert_non_null(out);
	assert_true(fread(out, 1, 4095, p) > 0);
	rc = pclose(p);
	assert_true(WIFEXITED(rc));
	assert_int_equal(WEXITSTATUS(rc), 1);
	assert_non_null(strstr(out, "in use"));
	free(out);
	/* The first one still serves. */
	tp_close(harness_connect(b, "test_core"));
}

struct client_arg {
	struct broker	*b;
	int		 index;
	int		 rc;
};

static void *
client_main(void *arg)
{
	struct client_arg	*ca = arg;
	struct tp_conn		*c;
	struct tp_message	 m;
	char			 buf[32];
	int			 i;

	memset(&m, 0, sizeof m);
	if ((ca->rc = tp_connect(ca->b->url, "many", &c, NULL)) != TP_OK)
		return (NULL);
	for (i = 0; i < 200 && ca->rc == TP_OK; i++) {
		snprintf(buf, sizeof buf, "c%d-%d", ca->index, i);
		m.payload = buf;
		m.len = strlen(buf);
		ca->rc = tp_produce(c, "many", &m, 1, NULL, NULL, NULL);
	}
	tp_close(c);
	return (NULL);
}

/* 32 clients produce at once; one group sees each message once. */
static void
test_core_many_clients(void **state)
{
	struct broker		*b = *state;
	struct client_arg	 args[32];
	pthread_t		 th[32];
	struct tp_conn		*c = harness_connect(b, "test_core");
	struct tp_consumer	*cons;
	struct tp_msg		*m;
	struct tp_err		 err;
	int			 next[32], i, who, n;
	const char		*p;
	char			 text[32];
	size_t			 len;

	assert_int_equal(tp_station_create(c, "many", NULL, &err), TP_OK);
	for (i = 0; i < 32; i++) {
		args[i].b = b;
		args[i].index = i;
		assert_int_equal(pthread_create(&th[i], NULL, client_main,
		    &args[i]), 0);
	}
	for (i = 0; i < 32; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].rc, TP_OK);
		next[i] = 0;
	}
	assert_int_equal(tp_consumer_new(c, "many", "g", NULL, &cons, &err),
	    TP_OK);
	for (i = 0; i < 32 * 200; i++) {
		assert_int_equal(tp_consume(cons, 10000, &m, &err), TP_OK);
		assert_int_equal(tp_msg_seq(m), i + 1);
		p = tp_msg_payload(m, &len);
		assert_true(len < sizeof text);
		memcpy(text, p, len);
		text[len] = '\0';
		/* Each client's messages arrive in the order it sent them. */
		assert_int_equal(sscanf(text, "c%d-%d", &who, &n), 2);
		assert_true(who >= 0 && who < 32);
		assert_int_equal(n, next[who]);
		next[who]++;
		tp_ack(cons, m, &err);
		tp_msg_free(m);
	}
	assert_int_equal(tp_consume(cons, 200, &m, &err), TP_ETIMEDOUT);
	tp_consumer_free(cons);
	tp_close(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_station_admin),
		cmocka_unit_test(test_core_produce_consume),
		cmocka_unit_test(test_core_read_range),
		cmocka_unit_test(test_core_group_resumes_after_restart),
		cmocka_unit_test(test_core_unacked_go_to_another_member),
		cmocka_unit_test(test_core_groups_are_independent),
		cmocka_unit_test(test_core_errors_keep_the_connection),
		cmocka_unit_test(test_core_async_producer),
		cmocka_unit_test(test_core_sigkill_loses_nothing_acked),
		cmocka_unit_test(test_core_sigkill_interval_keeps_acked),
		cmocka_unit_test(test_core_sigterm_finishes_writes),
		cmocka_unit_test(test_core_sigterm_with_members_holding),
		cmocka_unit_test(test_core_data_dir_locked),
		cmocka_unit_test(test_core_many_clients),
	};

	harness_watchdog(600);
	return (cmocka_run_group_tests(tests, harness_setup,
	    harness_teardown));
}
