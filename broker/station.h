/*
 * The station registry and each station's life on the loop thread:
 * start-up loading, create (with its dead-letter station), delete, purge,
 * sequence assignment and publication, and the settings and idempotency
 * window its appends use. Appends themselves are broker/produce; read-only
 * views are broker/browse; consumer groups (broker/group) hang off their
 * station.
 */
#ifndef TP_BROKER_STATION_H
#define TP_BROKER_STATION_H

#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "proto/tupelo.pb-c.h"

struct config;
struct conn;
struct dedup;
struct group;
struct store;
struct tp_err;
struct writer;

struct station;

/* Load every station and group from storage; before serving. */
int	station_start(struct store *, struct writer *, const struct config *,
	    struct tp_err *);
void	station_stop(void);

struct station *station_find(const char *);
/* The i-th station by name, NULL past the end. */
struct station *station_at(size_t);
void	station_hold(struct station *);
void	station_unref(struct station *);

const char *station_name(struct station *);
MDB_dbi	 station_dbi(struct station *);
const Tupelo__StationConfig *station_settings(struct station *);
const struct config *station_config(void);
struct store *station_store(struct station *);
struct writer *station_writer(struct station *);
/* Deleted, waiting for its pending operations. */
int	station_deleted(struct station *);
/* Its dead-letter station; NULL for a dead-letter station. */
struct station *station_dls(struct station *);
/* Its zstd state (broker/compress). */
struct compress *station_compress(struct station *);
/* Its message id window (NULL for a DLS) and the window's length. */
struct dedup *station_dedup(struct station *);
int64_t	 station_dedup_window_ns(struct station *);
/* Largest payload accepted, and WRITER_SYNC or WRITER_NOSYNC. */
uint64_t station_max_message(struct station *);
int	 station_sync(struct station *);
/* Broker time for a new record, ns, never going back on a station. */
int64_t	 station_now(struct station *);

/* The seq the next append gets; assign n seqs to one (the first). */
uint64_t station_next_seq(struct station *);
uint64_t station_reserve(struct station *, size_t);
/* An append reserved with station_reserve() is over: code TP_OK once
   durable (published to groups), or failed. */
void	station_append_done(struct station *, uint64_t, size_t, int);
/* Might seq belong to an append that failed (while appends are in
   flight)? Conservative: it may say yes for a stored one. */
int	station_seq_failed(struct station *, uint64_t);
/* Highest seq whose batch is durable: what groups may deliver. */
uint64_t station_committed(struct station *);
/* A batch up to last is durable: publish it and wake the groups. */
void	station_committed_to(struct station *, uint64_t);
/* First seq whose record time is >= ns (past the end: last + 1). */
int	station_seq_at_time(MDB_txn *, struct station *, int64_t,
	    uint64_t *);

size_t	 station_ngroups(struct station *);
struct group *station_group_at(struct station *, size_t);
struct group *station_group_find(struct station *, const char *);
int	station_group_add(struct station *, struct group *);
void	station_group_remove(struct station *, struct group *);

/* Requests; each replies on conn itself, now or once durable. */
void	station_create(struct conn *, uint64_t, const Tupelo__StationConfig *);
void	station_delete(struct conn *, uint64_t, const char *);
void	station_purge(struct conn *, uint64_t, const char *);
void	station_update(struct conn *, uint64_t, const Tupelo__StationUpdate *);
/* Operations that run one at a time per station. */
#define STATION_BUSY_UPDATE	0x1	/* a settings update */
#define STATION_BUSY_REPLAY	0x2	/* a replay out of this DLS */
int	station_busy(struct station *, int);
void	station_set_busy(struct station *, int, int);
/* A retention operation is queued (one at a time per station). */
int	station_trimming(struct station *);
void	station_set_trimming(struct station *, int);

#endif
