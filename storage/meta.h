/*
 * The metadata database: station configs ("station/<name>"), station
 * counters ("stats/<name>") and consumer group positions
 * ("group/<station>/<group>"), function triggers ("trigger/<name>"), each
 * a protobuf message from tupelo.proto, and zstd dictionaries
 * ("dict/<id>", raw bytes).
 * Functions return an LMDB code (0, MDB_*, or an errno value).
 */
#ifndef TP_STORAGE_META_H
#define TP_STORAGE_META_H

#include <lmdb.h>

#include "proto/tupelo.pb-c.h"

/* Called per stored item by the loaders; the message is borrowed. */
typedef int (*meta_station_cb)(void *, const Tupelo__StationConfig *);
typedef int (*meta_group_cb)(void *, const char *,
    const Tupelo__GroupState *);
typedef int (*meta_trigger_cb)(void *, const Tupelo__TriggerConfig *);

int	meta_station_put(MDB_txn *, MDB_dbi, const Tupelo__StationConfig *);
/* Is there a station of this name? 1 yes, 0 no. */
int	meta_station_exists(MDB_txn *, MDB_dbi, const char *);
/* Remove a station's config, counters and groups. */
int	meta_station_del(MDB_txn *, MDB_dbi, const char *);
/* Visit every station config, by name; stops when cb returns non-zero. */
int	meta_station_load(MDB_txn *, MDB_dbi, meta_station_cb, void *);
/* Counters: a missing entry reads as all zero. */
int	meta_stats_get(MDB_txn *, MDB_dbi, const char *,
	    Tupelo__StationStats *);
int	meta_stats_put(MDB_txn *, MDB_dbi, const char *,
	    const Tupelo__StationStats *);
int	meta_group_put(MDB_txn *, MDB_dbi, const char *, const char *,
	    const Tupelo__GroupState *);
int	meta_group_del(MDB_txn *, MDB_dbi, const char *, const char *);
/* zstd dictionaries by id ("dict/<id>"), never removed. */
int	meta_dict_put(MDB_txn *, MDB_dbi, uint32_t, const void *, size_t);
int	meta_dict_get(MDB_txn *, MDB_dbi, uint32_t, MDB_val *);
/* Visit the groups of one station. */
int	meta_group_load(MDB_txn *, MDB_dbi, const char *, meta_group_cb,
	    void *);
/* Trigger configs by name. */
int	meta_trigger_put(MDB_txn *, MDB_dbi, const Tupelo__TriggerConfig *);
int	meta_trigger_del(MDB_txn *, MDB_dbi, const char *);
int	meta_trigger_load(MDB_txn *, MDB_dbi, meta_trigger_cb, void *);

#endif
