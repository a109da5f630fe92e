/*
 * Unit tests of storage/writer: a real writer thread on a real LMDB store
 * in a mkdtemp directory. Operations append to a station log; the notify
 * callback signals a condition variable and the test thread drains, as the
 * broker's loop does. A gate operation holds the writer inside a
 * transaction so that what is queued behind it is known to form one batch.
 * Every wait has a generous deadline so that a broken writer fails the
 * test instead of hanging it; nothing is asserted about time.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tmpdir.h"

#include "proto/error.h"
#include "storage/slog.h"
#include "storage/store.h"
#include "storage/writer.h"

#define MIB		(1024ULL * 1024)
#define OPS_MAX		2000
#define DEADLINE_S	120	/* watchdog of one wait, not a measurement */
#define BIG_LEN		(256 * 1024)

struct fixture;

/* One append of one record; owned by the fixture so it outlives a test. */
struct append {
	struct fixture	*fx;
	uint64_t	 seq;
	const uint8_t	*data;		/* borrowed: buf or fx->big */
	uint32_t	 len;
	int		 fail_rc;	/* apply returns this instead, if set */
	int		 applied;	/* times apply ran (writer thread) */
	int		 code;		/* outcome, -1 until done */
	size_t		 order;		/* rank among done callbacks */
	char		 buf[32];
};

struct fixture {
	char		 base[256];	/* mkdtemp directory */
	char		 dir[512];	/* data dir inside base */
	struct store	*st;		/* owned */
	struct writer	*w;		/* owned, NULL once closed */
	MDB_dbi		 dbi;		/* log of station "orders" */
	struct append	*ops;		/* owned, OPS_MAX */
	uint8_t		*big;		/* owned, BIG_LEN * 8 */
	size_t		 ndone;		/* done callbacks run */

	pthread_mutex_t	 lock;		/* guards what follows */
	pthread_cond_t	 cond;
	unsigned	 notified;	/* notify callbacks run */
	unsigned	 seen;		/* notified at the last wake-up */
	int		 gate_entered;	/* the gate op is inside apply */
	int		 gate_open;	/* the gate op may return */
};

/* Writer thread: completions wait. */
static void
fixture_notify_cb(void *arg)
{
	struct fixture	*fx = arg;

	pthread_mutex_lock(&fx->lock);
	fx->notified++;
	pthread_cond_broadcast(&fx->cond);
	pthread_mutex_unlock(&fx->lock);
}

/* Writer thread. */
static int
append_apply_cb(MDB_txn *txn, void *arg)
{
	struct append	*a = arg;

	a->applied++;
	if (a->fail_rc != 0)
		return (a->fail_rc);
	return (slog_append(txn, a->fx->dbi, "orders", a->seq, a->data, &a->len,
	    1));
}

/* Test thread, from writer_drain(). */
static void
append_done_cb(void *arg, int code)
{
	struct append	*a = arg;

	a->code = code;
	a->order = a->fx->ndone++;
}

/* Writer thread: hold the writer until the test opens the gate. */
static int
gate_apply_cb(MDB_txn *txn, void *arg)
{
	struct append	*a = arg;
	struct fixture	*fx = a->fx;

	pthread_mutex_lock(&fx->lock);
	fx->gate_entered = 1;
	pthread_cond_broadcast(&fx->cond);
	while (!fx->gate_open)
		pthread_cond_wait(&fx->cond, &fx->lock);
	pthread_mutex_unlock(&fx->lock);
	return (append_apply_cb(txn, arg));
}

static const struct writer_op append_op = {
	append_apply_cb, append_done_cb, WRITER_CHECKPOINT
};
static const struct writer_op gate_op = {
	gate_apply_cb, append_done_cb, WRITER_CHECKPOINT
};

static int teardown(void **);

static int
fixture_setup(void **state, uint64_t map_size, uint64_t map_max)
{
	struct fixture		*fx;
	struct store_opts	 opts;
	MDB_txn			*txn;

	if ((fx = calloc(1, sizeof *fx)) == NULL)
		return (-1);
	pthread_mutex_init(&fx->lock, NULL);
	pthread_cond_init(&fx->cond, NULL);
	*state = fx;
	if ((fx->ops = calloc(OPS_MAX, sizeof *fx->ops)) == NULL ||
	    (fx->big = malloc(8 * BIG_LEN)) == NULL)
		goto fail;
	memset(fx->big, 'B', 8 * BIG_LEN);
	if (tmpdir_make(fx->base, sizeof fx->base) != 0)
		goto fail;
	snprintf(fx->dir, sizeof fx->dir, "%s/data", fx->base);
	memset(&opts, 0, sizeof opts);
	opts.map_size = map_size;
	opts.map_max = map_max;
	opts.max_stations = 8;
	opts.wal_size = 1 << 20;
	if (store_open(fx->dir, &opts, &fx->st, NULL) != TP_OK)
		goto fail;
	if (mdb_txn_begin(store_env(fx->st), NULL, 0, &txn) != 0)
		goto fail;
	if (slog_open(txn, "orders", 1, &fx->dbi) != 0) {
		mdb_txn_abort(txn);
		goto fail;
	}
	if (mdb_txn_commit(txn) != 0)
		goto fail;
	if (writer_open(fx->st, 10, fixture_notify_cb, fx, &fx->w,
	    NULL) != TP_OK)
		goto fail;
	return (0);

fail:
	teardown(state);
	*state = NULL;
	return (-1);
}

static int
setup(void **state)
{
	return (fixture_setup(state, 64 * MIB, 0));
}

static int
setup_small(void **state)
{
	return (fixture_setup(state, 1 * MIB, 4 * MIB));
}

static int
teardown(void **state)
{
	struct fixture	*fx = *state;

	if (fx == NULL)
		return (0);
	/* A failed test may have left the writer at the gate. */
	pthread_mutex_lock(&fx->lock);
	fx->gate_open = 1;
	pthread_cond_broadcast(&fx->cond);
	pthread_mutex_unlock(&fx->lock);
	writer_close(fx->w);
	store_close(fx->st);
	if (fx->base[0] != '\0')
		tmpdir_remove(fx->base);
	free(fx->big);
	free(fx->ops);
	pthread_cond_destroy(&fx->cond);
	pthread_mutex_destroy(&fx->lock);
	free(fx);
	return (0);
}

/* Wait for the writer to call notify again; fail at the deadline. */
static void
wait_notified(struct fixture *fx)
{
	struct timespec	ts;
	int		rc = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += DEADLINE_S;
	pthread_mutex_lock(&fx->lock);
	while (fx->notified == fx->seen && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&fx->cond, &fx->lock, &ts);
	fx->seen = fx->notified;
	pthread_mutex_unlock(&fx->lock);
	if (rc == ETIMEDOUT)
		fail_msg("the writer did not complete within %d s",
		    DEADLINE_S);
}

/* Drain as the loop does until n operations in all are done. */
static void
wait_done(struct fixture *fx, size_t n)
{
	while (fx->ndone < n) {
		wait_notified(fx);
		writer_drain(fx->w);
	}
	assert_int_equal(fx->ndone, n);
}

/* Wait until the gate op holds the writer inside its transaction. */
static void
wait_gate_entered(struct fixture *fx)
{
	struct timespec	ts;
	int		rc = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += DEADLINE_S;
	pthread_mutex_lock(&fx->lock);
	while (!fx->gate_entered && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&fx->cond, &fx->lock, &ts);
	pthread_mutex_unlock(&fx->lock);
	if (rc == ETIMEDOUT)
		fail_msg("the gate operation never ran");
}

static void
open_gate(struct fixture *fx)
{
	pthread_mutex_lock(&fx->lock);
	fx->gate_open = 1;
	pthread_cond_broadcast(&fx->cond);
	pthread_mutex_unlock(&fx->lock);
}

/* Fill ops[i] as the append of seq with a small value naming it. */
static struct append *
small_op(struct fixture *fx, size_t i, uint64_t seq)
{
	struct append	*a = &fx->ops[i];

	assert_true(i < OPS_MAX);
	memset(a, 0, sizeof *a);
	a->fx = fx;
	a->seq = seq;
	a->len = (uint32_t)snprintf(a->buf, sizeof a->buf, "op %llu",
	    (unsigned long long)seq);
	a->data = (const uint8_t *)a->buf;
	a->code = -1;
	return (a);
}

/* Fill ops[i] as the append of seq with len bytes of fx->big. */
static struct append *
big_op(struct fixture *fx, size_t i, uint64_t seq, uint32_t len)
{
	struct append	*a = small_op(fx, i, seq);

	assert_true(len <= 8 * BIG_LEN);
	a->data = fx->big;
	a->len = len;
	return (a);
}

static void
submit(struct fixture *fx, const struct writer_op *op, struct append *a,
    int sync)
{
	assert_int_equal(writer_submit(fx->w, op, a, a->len, sync), TP_OK);
}

/* Bounds of the log, as a read transaction sees them. */
static void
log_bounds(struct fixture *fx, uint64_t *first, uint64_t *last,
    uint64_t *count)
{
	MDB_txn	*txn;

	assert_int_equal(store_read_begin(fx->st, &txn, NULL), TP_OK);
	assert_int_equal(slog_bounds(txn, fx->dbi, first, last, count), 0);
	store_read_end(fx->st, txn);
}

struct check {
	struct fixture	*fx;
	uint64_t	 next;		/* expected seq */
	int		 bad;
};

static int
check_cb(void *arg, uint64_t seq, const MDB_val *v)
{
	struct check	*c = arg;
	char		 want[32];
	int		 len;

	len = snprintf(want, sizeof want, "op %llu", (unsigned long long)seq);
	if (seq != c->next || v->mv_size != (size_t)len ||
	    memcmp(v->mv_data, want, (size_t)len) != 0)
		c->bad = 1;
	c->next++;
	return (0);
}

/* Is the log exactly the small records first..last? */
static void
check_log(struct fixture *fx, uint64_t first, uint64_t last)
{
	struct check	 c = { fx, first, 0 };
	MDB_txn		*txn;
	uint64_t	 f, l, n;

	log_bounds(fx, &f, &l, &n);
	assert_int_equal(f, first);
	assert_int_equal(l, last);
	assert_int_equal(n, last - first + 1);
	assert_int_equal(store_read_begin(fx->st, &txn, NULL), TP_OK);
	assert_int_equal(slog_scan(txn, fx->dbi, 0, check_cb, &c), 0);
	store_read_end(fx->st, txn);
	assert_false(c.bad);
	assert_int_equal(c.next, last + 1);
}

static void
test_writer_completes_in_order(void **state)
{
	struct fixture	*fx = *state;
	size_t		 i, n = 1000;

	for (i = 0; i < n; i++)
		submit(fx, &append_op, small_op(fx, i, i + 1), WRITER_SYNC);
	wait_done(fx, n);
	for (i = 0; i < n; i++) {
		assert_int_equal(fx->ops[i].code, TP_OK);
		assert_int_equal(fx->ops[i].order, i);
	}
	assert_int_equal(writer_pending(fx->w), 0);
	assert_int_equal(writer_pending_bytes(fx->w), 0);
	check_log(fx, 1, n);
	assert_int_equal(store_failed(fx->st), TP_OK);
}

static void
test_writer_pending_counts(void **state)
{
	struct fixture	*fx = *state;
	size_t		 i, bytes = 0;

	submit(fx, &gate_op, small_op(fx, 0, 1), WRITER_SYNC);
	bytes += fx->ops[0].len;
	wait_gate_entered(fx);
	for (i = 1; i <= 10; i++) {
		submit(fx, &append_op, small_op(fx, i, i + 1), WRITER_SYNC);
		bytes += fx->ops[i].len;
	}
	assert_int_equal(writer_pending(fx->w), 11);
	assert_int_equal(writer_pending_bytes(fx->w), bytes);
	/* Nothing is done while the gate holds the writer. */
	writer_drain(fx->w);
	assert_int_equal(fx->ndone, 0);
	assert_int_equal(writer_pending(fx->w), 11);

	open_gate(fx);
	wait_done(fx, 11);
	assert_int_equal(writer_pending(fx->w), 0);
	assert_int_equal(writer_pending_bytes(fx->w), 0);
	check_log(fx, 1, 11);
}

static void
test_writer_apply_error_fails_batch(void **state)
{
	struct fixture	*fx = *state;
	struct append	*gate, *a, *b, *c;

	gate = small_op(fx, 0, 1);
	submit(fx, &gate_op, gate, WRITER_SYNC);
	wait_gate_entered(fx);

	/* Queued behind the gate, these three are the next batch. */
	a = small_op(fx, 1, 2);
	b = small_op(fx, 2, 1);		/* not above seq 2: MDB_KEYEXIST */
	c = small_op(fx, 3, 3);
	submit(fx, &append_op, a, WRITER_SYNC);
	submit(fx, &append_op, b, WRITER_SYNC);
	submit(fx, &append_op, c, WRITER_SYNC);
	open_gate(fx);
	wait_done(fx, 4);

	assert_int_equal(gate->code, TP_OK);
	assert_int_equal(a->code, store_code(MDB_KEYEXIST));
	assert_int_equal(a->code, TP_EIO);
	assert_int_equal(b->code, TP_EIO);
	assert_int_equal(c->code, TP_EIO);
	assert_int_equal(b->order, 2);
	/* The batch was rolled back: only the gate's record is there. */
	check_log(fx, 1, 1);
	/* An operation's error is no failure of the store. */
	assert_int_equal(store_failed(fx->st), TP_OK);
}

static void
test_writer_apply_error_codes(void **state)
{
	static const struct {
		int	rc;
		int	code;
	} cases[] = {
		{ MDB_NOTFOUND, TP_ENOSTATION },
		{ MDB_CORRUPTED, TP_EIO },
		{ ENOMEM, TP_ENOMEM },
		{ EIO, TP_EIO },
		{ MDB_DBS_FULL, TP_EBUSY },
	};
	struct fixture	*fx = *state;
	struct append	*a;
	size_t		 i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		a = small_op(fx, i, i + 1);
		a->fail_rc = cases[i].rc;
		submit(fx, &append_op, a, WRITER_SYNC);
		wait_done(fx, i + 1);
		assert_int_equal(a->code, cases[i].code);
	}
	assert_int_equal(store_failed(fx->st), TP_OK);
}

static void
test_writer_works_after_error(void **state)
{
	struct fixture	*fx = *state;
	struct append	*bad;
	size_t		 i;

	submit(fx, &append_op, small_op(fx, 0, 5), WRITER_SYNC);
	wait_done(fx, 1);
	assert_int_equal(fx->ops[0].code, TP_OK);

	bad = small_op(fx, 1, 3);
	submit(fx, &append_op, bad, WRITER_SYNC);
	wait_done(fx, 2);
	assert_int_equal(bad->code, TP_EIO);

	for (i = 2; i < 102; i++)
		submit(fx, &append_op, small_op(fx, i, i + 4), WRITER_SYNC);
	wait_done(fx, 102);
	for (i = 2; i < 102; i++) {
		assert_int_equal(fx->ops[i].code, TP_OK);
		assert_int_equal(fx->ops[i].order, i);
	}
	check_log(fx, 5, 105);
}

static void
test_writer_map_full_grows(void **state)
{
	struct fixture	*fx = *state;
	uint64_t	 first, last, count;
	size_t		 i, n = 12;

	/* 12 x 256 KiB: about 3 MiB into a 1 MiB map capped at 4 MiB. */
	assert_int_equal(store_map_size(fx->st), 1 * MIB);
	for (i = 0; i < n; i++)
		submit(fx, &append_op, big_op(fx, i, i + 1, BIG_LEN),
		    WRITER_SYNC);
	wait_done(fx, n);
	for (i = 0; i < n; i++) {
		assert_int_equal(fx->ops[i].code, TP_OK);
		assert_int_equal(fx->ops[i].order, i);
	}
	assert_true(store_map_size(fx->st) > 1 * MIB);
	assert_true(store_map_size(fx->st) <= 4 * MIB);
	log_bounds(fx, &first, &last, &count);
	assert_int_equal(first, 1);
	assert_int_equal(last, n);
	assert_int_equal(count, n);
	assert_int_equal(store_failed(fx->st), TP_OK);
}

static void
test_writer_map_full_enospc(void **state)
{
	struct fixture	*fx = *state;
	struct append	*big, *after;
	uint64_t	 first, last, count;
	size_t		 i, n = 12;

	for (i = 0; i < n; i++)
		submit(fx, &append_op, big_op(fx, i, i + 1, BIG_LEN),
		    WRITER_SYNC);
	wait_done(fx, n);
	for (i = 0; i < n; i++)
		assert_int_equal(fx->ops[i].code, TP_OK);

	/* 2 MiB more cannot fit under the 4 MiB cap. */
	big = big_op(fx, n, n + 1, 8 * BIG_LEN);
	submit(fx, &append_op, big, WRITER_SYNC);
	wait_done(fx, n + 1);
	assert_int_equal(big->code, TP_ENOSPC);
	assert_int_equal(store_map_size(fx->st), 4 * MIB);
	log_bounds(fx, &first, &last, &count);
	assert_int_equal(last, n);
	assert_int_equal(count, n);

	/* Full is no failure: a small append still fits and succeeds. */
	after = small_op(fx, n + 1, n + 1);
	submit(fx, &append_op, after, WRITER_SYNC);
	wait_done(fx, n + 2);
	assert_int_equal(after->code, TP_OK);
	log_bounds(fx, &first, &last, &count);
	assert_int_equal(last, n + 1);
}

static void
test_writer_map_full_small_records(void **state)
{
	struct fixture	*fx = *state;
	struct append	*a;
	uint64_t	 first, last, count;
	size_t		 i, n = OPS_MAX;

	/*
	 * 2000 records of 1000 bytes, one transaction each, into a 1 MiB
	 * map capped at 4 MiB. With small records the map tends to fill
	 * while LMDB saves its free list in mdb_txn_commit(), not inside
	 * apply: that MDB_MAP_FULL must grow the map too, not fail the
	 * store.
	 */
	for (i = 0; i < n; i++) {
		a = big_op(fx, i, i + 1, 1000);
		submit(fx, &append_op, a, WRITER_NOSYNC);
		wait_done(fx, i + 1);
		if (a->code != TP_OK)
			fail_msg("append %zu of %zu (map %llu bytes): %d, "
			    "store failed %d", i + 1, n,
			    (unsigned long long)store_map_size(fx->st),
			    a->code, store_failed(fx->st));
	}
	assert_int_equal(store_failed(fx->st), TP_OK);
	assert_true(store_map_size(fx->st) > 1 * MIB);
	log_bounds(fx, &first, &last, &count);
	assert_int_equal(last, n);
	assert_int_equal(count, n);
}

static void
test_writer_close_finishes_queued(void **state)
{
	struct fixture	*fx = *state;
	struct writer	*w = fx->w;
	size_t		 i, n = 500;

	for (i = 0; i < n; i++)
		submit(fx, &append_op, small_op(fx, i, i + 1),
		    i % 2 ? WRITER_SYNC : WRITER_NOSYNC);
	fx->w = NULL;
	writer_close(w);
	/* Every done callback ran, in order, from writer_close(). */
	assert_int_equal(fx->ndone, n);
	for (i = 0; i < n; i++) {
		assert_int_equal(fx->ops[i].code, TP_OK);
		assert_int_equal(fx->ops[i].order, i);
	}
	check_log(fx, 1, n);
}

static void
test_writer_close_flushes_to_disk(void **state)
{
	struct fixture		*fx = *state;
	struct store_opts	 opts = { 64 * MIB, 0, 8, 1 << 20 };
	size_t			 i, n = 50;
	MDB_txn			*txn;

	for (i = 0; i < n; i++)
		submit(fx, &append_op, small_op(fx, i, i + 1), WRITER_NOSYNC);
	writer_close(fx->w);
	fx->w = NULL;
	assert_int_equal(fx->ndone, n);

	/* Reopened, the store has everything. */
	store_close(fx->st);
	fx->st = NULL;
	assert_int_equal(store_open(fx->dir, &opts, &fx->st, NULL), TP_OK);
	assert_int_equal(mdb_txn_begin(store_env(fx->st), NULL, 0, &txn), 0);
	assert_int_equal(slog_open(txn, "orders", 0, &fx->dbi), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	check_log(fx, 1, n);
}

static void
test_writer_nosync(void **state)
{
	struct fixture	*fx = *state;
	size_t		 i, n = 300;

	for (i = 0; i < n; i++)
		submit(fx, &append_op, small_op(fx, i, i + 1), WRITER_NOSYNC);
	wait_done(fx, n);
	for (i = 0; i < n; i++) {
		assert_int_equal(fx->ops[i].code, TP_OK);
		assert_int_equal(fx->ops[i].order, i);
	}
	check_log(fx, 1, n);

	/* A sync operation after unsynced commits completes too. */
	submit(fx, &append_op, small_op(fx, n, n + 1), WRITER_SYNC);
	wait_done(fx, n + 1);
	assert_int_equal(fx->ops[n].code, TP_OK);
	check_log(fx, 1, n + 1);
}

static void
test_writer_failed_store_refuses(void **state)
{
	struct fixture	*fx = *state;
	struct append	*a;
	uint64_t	 first, last, count;

	store_fail(fx->st, TP_EIO, "test");
	a = small_op(fx, 0, 1);
	submit(fx, &append_op, a, WRITER_SYNC);
	wait_done(fx, 1);
	assert_int_equal(a->code, TP_EIO);
	assert_int_equal(a->applied, 0);
	log_bounds(fx, &first, &last, &count);
	assert_int_equal(count, 0);
}

#define T(f)		cmocka_unit_test_setup_teardown(f, setup, teardown)
#define T_SMALL(f)	cmocka_unit_test_setup_teardown(f, setup_small, \
			    teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_writer_completes_in_order),
		T(test_writer_pending_counts),
		T(test_writer_apply_error_fails_batch),
		T(test_writer_apply_error_codes),
		T(test_writer_works_after_error),
		T_SMALL(test_writer_map_full_grows),
		T_SMALL(test_writer_map_full_enospc),
		T_SMALL(test_writer_map_full_small_records),
		T(test_writer_close_finishes_queued),
		T(test_writer_close_flushes_to_disk),
		T(test_writer_nosync),
		T(test_writer_failed_store_refuses),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
