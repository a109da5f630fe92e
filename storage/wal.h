/*
 * The write-ahead log of a data directory (tupelo.wal): how a group commit
 * becomes durable with one fdatasync of a file rewritten in place.
 *
 * LMDB commits without syncing; what a transaction changed is noted (as
 * blind writes: whole values put, keys deleted, records appended at given
 * seqs) and written as one frame into a ring of preallocated space; one
 * fdatasync of the log makes the batch durable. A checkpoint syncs LMDB,
 * keeps a copy of its two meta pages in the log's header and frees the
 * ring up to that point. From one checkpoint to the next a read
 * transaction pins the checkpoint's snapshot, so LMDB never writes over
 * its pages: after a crash of the process or of the machine, putting the
 * meta pages back returns the database to the checkpoint exactly, and the
 * frames after it are applied again, in order.
 *
 * Threads: recording and wal_write() belong to the writer thread;
 * wal_sync() and wal_checkpoint_end() may run on another (the flusher).
 */
#ifndef TP_STORAGE_WAL_H
#define TP_STORAGE_WAL_H

#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

struct tp_err;
struct wal;

#define WAL_NAME	"tupelo.wal"
#define WAL_SIZE_MIN	(1U << 20)	/* smallest ring, bytes */

/*
 * Before LMDB opens dir: open dir/tupelo.wal, or create it with a ring of
 * size bytes written out in full. If it holds a checkpoint, the meta
 * pages of dir/data.mdb are put back to it (and LMDB's lock file, which
 * may remember later commits, is removed).
 */
int	wal_open(const char *, uint64_t, struct wal **, struct tp_err *);
/*
 * After LMDB has opened: apply the frames that follow the checkpoint,
 * then checkpoint, so the ring starts empty. An LMDB code comes back in
 * *lmdb_rc (MDB_MAP_FULL: grow the map and call again; replay is exact
 * however often it runs).
 */
int	wal_recover(struct wal *, MDB_env *, int *, struct tp_err *);
/* Frames the last wal_recover() applied. */
uint64_t wal_replayed(struct wal *);

/*
 * fsync directory dir, so that the names created, renamed or removed in
 * it are durable (a new file's data is not reachable after a power cut
 * until its directory entry is). 0, or -1 with errno.
 */
int	wal_sync_dir(const char *);

/*
 * What recovery would start from, read without changing anything (for
 * tupelod --check): the checkpoint's copy of LMDB's meta pages, and the
 * frames after it that a start would apply.
 */
struct wal_view {
	int		 checkpoint;	/* 0: no log, or no checkpoint */
	unsigned	 psize;		/* LMDB page size */
	uint8_t		*meta;		/* owned: 2 * psize bytes */
	uint64_t	 frames;	/* to replay after it */
	uint64_t	 bytes;		/* their payload */
};
/* Read dir's log into *v (zeroed first); TP_OK, TP_EIO, TP_ENOMEM. */
int	wal_view_read(const char *, struct wal_view *, struct tp_err *);
void	wal_view_free(struct wal_view *);
/* Release the pinned snapshot and close the file (no checkpoint). */
void	wal_close(struct wal *);

/*
 * Recording, writer thread. Between begin and end, the wal_note_*
 * functions append to the frame being built; outside, they do nothing.
 * wal_record_end() says whether the frame holds everything (TP_OK) or
 * grew too large for the ring (TP_ETOOBIG: checkpoint instead).
 */
void	wal_record_begin(struct wal *);
int	wal_record_end(struct wal *);
void	wal_note_put(const char *, const void *, size_t, const void *,
	    size_t);
void	wal_note_del(const char *, const void *, size_t);
void	wal_note_append(const char *, uint64_t, const uint8_t *,
	    const uint32_t *, size_t);

/*
 * Writer thread: write the recorded frame to the ring (not synced); *lsn
 * is then the lsn after every frame written so far. TP_OK; TP_ETOOBIG
 * when the ring has no room until a checkpoint; TP_EIO.
 */
int	wal_write(struct wal *, uint64_t *);
/*
 * fdatasync what has been written (nothing to do if that is synced);
 * TP_OK or TP_EIO. Any thread.
 */
int	wal_sync(struct wal *);
/* The lsn after the last frame synced. */
uint64_t wal_synced(struct wal *);

/*
 * Checkpoints. wal_checkpoint() (writer thread, between transactions)
 * does one in full, after waiting for one in progress. In the
 * background: wal_checkpoint_due() says whether one is worth starting;
 * wal_checkpoint_begin() (writer thread, right after a commit) pins that
 * commit and returns 1 if it started one; wal_checkpoint_end() (any
 * thread) syncs LMDB, writes the header and moves the pin. Failures are
 * TP_EIO: the data may not be on disk.
 */
int	wal_checkpoint(struct wal *, MDB_env *);

int	wal_checkpoint_due(struct wal *, MDB_env *);
int	wal_checkpoint_begin(struct wal *, MDB_env *);
int	wal_checkpoint_end(struct wal *, MDB_env *);

#endif
