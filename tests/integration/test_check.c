/*
 * tupelod --check against real data directories: one a broker wrote,
 * checked while it runs and after it stopped (sound, exit 0, nothing
 * changed); one written after its last checkpoint, as a crash leaves it
 * (needs recovery, exit 3, sound again after a start); the same damaged
 * through LMDB with no write-ahead log to repair it (each problem
 * reported, exit 1); a missing or foreign directory (exit 1, nothing
 * created); and usage errors (exit 2).
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <setjmp.h>
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
#include "proto/tupelo.pb-c.h"

static struct tp_conn *
connect_ok(struct broker *b)
{
	struct tp_conn	*c = NULL;
	struct tp_err	 err;

	if (tp_connect(b->url, "test_check", &c, &err) != TP_OK)
		fail_msg("connect %s: %s", b->url, err.message);
	return (c);
}

/*
 * Run "tupelod --check dir" (no argument if dir is NULL, then extra if
 * not NULL); *out gets its stdout (malloc'd). Returns the exit status.
 */
static int
run_check(const char *dir, const char *extra, char **out)
{
	char	*buf = NULL, *p;
	size_t	 len = 0, cap = 0;
	ssize_t	 n;
	pid_t	 pid;
	int	 fds[2], status, fd;

	assert_int_equal(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		if ((fd = open("/dev/null", O_RDWR)) != -1) {
			dup2(fd, 0);
			dup2(fd, 2);
		}
		execl(harness_tupelod(), "tupelod", "-c", "/dev/null",
		    "--check", dir, extra, (char *)NULL);
		_exit(127);
	}
	assert_true(pid > 0);
	close(fds[1]);
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap != 0 ? cap * 2 : 8192;
			assert_non_null(p = realloc(buf, cap));
			buf = p;
		}
		n = read(fds[0], buf + len, cap - len - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fds[0]);
	if (buf == NULL)
		assert_non_null(buf = malloc(1));
	buf[len] = '\0';
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	*out = buf;
	return (WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* Does out have this line? */
static void
expect_line(const char *out, const char *line)
{
	const char	*p = out;
	size_t		 len = strlen(line);

	while ((p = strstr(p, line)) != NULL) {
		if ((p == out || p[-1] == '\n') && p[len] == '\n')
			return;
		p++;
	}
	fail_msg("no line \"%s\" in:\n%s", line, out);
}

/* Produce n messages with headers and (new) message ids. */
static void
produce_n(struct tp_conn *c, const char *station, size_t n)
{
	static unsigned		ids;
	struct tp_header	h[2] = { { "kind", "test" }, { "k2", "" } };
	struct tp_message	m;
	struct tp_err		err;
	char			payload[64], id[64];
	size_t			i;

	for (i = 0; i < n; i++) {
		snprintf(payload, sizeof payload, "%s-%zu", station, i);
		snprintf(id, sizeof id, "id-%u", ids++);
		memset(&m, 0, sizeof m);
		m.payload = payload;
		m.len = strlen(payload);
		m.headers = h;
		m.nheaders = 2;
		m.msg_id = id;
		if (tp_produce(c, station, &m, 1, NULL, NULL, &err) != TP_OK)
			fail_msg("produce to %s: %s", station, err.message);
	}
}

/*
 * Consume n messages of station in group, acking them (or terming the
 * one at index term, if term < n), and commit.
 */
static void
consume_ack(struct tp_conn *c, const char *station, const char *group,
    size_t n, size_t term)
{
	struct tp_consumer	*cons;
	struct tp_msg		*m;
	struct tp_err		 err;
	size_t			 i;

	assert_int_equal(tp_consumer_new(c, station, group, NULL, &cons,
	    &err), TP_OK);
	for (i = 0; i < n; i++) {
		assert_int_equal(tp_consume(cons, 10000, &m, &err), TP_OK);
		if (i == term)
			assert_int_equal(tp_term(cons, m, "test", &err), TP_OK);
		else
			assert_int_equal(tp_ack(cons, m, &err), TP_OK);
		tp_msg_free(m);
	}
	assert_int_equal(tp_consumer_commit(cons, 10000, &err), TP_OK);
	tp_consumer_free(cons);
}

static void
create_station(struct tp_conn *c, const char *name)
{
	struct tp_err	err;

	if (tp_station_create(c, name, NULL, &err) != TP_OK)
		fail_msg("create %s: %s", name, err.message);
}

/* Entries of a directory, or -1. */
static int
count_entries(const char *dir)
{
	struct dirent	*de;
	DIR		*d;
	int		 n = 0;

	if ((d = opendir(dir)) == NULL)
		return (-1);
	while ((de = readdir(d)) != NULL)
		n++;
	closedir(d);
	return (n);
}

static void
test_check_sound_directory(void **state)
{
	struct broker	 b;
	struct tp_conn	*c;
	struct stat	 before, after;
	char		 path[512], *out;
	int		 nfiles;

	assert_int_equal(broker_start(&b, NULL), 0);
	if (b.external)
		skip();
	c = connect_ok(&b);
	create_station(c, "orders");
	create_station(c, "events");
	produce_n(c, "orders", 20);
	produce_n(c, "events", 5);
	consume_ack(c, "orders", "g1", 10, SIZE_MAX);
	consume_ack(c, "events", "g2", 5, 2);

	/* While the broker runs and after, it keeps serving. */
	assert_int_equal(run_check(b.data, NULL, &out), 0);
	assert_non_null(strstr(out, "check: 4 stations, "));
	assert_non_null(strstr(out, " triggers: ok\n"));
	assert_null(strstr(out, "problem"));
	free(out);
	produce_n(c, "orders", 1);
	assert_int_equal(run_check(b.data, NULL, &out), 0);
	free(out);
	tp_close(c);

	assert_true(WIFEXITED(broker_kill(&b, SIGTERM)));
	snprintf(path, sizeof path, "%s/data.mdb", b.data);
	assert_int_equal(stat(path, &before), 0);
	nfiles = count_entries(b.data);
	assert_int_equal(run_check(b.data, NULL, &out), 0);
	/* 21 + 5 messages, one dead letter; two groups. */
	expect_line(out, "check: 4 stations, 27 messages, 2 groups, "
	    "0 triggers: ok");
	free(out);
	assert_int_equal(stat(path, &after), 0);
	assert_int_equal(before.st_size, after.st_size);
	assert_int_equal(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
	assert_int_equal(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
	assert_int_equal(count_entries(b.data), nfiles);
	broker_stop(&b);
}

static void
meta_put(MDB_txn *txn, MDB_dbi dbi, const char *key, const void *val,
    size_t len)
{
	MDB_val	k, v;

	k.mv_data = (void *)key;
	k.mv_size = strlen(key);
	v.mv_data = (void *)val;
	v.mv_size = len;
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
}

static void
meta_del(MDB_txn *txn, MDB_dbi dbi, const char *key)
{
	MDB_val	k;

	k.mv_data = (void *)key;
	k.mv_size = strlen(key);
	assert_int_equal(mdb_del(txn, dbi, &k, NULL), 0);
}

static void
group_put(MDB_txn *txn, MDB_dbi dbi, const char *key, uint64_t floor,
    uint64_t *acked, size_t nacked, uint64_t *counted, size_t ncounted)
{
	Tupelo__GroupState	g = TUPELO__GROUP_STATE__INIT;
	uint8_t			buf[1024];

	g.ack_floor = floor;
	g.delivered_seq = floor;
	g.acked = acked;
	g.n_acked = nacked;
	g.counted_seqs = counted;
	g.n_counted_seqs = ncounted;
	assert_true(tupelo__group_state__get_packed_size(&g) <= sizeof buf);
	meta_put(txn, dbi, key, buf, tupelo__group_state__pack(&g, buf));
}

/* Damage the stopped broker's directory in ways the checker must see. */
static void
corrupt(const char *dir)
{
	static const uint8_t	 garbage[] = { 0xff, 0xff, 0xff };
	uint64_t		 acked[] = { 2, 5, 4 }, counted[] = { 4 };
	MDB_env			*env;
	MDB_txn			*txn;
	MDB_dbi			 meta, log;
	MDB_val			 k, v;
	uint8_t			 key[8];
	uint64_t		 seq;
	int			 i;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 64), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0640), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	assert_int_equal(mdb_dbi_open(txn, "log/c2", 0, &log), 0);

	meta_del(txn, meta, "stats/c1");
	/* Twelve undecodable records after c2's five. */
	for (seq = 6; seq < 18; seq++) {
		for (i = 7; i >= 0; i--)
			key[7 - i] = (uint8_t)(seq >> (i * 8));
		k.mv_data = key;
		k.mv_size = sizeof key;
		v.mv_data = (void *)garbage;
		v.mv_size = sizeof garbage;
		assert_int_equal(mdb_put(txn, log, &k, &v, 0), 0);
	}
	group_put(txn, meta, "group/ghost/g", 0, NULL, 0, NULL, 0);
	group_put(txn, meta, "group/c3/bad", 3, acked, 3, counted, 1);
	group_put(txn, meta, "group/c3/far", 50, NULL, 0, NULL, 0);
	meta_put(txn, meta, "group/c3/unpacks", garbage, sizeof garbage);
	meta_del(txn, meta, "station/c3.dls");
	meta_put(txn, meta, "station/c4", garbage, sizeof garbage);
	meta_put(txn, meta, "junk", "x", 1);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static void
test_check_corrupted_directory(void **state)
{
	struct broker	 b;
	struct tp_conn	*c;
	char		*out, *p, *q, path[512];
	unsigned long	 problems = 0, lines = 0;

	assert_int_equal(broker_start(&b, NULL), 0);
	if (b.external)
		skip();
	c = connect_ok(&b);
	create_station(c, "c1");
	create_station(c, "c2");
	create_station(c, "c3");
	produce_n(c, "c1", 5);
	produce_n(c, "c2", 5);
	produce_n(c, "c3", 5);
	consume_ack(c, "c1", "g", 5, SIZE_MAX);
	tp_close(c);
	assert_true(WIFEXITED(broker_kill(&b, SIGTERM)));
	assert_int_equal(run_check(b.data, NULL, &out), 0);
	free(out);

	corrupt(b.data);
	/* Without its log, a start takes data.mdb as it is: no repair. */
	snprintf(path, sizeof path, "%s/tupelo.wal", b.data);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(run_check(b.data, NULL, &out), 1);
	expect_line(out, "check: station c1: no stats record");
	expect_line(out, "check: log c2 seq 6: record of 3 bytes does not "
	    "decode");
	expect_line(out, "check: log c2: 2 more problems not shown");
	expect_line(out, "check: log c2: largest seq 17 is above the stats' "
	    "last_seq 5");
	assert_non_null(strstr(out, "check: log c2: records hold "));
	expect_line(out, "check: group ghost/g: no station ghost");
	expect_line(out, "check: group c3/bad: acked seq 2 is not above "
	    "ack_floor 3");
	expect_line(out, "check: group c3/bad: acked seqs do not increase: "
	    "4 after 5");
	expect_line(out, "check: group c3/bad: 1 counted_seqs but 0 counts");
	expect_line(out, "check: group c3/far: delivered_seq 50 is above the "
	    "station's last_seq 5");
	expect_line(out, "check: group c3/unpacks: state does not unpack");
	expect_line(out, "check: station c3: no dead-letter station c3.dls");
	expect_line(out, "check: database log/c3.dls: log database without "
	    "a station config");
	expect_line(out, "check: stats c3.dls: no station c3.dls");
	expect_line(out, "check: station c4: config does not unpack");
	expect_line(out, "check: station c4: no log database");
	expect_line(out, "check: meta key junk: unknown key");
	/* Sound parts say nothing. */
	assert_null(strstr(out, "check: log c1"));
	assert_null(strstr(out, "check: group c1/g"));

	/* The summary counts every problem, shown or not. */
	for (p = out; (q = strchr(p, '\n')) != NULL; p = q + 1) {
		if (strncmp(p, "check: log c2: 2 more", 21) == 0)
			continue;
		if (q[1] == '\0')
			assert_int_equal(sscanf(p, "check: %lu problems",
			    &problems), 1);
		else
			lines++;
	}
	assert_int_equal(problems, lines + 2);
	free(out);
	broker_stop(&b);
}

/*
 * Issue 15: LMDB commits without syncing, so after a power cut data.mdb
 * may hold commits after the log's checkpoint, partly written; a start
 * puts the checkpoint's meta pages back. --check looks at the directory
 * as the start will: it says "needs recovery" (exit 3), not corruption.
 * A commit made straight through LMDB after a clean stop stands in for
 * what the cut left (the old checker reported its key as a problem).
 */
static void
test_check_issue15_needs_recovery(void **state)
{
	struct broker	 b;
	struct tp_conn	*c;
	MDB_env		*env;
	MDB_txn		*txn;
	MDB_dbi		 meta;
	char		*out;

	assert_int_equal(broker_start(&b, NULL), 0);
	if (b.external)
		skip();
	c = connect_ok(&b);
	create_station(c, "r1");
	produce_n(c, "r1", 5);
	tp_close(c);
	assert_true(WIFEXITED(broker_kill(&b, SIGTERM)));
	assert_int_equal(run_check(b.data, NULL, &out), 0);
	free(out);

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 64), 0);
	assert_int_equal(mdb_env_open(env, b.data, 0, 0640), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	meta_put(txn, meta, "junk", "x", 1);
	meta_del(txn, meta, "stats/r1");
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	assert_int_equal(run_check(b.data, NULL, &out), 3);
	expect_line(out, "check: 2 stations, 5 messages, 0 groups, "
	    "0 triggers as of the write-ahead log's checkpoint: ok");
	assert_non_null(strstr(out, "check: needs recovery: "));
	assert_non_null(strstr(out, "tupelod repairs this on start\n"));
	assert_null(strstr(out, "junk"));
	free(out);

	/* The start returns to the checkpoint: sound, the key gone. */
	assert_int_equal(broker_restart(&b), 0);
	c = connect_ok(&b);
	produce_n(c, "r1", 1);
	tp_close(c);
	assert_true(WIFEXITED(broker_kill(&b, SIGTERM)));
	assert_int_equal(run_check(b.data, NULL, &out), 0);
	expect_line(out, "check: 2 stations, 6 messages, 0 groups, "
	    "0 triggers: ok");
	free(out);
	broker_stop(&b);
}

static void
test_check_not_a_data_directory(void **state)
{
	struct stat	 sb;
	char		 base[] = "/tmp/tupelo-check.XXXXXX", path[256];
	char		 line[512], *out;
	int		 fd;

	assert_non_null(mkdtemp(base));

	/* Missing: reported with its path, not created. */
	snprintf(path, sizeof path, "%s/missing", base);
	assert_int_equal(run_check(path, NULL, &out), 1);
	snprintf(line, sizeof line, "check: %s: cannot open the data "
	    "directory: No such file or directory", path);
	expect_line(out, line);
	expect_line(out, "check: 1 problem");
	free(out);
	assert_int_equal(stat(path, &sb), -1);
	assert_int_equal(errno, ENOENT);

	/* Empty: no data.mdb, and nothing created in it. */
	assert_int_equal(run_check(base, NULL, &out), 1);
	assert_non_null(strstr(out, "not a tupelod data directory"));
	free(out);
	assert_int_equal(count_entries(base), 2);

	/* Not LMDB. */
	snprintf(path, sizeof path, "%s/data.mdb", base);
	assert_true((fd = open(path, O_WRONLY | O_CREAT, 0644)) != -1);
	assert_int_equal(write(fd, "not lmdb\n", 9), 9);
	close(fd);
	assert_int_equal(run_check(base, NULL, &out), 1);
	assert_non_null(strstr(out, "cannot open the LMDB environment"));
	free(out);
	assert_int_equal(count_entries(base), 3);
	unlink(path);

	/* A file, not a directory. */
	assert_true((fd = open(path, O_WRONLY | O_CREAT, 0644)) != -1);
	close(fd);
	assert_int_equal(run_check(path, NULL, &out), 1);
	assert_non_null(strstr(out, "not a directory"));
	free(out);
	unlink(path);
	rmdir(base);
}

static void
test_check_usage(void **state)
{
	char	*out;

	assert_int_equal(run_check(NULL, NULL, &out), 2);
	free(out);
	assert_int_equal(run_check("/tmp", "extra", &out), 2);
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_sound_directory),
		cmocka_unit_test(test_check_corrupted_directory),
		cmocka_unit_test(test_check_issue15_needs_recovery),
		cmocka_unit_test(test_check_not_a_data_directory),
		cmocka_unit_test(test_check_usage),
	};

	harness_watchdog(300);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
