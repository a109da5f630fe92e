/*
 * Consumer groups, on the loop thread: the delivery window, members and
 * their credit, acks, nacks, ack-wait redelivery and dead-lettering.
 *
 * A group delivers in seq order. Everything at or below the ack floor is
 * acked. Above it, the window holds one entry per delivered seq, sorted:
 * delivered (to a member, until a deadline), waiting to be delivered again
 * (not before a time), being dead-lettered, or acked but not yet below the
 * floor. The floor is just below the first entry that is not acked (or
 * below next_seq when the window is empty), which also steps over seqs the
 * log never had. One timer per group fires at the earliest deadline.
 *
 * What is stored (broker/gstate) is the floor, the acked seqs above it, how
 * far delivery got and the delivery counts other than one; acks are
 * confirmed only once that is committed, so an acked message is never
 * delivered to the group again and an unacked one always is, with its
 * count. A member may limit how many deliveries it gets in all, and give
 * back on leaving what it never read, uncounted.
 */
#include "broker/group.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/config.h"
#include "broker/conn.h"
#include "broker/dls.h"
#include "broker/gstate.h"
#include "broker/log.h"
#include "broker/station.h"
#include "proto/error.h"
#include "storage/slog.h"
#include "storage/store.h"

#define GROUP_WINDOW_MAX	1000000		/* entries: memory cap */
#define GROUP_FRAME_RECORDS	256		/* records per Deliver */
#define GROUP_FRAME_BYTES	(1024 * 1024)	/* soft bytes per Deliver */
#define GROUP_MAX_UNACKED	100000		/* cap on asked credit */
#define GROUP_DEAD_MAX		1024		/* dead letters per batch */
#define GROUP_SUBS_PER_CONN	256		/* subscriptions a conn has */

static struct event_base	*group_base;
static uint64_t			 group_next_sub = 1;

static void	group_pump(struct group *);
static void	group_arm(struct group *);

void
group_start(struct event_base *base)
{
	group_base = base;
}

int64_t
group_now_ms(void)
{
	return (tp_now_ms());
}

const char *
group_name(struct group *g)
{
	return (g->name);
}

uint64_t
group_sub_id(struct sub *s)
{
	return (s->id);
}

/* ---- settings in force ---- */

static uint32_t
group_ack_wait(struct group *g)
{
	return (g->cfg.ack_wait_ms != 0 ? g->cfg.ack_wait_ms :
	    (uint32_t)station_config()->ack_wait_ms);
}

/* Deliveries before dead-lettering; 0: no limit. */
static uint32_t
group_max_deliveries(struct group *g)
{
	if (g->cfg.max_deliveries < 0)
		return (0);
	if (g->cfg.max_deliveries > 0)
		return ((uint32_t)g->cfg.max_deliveries);
	return ((uint32_t)station_config()->max_deliveries);
}

static uint32_t
group_max_ack_pending(struct group *g)
{
	return (g->cfg.max_ack_pending != 0 ? g->cfg.max_ack_pending :
	    (uint32_t)station_config()->max_ack_pending);
}

/* How long delivery number n waits for its ack. */
static int64_t
group_wait_ms(struct group *g, uint32_t n)
{
	if (g->nbackoff == 0)
		return (group_ack_wait(g));
	if (n > g->nbackoff)
		n = (uint32_t)g->nbackoff;
	return (g->backoff[n > 0 ? n - 1 : 0]);
}

static int
group_spent(struct group *g, uint32_t deliveries)
{
	uint32_t	max = group_max_deliveries(g);

	return (max != 0 && deliveries >= max);
}

void
group_config_get(struct group *g, Tupelo__GroupConfig *out)
{
	tupelo__group_config__init(out);
	out->ack_wait_ms = group_ack_wait(g);
	out->max_deliveries = group_max_deliveries(g) == 0 ? -1 :
	    (int32_t)group_max_deliveries(g);
	out->max_ack_pending = group_max_ack_pending(g);
	out->n_backoff_ms = g->nbackoff;
	out->backoff_ms = g->backoff;
}

int
group_config_set(struct group *g, const Tupelo__GroupConfig *c)
{
	uint32_t	*b = NULL;

	if (c == NULL)
		return (TP_OK);
	if (c->n_backoff_ms != 0) {
		if ((b = calloc(c->n_backoff_ms, sizeof *b)) == NULL)
			return (TP_ENOMEM);
		memcpy(b, c->backoff_ms, c->n_backoff_ms * sizeof *b);
		free(g->backoff);
		g->backoff = b;
		g->nbackoff = c->n_backoff_ms;
	}
	if (c->ack_wait_ms != 0)
		g->cfg.ack_wait_ms = c->ack_wait_ms;
	if (c->max_deliveries != 0)
		g->cfg.max_deliveries = c->max_deliveries;
	if (c->max_ack_pending != 0)
		g->cfg.max_ack_pending = c->max_ack_pending;
	return (TP_OK);
}

/* ---- lifetime ---- */

struct group *
group_new(struct station *st, const char *name, int ephemeral)
{
	struct group	*g;
	struct timespec	 ts;

	if ((g = calloc(1, sizeof *g)) == NULL)
		return (NULL);
	snprintf(g->name, sizeof g->name, "%s", name);
	g->st = st;
	g->ephemeral = ephemeral;
	tupelo__group_config__init(&g->cfg);
	g->next_seq = 1;
	TAILQ_INIT(&g->subs);
	clock_gettime(CLOCK_REALTIME, &ts);
	g->created_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	g->timer = evtimer_new(group_base, group_timer_cb, g);
	if (g->timer == NULL || station_group_add(st, g) != TP_OK) {
		if (g->timer != NULL)
			event_free(g->timer);
		free(g);
		return (NULL);
	}
	return (g);
}

/* Free once no storage operation refers to the group any more. */
static void
group_release(struct group *g)
{
	size_t	i;

	if (g->refs > 0)
		return;
	for (i = 0; i < g->nwaiters; i++) {
		conn_send_error(g->waiters[i].conn, g->waiters[i].id,
		    TP_ENOSTATION, "the group was deleted");
		conn_unref(g->waiters[i].conn);
	}
	if (g->timer != NULL)
		event_free(g->timer);
	free(g->waiters);
	free(g->win);
	free(g->skip);
	free(g->counted);
	free(g->counts);
	free(g->backoff);
	free(g);
}

void
group_free(struct group *g)
{
	struct sub	*s;
	char		 msg[256];

	g->freed = 1;
	if (g->timer != NULL)
		evtimer_del(g->timer);
	while ((s = TAILQ_FIRST(&g->subs)) != NULL) {
		TAILQ_REMOVE(&g->subs, s, entry);
		if (s->sink != NULL) {
			s->sink->gone(s->sink_arg);
			free(s);
			continue;
		}
		snprintf(msg, sizeof msg, "group %s deleted: subscription "
		    "%llu ended", g->name, (unsigned long long)s->id);
		conn_send_error(s->conn, 0, TP_ENOSTATION, msg);
		conn_sub_remove(s->conn, s);
		free(s);
	}
	group_release(g);
}

void
group_unref(struct group *g)
{
	g->refs--;
	if (g->freed)
		group_release(g);
}

/* ---- the window ---- */

struct pend *
group_win_find(struct group *g, uint64_t seq)
{
	size_t	lo = 0, hi = g->len, mid;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (g->win[g->head + mid].seq == seq)
			return (&g->win[g->head + mid]);
		if (g->win[g->head + mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (NULL);
}

static struct pend *
group_win_push(struct group *g, uint64_t seq, int state)
{
	struct pend	*w, *p;
	size_t		 cap;

	if (g->head + g->len == g->cap) {
		if (g->head > 0) {
			memmove(g->win, g->win + g->head, g->len * sizeof *w);
			g->head = 0;
		}
		if (g->len == g->cap) {
			cap = g->cap != 0 ? g->cap * 2 : 64;
			if ((w = reallocarray(g->win, cap, sizeof *w)) == NULL)
				return (NULL);
			g->win = w;
			g->cap = cap;
		}
	}
	p = &g->win[g->head + g->len++];
	memset(p, 0, sizeof *p);
	p->seq = seq;
	p->state = state;
	if (state != PEND_ACKED)
		g->npending++;
	return (p);
}

/* Mark an entry acked (also for dead letters once stored). */
static void
group_settle(struct group *g, struct pend *p)
{
	if (p->state == PEND_DELIVERED && p->sub != NULL)
		p->sub->unacked--;
	if (p->state != PEND_ACKED)
		g->npending--;
	p->state = PEND_ACKED;
	p->sub = NULL;
	g->dirty = 1;
}

/* Drop acked entries at the front and recompute the floor. */
static void
group_advance(struct group *g)
{
	while (g->len > 0 && g->win[g->head].state == PEND_ACKED) {
		g->head++;
		g->len--;
	}
	if (g->len == 0)
		g->head = 0;
	g->floor = (g->len > 0 ? g->win[g->head].seq : g->next_seq) - 1;
}

/* Deliveries a seq had before a restart (0 if it was not delivered). */
static uint32_t
group_restored_count(struct group *g, uint64_t seq)
{
	if (seq > g->delivered_upto)
		return (0);
	while (g->icounted < g->ncounted && g->counted[g->icounted] < seq)
		g->icounted++;
	if (g->icounted < g->ncounted && g->counted[g->icounted] == seq)
		return (g->counts[g->icounted]);
	return (1);
}

static int
group_restored_acked(struct group *g, uint64_t seq)
{
	while (g->skip_head < g->nskip && g->skip[g->skip_head] < seq)
		g->skip_head++;
	return (g->skip_head < g->nskip && g->skip[g->skip_head] == seq);
}

/* ---- dead letters ---- */

static int
group_has_sub(struct group *g, struct sub *s)
{
	struct sub	*t;

	TAILQ_FOREACH(t, &g->subs, entry) {
		if (t == s)
			return (1);
	}
	return (0);
}

struct group_dead {
	struct group	*g;		/* referenced */
	struct conn	*conn;		/* referenced, Term only */
	uint64_t	 id;
	struct sub	*sink;		/* group_sink_dead() only */
	group_dead_cb	 cb;
	void		*cb_arg;
	size_t		 n;
	uint64_t	 seqs[GROUP_DEAD_MAX];
	uint32_t	 counts[GROUP_DEAD_MAX];
};

static void
group_dead_done(void *arg, int code, uint64_t first)
{
	struct group_dead	*gd = arg;
	struct group		*g = gd->g;
	struct pend		*p;
	size_t			 i;
	int			 wcode;

	for (i = 0; i < gd->n && !g->freed; i++) {
		if ((p = group_win_find(g, gd->seqs[i])) == NULL ||
		    p->state != PEND_DEAD)
			continue;
		if (code == TP_OK) {
			group_settle(g, p);
			g->dead_lettered++;
		} else if (gd->sink != NULL && group_has_sub(g, gd->sink)) {
			/* The member decides what to do next. */
			p->state = PEND_DELIVERED;
			p->sub = gd->sink;
			gd->sink->unacked++;
		} else {
			/* Not stored: try again after an ack wait. */
			p->state = PEND_WAITING;
			p->at_ms = group_now_ms() + group_ack_wait(g);
		}
	}
	if (!g->freed) {
		if (code != TP_OK)
			log_warn("group=%s station=%s: cannot store %zu dead "
			    "letters: %s", g->name, station_name(g->st), gd->n,
			    tp_strerror(code));
		group_advance(g);
		/* Term is confirmed once its dead letters are stored. */
		if (gd->conn != NULL && code != TP_OK)
			conn_send_error(gd->conn, gd->id, code, "cannot store "
			    "the dead letters; they will be delivered again");
		else if (gd->conn != NULL && (wcode = gstate_waiter_add(g,
		    gd->conn, gd->id)) != TP_OK)
			conn_send_error(gd->conn, gd->id, wcode, NULL);
		g->dirty = 1;
		group_arm(g);
		group_pump(g);
	} else if (gd->conn != NULL)
		conn_send_error(gd->conn, gd->id, TP_ENOSTATION,
		    "the group was deleted");
	if (gd->cb != NULL)
		gd->cb(gd->cb_arg, g->freed ? TP_ENOSTATION : code);
	if (gd->conn != NULL)
		conn_unref(gd->conn);
	group_unref(g);
	free(gd);
}

/*
 * Move the entries of gd (already PEND_DEAD) to the dead-letter station.
 * With no dead-letter station (a group on one) they are dropped.
 */
static void
group_dead_send_why(struct group_dead *gd, const struct dls_why *why)
{
	struct group	*g = gd->g;
	int		 code;

	g->refs++;
	code = dls_send(g->st, why, gd->seqs, gd->counts, gd->n,
	    group_dead_done, gd);
	if (code == TP_ENOSTATION) {
		log_warn("group=%s station=%s: %zu message%s given up, no "
		    "dead-letter station to keep %s", g->name,
		    station_name(g->st), gd->n, gd->n == 1 ? "" : "s",
		    gd->n == 1 ? "it" : "them");
		group_dead_done(gd, TP_OK, 0);
	} else if (code != TP_OK)
		group_dead_done(gd, code, 0);
}

static void
group_dead_send(struct group_dead *gd, const char *reason, const char *error)
{
	struct dls_why	why;

	memset(&why, 0, sizeof why);
	why.group = gd->g->name;
	why.reason = reason;
	why.error = error;
	group_dead_send_why(gd, &why);
}

static struct group_dead *
group_dead_new(struct group *g)
{
	struct group_dead	*gd;

	if ((gd = calloc(1, sizeof *gd)) != NULL)
		gd->g = g;
	return (gd);
}

/* Add p to *gdp (allocated on demand); 0 if it must wait for later. */
static int
group_dead_add(struct group *g, struct group_dead **gdp, struct pend *p)
{
	if (*gdp == NULL && (*gdp = group_dead_new(g)) == NULL)
		return (0);
	if ((*gdp)->n == GROUP_DEAD_MAX)
		return (0);
	if (p->state == PEND_DELIVERED && p->sub != NULL)
		p->sub->unacked--;
	p->sub = NULL;
	p->state = PEND_DEAD;
	(*gdp)->seqs[(*gdp)->n] = p->seq;
	(*gdp)->counts[(*gdp)->n++] = p->deliveries;
	return (1);
}

/* ---- delivery ---- */

struct group_batch {
	struct group		*g;
	struct sub		*s;
	struct conn_rec		 recs[GROUP_FRAME_RECORDS];
	size_t			 n, bytes, max;
	uint64_t		 last;		/* committed: stop after */
	int64_t			 now;
	struct group_dead	*dead;		/* spent before delivery */
};

static int
group_batch_full(struct group_batch *b, size_t len)
{
	return (b->n == b->max || (b->n > 0 && b->bytes + len >
	    GROUP_FRAME_BYTES));
}

static void
group_batch_add(struct group_batch *b, struct pend *p, const MDB_val *v)
{
	if (p->deliveries > 0)
		b->g->redelivered++;
	p->state = PEND_DELIVERED;
	p->sub = b->s;
	p->deliveries++;
	if (b->s->left != UINT64_MAX)
		b->s->left--;
	p->at_ms = b->now + group_wait_ms(b->g, p->deliveries);
	/* Delivery counts and progress are part of the stored state. */
	b->g->dirty = 1;
	b->s->unacked++;
	b->recs[b->n].seq = p->seq;
	b->recs[b->n].deliveries = p->deliveries;
	b->recs[b->n].data = v->mv_data;
	b->recs[b->n].len = v->mv_size;
	b->n++;
	b->bytes += v->mv_size;
}

static int
group_new_cb(void *arg, uint64_t seq, const MDB_val *v)
{
	struct group_batch	*b = arg;
	struct group		*g = b->g;
	struct pend		*p;
	uint32_t		 before;

	if (seq > b->last || g->len >= GROUP_WINDOW_MAX ||
	    g->npending >= group_max_ack_pending(g) ||
	    group_batch_full(b, v->mv_size))
		return (1);
	/* Seqs below the first kept were removed before we got them. */
	if (seq > g->next_seq) {
		g->skipped += seq - g->next_seq;
		g->dirty = 1;
	}
	if (group_restored_acked(g, seq)) {
		/* Acked before a restart: keep it acked, do not deliver. */
		if (group_win_push(g, seq, PEND_ACKED) == NULL)
			return (1);
		g->next_seq = seq + 1;
		return (0);
	}
	before = group_restored_count(g, seq);
	if ((p = group_win_push(g, seq, PEND_WAITING)) == NULL)
		return (1);
	p->deliveries = before;
	g->next_seq = seq + 1;
	if (group_spent(g, before)) {
		if (!group_dead_add(g, &b->dead, p))
			p->at_ms = b->now;	/* stays waiting */
		return (0);
	}
	group_batch_add(b, p, v);
	return (0);
}

/* Fill b with due redeliveries first; returns an LMDB code. */
static int
group_fill_waiting(struct group_batch *b, MDB_txn *txn)
{
	struct group	*g = b->g;
	struct pend	*p;
	MDB_val		 k, v;
	uint8_t		 key[8];
	size_t		 i;
	int		 rc;

	for (i = 0; i < g->len; i++) {
		p = &g->win[g->head + i];
		if (p->state != PEND_WAITING || p->at_ms > b->now)
			continue;
		if (group_spent(g, p->deliveries)) {
			group_dead_add(g, &b->dead, p);
			continue;
		}
		slog_key_put(key, p->seq);
		k.mv_data = key;
		k.mv_size = sizeof key;
		rc = mdb_get(txn, station_dbi(g->st), &k, &v);
		if (rc == MDB_NOTFOUND) {
			/* Removed from the log: nothing left to deliver. */
			group_settle(g, p);
			continue;
		}
		if (rc != 0)
			return (rc);
		if (group_batch_full(b, v.mv_size))
			break;
		group_batch_add(b, p, &v);
	}
	return (0);
}

/* Send one Deliver frame to s if it has credit; returns records sent. */
static size_t
group_deliver(struct group *g, struct sub *s)
{
	struct group_batch	 b;
	struct store		*store = station_store(g->st);
	MDB_txn			*txn;
	int			 rc;

	if (s->unacked >= s->max_unacked || s->left == 0 || (s->sink != NULL ?
	    !s->sink->ready(s->sink_arg) : !conn_writable(s->conn)))
		return (0);
	b.g = g;
	b.s = s;
	b.n = b.bytes = 0;
	b.max = s->max_unacked - s->unacked;
	if (b.max > GROUP_FRAME_RECORDS)
		b.max = GROUP_FRAME_RECORDS;
	if (b.max > s->left)
		b.max = (size_t)s->left;
	b.last = station_committed(g->st);
	b.now = group_now_ms();
	b.dead = NULL;
	if (store_read_begin(store, &txn, NULL) != TP_OK)
		return (0);
	rc = group_fill_waiting(&b, txn);
	if (rc == 0 && !group_batch_full(&b, 0) && g->next_seq <= b.last)
		rc = slog_scan(txn, station_dbi(g->st), g->next_seq,
		    group_new_cb, &b);
	if (rc != 0)
		log_error("group=%s station=%s: cannot read the log: %s",
		    g->name, station_name(g->st), mdb_strerror(rc));
	if (b.n > 0 && s->sink != NULL)
		s->sink->deliver(s->sink_arg, b.recs, b.n);
	else if (b.n > 0)
		conn_send_records(s->conn, 0, TUPELO__FRAME__BODY_DELIVER,
		    s->id, 2, b.recs, b.n);
	store_read_end(store, txn);
	if (b.dead != NULL)
		group_dead_send(b.dead, "max-deliveries", "delivered the "
		    "maximum number of times without an ack");
	/* Skipped (acked) seqs may have moved the floor. */
	group_advance(g);
	if (b.n > 0)
		group_arm(g);
	return (b.n + (b.dead != NULL));
}

/* Deliver what credit and output room allow, a frame per member a turn. */
static void
group_pump(struct group *g)
{
	struct sub	*s;
	int		 progress = 1;

	if (g->freed)
		return;
	while (progress) {
		progress = 0;
		TAILQ_FOREACH(s, &g->subs, entry) {
			if (group_deliver(g, s) > 0)
				progress = 1;
		}
	}
	if (g->dirty && !g->ephemeral)
		gstate_save(g);
}

void
group_wake(struct group *g)
{
	if (!TAILQ_EMPTY(&g->subs))
		group_pump(g);
}

void
group_sub_writable(struct sub *s)
{
	group_pump(s->g);
}

/* ---- deadlines ---- */

/* Schedule the timer at the earliest deadline in the window. */
static void
group_arm(struct group *g)
{
	struct timeval	 tv;
	struct pend	*p;
	int64_t		 at = 0, now = group_now_ms();
	size_t		 i;

	for (i = 0; i < g->len; i++) {
		p = &g->win[g->head + i];
		if (p->state == PEND_DELIVERED && p->sub->sink != NULL)
			continue;
		/*
		 * Waiting and due: only credit holds it back, and whatever
		 * gives credit (an ack, a nack, a member, room to write)
		 * pumps the group. A timer for it would fire at once, find
		 * nothing to do and arm again, for as long as that lasts.
		 */
		if (p->state == PEND_WAITING && p->at_ms <= now)
			continue;
		if ((p->state == PEND_DELIVERED || p->state == PEND_WAITING) &&
		    (at == 0 || p->at_ms < at))
			at = p->at_ms;
	}
	if (at == 0 || (g->timer_at != 0 && g->timer_at <= at &&
	    evtimer_pending(g->timer, NULL)))
		return;
	if (at < now)
		at = now;
	tv.tv_sec = (at - now) / 1000;
	tv.tv_usec = (at - now) % 1000 * 1000;
	g->timer_at = at;
	evtimer_add(g->timer, &tv);
}

void
group_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	struct group		*g = arg;
	struct group_dead	*gd = NULL;
	struct pend		*p;
	int64_t			 now = group_now_ms();
	size_t			 i;

	g->timer_at = 0;
	for (i = 0; i < g->len; i++) {
		p = &g->win[g->head + i];
		if (p->state != PEND_DELIVERED || p->at_ms > now ||
		    p->sub->sink != NULL)
			continue;
		if (group_spent(g, p->deliveries) &&
		    group_dead_add(g, &gd, p))
			continue;
		/* The ack wait is over: deliver again, to anyone. */
		p->sub->unacked--;
		p->sub = NULL;
		p->state = PEND_WAITING;
		p->at_ms = now;
	}
	if (gd != NULL)
		group_dead_send(gd, "max-deliveries", "not acked within the "
		    "ack wait");
	group_pump(g);
	group_arm(g);
}

/* ---- requests ---- */

void
group_subscribe(struct conn *c, uint64_t id, struct station *st,
    const Tupelo__Subscribe *req, uint32_t def_unacked)
{
	Tupelo__Frame		 f = TUPELO__FRAME__INIT;
	Tupelo__SubscribeOk	 ok = TUPELO__SUBSCRIBE_OK__INIT;
	struct group		*g = NULL;
	struct sub		*s;
	struct tp_err		 err;
	char			 name[TP_NAME_MAX + 1];
	uint64_t		 sid = group_next_sub++;

	if (req->ephemeral) {
		snprintf(name, sizeof name, "_ephemeral-%llu",
		    (unsigned long long)sid);
		if (gstate_create(st, name, req->start, req->config, 1, &g,
		    &err) != TP_OK)
			goto fail;
	} else if ((g = station_group_find(st, req->group)) == NULL) {
		if (gstate_create(st, req->group, req->start, req->config, 0,
		    &g, &err) != TP_OK)
			goto fail;
	} else if (req->config != NULL) {
		if (group_config_set(g, req->config) != TP_OK) {
			error_set(&err, TP_ENOMEM, NULL);
			goto fail;
		}
		g->dirty = 1;
	}
	if (conn_nsubs(c) >= GROUP_SUBS_PER_CONN) {
		error_set(&err, TP_EBUSY, "at most %d subscriptions on one "
		    "connection", GROUP_SUBS_PER_CONN);
		goto fail;
	}
	if ((s = calloc(1, sizeof *s)) == NULL ||
	    conn_sub_add(c, s) != TP_OK) {
		free(s);
		error_set(&err, TP_ENOMEM, NULL);
		goto fail;
	}
	s->id = sid;
	s->g = g;
	s->conn = c;
	s->max_unacked = req->max_unacked != 0 ? req->max_unacked :
	    def_unacked;
	s->left = req->max_messages != 0 ? req->max_messages : UINT64_MAX;
	if (s->max_unacked > GROUP_MAX_UNACKED)
		s->max_unacked = GROUP_MAX_UNACKED;
	if (req->consumer != NULL)
		log_escape(req->consumer, strlen(req->consumer), s->name,
		    sizeof s->name);
	TAILQ_INSERT_TAIL(&g->subs, s, entry);
	log_debug("%s: conn=%llu station=%s group=%s sub=%llu", __func__,
	    (unsigned long long)conn_id(c), station_name(st), g->name,
	    (unsigned long long)s->id);

	ok.sub = s->id;
	ok.ack_floor = g->floor;
	f.id = id;
	f.body_case = TUPELO__FRAME__BODY_SUBSCRIBE_OK;
	f.subscribe_ok = &ok;
	conn_send(c, &f);
	group_pump(g);
	return;
fail:
	if (g != NULL && g->ephemeral) {
		station_group_remove(st, g);
		group_free(g);
	}
	conn_send_error(c, id, err.code, err.message);
}

static struct sub *
group_sub_get(struct conn *c, uint64_t id, uint64_t sub)
{
	struct sub	*s;

	if ((s = conn_sub_find(c, sub)) == NULL)
		conn_send_error(c, id, TP_ENOSUB, "no such subscription on "
		    "this connection");
	return (s);
}

void
group_ack(struct conn *c, uint64_t id, const Tupelo__Ack *ack)
{
	struct sub	*s;
	struct group	*g;
	struct pend	*p;
	size_t		 i;
	int		 code;

	if ((s = group_sub_get(c, id, ack->sub)) == NULL)
		return;
	g = s->g;
	for (i = 0; i < ack->n_seqs; i++) {
		if ((p = group_win_find(g, ack->seqs[i])) == NULL ||
		    p->state == PEND_ACKED || p->state == PEND_DEAD)
			continue;
		group_settle(g, p);
	}
	group_advance(g);
	g->dirty = 1;
	/* A lazy ack is saved with the next deferred save (group_pump()). */
	if (ack->lazy)
		conn_send_ok(c, id);
	else if ((code = gstate_waiter_add(g, c, id)) != TP_OK)
		conn_send_error(c, id, code, NULL);
	group_pump(g);
}

void
group_nack(struct conn *c, uint64_t id, const Tupelo__Nack *nack)
{
	struct group_dead	*gd = NULL;
	struct sub		*s;
	struct group		*g;
	struct pend		*p;
	int64_t			 now = group_now_ms();
	size_t			 i;

	if ((s = group_sub_get(c, id, nack->sub)) == NULL)
		return;
	g = s->g;
	for (i = 0; i < nack->n_seqs; i++) {
		/* Only what this member holds. */
		if ((p = group_win_find(g, nack->seqs[i])) == NULL ||
		    p->state != PEND_DELIVERED || p->sub != s)
			continue;
		if (group_spent(g, p->deliveries) &&
		    group_dead_add(g, &gd, p))
			continue;
		p->sub->unacked--;
		p->sub = NULL;
		p->state = PEND_WAITING;
		p->at_ms = now + nack->delay_ms;
	}
	if (gd != NULL)
		group_dead_send(gd, "max-deliveries", "nacked");
	conn_send_ok(c, id);
	group_pump(g);
	group_arm(g);
}

void
group_in_progress(struct conn *c, uint64_t id, const Tupelo__InProgress *ip)
{
	struct sub	*s;
	struct pend	*p;
	int64_t		 now = group_now_ms();
	size_t		 i;

	if ((s = group_sub_get(c, id, ip->sub)) == NULL)
		return;
	for (i = 0; i < ip->n_seqs; i++) {
		if ((p = group_win_find(s->g, ip->seqs[i])) != NULL &&
		    p->state == PEND_DELIVERED && p->sub == s)
			p->at_ms = now + group_wait_ms(s->g, p->deliveries);
	}
	conn_send_ok(c, id);
}

void
group_term(struct conn *c, uint64_t id, const Tupelo__Term *t)
{
	struct group_dead	*gd = NULL;
	struct sub		*s;
	struct group		*g;
	struct pend		*p;
	size_t			 i;

	if ((s = group_sub_get(c, id, t->sub)) == NULL)
		return;
	g = s->g;
	for (i = 0; i < t->n_seqs; i++) {
		if ((p = group_win_find(g, t->seqs[i])) == NULL ||
		    p->state != PEND_DELIVERED || p->sub != s)
			continue;
		if (!group_dead_add(g, &gd, p))
			break;
	}
	if (gd == NULL) {
		/* Nothing to terminate, or no memory to do it. */
		if (i < t->n_seqs)
			conn_send_error(c, id, TP_ENOMEM, NULL);
		else
			conn_send_ok(c, id);
		return;
	}
	/* Confirmed once the dead letters and the position are stored. */
	gd->conn = c;
	gd->id = id;
	conn_ref(c);
	group_dead_send(gd, "term", t->reason != NULL && *t->reason != '\0' ?
	    t->reason : "terminated by the consumer");
	group_pump(g);
}

/*
 * The member gives back n seqs it was sent but never read: as if they had
 * not been delivered, so that they count no delivery towards the dead
 * letters.
 */
static void
group_sub_unread(struct sub *s, const uint64_t *seqs, size_t n)
{
	struct group	*g = s->g;
	struct pend	*p;
	size_t		 i;

	for (i = 0; i < n; i++) {
		if ((p = group_win_find(g, seqs[i])) == NULL ||
		    p->state != PEND_DELIVERED || p->sub != s ||
		    p->deliveries == 0)
			continue;
		if (p->deliveries > 1)
			g->redelivered--;
		p->deliveries--;
		g->dirty = 1;
	}
}

/* The member leaves; what it had unacked waits for another. */
static void
group_sub_leave(struct sub *s)
{
	struct group	*g = s->g;
	struct pend	*p;
	int64_t		 now = group_now_ms();
	size_t		 i;

	for (i = 0; i < g->len; i++) {
		p = &g->win[g->head + i];
		if (p->state == PEND_DELIVERED && p->sub == s) {
			p->state = PEND_WAITING;
			p->sub = NULL;
			p->at_ms = now;
		}
	}
	TAILQ_REMOVE(&g->subs, s, entry);
	if (s->conn != NULL)
		conn_sub_remove(s->conn, s);
	log_debug("%s: sub=%llu group=%s", __func__,
	    (unsigned long long)s->id, g->name);
	free(s);
	if (g->ephemeral && TAILQ_EMPTY(&g->subs)) {
		station_group_remove(g->st, g);
		group_free(g);
		return;
	}
	group_pump(g);
}

void
group_unsubscribe(struct conn *c, uint64_t id, const Tupelo__Unsubscribe *u)
{
	struct sub	*s;

	if ((s = group_sub_get(c, id, u->sub)) == NULL)
		return;
	group_sub_unread(s, u->unread, u->n_unread);
	group_sub_leave(s);
	conn_send_ok(c, id);
}

void
group_sub_close(struct sub *s)
{
	group_sub_leave(s);
}

/* ---- internal members ---- */

struct sub *
group_sink_join(struct group *g, const struct group_sink *sink, void *arg,
    uint32_t credit, const char *name)
{
	struct sub	*s;

	if ((s = calloc(1, sizeof *s)) == NULL)
		return (NULL);
	s->id = group_next_sub++;
	s->g = g;
	s->sink = sink;
	s->sink_arg = arg;
	s->max_unacked = credit;
	s->left = UINT64_MAX;
	snprintf(s->name, sizeof s->name, "%s", name);
	TAILQ_INSERT_TAIL(&g->subs, s, entry);
	group_pump(g);
	return (s);
}

void
group_sink_leave(struct sub *s)
{
	group_sub_leave(s);
}

void
group_sink_credit(struct sub *s, uint32_t credit)
{
	s->max_unacked = credit;
	group_pump(s->g);
}

void
group_sink_ready(struct sub *s)
{
	group_pump(s->g);
}

void
group_sink_ack(struct sub *s, const uint64_t *seqs, size_t n)
{
	struct group	*g = s->g;
	struct pend	*p;
	size_t		 i;

	for (i = 0; i < n; i++) {
		if ((p = group_win_find(g, seqs[i])) == NULL ||
		    p->state != PEND_DELIVERED || p->sub != s)
			continue;
		group_settle(g, p);
	}
	group_advance(g);
	group_pump(g);
}

int
group_sink_dead(struct sub *s, const uint64_t *seqs, size_t n,
    const struct dls_why *why, group_dead_cb cb, void *arg)
{
	struct group_dead	*gd;
	struct group		*g = s->g;
	struct dls_why		 w = *why;
	struct pend		*p;
	size_t			 i;

	if (n > GROUP_DEAD_MAX || (gd = group_dead_new(g)) == NULL)
		return (TP_ENOMEM);
	for (i = 0; i < n; i++) {
		if ((p = group_win_find(g, seqs[i])) == NULL ||
		    p->state != PEND_DELIVERED || p->sub != s)
			continue;
		group_dead_add(g, &gd, p);
	}
	gd->sink = s;
	gd->cb = cb;
	gd->cb_arg = arg;
	w.group = g->name;
	if (gd->n == 0) {
		/* Nothing held: done at once. */
		g->refs++;
		group_dead_done(gd, TP_OK, 0);
		return (TP_OK);
	}
	group_dead_send_why(gd, &w);
	return (TP_OK);
}
