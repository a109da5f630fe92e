/*
 * The single writer: one thread that owns every LMDB write transaction.
 * Callers on the loop thread submit operations; the thread applies as many
 * as are queued in one transaction (group commit), commits, makes them
 * durable as the operations ask (a frame of the write-ahead log, synced
 * for WRITER_SYNC), and hands them back as completions, in submission
 * order, through the notify callback and writer_drain(). A flusher thread
 * syncs the log for WRITER_NOSYNC operations and runs checkpoints.
 */
#ifndef TP_STORAGE_WRITER_H
#define TP_STORAGE_WRITER_H

#include <stddef.h>

#include <lmdb.h>

struct store;
struct tp_err;
struct writer;

struct writer_op {
	/*
	 * Writer thread: apply the operation inside txn. Returns an LMDB
	 * code; non-zero aborts the whole transaction. A refusal that
	 * writes nothing (say, a station that exists) is recorded in arg
	 * and returns 0. May run more than once (after map growth).
	 */
	int	(*apply)(MDB_txn *, void *);
	/* Loop thread: the operation's outcome, TP_OK once durable. */
	void	(*done)(void *, int);
	/*
	 * WRITER_JOURNAL: every change apply makes is noted for the
	 * write-ahead log (storage/wal.h), so a frame of the log makes it
	 * durable. Otherwise (0) its commit is followed by a checkpoint.
	 */
	int	journal;
};

#define WRITER_JOURNAL		1
#define WRITER_CHECKPOINT	0

/* Writer thread: completions are waiting; wake the loop. */
typedef void (*writer_notify_cb)(void *);

#define WRITER_SYNC	1	/* fsync before completing */
#define WRITER_NOSYNC	0	/* complete after commit; flushed on a timer */

/* Start the writer thread; interval_ms is the flush period for NOSYNC. */
int	writer_open(struct store *, unsigned, writer_notify_cb, void *,
	    struct writer **, struct tp_err *);
/* Finish everything queued, stop the thread, free (after a last drain). */
void	writer_close(struct writer *);
/*
 * Queue op with arg (borrowed until done runs); bytes is its size for
 * batching and back-pressure. TP_OK, TP_ENOMEM or TP_ESHUTDOWN.
 */
int	writer_submit(struct writer *, const struct writer_op *, void *,
	    size_t, int);
/* Loop thread: run the done callbacks of finished operations. */
void	writer_drain(struct writer *);
/* Bytes submitted and not yet drained. */
size_t	writer_pending_bytes(struct writer *);
/* Operations submitted and not yet drained. */
size_t	writer_pending(struct writer *);

#endif
