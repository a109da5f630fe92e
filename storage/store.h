/*
 * The LMDB environment of one data directory: opening it, the metadata
 * database, map growth on MDB_MAP_FULL up to a cap, read transactions for
 * the loop thread, the write-ahead log that makes commits durable (opened,
 * and replayed after a crash, here), and the failed latch that refuses
 * writes after a failed commit. Never sees libevent or sockets.
 */
#ifndef TP_STORAGE_STORE_H
#define TP_STORAGE_STORE_H

#include <stdint.h>

#include <lmdb.h>

struct tp_err;
struct store;
struct wal;

#define STORE_WAL_SIZE	(64ULL << 20)	/* default ring of the log */
#define STORE_META_NAME	"meta"		/* the metadata database */

struct store_opts {
	uint64_t	map_size;	/* initial map, bytes */
	uint64_t	map_max;	/* growth cap, bytes; 0: none */
	unsigned	max_stations;	/* named databases */
	uint64_t	wal_size;	/* write-ahead log ring; 0: default */
};

/* Open (creating) the environment in dir; fills *out. */
int	store_open(const char *, const struct store_opts *, struct store **,
	    struct tp_err *);
/* The last checkpoint (unless the store failed), then close. */
void	store_close(struct store *);
MDB_env	*store_env(struct store *);
MDB_dbi	 store_meta(struct store *);
/* The write-ahead log (storage/wal.h); the writer's. */
struct wal *store_wal(struct store *);
/* Current map size in bytes. */
uint64_t store_map_size(struct store *);
/* Grow the map (doubling, capped); TP_ENOSPC at the cap. Writer only. */
int	store_grow(struct store *, struct tp_err *);
/* Begin / end a read transaction. One open at a time per store. */
int	store_read_begin(struct store *, MDB_txn **, struct tp_err *);
void	store_read_end(struct store *, MDB_txn *);
/* Start writing the data file's dirty pages out, without waiting. */
void	store_writeback(struct store *);
/* Is the file system of the data directory (nearly) full? */
int	store_disk_full(struct store *);
/* The latched failure code, or TP_OK. Thread-safe. */
int	store_failed(struct store *);
/*
 * Latch code (the first one stays), with what failed (a static string;
 * errno at the call is added). Thread-safe.
 */
void	store_fail(struct store *, int, const char *);
/* What latched the store, for the log. */
const char *store_fail_why(struct store *);
/*
 * Have cb(arg, code, why) called once when the store latches, on the
 * thread that latched it (the writer, its syncer or flusher, or the
 * loop): the broker says so in its log at once, not only when the next
 * write is refused.
 */
typedef void (*store_fail_cb)(void *, int, const char *);
void	store_on_fail(struct store *, store_fail_cb, void *);
/* Map an LMDB or errno value to a TP_E* code. */
int	store_code(int);

#endif
