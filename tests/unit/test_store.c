/*
 * Unit tests of storage/store on real LMDB environments in mkdtemp
 * directories: opening and reopening, failures with a code and a message,
 * map growth up to the cap, read transactions and the failed latch.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
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
#include "storage/store.h"

#define MIB	(1024ULL * 1024)

struct fixture {
	char		 base[256];	/* mkdtemp directory */
	char		 dir[512];	/* data dir inside base */
	struct store	*st;			/* owned, may be NULL */
};

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
	*state = fx;
	return (0);
}

static int
teardown(void **state)
{
	struct fixture	*fx = *state;

	store_close(fx->st);
	tmpdir_remove(fx->base);
	free(fx);
	return (0);
}

static struct store *
open_store(struct fixture *fx, uint64_t map_size, uint64_t map_max)
{
	struct store_opts	opts;
	struct tp_err		err;
	int			code;

	memset(&opts, 0, sizeof opts);
	opts.map_size = map_size;
	opts.map_max = map_max;
	opts.max_stations = 8;
	opts.wal_size = 1 << 20;
	memset(&err, 0, sizeof err);
	code = store_open(fx->dir, &opts, &fx->st, &err);
	if (code != TP_OK)
		fail_msg("store_open %s: %s", fx->dir, err.message);
	assert_non_null(fx->st);
	return (fx->st);
}

static void
put_key(struct store *st, const char *key, const char *value)
{
	MDB_txn	*txn;
	MDB_val	 k, v;

	assert_int_equal(mdb_txn_begin(store_env(st), NULL, 0, &txn), 0);
	k.mv_data = (void *)key;
	k.mv_size = strlen(key);
	v.mv_data = (void *)value;
	v.mv_size = strlen(value);
	assert_int_equal(mdb_put(txn, store_meta(st), &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
}

/* Is key in the meta database with value, as a read transaction sees? */
static int
has_key(struct store *st, const char *key, const char *value)
{
	MDB_txn	*txn;
	MDB_val	 k, v;
	int	 found;

	assert_int_equal(store_read_begin(st, &txn, NULL), TP_OK);
	k.mv_data = (void *)key;
	k.mv_size = strlen(key);
	found = mdb_get(txn, store_meta(st), &k, &v) == 0 &&
	    v.mv_size == strlen(value) &&
	    memcmp(v.mv_data, value, v.mv_size) == 0;
	store_read_end(st, txn);
	return (found);
}

static uint64_t
env_map_size(struct store *st)
{
	MDB_envinfo	info;

	assert_int_equal(mdb_env_info(store_env(st), &info), 0);
	return (info.me_mapsize);
}

static void
test_store_open_creates_dir(void **state)
{
	struct fixture	*fx = *state;
	struct store	*st;
	struct stat	 sb;
	char		 path[1024];

	assert_int_equal(stat(fx->dir, &sb), -1);
	st = open_store(fx, 4 * MIB, 0);
	assert_int_equal(stat(fx->dir, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	snprintf(path, sizeof path, "%s/data.mdb", fx->dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_non_null(store_env(st));
	assert_int_equal(store_map_size(st), 4 * MIB);
	assert_int_equal(store_failed(st), TP_OK);
}

static void
test_store_open_existing_dir(void **state)
{
	struct fixture	*fx = *state;

	assert_int_equal(mkdir(fx->dir, 0700), 0);
	open_store(fx, 4 * MIB, 0);
}

static void
test_store_reopen(void **state)
{
	struct fixture	*fx = *state;

	open_store(fx, 4 * MIB, 0);
	put_key(fx->st, "station/orders", "config");
	store_close(fx->st);
	fx->st = NULL;

	open_store(fx, 4 * MIB, 0);
	assert_true(has_key(fx->st, "station/orders", "config"));
	put_key(fx->st, "station/other", "more");
	store_close(fx->st);
	fx->st = NULL;

	open_store(fx, 4 * MIB, 0);
	assert_true(has_key(fx->st, "station/orders", "config"));
	assert_true(has_key(fx->st, "station/other", "more"));
}

static void
test_store_reopen_smaller_map(void **state)
{
	struct fixture	*fx = *state;
	char		 key[32], *big;
	int		 i;

	open_store(fx, 8 * MIB, 0);
	big = malloc(64 * 1024);
	assert_non_null(big);
	memset(big, 'b', 64 * 1024 - 1);
	big[64 * 1024 - 1] = '\0';
	for (i = 0; i < 64; i++) {
		snprintf(key, sizeof key, "big/%02d", i);
		put_key(fx->st, key, big);
	}
	store_close(fx->st);
	fx->st = NULL;

	/* The map is never smaller than the data already there. */
	open_store(fx, 1 * MIB, 0);
	assert_true(store_map_size(fx->st) >= 4 * MIB);
	assert_int_equal(store_map_size(fx->st), env_map_size(fx->st));
	assert_true(has_key(fx->st, "big/00", big));
	assert_true(has_key(fx->st, "big/63", big));
	free(big);
}

static void
test_store_open_under_file(void **state)
{
	struct fixture		*fx = *state;
	struct store_opts	 opts = { 4 * MIB, 0, 8, 1 << 20 };
	struct store		*st = (struct store *)&opts;
	struct tp_err		 err;
	char			 file[512], dir[1024];
	FILE			*f;
	int			 code;

	snprintf(file, sizeof file, "%s/file", fx->base);
	assert_non_null(f = fopen(file, "w"));
	fclose(f);
	snprintf(dir, sizeof dir, "%s/data", file);

	memset(&err, 0, sizeof err);
	code = store_open(dir, &opts, &st, &err);
	assert_int_not_equal(code, TP_OK);
	assert_true(error_known(code));
	assert_int_equal(code, TP_EIO);
	assert_int_equal(err.code, code);
	assert_null(st);
	assert_non_null(strstr(err.message, dir));

	/* err may be NULL. */
	assert_int_equal(store_open(dir, &opts, &st, NULL), TP_EIO);
	assert_null(st);
}

static void
test_store_open_on_file(void **state)
{
	struct fixture		*fx = *state;
	struct store_opts	 opts = { 4 * MIB, 0, 8, 1 << 20 };
	struct store		*st = NULL;
	struct tp_err		 err;
	FILE			*f;
	int			 code;

	/* The data directory path names a regular file. */
	assert_non_null(f = fopen(fx->dir, "w"));
	fclose(f);
	memset(&err, 0, sizeof err);
	code = store_open(fx->dir, &opts, &st, &err);
	assert_int_not_equal(code, TP_OK);
	assert_true(error_known(code));
	assert_int_equal(err.code, code);
	assert_null(st);
	assert_non_null(strstr(err.message, fx->dir));
}

static void
test_store_grow_doubles(void **state)
{
	struct fixture	*fx = *state;
	struct store	*st;
	struct tp_err	 err;

	st = open_store(fx, 1 * MIB, 4 * MIB);
	assert_int_equal(store_map_size(st), 1 * MIB);
	assert_int_equal(store_grow(st, &err), TP_OK);
	assert_int_equal(store_map_size(st), 2 * MIB);
	assert_int_equal(env_map_size(st), 2 * MIB);
	assert_int_equal(store_grow(st, &err), TP_OK);
	assert_int_equal(store_map_size(st), 4 * MIB);
	assert_int_equal(env_map_size(st), 4 * MIB);
}

static void
test_store_grow_refuses_at_max(void **state)
{
	struct fixture	*fx = *state;
	struct store	*st;
	struct tp_err	 err;

	st = open_store(fx, 1 * MIB, 4 * MIB);
	assert_int_equal(store_grow(st, NULL), TP_OK);
	assert_int_equal(store_grow(st, NULL), TP_OK);
	memset(&err, 0, sizeof err);
	assert_int_equal(store_grow(st, &err), TP_ENOSPC);
	assert_int_equal(err.code, TP_ENOSPC);
	assert_true(strlen(err.message) > 0);
	assert_int_equal(store_map_size(st), 4 * MIB);
	assert_int_equal(env_map_size(st), 4 * MIB);
	assert_int_equal(store_grow(st, NULL), TP_ENOSPC);
	/* Refusing to grow is no failure of the store. */
	assert_int_equal(store_failed(st), TP_OK);
}

static void
test_store_grow_capped(void **state)
{
	struct fixture	*fx = *state;
	struct store	*st;

	/* A cap that is not a power of two times the map is still reached. */
	st = open_store(fx, 1 * MIB, 3 * MIB);
	assert_int_equal(store_grow(st, NULL), TP_OK);
	assert_int_equal(store_map_size(st), 2 * MIB);
	assert_int_equal(store_grow(st, NULL), TP_OK);
	assert_int_equal(store_map_size(st), 3 * MIB);
	assert_int_equal(store_grow(st, NULL), TP_ENOSPC);
	assert_int_equal(store_map_size(st), 3 * MIB);
}

static void
test_store_grow_uncapped(void **state)
{
	struct fixture	*fx = *state;
	struct store	*st;

	st = open_store(fx, 1 * MIB, 0);
	assert_int_equal(store_grow(st, NULL), TP_OK);
	assert_int_equal(store_grow(st, NULL), TP_OK);
	assert_int_equal(store_grow(st, NULL), TP_OK);
	assert_int_equal(store_map_size(st), 8 * MIB);
	assert_int_equal(env_map_size(st), 8 * MIB);
}

static void
test_store_grow_keeps_data(void **state)
{
	struct fixture	*fx = *state;
	struct store	*st;

	st = open_store(fx, 1 * MIB, 0);
	put_key(st, "before", "grow");
	assert_true(has_key(st, "before", "grow"));
	assert_int_equal(store_grow(st, NULL), TP_OK);
	assert_true(has_key(st, "before", "grow"));
	put_key(st, "after", "grow");
	assert_true(has_key(st, "after", "grow"));
	store_close(st);
	fx->st = NULL;

	st = open_store(fx, 1 * MIB, 0);
	assert_int_equal(store_map_size(st), env_map_size(st));
	assert_true(has_key(st, "before", "grow"));
	assert_true(has_key(st, "after", "grow"));
}

static void
test_store_read_repeat(void **state)
{
	struct fixture	*fx = *state;
	struct store	*st;
	MDB_txn		*txn;
	char		 key[32];
	int		 i;

	st = open_store(fx, 4 * MIB, 0);
	for (i = 0; i < 2000; i++) {
		assert_int_equal(store_read_begin(st, &txn, NULL), TP_OK);
		assert_non_null(txn);
		store_read_end(st, txn);
		if (i % 100 == 0) {
			/* Each read sees what was committed before it. */
			snprintf(key, sizeof key, "k%d", i);
			assert_false(has_key(st, key, "v"));
			put_key(st, key, "v");
			assert_true(has_key(st, key, "v"));
		}
	}
}

static void
test_store_read_after_grow(void **state)
{
	struct fixture	*fx = *state;
	struct store	*st;
	MDB_txn		*txn;
	MDB_val		 k, v;

	st = open_store(fx, 1 * MIB, 0);
	put_key(st, "k", "v");
	assert_int_equal(store_read_begin(st, &txn, NULL), TP_OK);
	store_read_end(st, txn);
	assert_int_equal(store_grow(st, NULL), TP_OK);
	assert_int_equal(store_read_begin(st, &txn, NULL), TP_OK);
	k.mv_data = "k";
	k.mv_size = 1;
	assert_int_equal(mdb_get(txn, store_meta(st), &k, &v), 0);
	assert_int_equal(v.mv_size, 1);
	assert_memory_equal(v.mv_data, "v", 1);
	store_read_end(st, txn);
}

static void
test_store_fail_latch(void **state)
{
	struct fixture	*fx = *state;
	struct store	*st;

	st = open_store(fx, 4 * MIB, 0);
	assert_int_equal(store_failed(st), TP_OK);
	store_fail(st, TP_EIO, "test");
	assert_int_equal(store_failed(st), TP_EIO);
	store_fail(st, TP_ENOSPC, "test");
	assert_int_equal(store_failed(st), TP_EIO);
	store_fail(st, TP_OK, "test");
	assert_int_equal(store_failed(st), TP_EIO);
	store_close(st);
	fx->st = NULL;

	/* Reopening clears it. */
	st = open_store(fx, 4 * MIB, 0);
	assert_int_equal(store_failed(st), TP_OK);
	store_fail(st, TP_ENOSPC, "test");
	store_fail(st, TP_EIO, "test");
	assert_int_equal(store_failed(st), TP_ENOSPC);
}

struct fail_seen {
	int	calls;
	int	code;
	char	why[256];
};

static void
fail_cb(void *arg, int code, const char *why)
{
	struct fail_seen	*f = arg;

	f->calls++;
	f->code = code;
	snprintf(f->why, sizeof f->why, "%s", why);
}

/* The failure callback runs once, at the latch, with what failed. */
static void
test_store_fail_tells_once(void **state)
{
	struct fixture		*fx = *state;
	struct fail_seen	 f;
	struct store		*st;

	memset(&f, 0, sizeof f);
	st = open_store(fx, 4 * MIB, 0);
	store_on_fail(st, fail_cb, &f);
	errno = EIO;
	store_fail(st, TP_EIO, "sync of the write-ahead log");
	assert_int_equal(f.calls, 1);
	assert_int_equal(f.code, TP_EIO);
	assert_string_equal(f.why, "sync of the write-ahead log: "
	    "Input/output error");
	assert_string_equal(store_fail_why(st), f.why);
	errno = ENOSPC;
	store_fail(st, TP_ENOSPC, "checkpoint");
	assert_int_equal(f.calls, 1);
	assert_int_equal(store_failed(st), TP_EIO);
	assert_string_equal(store_fail_why(st), "sync of the write-ahead "
	    "log: Input/output error");
}

static void
test_store_max_stations(void **state)
{
	struct fixture		*fx = *state;
	struct store_opts	 opts = { 4 * MIB, 0, 2, 1 << 20 };
	struct tp_err		 err;
	MDB_txn			*txn;
	MDB_dbi			 dbi;

	assert_int_equal(store_open(fx->dir, &opts, &fx->st, &err), TP_OK);
	assert_int_equal(mdb_txn_begin(store_env(fx->st), NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "log/a", MDB_CREATE, &dbi), 0);
	assert_int_equal(mdb_dbi_open(txn, "log/b", MDB_CREATE, &dbi), 0);
	assert_int_equal(mdb_dbi_open(txn, "log/c", MDB_CREATE, &dbi),
	    MDB_DBS_FULL);
	mdb_txn_abort(txn);
	assert_int_equal(store_code(MDB_DBS_FULL), TP_EBUSY);
}

static void
test_store_code(void **state)
{
	(void)state;
	assert_int_equal(store_code(0), TP_OK);
	assert_int_equal(store_code(MDB_MAP_FULL), TP_ENOSPC);
	assert_int_equal(store_code(ENOSPC), TP_ENOSPC);
	assert_int_equal(store_code(EDQUOT), TP_ENOSPC);
	assert_int_equal(store_code(ENOMEM), TP_ENOMEM);
	assert_int_equal(store_code(MDB_NOTFOUND), TP_ENOSTATION);
	assert_int_equal(store_code(MDB_DBS_FULL), TP_EBUSY);
	assert_int_equal(store_code(EIO), TP_EIO);
	assert_int_equal(store_code(EACCES), TP_EIO);
	assert_int_equal(store_code(MDB_CORRUPTED), TP_EIO);
	assert_int_equal(store_code(MDB_PANIC), TP_EIO);
}

static void
test_store_second_open_is_refused(void **state)
{
	struct fixture		*fx = *state;
	struct store_opts	 opts = { 4 * MIB, 0, 8, 1 << 20 };
	struct store		*st = (struct store *)&opts;
	struct tp_err		 err;
	struct stat		 sb;
	char			 path[1024], pid[32];

	open_store(fx, 4 * MIB, 0);
	put_key(fx->st, "kept", "yes");
	snprintf(path, sizeof path, "%s/tupelod.lock", fx->dir);
	assert_int_equal(stat(path, &sb), 0);

	/* The lock is per open, so this process is refused like another. */
	memset(&err, 0, sizeof err);
	assert_int_equal(store_open(fx->dir, &opts, &st, &err), TP_EBUSY);
	assert_null(st);
	assert_int_equal(err.code, TP_EBUSY);
	assert_non_null(strstr(err.message, "in use"));
	assert_non_null(strstr(err.message, fx->dir));
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	assert_non_null(strstr(err.message, pid));
	assert_int_equal(store_open(fx->dir, &opts, &st, NULL), TP_EBUSY);
	assert_null(st);

	/* The refused opens left the first store working. */
	assert_true(has_key(fx->st, "kept", "yes"));
	put_key(fx->st, "after", "refusal");

	store_close(fx->st);
	fx->st = NULL;
	memset(&err, 0, sizeof err);
	if (store_open(fx->dir, &opts, &fx->st, &err) != TP_OK)
		fail_msg("reopen %s: %s", fx->dir, err.message);
	assert_true(has_key(fx->st, "kept", "yes"));
	assert_true(has_key(fx->st, "after", "refusal"));
}

static void
test_store_close_null(void **state)
{
	(void)state;
	store_close(NULL);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_store_open_creates_dir),
		T(test_store_open_existing_dir),
		T(test_store_reopen),
		T(test_store_reopen_smaller_map),
		T(test_store_open_under_file),
		T(test_store_open_on_file),
		T(test_store_grow_doubles),
		T(test_store_grow_refuses_at_max),
		T(test_store_grow_capped),
		T(test_store_grow_uncapped),
		T(test_store_grow_keeps_data),
		T(test_store_read_repeat),
		T(test_store_read_after_grow),
		T(test_store_fail_latch),
		T(test_store_fail_tells_once),
		T(test_store_max_stations),
		T(test_store_second_open_is_refused),
		cmocka_unit_test(test_store_code),
		cmocka_unit_test(test_store_close_null),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
