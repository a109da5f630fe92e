/*
 * Retention. The loop decides when a station may need trimming and what
 * the ack-based limit is (the lowest ack floor of its durable groups); the
 * writer thread decides record by record from the data itself, removing at
 * most RETENTION_CHUNK records per operation and asking for another round
 * while more are due. Sequence numbers are never reused: the station's
 * counters keep the last one assigned.
 */
#include "broker/retention.h"

#include <event2/event.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "broker/group.h"
#include "broker/log.h"
#include "broker/produce.h"
#include "broker/station.h"
#include "proto/error.h"
#include "storage/meta.h"
#include "storage/record.h"
#include "storage/slog.h"
#include "storage/store.h"
#include "storage/writer.h"

#define RETENTION_CHUNK		2000	/* records removed per operation */
#define RETENTION_PERIOD_MS	1000	/* age and ack checks */

struct retention_op {
	struct station	*st;		/* referenced */
	uint64_t	 max_messages;	/* 0: none */
	uint64_t	 max_bytes;	/* 0: none */
	int64_t		 before_ns;	/* remove older; 0: none */
	uint64_t	 acked_upto;	/* remove seqs <= it; 0: none */
	uint64_t	 removed;	/* result */
	int		 more;		/* result: chunk was full */
};

static struct event	*retention_timer;

/* Writer thread: remove records from the head while a limit says so. */
static int
retention_apply(MDB_txn *txn, void *arg)
{
	struct retention_op	*op = arg;
	struct station		*st = op->st;
	Tupelo__StationStats	 stats;
	struct record_view	 rv;
	MDB_dbi			 meta = store_meta(station_store(st));
	MDB_cursor		*cur;
	MDB_stat		 ms;
	MDB_val			 k, v;
	uint64_t		 count, seq;
	int			 rc, drop;

	op->removed = 0;
	op->more = 0;
	if ((rc = meta_stats_get(txn, meta, station_name(st), &stats)) != 0 ||
	    (rc = mdb_stat(txn, station_dbi(st), &ms)) != 0)
		return (rc);
	count = ms.ms_entries;
	if ((rc = mdb_cursor_open(txn, station_dbi(st), &cur)) != 0)
		return (rc);
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0) {
		if (op->removed == RETENTION_CHUNK) {
			op->more = 1;
			break;
		}
		seq = slog_key_get(&k);
		drop = (op->max_messages != 0 && count > op->max_messages) ||
		    (op->max_bytes != 0 && stats.bytes > op->max_bytes) ||
		    (op->acked_upto != 0 && seq <= op->acked_upto);
		if (!drop && op->before_ns != 0 &&
		    record_decode(v.mv_data, v.mv_size, &rv) == TP_OK)
			drop = rv.time_ns < op->before_ns;
		if (!drop)
			break;
		produce_stats_remove(&stats, &v);
		if ((rc = slog_cursor_delete(cur, station_name(st), &k)) != 0)
			break;
		count--;
		op->removed++;
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return (rc);
	if (op->removed == 0)
		return (0);
	if (count == 0)
		stats.bytes = stats.logical_bytes = 0;
	stats.removed += op->removed;
	return (meta_stats_put(txn, meta, station_name(st), &stats));
}

static void
retention_done(void *arg, int code)
{
	static int		 last_code;
	struct retention_op	*op = arg;
	struct station		*st = op->st;

	station_set_trimming(st, 0);
	/* Once per change: a failing store would repeat it every second. */
	if (code != last_code && code != TP_OK)
		log_warn("retention cannot trim station=%s: %s",
		    station_name(st), tp_strerror(code));
	last_code = code;
	if (op->removed != 0)
		log_debug("%s: station=%s removed=%llu", __func__,
		    station_name(st), (unsigned long long)op->removed);
	if (code == TP_OK && op->more && !station_deleted(st))
		retention_check(st);
	station_unref(st);
	free(op);
}

static const struct writer_op retention_wop = {
	retention_apply, retention_done, WRITER_JOURNAL
};

/* The lowest ack floor of the station's durable groups; 0: none. */
static uint64_t
retention_acked(struct station *st)
{
	struct group	*g;
	uint64_t	 floor = 0;
	size_t		 i;
	int		 any = 0;

	for (i = 0; i < station_ngroups(st); i++) {
		g = station_group_at(st, i);
		if (g->ephemeral)
			continue;
		if (!any || g->floor < floor)
			floor = g->floor;
		any = 1;
	}
	return (floor);
}

void
retention_check(struct station *st)
{
	const Tupelo__StationConfig	*cfg = station_settings(st);
	struct retention_op		*op;
	struct timespec			 ts;

	if (station_trimming(st) || station_deleted(st))
		return;
	if (cfg->retention_messages == 0 && cfg->retention_bytes == 0 &&
	    cfg->retention_age_s == 0 && !cfg->retention_ack)
		return;
	if ((op = calloc(1, sizeof *op)) == NULL)
		return;
	op->st = st;
	op->max_messages = cfg->retention_messages;
	op->max_bytes = cfg->retention_bytes;
	clock_gettime(CLOCK_REALTIME, &ts);
	/* An age older than the epoch removes nothing by age. */
	if (cfg->retention_age_s != 0 &&
	    cfg->retention_age_s < (uint64_t)ts.tv_sec)
		op->before_ns = ((int64_t)ts.tv_sec -
		    (int64_t)cfg->retention_age_s) * 1000000000 + ts.tv_nsec;
	if (cfg->retention_ack)
		op->acked_upto = retention_acked(st);
	if (op->max_messages == 0 && op->max_bytes == 0 &&
	    op->before_ns == 0 && op->acked_upto == 0) {
		free(op);
		return;
	}
	station_hold(st);
	if (writer_submit(station_writer(st), &retention_wop, op, 64,
	    WRITER_SYNC) != TP_OK) {
		station_unref(st);
		free(op);
		return;
	}
	station_set_trimming(st, 1);
}

static void
retention_tick_cb(evutil_socket_t fd, short events, void *arg)
{
	const Tupelo__StationConfig	*cfg;
	struct station			*st;
	struct timeval			 tv = { 0, RETENTION_PERIOD_MS * 1000 };
	size_t				 i;

	for (i = 0; (st = station_at(i)) != NULL; i++) {
		cfg = station_settings(st);
		if (cfg->retention_age_s != 0 || cfg->retention_ack)
			retention_check(st);
	}
	evtimer_add(retention_timer, &tv);
}

int
retention_start(struct event_base *base)
{
	struct timeval	tv = { 0, RETENTION_PERIOD_MS * 1000 };

	if ((retention_timer = evtimer_new(base, retention_tick_cb,
	    NULL)) == NULL)
		return (TP_ENOMEM);
	evtimer_add(retention_timer, &tv);
	return (TP_OK);
}

void
retention_stop(void)
{
	if (retention_timer != NULL)
		event_free(retention_timer);
	retention_timer = NULL;
}
