/*
 * Stations on the loop thread. The registry is an array sorted by name.
 * A station assigns sequence numbers when a produce is accepted (next_seq)
 * and publishes them to groups only once the writer reports the batch
 * durable (committed); the writer applies batches in submission order, so
 * MDB_APPEND always sees increasing keys. A deleted station leaves the
 * registry at once and is freed when its last pending operation is done.
 */
#include "broker/station.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/config.h"
#include "broker/conn.h"
#include "broker/group.h"
#include "broker/log.h"
#include "proto/error.h"
#include "storage/meta.h"
#include "storage/record.h"
#include "storage/slog.h"
#include "storage/store.h"
#include "storage/writer.h"

#define STATION_READ_COUNT	100		/* default records per read */
#define STATION_READ_BYTES	(1024 * 1024)	/* default bytes per read */

struct station {
	char			 name[TP_NAME_MAX + 1];
	Tupelo__StationConfig	*cfg;		/* owned */
	MDB_dbi			 dbi;
	uint64_t		 next_seq;	/* next to assign */
	uint64_t		 committed;	/* last durable */
	int64_t			 last_time;	/* ns, keeps time monotonic */
	int			 deleted;
	int			 refs;		/* registry + pending ops */
	struct group		**groups;	/* owned array and groups */
	size_t			 ngroups;
	size_t			 groups_cap;
};

static struct store		*station_st;
static struct writer		*station_w;
static const struct config	*station_cfg;
static struct station		**stations;	/* sorted by name */
static size_t			  nstations;
static size_t			  stations_cap;
static size_t			  station_creating;	/* creates pending */

/* ---- registry ---- */

static size_t
station_index(const char *name, int *found)
{
	size_t	lo = 0, hi = nstations, mid;
	int	c;

	*found = 0;
	while (lo < hi) {
		mid = (lo + hi) / 2;
		c = strcmp(stations[mid]->name, name);
		if (c == 0) {
			*found = 1;
			return (mid);
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo);
}

struct station *
station_find(const char *name)
{
	size_t	i;
	int	found;

	i = station_index(name, &found);
	return (found ? stations[i] : NULL);
}

static int
station_insert(struct station *st)
{
	struct station	**a;
	size_t		  i, cap;
	int		  found;

	if (nstations == stations_cap) {
		cap = stations_cap != 0 ? stations_cap * 2 : 16;
		if ((a = reallocarray(stations, cap, sizeof *a)) == NULL)
			return (TP_ENOMEM);
		stations = a;
		stations_cap = cap;
	}
	i = station_index(st->name, &found);
	memmove(&stations[i + 1], &stations[i],
	    (nstations - i) * sizeof *stations);
	stations[i] = st;
	nstations++;
	return (TP_OK);
}

static void
station_remove(struct station *st)
{
	size_t	i;
	int	found;

	i = station_index(st->name, &found);
	if (!found)
		return;
	memmove(&stations[i], &stations[i + 1],
	    (nstations - i - 1) * sizeof *stations);
	nstations--;
}

/* Deep copy of a config through its encoding. */
static Tupelo__StationConfig *
station_cfg_copy(const Tupelo__StationConfig *c)
{
	Tupelo__StationConfig	*copy;
	uint8_t			*buf;
	size_t			 len;

	len = tupelo__station_config__get_packed_size(c);
	if ((buf = malloc(len + 1)) == NULL)
		return (NULL);
	tupelo__station_config__pack(c, buf);
	copy = tupelo__station_config__unpack(NULL, len, buf);
	free(buf);
	return (copy);
}

static struct station *
station_new(const Tupelo__StationConfig *cfg, MDB_dbi dbi, uint64_t last)
{
	struct station	*st;

	if ((st = calloc(1, sizeof *st)) == NULL)
		return (NULL);
	if ((st->cfg = station_cfg_copy(cfg)) == NULL) {
		free(st);
		return (NULL);
	}
	snprintf(st->name, sizeof st->name, "%s", cfg->name);
	st->dbi = dbi;
	st->next_seq = last + 1;
	st->committed = last;
	st->refs = 1;
	return (st);
}

static void
station_unref(struct station *st)
{
	size_t	i;

	if (--st->refs > 0)
		return;
	for (i = 0; i < st->ngroups; i++)
		group_free(st->groups[i]);
	free(st->groups);
	tupelo__station_config__free_unpacked(st->cfg, NULL);
	free(st);
}

/* End the station's groups (and their subscriptions). */
static void
station_drop_groups(struct station *st)
{
	size_t	i;

	for (i = 0; i < st->ngroups; i++)
		group_free(st->groups[i]);
	st->ngroups = 0;
}

const char *
station_name(struct station *st)
{
	return (st->name);
}

MDB_dbi
station_dbi(struct station *st)
{
	return (st->dbi);
}

uint64_t
station_committed(struct station *st)
{
	return (st->committed);
}

struct store *
station_store(struct station *st)
{
	return (station_st);
}

struct writer *
station_writer(struct station *st)
{
	return (station_w);
}

struct group *
station_group_find(struct station *st, const char *name)
{
	size_t	i;

	for (i = 0; i < st->ngroups; i++) {
		if (strcmp(group_name(st->groups[i]), name) == 0)
			return (st->groups[i]);
	}
	return (NULL);
}

int
station_group_add(struct station *st, struct group *g)
{
	struct group	**a;
	size_t		  cap;

	if (st->ngroups == st->groups_cap) {
		cap = st->groups_cap != 0 ? st->groups_cap * 2 : 4;
		if ((a = reallocarray(st->groups, cap, sizeof *a)) == NULL)
			return (TP_ENOMEM);
		st->groups = a;
		st->groups_cap = cap;
	}
	st->groups[st->ngroups++] = g;
	return (TP_OK);
}

/* ---- start-up and shutdown ---- */

struct station_load {
	MDB_txn		*txn;
	struct station	*st;
	struct tp_err	*err;
};

static int
station_load_group_cb(void *arg, const char *name, const Tupelo__GroupState *g)
{
	struct station_load	*sl = arg;

	if (group_load(sl->st, name, g) != TP_OK)
		return (ENOMEM);
	return (0);
}

static int
station_load_cb(void *arg, const Tupelo__StationConfig *cfg)
{
	struct station_load	*sl = arg;
	Tupelo__StationStats	 stats;
	struct station		*st;
	MDB_dbi			 dbi;
	uint64_t		 first, last, count;
	int			 rc;

	if ((rc = slog_open(sl->txn, cfg->name, 1, &dbi)) != 0 ||
	    (rc = meta_stats_get(sl->txn, store_meta(station_st), cfg->name,
	    &stats)) != 0 ||
	    (rc = slog_bounds(sl->txn, dbi, &first, &last, &count)) != 0) {
		error_set(sl->err, store_code(rc), "station %s: %s",
		    cfg->name, mdb_strerror(rc));
		return (rc);
	}
	if (last < stats.last_seq)
		last = stats.last_seq;
	if ((st = station_new(cfg, dbi, last)) == NULL ||
	    station_insert(st) != TP_OK) {
		error_set(sl->err, TP_ENOMEM, "out of memory");
		return (ENOMEM);
	}
	sl->st = st;
	rc = meta_group_load(sl->txn, store_meta(station_st), cfg->name,
	    station_load_group_cb, sl);
	if (rc != 0) {
		error_set(sl->err, store_code(rc), "station %s groups: %s",
		    cfg->name, mdb_strerror(rc));
		return (rc);
	}
	log_debug("%s: station=%s messages=%llu last_seq=%llu groups=%zu",
	    __func__, st->name, (unsigned long long)count,
	    (unsigned long long)last, st->ngroups);
	return (0);
}

int
station_start(struct store *st, struct writer *w, const struct config *cfg,
    struct tp_err *err)
{
	struct station_load	sl = { NULL, NULL, err };
	int			rc;

	station_st = st;
	station_w = w;
	station_cfg = cfg;
	/* A write transaction, so the log handles it opens stay open. */
	if ((rc = mdb_txn_begin(store_env(st), NULL, 0, &sl.txn)) != 0)
		return (error_set(err, store_code(rc), "cannot load stations: "
		    "%s", mdb_strerror(rc)));
	rc = meta_station_load(sl.txn, store_meta(st), station_load_cb, &sl);
	if (rc != 0) {
		mdb_txn_abort(sl.txn);
		if (err != NULL && err->code == 0)
			error_set(err, store_code(rc), "cannot load stations: "
			    "%s", mdb_strerror(rc));
		return (err != NULL ? err->code : store_code(rc));
	}
	if ((rc = mdb_txn_commit(sl.txn)) != 0)
		return (error_set(err, store_code(rc), "cannot load stations: "
		    "%s", mdb_strerror(rc)));
	log_info("loaded %zu stations", nstations);
	return (TP_OK);
}

void
station_stop(void)
{
	size_t	i;

	for (i = 0; i < nstations; i++)
		station_unref(stations[i]);
	free(stations);
	stations = NULL;
	nstations = stations_cap = 0;
}

/* ---- create and delete ---- */

struct station_op {
	struct conn		*conn;		/* referenced */
	uint64_t		 id;		/* request id */
	struct station		*st;		/* referenced, delete only */
	Tupelo__StationConfig	*cfg;		/* owned, create only */
	MDB_dbi			 dbi;		/* create: the new log */
	int			 code;		/* refusal from apply */
};

static void
station_op_free(struct station_op *op)
{
	conn_unref(op->conn);
	if (op->cfg != NULL)
		tupelo__station_config__free_unpacked(op->cfg, NULL);
	if (op->st != NULL)
		station_unref(op->st);
	free(op);
}

static int
station_create_apply(MDB_txn *txn, void *arg)
{
	struct station_op	*op = arg;
	Tupelo__StationStats	 stats = TUPELO__STATION_STATS__INIT;
	MDB_dbi			 meta = store_meta(station_st);
	int			 rc;

	op->code = TP_OK;
	if (meta_station_exists(txn, meta, op->cfg->name)) {
		op->code = TP_EEXIST;
		return (0);
	}
	if ((rc = slog_open(txn, op->cfg->name, 1, &op->dbi)) != 0)
		return (rc);
	if ((rc = meta_station_put(txn, meta, op->cfg)) != 0)
		return (rc);
	return (meta_stats_put(txn, meta, op->cfg->name, &stats));
}

static void
station_create_done(void *arg, int code)
{
	struct station_op	*op = arg;
	struct station		*st;
	char			 msg[256];

	station_creating--;
	if (code == TP_OK)
		code = op->code;
	if (code == TP_OK) {
		if ((st = station_new(op->cfg, op->dbi, 0)) == NULL ||
		    station_insert(st) != TP_OK) {
			/* Stored: it will be there after a restart. */
			free(st);
			code = TP_ENOMEM;
		} else
			log_info("station created station=%s conn=%llu",
			    st->name, (unsigned long long)conn_id(op->conn));
	}
	if (code == TP_OK)
		conn_send_ok(op->conn, op->id);
	else {
		snprintf(msg, sizeof msg, "cannot create station %s: %s",
		    op->cfg->name, tp_strerror(code));
		conn_send_error(op->conn, op->id, code, msg);
	}
	station_op_free(op);
}

static const struct writer_op station_create_op = {
	station_create_apply, station_create_done
};

void
station_create(struct conn *c, uint64_t id, const Tupelo__StationConfig *cfg)
{
	struct station_op	*op;
	struct tp_err		 err;
	int			 code;

	if (station_find(cfg->name) != NULL) {
		error_set(&err, TP_EEXIST, "station %s already exists",
		    cfg->name);
		goto fail;
	}
	if (nstations + station_creating >= station_cfg->max_stations) {
		error_set(&err, TP_EBUSY, "max-stations (%llu) reached",
		    (unsigned long long)station_cfg->max_stations);
		goto fail;
	}
	if (cfg->durability > 2 || cfg->max_message_size >
	    station_cfg->max_message_size) {
		error_set(&err, TP_EINVAL, "invalid station options: "
		    "durability is 0..2, max message size at most %llu",
		    (unsigned long long)station_cfg->max_message_size);
		goto fail;
	}
	if ((op = calloc(1, sizeof *op)) == NULL ||
	    (op->cfg = station_cfg_copy(cfg)) == NULL) {
		free(op);
		error_set(&err, TP_ENOMEM, "out of memory");
		goto fail;
	}
	op->cfg->created_ns = 0;
	{
		struct timespec	ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		op->cfg->created_ns = (int64_t)ts.tv_sec * 1000000000 +
		    ts.tv_nsec;
	}
	op->conn = c;
	op->id = id;
	conn_ref(c);
	code = writer_submit(station_w, &station_create_op, op, 256,
	    WRITER_SYNC);
	if (code != TP_OK) {
		station_op_free(op);
		error_set(&err, code, "cannot create station: %s",
		    tp_strerror(code));
		goto fail;
	}
	station_creating++;
	return;
fail:
	conn_send_error(c, id, err.code, err.message);
}

static int
station_delete_apply(MDB_txn *txn, void *arg)
{
	struct station_op	*op = arg;
	int			 rc;

	if ((rc = slog_drop(txn, op->st->dbi)) != 0)
		return (rc);
	return (meta_station_del(txn, store_meta(station_st), op->st->name));
}

static void
station_delete_done(void *arg, int code)
{
	struct station_op	*op = arg;

	if (code == TP_OK) {
		log_info("station deleted station=%s conn=%llu", op->st->name,
		    (unsigned long long)conn_id(op->conn));
		conn_send_ok(op->conn, op->id);
	} else
		conn_send_error(op->conn, op->id, code, "cannot delete the "
		    "station's storage");
	station_op_free(op);
}

static const struct writer_op station_delete_op = {
	station_delete_apply, station_delete_done
};

void
station_delete(struct conn *c, uint64_t id, const char *name)
{
	struct station_op	*op;
	struct station		*st;
	char			 msg[256];
	int			 code;

	if ((st = station_find(name)) == NULL) {
		snprintf(msg, sizeof msg, "no station named %s", name);
		conn_send_error(c, id, TP_ENOSTATION, msg);
		return;
	}
	if ((op = calloc(1, sizeof *op)) == NULL) {
		conn_send_error(c, id, TP_ENOMEM, NULL);
		return;
	}
	op->conn = c;
	op->id = id;
	op->st = st;
	conn_ref(c);
	code = writer_submit(station_w, &station_delete_op, op, 256,
	    WRITER_SYNC);
	if (code != TP_OK) {
		op->st = NULL;
		station_op_free(op);
		conn_send_error(c, id, code, NULL);
		return;
	}
	/* The registry's reference now belongs to op. */
	station_remove(st);
	st->deleted = 1;
	station_drop_groups(st);
}

/* ---- info ---- */

static int
station_fill_info(MDB_txn *txn, struct station *st, Tupelo__StationInfo *info)
{
	Tupelo__StationStats	stats;
	uint64_t		first, last, count;
	int			rc;

	if ((rc = slog_bounds(txn, st->dbi, &first, &last, &count)) != 0 ||
	    (rc = meta_stats_get(txn, store_meta(station_st), st->name,
	    &stats)) != 0)
		return (store_code(rc));
	info->config = st->cfg;
	info->messages = count;
	info->first_seq = first;
	info->last_seq = stats.last_seq;
	info->bytes = stats.bytes;
	info->groups = (uint32_t)st->ngroups;
	return (TP_OK);
}

void
station_get(struct conn *c, uint64_t id, const char *name)
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
	if ((code = store_read_begin(station_st, &txn, &err)) != TP_OK) {
		conn_send_error(c, id, code, err.message);
		return;
	}
	code = station_fill_info(txn, st, &info);
	store_read_end(station_st, txn);
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
station_list(struct conn *c, uint64_t id)
{
	Tupelo__Frame		  f = TUPELO__FRAME__INIT;
	Tupelo__StationListReply  reply = TUPELO__STATION_LIST_REPLY__INIT;
	Tupelo__StationInfo	 *infos = NULL, **ptrs = NULL;
	struct tp_err		  err;
	MDB_txn			 *txn;
	size_t			  i;
	int			  code = TP_OK;

	if (nstations != 0) {
		infos = calloc(nstations, sizeof *infos);
		ptrs = calloc(nstations, sizeof *ptrs);
		if (infos == NULL || ptrs == NULL) {
			code = TP_ENOMEM;
			goto out;
		}
	}
	if ((code = store_read_begin(station_st, &txn, &err)) != TP_OK)
		goto out;
	for (i = 0; i < nstations && code == TP_OK; i++) {
		tupelo__station_info__init(&infos[i]);
		ptrs[i] = &infos[i];
		code = station_fill_info(txn, stations[i], &infos[i]);
	}
	store_read_end(station_st, txn);
	if (code != TP_OK)
		goto out;
	reply.n_stations = nstations;
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

/* ---- produce ---- */

struct produce_op {
	struct station	*st;		/* referenced */
	struct conn	*conn;		/* referenced */
	uint64_t	 id;		/* request id */
	uint64_t	 first;		/* first seq of the batch */
	size_t		 n;		/* records */
	size_t		 bytes;		/* of buf */
	int		 sync;		/* WRITER_SYNC or NOSYNC */
	uint32_t	*lens;		/* n lengths, in this allocation */
	uint8_t		*buf;		/* records, in this allocation */
};

static int
station_produce_apply(MDB_txn *txn, void *arg)
{
	struct produce_op	*op = arg;
	Tupelo__StationStats	 stats;
	MDB_dbi			 meta = store_meta(station_st);
	int			 rc;

	if ((rc = meta_stats_get(txn, meta, op->st->name, &stats)) != 0)
		return (rc);
	rc = slog_append(txn, op->st->dbi, op->first, op->buf, op->lens,
	    op->n);
	if (rc != 0)
		return (rc);
	stats.last_seq = op->first + op->n - 1;
	stats.bytes += op->bytes;
	return (meta_stats_put(txn, meta, op->st->name, &stats));
}

static void
station_produce_done(void *arg, int code)
{
	struct produce_op	*op = arg;
	struct station		*st = op->st;
	Tupelo__Frame		 f = TUPELO__FRAME__INIT;
	Tupelo__ProduceAck	 ack = TUPELO__PRODUCE_ACK__INIT;
	uint64_t		 last = op->first + op->n - 1;
	size_t			 i;

	conn_inflight(op->conn, -(long)op->bytes);
	if (code == TP_OK) {
		if (last > st->committed)
			st->committed = last;
		ack.first_seq = op->first;
		ack.last_seq = last;
		ack.count = (uint32_t)op->n;
		f.id = op->id;
		f.body_case = TUPELO__FRAME__BODY_PRODUCE_ACK;
		f.produce_ack = &ack;
		conn_send(op->conn, &f);
		for (i = 0; i < st->ngroups; i++)
			group_wake(st->groups[i]);
	} else {
		/* Give the numbers back if nothing was assigned after. */
		if (st->next_seq == last + 1)
			st->next_seq = op->first;
		log_warn("produce failed station=%s conn=%llu: %s", st->name,
		    (unsigned long long)conn_id(op->conn), tp_strerror(code));
		conn_send_error(op->conn, op->id, code, code == TP_ENOSPC ?
		    "storage full: message not stored" : NULL);
	}
	conn_unref(op->conn);
	station_unref(st);
	free(op);
}

static const struct writer_op station_produce_op = {
	station_produce_apply, station_produce_done
};

static int64_t
station_now(struct station *st)
{
	struct timespec	ts;
	int64_t		now;

	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	if (now <= st->last_time)
		now = st->last_time + 1;
	st->last_time = now;
	return (now);
}

void
station_produce(struct conn *c, uint64_t id, const Tupelo__Produce *p)
{
	struct produce_op	*op;
	struct station		*st;
	struct tp_err		 err;
	uint64_t		 max;
	size_t			 i, bytes = 0, off = 0;
	int64_t			 now;
	int			 code, sync;

	if ((st = station_find(p->station)) == NULL) {
		error_set(&err, TP_ENOSTATION, "no station named %s",
		    p->station);
		goto fail;
	}
	if ((code = store_failed(station_st)) != TP_OK) {
		error_set(&err, code, "storage refuses writes after a failed "
		    "commit: %s", tp_strerror(code));
		goto fail;
	}
	max = st->cfg->max_message_size != 0 ? st->cfg->max_message_size :
	    station_cfg->max_message_size;
	now = station_now(st);
	for (i = 0; i < p->n_messages; i++) {
		if (p->messages[i]->payload.len > max) {
			error_set(&err, TP_ETOOBIG, "message %zu is %zu bytes, "
			    "station %s takes at most %llu", i,
			    p->messages[i]->payload.len, st->name,
			    (unsigned long long)max);
			goto fail;
		}
		bytes += record_size(p->messages[i], now);
	}
	op = malloc(sizeof *op + p->n_messages * sizeof *op->lens + bytes);
	if (op == NULL) {
		error_set(&err, TP_ENOMEM, "out of memory");
		goto fail;
	}
	op->lens = (uint32_t *)(op + 1);
	op->buf = (uint8_t *)(op->lens + p->n_messages);
	for (i = 0; i < p->n_messages; i++) {
		op->lens[i] = (uint32_t)record_encode(p->messages[i], now,
		    op->buf + off);
		off += op->lens[i];
	}
	op->st = st;
	op->conn = c;
	op->id = id;
	op->n = p->n_messages;
	op->bytes = bytes;
	op->first = st->next_seq;
	sync = st->cfg->durability != 0 ? st->cfg->durability :
	    station_cfg->durability;
	sync = sync == CONFIG_DURABILITY_INTERVAL ? WRITER_NOSYNC :
	    WRITER_SYNC;
	code = writer_submit(station_w, &station_produce_op, op, bytes, sync);
	if (code != TP_OK) {
		free(op);
		error_set(&err, code, "cannot store: %s", tp_strerror(code));
		goto fail;
	}
	st->next_seq += op->n;
	st->refs++;
	conn_ref(c);
	conn_inflight(c, (long)bytes);
	return;
fail:
	conn_send_error(c, id, err.code, err.message);
}

/* ---- read ---- */

struct station_reader {
	struct conn_rec	*recs;
	size_t		 n, max;
	size_t		 bytes, max_bytes;
	uint64_t	 last;		/* committed seq: stop after */
};

static int
station_read_cb(void *arg, uint64_t seq, const MDB_val *v)
{
	struct station_reader	*r = arg;

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
station_read(struct conn *c, uint64_t id, const Tupelo__Read *rd)
{
	struct station_reader	 r;
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
	r.max = rd->max_count != 0 ? rd->max_count : STATION_READ_COUNT;
	r.max_bytes = rd->max_bytes != 0 ? rd->max_bytes : STATION_READ_BYTES;
	cap = station_cfg->max_frame_size - 64 * 1024;
	if (r.max_bytes > cap)
		r.max_bytes = cap;
	r.last = st->committed;
	if ((r.recs = calloc(r.max, sizeof *r.recs)) == NULL) {
		conn_send_error(c, id, TP_ENOMEM, NULL);
		return;
	}
	if ((code = store_read_begin(station_st, &txn, &err)) != TP_OK) {
		conn_send_error(c, id, code, err.message);
		free(r.recs);
		return;
	}
	rc = slog_scan(txn, st->dbi, rd->from_seq, station_read_cb, &r);
	if (rc != 0)
		conn_send_error(c, id, store_code(rc), mdb_strerror(rc));
	else
		conn_send_records(c, id, TUPELO__FRAME__BODY_READ_REPLY, 0, 1,
		    r.recs, r.n);
	store_read_end(station_st, txn);
	free(r.recs);
}
