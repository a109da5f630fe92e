/*
 * Storage full against a real tupelod. With the broker's own cap
 * (--max-data-size) a produce that does not fit is refused with
 * TP_ENOSPC while reads, acks and purges go on, writes resume once space
 * is freed, and what was acknowledged survives a SIGKILL. Then a real
 * full file system (a small tmpfs, when this runs as root): the broker
 * must refuse, keep serving reads and not crash; whether writes resume
 * after a purge or stay latched until a restart is reported, not asserted.
 */
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
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

#define FULL_MSG_SIZE		1024
#define FULL_BATCH		100
#define FULL_KEEP		100	/* acknowledged before the fill */
#define FULL_MAX_MESSAGES	20000	/* ENOSPC must come before */
#define FULL_RESUME_MS		5000	/* freed pages are reused by then */
#define FULL_TMPFS_OPTS		"size=8m"

static int	full_mounted;	/* tmpfs mounted on the broker's data */

static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static struct tp_conn *
connect_ok(struct broker *b)
{
	struct tp_conn	*c = NULL;
	struct tp_err	 err;

	if (tp_connect(b->url, "test_storage_full", &c, &err) != TP_OK)
		fail_msg("connect %s: %s", b->url, err.message);
	tp_set_timeout(c, 30000);
	return (c);
}

static int
setup_capped(void **state)
{
	struct broker	*b;

	if ((b = calloc(1, sizeof *b)) == NULL)
		return (-1);
	if (broker_start(b, "--map-size", "2M", "--max-data-size", "6M",
	    NULL) != 0) {
		free(b);
		return (-1);
	}
	*state = b;
	return (0);
}

static int
setup_plain(void **state)
{
	struct broker	*b;

	if ((b = calloc(1, sizeof *b)) == NULL)
		return (-1);
	/* The smallest write-ahead log: the tmpfs below holds 8 MiB. */
	if (broker_start(b, "--wal-size", "1M", NULL) != 0) {
		free(b);
		return (-1);
	}
	*state = b;
	return (0);
}

static int
teardown(void **state)
{
	struct broker	*b = *state;

	broker_kill(b, SIGKILL);
	if (full_mounted) {
		if (umount2(b->data, 0) != 0 &&
		    umount2(b->data, MNT_DETACH) != 0)
			fprintf(stderr, "umount %s: %s\n", b->data,
			    strerror(errno));
		full_mounted = 0;
	}
	broker_stop(b);
	free(b);
	return (0);
}

/* The payload of message i of prefix: a label, then a filler byte. */
static void
full_payload(char *buf, const char *prefix, uint64_t i)
{
	int	n;

	memset(buf, 'a' + (int)(i % 26), FULL_MSG_SIZE);
	n = snprintf(buf, FULL_MSG_SIZE, "%s-%llu:", prefix,
	    (unsigned long long)i);
	buf[n] = 'a' + (int)(i % 26);
}

/*
 * Produce one batch of FULL_BATCH messages prefix-from.. and return the
 * code; *first and *last get the acknowledged range.
 */
static int
full_produce(struct tp_conn *c, const char *station, const char *prefix,
    uint64_t from, uint64_t *first, uint64_t *last, struct tp_err *err)
{
	static char		 bufs[FULL_BATCH][FULL_MSG_SIZE];
	struct tp_message	 msgs[FULL_BATCH];
	size_t			 i;

	memset(msgs, 0, sizeof msgs);
	for (i = 0; i < FULL_BATCH; i++) {
		full_payload(bufs[i], prefix, from + i);
		msgs[i].payload = bufs[i];
		msgs[i].len = FULL_MSG_SIZE;
	}
	return (tp_produce(c, station, msgs, FULL_BATCH, first, last, err));
}

/* Produce batches until one fails; returns its code, *n the acked. */
static int
full_fill(struct tp_conn *c, const char *station, size_t *n,
    struct tp_err *err)
{
	uint64_t	first, last;
	int		rc = TP_OK;

	for (*n = 0; *n < FULL_MAX_MESSAGES; *n += FULL_BATCH) {
		rc = full_produce(c, station, "fill", *n, &first, &last, err);
		if (rc != TP_OK)
			break;
		assert_int_equal(last - first + 1, FULL_BATCH);
	}
	return (rc);
}

/* The FULL_KEEP messages of "keep" are there, whole and in order. */
static void
full_check_keep(struct tp_conn *c, uint64_t first)
{
	struct tp_msg	**msgs;
	struct tp_err	 err;
	char		 want[FULL_MSG_SIZE];
	const void	*p;
	size_t		 n, i, len;

	if (tp_read(c, "keep", first, FULL_KEEP, &msgs, &n, &err) != TP_OK)
		fail_msg("read keep: %s", err.message);
	assert_int_equal(n, FULL_KEEP);
	for (i = 0; i < n; i++) {
		assert_int_equal(tp_msg_seq(msgs[i]), first + i);
		full_payload(want, "keep", i);
		p = tp_msg_payload(msgs[i], &len);
		assert_int_equal(len, FULL_MSG_SIZE);
		assert_memory_equal(p, want, len);
		tp_msg_free(msgs[i]);
	}
	free(msgs);
}

/* Create "keep" with FULL_KEEP acknowledged messages; returns seq 1. */
static uint64_t
full_make_keep(struct tp_conn *c)
{
	struct tp_err	err;
	uint64_t	first, last;

	assert_int_equal(tp_station_create(c, "keep", NULL, &err), TP_OK);
	if (full_produce(c, "keep", "keep", 0, &first, &last, &err) != TP_OK)
		fail_msg("produce keep: %s", err.message);
	assert_int_equal(last - first + 1, FULL_KEEP);
	return (first);
}

/*
 * Print the broker's log lines (not debug) that mention any of the words,
 * each distinct line once with how often it came.
 */
static void
full_print_log(struct broker *b, const char *const *words)
{
	char	 line[512], seen[32][512];
	size_t	 count[32], nseen = 0, i, j;
	FILE	*f;

	if ((f = fopen(b->log, "r")) == NULL)
		return;
	while (fgets(line, sizeof line, f) != NULL) {
		if (strstr(line, ": debug: ") != NULL)
			continue;
		for (i = 0; words[i] != NULL; i++) {
			if (strstr(line, words[i]) != NULL)
				break;
		}
		if (words[i] == NULL)
			continue;
		for (j = 0; j < nseen; j++) {
			if (strcmp(seen[j], line) == 0)
				break;
		}
		if (j < nseen)
			count[j]++;
		else if (nseen < sizeof seen / sizeof seen[0]) {
			memcpy(seen[nseen], line, sizeof line);
			count[nseen++] = 1;
		}
	}
	fclose(f);
	for (j = 0; j < nseen; j++) {
		seen[j][strcspn(seen[j], "\n")] = '\0';
		printf("storage_full: log (%zu times): %s\n", count[j],
		    seen[j]);
	}
}

/*
 * The broker's cap: ENOSPC with "storage full", reads and acks go on, a
 * purge frees room, and the acknowledged survive a SIGKILL.
 */
static void
test_storage_full_cap(void **state)
{
	static const char *const words[] = { "full", "purged", "error",
	    NULL };
	struct broker		*b = *state;
	struct tp_conn		*c;
	struct tp_consumer	*cons;
	struct tp_station_info	 info;
	struct tp_msg		*m;
	struct tp_err		 err;
	uint64_t		 keep_first, full_last, first = 0, last = 0;
	size_t			 n, i, tries = 0;
	int64_t			 deadline;
	int			 rc, resumed;
	char			 why[512];

	if (b->external)
		skip();
	c = connect_ok(b);
	keep_first = full_make_keep(c);
	assert_int_equal(tp_station_create(c, "full", NULL, &err), TP_OK);
	assert_int_equal(tp_group_create(c, "full", "reader", NULL, &err),
	    TP_OK);

	rc = full_fill(c, "full", &n, &err);
	printf("storage_full: cap: produce failed after %zu messages: "
	    "%s: %s\n", n, tp_strerror(rc), rc != TP_OK ? err.message : "");
	assert_int_equal(rc, TP_ENOSPC);
	assert_int_equal(err.code, TP_ENOSPC);
	if (strstr(err.message, "storage full") == NULL)
		fail_msg("ENOSPC message does not say \"storage full\": %s",
		    err.message);

	/* Other requests on the same connection are served. */
	assert_int_equal(tp_station_info(c, "full", &info, &err), TP_OK);
	assert_int_equal(info.messages, n);
	full_last = info.last_seq;
	full_check_keep(c, keep_first);

	/* A consumer still gets existing messages and commits its acks. */
	assert_int_equal(tp_consumer_new(c, "full", "reader", NULL, &cons,
	    &err), TP_OK);
	for (i = 0; i < FULL_BATCH; i++) {
		assert_int_equal(tp_consume(cons, 10000, &m, &err), TP_OK);
		assert_int_equal(tp_msg_seq(m), i + 1);
		assert_int_equal(tp_ack(cons, m, &err), TP_OK);
		tp_msg_free(m);
	}
	rc = tp_consumer_commit(cons, 10000, &err);
	if (rc != TP_OK)
		fail_msg("commit acks while full: %s: %s", tp_strerror(rc),
		    err.message);
	tp_consumer_free(cons);

	/* Free the space; LMDB reuses the pages once no reader holds them. */
	rc = tp_station_purge(c, "full", &err);
	if (rc != TP_OK)
		fail_msg("purge while full: %s: %s", tp_strerror(rc),
		    err.message);
	deadline = now_ms() + FULL_RESUME_MS;
	for (;;) {
		tries++;
		rc = full_produce(c, "full", "again", 0, &first, &last, &err);
		if (rc == TP_OK || rc != TP_ENOSPC || now_ms() > deadline)
			break;
		usleep(50000);
	}
	printf("storage_full: cap: after the purge: %s after %zu tries\n",
	    tp_strerror(rc), tries);
	resumed = rc == TP_OK;
	if (resumed) {
		/* Seqs keep counting up through a purge. */
		assert_true(first > full_last);
	} else {
		snprintf(why, sizeof why, "%s: %s (%zu tries over %d ms)",
		    tp_strerror(rc), err.message, tries, FULL_RESUME_MS);
		full_print_log(b, words);
	}
	tp_close(c);

	/* Whatever was acknowledged survives a SIGKILL. */
	broker_kill(b, SIGKILL);
	assert_int_equal(broker_restart(b), 0);
	c = connect_ok(b);
	full_check_keep(c, keep_first);
	assert_int_equal(tp_station_info(c, "full", &info, &err), TP_OK);
	if (resumed) {
		assert_int_equal(info.first_seq, first);
		assert_int_equal(info.last_seq, last);
		assert_int_equal(info.messages, FULL_BATCH);
	}
	tp_close(c);
	if (!resumed)
		fail_msg("produce after the purge freed the space: %s", why);
}

/*
 * A real full file system. Refusing, serving reads and surviving are
 * asserted; whether writes resume after a purge is reported.
 */
static void
test_storage_full_tmpfs(void **state)
{
	static const char *const words[] = { "full", "No space", "ENOSPC",
	    "error", "fail", "latch", "refus", NULL };
	struct broker		*b = *state;
	struct tp_conn		*c;
	struct tp_station_info	 info;
	struct tp_msg		**msgs;
	struct tp_err		 err;
	uint64_t		 keep_first, first, last;
	size_t			 n, nread, i, tries = 0;
	int64_t			 deadline;
	int			 rc, fill_rc;
	char			 cmd[600];

	if (b->external)
		skip();
	if (geteuid() != 0) {
		printf("skip: cannot mount tmpfs here (not root)\n");
		skip();
	}
	/* The harness's data directory becomes a small tmpfs. */
	broker_kill(b, SIGTERM);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", b->data);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(mkdir(b->data, 0750), 0);
	if (mount("tmpfs", b->data, "tmpfs", 0, FULL_TMPFS_OPTS) != 0) {
		printf("skip: cannot mount tmpfs here (%s)\n",
		    strerror(errno));
		skip();
	}
	full_mounted = 1;
	assert_int_equal(broker_restart(b), 0);

	c = connect_ok(b);
	keep_first = full_make_keep(c);
	assert_int_equal(tp_station_create(c, "disk", NULL, &err), TP_OK);
	fill_rc = full_fill(c, "disk", &n, &err);
	printf("storage_full: tmpfs: produce failed after %zu messages: "
	    "%s: %s\n", n, tp_strerror(fill_rc),
	    fill_rc != TP_OK ? err.message : "");
	if (fill_rc != TP_ENOSPC && fill_rc != TP_EIO)
		fail_msg("filling an 8 MiB tmpfs: %s, want TP_ENOSPC or "
		    "TP_EIO", tp_strerror(fill_rc));

	/* Reads are served, on this connection and a new one. */
	assert_int_equal(tp_station_info(c, "disk", &info, &err), TP_OK);
	assert_int_equal(info.messages, n);
	full_check_keep(c, keep_first);
	tp_close(c);
	c = connect_ok(b);
	assert_int_equal(tp_read(c, "disk", 1, 10, &msgs, &nread, &err),
	    TP_OK);
	assert_int_equal(nread, 10);
	for (i = 0; i < nread; i++)
		tp_msg_free(msgs[i]);
	free(msgs);

	rc = tp_station_purge(c, "disk", &err);
	printf("storage_full: tmpfs: purge: %s%s%s\n", tp_strerror(rc),
	    rc != TP_OK ? ": " : "", rc != TP_OK ? err.message : "");
	deadline = now_ms() + FULL_RESUME_MS;
	for (;;) {
		tries++;
		rc = full_produce(c, "disk", "again", 0, &first, &last, &err);
		if (rc == TP_OK || now_ms() > deadline)
			break;
		usleep(100000);
	}
	if (rc == TP_OK)
		printf("storage_full: tmpfs: writes resumed after the purge "
		    "(%zu tries)\n", tries);
	else
		printf("storage_full: tmpfs: writes stay refused after the "
		    "purge (%zu tries over %d ms): %s: %s\n", tries,
		    FULL_RESUME_MS, tp_strerror(rc), err.message);
	full_print_log(b, words);
	tp_close(c);

	/*
	 * Whatever happened, a restart keeps what was acknowledged. Then
	 * free space first (a latched purge did nothing) and produce again.
	 */
	broker_kill(b, SIGKILL);
	assert_int_equal(broker_restart(b), 0);
	c = connect_ok(b);
	full_check_keep(c, keep_first);
	rc = tp_station_purge(c, "disk", &err);
	printf("storage_full: tmpfs: purge after a restart: %s%s%s\n",
	    tp_strerror(rc), rc != TP_OK ? ": " : "",
	    rc != TP_OK ? err.message : "");
	rc = full_produce(c, "disk", "restart", 0, &first, &last, &err);
	printf("storage_full: tmpfs: produce after a restart: %s%s%s\n",
	    tp_strerror(rc), rc != TP_OK ? ": " : "",
	    rc != TP_OK ? err.message : "");
	full_check_keep(c, keep_first);
	tp_close(c);
	broker_kill(b, SIGKILL);
}

struct dup_outcome {
	int		code[2];
	uint64_t	seq[2];
};

static void
dup_cb(void *arg, int code, uint64_t seq, void *opaque)
{
	struct dup_outcome	*o = arg;
	int			 i = (int)(uintptr_t)opaque;

	o->code[i] = code;
	o->seq[i] = seq;
}

/*
 * Regression: a message repeating the id of one still in flight was
 * acknowledged with that one's seq even when it then failed to store;
 * the seq was then reused for another message.
 */
static void
test_storage_full_dup_of_failed_append(void **state)
{
	struct broker		*b = *state;
	struct tp_conn		*c = harness_connect(b, "dup");
	struct tp_producer	*p;
	struct tp_producer_opts	 po;
	struct tp_message	 m;
	struct dup_outcome	 o = { { -1, -1 }, { 0, 0 } };
	struct tp_msg		**msgs;
	struct tp_err		 err;
	static char		 big[512 * 1024];
	uint64_t		 seq;
	size_t			 n;

	assert_int_equal(tp_station_create(c, "dup", NULL, &err), TP_OK);
	memset(big, 'x', sizeof big);
	memset(&m, 0, sizeof m);
	m.payload = big;
	m.len = sizeof big;
	while (tp_produce(c, "dup", &m, 1, NULL, NULL, &err) == TP_OK)
		;
	assert_int_equal(err.code, TP_ENOSPC);
	/* A (too big, id X) and B (small, id X) in flight together. */
	memset(&po, 0, sizeof po);
	po.batch_size = 1;
	assert_int_equal(tp_producer_new(c, "dup", &po, dup_cb, &o, &p, &err),
	    TP_OK);
	m.msg_id = "X";
	assert_int_equal(tp_producer_send(p, &m, (void *)0), TP_OK);
	m.payload = "small";
	m.len = 5;
	assert_int_equal(tp_producer_send(p, &m, (void *)1), TP_OK);
	tp_producer_flush(p, 10000);
	tp_producer_free(p);
	assert_int_equal(o.code[0], TP_ENOSPC);
	/* B was stored under its own seq, or refused: never A's. */
	if (o.code[1] == TP_OK) {
		assert_int_not_equal(o.seq[1], 0);
		assert_int_equal(tp_read(c, "dup", o.seq[1], 1, &msgs, &n,
		    &err), TP_OK);
		assert_int_equal(n, 1);
		assert_int_equal(tp_msg_seq(msgs[0]), o.seq[1]);
		assert_string_equal(tp_msg_id(msgs[0]), "X");
		tp_msg_free(msgs[0]);
		free(msgs);
	}
	/* And a later message gets a seq of its own. */
	m.msg_id = NULL;
	m.payload = "C";
	m.len = 1;
	if (tp_produce(c, "dup", &m, 1, &seq, NULL, &err) == TP_OK &&
	    o.code[1] == TP_OK)
		assert_int_not_equal(seq, o.seq[1]);
	tp_close(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_storage_full_dup_of_failed_append, setup_capped,
		    teardown),
		cmocka_unit_test_setup_teardown(test_storage_full_cap,
		    setup_capped, teardown),
		cmocka_unit_test_setup_teardown(test_storage_full_tmpfs,
		    setup_plain, teardown),
	};

	harness_watchdog(300);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
