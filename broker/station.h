/*
 * The station registry and everything a station does on the loop thread:
 * creation and deletion through the writer, the produce path (validate,
 * assign sequence numbers, encode records, hand the batch to the writer,
 * acknowledge once durable), plain reads, and the counters of station
 * info. Consumer groups hang off their station (broker/group).
 */
#ifndef TP_BROKER_STATION_H
#define TP_BROKER_STATION_H

#include <stdint.h>

#include <lmdb.h>

#include "proto/tupelo.pb-c.h"

struct config;
struct conn;
struct group;
struct store;
struct tp_err;
struct writer;

struct station;

/* Load every station and group from storage; before the writer starts. */
int	station_start(struct store *, struct writer *, const struct config *,
	    struct tp_err *);
void	station_stop(void);

struct station *station_find(const char *);
const char *station_name(struct station *);
MDB_dbi	 station_dbi(struct station *);
/* Highest seq whose batch is durable: what groups may deliver. */
uint64_t station_committed(struct station *);
struct store *station_store(struct station *);
struct writer *station_writer(struct station *);
/* The station's groups. */
struct group *station_group_find(struct station *, const char *);
int	station_group_add(struct station *, struct group *);

/* Requests; each replies on conn itself, now or once durable. */
void	station_create(struct conn *, uint64_t, const Tupelo__StationConfig *);
void	station_delete(struct conn *, uint64_t, const char *);
void	station_get(struct conn *, uint64_t, const char *);
void	station_list(struct conn *, uint64_t);
void	station_produce(struct conn *, uint64_t, const Tupelo__Produce *);
void	station_read(struct conn *, uint64_t, const Tupelo__Read *);

#endif
