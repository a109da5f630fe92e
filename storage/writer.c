/*
 * Group commit. The loop thread queues operations; the writer thread takes
 * everything queued (up to WRITER_TXN_BYTES), applies it in one write
 * transaction and commits once, so many producers share one sync. LMDB
 * commits without syncing; the batch's changes, noted as it applied them,
 * go into the write-ahead log as one frame, and an fdatasync of the log
 * (for WRITER_SYNC; the flusher's, every interval, for WRITER_NOSYNC)
 * makes them durable. A large batch (WRITER_EARLY_BYTES) goes into the log
 * before LMDB commits it, and the syncer syncs it while the commit runs;
 * should that commit fail, a checkpoint moves the log's start past the
 * frame before the batch is answered, so that no replay applies it. An
 * operation that is not journaled, or a batch too large for the log, is
 * made durable by a checkpoint instead. Checkpoints
 * also run in the background on the flusher thread, so that syncing much
 * of LMDB never holds up the commits behind it. An operation is completed
 * only once it is durable as it asked. After a failed commit, write or
 * sync the store latches and every later operation fails: nothing that
 * may not be on disk is acknowledged.
 */
#include "storage/writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/compat.h"
#include "proto/error.h"
#include "storage/store.h"
#include "storage/wal.h"

/* Largest transaction: keeps dirty pages well inside LMDB's limit. */
#define WRITER_TXN_BYTES	(32U * 1024 * 1024)
#define WRITER_TICK_MS		10	/* the flusher's writeback, when busy */
/*
 * A batch from this size on commits for longer than it takes to hand its
 * sync to the syncer (tens of microseconds here, a wakeup on another
 * CPU), so the two overlap; a smaller one is synced after its commit, on
 * the writer thread, with no hand-off.
 */
#define WRITER_EARLY_BYTES	(32U * 1024)

struct writer_req {
	const struct writer_op	*op;		/* borrowed, static */
	void			*arg;		/* borrowed until done */
	size_t			 bytes;
	int			 sync;
	int			 code;		/* outcome, TP_E* */
	uint64_t		 lsn;		/* durable once the log is
						   synced to here; 0: now */
	TAILQ_ENTRY(writer_req)	 entry;
};
TAILQ_HEAD(writer_reqs, writer_req);

struct writer {
	struct store		*store;		/* borrowed */
	unsigned		 interval_ms;	/* NOSYNC flush period */
	writer_notify_cb	 notify;
	void			*notify_arg;
	pthread_t		 thread;
	int			 started;

	pthread_mutex_t		 lock;		/* guards what follows */
	pthread_cond_t		 cond;
	struct writer_reqs	 queue;		/* submitted */
	struct writer_reqs	 syncing;	/* committed, awaiting a sync */
	struct writer_reqs	 done;		/* completed, to drain */
	int			 stopping;
	size_t			 pending_bytes;	/* submitted, not drained */
	size_t			 pending;

	uint64_t		 nudges;	/* writer_nudge() commits */

	/* The syncer; under lock as well. */
	pthread_t		 syncer;
	int			 sstarted;
	pthread_cond_t		 scond;		/* wakes it */
	int			 sync_wanted;	/* the log needs a sync */
	int			 sstopping;
	int			 sync_failed;	/* no later sync is trusted */

	/* The flusher; under lock as well. */
	pthread_t		 flusher;
	int			 fstarted;
	pthread_cond_t		 fcond;		/* wakes it */
	int			 fstopping;
	int			 checkpoint;	/* one was begun: end it */
	uint64_t		 commits;	/* LMDB commits so far */
};

/*
 * Commit one tiny transaction. LMDB reuses the pages a transaction freed
 * (a purge, a trim) only after a later one has committed, and a refused
 * append commits nothing; at the cap this moves it along.
 */
static void
writer_nudge(struct writer *w)
{
	MDB_txn	*txn;
	MDB_val	 k, v;

	if (mdb_txn_begin(store_env(w->store), NULL, 0, &txn) != 0)
		return;
	k.mv_data = "writer/nudge";
	k.mv_size = strlen(k.mv_data);
	v.mv_data = &w->nudges;
	v.mv_size = sizeof w->nudges;
	w->nudges++;
	if (mdb_put(txn, store_meta(w->store), &k, &v, 0) != 0)
		mdb_txn_abort(txn);
	else
		mdb_txn_commit(txn);
	/* The checkpoint's pinned snapshot holds freed pages too. */
	if (wal_checkpoint(store_wal(w->store), store_env(w->store)) != TP_OK)
		store_fail(w->store, TP_EIO, "checkpoint after a nudge");
}

/* Have the syncer sync the log (again, if it is at it). */
static void
writer_sync_later(struct writer *w)
{
	pthread_mutex_lock(&w->lock);
	w->sync_wanted = 1;
	pthread_cond_signal(&w->scond);
	pthread_mutex_unlock(&w->lock);
}

/*
 * Write the batch's recorded frame to the log: durable once the log is
 * synced up to *lsn (sync) or at the flusher's next sync (NOSYNC: *lsn is
 * 0). A frame the ring has no room for clears *journal: a checkpoint
 * makes the batch durable instead.
 */
static int
writer_log(struct writer *w, int *journal, int sync, uint64_t *lsn)
{
	uint64_t	written = 0;
	int		code;

	*lsn = 0;
	if (!*journal)
		return (TP_OK);
	if ((code = wal_write(store_wal(w->store), &written)) == TP_ETOOBIG) {
		*journal = 0;
		return (TP_OK);
	}
	if (code != TP_OK) {
		store_fail(w->store, TP_EIO, "write to the write-ahead log");
		return (TP_EIO);
	}
	if (sync)
		*lsn = written;
	return (TP_OK);
}

/*
 * After a commit: a batch not in the log is made durable by a checkpoint,
 * at once. Then maybe start a checkpoint in the background.
 */
static int
writer_settle(struct writer *w, int journal)
{
	struct wal	*wal = store_wal(w->store);
	MDB_env		*env = store_env(w->store);

	if (!journal && wal_checkpoint(wal, env) != TP_OK) {
		store_fail(w->store, TP_EIO, "checkpoint");
		return (TP_EIO);
	}
	pthread_mutex_lock(&w->lock);
	w->commits++;
	pthread_mutex_unlock(&w->lock);
	if (wal_checkpoint_due(wal, env) && wal_checkpoint_begin(wal, env)) {
		pthread_mutex_lock(&w->lock);
		w->checkpoint = 1;
		pthread_cond_signal(&w->fcond);
		pthread_mutex_unlock(&w->lock);
	}
	return (TP_OK);
}

/*
 * Apply a batch in one transaction; the result goes in each req. Returns
 * 1 if the syncer was asked to sync the batch's frame (logged before the
 * commit), 0 if the caller has to see to it.
 */
static int
writer_apply(struct writer *w, struct writer_reqs *batch)
{
	MDB_env			*env = store_env(w->store);
	MDB_txn			*txn;
	struct writer_req	*r;
	struct writer_reqs	 one, done;
	struct wal		*wal = store_wal(w->store);
	uint64_t		 lsn = 0;
	size_t			 bytes = 0;
	int			 rc, code, sync = 0, nudged = 0, journal = 1;
	int			 early = 0;

	TAILQ_INIT(&done);

	if ((code = store_failed(w->store)) != TP_OK)
		goto out;
	TAILQ_FOREACH(r, batch, entry) {
		sync |= r->sync;
		journal &= r->op->journal;
		bytes += r->bytes;
	}
again:
	early = 0;
	if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0) {
		code = store_code(rc);
		goto out;
	}
	if (journal)
		wal_record_begin(wal);
	TAILQ_FOREACH(r, batch, entry) {
		if ((rc = r->op->apply(txn, r->arg)) != 0)
			break;
	}
	if (journal && wal_record_end(wal) != TP_OK)
		journal = 0;
	if (rc == MDB_MAP_FULL) {
		mdb_txn_abort(txn);
		if ((code = store_grow(w->store, NULL)) == TP_OK)
			goto again;
		if (!nudged++) {
			writer_nudge(w);
			goto again;
		}
		goto full;
	}
	if (rc != 0) {
		mdb_txn_abort(txn);
		code = store_code(rc);
		goto out;
	}
	if (journal && sync && bytes >= WRITER_EARLY_BYTES) {
		if ((code = writer_log(w, &journal, sync, &lsn)) != TP_OK) {
			mdb_txn_abort(txn);
			goto out;
		}
		if ((early = journal) != 0)
			writer_sync_later(w);
	}
	rc = mdb_txn_commit(txn);
	if (rc != 0 && early && wal_checkpoint(wal, env) != TP_OK) {
		/* The frame may yet be replayed: answer nothing more. */
		store_fail(w->store, TP_EIO, "checkpoint after a failed "
		    "commit");
		code = TP_EIO;
		early = 0;
		goto out;
	}
	if (rc == MDB_MAP_FULL) {
		/*
		 * LMDB may run out of map while saving its free list in the
		 * commit itself; nothing was written, so grow and redo.
		 */
		if ((code = store_grow(w->store, NULL)) == TP_OK)
			goto again;
		if (!nudged++) {
			writer_nudge(w);
			goto again;
		}
		goto full;
	}
	if (rc != 0) {
		/*
		 * LMDB writes the meta page only after the data pages are
		 * flushed, so a failed commit leaves the last one intact.
		 * A full disk is refused and may pass; any other failure
		 * (a failed fsync above all) latches the store shut.
		 */
		code = store_code(rc);
		/* LMDB reports a short write (a full disk) as EIO. */
		if (code == TP_EIO && store_disk_full(w->store))
			code = TP_ENOSPC;
		if (code != TP_ENOSPC)
			store_fail(w->store, TP_EIO, "LMDB commit");
		else if (!nudged++) {
			writer_nudge(w);
			goto again;
		}
		goto out;
	}
	if (!early)
		code = writer_log(w, &journal, sync, &lsn);
	if (code == TP_OK)
		code = writer_settle(w, journal);
out:
	TAILQ_FOREACH(r, batch, entry) {
		r->code = code;
		r->lsn = code == TP_OK ? lsn : 0;
	}
	return (early && code == TP_OK);
full:
	/*
	 * At the size cap: apply the operations one by one, so the small
	 * ones (acks, retention trims that free space) still go through
	 * while the appends that do not fit are refused.
	 */
	if (TAILQ_FIRST(batch) == TAILQ_LAST(batch, writer_reqs))
		goto out;
	while ((r = TAILQ_FIRST(batch)) != NULL) {
		TAILQ_REMOVE(batch, r, entry);
		TAILQ_INIT(&one);
		TAILQ_INSERT_TAIL(&one, r, entry);
		(void)writer_apply(w, &one);
		TAILQ_CONCAT(&done, &one, entry);
	}
	TAILQ_CONCAT(batch, &done, entry);
	return (0);
}

/*
 * Complete, in order, the committed operations that are durable: those
 * the log has been synced for. After a failed sync none is trusted.
 */
static void
writer_complete(struct writer *w)
{
	struct writer_req	*r;
	uint64_t		 synced = wal_synced(store_wal(w->store));
	int			 moved = 0;

	pthread_mutex_lock(&w->lock);
	while ((r = TAILQ_FIRST(&w->syncing)) != NULL) {
		if (r->lsn > synced && !w->sync_failed)
			break;
		if (r->lsn > synced)
			r->code = TP_EIO;
		TAILQ_REMOVE(&w->syncing, r, entry);
		TAILQ_INSERT_TAIL(&w->done, r, entry);
		moved = 1;
	}
	pthread_mutex_unlock(&w->lock);
	if (moved)
		w->notify(w->notify_arg);
}

/* Sync the log; a failure latches the store. Writer or syncer. */
static void
writer_sync(struct writer *w)
{
	if (wal_sync(store_wal(w->store)) != TP_OK) {
		store_fail(w->store, TP_EIO, "sync of the write-ahead log");
		pthread_mutex_lock(&w->lock);
		w->sync_failed = 1;
		pthread_mutex_unlock(&w->lock);
	}
	writer_complete(w);
}

/*
 * The syncer: syncs the log while the writer commits the next batch, so
 * that a sync and a commit overlap and every sync carries all that was
 * committed while the previous one ran.
 */
static void *
writer_syncer_main(void *arg)
{
	struct writer	*w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->sync_wanted && !w->sstopping)
			pthread_cond_wait(&w->scond, &w->lock);
		if (!w->sync_wanted)
			break;
		w->sync_wanted = 0;
		pthread_mutex_unlock(&w->lock);
		writer_sync(w);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return (NULL);
}

/*
 * The flusher: ends a checkpoint the writer began, starts the writeback of
 * what commits left in LMDB's file (so that a checkpoint finds little to
 * flush and the log's syncs never queue behind a large one), and syncs the
 * log every interval for what NOSYNC operations left unsynced. It ticks
 * every WRITER_TICK_MS while there are commits, every interval otherwise.
 */
static void *
writer_flusher_main(void *arg)
{
	struct writer	*w = arg;
	struct wal	*wal = store_wal(w->store);
	struct timespec	 ts;
	uint64_t	 commits, seen = 0;
	int64_t		 now, synced_ms = 0;
	unsigned	 wait_ms = w->interval_ms;
	int		 checkpoint;

	pthread_mutex_lock(&w->lock);
	while (!w->fstopping) {
		if (!w->checkpoint) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += wait_ms / 1000;
			ts.tv_nsec += (long)(wait_ms % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&w->fcond, &w->lock, &ts);
		}
		if (w->fstopping)
			break;
		checkpoint = w->checkpoint;
		w->checkpoint = 0;
		commits = w->commits;
		pthread_mutex_unlock(&w->lock);
		if (checkpoint &&
		    wal_checkpoint_end(wal, store_env(w->store)) != TP_OK)
			store_fail(w->store, TP_EIO, "checkpoint");
		if (commits != seen)
			store_writeback(w->store);
		wait_ms = commits != seen ? WRITER_TICK_MS : w->interval_ms;
		seen = commits;
		now = tp_now_ms();
		if (now - synced_ms >= (int64_t)w->interval_ms) {
			if (wal_sync(wal) != TP_OK)
				store_fail(w->store, TP_EIO, "sync of the "
				    "write-ahead log");
			synced_ms = now;
		}
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return (NULL);
}

static void *
writer_main(void *arg)
{
	struct writer		*w = arg;
	struct writer_reqs	 batch;
	struct writer_req	*r;
	uint64_t		 need;
	size_t			 bytes;
	int			 more, early;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (TAILQ_EMPTY(&w->queue) && !w->stopping)
			pthread_cond_wait(&w->cond, &w->lock);
		if (TAILQ_EMPTY(&w->queue))
			break;
		TAILQ_INIT(&batch);
		bytes = 0;
		while ((r = TAILQ_FIRST(&w->queue)) != NULL &&
		    (bytes == 0 || bytes + r->bytes <= WRITER_TXN_BYTES)) {
			TAILQ_REMOVE(&w->queue, r, entry);
			TAILQ_INSERT_TAIL(&batch, r, entry);
			bytes += r->bytes;
		}
		pthread_mutex_unlock(&w->lock);

		early = writer_apply(w, &batch);

		/*
		 * The syncer may have synced a batch logged before its
		 * commit already: writer_complete() looks. Otherwise, with
		 * more queued, the syncer syncs while this thread commits
		 * it, and with nothing queued this thread syncs at once.
		 */
		need = 0;
		TAILQ_FOREACH(r, &batch, entry)
			if (r->lsn > need)
				need = r->lsn;
		pthread_mutex_lock(&w->lock);
		TAILQ_CONCAT(&w->syncing, &batch, entry);
		more = !TAILQ_EMPTY(&w->queue);
		pthread_mutex_unlock(&w->lock);
		if (need != 0 && !early && !more)
			writer_sync(w);
		else {
			if (need != 0 && !early)
				writer_sync_later(w);
			writer_complete(w);
		}
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return (NULL);
}

int
writer_open(struct store *st, unsigned interval_ms, writer_notify_cb notify,
    void *arg, struct writer **out, struct tp_err *err)
{
	struct writer	*w;

	*out = NULL;
	if ((w = calloc(1, sizeof *w)) == NULL)
		return (error_set(err, TP_ENOMEM, "out of memory"));
	w->store = st;
	w->interval_ms = interval_ms != 0 ? interval_ms : 100;
	w->notify = notify;
	w->notify_arg = arg;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	pthread_cond_init(&w->fcond, NULL);
	pthread_cond_init(&w->scond, NULL);
	TAILQ_INIT(&w->queue);
	TAILQ_INIT(&w->syncing);
	TAILQ_INIT(&w->done);
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		writer_close(w);
		return (error_set(err, TP_ENOMEM, "cannot start the writer "
		    "thread"));
	}
	w->started = 1;
	if (pthread_create(&w->syncer, NULL, writer_syncer_main, w) != 0) {
		writer_close(w);
		return (error_set(err, TP_ENOMEM, "cannot start the syncer "
		    "thread"));
	}
	w->sstarted = 1;
	if (pthread_create(&w->flusher, NULL, writer_flusher_main, w) != 0) {
		writer_close(w);
		return (error_set(err, TP_ENOMEM, "cannot start the flusher "
		    "thread"));
	}
	w->fstarted = 1;
	*out = w;
	return (TP_OK);
}

/* Tell one of the threads to stop (its flag, its condition), and wait. */
static void
writer_join(struct writer *w, int started, pthread_t t, int *stopping,
    pthread_cond_t *cond)
{
	if (!started)
		return;
	pthread_mutex_lock(&w->lock);
	*stopping = 1;
	pthread_cond_signal(cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(t, NULL);
}

void
writer_close(struct writer *w)
{
	struct writer_req	*r, *r1;

	if (w == NULL)
		return;
	writer_join(w, w->started, w->thread, &w->stopping, &w->cond);
	writer_join(w, w->sstarted, w->syncer, &w->sstopping, &w->scond);
	if (!TAILQ_EMPTY(&w->syncing))
		writer_sync(w);
	writer_join(w, w->fstarted, w->flusher, &w->fstopping, &w->fcond);
	/* A checkpoint begun for the flusher; store_close() makes the last. */
	if (wal_checkpoint_end(store_wal(w->store), store_env(w->store)) !=
	    TP_OK)
		store_fail(w->store, TP_EIO, "checkpoint");
	writer_drain(w);
	TAILQ_FOREACH_SAFE(r, &w->queue, entry, r1)
		free(r);
	pthread_cond_destroy(&w->cond);
	pthread_cond_destroy(&w->fcond);
	pthread_cond_destroy(&w->scond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

int
writer_submit(struct writer *w, const struct writer_op *op, void *arg,
    size_t bytes, int sync)
{
	struct writer_req	*r;

	if ((r = calloc(1, sizeof *r)) == NULL)
		return (TP_ENOMEM);
	r->op = op;
	r->arg = arg;
	r->bytes = bytes;
	r->sync = sync;
	pthread_mutex_lock(&w->lock);
	if (w->stopping) {
		pthread_mutex_unlock(&w->lock);
		free(r);
		return (TP_ESHUTDOWN);
	}
	TAILQ_INSERT_TAIL(&w->queue, r, entry);
	w->pending_bytes += bytes;
	w->pending++;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return (TP_OK);
}

void
writer_drain(struct writer *w)
{
	struct writer_reqs	 done;
	struct writer_req	*r, *r1;
	size_t			 bytes = 0, n = 0;

	TAILQ_INIT(&done);
	pthread_mutex_lock(&w->lock);
	TAILQ_CONCAT(&done, &w->done, entry);
	pthread_mutex_unlock(&w->lock);
	TAILQ_FOREACH_SAFE(r, &done, entry, r1) {
		bytes += r->bytes;
		n++;
		r->op->done(r->arg, r->code);
		free(r);
	}
	pthread_mutex_lock(&w->lock);
	w->pending_bytes -= bytes;
	w->pending -= n;
	pthread_mutex_unlock(&w->lock);
}

size_t
writer_pending_bytes(struct writer *w)
{
	size_t	n;

	pthread_mutex_lock(&w->lock);
	n = w->pending_bytes;
	pthread_mutex_unlock(&w->lock);
	return (n);
}

size_t
writer_pending(struct writer *w)
{
	size_t	n;

	pthread_mutex_lock(&w->lock);
	n = w->pending;
	pthread_mutex_unlock(&w->lock);
	return (n);
}
