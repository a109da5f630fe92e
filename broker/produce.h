/*
 * Appends: the Produce request (limits, the idempotency window, encoding,
 * seq assignment, the acknowledgement once durable) and the internal
 * appends of dead letters and replays, all through the writer. Also the
 * writer-thread steps that change a log and its counters together.
 */
#ifndef TP_BROKER_PRODUCE_H
#define TP_BROKER_PRODUCE_H

#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "proto/tupelo.pb-c.h"

struct conn;
struct station;

/* Outcome of an internal append: TP_OK and the first seq, once durable. */
typedef void (*produce_done_cb)(void *, int, uint64_t);

/* Handle a Produce request; replies on conn once durable. */
void	produce_request(struct conn *, uint64_t, const Tupelo__Produce *);
/*
 * Append n encoded records (buf, with lens; both malloc'd and taken) to
 * st. done runs on the loop. Returns TP_OK or why nothing was queued
 * (then buf and lens are freed and done is not called).
 */
int	produce_records(struct station *, uint8_t *, uint32_t *, size_t,
	    produce_done_cb, void *);
/*
 * Writer thread: append records at first.. and update the counters;
 * logical is their size uncompressed, or -1 to decode them for it.
 */
int	produce_apply_append(MDB_txn *, struct station *, uint64_t,
	    const uint8_t *, const uint32_t *, size_t, int64_t);
/* Take one stored record (v) out of the counters. */
void	produce_stats_remove(Tupelo__StationStats *, const MDB_val *);
/* Writer thread: delete one record (missing is fine), update counters. */
int	produce_apply_delete(MDB_txn *, struct station *, uint64_t);

#endif
