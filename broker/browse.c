/*
 * Read-only views of stations, on the loop thread: station info and list
 * (counters from the log and the metadata), and plain reads of a range of
 * records, sent as stored without decoding them.
 */
#include "broker/browse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/config.h"
#include "broker/conn.h"
#include "broker/station.h"
#include "proto/error.h"
#include "storage/meta.h"
#include "storage/slog.h"
#include "storage/store.h"

#define BROWSE_READ_COUNT	100		/* default records per read */
#define BROWSE_READ_BYTES	(1024 * 1024)	/* default bytes per read */

/* ---- info ---- */

static int
browse_fill_info(MDB_txn *txn, struct station *st, Tupelo__StationInfo *info)
{
	Tupelo__StationStats	stats;
	uint64_t		first, last, count;
	MDB_dbi			meta = store_meta(station_store(st));
	int			rc;

	if ((rc = slog_bounds(txn, station_dbi(st), &first, &last,
	    &count)) != 0 ||
	    (rc = meta_stats_get(txn, meta, station_name(st), &stats)) != 0)
		return (store_code(rc));
	info->config = (Tupelo__StationConfig *)station_settings(st);
	info->messages = count;
	info->first_seq = first;
	info->last_seq = stats.last_seq;
	info->bytes = stats.bytes;
	info->removed = stats.removed;
	info->logical_bytes = stats.logical_bytes;
	info->groups = (uint32_t)station_ngroups(st);
	return (TP_OK);
}

void
browse_station(struct conn *c, uint64_t id, const char *name)
{
	Tupelo__Frame		 f = TUPELO__FRAME__INIT;
	Tupelo__StationInfo	 info = TUPELO__STATION_INFO__INIT;
	struct station		*st;
	struct tp_err		 err;
	MDB_txn			*txn;
	int			 code;

	if ((st = station_find(name)) == NULL) {
		error_set(&err, TP_ENOSTATION, "no station named %s", name);
		conn_send_error(c, id, err.code, err.message);
		return;
	}
	if ((code = store_read_begin(station_store(st), &txn, &err)) != TP_OK) {
		conn_send_error(c, id, code, err.message);
		return;
	}
	code = browse_fill_info(txn, st, &info);
	store_read_end(station_store(st), txn);
	if (code != TP_OK) {
		conn_send_error(c, id, code, NULL);
		return;
	}
	f.id = id;
	f.body_case = TUPELO__FRAME__BODY_STATION_INFO;
	f.station_info = &info;
	conn_send(c, &f);
}

void
browse_list(struct conn *c, uint64_t id)
{
	Tupelo__Frame		  f = TUPELO__FRAME__INIT;
	Tupelo__StationListReply  reply = TUPELO__STATION_LIST_REPLY__INIT;
	Tupelo__StationInfo	 *infos = NULL, **ptrs = NULL;
	struct station		 *st;
	struct tp_err		  err;
	MDB_txn			 *txn;
	size_t			  i, n = 0;
	int			  code = TP_OK;

	while (station_at(n) != NULL)
		n++;
	if (n != 0) {
		infos = calloc(n, sizeof *infos);
		ptrs = calloc(n, sizeof *ptrs);
		if (infos == NULL || ptrs == NULL) {
			code = TP_ENOMEM;
			goto out;
		}
		st = station_at(0);
		code = store_read_begin(station_store(st), &txn, &err);
		if (code != TP_OK)
			goto out;
		for (i = 0; i < n && code == TP_OK; i++) {
			tupelo__station_info__init(&infos[i]);
			ptrs[i] = &infos[i];
			code = browse_fill_info(txn, station_at(i), &infos[i]);
		}
		store_read_end(station_store(st), txn);
		if (code != TP_OK)
			goto out;
	}
	reply.n_stations = n;
	reply.stations = ptrs;
	f.id = id;
	f.body_case = TUPELO__FRAME__BODY_STATION_LIST_REPLY;
	f.station_list_reply = &reply;
	conn_send(c, &f);
out:
	if (code != TP_OK)
		conn_send_error(c, id, code, NULL);
	free(infos);
	free(ptrs);
}

/* ---- read ---- */

struct browse_reader {
	struct conn_rec	*recs;
	size_t		 n, max;
	size_t		 bytes, max_bytes;
	uint64_t	 last;		/* committed seq: stop after */
};

static int
browse_read_cb(void *arg, uint64_t seq, const MDB_val *v)
{
	struct browse_reader	*r = arg;

	if (seq > r->last || r->n == r->max)
		return (1);
	if (r->n > 0 && r->bytes + v->mv_size > r->max_bytes)
		return (1);
	r->recs[r->n].seq = seq;
	r->recs[r->n].deliveries = 0;
	r->recs[r->n].data = v->mv_data;
	r->recs[r->n].len = v->mv_size;
	r->n++;
	r->bytes += v->mv_size;
	return (0);
}

void
browse_read(struct conn *c, uint64_t id, const Tupelo__Read *rd)
{
	struct browse_reader	 r;
	struct station		*st;
	struct tp_err		 err;
	MDB_txn			*txn;
	size_t			 cap;
	int			 rc, code;

	if ((st = station_find(rd->station)) == NULL) {
		error_set(&err, TP_ENOSTATION, "no station named %s",
		    rd->station);
		conn_send_error(c, id, err.code, err.message);
		return;
	}
	memset(&r, 0, sizeof r);
	r.max = rd->max_count != 0 ? rd->max_count : BROWSE_READ_COUNT;
	r.max_bytes = rd->max_bytes != 0 ? rd->max_bytes : BROWSE_READ_BYTES;
	cap = station_config()->max_frame_size - 64 * 1024;
	if (r.max_bytes > cap)
		r.max_bytes = cap;
	r.last = station_committed(st);
	if ((r.recs = calloc(r.max, sizeof *r.recs)) == NULL) {
		conn_send_error(c, id, TP_ENOMEM, NULL);
		return;
	}
	if ((code = store_read_begin(station_store(st), &txn, &err)) != TP_OK) {
		conn_send_error(c, id, code, err.message);
		free(r.recs);
		return;
	}
	rc = slog_scan(txn, station_dbi(st), rd->from_seq, browse_read_cb, &r);
	if (rc != 0)
		conn_send_error(c, id, store_code(rc), mdb_strerror(rc));
	else
		conn_send_records(c, id, TUPELO__FRAME__BODY_READ_REPLY, 0, 1,
		    r.recs, r.n);
	store_read_end(station_store(st), txn);
	free(r.recs);
}
