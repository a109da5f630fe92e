/*
 * Group commit. The loop thread queues operations; the writer thread takes
 * everything queued (up to WRITER_TXN_BYTES), applies it in one write
 * transaction and commits once, so many producers share one fsync. An
 * operation is completed only after its transaction is durable as it asked:
 * with WRITER_SYNC the commit itself fsyncs (LMDB syncs data pages before
 * the meta page, which is what keeps a power cut from tearing the
 * database); WRITER_NOSYNC batches commit without fsync and a flusher
 * thread of its own syncs them every interval, so that a flush of much
 * dirty data never holds up the commits behind it. After a failed commit
 * or flush the store latches and every later operation fails: nothing
 * that may not be on disk is acknowledged.
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

/* Largest transaction: keeps dirty pages well inside LMDB's limit. */
#define WRITER_TXN_BYTES	(32U * 1024 * 1024)

struct writer_req {
	const struct writer_op	*op;		/* borrowed, static */
	void			*arg;		/* borrowed until done */
	size_t			 bytes;
	int			 sync;
	int			 code;		/* outcome, TP_E* */
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
	struct writer_reqs	 done;		/* completed, to drain */
	int			 stopping;
	size_t			 pending_bytes;	/* submitted, not drained */
	size_t			 pending;

	uint64_t		 nudges;	/* writer_nudge() commits */

	/* The flusher; under lock as well. */
	pthread_t		 flusher;
	int			 fstarted;
	pthread_cond_t		 fcond;		/* wakes it to stop */
	int			 fstopping;
	uint64_t		 nosync_gen;	/* NOSYNC commits so far */
	uint64_t		 synced_gen;	/* of those, surely on disk */
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
}

/* Apply a batch in one transaction; the result goes in each req. */
static void
writer_apply(struct writer *w, struct writer_reqs *batch)
{
	MDB_env			*env = store_env(w->store);
	MDB_txn			*txn;
	struct writer_req	*r;
	struct writer_reqs	 one, done;
	int			 rc, code, sync = 0, nudged = 0;

	TAILQ_INIT(&done);

	if ((code = store_failed(w->store)) != TP_OK)
		goto out;
	TAILQ_FOREACH(r, batch, entry)
		sync |= r->sync;
again:
	if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0) {
		code = store_code(rc);
		goto out;
	}
	TAILQ_FOREACH(r, batch, entry) {
		if ((rc = r->op->apply(txn, r->arg)) != 0)
			break;
	}
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
	/* NOSYNC only when no operation in the batch wants an fsync. */
	mdb_env_set_flags(env, MDB_NOSYNC, !sync);
	rc = mdb_txn_commit(txn);
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
			store_fail(w->store, TP_EIO);
		else if (!nudged++) {
			writer_nudge(w);
			goto again;
		}
		goto out;
	}
	/* A synced commit flushes the file: earlier ones with it. */
	pthread_mutex_lock(&w->lock);
	if (!sync)
		w->nosync_gen++;
	else
		w->synced_gen = w->nosync_gen;
	pthread_mutex_unlock(&w->lock);
	code = TP_OK;
out:
	TAILQ_FOREACH(r, batch, entry)
		r->code = code;
	return;
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
		writer_apply(w, &one);
		TAILQ_CONCAT(&done, &one, entry);
	}
	TAILQ_CONCAT(batch, &done, entry);
}

/* Sync what NOSYNC commits left unsynced; a failure latches the store. */
static void
writer_flush(struct writer *w)
{
	uint64_t	gen;
	int		rc;

	pthread_mutex_lock(&w->lock);
	gen = w->nosync_gen;
	if (gen == w->synced_gen) {
		pthread_mutex_unlock(&w->lock);
		return;
	}
	pthread_mutex_unlock(&w->lock);
	/* Only an fdatasync of the file: safe beside a commit. */
	if ((rc = mdb_env_sync(store_env(w->store), 1)) != 0)
		store_fail(w->store, TP_EIO);
	pthread_mutex_lock(&w->lock);
	if (gen > w->synced_gen)
		w->synced_gen = gen;
	pthread_mutex_unlock(&w->lock);
}

static void *
writer_flusher_main(void *arg)
{
	struct writer	*w = arg;
	struct timespec	 ts;

	pthread_mutex_lock(&w->lock);
	while (!w->fstopping) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += w->interval_ms / 1000;
		ts.tv_nsec += (long)(w->interval_ms % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&w->fcond, &w->lock, &ts);
		if (w->fstopping)
			break;
		pthread_mutex_unlock(&w->lock);
		writer_flush(w);
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
	size_t			 bytes;

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

		writer_apply(w, &batch);

		pthread_mutex_lock(&w->lock);
		TAILQ_CONCAT(&w->done, &batch, entry);
		pthread_mutex_unlock(&w->lock);
		w->notify(w->notify_arg);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	writer_flush(w);
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
	TAILQ_INIT(&w->queue);
	TAILQ_INIT(&w->done);
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		writer_close(w);
		return (error_set(err, TP_ENOMEM, "cannot start the writer "
		    "thread"));
	}
	w->started = 1;
	if (pthread_create(&w->flusher, NULL, writer_flusher_main, w) != 0) {
		writer_close(w);
		return (error_set(err, TP_ENOMEM, "cannot start the flusher "
		    "thread"));
	}
	w->fstarted = 1;
	*out = w;
	return (TP_OK);
}

void
writer_close(struct writer *w)
{
	struct writer_req	*r, *r1;

	if (w == NULL)
		return;
	if (w->started) {
		pthread_mutex_lock(&w->lock);
		w->stopping = 1;
		pthread_cond_signal(&w->cond);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->thread, NULL);
	}
	/* The writer flushed on its way out; now the flusher goes. */
	if (w->fstarted) {
		pthread_mutex_lock(&w->lock);
		w->fstopping = 1;
		pthread_cond_signal(&w->fcond);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->flusher, NULL);
	}
	writer_drain(w);
	TAILQ_FOREACH_SAFE(r, &w->queue, entry, r1)
		free(r);
	pthread_cond_destroy(&w->cond);
	pthread_cond_destroy(&w->fcond);
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
