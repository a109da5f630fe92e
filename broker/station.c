/*
 * Stations on the loop thread: the registry (an array sorted by name),
 * start-up loading, and the lifecycle requests (create, delete, purge).
 *
 * Every station "x" comes with its dead-letter station "x.dls", created
 * and deleted with it in the same transaction; names ending in ".dls" are
 * reserved for them.
 *
 * A station assigns sequence numbers when an append is accepted
 * (next_seq) and publishes them to groups only once the writer reports
 * the batch durable (committed); the writer applies batches in submission
 * order, so MDB_APPEND always sees increasing keys. A deleted station
 * leaves the registry at once and is freed when its last pending
 * operation is done.
 */
#include "broker/station.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/config.h"
#include "broker/compress.h"
#include "broker/conn.h"
#include "broker/dedup.h"
#include "broker/group.h"
#include "broker/gstate.h"
#include "broker/log.h"
#include "broker/retention.h"
#include "proto/error.h"
#include "storage/meta.h"
#include "storage/record.h"
#include "storage/slog.h"
#include "storage/store.h"
#include "storage/writer.h"

#define STATION_DLS_AGE_S	(3 * 24 * 3600)	/* dead letters kept */
#define STATION_AGE_MAX		(100ULL * 365 * 24 * 3600) /* retention age */
#define STATION_DEDUP_MAX	(7 * 24 * 3600)	/* dedup window, s */

struct station {
	char			 name[TP_NAME_MAX + 1];
	Tupelo__StationConfig	*cfg;		/* owned */
	MDB_dbi			 dbi;
	uint64_t		 next_seq;	/* next to assign */
	uint64_t		 committed;	/* last durable */
	int64_t			 last_time;	/* ns, keeps time monotonic */
	int			 deleted;
	int			 refs;		/* registry + pending ops */
	int			 is_dls;	/* a dead-letter station */
	int			 trimming;	/* a retention op is queued */
	int			 busy;		/* STATION_BUSY_* in flight */
	size_t			 appending;	/* appends at the writer */
	uint64_t		 failed_from;	/* lowest failed seq while
						   appending, or UINT64_MAX */
	struct station		*dls;		/* borrowed: its DLS, or NULL */
	struct dedup		*dedup;		/* owned, NULL for a DLS */
	struct compress		*zc;		/* owned: zstd state */
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

struct station *
station_at(size_t i)
{
	return (i < nstations ? stations[i] : NULL);
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

static int
station_name_is_dls(const char *name)
{
	size_t	len = strlen(name), slen = strlen(TP_DLS_SUFFIX);

	return (len > slen && strcmp(name + len - slen, TP_DLS_SUFFIX) == 0);
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
	if ((st->cfg = station_cfg_copy(cfg)) == NULL)
		goto fail;
	snprintf(st->name, sizeof st->name, "%s", cfg->name);
	st->is_dls = station_name_is_dls(st->name);
	if (!st->is_dls && dedup_new(&st->dedup) != TP_OK)
		goto fail;
	if (compress_new(&st->zc) != TP_OK)
		goto fail;
	st->dbi = dbi;
	st->next_seq = last + 1;
	st->committed = last;
	st->failed_from = UINT64_MAX;
	st->refs = 1;
	return (st);
fail:
	if (st->cfg != NULL)
		tupelo__station_config__free_unpacked(st->cfg, NULL);
	dedup_free(st->dedup);
	free(st);
	return (NULL);
}

void
station_hold(struct station *st)
{
	st->refs++;
}

void
station_unref(struct station *st)
{
	size_t	i;

	if (--st->refs > 0)
		return;
	for (i = 0; i < st->ngroups; i++)
		group_free(st->groups[i]);
	free(st->groups);
	dedup_free(st->dedup);
	compress_free(st->zc);
	tupelo__station_config__free_unpacked(st->cfg, NULL);
	free(st);
}

/* ---- accessors ---- */

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

const struct config *
station_config(void)
{
	return (station_cfg);
}

const Tupelo__StationConfig *
station_settings(struct station *st)
{
	return (st->cfg);
}

int
station_deleted(struct station *st)
{
	return (st->deleted);
}

struct station *
station_dls(struct station *st)
{
	return (st->dls);
}

struct compress *
station_compress(struct station *st)
{
	return (st->zc);
}

struct dedup *
station_dedup(struct station *st)
{
	return (st->dedup);
}

int64_t
station_dedup_window_ns(struct station *st)
{
	uint64_t	s = st->cfg->dedup_window_s;

	if (s == 0)
		s = station_cfg->dedup_window_s;
	return ((int64_t)s * 1000000000);
}

uint64_t
station_max_message(struct station *st)
{
	return (st->cfg->max_message_size != 0 ? st->cfg->max_message_size :
	    station_cfg->max_message_size);
}

int
station_sync(struct station *st)
{
	uint64_t	d = st->cfg->durability != 0 ? st->cfg->durability :
			    station_cfg->durability;

	return (d == CONFIG_DURABILITY_INTERVAL ? WRITER_NOSYNC : WRITER_SYNC);
}

int64_t
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

uint64_t
station_next_seq(struct station *st)
{
	return (st->next_seq);
}

uint64_t
station_reserve(struct station *st, size_t n)
{
	uint64_t	first = st->next_seq;

	st->next_seq += n;
	st->appending++;
	return (first);
}

void
station_append_done(struct station *st, uint64_t first, size_t n, int code)
{
	if (code == TP_OK && n != 0)
		station_committed_to(st, first + n - 1);
	if (code != TP_OK && n != 0 && first < st->failed_from)
		st->failed_from = first;
	/*
	 * Once nothing is in flight, numbers given to appends that failed
	 * are free again: nothing was stored under them.
	 */
	if (--st->appending == 0) {
		st->next_seq = st->committed + 1;
		st->failed_from = UINT64_MAX;
	}
}

int
station_seq_failed(struct station *st, uint64_t seq)
{
	return (seq >= st->failed_from);
}

void
station_committed_to(struct station *st, uint64_t last)
{
	size_t	i;

	if (last <= st->committed)
		return;
	st->committed = last;
	for (i = 0; i < st->ngroups; i++)
		group_wake(st->groups[i]);
	if (st->cfg->retention_messages != 0 || st->cfg->retention_bytes != 0)
		retention_check(st);
}

int
station_busy(struct station *st, int what)
{
	return ((st->busy & what) != 0);
}

void
station_set_busy(struct station *st, int what, int on)
{
	if (on)
		st->busy |= what;
	else
		st->busy &= ~what;
}

int
station_trimming(struct station *st)
{
	return (st->trimming);
}

void
station_set_trimming(struct station *st, int on)
{
	st->trimming = on;
}

size_t
station_ngroups(struct station *st)
{
	return (st->ngroups);
}

struct group *
station_group_at(struct station *st, size_t i)
{
	return (i < st->ngroups ? st->groups[i] : NULL);
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

void
station_group_remove(struct station *st, struct group *g)
{
	size_t	i;

	for (i = 0; i < st->ngroups; i++) {
		if (st->groups[i] == g) {
			memmove(&st->groups[i], &st->groups[i + 1],
			    (st->ngroups - i - 1) * sizeof *st->groups);
			st->ngroups--;
			return;
		}
	}
}

/* Time of the first record at or after seq; LMDB code, NOTFOUND past end. */
static int
station_time_from(MDB_cursor *cur, uint64_t seq, uint64_t *found,
    int64_t *time_ns)
{
	struct record_view	rv;
	MDB_val			k, v;
	uint8_t			key[8];
	int			rc;

	slog_key_put(key, seq);
	k.mv_data = key;
	k.mv_size = sizeof key;
	if ((rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) != 0)
		return (rc);
	*found = slog_key_get(&k);
	/* A record that does not decode counts as old; --check names it. */
	*time_ns = record_decode(v.mv_data, v.mv_size, &rv) == TP_OK ?
	    rv.time_ns : 0;
	return (0);
}

int
station_seq_at_time(MDB_txn *txn, struct station *st, int64_t time_ns,
    uint64_t *seq)
{
	MDB_cursor	*cur;
	uint64_t	 lo = 1, hi = st->committed + 1, mid, found;
	int64_t		 t;
	int		 rc;

	/* Times only grow with seqs: binary search, skipping gaps. */
	if ((rc = mdb_cursor_open(txn, st->dbi, &cur)) != 0)
		return (rc);
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		rc = station_time_from(cur, mid, &found, &t);
		if (rc == MDB_NOTFOUND || (rc == 0 && found >= hi)) {
			hi = mid;
			continue;
		}
		if (rc != 0)
			break;
		if (t >= time_ns)
			hi = mid;
		else
			lo = found + 1;
	}
	mdb_cursor_close(cur);
	*seq = lo;
	return (rc == MDB_NOTFOUND ? 0 : rc);
}

/* ---- start-up and shutdown ---- */

struct station_load {
	MDB_txn		*txn;
	struct station	*st;
	struct tp_err	*err;
};

static int
station_load_group_cb(void *arg, const char *name,
    const Tupelo__GroupState *g)
{
	struct station_load	*sl = arg;

	if (gstate_load(sl->st, name, g) != TP_OK)
		return (ENOMEM);
	return (0);
}

struct station_tail {
	struct station	*st;
	int64_t		 since;
};

static int
station_tail_cb(void *arg, uint64_t seq, const MDB_val *v)
{
	struct station_tail	*t = arg;
	struct record_view	 rv;

	if (record_decode(v->mv_data, v->mv_size, &rv) != TP_OK)
		return (0);
	if (rv.time_ns > t->st->last_time)
		t->st->last_time = rv.time_ns;
	if (rv.msg_id_len != 0 && rv.time_ns >= t->since)
		dedup_add(t->st->dedup, rv.msg_id, rv.msg_id_len, seq,
		    rv.time_ns);
	return (0);
}

/* Remember the message ids of the dedup window, and the last time. */
static int
station_load_tail(MDB_txn *txn, struct station *st)
{
	struct station_tail	t = { st, 0 };
	struct timespec		ts;
	uint64_t		from;
	int			rc;

	clock_gettime(CLOCK_REALTIME, &ts);
	t.since = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec -
	    station_dedup_window_ns(st);
	if (st->dedup == NULL)
		t.since = INT64_MAX;
	if ((rc = station_seq_at_time(txn, st, t.since, &from)) != 0)
		return (rc);
	/* At least the last record, for the clock. */
	if (from > st->committed && st->committed > 0)
		from = st->committed;
	return (slog_scan(txn, st->dbi, from, station_tail_cb, &t));
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
	    (rc = slog_bounds(sl->txn, dbi, &first, &last, &count)) != 0)
		goto fail;
	if (last < stats.last_seq)
		last = stats.last_seq;
	if ((st = station_new(cfg, dbi, last)) == NULL ||
	    station_insert(st) != TP_OK) {
		error_set(sl->err, TP_ENOMEM, "out of memory");
		return (ENOMEM);
	}
	sl->st = st;
	if ((rc = station_load_tail(sl->txn, st)) != 0)
		goto fail;
	if (stats.dict_id != 0) {
		MDB_val	d;

		rc = meta_dict_get(sl->txn, store_meta(station_st),
		    stats.dict_id, &d);
		if (rc != 0 || compress_set_dict(st->zc, stats.dict_id,
		    d.mv_data, d.mv_size) != TP_OK) {
			if (rc == 0)
				rc = ENOMEM;
			goto fail;
		}
	}
	rc = meta_group_load(sl->txn, store_meta(station_st), cfg->name,
	    station_load_group_cb, sl);
	if (rc != 0)
		goto fail;
	log_debug("%s: station=%s messages=%llu last_seq=%llu groups=%zu",
	    __func__, st->name, (unsigned long long)count,
	    (unsigned long long)last, st->ngroups);
	return (0);
fail:
	error_set(sl->err, store_code(rc), "station %s: %s", cfg->name,
	    mdb_strerror(rc));
	return (rc);
}

/* A dead-letter station's settings, derived from its station's. */
static void
station_dls_config(const Tupelo__StationConfig *cfg, char *name, size_t len,
    Tupelo__StationConfig *dls)
{
	tupelo__station_config__init(dls);
	snprintf(name, len, "%s%s", cfg->name, TP_DLS_SUFFIX);
	dls->name = name;
	dls->retention_age_s = STATION_DLS_AGE_S;
	dls->durability = cfg->durability;
	dls->max_message_size = cfg->max_message_size;
	dls->created_ns = cfg->created_ns;
}

/* Create a station's log, config and counters in txn. */
static int
station_put(MDB_txn *txn, const Tupelo__StationConfig *cfg, MDB_dbi *dbi)
{
	Tupelo__StationStats	stats = TUPELO__STATION_STATS__INIT;
	MDB_dbi			meta = store_meta(station_st);
	int			rc;

	if ((rc = slog_open(txn, cfg->name, 1, dbi)) != 0)
		return (rc);
	if ((rc = meta_station_put(txn, meta, cfg)) != 0)
		return (rc);
	return (meta_stats_put(txn, meta, cfg->name, &stats));
}

/* Pair each station with its DLS, creating any that is missing. */
static int
station_link(MDB_txn *txn, struct tp_err *err)
{
	Tupelo__StationConfig	 dcfg;
	struct station		*st, *dls;
	char			 name[TP_NAME_MAX + 8];
	MDB_dbi			 dbi;
	size_t			 i;
	int			 rc;

again:
	for (i = 0; i < nstations; i++) {
		st = stations[i];
		if (st->is_dls)
			continue;
		station_dls_config(st->cfg, name, sizeof name, &dcfg);
		if ((dls = station_find(name)) == NULL) {
			if ((rc = station_put(txn, &dcfg, &dbi)) != 0)
				return (error_set(err, store_code(rc),
				    "cannot create %s: %s", name,
				    mdb_strerror(rc)));
			if ((dls = station_new(&dcfg, dbi, 0)) == NULL ||
			    station_insert(dls) != TP_OK)
				return (error_set(err, TP_ENOMEM,
				    "out of memory"));
			goto again;	/* the array moved */
		}
		st->dls = dls;
	}
	return (TP_OK);
}

int
station_start(struct store *st, struct writer *w, const struct config *cfg,
    struct tp_err *err)
{
	struct station_load	sl = { NULL, NULL, err };
	int			rc, code;

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
	if ((code = station_link(sl.txn, err)) != TP_OK) {
		mdb_txn_abort(sl.txn);
		return (code);
	}
	if ((rc = mdb_txn_commit(sl.txn)) != 0)
		return (error_set(err, store_code(rc), "cannot load stations: "
		    "%s", mdb_strerror(rc)));
	log_info("loaded %zu station%s", nstations, nstations == 1 ? "" : "s");
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

/* ---- create, update, delete, purge ---- */

static int
station_check_config(const Tupelo__StationConfig *cfg, struct tp_err *err)
{
	if (cfg->durability > 2)
		return (error_set(err, TP_EINVAL, "durability is 0 (broker "
		    "default), 1 (sync) or 2 (interval)"));
	if (cfg->max_message_size > station_cfg->max_message_size)
		return (error_set(err, TP_EINVAL, "max message size at most "
		    "%llu (the broker's max-message-size)",
		    (unsigned long long)station_cfg->max_message_size));
	if (cfg->retention_age_s > STATION_AGE_MAX)
		return (error_set(err, TP_EINVAL, "retention age at most %llu "
		    "seconds (100 years); 0 keeps messages of any age",
		    (unsigned long long)STATION_AGE_MAX));
	if (cfg->dedup_window_s > STATION_DEDUP_MAX)
		return (error_set(err, TP_EINVAL, "dedup window at most %d "
		    "seconds (7 days)", STATION_DEDUP_MAX));
	if (cfg->compression > 1)
		return (error_set(err, TP_EINVAL, "compression is 0 (none) or "
		    "1 (zstd)"));
	if (cfg->compression_level < -7 || cfg->compression_level > 19)
		return (error_set(err, TP_EINVAL, "compression level is "
		    "-7..19"));
	return (TP_OK);
}

struct station_op {
	struct conn		*conn;		/* referenced */
	uint64_t		 id;		/* request id */
	struct station		*st;		/* referenced: delete, purge */
	struct station		*dls;		/* referenced: delete */
	Tupelo__StationConfig	*cfg;		/* owned, create only */
	MDB_dbi			 dbi;		/* create: the new log */
	MDB_dbi			 dls_dbi;	/* create: its DLS log */
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
	if (op->dls != NULL)
		station_unref(op->dls);
	free(op);
}

static int
station_submit(const struct writer_op *wop, struct station_op *op,
    struct conn *c, uint64_t id)
{
	int	code;

	op->conn = c;
	op->id = id;
	conn_ref(c);
	if ((code = writer_submit(station_w, wop, op, 256,
	    WRITER_SYNC)) != TP_OK) {
		station_op_free(op);
		conn_send_error(c, id, code, NULL);
	}
	return (code);
}

static int
station_create_apply(MDB_txn *txn, void *arg)
{
	struct station_op	*op = arg;
	Tupelo__StationConfig	 dcfg;
	MDB_dbi			 meta = store_meta(station_st);
	char			 name[TP_NAME_MAX + 8];
	int			 rc;

	station_dls_config(op->cfg, name, sizeof name, &dcfg);
	op->code = TP_OK;
	if (meta_station_exists(txn, meta, op->cfg->name) ||
	    meta_station_exists(txn, meta, name)) {
		op->code = TP_EEXIST;
		return (0);
	}
	if ((rc = station_put(txn, op->cfg, &op->dbi)) != 0)
		return (rc);
	return (station_put(txn, &dcfg, &op->dls_dbi));
}

static void
station_create_done(void *arg, int code)
{
	struct station_op	*op = arg;
	Tupelo__StationConfig	 dcfg;
	struct station		*st = NULL, *dls = NULL;
	char			 name[TP_NAME_MAX + 8], msg[256];

	station_creating -= 2;
	if (code == TP_OK)
		code = op->code;
	if (code == TP_OK) {
		station_dls_config(op->cfg, name, sizeof name, &dcfg);
		if ((st = station_new(op->cfg, op->dbi, 0)) == NULL ||
		    (dls = station_new(&dcfg, op->dls_dbi, 0)) == NULL ||
		    station_insert(dls) != TP_OK ||
		    station_insert(st) != TP_OK) {
			/* Stored: it will be there after a restart. */
			code = TP_ENOMEM;
		} else {
			st->dls = dls;
			log_info("station created station=%s conn=%llu",
			    st->name, (unsigned long long)conn_id(op->conn));
		}
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
	station_create_apply, station_create_done, WRITER_CHECKPOINT
};

void
station_create(struct conn *c, uint64_t id, const Tupelo__StationConfig *cfg)
{
	struct station_op	*op;
	struct timespec		 ts;
	struct tp_err		 err;
	char			 name[TP_NAME_MAX + 8];

	snprintf(name, sizeof name, "%s%s", cfg->name, TP_DLS_SUFFIX);
	if (station_name_is_dls(cfg->name)) {
		error_set(&err, TP_EBADNAME, "names ending in %s are kept for "
		    "dead-letter stations", TP_DLS_SUFFIX);
		goto fail;
	}
	if (strlen(name) > TP_NAME_MAX) {
		error_set(&err, TP_EBADNAME, "station name longer than %zu "
		    "bytes (its dead-letter station needs the rest)",
		    (size_t)TP_NAME_MAX - strlen(TP_DLS_SUFFIX));
		goto fail;
	}
	if (station_find(cfg->name) != NULL || station_find(name) != NULL) {
		error_set(&err, TP_EEXIST, "station %s already exists",
		    cfg->name);
		goto fail;
	}
	if (nstations + station_creating + 2 > station_cfg->max_stations) {
		error_set(&err, TP_EBUSY, "max-stations (%llu) reached; each "
		    "station counts twice with its dead-letter station",
		    (unsigned long long)station_cfg->max_stations);
		goto fail;
	}
	if (station_check_config(cfg, &err) != TP_OK)
		goto fail;
	if ((op = calloc(1, sizeof *op)) == NULL ||
	    (op->cfg = station_cfg_copy(cfg)) == NULL) {
		free(op);
		error_set(&err, TP_ENOMEM, "out of memory");
		goto fail;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	op->cfg->created_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	if (station_submit(&station_create_op, op, c, id) == TP_OK)
		station_creating += 2;
	return;
fail:
	conn_send_error(c, id, err.code, err.message);
}

/*
 * Drop a station's log and metadata. mdb_drop() closes the handle even if
 * the transaction is later aborted, and apply may run again (after map
 * growth), so the log is looked up by name on every run.
 */
static int
station_drop(MDB_txn *txn, const char *name)
{
	MDB_dbi	dbi;
	int	rc;

	rc = slog_open(txn, name, 0, &dbi);
	if (rc == 0)
		rc = slog_drop(txn, dbi);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return (rc);
	return (meta_station_del(txn, store_meta(station_st), name));
}

static int
station_delete_apply(MDB_txn *txn, void *arg)
{
	struct station_op	*op = arg;
	int			 rc;

	if ((rc = station_drop(txn, op->st->name)) != 0)
		return (rc);
	return (op->dls != NULL ? station_drop(txn, op->dls->name) : 0);
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
	station_delete_apply, station_delete_done, WRITER_CHECKPOINT
};

/* Out of the registry, groups ended; pending operations keep it alive. */
static void
station_retire(struct station *st)
{
	size_t	i;

	station_remove(st);
	st->deleted = 1;
	for (i = st->ngroups; i > 0; i--)
		group_free(st->groups[i - 1]);
	st->ngroups = 0;
	station_unref(st);
}

void
station_delete(struct conn *c, uint64_t id, const char *name)
{
	struct station_op	*op;
	struct station		*st;
	char			 msg[256];

	if ((st = station_find(name)) == NULL) {
		snprintf(msg, sizeof msg, "no station named %s", name);
		conn_send_error(c, id, TP_ENOSTATION, msg);
		return;
	}
	if (st->is_dls) {
		snprintf(msg, sizeof msg, "%s is a dead-letter station: it is "
		    "deleted with its station (or emptied with purge)", name);
		conn_send_error(c, id, TP_EPERM, msg);
		return;
	}
	if ((op = calloc(1, sizeof *op)) == NULL) {
		conn_send_error(c, id, TP_ENOMEM, NULL);
		return;
	}
	op->st = st;
	op->dls = st->dls;
	station_hold(st);
	if (op->dls != NULL)
		station_hold(op->dls);
	if (station_submit(&station_delete_op, op, c, id) != TP_OK)
		return;
	if (st->dls != NULL)
		station_retire(st->dls);
	station_retire(st);
}

static int
station_update_apply(MDB_txn *txn, void *arg)
{
	struct station_op	*op = arg;

	return (meta_station_put(txn, store_meta(station_st), op->cfg));
}

static void
station_update_done(void *arg, int code)
{
	struct station_op	*op = arg;
	struct station		*st = op->st;

	station_set_busy(st, STATION_BUSY_UPDATE, 0);
	if (code == TP_OK && !st->deleted) {
		tupelo__station_config__free_unpacked(st->cfg, NULL);
		st->cfg = op->cfg;
		op->cfg = NULL;
		log_info("station updated station=%s conn=%llu", st->name,
		    (unsigned long long)conn_id(op->conn));
		retention_check(st);
	}
	if (code == TP_OK)
		conn_send_ok(op->conn, op->id);
	else
		conn_send_error(op->conn, op->id, code, NULL);
	station_op_free(op);
}

static const struct writer_op station_update_op = {
	station_update_apply, station_update_done, WRITER_CHECKPOINT
};

/* Copy the named fields of from into to; TP_EINVAL for an unknown one. */
static int
station_update_fields(Tupelo__StationConfig *to,
    const Tupelo__StationConfig *from, char **fields, size_t n,
    struct tp_err *err)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (strcmp(fields[i], "retention_age_s") == 0)
			to->retention_age_s = from->retention_age_s;
		else if (strcmp(fields[i], "retention_messages") == 0)
			to->retention_messages = from->retention_messages;
		else if (strcmp(fields[i], "retention_bytes") == 0)
			to->retention_bytes = from->retention_bytes;
		else if (strcmp(fields[i], "retention_ack") == 0)
			to->retention_ack = from->retention_ack;
		else if (strcmp(fields[i], "durability") == 0)
			to->durability = from->durability;
		else if (strcmp(fields[i], "max_message_size") == 0)
			to->max_message_size = from->max_message_size;
		else if (strcmp(fields[i], "dedup_window_s") == 0)
			to->dedup_window_s = from->dedup_window_s;
		else if (strcmp(fields[i], "compression") == 0)
			to->compression = from->compression;
		else if (strcmp(fields[i], "compression_level") == 0)
			to->compression_level = from->compression_level;
		else
			return (error_set(err, TP_EINVAL, "cannot update "
			    "\"%.64s\"", fields[i]));
	}
	return (station_check_config(to, err));
}

void
station_update(struct conn *c, uint64_t id, const Tupelo__StationUpdate *req)
{
	struct station_op	*op;
	struct station		*st;
	struct tp_err		 err;

	if ((st = station_find(req->config->name)) == NULL) {
		error_set(&err, TP_ENOSTATION, "no station named %s",
		    req->config->name);
		goto fail;
	}
	/* Each update starts from the last; one at a time. */
	if (station_busy(st, STATION_BUSY_UPDATE)) {
		error_set(&err, TP_EBUSY, "station %s is being updated: try "
		    "again", st->name);
		goto fail;
	}
	if ((op = calloc(1, sizeof *op)) == NULL ||
	    (op->cfg = station_cfg_copy(st->cfg)) == NULL) {
		free(op);
		error_set(&err, TP_ENOMEM, "out of memory");
		goto fail;
	}
	if (station_update_fields(op->cfg, req->config, req->fields,
	    req->n_fields, &err) != TP_OK) {
		tupelo__station_config__free_unpacked(op->cfg, NULL);
		free(op);
		goto fail;
	}
	op->st = st;
	station_hold(st);
	if (station_submit(&station_update_op, op, c, id) == TP_OK)
		station_set_busy(st, STATION_BUSY_UPDATE, 1);
	return;
fail:
	conn_send_error(c, id, err.code, err.message);
}

static int
station_purge_apply(MDB_txn *txn, void *arg)
{
	struct station_op	*op = arg;
	Tupelo__StationStats	 stats;
	MDB_dbi			 meta = store_meta(station_st);
	MDB_stat		 ms;
	int			 rc;

	if ((rc = meta_stats_get(txn, meta, op->st->name, &stats)) != 0 ||
	    (rc = mdb_stat(txn, op->st->dbi, &ms)) != 0 ||
	    (rc = mdb_drop(txn, op->st->dbi, 0)) != 0)
		return (rc);
	stats.removed += ms.ms_entries;
	stats.bytes = stats.logical_bytes = 0;
	return (meta_stats_put(txn, meta, op->st->name, &stats));
}

static void
station_purge_done(void *arg, int code)
{
	struct station_op	*op = arg;

	if (code == TP_OK) {
		/* Purged messages are gone; so are their ids. */
		if (op->st->dedup != NULL)
			dedup_expire(op->st->dedup, INT64_MAX);
		log_info("station purged station=%s conn=%llu", op->st->name,
		    (unsigned long long)conn_id(op->conn));
		conn_send_ok(op->conn, op->id);
	} else
		conn_send_error(op->conn, op->id, code, NULL);
	station_op_free(op);
}

static const struct writer_op station_purge_op = {
	station_purge_apply, station_purge_done, WRITER_CHECKPOINT
};

void
station_purge(struct conn *c, uint64_t id, const char *name)
{
	struct station_op	*op;
	struct station		*st;
	char			 msg[256];

	if ((st = station_find(name)) == NULL) {
		snprintf(msg, sizeof msg, "no station named %s", name);
		conn_send_error(c, id, TP_ENOSTATION, msg);
		return;
	}
	if ((op = calloc(1, sizeof *op)) == NULL) {
		conn_send_error(c, id, TP_ENOMEM, NULL);
		return;
	}
	op->st = st;
	station_hold(st);
	station_submit(&station_purge_op, op, c, id);
}
