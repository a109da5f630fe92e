/*
 * The append path, on the loop thread up to writer_submit() and from the
 * completion on. Sequence numbers are assigned at submission and published
 * (station_committed_to) only once durable, in order. A producer message
 * id enters the station's window when its message is accepted, so a
 * repeat in the same batch or a later one is caught; if the append fails
 * the ids are forgotten again. A batch of duplicates only still goes
 * through the writer, so its acknowledgement never overtakes the
 * original's.
 */
#include "broker/produce.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/compress.h"
#include "broker/conn.h"
#include "broker/dedup.h"
#include "broker/log.h"
#include "broker/station.h"
#include "proto/error.h"
#include "storage/meta.h"
#include "storage/record.h"
#include "storage/slog.h"
#include "storage/store.h"
#include "storage/writer.h"

struct produce_op {
	struct station	*st;		/* referenced */
	uint64_t	 first;		/* first seq of the records */
	size_t		 n;		/* records */
	size_t		 bytes;		/* of buf */
	int64_t		 logical;	/* bytes uncompressed, -1: unknown */
	uint32_t	*lens;		/* owned, n entries */
	uint8_t		*buf;		/* owned, the records */
	produce_done_cb	 done;		/* internal appends */
	void		*arg;
	struct conn	*conn;		/* referenced, requests only */
	uint64_t	 id;		/* request id */
	uint64_t	*seqs;		/* owned: seq per message, if dups */
	size_t		 nmsgs;
	size_t		 dups;
};

static void
produce_op_free(struct produce_op *op)
{
	if (op->conn != NULL)
		conn_unref(op->conn);
	station_unref(op->st);
	free(op->lens);
	free(op->buf);
	free(op->seqs);
	free(op);
}

int
produce_apply_append(MDB_txn *txn, struct station *st, uint64_t first,
    const uint8_t *buf, const uint32_t *lens, size_t n, int64_t logical)
{
	Tupelo__StationStats	 stats;
	MDB_dbi			 meta = store_meta(station_store(st));
	size_t			 i;
	int			 rc;

	if (n == 0)
		return (0);
	if ((rc = meta_stats_get(txn, meta, station_name(st), &stats)) != 0)
		return (rc);
	if ((rc = slog_append(txn, station_dbi(st), station_name(st), first,
	    buf, lens, n)) != 0)
		return (rc);
	if (stats.last_seq < first + n - 1)
		stats.last_seq = first + n - 1;
	for (i = 0; i < n; buf += lens[i], i++) {
		stats.bytes += lens[i];
		if (logical < 0)
			stats.logical_bytes += record_logical_size(buf,
			    lens[i]);
	}
	if (logical >= 0)
		stats.logical_bytes += (uint64_t)logical;
	return (meta_stats_put(txn, meta, station_name(st), &stats));
}

void
produce_stats_remove(Tupelo__StationStats *stats, const MDB_val *v)
{
	size_t	logical = record_logical_size(v->mv_data, v->mv_size);

	stats->bytes -= stats->bytes >= v->mv_size ? v->mv_size :
	    stats->bytes;
	stats->logical_bytes -= stats->logical_bytes >= logical ? logical :
	    stats->logical_bytes;
}

int
produce_apply_delete(MDB_txn *txn, struct station *st, uint64_t seq)
{
	Tupelo__StationStats	 stats;
	MDB_dbi			 meta = store_meta(station_store(st));
	MDB_val			 k, v;
	uint8_t			 key[8];
	int			 rc;

	slog_key_put(key, seq);
	k.mv_data = key;
	k.mv_size = sizeof key;
	if ((rc = mdb_get(txn, station_dbi(st), &k, &v)) != 0)
		return (rc == MDB_NOTFOUND ? 0 : rc);
	if ((rc = meta_stats_get(txn, meta, station_name(st), &stats)) != 0)
		return (rc);
	produce_stats_remove(&stats, &v);
	if ((rc = slog_delete(txn, station_dbi(st), station_name(st),
	    seq)) != 0)
		return (rc);
	return (meta_stats_put(txn, meta, station_name(st), &stats));
}

static int
produce_apply(MDB_txn *txn, void *arg)
{
	struct produce_op	*op = arg;

	return (produce_apply_append(txn, op->st, op->first, op->buf,
	    op->lens, op->n, op->logical));
}

/* Forget the message ids of a failed append. */
static void
produce_forget(struct produce_op *op)
{
	struct record_view	 rv;
	struct dedup		*d = station_dedup(op->st);
	const uint8_t		*p = op->buf;
	size_t			 i;

	for (i = 0; d != NULL && i < op->n; p += op->lens[i], i++) {
		if (record_decode(p, op->lens[i], &rv) == TP_OK &&
		    rv.msg_id_len != 0)
			dedup_remove(d, rv.msg_id, rv.msg_id_len,
			    op->first + i);
	}
}

static void
produce_reply(struct produce_op *op)
{
	Tupelo__Frame		f = TUPELO__FRAME__INIT;
	Tupelo__ProduceAck	ack = TUPELO__PRODUCE_ACK__INIT;

	if (op->n != 0) {
		ack.first_seq = op->first;
		ack.last_seq = op->first + op->n - 1;
	}
	ack.count = (uint32_t)op->n;
	if (op->seqs != NULL) {
		ack.n_seqs = op->nmsgs;
		ack.seqs = op->seqs;
		ack.duplicates = (uint32_t)op->dups;
	}
	f.id = op->id;
	f.body_case = TUPELO__FRAME__BODY_PRODUCE_ACK;
	f.produce_ack = &ack;
	conn_send(op->conn, &f);
}

/*
 * A duplicate points at an earlier append that may have been still in
 * flight when it came; if that append failed, the duplicate was not
 * stored either and must not be acknowledged as such.
 */
static int
produce_dups_stored(struct produce_op *op)
{
	size_t	i;

	for (i = 0; op->seqs != NULL && i < op->nmsgs; i++) {
		if (op->seqs[i] < op->first &&
		    station_seq_failed(op->st, op->seqs[i]))
			return (0);
	}
	return (1);
}

/*
 * What to tell a producer whose messages were refused with code: why,
 * once the store has failed; NULL for the code's own words.
 */
static const char *
produce_why(struct station *st, int code, char *buf, size_t len)
{
	if (store_failed(station_store(st)) != TP_OK) {
		snprintf(buf, len, "storage failed (%s): writes are refused "
		    "until tupelod is restarted",
		    store_fail_why(station_store(st)));
		return (buf);
	}
	if (code == TP_ENOSPC)
		return ("storage full: message not stored");
	if (code == TP_EBUSY)
		return ("an earlier message with the same id failed to "
		    "store: send again");
	return (NULL);
}

static void
produce_done(void *arg, int code)
{
	struct produce_op	*op = arg;
	char			 why[384];
	int			 reply = code;

	/* What this op appended stands; the answer may still be no. */
	if (code == TP_OK && op->dups != 0 && !produce_dups_stored(op))
		reply = TP_EBUSY;
	station_append_done(op->st, op->first, op->n, code);
	if (code != TP_OK) {
		produce_forget(op);
		log_warn("append failed station=%s: %s%s%s",
		    station_name(op->st), tp_strerror(code),
		    store_failed(station_store(op->st)) != TP_OK ? ": " : "",
		    store_failed(station_store(op->st)) != TP_OK ?
		    store_fail_why(station_store(op->st)) : "");
	}
	if (op->done != NULL)
		op->done(op->arg, code, op->first);
	if (op->conn != NULL) {
		conn_inflight(op->conn, -(long)op->bytes);
		if (reply == TP_OK)
			produce_reply(op);
		else
			conn_send_error(op->conn, op->id, reply,
			    produce_why(op->st, reply, why, sizeof why));
	}
	produce_op_free(op);
}

static const struct writer_op produce_wop = {
	produce_apply, produce_done, WRITER_JOURNAL
};

static int
produce_submit(struct produce_op *op)
{
	int	code;

	code = writer_submit(station_writer(op->st), &produce_wop, op,
	    op->bytes, station_sync(op->st));
	if (code != TP_OK) {
		station_append_done(op->st, op->first, op->n, code);
		produce_forget(op);
	}
	return (code);
}

int
produce_records(struct station *st, uint8_t *buf, uint32_t *lens, size_t n,
    produce_done_cb done, void *arg)
{
	struct produce_op	*op;
	size_t			 i;
	int			 code;

	if ((code = store_failed(station_store(st))) != TP_OK) {
		free(buf);
		free(lens);
		return (code);
	}
	if ((op = calloc(1, sizeof *op)) == NULL) {
		free(buf);
		free(lens);
		return (TP_ENOMEM);
	}
	op->st = st;
	station_hold(st);
	op->buf = buf;
	op->lens = lens;
	op->n = n;
	op->logical = -1;	/* copies of records: the writer decodes */
	for (i = 0; i < n; i++)
		op->bytes += lens[i];
	op->done = done;
	op->arg = arg;
	op->first = station_reserve(st, n);
	if ((code = produce_submit(op)) != TP_OK)
		produce_op_free(op);
	return (code);
}

/* Check sizes, find duplicates, assign seqs; TP_OK or a refusal. */
static int
produce_prepare(struct produce_op *op, const Tupelo__Produce *p,
    const struct record_payload *pls, int64_t now, struct tp_err *err)
{
	struct station		*st = op->st;
	struct dedup		*d = station_dedup(st);
	const Tupelo__Message	*m;
	uint64_t		 max = station_max_message(st), seq;
	int64_t			 since = now - station_dedup_window_ns(st);
	size_t			 i, off = 0, len;

	if (d != NULL)
		dedup_expire(d, since);
	op->first = station_next_seq(st);
	for (i = 0; i < p->n_messages; i++) {
		m = p->messages[i];
		if (m->payload.len > max)
			return (error_set(err, TP_ETOOBIG, "message %zu is %zu "
			    "bytes, station %s takes at most %llu", i,
			    m->payload.len, station_name(st),
			    (unsigned long long)max));
		len = m->msg_id != NULL ? strlen(m->msg_id) : 0;
		if (d != NULL && len != 0 &&
		    (seq = dedup_find(d, m->msg_id, len, since)) != 0) {
			if (op->seqs == NULL && (op->seqs =
			    calloc(p->n_messages, sizeof *op->seqs)) == NULL)
				return (error_set(err, TP_ENOMEM, NULL));
			op->seqs[i] = seq;
			op->dups++;
			continue;
		}
		if (d != NULL && len != 0 && dedup_add(d, m->msg_id, len,
		    op->first + op->n, now) != TP_OK)
			return (error_set(err, TP_ENOMEM, NULL));
		if (op->seqs != NULL)
			op->seqs[i] = op->first + op->n;
		op->lens[op->n] = (uint32_t)record_encode_with(m, now,
		    pls != NULL ? &pls[i] : NULL, op->buf + off);
		off += op->lens[op->n];
		op->logical += pls != NULL &&
		    pls[i].codec != RECORD_CODEC_NONE ?
		    (int64_t)record_size(m, now) : (int64_t)op->lens[op->n];
		op->n++;
	}
	op->bytes = off;
	/* Seqs of the messages before the first duplicate. */
	for (i = 0, seq = op->first; op->seqs != NULL && i < p->n_messages;
	    i++) {
		if (op->seqs[i] == 0)
			op->seqs[i] = seq;
		if (op->seqs[i] == seq)
			seq++;
	}
	return (TP_OK);
}

void
produce_request(struct conn *c, uint64_t id, const Tupelo__Produce *p)
{
	struct produce_op	*op = NULL;
	struct record_payload	*pls = NULL;
	struct station		*st;
	struct tp_err		 err;
	char			 why[384];
	size_t			 i, bytes = 0;
	int64_t			 now;
	int			 code;

	if ((st = station_find(p->station)) == NULL) {
		error_set(&err, TP_ENOSTATION, "no station named %s",
		    p->station);
		goto fail;
	}
	if ((code = store_failed(station_store(st))) != TP_OK) {
		error_set(&err, code, "%s", produce_why(st, code, why,
		    sizeof why));
		goto fail;
	}
	now = station_now(st);
	if (station_settings(st)->compression == RECORD_CODEC_ZSTD &&
	    ((pls = calloc(p->n_messages, sizeof *pls)) == NULL ||
	    compress_payloads(st, p, pls) != TP_OK)) {
		error_set(&err, TP_ENOMEM, "out of memory");
		goto fail;
	}
	for (i = 0; i < p->n_messages; i++)
		bytes += record_size_with(p->messages[i], now,
		    pls != NULL ? &pls[i] : NULL);
	if ((op = calloc(1, sizeof *op)) == NULL ||
	    (op->lens = calloc(p->n_messages, sizeof *op->lens)) == NULL ||
	    (op->buf = malloc(bytes + 1)) == NULL) {
		error_set(&err, TP_ENOMEM, "out of memory");
		goto fail;
	}
	op->st = st;
	station_hold(st);
	op->nmsgs = p->n_messages;
	if (produce_prepare(op, p, pls, now, &err) != TP_OK) {
		produce_forget(op);
		goto fail;
	}
	op->conn = c;
	op->id = id;
	conn_ref(c);
	station_reserve(st, op->n);
	if ((code = produce_submit(op)) != TP_OK) {
		error_set(&err, code, "cannot store: %s", tp_strerror(code));
		goto fail;
	}
	conn_inflight(c, (long)op->bytes);
	compress_payloads_free(pls, p->n_messages);
	return;
fail:
	compress_payloads_free(pls, p->n_messages);
	if (op != NULL && op->st != NULL)
		produce_op_free(op);
	else if (op != NULL) {
		free(op->lens);
		free(op->buf);
		free(op);
	}
	conn_send_error(c, id, err.code, err.message);
}
