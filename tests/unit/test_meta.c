/*
 * Unit tests of storage/meta on a real LMDB environment in a mkdtemp
 * directory: station configs in name order, counters that read as zero
 * when missing, group positions per station (a station never sees the
 * groups of another whose name it prefixes), and station deletion.
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
#include "storage/meta.h"
#include "storage/store.h"

#define MIB		(1024ULL * 1024)
#define SEEN_MAX	1024

struct fixture {
	char		 base[256];	/* mkdtemp directory */
	char		 dir[512];	/* data dir inside base */
	struct store	*st;		/* owned */
	MDB_txn		*txn;		/* write txn of the test, or NULL */
	MDB_dbi		 meta;
};

/* What a loader visited: names (owned) and one number of each. */
struct seen {
	char		*names[SEEN_MAX];
	uint64_t	 values[SEEN_MAX];
	size_t		 acked[SEEN_MAX];
	int64_t		 created[SEEN_MAX];
	size_t		 n;
	size_t		 stop_after;	/* 0: never stop */
};

static int
setup(void **state)
{
	struct fixture		*fx;
	struct store_opts	 opts = { 64 * MIB, 0, 8, 1 << 20 };

	if ((fx = calloc(1, sizeof *fx)) == NULL)
		return (-1);
	if (tmpdir_make(fx->base, sizeof fx->base) != 0) {
		free(fx);
		return (-1);
	}
	snprintf(fx->dir, sizeof fx->dir, "%s/data", fx->base);
	if (store_open(fx->dir, &opts, &fx->st, NULL) != TP_OK) {
		tmpdir_remove(fx->base);
		free(fx);
		return (-1);
	}
	fx->meta = store_meta(fx->st);
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

static void
seen_clear(struct seen *s)
{
	size_t	i;

	for (i = 0; i < s->n && i < SEEN_MAX; i++)
		free(s->names[i]);
	memset(s, 0, sizeof *s);
}

static int
seen_add(struct seen *s, const char *name, uint64_t value, size_t acked,
    int64_t created)
{
	if (s->n < SEEN_MAX) {
		s->names[s->n] = strdup(name);
		s->values[s->n] = value;
		s->acked[s->n] = acked;
		s->created[s->n] = created;
	}
	s->n++;
	return (s->stop_after != 0 && s->n >= s->stop_after);
}

static int
seen_station_cb(void *arg, const Tupelo__StationConfig *c)
{
	return (seen_add(arg, c->name, c->retention_messages, 0,
	    c->created_ns));
}

static int
seen_group_cb(void *arg, const char *name, const Tupelo__GroupState *g)
{
	return (seen_add(arg, name, g->ack_floor, g->n_acked, g->created_ns));
}

static void
put_station(MDB_txn *txn, MDB_dbi meta, const char *name, uint64_t n)
{
	Tupelo__StationConfig	c = TUPELO__STATION_CONFIG__INIT;

	c.name = (char *)name;
	c.retention_messages = n;
	c.created_ns = (int64_t)n * 1000;
	assert_int_equal(meta_station_put(txn, meta, &c), 0);
}

static void
put_stats(MDB_txn *txn, MDB_dbi meta, const char *name, uint64_t n)
{
	Tupelo__StationStats	s = TUPELO__STATION_STATS__INIT;

	s.last_seq = n;
	s.bytes = n * 100;
	s.removed = n / 2;
	assert_int_equal(meta_stats_put(txn, meta, name, &s), 0);
}

static void
put_group(MDB_txn *txn, MDB_dbi meta, const char *station,
    const char *group, uint64_t floor)
{
	Tupelo__GroupState	g = TUPELO__GROUP_STATE__INIT;
	uint64_t		acked[2];

	acked[0] = floor + 2;
	acked[1] = floor + 5;
	g.ack_floor = floor;
	g.n_acked = 2;
	g.acked = acked;
	g.created_ns = 77;
	assert_int_equal(meta_group_put(txn, meta, station, group, &g), 0);
}

static void
load_groups(struct fixture *fx, const char *station, struct seen *s)
{
	seen_clear(s);
	assert_int_equal(meta_group_load(fx->txn, fx->meta, station,
	    seen_group_cb, s), 0);
}

static void
test_meta_station_put_exists(void **state)
{
	struct fixture	*fx = *state;

	begin(fx);
	assert_int_equal(meta_station_exists(fx->txn, fx->meta, "orders"), 0);
	put_station(fx->txn, fx->meta, "orders", 1);
	assert_int_equal(meta_station_exists(fx->txn, fx->meta, "orders"), 1);
	commit(fx);

	begin(fx);
	assert_int_equal(meta_station_exists(fx->txn, fx->meta, "orders"), 1);
	assert_int_equal(meta_station_exists(fx->txn, fx->meta, "order"), 0);
	assert_int_equal(meta_station_exists(fx->txn, fx->meta, "orders2"),
	    0);
	assert_int_equal(meta_station_exists(fx->txn, fx->meta, "other"), 0);
	abort_txn(fx);
}

static void
test_meta_station_load_order(void **state)
{
	struct fixture	*fx = *state;
	struct seen	 s;
	static const char *const put[] = { "b", "ab", "a.b", "c", "a", "a-b",
	    "a0", "0" };
	static const char *const want[] = { "0", "a", "a-b", "a.b", "a0",
	    "ab", "b", "c" };
	size_t		 i;

	memset(&s, 0, sizeof s);
	begin(fx);
	for (i = 0; i < sizeof put / sizeof put[0]; i++)
		put_station(fx->txn, fx->meta, put[i], i + 1);
	/* Stats and groups are no stations. */
	put_stats(fx->txn, fx->meta, "a", 5);
	put_group(fx->txn, fx->meta, "a", "g", 5);
	commit(fx);

	begin(fx);
	assert_int_equal(meta_station_load(fx->txn, fx->meta,
	    seen_station_cb, &s), 0);
	assert_int_equal(s.n, sizeof want / sizeof want[0]);
	for (i = 0; i < s.n; i++)
		assert_string_equal(s.names[i], want[i]);
	/* Each config is the one put under its name. */
	assert_int_equal(s.values[1], 5);
	assert_int_equal(s.created[1], 5000);
	assert_int_equal(s.values[6], 1);
	abort_txn(fx);
	seen_clear(&s);
}

static void
test_meta_station_load_empty(void **state)
{
	struct fixture	*fx = *state;
	struct seen	 s;

	memset(&s, 0, sizeof s);
	begin(fx);
	assert_int_equal(meta_station_load(fx->txn, fx->meta,
	    seen_station_cb, &s), 0);
	assert_int_equal(s.n, 0);
	abort_txn(fx);
}

static void
test_meta_station_load_stops(void **state)
{
	struct fixture	*fx = *state;
	struct seen	 s;

	memset(&s, 0, sizeof s);
	s.stop_after = 2;
	begin(fx);
	put_station(fx->txn, fx->meta, "a", 1);
	put_station(fx->txn, fx->meta, "b", 2);
	put_station(fx->txn, fx->meta, "c", 3);
	meta_station_load(fx->txn, fx->meta, seen_station_cb, &s);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.names[1], "b");
	abort_txn(fx);
	seen_clear(&s);
}

static void
test_meta_station_fields(void **state)
{
	struct fixture		*fx = *state;
	Tupelo__StationConfig	 c = TUPELO__STATION_CONFIG__INIT, *got;
	MDB_val			 k, v;

	c.name = "orders";
	c.retention_age_s = 86400;
	c.retention_messages = 1000000;
	c.retention_bytes = 1ULL << 40;
	c.retention_ack = 1;
	c.durability = 2;
	c.max_message_size = 4 * 1024 * 1024;
	c.created_ns = 1700000000123456789LL;
	begin(fx);
	assert_int_equal(meta_station_put(fx->txn, fx->meta, &c), 0);
	commit(fx);

	/* Stored as the protobuf StationConfig under "station/<name>". */
	begin(fx);
	k.mv_data = "station/orders";
	k.mv_size = strlen("station/orders");
	assert_int_equal(mdb_get(fx->txn, fx->meta, &k, &v), 0);
	got = tupelo__station_config__unpack(NULL, v.mv_size, v.mv_data);
	assert_non_null(got);
	assert_string_equal(got->name, "orders");
	assert_int_equal(got->retention_age_s, 86400);
	assert_int_equal(got->retention_messages, 1000000);
	assert_true(got->retention_bytes == 1ULL << 40);
	assert_int_equal(got->retention_ack, 1);
	assert_int_equal(got->durability, 2);
	assert_int_equal(got->max_message_size, 4 * 1024 * 1024);
	assert_true(got->created_ns == 1700000000123456789LL);
	tupelo__station_config__free_unpacked(got, NULL);
	abort_txn(fx);
}

static void
test_meta_station_put_replaces(void **state)
{
	struct fixture	*fx = *state;
	struct seen	 s;

	memset(&s, 0, sizeof s);
	begin(fx);
	put_station(fx->txn, fx->meta, "orders", 1);
	commit(fx);
	begin(fx);
	put_station(fx->txn, fx->meta, "orders", 2);
	commit(fx);
	begin(fx);
	assert_int_equal(meta_station_load(fx->txn, fx->meta,
	    seen_station_cb, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.names[0], "orders");
	assert_int_equal(s.values[0], 2);
	abort_txn(fx);
	seen_clear(&s);
}

static void
test_meta_stats_missing(void **state)
{
	struct fixture		*fx = *state;
	Tupelo__StationStats	 out;

	memset(&out, 0xa5, sizeof out);
	begin(fx);
	assert_int_equal(meta_stats_get(fx->txn, fx->meta, "nothing", &out),
	    0);
	assert_int_equal(out.last_seq, 0);
	assert_int_equal(out.bytes, 0);
	assert_int_equal(out.removed, 0);
	/* out is a valid message: it can be packed. */
	assert_int_equal(tupelo__station_stats__get_packed_size(&out), 0);
	abort_txn(fx);
}

static void
test_meta_stats_put_get(void **state)
{
	struct fixture		*fx = *state;
	Tupelo__StationStats	 out;

	begin(fx);
	put_stats(fx->txn, fx->meta, "a", 10);
	put_stats(fx->txn, fx->meta, "ab", 20);
	commit(fx);

	begin(fx);
	assert_int_equal(meta_stats_get(fx->txn, fx->meta, "a", &out), 0);
	assert_int_equal(out.last_seq, 10);
	assert_int_equal(out.bytes, 1000);
	assert_int_equal(out.removed, 5);
	assert_int_equal(meta_stats_get(fx->txn, fx->meta, "ab", &out), 0);
	assert_int_equal(out.last_seq, 20);
	/* Rewritten with every append. */
	put_stats(fx->txn, fx->meta, "a", UINT32_MAX + 1ULL);
	commit(fx);

	begin(fx);
	assert_int_equal(meta_stats_get(fx->txn, fx->meta, "a", &out), 0);
	assert_true(out.last_seq == UINT32_MAX + 1ULL);
	assert_int_equal(meta_stats_get(fx->txn, fx->meta, "b", &out), 0);
	assert_int_equal(out.last_seq, 0);
	abort_txn(fx);
}

static void
test_meta_group_put_load(void **state)
{
	struct fixture	*fx = *state;
	struct seen	 s;

	memset(&s, 0, sizeof s);
	begin(fx);
	put_group(fx->txn, fx->meta, "a", "billing", 10);
	put_group(fx->txn, fx->meta, "a", "audit", 20);
	put_group(fx->txn, fx->meta, "a.b", "x", 30);
	put_group(fx->txn, fx->meta, "ab", "y", 40);
	put_group(fx->txn, fx->meta, "a-b", "z", 50);
	commit(fx);

	begin(fx);
	load_groups(fx, "a", &s);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.names[0], "audit");
	assert_int_equal(s.values[0], 20);
	assert_string_equal(s.names[1], "billing");
	assert_int_equal(s.values[1], 10);
	assert_int_equal(s.acked[1], 2);
	assert_int_equal(s.created[1], 77);

	load_groups(fx, "a.b", &s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.names[0], "x");
	load_groups(fx, "ab", &s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.names[0], "y");
	load_groups(fx, "b", &s);
	assert_int_equal(s.n, 0);
	abort_txn(fx);
	seen_clear(&s);
}

static void
test_meta_group_state_fields(void **state)
{
	struct fixture		*fx = *state;
	Tupelo__GroupState	 g = TUPELO__GROUP_STATE__INIT, *got;
	uint64_t		 acked[100];
	char			 key[64];
	MDB_val			 k, v;
	size_t			 i;

	for (i = 0; i < 100; i++)
		acked[i] = 1000 + i * 3;
	g.ack_floor = 999;
	g.n_acked = 100;
	g.acked = acked;
	g.created_ns = -5;
	begin(fx);
	assert_int_equal(meta_group_put(fx->txn, fx->meta, "orders", "billing",
	    &g), 0);
	commit(fx);

	begin(fx);
	snprintf(key, sizeof key, "group/orders/billing");
	k.mv_data = key;
	k.mv_size = strlen(key);
	assert_int_equal(mdb_get(fx->txn, fx->meta, &k, &v), 0);
	got = tupelo__group_state__unpack(NULL, v.mv_size, v.mv_data);
	assert_non_null(got);
	assert_int_equal(got->ack_floor, 999);
	assert_int_equal(got->n_acked, 100);
	for (i = 0; i < 100; i++)
		assert_int_equal(got->acked[i], 1000 + i * 3);
	assert_true(got->created_ns == -5);
	tupelo__group_state__free_unpacked(got, NULL);
	abort_txn(fx);
}

static void
test_meta_group_put_replaces(void **state)
{
	struct fixture	*fx = *state;
	struct seen	 s;

	memset(&s, 0, sizeof s);
	begin(fx);
	put_group(fx->txn, fx->meta, "orders", "billing", 1);
	commit(fx);
	begin(fx);
	put_group(fx->txn, fx->meta, "orders", "billing", 2);
	commit(fx);
	begin(fx);
	load_groups(fx, "orders", &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.values[0], 2);
	abort_txn(fx);
	seen_clear(&s);
}

static void
test_meta_group_del(void **state)
{
	struct fixture	*fx = *state;
	struct seen	 s;

	memset(&s, 0, sizeof s);
	begin(fx);
	put_group(fx->txn, fx->meta, "orders", "a", 1);
	put_group(fx->txn, fx->meta, "orders", "b", 2);
	put_group(fx->txn, fx->meta, "orders2", "a", 3);
	commit(fx);

	begin(fx);
	assert_int_equal(meta_group_del(fx->txn, fx->meta, "orders", "a"), 0);
	/* Deleting what is not there is no error. */
	assert_int_equal(meta_group_del(fx->txn, fx->meta, "orders", "zz"),
	    0);
	commit(fx);

	begin(fx);
	load_groups(fx, "orders", &s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.names[0], "b");
	load_groups(fx, "orders2", &s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.names[0], "a");
	abort_txn(fx);
	seen_clear(&s);
}

static void
test_meta_group_long_names(void **state)
{
	struct fixture	*fx = *state;
	struct seen	 s;
	char		 station[TP_NAME_MAX + 1], group[TP_NAME_MAX + 1];

	memset(&s, 0, sizeof s);
	memset(station, 's', TP_NAME_MAX);
	station[TP_NAME_MAX] = '\0';
	memset(group, 'g', TP_NAME_MAX);
	group[TP_NAME_MAX] = '\0';
	begin(fx);
	put_station(fx->txn, fx->meta, station, 1);
	put_stats(fx->txn, fx->meta, station, 1);
	put_group(fx->txn, fx->meta, station, group, 9);
	commit(fx);

	begin(fx);
	assert_int_equal(meta_station_exists(fx->txn, fx->meta, station), 1);
	load_groups(fx, station, &s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.names[0], group);
	assert_int_equal(s.values[0], 9);
	assert_int_equal(meta_station_del(fx->txn, fx->meta, station), 0);
	load_groups(fx, station, &s);
	assert_int_equal(s.n, 0);
	assert_int_equal(meta_station_exists(fx->txn, fx->meta, station), 0);
	abort_txn(fx);
	seen_clear(&s);
}

static void
test_meta_station_del(void **state)
{
	struct fixture		*fx = *state;
	static const char *const others[] = { "a.b", "ab", "a-b", "b", "0" };
	Tupelo__StationStats	 out;
	struct seen		 s;
	size_t			 i;

	memset(&s, 0, sizeof s);
	begin(fx);
	put_station(fx->txn, fx->meta, "a", 1);
	put_stats(fx->txn, fx->meta, "a", 1);
	put_group(fx->txn, fx->meta, "a", "g1", 1);
	put_group(fx->txn, fx->meta, "a", "g2", 1);
	for (i = 0; i < sizeof others / sizeof others[0]; i++) {
		put_station(fx->txn, fx->meta, others[i], 10 + i);
		put_stats(fx->txn, fx->meta, others[i], 10 + i);
		put_group(fx->txn, fx->meta, others[i], "g1", 10 + i);
	}
	commit(fx);

	begin(fx);
	assert_int_equal(meta_station_del(fx->txn, fx->meta, "a"), 0);
	commit(fx);

	begin(fx);
	assert_int_equal(meta_station_exists(fx->txn, fx->meta, "a"), 0);
	assert_int_equal(meta_stats_get(fx->txn, fx->meta, "a", &out), 0);
	assert_int_equal(out.last_seq, 0);
	load_groups(fx, "a", &s);
	assert_int_equal(s.n, 0);
	for (i = 0; i < sizeof others / sizeof others[0]; i++) {
		assert_int_equal(meta_station_exists(fx->txn, fx->meta,
		    others[i]), 1);
		assert_int_equal(meta_stats_get(fx->txn, fx->meta, others[i],
		    &out), 0);
		assert_int_equal(out.last_seq, 10 + i);
		load_groups(fx, others[i], &s);
		assert_int_equal(s.n, 1);
		assert_int_equal(s.values[0], 10 + i);
	}
	seen_clear(&s);
	assert_int_equal(meta_station_load(fx->txn, fx->meta,
	    seen_station_cb, &s), 0);
	assert_int_equal(s.n, sizeof others / sizeof others[0]);
	abort_txn(fx);
	seen_clear(&s);
}

static void
test_meta_station_del_many_groups(void **state)
{
	struct fixture	*fx = *state;
	struct seen	 s;
	char		 group[TP_NAME_MAX + 1];
	size_t		 i;

	/* Enough long keys to fill many pages on each side of "group/a/". */
	memset(&s, 0, sizeof s);
	begin(fx);
	put_station(fx->txn, fx->meta, "a", 1);
	for (i = 0; i < 600; i++) {
		snprintf(group, sizeof group, "%04zu-%0100d", i, 0);
		put_group(fx->txn, fx->meta, "a", group, i);
		if (i % 3 == 0) {
			put_group(fx->txn, fx->meta, "a.b", group, i);
			put_group(fx->txn, fx->meta, "ab", group, i);
		}
	}
	commit(fx);

	begin(fx);
	load_groups(fx, "a", &s);
	assert_int_equal(s.n, 600);
	assert_int_equal(meta_station_del(fx->txn, fx->meta, "a"), 0);
	commit(fx);

	begin(fx);
	load_groups(fx, "a", &s);
	assert_int_equal(s.n, 0);
	load_groups(fx, "a.b", &s);
	assert_int_equal(s.n, 200);
	load_groups(fx, "ab", &s);
	assert_int_equal(s.n, 200);
	assert_int_equal(s.values[199], 597);
	abort_txn(fx);
	seen_clear(&s);
}

static void
test_meta_station_del_missing(void **state)
{
	struct fixture	*fx = *state;
	struct seen	 s;

	memset(&s, 0, sizeof s);
	begin(fx);
	put_station(fx->txn, fx->meta, "ab", 1);
	put_group(fx->txn, fx->meta, "ab", "g", 1);
	commit(fx);

	begin(fx);
	assert_int_equal(meta_station_del(fx->txn, fx->meta, "a"), 0);
	commit(fx);

	begin(fx);
	assert_int_equal(meta_station_exists(fx->txn, fx->meta, "ab"), 1);
	load_groups(fx, "ab", &s);
	assert_int_equal(s.n, 1);
	abort_txn(fx);
	seen_clear(&s);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_meta_station_put_exists),
		T(test_meta_station_load_order),
		T(test_meta_station_load_empty),
		T(test_meta_station_load_stops),
		T(test_meta_station_fields),
		T(test_meta_station_put_replaces),
		T(test_meta_stats_missing),
		T(test_meta_stats_put_get),
		T(test_meta_group_put_load),
		T(test_meta_group_state_fields),
		T(test_meta_group_put_replaces),
		T(test_meta_group_del),
		T(test_meta_group_long_names),
		T(test_meta_station_del),
		T(test_meta_station_del_many_groups),
		T(test_meta_station_del_missing),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
