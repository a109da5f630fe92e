/*
 * Consumer groups, on the loop thread.
 *
 * A group delivers in seq order. Everything at or below the ack floor is
 * acked. Above it, the window holds one entry per delivered seq, sorted:
 * delivered (to a member), waiting for redelivery (its member left), or
 * acked but not yet below the floor. The floor is just below the first
 * entry that is not acked (or below next_seq when the window is empty),
 * which also steps over seqs the log never had. The durable state is the
 * floor plus the acked seqs above it; acks are confirmed to the consumer
 * only after that state is committed, so an acked message is never
 * delivered to the group again, and an unacked one always is.
 *
 * The window is capped (GROUP_WINDOW), which bounds a group's memory when
 * a message stays unacked while later ones flow.
 */
#include "broker/group.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/conn.h"
#include "broker/log.h"
#include "broker/station.h"
#include "proto/compat.h"
#include "proto/error.h"
#include "storage/meta.h"
#include "storage/slog.h"
#include "storage/store.h"
#include "storage/writer.h"

#define GROUP_WINDOW		65536		/* entries above the floor */
#define GROUP_FRAME_RECORDS	256		/* records per Deliver */
#define GROUP_FRAME_BYTES	(1024 * 1024)	/* soft bytes per Deliver */
#define GROUP_MAX_UNACKED	100000		/* cap on asked credit */

#define PEND_DELIVERED	0
#define PEND_REDELIVER	1
#define PEND_ACKED	2

struct pend {
	uint64_t	 seq;
	struct sub	*sub;		/* borrowed, DELIVERED only */
	uint32_t	 deliveries;
	int		 state;		/* PEND_* */
};

struct sub {
	uint64_t		 id;
	struct group		*g;		/* borrowed, outlives sub */
	struct conn		*conn;		/* borrowed, outlives sub */
	uint32_t		 max_unacked;
	uint32_t		 unacked;
	TAILQ_ENTRY(sub)	 entry;
};
TAILQ_HEAD(sub_list, sub);

struct group_waiter {
	struct conn	*conn;		/* referenced */
	uint64_t	 id;		/* Ack request id */
};

struct group {
	char			 name[TP_NAME_MAX + 1];
	struct station		*st;		/* borrowed, owns the group */
	uint64_t		 floor;		/* all <= floor acked */
	uint64_t		 next_seq;	/* first never delivered */
	struct pend		*win;		/* owned: win[head..head+len) */
	size_t			 head, len, cap;
	size_t			 redeliver;	/* entries in PEND_REDELIVER */
	uint64_t		*skip;		/* owned: acked >= next_seq */
	size_t			 nskip, skip_head;
	struct sub_list		 subs;
	int64_t			 created_ns;
	int			 dirty;		/* state changed since save */
	int			 saving;	/* a save is at the writer */
	int			 freed;		/* station gone */
	struct group_waiter	*waiters;	/* owned: acks to confirm */
	size_t			 nwaiters, waiters_cap;
};

/* A snapshot of the state on its way to storage. */
struct group_save {
	struct group		*g;		/* kept alive by g->saving */
	MDB_dbi			 meta;		/* the metadata database */
	char			 station[TP_NAME_MAX + 1];
	Tupelo__GroupState	 state;		/* acked owned */
	struct group_waiter	*waiters;	/* owned */
	size_t			 nwaiters;
};

static uint64_t	group_next_sub = 1;

static void	group_pump(struct group *);
static void	group_save(struct group *);

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

static struct group *
group_new(struct station *st, const char *name)
{
	struct group	*g;
	struct timespec	 ts;

	if ((g = calloc(1, sizeof *g)) == NULL)
		return (NULL);
	snprintf(g->name, sizeof g->name, "%s", name);
	g->st = st;
	g->next_seq = 1;
	TAILQ_INIT(&g->subs);
	clock_gettime(CLOCK_REALTIME, &ts);
	g->created_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	if (station_group_add(st, g) != TP_OK) {
		free(g);
		return (NULL);
	}
	return (g);
}

int
group_load(struct station *st, const char *name, const Tupelo__GroupState *s)
{
	struct group	*g;
	size_t		 i;

	if ((g = group_new(st, name)) == NULL)
		return (TP_ENOMEM);
	g->floor = s->ack_floor;
	g->next_seq = s->ack_floor + 1;
	g->created_ns = s->created_ns;
	if (s->n_acked != 0) {
		if ((g->skip = calloc(s->n_acked, sizeof *g->skip)) == NULL)
			return (TP_ENOMEM);
		for (i = 0; i < s->n_acked; i++) {
			if (s->acked[i] > g->floor && (g->nskip == 0 ||
			    s->acked[i] > g->skip[g->nskip - 1]))
				g->skip[g->nskip++] = s->acked[i];
		}
	}
	return (TP_OK);
}

/* ---- the window ---- */

static struct pend *
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
	return (p);
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

/* ---- delivery ---- */

struct group_batch {
	struct group	*g;
	struct sub	*s;
	struct conn_rec	 recs[GROUP_FRAME_RECORDS];
	size_t		 n, bytes, max;
	uint64_t	 last;		/* committed: stop after */
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
	p->state = PEND_DELIVERED;
	p->sub = b->s;
	p->deliveries++;
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

	if (seq > b->last || g->len >= GROUP_WINDOW ||
	    group_batch_full(b, v->mv_size))
		return (1);
	while (g->skip_head < g->nskip && g->skip[g->skip_head] < seq)
		g->skip_head++;
	if (g->skip_head < g->nskip && g->skip[g->skip_head] == seq) {
		/* Acked before a restart: keep it acked, do not deliver. */
		if (group_win_push(g, seq, PEND_ACKED) == NULL)
			return (1);
		g->skip_head++;
		g->next_seq = seq + 1;
		return (0);
	}
	if ((p = group_win_push(g, seq, PEND_DELIVERED)) == NULL)
		return (1);
	group_batch_add(b, p, v);
	g->next_seq = seq + 1;
	return (0);
}

/* Fill b with redeliveries first; returns an LMDB code. */
static int
group_fill_redeliver(struct group_batch *b, MDB_txn *txn)
{
	struct group	*g = b->g;
	struct pend	*p;
	MDB_val		 k, v;
	uint8_t		 key[8];
	size_t		 i;
	int		 rc;

	for (i = 0; i < g->len && g->redeliver > 0; i++) {
		p = &g->win[g->head + i];
		if (p->state != PEND_REDELIVER)
			continue;
		slog_key_put(key, p->seq);
		k.mv_data = key;
		k.mv_size = sizeof key;
		rc = mdb_get(txn, station_dbi(g->st), &k, &v);
		if (rc == MDB_NOTFOUND) {
			/* Removed from the log: nothing left to deliver. */
			p->state = PEND_ACKED;
			g->redeliver--;
			g->dirty = 1;
			continue;
		}
		if (rc != 0)
			return (rc);
		if (group_batch_full(b, v.mv_size))
			break;
		g->redeliver--;
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

	if (s->unacked >= s->max_unacked || !conn_writable(s->conn))
		return (0);
	if (g->redeliver == 0 && (g->next_seq > station_committed(g->st) ||
	    g->len >= GROUP_WINDOW))
		return (0);
	b.g = g;
	b.s = s;
	b.n = b.bytes = 0;
	b.max = s->max_unacked - s->unacked;
	if (b.max > GROUP_FRAME_RECORDS)
		b.max = GROUP_FRAME_RECORDS;
	b.last = station_committed(g->st);
	if (store_read_begin(store, &txn, NULL) != TP_OK)
		return (0);
	rc = group_fill_redeliver(&b, txn);
	if (rc == 0 && !group_batch_full(&b, 0))
		rc = slog_scan(txn, station_dbi(g->st), g->next_seq,
		    group_new_cb, &b);
	if (rc != 0)
		log_error("group=%s station=%s: cannot read the log: %s",
		    g->name, station_name(g->st), mdb_strerror(rc));
	if (b.n > 0)
		conn_send_records(s->conn, 0, TUPELO__FRAME__BODY_DELIVER,
		    s->id, 2, b.recs, b.n);
	store_read_end(store, txn);
	/* Skipped (acked) seqs may have moved the floor. */
	group_advance(g);
	return (b.n);
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
	if (g->dirty)
		group_save(g);
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

/* ---- persistence ---- */

static int
group_save_apply(MDB_txn *txn, void *arg)
{
	struct group_save	*gs = arg;

	return (meta_group_put(txn, gs->meta, gs->station, gs->g->name,
	    &gs->state));
}

static void
group_save_done(void *arg, int code)
{
	struct group_save	*gs = arg;
	struct group		*g = gs->g;
	size_t			 i;

	for (i = 0; i < gs->nwaiters; i++) {
		if (code == TP_OK)
			conn_send_ok(gs->waiters[i].conn, gs->waiters[i].id);
		else
			conn_send_error(gs->waiters[i].conn, gs->waiters[i].id,
			    code, "cannot store the group's position");
		conn_unref(gs->waiters[i].conn);
	}
	free(gs->waiters);
	free(gs->state.acked);
	free(gs);
	g->saving = 0;
	if (g->freed)
		group_free(g);
	else if (g->dirty)
		group_save(g);
}

static const struct writer_op group_save_op = {
	group_save_apply, group_save_done
};

static void
group_save(struct group *g)
{
	struct group_save	*gs;
	size_t			 i, n = 0;

	if (g->saving || g->freed)
		return;
	if ((gs = calloc(1, sizeof *gs)) == NULL)
		return;
	for (i = 0; i < g->len; i++)
		n += g->win[g->head + i].state == PEND_ACKED;
	n += g->nskip - g->skip_head;
	tupelo__group_state__init(&gs->state);
	if (n != 0 && (gs->state.acked = calloc(n, sizeof(uint64_t))) ==
	    NULL) {
		free(gs);
		return;
	}
	for (i = 0; i < g->len; i++) {
		if (g->win[g->head + i].state == PEND_ACKED)
			gs->state.acked[gs->state.n_acked++] =
			    g->win[g->head + i].seq;
	}
	for (i = g->skip_head; i < g->nskip; i++)
		gs->state.acked[gs->state.n_acked++] = g->skip[i];
	gs->state.ack_floor = g->floor;
	gs->state.created_ns = g->created_ns;
	gs->g = g;
	gs->meta = store_meta(station_store(g->st));
	snprintf(gs->station, sizeof gs->station, "%s", station_name(g->st));
	gs->waiters = g->waiters;
	gs->nwaiters = g->nwaiters;
	if (writer_submit(station_writer(g->st), &group_save_op, gs, 64 +
	    n * 8, WRITER_SYNC) != TP_OK) {
		free(gs->state.acked);
		free(gs);
		return;
	}
	g->waiters = NULL;
	g->nwaiters = g->waiters_cap = 0;
	g->saving = 1;
	g->dirty = 0;
}

/* ---- requests ---- */

void
group_subscribe(struct conn *c, uint64_t id, struct station *st,
    const Tupelo__Subscribe *req, uint32_t def_unacked)
{
	Tupelo__Frame		 f = TUPELO__FRAME__INIT;
	Tupelo__SubscribeOk	 ok = TUPELO__SUBSCRIBE_OK__INIT;
	struct group		*g;
	struct sub		*s;

	if ((g = station_group_find(st, req->group)) == NULL) {
		if ((g = group_new(st, req->group)) == NULL) {
			conn_send_error(c, id, TP_ENOMEM, NULL);
			return;
		}
		g->dirty = 1;
		log_info("group created station=%s group=%s", station_name(st),
		    g->name);
	}
	if ((s = calloc(1, sizeof *s)) == NULL ||
	    conn_sub_add(c, s) != TP_OK) {
		free(s);
		conn_send_error(c, id, TP_ENOMEM, NULL);
		return;
	}
	s->id = group_next_sub++;
	s->g = g;
	s->conn = c;
	s->max_unacked = req->max_unacked != 0 ? req->max_unacked :
	    def_unacked;
	if (s->max_unacked > GROUP_MAX_UNACKED)
		s->max_unacked = GROUP_MAX_UNACKED;
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
}

static int
group_waiter_add(struct group *g, struct conn *c, uint64_t id)
{
	struct group_waiter	*w;
	size_t			 cap;

	if (g->nwaiters == g->waiters_cap) {
		cap = g->waiters_cap != 0 ? g->waiters_cap * 2 : 8;
		if ((w = reallocarray(g->waiters, cap, sizeof *w)) == NULL)
			return (TP_ENOMEM);
		g->waiters = w;
		g->waiters_cap = cap;
	}
	g->waiters[g->nwaiters].conn = c;
	g->waiters[g->nwaiters].id = id;
	g->nwaiters++;
	conn_ref(c);
	return (TP_OK);
}

void
group_ack(struct conn *c, uint64_t id, const Tupelo__Ack *ack)
{
	struct sub	*s;
	struct group	*g;
	struct pend	*p;
	size_t		 i;

	if ((s = conn_sub_find(c, ack->sub)) == NULL) {
		conn_send_error(c, id, TP_ENOSUB, "no such subscription on "
		    "this connection");
		return;
	}
	g = s->g;
	for (i = 0; i < ack->n_seqs; i++) {
		if ((p = group_win_find(g, ack->seqs[i])) == NULL ||
		    p->state == PEND_ACKED)
			continue;
		if (p->state == PEND_DELIVERED)
			p->sub->unacked--;
		else
			g->redeliver--;
		p->state = PEND_ACKED;
		p->sub = NULL;
	}
	group_advance(g);
	if (group_waiter_add(g, c, id) != TP_OK) {
		conn_send_error(c, id, TP_ENOMEM, NULL);
		return;
	}
	g->dirty = 1;
	group_pump(g);
}

/* The member leaves; what it had unacked waits for another. */
static void
group_sub_leave(struct sub *s)
{
	struct group	*g = s->g;
	struct pend	*p;
	size_t		 i;

	for (i = 0; i < g->len; i++) {
		p = &g->win[g->head + i];
		if (p->state == PEND_DELIVERED && p->sub == s) {
			p->state = PEND_REDELIVER;
			p->sub = NULL;
			g->redeliver++;
		}
	}
	TAILQ_REMOVE(&g->subs, s, entry);
	conn_sub_remove(s->conn, s);
	log_debug("%s: sub=%llu group=%s", __func__,
	    (unsigned long long)s->id, g->name);
	free(s);
}

void
group_unsubscribe(struct conn *c, uint64_t id, uint64_t sub)
{
	struct sub	*s;
	struct group	*g;

	if ((s = conn_sub_find(c, sub)) == NULL) {
		conn_send_error(c, id, TP_ENOSUB, "no such subscription on "
		    "this connection");
		return;
	}
	g = s->g;
	group_sub_leave(s);
	conn_send_ok(c, id);
	group_pump(g);
}

void
group_sub_close(struct sub *s)
{
	struct group	*g = s->g;

	group_sub_leave(s);
	group_pump(g);
}

void
group_free(struct group *g)
{
	struct sub	*s;
	size_t		 i;
	char		 msg[256];

	g->freed = 1;
	while ((s = TAILQ_FIRST(&g->subs)) != NULL) {
		snprintf(msg, sizeof msg, "station deleted: subscription %llu "
		    "ended", (unsigned long long)s->id);
		conn_send_error(s->conn, 0, TP_ENOSTATION, msg);
		TAILQ_REMOVE(&g->subs, s, entry);
		conn_sub_remove(s->conn, s);
		free(s);
	}
	if (g->saving)
		return;		/* group_save_done() comes back here */
	for (i = 0; i < g->nwaiters; i++) {
		conn_send_error(g->waiters[i].conn, g->waiters[i].id,
		    TP_ENOSTATION, "station deleted");
		conn_unref(g->waiters[i].conn);
	}
	free(g->waiters);
	free(g->win);
	free(g->skip);
	free(g);
}
