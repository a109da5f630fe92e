/*
 * Dead letters are built from the stored record without decoding it: the
 * original bytes, then the dead-letter header fields and a new time field
 * appended (protobuf reads a repeated field as more entries and a
 * repeated scalar as its last value). Replay walks the fields once,
 * dropping the "tp-" headers and the time, and appends a new time.
 */
#include "broker/dls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/conn.h"
#include "broker/log.h"
#include "broker/station.h"
#include "proto/error.h"
#include "proto/wire.h"
#include "storage/slog.h"
#include "storage/store.h"
#include "storage/writer.h"

#define DLS_F_TIME	2
#define DLS_F_HEADERS	3
#define DLS_HEADERS	8	/* dead-letter headers added, at most */

struct dls_header {
	const char	*key;
	const char	*value;
};

static size_t
dls_header_inner(const struct dls_header *h)
{
	return (wire_len_field_size(1, strlen(h->key)) +
	    wire_len_field_size(2, strlen(h->value)));
}

static size_t
dls_header_size(const struct dls_header *h)
{
	return (wire_len_field_size(DLS_F_HEADERS, dls_header_inner(h)));
}

static uint8_t *
dls_header_put(uint8_t *p, const struct dls_header *h)
{
	size_t	klen = strlen(h->key), vlen = strlen(h->value);

	p += wire_len_field_put(p, DLS_F_HEADERS, dls_header_inner(h));
	p += wire_len_field_put(p, 1, klen);
	memcpy(p, h->key, klen);
	p += klen;
	p += wire_len_field_put(p, 2, vlen);
	memcpy(p, h->value, vlen);
	return (p + vlen);
}

int
dls_send(struct station *st, const struct dls_why *why, const uint64_t *seqs,
    const uint32_t *deliveries, size_t n, produce_done_cb done, void *arg)
{
	struct station		*dls = why->to != NULL ? why->to :
				    station_dls(st);
	struct store		*store = station_store(st);
	struct dls_header	 h[DLS_HEADERS];
	MDB_txn			*txn;
	MDB_val			 k, v;
	uint8_t			 key[8], *buf = NULL, *p = NULL;
	uint32_t		*lens = NULL;
	char			 seqtxt[24], dtxt[16], atxt[16];
	size_t			 i, j, m = 0, bytes = 0, extra, nh;
	int64_t			 now;
	int			 rc, code;

	if (dls == NULL)
		return (TP_ENOSTATION);
	if ((code = store_read_begin(store, &txn, NULL)) != TP_OK)
		return (code);
	h[0] = (struct dls_header){ TP_HDR_ORIGIN_STATION, station_name(st) };
	h[1] = (struct dls_header){ TP_HDR_ORIGIN_SEQ, seqtxt };
	h[2] = (struct dls_header){ TP_HDR_GROUP, why->group };
	h[3] = (struct dls_header){ TP_HDR_DELIVERIES, dtxt };
	h[4] = (struct dls_header){ TP_HDR_REASON, why->reason };
	h[5] = (struct dls_header){ TP_HDR_ERROR, why->error != NULL ?
	    why->error : "" };
	nh = 6;
	if (why->trigger != NULL)
		h[nh++] = (struct dls_header){ TP_HDR_TRIGGER, why->trigger };
	snprintf(atxt, sizeof atxt, "%u", why->attempts);
	if (why->attempts != 0)
		h[nh++] = (struct dls_header){ TP_HDR_ATTEMPTS, atxt };
	now = station_now(dls);
	/* Two passes over the same records: sizes, then bytes. */
	for (;;) {
		for (i = 0, m = 0; i < n; i++) {
			slog_key_put(key, seqs[i]);
			k.mv_data = key;
			k.mv_size = sizeof key;
			rc = mdb_get(txn, station_dbi(st), &k, &v);
			if (rc == MDB_NOTFOUND)
				continue;	/* gone: nothing to keep */
			if (rc != 0) {
				code = store_code(rc);
				goto out;
			}
			snprintf(seqtxt, sizeof seqtxt, "%llu",
			    (unsigned long long)seqs[i]);
			snprintf(dtxt, sizeof dtxt, "%u", deliveries[i]);
			extra = wire_varint_field_size(DLS_F_TIME,
			    (uint64_t)now);
			for (j = 0; j < nh; j++)
				extra += dls_header_size(&h[j]);
			if (buf == NULL) {
				bytes += v.mv_size + extra;
				m++;
				continue;
			}
			memcpy(p, v.mv_data, v.mv_size);
			p += v.mv_size;
			for (j = 0; j < nh; j++)
				p = dls_header_put(p, &h[j]);
			p += wire_varint_field_put(p, DLS_F_TIME,
			    (uint64_t)now);
			lens[m++] = (uint32_t)(v.mv_size + extra);
		}
		if (buf != NULL)
			break;
		if ((buf = malloc(bytes + 1)) == NULL ||
		    (lens = calloc(m + 1, sizeof *lens)) == NULL) {
			code = TP_ENOMEM;
			goto out;
		}
		p = buf;
	}
	store_read_end(store, txn);
	txn = NULL;
	return (produce_records(dls, buf, lens, m, done, arg));
out:
	if (txn != NULL)
		store_read_end(store, txn);
	free(buf);
	free(lens);
	return (code);
}

/* ---- replay ---- */

struct dls_op {
	struct conn	*conn;		/* referenced */
	uint64_t	 id;
	struct station	*to;		/* referenced: where they go */
	struct station	*dls;		/* referenced: where they were */
	uint64_t	 first;		/* first seq in to */
	size_t		 n;
	uint64_t	*seqs;		/* owned: seqs in dls, n */
	uint32_t	*lens;		/* owned, n */
	uint8_t		*buf;		/* owned: the records for to */
};

static void
dls_op_free(struct dls_op *op)
{
	conn_unref(op->conn);
	if (op->to != NULL)
		station_unref(op->to);
	if (op->dls != NULL)
		station_unref(op->dls);
	free(op->seqs);
	free(op->lens);
	free(op->buf);
	free(op);
}

static int
dls_replay_apply(MDB_txn *txn, void *arg)
{
	struct dls_op	*op = arg;
	size_t		 i;
	int		 rc;

	rc = produce_apply_append(txn, op->to, op->first, op->buf, op->lens,
	    op->n, -1);
	for (i = 0; rc == 0 && i < op->n; i++)
		rc = produce_apply_delete(txn, op->dls, op->seqs[i]);
	return (rc);
}

static void
dls_replay_done(void *arg, int code)
{
	struct dls_op		*op = arg;
	Tupelo__Frame		 f = TUPELO__FRAME__INIT;
	Tupelo__DlsReplayReply	 r = TUPELO__DLS_REPLAY_REPLY__INIT;

	station_append_done(op->to, op->first, op->n, code);
	station_set_busy(op->dls, STATION_BUSY_REPLAY, 0);
	if (code == TP_OK) {
		if (op->n != 0) {
			r.first_seq = op->first;
			r.last_seq = op->first + op->n - 1;
		}
		r.count = (uint32_t)op->n;
		f.id = op->id;
		f.body_case = TUPELO__FRAME__BODY_DLS_REPLAY_REPLY;
		f.dls_replay_reply = &r;
		conn_send(op->conn, &f);
		log_info("replayed %zu dead letters station=%s to=%s", op->n,
		    station_name(op->dls), station_name(op->to));
	} else
		conn_send_error(op->conn, op->id, code, NULL);
	dls_op_free(op);
}

static const struct writer_op dls_replay_op = {
	dls_replay_apply, dls_replay_done, WRITER_CHECKPOINT
};

/* Bytes of a dead letter without the "tp-" headers and the time. */
static size_t
dls_strip(const uint8_t *rec, size_t len, uint8_t *out)
{
	const uint8_t	*p = rec, *end = rec + len, *start, *hp, *hend;
	uint64_t	 key, val, hkey, hlen;
	size_t		 n = 0, c;
	int		 keep;

	while (p < end) {
		start = p;
		if ((c = wire_varint_get(p, (size_t)(end - p), &key)) == 0)
			break;
		p += c;
		if ((c = wire_varint_get(p, (size_t)(end - p), &val)) == 0)
			break;
		p += c;
		keep = (key >> 3) != DLS_F_TIME;
		if ((key & 7) == WIRE_LEN) {
			if (val > (uint64_t)(end - p))
				break;
			hp = p;
			hend = p + val;
			p += val;
			/* A header whose key (field 1) starts with "tp-". */
			if ((key >> 3) == DLS_F_HEADERS &&
			    (c = wire_varint_get(hp, (size_t)(hend - hp),
			    &hkey)) != 0 && hkey == ((1 << 3) | WIRE_LEN) &&
			    wire_varint_get(hp + c, (size_t)(hend - hp - c),
			    &hlen) != 0 && hlen >= 3 &&
			    memcmp(hp + c + 1, "tp-", 3) == 0)
				keep = 0;
		}
		if (keep && out != NULL)
			memcpy(out + n, start, (size_t)(p - start));
		if (keep)
			n += (size_t)(p - start);
	}
	return (n);
}

struct dls_collect {
	struct dls_op	*op;
	const uint64_t	*want;		/* sorted seqs, or NULL: all */
	size_t		 nwant, iwant;
	uint64_t	 last;		/* committed in dls */
	size_t		 bytes;
	int64_t		 now;
	int		 sizing;	/* first pass: count only */
};

static int
dls_collect_cb(void *arg, uint64_t seq, const MDB_val *v)
{
	struct dls_collect	*dc = arg;
	struct dls_op		*op = dc->op;
	size_t			 len;

	if (seq > dc->last || op->n == DLS_REPLAY_MAX)
		return (1);
	if (dc->want != NULL) {
		while (dc->iwant < dc->nwant && dc->want[dc->iwant] < seq)
			dc->iwant++;
		if (dc->iwant == dc->nwant)
			return (1);
		if (dc->want[dc->iwant] != seq)
			return (0);
	}
	if (dc->sizing) {
		dc->bytes += dls_strip(v->mv_data, v->mv_size, NULL) +
		    wire_varint_field_size(DLS_F_TIME, (uint64_t)dc->now);
		op->n++;
		return (0);
	}
	len = dls_strip(v->mv_data, v->mv_size, op->buf + dc->bytes);
	len += wire_varint_field_put(op->buf + dc->bytes + len, DLS_F_TIME,
	    (uint64_t)dc->now);
	op->seqs[op->n] = seq;
	op->lens[op->n++] = (uint32_t)len;
	dc->bytes += len;
	return (0);
}

static int
dls_cmp_seq(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x < y ? -1 : x > y);
}

void
dls_replay(struct conn *c, uint64_t id, const Tupelo__DlsReplay *req)
{
	struct dls_collect	 dc;
	struct dls_op		*op = NULL;
	struct station		*st, *to;
	struct tp_err		 err;
	uint64_t		*want = NULL;
	MDB_txn			*txn = NULL;
	int			 rc, code;

	memset(&dc, 0, sizeof dc);
	if ((st = station_find(req->station)) == NULL ||
	    station_dls(st) == NULL) {
		error_set(&err, TP_ENOSTATION, "no station named %s with a "
		    "dead-letter station", req->station);
		goto fail;
	}
	/* Two replays reading the same letters would both move them. */
	if (station_busy(station_dls(st), STATION_BUSY_REPLAY)) {
		error_set(&err, TP_EBUSY, "a replay of %s is running: try "
		    "again", req->station);
		goto fail;
	}
	to = req->to != NULL && *req->to != '\0' ? station_find(req->to) : st;
	if (to == NULL) {
		error_set(&err, TP_ENOSTATION, "no station named %s", req->to);
		goto fail;
	}
	if (req->n_seqs != 0) {
		if ((want = calloc(req->n_seqs, sizeof *want)) == NULL) {
			error_set(&err, TP_ENOMEM, NULL);
			goto fail;
		}
		memcpy(want, req->seqs, req->n_seqs * sizeof *want);
		qsort(want, req->n_seqs, sizeof *want, dls_cmp_seq);
	}
	if ((op = calloc(1, sizeof *op)) == NULL) {
		error_set(&err, TP_ENOMEM, NULL);
		goto fail;
	}
	op->conn = c;
	op->id = id;
	conn_ref(c);
	op->to = to;
	station_hold(to);
	op->dls = station_dls(st);
	station_hold(op->dls);
	dc.op = op;
	dc.want = want;
	dc.nwant = req->n_seqs;
	dc.last = station_committed(op->dls);
	dc.now = station_now(to);
	dc.sizing = 1;
	if ((code = store_read_begin(station_store(st), &txn, &err)) != TP_OK)
		goto fail;
	rc = slog_scan(txn, station_dbi(op->dls), want != NULL ? want[0] : 1,
	    dls_collect_cb, &dc);
	if (rc == 0 && op->n != 0) {
		op->buf = malloc(dc.bytes + 1);
		op->lens = calloc(op->n, sizeof *op->lens);
		op->seqs = calloc(op->n, sizeof *op->seqs);
		if (op->buf == NULL || op->lens == NULL || op->seqs == NULL) {
			error_set(&err, TP_ENOMEM, NULL);
			goto fail;
		}
		op->n = 0;
		dc.bytes = 0;
		dc.iwant = 0;
		dc.sizing = 0;
		rc = slog_scan(txn, station_dbi(op->dls), want != NULL ?
		    want[0] : 1, dls_collect_cb, &dc);
	}
	store_read_end(station_store(st), txn);
	txn = NULL;
	if (rc != 0) {
		error_set(&err, store_code(rc), "cannot read %s: %s",
		    station_name(op->dls), mdb_strerror(rc));
		goto fail;
	}
	op->first = station_reserve(to, op->n);
	code = writer_submit(station_writer(to), &dls_replay_op, op,
	    dc.bytes, station_sync(to));
	if (code != TP_OK) {
		station_append_done(to, op->first, op->n, code);
		error_set(&err, code, NULL);
		goto fail;
	}
	station_set_busy(op->dls, STATION_BUSY_REPLAY, 1);
	free(want);
	return;
fail:
	if (txn != NULL)
		store_read_end(station_store(st), txn);
	if (op != NULL)
		dls_op_free(op);
	free(want);
	conn_send_error(c, id, err.code, err.message);
}
