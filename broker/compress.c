/*
 * zstd on the loop thread. A station compresses payloads of
 * COMPRESS_MIN bytes or more when that makes them smaller. Small
 * messages compress poorly on their own, so a station also samples its
 * first payloads and, once it has enough, trains a dictionary in the
 * writer thread (training takes tens of milliseconds: not on the loop),
 * stores it under its id, and compresses with it from then on. The zstd
 * frame names its dictionary id; clients fetch a dictionary they lack
 * with DictGet, and since dictionaries are never removed, every record
 * stays readable, also after replay to another station.
 */
#include "broker/compress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zdict.h>
#include <zstd.h>

#include "broker/conn.h"
#include "broker/log.h"
#include "broker/station.h"
#include "proto/error.h"
#include "storage/meta.h"
#include "storage/record.h"
#include "storage/store.h"
#include "storage/writer.h"

#define COMPRESS_MIN		32		/* smaller payloads stay raw */
#define COMPRESS_LEVEL		3		/* zstd's default */
#define COMPRESS_DICT_SIZE	(16 * 1024)	/* trained dictionary */
#define COMPRESS_SAMPLES	1000		/* payloads before training */
#define COMPRESS_SAMPLE_BYTES	(160 * 1024)	/* at least, to train */
#define COMPRESS_SAMPLE_MAX	(2 * 1024 * 1024) /* at most, kept */
#define COMPRESS_TRIES		3		/* training attempts */

struct compress {
	uint32_t	 dict_id;	/* 0: none yet */
	void		*dict;		/* owned, dict_len bytes */
	size_t		 dict_len;
	ZSTD_CDict	*cdict;		/* owned, for cdict_level */
	int		 cdict_level;
	uint8_t		*samples;	/* owned, nsamples payloads */
	size_t		*sizes;		/* owned */
	size_t		 nsamples, samples_len, samples_cap;
	int		 training;	/* an op is at the writer */
	int		 tries;		/* failed trainings */
};

struct compress_train {
	struct station	*st;		/* referenced */
	uint8_t		*samples;	/* owned */
	size_t		*sizes;		/* owned */
	size_t		 n;
	uint8_t		 dict[COMPRESS_DICT_SIZE];
	size_t		 dict_len;	/* 0: training failed */
	uint32_t	 id;
};

static ZSTD_CCtx	*compress_cctx;	/* loop thread only */

int
compress_new(struct compress **out)
{
	if ((*out = calloc(1, sizeof **out)) == NULL)
		return (TP_ENOMEM);
	return (TP_OK);
}

static void
compress_drop_samples(struct compress *c)
{
	free(c->samples);
	free(c->sizes);
	c->samples = NULL;
	c->sizes = NULL;
	c->nsamples = c->samples_len = c->samples_cap = 0;
}

void
compress_free(struct compress *c)
{
	if (c == NULL)
		return;
	ZSTD_freeCDict(c->cdict);
	free(c->dict);
	compress_drop_samples(c);
	free(c);
}

int
compress_set_dict(struct compress *c, uint32_t id, const void *dict,
    size_t len)
{
	void	*copy;

	if ((copy = malloc(len)) == NULL)
		return (TP_ENOMEM);
	memcpy(copy, dict, len);
	free(c->dict);
	ZSTD_freeCDict(c->cdict);
	c->cdict = NULL;
	c->dict = copy;
	c->dict_len = len;
	c->dict_id = id;
	return (TP_OK);
}

uint32_t
compress_dict_id(struct compress *c)
{
	return (c->dict_id);
}

/* ---- training ---- */

static int
compress_train_apply(MDB_txn *txn, void *arg)
{
	struct compress_train	*t = arg;
	Tupelo__StationStats	 stats;
	MDB_dbi			 meta = store_meta(station_store(t->st));
	size_t			 len;
	int			 rc;

	/* Apply may run again after map growth: train once. */
	if (t->dict_len == 0 && t->id == 0) {
		len = ZDICT_trainFromBuffer(t->dict, sizeof t->dict,
		    t->samples, t->sizes, (unsigned)t->n);
		if (ZDICT_isError(len)) {
			t->id = UINT32_MAX;	/* failed: store nothing */
			return (0);
		}
		t->dict_len = len;
		t->id = ZDICT_getDictID(t->dict, len);
	}
	if (t->dict_len == 0)
		return (0);
	if ((rc = meta_dict_put(txn, meta, t->id, t->dict,
	    t->dict_len)) != 0 ||
	    (rc = meta_stats_get(txn, meta, station_name(t->st),
	    &stats)) != 0)
		return (rc);
	stats.dict_id = t->id;
	return (meta_stats_put(txn, meta, station_name(t->st), &stats));
}

static void
compress_train_done(void *arg, int code)
{
	struct compress_train	*t = arg;
	struct compress		*c = station_compress(t->st);

	if (c != NULL) {
		c->training = 0;
		if (code == TP_OK && t->dict_len != 0 &&
		    compress_set_dict(c, t->id, t->dict, t->dict_len) == TP_OK)
			log_info("zstd dictionary trained station=%s id=%u "
			    "bytes=%zu samples=%zu", station_name(t->st),
			    t->id, t->dict_len, t->n);
		else
			c->tries++;
	}
	station_unref(t->st);
	free(t->samples);
	free(t->sizes);
	free(t);
}

static const struct writer_op compress_train_op = {
	compress_train_apply, compress_train_done, WRITER_CHECKPOINT
};

static void
compress_train(struct station *st, struct compress *c)
{
	struct compress_train	*t;

	if ((t = calloc(1, sizeof *t)) == NULL)
		return;
	t->st = st;
	t->samples = c->samples;
	t->sizes = c->sizes;
	t->n = c->nsamples;
	c->samples = NULL;
	c->sizes = NULL;
	c->nsamples = c->samples_len = c->samples_cap = 0;
	station_hold(st);
	if (writer_submit(station_writer(st), &compress_train_op, t,
	    COMPRESS_DICT_SIZE, WRITER_SYNC) != TP_OK) {
		compress_train_done(t, TP_ESHUTDOWN);
		return;
	}
	c->training = 1;
}

/* Keep a copy of a payload for training. */
static void
compress_sample(struct compress *c, const void *data, size_t len)
{
	size_t	cap;
	void	*p;

	if (c->samples_len + len > COMPRESS_SAMPLE_MAX)
		return;
	if (c->samples_len + len > c->samples_cap) {
		cap = c->samples_cap != 0 ? c->samples_cap * 2 : 64 * 1024;
		while (cap < c->samples_len + len)
			cap *= 2;
		if ((p = realloc(c->samples, cap)) == NULL)
			return;
		c->samples = p;
		c->samples_cap = cap;
	}
	if ((p = reallocarray(c->sizes, c->nsamples + 1,
	    sizeof *c->sizes)) == NULL)
		return;
	c->sizes = p;
	memcpy(c->samples + c->samples_len, data, len);
	c->samples_len += len;
	c->sizes[c->nsamples++] = len;
}

/* ---- compressing ---- */

static ZSTD_CDict *
compress_cdict(struct compress *c, int level)
{
	if (c->dict == NULL)
		return (NULL);
	if (c->cdict != NULL && c->cdict_level == level)
		return (c->cdict);
	ZSTD_freeCDict(c->cdict);
	c->cdict = ZSTD_createCDict(c->dict, c->dict_len, level);
	c->cdict_level = level;
	return (c->cdict);
}

int
compress_payloads(struct station *st, const Tupelo__Produce *p,
    struct record_payload *pls)
{
	const Tupelo__StationConfig	*cfg = station_settings(st);
	struct compress			*c = station_compress(st);
	const Tupelo__Message		*m;
	ZSTD_CDict			*cdict;
	size_t				 i, bound, len;
	void				*buf;
	int				 level;

	level = cfg->compression_level != 0 ? cfg->compression_level :
	    COMPRESS_LEVEL;
	if (compress_cctx == NULL &&
	    (compress_cctx = ZSTD_createCCtx()) == NULL)
		return (TP_ENOMEM);
	cdict = compress_cdict(c, level);
	for (i = 0; i < p->n_messages; i++) {
		m = p->messages[i];
		pls[i].data = m->payload.data;
		pls[i].len = m->payload.len;
		pls[i].codec = RECORD_CODEC_NONE;
		if (m->payload.len < COMPRESS_MIN)
			continue;
		if (c->dict == NULL && !c->training)
			compress_sample(c, m->payload.data, m->payload.len);
		bound = ZSTD_compressBound(m->payload.len);
		if ((buf = malloc(bound)) == NULL)
			return (TP_ENOMEM);
		if (cdict != NULL)
			len = ZSTD_compress_usingCDict(compress_cctx, buf,
			    bound, m->payload.data, m->payload.len, cdict);
		else
			len = ZSTD_compressCCtx(compress_cctx, buf, bound,
			    m->payload.data, m->payload.len, level);
		if (ZSTD_isError(len) || len >= m->payload.len) {
			free(buf);
			continue;
		}
		pls[i].data = buf;
		pls[i].len = len;
		pls[i].codec = RECORD_CODEC_ZSTD;
	}
	if (c->dict == NULL && !c->training && c->tries < COMPRESS_TRIES &&
	    ((c->nsamples >= COMPRESS_SAMPLES &&
	    c->samples_len >= COMPRESS_SAMPLE_BYTES) ||
	    c->samples_len + 64 * 1024 > COMPRESS_SAMPLE_MAX))
		compress_train(st, c);
	return (TP_OK);
}

void
compress_payloads_free(struct record_payload *pls, size_t n)
{
	size_t	i;

	for (i = 0; pls != NULL && i < n; i++) {
		if (pls[i].codec != RECORD_CODEC_NONE)
			free((void *)pls[i].data);
	}
	free(pls);
}

/* ---- serving dictionaries ---- */

void
compress_request_dict(struct conn *conn, uint64_t id,
    const Tupelo__DictGet *req)
{
	Tupelo__Frame		 f = TUPELO__FRAME__INIT;
	Tupelo__DictReply	 r = TUPELO__DICT_REPLY__INIT;
	struct station		*st = station_at(0);
	struct tp_err		 err;
	MDB_txn			*txn;
	MDB_val			 v;
	char			 msg[64];
	int			 rc, code;

	if (st == NULL) {
		snprintf(msg, sizeof msg, "no dictionary %u", req->id);
		conn_send_error(conn, id, TP_EINVAL, msg);
		return;
	}
	code = store_read_begin(station_store(st), &txn, &err);
	if (code != TP_OK) {
		conn_send_error(conn, id, code, err.message);
		return;
	}
	rc = meta_dict_get(txn, store_meta(station_store(st)), req->id, &v);
	if (rc == 0) {
		r.id = req->id;
		r.dict.data = v.mv_data;
		r.dict.len = v.mv_size;
		f.id = id;
		f.body_case = TUPELO__FRAME__BODY_DICT_REPLY;
		f.dict_reply = &r;
		conn_send(conn, &f);
	} else {
		snprintf(msg, sizeof msg, "no dictionary %u", req->id);
		conn_send_error(conn, id, rc == MDB_NOTFOUND ? TP_EINVAL :
		    store_code(rc), msg);
	}
	store_read_end(station_store(st), txn);
}

/* The last dictionary used to decompress, by id: stations use one. */
static ZSTD_DCtx	*compress_dctx;
static ZSTD_DDict	*compress_ddict;
static uint32_t		 compress_ddict_id;

int
compress_plain(struct store *store, const void *src, size_t len, size_t max,
    void **out, size_t *outlen)
{
	unsigned long long	 size;
	MDB_txn			*txn;
	MDB_val			 v;
	uint32_t		 id;
	void			*dst;
	size_t			 n;
	int			 rc;

	size = ZSTD_getFrameContentSize(src, len);
	if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN)
		return (TP_EPROTO);
	if (size > max)
		return (TP_ETOOBIG);
	id = ZSTD_getDictID_fromFrame(src, len);
	if (compress_dctx == NULL &&
	    (compress_dctx = ZSTD_createDCtx()) == NULL)
		return (TP_ENOMEM);
	if (id != 0 && (compress_ddict == NULL || compress_ddict_id != id)) {
		if (store_read_begin(store, &txn, NULL) != TP_OK)
			return (TP_EIO);
		rc = meta_dict_get(txn, store_meta(store), id, &v);
		if (rc == 0) {
			ZSTD_freeDDict(compress_ddict);
			compress_ddict = ZSTD_createDDict(v.mv_data,
			    v.mv_size);
			compress_ddict_id = id;
		}
		store_read_end(store, txn);
		if (rc != 0)
			return (rc == MDB_NOTFOUND ? TP_EPROTO : TP_EIO);
		if (compress_ddict == NULL)
			return (TP_ENOMEM);
	}
	if ((dst = malloc(size + 1)) == NULL)
		return (TP_ENOMEM);
	if (id != 0)
		n = ZSTD_decompress_usingDDict(compress_dctx, dst, size, src,
		    len, compress_ddict);
	else
		n = ZSTD_decompressDCtx(compress_dctx, dst, size, src, len);
	if (ZSTD_isError(n) || n != size) {
		free(dst);
		return (TP_EPROTO);
	}
	*out = dst;
	*outlen = n;
	return (TP_OK);
}

void
compress_stop(void)
{
	ZSTD_freeDDict(compress_ddict);
	ZSTD_freeDCtx(compress_dctx);
	compress_ddict = NULL;
	compress_dctx = NULL;
}
