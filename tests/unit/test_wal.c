/*
 * Unit tests of storage/wal through the real writer on a real store. A
 * child process opens the store, commits journaled batches through the
 * writer, waits for their completions and then dies with _exit(), as a
 * killed broker would: no checkpoint at close. The parent reopens the
 * directory and checks what came back. LMDB's own meta pages are wiped
 * first in some tests, which is what a power cut can leave (a meta page
 * that points at pages never written): the log must put them back and
 * replay. Frames are found in the file by their magic and damaged to
 * check that a torn tail ends the log and that what an earlier run left
 * beyond the end is never taken for a frame of a later one.
 */
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tmpdir.h"

#include "proto/error.h"
#include "storage/meta.h"
#include "storage/slog.h"
#include "storage/store.h"
#include "storage/wal.h"
#include "storage/wal_priv.h"
#include "storage/writer.h"

#define MIB		(1024ULL * 1024)
#define WAL_TEST_SIZE	((uint64_t)WAL_SIZE_MIN)	/* the smallest ring */
#define REC_LEN		200

struct fx {
	char		 base[256];
	char		 dir[512];
	struct store	*st;
	struct writer	*w;
	MDB_dbi		 dbi;
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	int		 notified;
	int		 mounted;	/* a tmpfs on dir */
};

/* One batch: n records from seq first, and a meta marker if mark. */
struct batch {
	struct fx	*fx;
	uint64_t	 first;
	size_t		 n;
	uint32_t	 mark;		/* dictionary id to put; 0: none */
	int		 code;		/* -1 until done */
	int		 create;	/* the op creating the station log */
};

static void
notify_cb(void *arg)
{
	struct fx	*fx = arg;

	pthread_mutex_lock(&fx->lock);
	fx->notified = 1;
	pthread_cond_signal(&fx->cond);
	pthread_mutex_unlock(&fx->lock);
}

static void
record_fill(uint8_t *p, uint64_t seq)
{
	memset(p, 'a' + (int)(seq % 26), REC_LEN);
	memcpy(p, &seq, sizeof seq);
}

static int
batch_apply(MDB_txn *txn, void *arg)
{
	struct batch	*b = arg;
	uint8_t		*buf;
	uint32_t	*lens;
	size_t		 i;
	int		 rc;

	if (b->create)
		return (slog_open(txn, "orders", 1, &b->fx->dbi));
	buf = malloc(b->n * REC_LEN);
	lens = malloc(b->n * sizeof *lens);
	if (buf == NULL || lens == NULL) {
		free(buf);
		free(lens);
		return (ENOMEM);
	}
	for (i = 0; i < b->n; i++) {
		record_fill(buf + i * REC_LEN, b->first + i);
		lens[i] = REC_LEN;
	}
	rc = slog_append(txn, b->fx->dbi, "orders", b->first, buf, lens,
	    b->n);
	free(buf);
	free(lens);
	if (rc == 0 && b->mark != 0)
		rc = meta_dict_put(txn, store_meta(b->fx->st), b->mark, "m", 1);
	return (rc);
}

static void
batch_done(void *arg, int code)
{
	((struct batch *)arg)->code = code;
}

static const struct writer_op journal_op = {
	batch_apply, batch_done, WRITER_JOURNAL
};
static const struct writer_op plain_op = {
	batch_apply, batch_done, WRITER_CHECKPOINT
};

static void
fx_open(struct fx *fx)
{
	struct store_opts	opts = { 16 * MIB, 0, 8, WAL_TEST_SIZE };
	struct tp_err		err;

	memset(&err, 0, sizeof err);
	if (store_open(fx->dir, &opts, &fx->st, &err) != TP_OK)
		fail_msg("store_open: %s", err.message);
	if (writer_open(fx->st, 10, notify_cb, fx, &fx->w, NULL) != TP_OK)
		fail_msg("writer_open");
}

static void
fx_close(struct fx *fx)
{
	writer_close(fx->w);
	store_close(fx->st);
	fx->w = NULL;
	fx->st = NULL;
}

/* Submit one batch and wait for its completion; its code. */
static int
run_as(struct fx *fx, const struct writer_op *op, struct batch *b, int sync)
{
	b->fx = fx;
	b->code = -1;
	if (writer_submit(fx->w, op, b, b->n * REC_LEN + 64, sync) != TP_OK)
		return (-1);
	while (b->code == -1) {
		pthread_mutex_lock(&fx->lock);
		while (!fx->notified)
			pthread_cond_wait(&fx->cond, &fx->lock);
		fx->notified = 0;
		pthread_mutex_unlock(&fx->lock);
		writer_drain(fx->w);
	}
	return (b->code);
}

static int
run(struct fx *fx, const struct writer_op *op, struct batch *b)
{
	return (run_as(fx, op, b, WRITER_SYNC));
}

static int
setup(void **state)
{
	struct fx	*fx;

	if ((fx = calloc(1, sizeof *fx)) == NULL)
		return (-1);
	pthread_mutex_init(&fx->lock, NULL);
	pthread_cond_init(&fx->cond, NULL);
	if (tmpdir_make(fx->base, sizeof fx->base) != 0)
		return (-1);
	snprintf(fx->dir, sizeof fx->dir, "%s/data", fx->base);
	*state = fx;
	return (0);
}

static int
teardown(void **state)
{
	struct fx	*fx = *state;

	if (fx->w != NULL || fx->st != NULL)
		fx_close(fx);
	if (fx->mounted && umount2(fx->dir, 0) != 0)
		(void)umount2(fx->dir, MNT_DETACH);
	tmpdir_remove(fx->base);
	pthread_mutex_destroy(&fx->lock);
	pthread_cond_destroy(&fx->cond);
	free(fx);
	return (0);
}

/*
 * Open, create the log (a checkpointed op), then run up to nbatches
 * journaled batches of per records each (batch i marks dictionary id
 * i + 1 when marks), stopping at the first that fails: its code, TP_OK
 * if none; *done is how many were acknowledged. For a child to die in.
 */
static int
fill_log(struct fx *fx, uint64_t first, size_t nbatches, size_t per,
    int marks, int sync, size_t *done)
{
	struct batch	b;
	int		code;

	*done = 0;
	fx_open(fx);
	memset(&b, 0, sizeof b);
	b.create = 1;
	if ((code = run(fx, &plain_op, &b)) != TP_OK)
		return (code);
	for (; *done < nbatches; (*done)++) {
		memset(&b, 0, sizeof b);
		b.first = first + *done * per;
		b.n = per;
		b.mark = marks ? (uint32_t)*done + 1 : 0;
		if ((code = run_as(fx, &journal_op, &b, sync)) != TP_OK)
			return (code);
	}
	return (TP_OK);
}

/* In a child: fill_log(), then die without closing. */
static void
crash_after_as(struct fx *fx, uint64_t first, size_t nbatches, size_t per,
    int marks, int sync)
{
	pid_t		pid;
	size_t		done;
	int		status;

	if ((pid = fork()) == 0)
		_exit(fill_log(fx, first, nbatches, per, marks, sync,
		    &done) == TP_OK ? 0 : 11);
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void
crash_after(struct fx *fx, uint64_t first, size_t nbatches, size_t per,
    int marks)
{
	crash_after_as(fx, first, nbatches, per, marks, WRITER_SYNC);
}

/* Overwrite LMDB's two meta pages with garbage. */
static void
wipe_meta(struct fx *fx)
{
	char	path[600], junk[8192];
	int	fd;

	snprintf(path, sizeof path, "%s/data.mdb", fx->dir);
	memset(junk, 0x5a, sizeof junk);
	assert_true((fd = open(path, O_RDWR)) != -1);
	assert_int_equal(pwrite(fd, junk, sizeof junk, 0), sizeof junk);
	close(fd);
}

/* Records seq first..first+n-1 are all there, intact. */
static void
assert_records(struct fx *fx, uint64_t first, size_t n)
{
	MDB_txn		*txn;
	MDB_dbi		 dbi;
	MDB_val		 k, v;
	uint8_t		 key[8], want[REC_LEN];
	size_t		 i;

	assert_int_equal(store_read_begin(fx->st, &txn, NULL), TP_OK);
	assert_int_equal(slog_open(txn, "orders", 0, &dbi), 0);
	for (i = 0; i < n; i++) {
		slog_key_put(key, first + i);
		k.mv_data = key;
		k.mv_size = sizeof key;
		if (mdb_get(txn, dbi, &k, &v) != 0)
			fail_msg("seq %llu missing",
			    (unsigned long long)(first + i));
		record_fill(want, first + i);
		assert_int_equal(v.mv_size, REC_LEN);
		assert_memory_equal(v.mv_data, want, REC_LEN);
	}
	store_read_end(fx->st, txn);
}

/* The last seq of the log, 0 when empty. */
static uint64_t
last_seq(struct fx *fx)
{
	MDB_txn		*txn;
	MDB_dbi		 dbi;
	uint64_t	 first, last, count;

	assert_int_equal(store_read_begin(fx->st, &txn, NULL), TP_OK);
	assert_int_equal(slog_open(txn, "orders", 0, &dbi), 0);
	assert_int_equal(slog_bounds(txn, dbi, &first, &last, &count), 0);
	store_read_end(fx->st, txn);
	return (last);
}

static int
has_mark(struct fx *fx, uint32_t id)
{
	MDB_txn	*txn;
	MDB_val	 v;
	int	 rc;

	assert_int_equal(store_read_begin(fx->st, &txn, NULL), TP_OK);
	rc = meta_dict_get(txn, store_meta(fx->st), id, &v);
	store_read_end(fx->st, txn);
	return (rc == 0);
}

/* File offsets of the frames in the ring, in file order. */
static size_t
frames_find(struct fx *fx, off_t *offs, size_t max)
{
	char		path[600];
	uint8_t		h[4];
	off_t		off;
	size_t		n = 0;
	int		fd;

	snprintf(path, sizeof path, "%s/%s", fx->dir, WAL_NAME);
	assert_true((fd = open(path, O_RDONLY)) != -1);
	for (off = WAL_RING_OFF; off < (off_t)(WAL_RING_OFF + WAL_TEST_SIZE) &&
	    n < max; off += 512) {
		if (pread(fd, h, 4, off) == 4 && memcmp(h, "TPWF", 4) == 0)
			offs[n++] = off;
	}
	close(fd);
	return (n);
}

/* Flip a byte well inside the frame at off (its payload). */
static void
frame_damage(struct fx *fx, off_t off)
{
	char	path[600];
	uint8_t	c;
	int	fd;

	snprintf(path, sizeof path, "%s/%s", fx->dir, WAL_NAME);
	assert_true((fd = open(path, O_RDWR)) != -1);
	assert_int_equal(pread(fd, &c, 1, off + 100), 1);
	c ^= 0xff;
	assert_int_equal(pwrite(fd, &c, 1, off + 100), 1);
	close(fd);
}

/* Acknowledged batches survive a crash; a second open replays nothing. */
static void
test_wal_replays_after_crash(void **state)
{
	struct fx	*fx = *state;

	crash_after(fx, 1, 20, 50, 1);
	fx_open(fx);
	assert_records(fx, 1, 1000);
	assert_int_equal(last_seq(fx), 1000);
	assert_true(has_mark(fx, 20));
	fx_close(fx);
	fx_open(fx);
	assert_records(fx, 1, 1000);
	fx_close(fx);
}

/*
 * LMDB's newest meta pages lost (garbage): the checkpoint's copies are
 * put back and the frames after it applied again.
 */
static void
test_wal_restores_meta_pages(void **state)
{
	struct fx	*fx = *state;

	crash_after(fx, 1, 20, 50, 1);
	wipe_meta(fx);
	fx_open(fx);
	assert_records(fx, 1, 1000);
	assert_int_equal(last_seq(fx), 1000);
	assert_true(has_mark(fx, 1));
	assert_true(has_mark(fx, 20));
	fx_close(fx);
}

/* A torn last frame ends the log: what came before it is kept. */
static void
test_wal_torn_tail(void **state)
{
	struct fx	*fx = *state;
	off_t		 offs[64];
	size_t		 n;

	crash_after(fx, 1, 3, 10, 1);
	n = frames_find(fx, offs, 64);
	assert_true(n >= 3);
	frame_damage(fx, offs[n - 1]);
	wipe_meta(fx);
	fx_open(fx);
	assert_records(fx, 1, 20);
	assert_int_equal(last_seq(fx), 20);
	assert_true(has_mark(fx, 2));
	assert_false(has_mark(fx, 3));
	fx_close(fx);
}

/*
 * Frames beyond a torn one belong to the run that wrote them: after the
 * next run writes a frame of the same size in the torn one's place, they
 * must not be applied as its successors.
 */
static void
test_wal_stale_frames_ignored(void **state)
{
	struct fx	*fx = *state;
	struct batch	 b;
	off_t		 offs[64];
	size_t		 n;
	int		 status;

	crash_after(fx, 1, 3, 10, 1);
	n = frames_find(fx, offs, 64);
	assert_true(n >= 3);
	/* Batches 1..3 are the last three frames, the same size. */
	frame_damage(fx, offs[n - 2]);
	wipe_meta(fx);
	if (fork() == 0) {
		/* Recovers batch 1, then writes batch 2' in 2's place. */
		fx_open(fx);
		memset(&b, 0, sizeof b);
		b.create = 1;
		if (run(fx, &plain_op, &b) != TP_OK)
			_exit(10);
		memset(&b, 0, sizeof b);
		b.first = 11;
		b.n = 10;
		b.mark = 7;
		if (run(fx, &journal_op, &b) != TP_OK)
			_exit(11);
		_exit(0);
	}
	assert_true(wait(&status) > 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	wipe_meta(fx);
	fx_open(fx);
	assert_records(fx, 1, 20);
	assert_true(has_mark(fx, 1));
	assert_true(has_mark(fx, 7));
	assert_false(has_mark(fx, 2));
	/* Batch 3 (seqs 21..30, mark 3) was never acknowledged as stored. */
	assert_false(has_mark(fx, 3));
	assert_int_equal(last_seq(fx), 20);
	fx_close(fx);
}

/* Many times the ring's size: checkpoints free it; nothing is lost. */
static void
test_wal_ring_wraps(void **state)
{
	struct fx	*fx = *state;

	/* 400 batches of 100 x 200 B: about 8 MiB through a 1 MiB ring. */
	crash_after(fx, 1, 400, 100, 0);
	wipe_meta(fx);
	fx_open(fx);
	assert_int_equal(last_seq(fx), 40000);
	assert_records(fx, 1, 40000);
	fx_close(fx);
}

/*
 * Unsynced batches of nearly the largest frame, back to back: the ring
 * fills before a background checkpoint frees it, and the batch that finds
 * no room is made durable by a checkpoint of its own (it once latched the
 * store instead).
 */
static void
test_wal_ring_full(void **state)
{
	struct fx	*fx = *state;

	/* 200 batches of 1,200 x 200 B: 240 KB frames, a 1 MiB ring. */
	crash_after_as(fx, 1, 200, 1200, 0, WRITER_NOSYNC);
	wipe_meta(fx);
	fx_open(fx);
	assert_int_equal(last_seq(fx), 240000);
	assert_records(fx, 1, 240000);
	fx_close(fx);
}

/*
 * Batches of 40 KB, large enough to go into the log before LMDB commits
 * them (their sync overlaps the commit), survive a crash like any other.
 */
static void
test_wal_logged_before_commit(void **state)
{
	struct fx	*fx = *state;

	crash_after(fx, 1, 30, 200, 1);
	wipe_meta(fx);
	fx_open(fx);
	assert_int_equal(last_seq(fx), 6000);
	assert_records(fx, 1, 6000);
	assert_true(has_mark(fx, 30));
	fx_close(fx);
}

/*
 * Such a batch that LMDB then fails to commit is refused, and its frame,
 * already in the log, must never be replayed. A real full file system (a
 * 4 MiB tmpfs, as root) fails the commit's writes; after a crash, with
 * room again, exactly the acknowledged batches are there.
 */
static void
test_wal_refused_batch_not_replayed(void **state)
{
	struct fx	*fx = *state;
	pid_t		 pid;
	size_t		 done, acked;
	int		 status, code;

	if (geteuid() != 0) {
		printf("skip: cannot mount tmpfs here (not root)\n");
		skip();
	}
	assert_int_equal(mkdir(fx->dir, 0750), 0);
	if (mount("tmpfs", fx->dir, "tmpfs", 0, "size=4m") != 0) {
		printf("skip: cannot mount tmpfs here (%s)\n",
		    strerror(errno));
		skip();
	}
	fx->mounted = 1;
	if ((pid = fork()) == 0) {
		code = fill_log(fx, 1, 200, 200, 0, WRITER_SYNC, &done);
		/* How many were acknowledged before the refusal. */
		_exit(code == TP_ENOSPC ? (int)done : 251);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	acked = (size_t)WEXITSTATUS(status);
	assert_true(acked > 0 && acked < 200);
	assert_int_equal(mount("tmpfs", fx->dir, "tmpfs", MS_REMOUNT,
	    "size=64m"), 0);
	fx_open(fx);
	assert_int_equal(last_seq(fx), acked * 200);
	assert_records(fx, 1, acked * 200);
	fx_close(fx);
}

/* A batch larger than a frame may be is made durable by a checkpoint. */
static void
test_wal_large_batch_checkpoints(void **state)
{
	struct fx	*fx = *state;

	/* One batch of 2,000 x 200 B: more than a quarter of the ring. */
	crash_after(fx, 1, 1, 2000, 1);
	wipe_meta(fx);
	fx_open(fx);
	assert_records(fx, 1, 2000);
	assert_true(has_mark(fx, 1));
	fx_close(fx);
}

/* A changed wal-size remakes the log at the next start, keeping data. */
static void
test_wal_resized(void **state)
{
	struct fx		*fx = *state;
	struct store_opts	 opts = { 16 * MIB, 0, 8, 2 * WAL_TEST_SIZE };
	struct stat		 sb;
	char			 path[600];

	crash_after(fx, 1, 5, 10, 0);
	assert_int_equal(store_open(fx->dir, &opts, &fx->st, NULL), TP_OK);
	store_close(fx->st);
	fx->st = NULL;
	snprintf(path, sizeof path, "%s/%s", fx->dir, WAL_NAME);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal((uint64_t)sb.st_size,
	    WAL_RING_OFF + 2 * WAL_TEST_SIZE);
	wipe_meta(fx);
	fx_open(fx);
	assert_records(fx, 1, 50);
	fx_close(fx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_wal_replays_after_crash),
		T(test_wal_restores_meta_pages),
		T(test_wal_torn_tail),
		T(test_wal_stale_frames_ignored),
		T(test_wal_ring_wraps),
		T(test_wal_ring_full),
		T(test_wal_logged_before_commit),
		T(test_wal_refused_batch_not_replayed),
		T(test_wal_large_batch_checkpoints),
		T(test_wal_resized),
#undef T
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
