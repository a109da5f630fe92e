/*
 * What a trigger does with its messages, on the loop thread.
 *
 * The trigger is the only member of its group; the group hands it
 * records (copied here, decompressed and filtered at once: what a filter
 * drops is acked) within its credit. Held messages wait in a queue in seq
 * order. A batch is formed from the front of the queue:
 *   - stream mode without an ordering key: only when no batch of the
 *     trigger is running or settling, from the front, in order;
 *   - stream mode with a key: messages whose key no running batch holds
 *     (and no earlier held message of the same key waits), up to
 *     concurrency batches;
 *   - async mode: any due messages, up to concurrency batches.
 * A batch waits up to the batch window to fill (batch-size messages or
 * batch-max-bytes), retries never wait for it.
 *
 * Every message carries its own attempts, last error and the time before
 * which it may not run again, so a failed batch just goes back to the
 * front of the queue: with backoff (or the target's Retry-After), split
 * in two when bisecting, or on to the on-failure station once its
 * retries or its age are spent. Success acks the batch, after producing
 * the function's output to the on-success station when there is one, so
 * a crash in between invokes the function again rather than losing the
 * output.
 */
#include "broker/trigger.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/compress.h"
#include "broker/conn.h"
#include "broker/dls.h"
#include "broker/fn_exec.h"
#include "broker/fn_http.h"
#include "broker/group.h"
#include "broker/invoke.h"
#include "broker/log.h"
#include "broker/produce.h"
#include "broker/station.h"
#include "broker/tevent.h"
#include "proto/error.h"
#include "storage/record.h"

#define TFLOW_OUTPUT_MAX	(6 * 1024 * 1024)	/* function output */
#define TFLOW_PAYLOAD_MAX	(64 * 1024 * 1024)	/* decompressed */
#define TFLOW_HEADERS_MAX	128			/* per message */
#define TFLOW_CREDIT_MAX	100000
#define TFLOW_DEAD_CHUNK	1024

struct tbatch {
	struct trigger		*t;
	struct tmsg		*m;		/* owned, n */
	size_t			 n;
	uint32_t		 attempt;
	int64_t			 started_us;
	struct fn_exec		*ex;
	struct fn_http		*hr;
	int			 running;
	char			*out;		/* owned: output to answer */
	size_t			 outlen;
	TAILQ_ENTRY(tbatch)	 entry;
};

static struct event_base	*tflow_base;

static void	tflow_pump(struct trigger *);
static void	tflow_failed(struct trigger *, struct tmsg *, size_t, int,
		    int64_t, const char *);

void
tflow_start(struct event_base *base)
{
	tflow_base = base;
}

static int64_t
tflow_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static int64_t
tflow_now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

static int64_t
tflow_wall_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
}

uint32_t
tflow_credit(const Tupelo__TriggerConfig *c)
{
	uint64_t	n = (uint64_t)c->batch_size * (c->concurrency + 1);

	return (n > TFLOW_CREDIT_MAX ? TFLOW_CREDIT_MAX : (uint32_t)n);
}

static void
tflow_msg_free(struct tmsg *m)
{
	free(m->rec);
	free(m->plain);
	free(m->error);
	free(m->out);
}

static void
tflow_msgs_free(struct tmsg *m, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		tflow_msg_free(&m[i]);
	free(m);
}

static void
tflow_kick(struct trigger *t)
{
	if (t->kick != NULL)
		event_active(t->kick, EV_TIMEOUT, 0);
}

static void
tflow_set_error(struct trigger *t, const char *error)
{
	snprintf(t->last_error, sizeof t->last_error, "%s", error);
	t->last_error_ns = tflow_wall_ns();
}

/* ---- the queue ---- */

static int
tflow_q_reserve(struct trigger *t, size_t more)
{
	struct tmsg	*q;
	size_t		 cap;

	if (t->qhead + t->qlen + more <= t->qcap)
		return (0);
	if (t->qhead > 0) {
		memmove(t->q, t->q + t->qhead, t->qlen * sizeof *t->q);
		t->qhead = 0;
	}
	if (t->qlen + more <= t->qcap)
		return (0);
	cap = t->qcap != 0 ? t->qcap * 2 : 64;
	while (cap < t->qlen + more)
		cap *= 2;
	if ((q = reallocarray(t->q, cap, sizeof *q)) == NULL)
		return (-1);
	t->q = q;
	t->qcap = cap;
	return (0);
}

/* Put n messages (taken) back into the queue, in seq order. */
static void
tflow_requeue(struct trigger *t, struct tmsg *m, size_t n)
{
	struct tmsg	*q;
	size_t		 i, j, k;

	if (n == 0) {
		free(m);
		return;
	}
	if (tflow_q_reserve(t, n) != 0) {
		/* No memory: let the group deliver them again later. */
		for (i = 0; i < n; i++)
			tflow_msg_free(&m[i]);
		free(m);
		log_error("trigger=%s: out of memory; %zu messages dropped "
		    "until the next start", t->cfg->name, n);
		return;
	}
	q = t->q + t->qhead;
	/* Merge from the back. */
	i = t->qlen;
	j = n;
	k = t->qlen + n;
	while (j > 0) {
		if (i > 0 && q[i - 1].seq > m[j - 1].seq)
			q[--k] = q[--i];
		else
			q[--k] = m[--j];
	}
	for (i = 0; i < n; i++)
		t->qbytes += m[i].len;
	t->qlen += n;
	free(m);
}

/* ---- records in ---- */

static uint64_t
tflow_hash(const char *p, size_t len)
{
	uint64_t	h = 1469598103934665603ULL;
	size_t		i;

	for (i = 0; i < len; i++) {
		h ^= (uint8_t)p[i];
		h *= 1099511628211ULL;
	}
	return (h);
}

/* Decode m for an event document; payload replaced when compressed. */
static int
tflow_view(const struct tmsg *m, struct tevent_msg *v,
    struct tevent_header *h, size_t hcap)
{
	int	code;

	if ((code = tevent_decode(m->rec, m->len, v, h, hcap)) != TP_OK)
		return (code);
	v->seq = m->seq;
	v->deliveries = m->deliveries;
	if (m->plain != NULL || v->codec != RECORD_CODEC_NONE) {
		v->payload = m->plain;
		v->payload_len = m->plen;
		v->codec = RECORD_CODEC_NONE;
	}
	return (TP_OK);
}

static void
tflow_ack_later(struct trigger *t, uint64_t seq)
{
	uint64_t	*a;
	size_t		 cap;

	if (t->nacks == t->acks_cap) {
		cap = t->acks_cap != 0 ? t->acks_cap * 2 : 64;
		if ((a = reallocarray(t->acks, cap, sizeof *a)) == NULL)
			return;		/* delivered again after a restart */
		t->acks = a;
		t->acks_cap = cap;
	}
	t->acks[t->nacks++] = seq;
}

static void
tflow_take(struct trigger *t, const struct conn_rec *r, int64_t now)
{
	struct tevent_header	 h[TFLOW_HEADERS_MAX];
	struct tevent_msg	 v;
	struct tmsg		 m, *one;
	const char		*key = t->cfg->ordering_key;
	void			*plain;
	size_t			 i, plen, klen;
	char			 msg[128];

	memset(&m, 0, sizeof m);
	m.seq = r->seq;
	m.deliveries = r->deliveries;
	m.arrived_ms = now;
	if ((m.rec = malloc(r->len + 1)) == NULL)
		return;		/* delivered again after a restart */
	memcpy(m.rec, r->data, r->len);
	m.len = r->len;
	if (tevent_decode(m.rec, m.len, &v, h, TFLOW_HEADERS_MAX) != TP_OK) {
		m.bad = 1;
		goto keep;
	}
	m.time_ns = v.time_ns;
	if (v.codec != RECORD_CODEC_NONE) {
		if (v.codec != RECORD_CODEC_ZSTD || compress_plain(
		    station_store(t->st), v.payload, v.payload_len,
		    TFLOW_PAYLOAD_MAX, &plain, &plen) != TP_OK) {
			m.bad = 1;
			goto keep;
		}
		m.plain = plain;
		m.plen = plen;
		v.payload = plain;
		v.payload_len = plen;
		v.codec = RECORD_CODEC_NONE;
	}
	v.seq = m.seq;
	v.deliveries = m.deliveries;
	if (t->cfg->n_filters != 0 && t->filters != NULL &&
	    !tevent_filter_match(t->filters, t->cfg->n_filters, &v)) {
		t->filtered++;
		tflow_ack_later(t, m.seq);
		if (invoke_waiting(t, m.seq)) {
			snprintf(msg, sizeof msg, "filtered out by trigger %s",
			    t->cfg->name);
			invoke_result(t, m.seq, 0, NULL, 0, msg);
		}
		tflow_msg_free(&m);
		return;
	}
	if (key != NULL && *key != '\0') {
		klen = strlen(key);
		/* The last header of that name counts; none: the empty key. */
		m.key = tflow_hash("", 0);
		for (i = 0; i < v.nheaders; i++) {
			if (h[i].klen == klen &&
			    memcmp(h[i].key, key, klen) == 0)
				m.key = tflow_hash(h[i].value, h[i].vlen);
		}
	}
keep:
	if (t->qlen > 0 && t->q[t->qhead + t->qlen - 1].seq > m.seq) {
		if ((one = malloc(sizeof *one)) == NULL) {
			tflow_msg_free(&m);
			return;
		}
		*one = m;
		tflow_requeue(t, one, 1);
		return;
	}
	if (tflow_q_reserve(t, 1) != 0) {
		tflow_msg_free(&m);
		return;
	}
	t->q[t->qhead + t->qlen++] = m;
	t->qbytes += m.len;
}

static int
tflow_ready_cb(void *arg)
{
	struct trigger	*t = arg;

	return (t->cfg->enabled && t->qbytes < t->cfg->batch_max_bytes);
}

static void
tflow_deliver_cb(void *arg, const struct conn_rec *recs, size_t n)
{
	struct trigger	*t = arg;
	int64_t		 now = tflow_now_ms();
	size_t		 i;

	for (i = 0; i < n; i++)
		tflow_take(t, &recs[i], now);
	/* Never act inside the group's delivery: on the next turn. */
	tflow_kick(t);
}

static void
tflow_gone_cb(void *arg)
{
	struct trigger	*t = arg;

	t->sub = NULL;
	trigger_group_gone(t);
}

static const struct group_sink tflow_sink = {
	tflow_ready_cb, tflow_deliver_cb, tflow_gone_cb
};

/* ---- batches ---- */

static struct tbatch *
tflow_batch_new(struct trigger *t, struct tmsg *m, size_t n)
{
	struct tbatch	*b;

	if ((b = calloc(1, sizeof *b)) == NULL)
		return (NULL);
	b->t = t;
	b->m = m;
	b->n = n;
	TAILQ_INSERT_TAIL(&t->batches, b, entry);
	t->nbatches++;
	t->refs++;
	return (b);
}

/* Done with b (its messages already moved or freed). */
static void
tflow_batch_end(struct tbatch *b)
{
	struct trigger	*t = b->t;

	TAILQ_REMOVE(&t->batches, b, entry);
	t->nbatches--;
	free(b->out);
	free(b);
	t->refs--;
	if (t->deleted)
		trigger_release(t);
	else
		tflow_kick(t);
}

/* ---- dead letters ---- */

static void
tflow_dead_done(void *arg, int code)
{
	struct tbatch	*b = arg;
	struct trigger	*t = b->t;
	int64_t		 now = tflow_now_ms();
	size_t		 i;

	if (t->deleted || t->sub == NULL) {
		tflow_msgs_free(b->m, b->n);
	} else if (code == TP_OK) {
		t->dead_lettered += b->n;
		for (i = 0; i < b->n; i++) {
			if (invoke_waiting(t, b->m[i].seq))
				invoke_result(t, b->m[i].seq, 0, b->m[i].out,
				    b->m[i].outlen, b->m[i].error != NULL ?
				    b->m[i].error : "dead-lettered");
		}
		tflow_msgs_free(b->m, b->n);
	} else {
		/* Not stored: they are ours again; try later. */
		log_warn("trigger=%s: cannot store %zu dead letters: %s",
		    t->cfg->name, b->n, tp_strerror(code));
		for (i = 0; i < b->n; i++)
			b->m[i].not_before_ms = now +
			    t->cfg->backoff_initial_ms;
		tflow_requeue(t, b->m, b->n);
	}
	b->m = NULL;
	b->n = 0;
	tflow_batch_end(b);
}

/* Move n messages (taken) to the on-failure station. */
static void
tflow_dead(struct trigger *t, struct tmsg *m, size_t n, const char *reason)
{
	struct dls_why	 why;
	struct tbatch	*b;
	struct tmsg	*part;
	uint64_t	 seqs[TFLOW_DEAD_CHUNK];
	size_t		 i, k, at;
	const char	*to = t->cfg->on_failure;

	for (at = 0; at < n; at += k) {
		k = n - at < TFLOW_DEAD_CHUNK ? n - at : TFLOW_DEAD_CHUNK;
		if ((part = calloc(k, sizeof *part)) == NULL ||
		    (b = tflow_batch_new(t, part, k)) == NULL) {
			free(part);
			tflow_requeue(t, m + at, 0);
			log_error("trigger=%s: out of memory for dead letters",
			    t->cfg->name);
			for (i = at; i < n; i++)
				tflow_msg_free(&m[i]);
			break;
		}
		memset(&why, 0, sizeof why);
		why.reason = reason;
		why.trigger = t->cfg->name;
		for (i = 0; i < k; i++) {
			part[i] = m[at + i];
			seqs[i] = part[i].seq;
			if (part[i].attempts > why.attempts)
				why.attempts = part[i].attempts;
		}
		why.error = part[0].error != NULL ? part[0].error : "";
		if (to != NULL && *to != '\0' &&
		    (why.to = station_find(to)) == NULL)
			log_warn("trigger=%s: no on-failure station %s; "
			    "using %s%s", t->cfg->name, to,
			    station_name(t->st), TP_DLS_SUFFIX);
		log_info("trigger=%s: %zu messages to the dead letters (%s): "
		    "%s", t->cfg->name, k, reason, why.error);
		if (t->sub == NULL || group_sink_dead(t->sub, seqs, k, &why,
		    tflow_dead_done, b) != TP_OK)
			tflow_dead_done(b, TP_ENOMEM);
	}
	free(m);
}

/* ---- outcomes ---- */

static void
tflow_answer(struct trigger *t, struct tmsg *m, size_t n, const char *out,
    size_t len)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (invoke_waiting(t, m[i].seq))
			invoke_result(t, m[i].seq, 1, out, len, NULL);
	}
}

/* The batch's messages are done: ack them. */
static void
tflow_ack(struct tbatch *b)
{
	struct trigger	*t = b->t;
	uint64_t	*seqs;
	size_t		 i;

	if (t->sub != NULL && !t->deleted &&
	    (seqs = calloc(b->n + 1, sizeof *seqs)) != NULL) {
		for (i = 0; i < b->n; i++)
			seqs[i] = b->m[i].seq;
		t->messages += b->n;
		tflow_answer(t, b->m, b->n, b->out, b->outlen);
		group_sink_ack(t->sub, seqs, b->n);
		free(seqs);
	}
	tflow_msgs_free(b->m, b->n);
	b->m = NULL;
	b->n = 0;
	tflow_batch_end(b);
}

static void
tflow_output_done(void *arg, int code, uint64_t first)
{
	struct tbatch	*b = arg;
	struct trigger	*t = b->t;
	struct tmsg	*m;
	char		 msg[128];

	(void)first;
	if (code == TP_OK || t->deleted || t->sub == NULL) {
		tflow_ack(b);
		return;
	}
	snprintf(msg, sizeof msg, "cannot store the output in %s: %s",
	    t->cfg->on_success, tp_strerror(code));
	m = b->m;
	b->m = NULL;
	tflow_failed(t, m, b->n, 1, -1, msg);
	b->n = 0;
	tflow_batch_end(b);
}

/* Success: produce the output to the on-success station, then ack. */
static void
tflow_succeeded(struct tbatch *b, const char *out, size_t len)
{
	struct trigger		*t = b->t;
	struct station		*to;
	Tupelo__Message		 msg = TUPELO__MESSAGE__INIT;
	Tupelo__Header		 h[3], *hp[3];
	uint8_t			*buf;
	uint32_t		*lens;
	struct tmsg		*m;
	char			 id[TP_NAME_MAX + 64], seqs[48], err[256];
	size_t			 i, size;
	int64_t			 now;
	int			 code;

	if (len > 0 && (b->out = malloc(len)) != NULL) {
		memcpy(b->out, out, len);
		b->outlen = len;
	}
	if (t->cfg->on_success == NULL || *t->cfg->on_success == '\0' ||
	    len == 0) {
		tflow_ack(b);
		return;
	}
	if ((to = station_find(t->cfg->on_success)) == NULL) {
		snprintf(err, sizeof err, "no on-success station %s",
		    t->cfg->on_success);
		code = 1;
	} else if (len > station_max_message(to)) {
		snprintf(err, sizeof err, "output of %zu bytes is over "
		    "station %s's max message size", len, station_name(to));
		code = 0;
	} else
		code = -1;
	if (code != -1) {
		tflow_set_error(t, err);
		m = b->m;
		b->m = NULL;
		tflow_failed(t, m, b->n, code, -1, err);
		b->n = 0;
		tflow_batch_end(b);
		return;
	}
	snprintf(seqs, sizeof seqs, "%llu-%llu",
	    (unsigned long long)b->m[0].seq,
	    (unsigned long long)b->m[b->n - 1].seq);
	snprintf(id, sizeof id, "%s/%s", t->cfg->name, seqs);
	for (i = 0; i < 3; i++) {
		tupelo__header__init(&h[i]);
		hp[i] = &h[i];
	}
	h[0].key = TP_HDR_TRIGGER;
	h[0].value = t->cfg->name;
	h[1].key = TP_HDR_ORIGIN_STATION;
	h[1].value = (char *)station_name(t->st);
	h[2].key = TP_HDR_ORIGIN_SEQ;
	h[2].value = seqs;
	msg.n_headers = 3;
	msg.headers = hp;
	msg.msg_id = id;
	msg.payload.data = (uint8_t *)out;
	msg.payload.len = len;
	now = station_now(to);
	size = record_size(&msg, now);
	buf = malloc(size + 1);
	lens = calloc(1, sizeof *lens);
	if (buf == NULL || lens == NULL) {
		free(buf);
		free(lens);
		code = TP_ENOMEM;
	} else {
		record_encode(&msg, now, buf);
		lens[0] = (uint32_t)size;
		code = produce_records(to, buf, lens, 1, tflow_output_done,
		    b);
	}
	if (code != TP_OK)
		tflow_output_done(b, code, 0);
}

static int64_t
tflow_backoff_ms(struct trigger *t, uint32_t attempts)
{
	int64_t	d = t->cfg->backoff_initial_ms;
	int64_t	jitter;

	while (attempts-- > 1 && d < (int64_t)t->cfg->backoff_max_ms)
		d *= 2;
	if (d > (int64_t)t->cfg->backoff_max_ms)
		d = t->cfg->backoff_max_ms;
	/* +-10%, so that retries of many batches spread out. */
	jitter = d / 10;
	if (jitter > 0)
		d += (int64_t)(random() % (2 * jitter + 1)) - jitter;
	return (d > 0 ? d : 1);
}

static int
tflow_too_old(struct trigger *t, const struct tmsg *m)
{
	return (t->cfg->max_age_s != 0 && m->time_ns != 0 &&
	    tflow_wall_ns() - m->time_ns > (int64_t)t->cfg->max_age_s *
	    1000000000);
}

/*
 * n messages (taken) failed: back to the queue for another attempt, or
 * on to the dead letters: those whose retries are spent, those too old.
 */
static void
tflow_failed(struct trigger *t, struct tmsg *m, size_t n, int retry,
    int64_t retry_after_ms, const char *error)
{
	struct tmsg	*old, *spent, *young;
	size_t		 i, nold = 0, nspent = 0, nyoung = 0;
	int64_t		 delay, now = tflow_now_ms();
	uint32_t	 half = (uint32_t)((n + 1) / 2), most = 0;
	int		 bisect;

	for (i = 0; i < n; i++) {
		free(m[i].error);
		m[i].error = strdup(error != NULL ? error : "");
		m[i].attempts++;
	}
	if (t->deleted || t->sub == NULL) {
		tflow_msgs_free(m, n);
		return;
	}
	if (!retry) {
		tflow_dead(t, m, n, "rejected");
		return;
	}
	bisect = t->cfg->bisect_on_error && n > 1;
	old = calloc(n, sizeof *old);
	spent = calloc(n, sizeof *spent);
	young = calloc(n, sizeof *young);
	if (old == NULL || spent == NULL || young == NULL) {
		free(old);
		free(spent);
		free(young);
		tflow_requeue(t, m, n);
		return;
	}
	for (i = 0; i < n; i++) {
		if (tflow_too_old(t, &m[i]))
			old[nold++] = m[i];
		else if (!bisect && t->cfg->max_retries >= 0 &&
		    m[i].attempts > (uint32_t)t->cfg->max_retries)
			spent[nspent++] = m[i];
		else
			young[nyoung++] = m[i];
	}
	free(m);
	if (nold > 0)
		tflow_dead(t, old, nold, "max-age");
	else
		free(old);
	if (nspent > 0)
		tflow_dead(t, spent, nspent, "max-retries");
	else
		free(spent);
	if (bisect) {
		/* Split: retry each half at once; not an attempt. */
		for (i = 0; i < nyoung; i++) {
			young[i].attempts--;
			young[i].max_batch = half;
			young[i].not_before_ms = 0;
		}
	} else {
		for (i = 0; i < nyoung; i++) {
			if (young[i].attempts > most)
				most = young[i].attempts;
		}
		/* Retry-After is honoured up to the backoff maximum. */
		delay = retry_after_ms >= 0 ? retry_after_ms :
		    tflow_backoff_ms(t, most);
		if (delay > (int64_t)t->cfg->backoff_max_ms)
			delay = t->cfg->backoff_max_ms;
		for (i = 0; i < nyoung; i++)
			young[i].not_before_ms = now + delay;
	}
	if (nyoung > 0)
		t->retries++;
	tflow_requeue(t, young, nyoung);
	tflow_kick(t);
}

static int
tflow_in_batch(const struct tbatch *b, uint64_t seq)
{
	size_t	lo = 0, hi = b->n, mid;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (b->m[mid].seq == seq)
			return (1);
		if (b->m[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (0);
}

static void
tflow_record_time(struct trigger *t, int64_t us)
{
	t->durs[t->ndurs++ % TRIGGER_DURATIONS] = us > UINT32_MAX ?
	    UINT32_MAX : (uint32_t)us;
}

static int
tflow_u32cmp(const void *a, const void *b)
{
	uint32_t	x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x < y ? -1 : x > y);
}

uint32_t
tflow_percentile(struct trigger *t, int pct)
{
	uint32_t	d[TRIGGER_DURATIONS];
	size_t		n = t->ndurs < TRIGGER_DURATIONS ? t->ndurs :
			    TRIGGER_DURATIONS;

	if (n == 0)
		return (0);
	memcpy(d, t->durs, n * sizeof *d);
	qsort(d, n, sizeof *d, tflow_u32cmp);
	return (d[(n - 1) * (size_t)pct / 100]);
}

/* A request waits for this message: keep what the function printed. */
static void
tflow_keep_output(struct trigger *t, struct tbatch *b,
    const struct fn_result *r)
{
	struct tmsg	*m;
	size_t		 i;

	for (i = 0; i < b->n; i++) {
		m = &b->m[i];
		if (!invoke_waiting(t, m->seq))
			continue;
		free(m->out);
		m->out = NULL;
		m->outlen = 0;
		if (r->output_len > 0 && (m->out = malloc(r->output_len)) !=
		    NULL) {
			memcpy(m->out, r->output, r->output_len);
			m->outlen = r->output_len;
		}
	}
}

static void
tflow_done_cb(void *arg, const struct fn_result *r)
{
	struct tbatch	*b = arg;
	struct trigger	*t = b->t;
	struct tmsg	*failed, *kept, *m;
	uint64_t	*ids = NULL;
	size_t		 nids = 0, i, j, nf, nk;
	char		 err[FN_ERROR_MAX + 64];
	int		 code;

	b->running = 0;
	b->ex = NULL;
	b->hr = NULL;
	t->nrunning--;
	t->invocations++;
	tflow_record_time(t, tflow_now_us() - b->started_us);
	if (r->ok && t->cfg->item_failures) {
		code = tevent_item_failures(r->output, r->output_len, &ids,
		    &nids);
		for (i = 0; code == TP_OK && i < nids; i++) {
			if (!tflow_in_batch(b, ids[i]))
				code = TP_EPROTO;
		}
		if (code != TP_OK) {
			free(ids);
			t->failures++;
			snprintf(err, sizeof err, "the function's "
			    "batchItemFailures is not valid for this batch");
			tflow_set_error(t, err);
			m = b->m;
			b->m = NULL;
			tflow_failed(t, m, b->n, 1, -1, err);
			b->n = 0;
			tflow_batch_end(b);
			return;
		}
	}
	if (!r->ok) {
		t->failures++;
		tflow_set_error(t, r->error[0] != '\0' ? r->error :
		    "failed");
		log_info("trigger=%s: attempt %u of %zu messages failed: %s",
		    t->cfg->name, b->attempt, b->n, r->error);
		tflow_keep_output(t, b, r);
		m = b->m;
		b->m = NULL;
		tflow_failed(t, m, b->n, r->retry, r->retry_after_ms,
		    r->error[0] != '\0' ? r->error : "failed");
		b->n = 0;
		tflow_batch_end(b);
		return;
	}
	t->successes++;
	if (nids > 0) {
		/* Some items failed: they retry, the rest succeeded. */
		failed = calloc(nids, sizeof *failed);
		kept = calloc(b->n, sizeof *kept);
		if (failed == NULL || kept == NULL) {
			free(failed);
			free(kept);
			free(ids);
			m = b->m;
			b->m = NULL;
			tflow_failed(t, m, b->n, 1, -1, "out of memory");
			b->n = 0;
			tflow_batch_end(b);
			return;
		}
		for (i = 0, nf = 0, nk = 0; i < b->n; i++) {
			for (j = 0; j < nids; j++) {
				if (ids[j] == b->m[i].seq)
					break;
			}
			if (j < nids && nf < nids)
				failed[nf++] = b->m[i];
			else
				kept[nk++] = b->m[i];
		}
		free(ids);
		free(b->m);
		b->m = kept;
		b->n = nk;
		snprintf(err, sizeof err, "reported failed in "
		    "batchItemFailures");
		tflow_set_error(t, err);
		tflow_failed(t, failed, nf, 1, -1, err);
		if (nk == 0) {
			free(b->m);
			b->m = NULL;
			tflow_batch_end(b);
			return;
		}
	}
	tflow_succeeded(b, r->output, r->output_len);
}

/* ---- invoking ---- */

static char *
tflow_env(const char *name, const char *fmt, unsigned long long v)
{
	char	*s;

	if (asprintf(&s, "%s=%s", name, fmt) < 0)
		return (NULL);
	if (v != (unsigned long long)-1) {
		free(s);
		if (asprintf(&s, "%s=%llu", name, v) < 0)
			return (NULL);
	}
	return (s);
}

static int
tflow_run_exec(struct tbatch *b, const struct tevent_ctx *ctx,
    const struct tevent_msg *v, struct tp_err *err)
{
	struct trigger	*t = b->t;
	char		*env[7], *doc;
	size_t		 len, i;
	int		 code;

	if ((doc = tevent_records_json(ctx, v, b->n, &len)) == NULL)
		return (error_set(err, TP_ENOMEM, "out of memory"));
	env[0] = tflow_env("TUPELO_STATION", station_name(t->st), -1);
	env[1] = tflow_env("TUPELO_TRIGGER", t->cfg->name, -1);
	env[2] = tflow_env("TUPELO_BATCH_SIZE", "", b->n);
	env[3] = tflow_env("TUPELO_ATTEMPT", "", b->attempt);
	env[4] = tflow_env("TUPELO_FIRST_SEQ", "", b->m[0].seq);
	env[5] = tflow_env("TUPELO_LAST_SEQ", "", b->m[b->n - 1].seq);
	env[6] = NULL;
	for (i = 0; i < 6; i++) {
		if (env[i] == NULL)
			break;
	}
	if (i < 6) {
		free(doc);
		code = error_set(err, TP_ENOMEM, "out of memory");
	} else
		code = fn_exec_run(t->cfg->command, env, doc, len,
		    (int)t->cfg->timeout_ms, TFLOW_OUTPUT_MAX, tflow_done_cb, b,
		    &b->ex, err);
	for (i = 0; i < 6; i++)
		free(env[i]);
	return (code);
}

static int
tflow_run_http(struct tbatch *b, const struct tevent_ctx *ctx,
    const struct tevent_msg *v, struct tp_err *err)
{
	struct trigger		*t = b->t;
	struct fn_http_req	 req;
	char			**lines = NULL, *url = NULL, *body;
	const char		*extra[2] = { NULL, NULL };
	size_t			 len;
	int			 code;

	memset(&req, 0, sizeof req);
	req.timeout_ms = (int)t->cfg->timeout_ms;
	req.output_max = TFLOW_OUTPUT_MAX;
	if (t->cfg->target == TRIGGER_LAMBDA) {
		len = strlen(t->cfg->url);
		while (len > 0 && t->cfg->url[len - 1] == '/')
			len--;
		if (asprintf(&url, "%.*s/2015-03-31/functions/%s/invocations",
		    (int)len, t->cfg->url, t->cfg->function) < 0)
			return (error_set(err, TP_ENOMEM, "out of memory"));
		body = tevent_records_json(ctx, v, b->n, &len);
		req.url = url;
		req.content_type = "application/json";
		extra[0] = "X-Amz-Invocation-Type: RequestResponse";
		req.headers = extra;
		req.lambda = 1;
	} else if (t->cfg->batch_size == 1) {
		/* CloudEvents binary mode: the payload is the body. */
		if ((lines = tevent_binary_headers(ctx, &v[0])) == NULL)
			return (error_set(err, TP_ENOMEM, "out of memory"));
		/* Its Content-Type line replaces fn_http's default. */
		len = v[0].payload_len;
		if ((body = malloc(len + 1)) != NULL && len > 0)
			memcpy(body, v[0].payload, len);
		req.url = t->cfg->url;
		req.headers = (const char *const *)lines;
	} else {
		body = tevent_cloudevents_batch(ctx, v, b->n, &len);
		req.url = t->cfg->url;
		req.content_type = "application/cloudevents-batch+json";
	}
	if (body == NULL) {
		free(url);
		tevent_lines_free(lines);
		return (error_set(err, TP_ENOMEM, "out of memory"));
	}
	req.body = body;
	req.len = len;
	code = fn_http_post(&req, tflow_done_cb, b, &b->hr, err);
	free(url);
	tevent_lines_free(lines);
	return (code);
}

/* Start b's invocation; a failure to start is a failed attempt. */
static void
tflow_run(struct tbatch *b)
{
	struct trigger		*t = b->t;
	struct tevent_ctx	 ctx;
	struct tevent_header	*h = NULL;
	struct tevent_msg	*v = NULL;
	struct fn_result	 r;
	struct tp_err		 err;
	size_t			 i, nh = 0;
	int			 code = TP_ENOMEM;

	b->attempt = 1;
	for (i = 0; i < b->n; i++) {
		if (b->m[i].attempts + 1 > b->attempt)
			b->attempt = b->m[i].attempts + 1;
	}
	ctx.station = station_name(t->st);
	ctx.trigger = t->cfg->name;
	ctx.attempt = b->attempt;
	error_set(&err, TP_ENOMEM, "out of memory");
	v = calloc(b->n, sizeof *v);
	h = calloc(b->n * TFLOW_HEADERS_MAX, sizeof *h);
	if (v != NULL && h != NULL) {
		for (i = 0; i < b->n; i++) {
			code = tflow_view(&b->m[i], &v[i], h + nh,
			    TFLOW_HEADERS_MAX);
			if (code != TP_OK)
				break;
			nh += v[i].nheaders;
		}
		if (code != TP_OK)
			error_set(&err, code, "cannot decode message %llu",
			    (unsigned long long)b->m[i].seq);
	}
	b->started_us = tflow_now_us();
	b->running = 1;
	t->nrunning++;
	if (code == TP_OK) {
		if (t->cfg->target == TRIGGER_EXEC)
			code = tflow_run_exec(b, &ctx, v, &err);
		else
			code = tflow_run_http(b, &ctx, v, &err);
	}
	free(v);
	free(h);
	if (code == TP_OK)
		return;
	memset(&r, 0, sizeof r);
	r.retry = 1;
	r.retry_after_ms = -1;
	r.status = -1;
	snprintf(r.error, sizeof r.error, "cannot invoke: %s", err.message);
	tflow_done_cb(b, &r);
}

/* ---- forming batches ---- */

struct tflow_keys {
	uint64_t	*k;
	size_t		 n, cap;
};

static int
tflow_keys_has(const struct tflow_keys *ks, uint64_t key)
{
	size_t	i;

	for (i = 0; i < ks->n; i++) {
		if (ks->k[i] == key)
			return (1);
	}
	return (0);
}

static void
tflow_keys_add(struct tflow_keys *ks, uint64_t key)
{
	uint64_t	*k;
	size_t		 cap;

	if (tflow_keys_has(ks, key))
		return;
	if (ks->n == ks->cap) {
		cap = ks->cap != 0 ? ks->cap * 2 : 16;
		if ((k = reallocarray(ks->k, cap, sizeof *k)) == NULL)
			return;
		ks->k = k;
		ks->cap = cap;
	}
	ks->k[ks->n++] = key;
}

/*
 * The next batch to run, taken out of the queue, or NULL; *wake gets the
 * earliest time something not yet due becomes due.
 */
static struct tbatch *
tflow_form(struct trigger *t, int64_t now, int64_t *wake)
{
	const Tupelo__TriggerConfig	*c = t->cfg;
	struct tflow_keys		 busy = { NULL, 0, 0 };
	struct tbatch			*b;
	struct tmsg			*q = t->q + t->qhead, *m, *out, *dead;
	size_t				 i, n = 0, ndead = 0, bytes = 0, k;
	size_t				 limit = c->batch_size;
	int64_t				 oldest = 0;
	int				 keyed, stream, retry = 0;
	char				*take;

	stream = c->mode == TRIGGER_STREAM;
	keyed = stream && c->ordering_key != NULL && *c->ordering_key != '\0';
	if (t->qlen == 0 || (stream && !keyed && t->nbatches > 0))
		return (NULL);
	if ((take = calloc(t->qlen, 1)) == NULL)
		return (NULL);
	if (keyed) {
		TAILQ_FOREACH(b, &t->batches, entry) {
			for (i = 0; i < b->n; i++)
				tflow_keys_add(&busy, b->m[i].key);
		}
	}
	for (i = 0; i < t->qlen; i++) {
		m = &q[i];
		if (m->bad || tflow_too_old(t, m)) {
			take[i] = 2;	/* dead letter */
			ndead++;
			continue;
		}
		if (keyed && tflow_keys_has(&busy, m->key))
			continue;
		if (m->not_before_ms > now) {
			if (*wake == 0 || m->not_before_ms < *wake)
				*wake = m->not_before_ms;
			if (keyed)
				tflow_keys_add(&busy, m->key);
			if (stream && !keyed)
				break;
			continue;
		}
		/* A request waits for its own answer: alone in a batch. */
		if (invoke_waiting(t, m->seq)) {
			if (n == 0) {
				take[i] = 1;
				n = 1;
				bytes = m->len;
				limit = 1;
				break;
			}
			if (keyed)
				tflow_keys_add(&busy, m->key);
			if (stream && !keyed)
				break;
			continue;
		}
		if (m->max_batch != 0 && m->max_batch < limit)
			limit = m->max_batch;
		if (n >= limit || (n > 0 && bytes + m->len >
		    c->batch_max_bytes)) {
			if (keyed)
				tflow_keys_add(&busy, m->key);
			if (stream)
				break;
			continue;
		}
		take[i] = 1;
		n++;
		bytes += m->len;
		retry |= m->attempts > 0 || m->max_batch != 0;
		if (oldest == 0 || m->arrived_ms < oldest)
			oldest = m->arrived_ms;
	}
	free(busy.k);
	/* Wait for the window to fill the batch, unless it is a retry. */
	if (n > 0 && c->batch_window_ms > 0 && n < limit &&
	    bytes < c->batch_max_bytes && !retry &&
	    oldest + (int64_t)c->batch_window_ms > now) {
		if (*wake == 0 || oldest + c->batch_window_ms < *wake)
			*wake = oldest + c->batch_window_ms;
		n = 0;
		for (i = 0; i < t->qlen; i++) {
			if (take[i] == 1)
				take[i] = 0;
		}
	}
	if (n == 0 && ndead == 0) {
		free(take);
		return (NULL);
	}
	out = calloc(n + 1, sizeof *out);
	dead = calloc(ndead + 1, sizeof *dead);
	if (out == NULL || dead == NULL) {
		free(out);
		free(dead);
		free(take);
		return (NULL);
	}
	/* Take them out, keeping the rest in order. */
	n = ndead = 0;
	for (i = 0, k = 0; i < t->qlen; i++) {
		if (take[i] == 1)
			out[n++] = q[i];
		else if (take[i] == 2)
			dead[ndead++] = q[i];
		else {
			q[k++] = q[i];
			continue;
		}
		t->qbytes -= q[i].len;
	}
	t->qlen = k;
	free(take);
	if (ndead > 0) {
		for (i = 0; i < ndead; i++) {
			if (dead[i].error == NULL)
				dead[i].error = strdup(dead[i].bad ?
				    "the stored record cannot be decoded" :
				    "older than the trigger's max age");
		}
		tflow_dead(t, dead, ndead, dead[0].bad ? "malformed" :
		    "max-age");
	} else
		free(dead);
	if (n == 0) {
		free(out);
		return (NULL);
	}
	if ((b = tflow_batch_new(t, out, n)) == NULL)
		tflow_requeue(t, out, n);
	return (b);
}

static void
tflow_arm(struct trigger *t, int64_t at)
{
	struct timeval	tv;
	int64_t		now = tflow_now_ms();

	if (at == 0 || (t->timer_at != 0 && t->timer_at <= at &&
	    evtimer_pending(t->timer, NULL)))
		return;
	if (at < now)
		at = now;
	tv.tv_sec = (at - now) / 1000;
	tv.tv_usec = (at - now) % 1000 * 1000;
	t->timer_at = at;
	evtimer_add(t->timer, &tv);
}

static void
tflow_pump(struct trigger *t)
{
	struct tbatch	*b;
	int64_t		 now = tflow_now_ms(), wake = 0;
	size_t		 before = t->qlen;

	if (t->sub == NULL || t->deleted)
		return;
	if (t->nacks > 0) {
		group_sink_ack(t->sub, t->acks, t->nacks);
		t->nacks = 0;
		if (t->sub == NULL)
			return;
	}
	if (!t->cfg->enabled)
		return;
	while (t->nrunning < t->cfg->concurrency &&
	    (b = tflow_form(t, now, &wake)) != NULL)
		tflow_run(b);
	tflow_arm(t, wake);
	if (t->qlen < before && t->sub != NULL)
		group_sink_ready(t->sub);
}

static void
tflow_kick_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	tflow_pump(arg);
}

static void
tflow_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	struct trigger	*t = arg;

	(void)fd;
	(void)events;
	t->timer_at = 0;
	tflow_pump(t);
}

/* ---- open and close ---- */

int
tflow_open(struct trigger *t)
{
	char	name[64];

	t->timer = evtimer_new(tflow_base, tflow_timer_cb, t);
	t->kick = event_new(tflow_base, -1, 0, tflow_kick_cb, t);
	if (t->timer == NULL || t->kick == NULL)
		return (TP_ENOMEM);
	snprintf(name, sizeof name, "trigger:%.50s", t->cfg->name);
	t->sub = group_sink_join(t->g, &tflow_sink, t, tflow_credit(t->cfg),
	    name);
	if (t->sub == NULL)
		return (TP_ENOMEM);
	tflow_kick(t);
	return (TP_OK);
}

void
tflow_close(struct trigger *t)
{
	struct tbatch	*b, *next;
	struct sub	*s = t->sub;

	/* Acks of filtered messages still count. */
	if (s != NULL && t->nacks > 0)
		group_sink_ack(s, t->acks, t->nacks);
	t->nacks = 0;
	t->sub = NULL;
	for (b = TAILQ_FIRST(&t->batches); b != NULL; b = next) {
		next = TAILQ_NEXT(b, entry);
		if (!b->running)
			continue;	/* settling: ends by itself */
		if (b->ex != NULL)
			fn_exec_cancel(b->ex);
		if (b->hr != NULL)
			fn_http_cancel(b->hr);
		t->nrunning--;
		tflow_msgs_free(b->m, b->n);
		TAILQ_REMOVE(&t->batches, b, entry);
		t->nbatches--;
		t->refs--;
		free(b->out);
		free(b);
	}
	while (t->qlen > 0) {
		tflow_msg_free(&t->q[t->qhead]);
		t->qhead++;
		t->qlen--;
	}
	t->qbytes = 0;
	free(t->acks);
	t->acks = NULL;
	t->acks_cap = 0;
	if (t->timer != NULL)
		event_free(t->timer);
	if (t->kick != NULL)
		event_free(t->kick);
	t->timer = t->kick = NULL;
	/* What it held waits in the group for the next start. */
	if (s != NULL)
		group_sink_leave(s);
}

void
tflow_reconfigure(struct trigger *t)
{
	uint32_t	credit = tflow_credit(t->cfg);

	if (t->g != NULL && t->g->cfg.max_ack_pending != credit) {
		t->g->cfg.max_ack_pending = credit;
		t->g->dirty = 1;
	}
	if (t->sub != NULL)
		group_sink_credit(t->sub, credit);
	tflow_kick(t);
}
