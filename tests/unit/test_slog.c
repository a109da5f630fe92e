/*
 * Unit tests of storage/slog on a real LMDB environment in a mkdtemp
 * directory: creating a station log, batch appends with MDB_APPEND (and
 * their refusal of a seq that does not grow), scans from a seq, a gap or
 * past the end, bounds and drop.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tmpdir.h"

#include "proto/error.h"
#include "storage/slog.h"
#include "storage/store.h"

#define MIB		(1024ULL * 1024)
#define SCAN_MAX	1024

struct fixture {
	char		 base[256];	/* mkdtemp directory */
	char		 dir[512];	/* data dir inside base */
	struct store	*st;		/* owned */
	MDB_txn		*txn;		/* write txn of the test, or NULL */
};

/* What a scan saw. */
struct seen {
	uint64_t	seqs[SCAN_MAX];
	size_t		n;
	size_t		stop_after;	/* 0: never stop */
	int		bad;		/* a value did not match its seq */
};

static int
fixture_open(struct fixture *fx)
{
	struct store_opts	opts = { 16 * MIB, 0, 8, 1 << 20 };

	return (store_open(fx->dir, &opts, &fx->st, NULL));
}

static int
setup(void **state)
{
	struct fixture	*fx;

	if ((fx = calloc(1, sizeof *fx)) == NULL)
		return (-1);
	if (tmpdir_make(fx->base, sizeof fx->base) != 0) {
		free(fx);
		return (-1);
	}
	snprintf(fx->dir, sizeof fx->dir, "%s/data", fx->base);
	if (fixture_open(fx) != TP_OK) {
		tmpdir_remove(fx->base);
		free(fx);
		return (-1);
	}
	*state = fx;
	return (0);
}

static int
teardown(void **state)
{
	struct fixture	*fx = *state;

	if (fx->txn != NULL)
		mdb_txn_abort(fx->txn);
	store_close(fx->st);
	tmpdir_remove(fx->base);
	free(fx);
	return (0);
}

static MDB_txn *
begin(struct fixture *fx)
{
	assert_null(fx->txn);
	assert_int_equal(mdb_txn_begin(store_env(fx->st), NULL, 0, &fx->txn),
	    0);
	return (fx->txn);
}

static void
commit(struct fixture *fx)
{
	assert_int_equal(mdb_txn_commit(fx->txn), 0);
	fx->txn = NULL;
}

static void
abort_txn(struct fixture *fx)
{
	mdb_txn_abort(fx->txn);
	fx->txn = NULL;
}

/* The stored value of seq in these tests. */
static size_t
value_of(uint64_t seq, char *buf, size_t len)
{
	return ((size_t)snprintf(buf, len, "record %llu",
	    (unsigned long long)seq));
}

/* Append seqs first..first+n-1 in one slog_append() call. */
static int
append(MDB_txn *txn, MDB_dbi dbi, uint64_t first, size_t n)
{
	uint8_t		*buf;
	uint32_t	*lens;
	size_t		 i, off = 0;
	int		 rc;

	buf = malloc(n * 32);
	lens = calloc(n, sizeof *lens);
	assert_non_null(buf);
	assert_non_null(lens);
	for (i = 0; i < n; i++) {
		lens[i] = (uint32_t)value_of(first + i, (char *)buf + off, 32);
		off += lens[i];
	}
	rc = slog_append(txn, dbi, "s", first, buf, lens, n);
	free(lens);
	free(buf);
	return (rc);
}

static int
seen_cb(void *arg, uint64_t seq, const MDB_val *v)
{
	struct seen	*s = arg;
	char		 want[32];
	size_t		 len;

	len = value_of(seq, want, sizeof want);
	if (v->mv_size != len || memcmp(v->mv_data, want, len) != 0)
		s->bad = 1;
	if (s->n < SCAN_MAX)
		s->seqs[s->n] = seq;
	s->n++;
	return (s->stop_after != 0 && s->n >= s->stop_after);
}

static void
scan(MDB_txn *txn, MDB_dbi dbi, uint64_t from, struct seen *s)
{
	size_t	stop_after = s->stop_after;

	memset(s, 0, sizeof *s);
	s->stop_after = stop_after;
	assert_int_equal(slog_scan(txn, dbi, from, seen_cb, s), 0);
	assert_false(s->bad);
}

/* Open (creating) the log of station and commit; returns its handle. */
static MDB_dbi
create_log(struct fixture *fx, const char *station)
{
	MDB_dbi	dbi;

	assert_int_equal(slog_open(begin(fx), station, 1, &dbi), 0);
	commit(fx);
	return (dbi);
}

static void
test_slog_key_encoding(void **state)
{
	uint8_t	k[8];
	MDB_val	v;

	(void)state;
	slog_key_put(k, 0x0102030405060708ULL);
	assert_memory_equal(k, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	v.mv_data = k;
	v.mv_size = sizeof k;
	assert_true(slog_key_get(&v) == 0x0102030405060708ULL);
	slog_key_put(k, UINT64_MAX);
	assert_true(slog_key_get(&v) == UINT64_MAX);
	slog_key_put(k, 0);
	assert_true(slog_key_get(&v) == 0);

	/* Byte order is seq order. */
	slog_key_put(k, 255);
	assert_memory_equal(k, "\0\0\0\0\0\0\0\xff", 8);
	slog_key_put(k, 256);
	assert_memory_equal(k, "\0\0\0\0\0\0\x01\0", 8);

	/* A key of another size is no seq. */
	v.mv_size = 4;
	assert_true(slog_key_get(&v) == 0);
}

static void
test_slog_open_create(void **state)
{
	struct fixture	*fx = *state;
	MDB_dbi		 dbi;
	uint64_t	 first, last, count;
	char		 name[TP_NAME_MAX + 1];

	/* Without create, a missing log is MDB_NOTFOUND. */
	assert_int_equal(slog_open(begin(fx), "orders", 0, &dbi),
	    MDB_NOTFOUND);
	abort_txn(fx);

	assert_int_equal(slog_open(begin(fx), "orders", 1, &dbi), 0);
	commit(fx);
	assert_int_equal(slog_open(begin(fx), "orders", 0, &dbi), 0);
	assert_int_equal(slog_bounds(fx->txn, dbi, &first, &last, &count), 0);
	assert_int_equal(count, 0);
	abort_txn(fx);

	/* A name of TP_NAME_MAX bytes fits. */
	memset(name, 'n', TP_NAME_MAX);
	name[TP_NAME_MAX] = '\0';
	assert_int_equal(slog_open(begin(fx), name, 1, &dbi), 0);
	commit(fx);
	assert_int_equal(slog_open(begin(fx), name, 0, &dbi), 0);
	abort_txn(fx);
}

static void
test_slog_append_batches(void **state)
{
	struct fixture	*fx = *state;
	struct seen	 s = { .stop_after = 0 };
	MDB_dbi		 dbi;
	uint64_t	 first, last, count, seq;
	size_t		 i;

	dbi = create_log(fx, "orders");
	/* Ten batches of ten, two transactions. */
	begin(fx);
	for (seq = 1; seq <= 50; seq += 10)
		assert_int_equal(append(fx->txn, dbi, seq, 10), 0);
	commit(fx);
	begin(fx);
	for (seq = 51; seq <= 100; seq += 10)
		assert_int_equal(append(fx->txn, dbi, seq, 10), 0);
	commit(fx);

	begin(fx);
	assert_int_equal(slog_bounds(fx->txn, dbi, &first, &last, &count), 0);
	assert_int_equal(first, 1);
	assert_int_equal(last, 100);
	assert_int_equal(count, 100);
	scan(fx->txn, dbi, 1, &s);
	assert_int_equal(s.n, 100);
	for (i = 0; i < s.n; i++)
		assert_int_equal(s.seqs[i], i + 1);
	abort_txn(fx);
}

static void
test_slog_append_one_call(void **state)
{
	struct fixture	*fx = *state;
	struct seen	 s = { .stop_after = 0 };
	MDB_dbi		 dbi;
	size_t		 i;

	/* 1000 records in one call cross many pages and byte boundaries. */
	dbi = create_log(fx, "orders");
	assert_int_equal(append(begin(fx), dbi, 1, 1000), 0);
	commit(fx);
	begin(fx);
	scan(fx->txn, dbi, 0, &s);
	assert_int_equal(s.n, 1000);
	for (i = 0; i < SCAN_MAX && i < s.n; i++)
		assert_int_equal(s.seqs[i], i + 1);
	abort_txn(fx);
}

static void
test_slog_append_lower_seq(void **state)
{
	struct fixture	*fx = *state;
	struct seen	 s = { .stop_after = 0 };
	MDB_dbi		 dbi;
	uint64_t	 first, last, count;

	dbi = create_log(fx, "orders");
	assert_int_equal(append(begin(fx), dbi, 1, 5), 0);
	commit(fx);

	/* Lower than the last, or equal to it: MDB_APPEND refuses. */
	assert_int_equal(append(begin(fx), dbi, 3, 1), MDB_KEYEXIST);
	abort_txn(fx);
	assert_int_equal(append(begin(fx), dbi, 5, 1), MDB_KEYEXIST);
	abort_txn(fx);
	assert_int_equal(append(begin(fx), dbi, 1, 10), MDB_KEYEXIST);
	abort_txn(fx);

	/* Within one transaction too. */
	begin(fx);
	assert_int_equal(append(fx->txn, dbi, 10, 2), 0);
	assert_int_equal(append(fx->txn, dbi, 8, 1), MDB_KEYEXIST);
	abort_txn(fx);

	/* Nothing of the refused appends is there. */
	begin(fx);
	assert_int_equal(slog_bounds(fx->txn, dbi, &first, &last, &count), 0);
	assert_int_equal(first, 1);
	assert_int_equal(last, 5);
	assert_int_equal(count, 5);
	scan(fx->txn, dbi, 0, &s);
	assert_int_equal(s.n, 5);
	abort_txn(fx);
}

static void
test_slog_scan_from_seq(void **state)
{
	struct fixture	*fx = *state;
	struct seen	 s = { .stop_after = 0 };
	MDB_dbi		 dbi;
	size_t		 i;

	dbi = create_log(fx, "orders");
	assert_int_equal(append(begin(fx), dbi, 1, 300), 0);
	commit(fx);
	begin(fx);
	scan(fx->txn, dbi, 40, &s);
	assert_int_equal(s.n, 261);
	for (i = 0; i < s.n; i++)
		assert_int_equal(s.seqs[i], 40 + i);
	scan(fx->txn, dbi, 300, &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.seqs[0], 300);
	/* Across the byte boundary of the key. */
	scan(fx->txn, dbi, 255, &s);
	assert_int_equal(s.n, 46);
	assert_int_equal(s.seqs[0], 255);
	assert_int_equal(s.seqs[1], 256);
	abort_txn(fx);
}

static void
test_slog_scan_from_gap(void **state)
{
	struct fixture	*fx = *state;
	struct seen	 s = { .stop_after = 0 };
	MDB_dbi		 dbi;

	dbi = create_log(fx, "orders");
	begin(fx);
	assert_int_equal(append(fx->txn, dbi, 1, 5), 0);
	assert_int_equal(append(fx->txn, dbi, 10, 3), 0);
	commit(fx);
	begin(fx);
	scan(fx->txn, dbi, 7, &s);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.seqs[0], 10);
	assert_int_equal(s.seqs[1], 11);
	assert_int_equal(s.seqs[2], 12);
	scan(fx->txn, dbi, 6, &s);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.seqs[0], 10);
	scan(fx->txn, dbi, 0, &s);
	assert_int_equal(s.n, 8);
	assert_int_equal(s.seqs[4], 5);
	assert_int_equal(s.seqs[5], 10);
	abort_txn(fx);
}

static void
test_slog_scan_past_end(void **state)
{
	struct fixture	*fx = *state;
	struct seen	 s = { .stop_after = 0 };
	MDB_dbi		 dbi;

	dbi = create_log(fx, "orders");
	begin(fx);
	scan(fx->txn, dbi, 0, &s);
	assert_int_equal(s.n, 0);
	scan(fx->txn, dbi, 1, &s);
	assert_int_equal(s.n, 0);
	assert_int_equal(append(fx->txn, dbi, 1, 20), 0);
	commit(fx);
	begin(fx);
	scan(fx->txn, dbi, 21, &s);
	assert_int_equal(s.n, 0);
	scan(fx->txn, dbi, UINT64_MAX, &s);
	assert_int_equal(s.n, 0);
	abort_txn(fx);
}

static void
test_slog_scan_stops(void **state)
{
	struct fixture	*fx = *state;
	struct seen	 s = { .stop_after = 3 };
	MDB_dbi		 dbi;

	dbi = create_log(fx, "orders");
	assert_int_equal(append(begin(fx), dbi, 1, 20), 0);
	commit(fx);
	begin(fx);
	scan(fx->txn, dbi, 5, &s);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.seqs[0], 5);
	assert_int_equal(s.seqs[2], 7);
	abort_txn(fx);
}

static void
test_slog_bounds_empty(void **state)
{
	struct fixture	*fx = *state;
	MDB_dbi		 dbi;
	uint64_t	 first = 9, last = 9, count = 9;

	dbi = create_log(fx, "orders");
	begin(fx);
	assert_int_equal(slog_bounds(fx->txn, dbi, &first, &last, &count), 0);
	assert_int_equal(first, 0);
	assert_int_equal(last, 0);
	assert_int_equal(count, 0);
	abort_txn(fx);
}

static void
test_slog_bounds_filled(void **state)
{
	struct fixture	*fx = *state;
	MDB_dbi		 dbi;
	MDB_val		 k;
	uint8_t		 key[8];
	uint64_t	 first, last, count;

	dbi = create_log(fx, "orders");
	begin(fx);
	assert_int_equal(append(fx->txn, dbi, 1, 5), 0);
	assert_int_equal(append(fx->txn, dbi, 10, 3), 0);
	/* Bounds see the transaction's own writes. */
	assert_int_equal(slog_bounds(fx->txn, dbi, &first, &last, &count), 0);
	assert_int_equal(first, 1);
	assert_int_equal(last, 12);
	assert_int_equal(count, 8);
	commit(fx);

	/* Retention removed the oldest: first moves. */
	slog_key_put(key, 1);
	k.mv_data = key;
	k.mv_size = sizeof key;
	assert_int_equal(mdb_del(begin(fx), dbi, &k, NULL), 0);
	commit(fx);
	begin(fx);
	assert_int_equal(slog_bounds(fx->txn, dbi, &first, &last, &count), 0);
	assert_int_equal(first, 2);
	assert_int_equal(last, 12);
	assert_int_equal(count, 7);
	abort_txn(fx);
}

static void
test_slog_large_seqs(void **state)
{
	struct fixture	*fx = *state;
	struct seen	 s = { .stop_after = 0 };
	MDB_dbi		 dbi;
	uint64_t	 first, last, count;

	dbi = create_log(fx, "orders");
	begin(fx);
	assert_int_equal(append(fx->txn, dbi, 1, 1), 0);
	assert_int_equal(append(fx->txn, dbi, (1ULL << 32) - 1, 2), 0);
	assert_int_equal(append(fx->txn, dbi, UINT64_MAX - 2, 3), 0);
	commit(fx);
	begin(fx);
	assert_int_equal(slog_bounds(fx->txn, dbi, &first, &last, &count), 0);
	assert_int_equal(first, 1);
	assert_true(last == UINT64_MAX);
	assert_int_equal(count, 6);
	scan(fx->txn, dbi, 2, &s);
	assert_int_equal(s.n, 5);
	assert_true(s.seqs[0] == (1ULL << 32) - 1);
	assert_true(s.seqs[1] == 1ULL << 32);
	assert_true(s.seqs[4] == UINT64_MAX);
	abort_txn(fx);
}

static void
test_slog_logs_are_separate(void **state)
{
	struct fixture	*fx = *state;
	struct seen	 s = { .stop_after = 0 };
	MDB_dbi		 a, b;

	a = create_log(fx, "a");
	b = create_log(fx, "ab");
	begin(fx);
	assert_int_equal(append(fx->txn, a, 1, 10), 0);
	assert_int_equal(append(fx->txn, b, 100, 2), 0);
	/* Each log has its own seqs: a low seq in b is fine. */
	commit(fx);
	begin(fx);
	scan(fx->txn, a, 0, &s);
	assert_int_equal(s.n, 10);
	scan(fx->txn, b, 0, &s);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.seqs[0], 100);
	abort_txn(fx);
}

static void
test_slog_drop(void **state)
{
	struct fixture	*fx = *state;
	struct seen	 s = { .stop_after = 0 };
	MDB_dbi		 dbi, other;
	uint64_t	 first, last, count;

	dbi = create_log(fx, "orders");
	other = create_log(fx, "other");
	begin(fx);
	assert_int_equal(append(fx->txn, dbi, 1, 50), 0);
	assert_int_equal(append(fx->txn, other, 1, 5), 0);
	commit(fx);

	assert_int_equal(slog_drop(begin(fx), dbi), 0);
	commit(fx);

	assert_int_equal(slog_open(begin(fx), "orders", 0, &dbi),
	    MDB_NOTFOUND);
	abort_txn(fx);

	/* Another station's log is untouched. */
	begin(fx);
	scan(fx->txn, other, 0, &s);
	assert_int_equal(s.n, 5);
	abort_txn(fx);

	/* Created again, the log starts empty. */
	dbi = create_log(fx, "orders");
	begin(fx);
	assert_int_equal(slog_bounds(fx->txn, dbi, &first, &last, &count), 0);
	assert_int_equal(count, 0);
	assert_int_equal(append(fx->txn, dbi, 1, 1), 0);
	commit(fx);
}

static void
test_slog_drop_aborted(void **state)
{
	struct fixture	*fx = *state;
	MDB_dbi		 dbi;
	uint64_t	 first, last, count;

	dbi = create_log(fx, "orders");
	assert_int_equal(append(begin(fx), dbi, 1, 5), 0);
	commit(fx);
	assert_int_equal(slog_drop(begin(fx), dbi), 0);
	abort_txn(fx);

	/* An aborted drop leaves the log as it was. */
	assert_int_equal(slog_open(begin(fx), "orders", 0, &dbi), 0);
	assert_int_equal(slog_bounds(fx->txn, dbi, &first, &last, &count), 0);
	assert_int_equal(count, 5);
	abort_txn(fx);
}

static void
test_slog_survives_reopen(void **state)
{
	struct fixture	*fx = *state;
	struct seen	 s = { .stop_after = 0 };
	MDB_dbi		 dbi;

	dbi = create_log(fx, "orders");
	assert_int_equal(append(begin(fx), dbi, 1, 42), 0);
	commit(fx);
	store_close(fx->st);
	fx->st = NULL;
	assert_int_equal(fixture_open(fx), TP_OK);

	assert_int_equal(slog_open(begin(fx), "orders", 0, &dbi), 0);
	scan(fx->txn, dbi, 0, &s);
	assert_int_equal(s.n, 42);
	assert_int_equal(append(fx->txn, dbi, 43, 1), 0);
	assert_int_equal(append(fx->txn, dbi, 42, 1), MDB_KEYEXIST);
	abort_txn(fx);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slog_key_encoding),
		T(test_slog_open_create),
		T(test_slog_append_batches),
		T(test_slog_append_one_call),
		T(test_slog_append_lower_seq),
		T(test_slog_scan_from_seq),
		T(test_slog_scan_from_gap),
		T(test_slog_scan_past_end),
		T(test_slog_scan_stops),
		T(test_slog_bounds_empty),
		T(test_slog_bounds_filled),
		T(test_slog_large_seqs),
		T(test_slog_logs_are_separate),
		T(test_slog_drop),
		T(test_slog_drop_aborted),
		T(test_slog_survives_reopen),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
