/*
 * The messages a trigger holds and the batches it forms, on the loop
 * thread.
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
 * batch-max-bytes), retries never wait for it. Every message carries its
 * own attempts and the time before which it may not run again, so a
 * failed batch just comes back to the queue (broker/trun runs batches
 * and settles them).
 */
#include "broker/trigger.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/compress.h"
#include "broker/conn.h"
#include "broker/fn_exec.h"
#include "broker/fn_http.h"
#include "broker/group.h"
#include "broker/invoke.h"
#include "broker/log.h"
#include "broker/station.h"
#include "broker/tevent.h"
#include "proto/error.h"
#include "storage/record.h"

#define TRUN_OUTPUT_MAX	(6 * 1024 * 1024)	/* function output */
#define TFLOW_PAYLOAD_MAX	(64 * 1024 * 1024)	/* decompressed */
#define TFLOW_CREDIT_MAX	100000
#define TRUN_DEAD_CHUNK	1024

static struct event_base	*tflow_base;

static void	tflow_pump(struct trigger *);

void
tflow_start(struct event_base *base)
{
	tflow_base = base;
}

int64_t
tflow_now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

int64_t
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

void
tflow_msg_free(struct tmsg *m)
{
	free(m->rec);
	free(m->plain);
	free(m->error);
	free(m->out);
}

void
tflow_msgs_free(struct tmsg *m, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		tflow_msg_free(&m[i]);
	free(m);
}

void
tflow_kick(struct trigger *t)
{
	if (t->kick != NULL)
		event_active(t->kick, EV_TIMEOUT, 0);
}

void
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
void
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
		log_error("trigger=%s: out of memory; %zu message%s dropped "
		    "until the next start", t->cfg->name, n, n == 1 ? "" : "s");
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
	struct tevent_header	 h[TRIGGER_HEADERS_MAX];
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
	if (tevent_decode(m.rec, m.len, &v, h, TRIGGER_HEADERS_MAX) != TP_OK) {
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
	int64_t		 now = group_now_ms();
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

struct tbatch *
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
void
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

void
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
		if (m->bad || trun_too_old(t, m)) {
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
		trun_dead(t, dead, ndead, dead[0].bad ? "malformed" :
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
	int64_t		now = group_now_ms();

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
	int64_t		 now = group_now_ms(), wake = 0;
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
		trun_start(b);
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
