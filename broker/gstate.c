/*
 * What a consumer group stores, and the requests that manage groups.
 *
 * The stored state (GroupState in tupelo.proto) is compact whatever the
 * history: the ack floor, the acked seqs above it, the highest seq
 * delivered, and the delivery counts other than one of what is not acked
 * (0: a leaving member gave the delivery back unread). One
 * save is at the writer at a time; acks that arrive meanwhile wait for the
 * next, and are confirmed when it is durable. Progress no one waits for
 * (deliveries, plain acks) is saved GSTATE_SAVE_MS later, so that at a
 * steady rate one transaction carries many messages' progress instead of
 * two each. Ephemeral groups are never stored.
 */
#include "broker/gstate.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "broker/conn.h"
#include "broker/group.h"
#include "broker/log.h"
#include "broker/station.h"
#include "proto/error.h"
#include "storage/meta.h"
#include "storage/slog.h"
#include "storage/store.h"
#include "storage/writer.h"

#define GSTATE_GROUPS_MAX	1024	/* groups on one station */
#define GSTATE_WAITERS_MAX	65536	/* acks waiting for one save */
#define GSTATE_SAVE_MS		10	/* progress no one waits for */

TAILQ_HEAD(gstate_groups, group);

/* Groups whose save is deferred, each holding a reference. */
static struct gstate_groups	 gstate_due =
    TAILQ_HEAD_INITIALIZER(gstate_due);
static struct event		*gstate_timer;	/* owned: saves them */
static int			 gstate_stopped;

/* A snapshot of the state on its way to storage, or a deletion. */
struct gstate_op {
	struct group		*g;		/* referenced */
	MDB_dbi			 meta;
	char			 station[TP_NAME_MAX + 1];
	char			 name[TP_NAME_MAX + 1];
	int			 remove;	/* delete the group */
	Tupelo__GroupState	 state;		/* arrays owned */
	Tupelo__GroupConfig	 cfg;		/* backoff owned */
	struct group_waiter	*waiters;	/* owned */
	size_t			 nwaiters;
};

int
gstate_waiter_add(struct group *g, struct conn *c, uint64_t id)
{
	struct group_waiter	*w;
	size_t			 cap;

	if (g->ephemeral) {
		/* Nothing is stored: nothing to wait for. */
		conn_send_ok(c, id);
		return (TP_OK);
	}
	if (g->nwaiters >= GSTATE_WAITERS_MAX)
		return (TP_EBUSY);
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
	g->dirty = 1;
	if (!g->saving)
		gstate_save(g);
	return (TP_OK);
}

static int
gstate_apply(MDB_txn *txn, void *arg)
{
	struct gstate_op	*op = arg;

	if (op->remove)
		return (meta_group_del(txn, op->meta, op->station, op->name));
	return (meta_group_put(txn, op->meta, op->station, op->name,
	    &op->state));
}

static void
gstate_op_free(struct gstate_op *op)
{
	free(op->waiters);
	free(op->state.acked);
	free(op->state.counted_seqs);
	free(op->state.counts);
	free(op->cfg.backoff_ms);
	free(op);
}

static void
gstate_done(void *arg, int code)
{
	struct gstate_op	*op = arg;
	struct group		*g = op->g;
	size_t			 i;

	for (i = 0; i < op->nwaiters; i++) {
		if (code == TP_OK)
			conn_send_ok(op->waiters[i].conn, op->waiters[i].id);
		else
			conn_send_error(op->waiters[i].conn, op->waiters[i].id,
			    code, "cannot store the group's position");
		conn_unref(op->waiters[i].conn);
	}
	if (!op->remove)
		g->saving = 0;
	if (!g->freed && g->dirty)
		gstate_save(g);
	group_unref(g);
	gstate_op_free(op);
}

static const struct writer_op gstate_wop = {
	gstate_apply, gstate_done, WRITER_JOURNAL
};

static struct gstate_op *
gstate_op_new(struct group *g)
{
	struct gstate_op	*op;

	if ((op = calloc(1, sizeof *op)) == NULL)
		return (NULL);
	op->g = g;
	op->meta = store_meta(station_store(g->st));
	snprintf(op->station, sizeof op->station, "%s", station_name(g->st));
	snprintf(op->name, sizeof op->name, "%s", g->name);
	tupelo__group_state__init(&op->state);
	tupelo__group_config__init(&op->cfg);
	return (op);
}

/* Fill op->state from the group; TP_ENOMEM if the arrays do not fit. */
static int
gstate_snapshot(struct group *g, struct gstate_op *op)
{
	Tupelo__GroupState	*s = &op->state;
	struct pend		*p;
	size_t			 i, nacked = 0, ncounted = 0;

	for (i = 0; i < g->len; i++) {
		p = &g->win[g->head + i];
		nacked += p->state == PEND_ACKED;
		ncounted += p->state != PEND_ACKED && p->deliveries != 1;
	}
	nacked += g->nskip - g->skip_head;
	ncounted += g->ncounted - g->icounted;
	s->acked = calloc(nacked + 1, sizeof *s->acked);
	s->counted_seqs = calloc(ncounted + 1, sizeof *s->counted_seqs);
	s->counts = calloc(ncounted + 1, sizeof *s->counts);
	op->cfg = g->cfg;
	op->cfg.backoff_ms = calloc(g->nbackoff + 1, sizeof(uint32_t));
	if (s->acked == NULL || s->counted_seqs == NULL || s->counts == NULL ||
	    op->cfg.backoff_ms == NULL)
		return (TP_ENOMEM);
	for (i = 0; i < g->len; i++) {
		p = &g->win[g->head + i];
		if (p->state == PEND_ACKED)
			s->acked[s->n_acked++] = p->seq;
		else if (p->deliveries != 1) {
			s->counted_seqs[s->n_counted_seqs++] = p->seq;
			s->counts[s->n_counts++] = p->deliveries;
		}
	}
	for (i = g->skip_head; i < g->nskip; i++)
		s->acked[s->n_acked++] = g->skip[i];
	for (i = g->icounted; i < g->ncounted; i++) {
		if (g->counted[i] < g->next_seq)
			continue;
		s->counted_seqs[s->n_counted_seqs++] = g->counted[i];
		s->counts[s->n_counts++] = g->counts[i];
	}
	if (g->nbackoff != 0)
		memcpy(op->cfg.backoff_ms, g->backoff,
		    g->nbackoff * sizeof(uint32_t));
	op->cfg.n_backoff_ms = g->nbackoff;
	s->config = &op->cfg;
	s->ack_floor = g->floor;
	s->delivered_seq = g->next_seq - 1 > g->delivered_upto ?
	    g->next_seq - 1 : g->delivered_upto;
	s->created_ns = g->created_ns;
	s->redelivered = g->redelivered;
	s->dead_lettered = g->dead_lettered;
	s->skipped = g->skipped;
	return (TP_OK);
}

/* Save the deferred groups that still have changes. */
static void
gstate_save_due(void)
{
	struct group	*g;

	while ((g = TAILQ_FIRST(&gstate_due)) != NULL) {
		TAILQ_REMOVE(&gstate_due, g, dentry);
		g->deferred = 0;
		if (!g->freed && g->dirty)
			gstate_save_now(g);
		group_unref(g);
	}
}

static void
gstate_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	gstate_save_due();
}

void
gstate_start(struct event_base *base)
{
	gstate_timer = evtimer_new(base, gstate_timer_cb, NULL);
}

void
gstate_stop(void)
{
	gstate_save_due();
	gstate_stopped = 1;
	if (gstate_timer != NULL)
		event_free(gstate_timer);
	gstate_timer = NULL;
}

void
gstate_save(struct group *g)
{
	struct timeval	tv = { 0, GSTATE_SAVE_MS * 1000 };

	if (g->nwaiters != 0 || gstate_stopped || gstate_timer == NULL) {
		gstate_save_now(g);
		return;
	}
	if (g->deferred || g->saving || g->freed || g->ephemeral)
		return;
	g->deferred = 1;
	g->refs++;
	TAILQ_INSERT_TAIL(&gstate_due, g, dentry);
	if (!evtimer_pending(gstate_timer, NULL))
		evtimer_add(gstate_timer, &tv);
}

void
gstate_save_now(struct group *g)
{
	struct gstate_op	*op;

	if (g->saving || g->freed || g->ephemeral)
		return;
	if ((op = gstate_op_new(g)) == NULL)
		return;		/* dirty stays set: the next pump retries */
	/*
	 * Only a commit waits for the position to be durable; plain acks
	 * ride with the next sync of the log (at most a flush interval).
	 */
	if (gstate_snapshot(g, op) != TP_OK ||
	    writer_submit(station_writer(g->st), &gstate_wop, op,
	    64 + op->state.n_acked * 8, g->nwaiters != 0 ?
	    station_sync(g->st) : WRITER_NOSYNC) != TP_OK) {
		gstate_op_free(op);
		return;
	}
	op->waiters = g->waiters;
	op->nwaiters = g->nwaiters;
	g->waiters = NULL;
	g->nwaiters = g->waiters_cap = 0;
	g->saving = 1;
	g->dirty = 0;
	g->refs++;
}

/* ---- loading and creating ---- */

static int
gstate_copy_u64(uint64_t **out, const uint64_t *in, size_t n)
{
	if (n == 0)
		return (TP_OK);
	if ((*out = calloc(n, sizeof **out)) == NULL)
		return (TP_ENOMEM);
	memcpy(*out, in, n * sizeof **out);
	return (TP_OK);
}

int
gstate_load(struct station *st, const char *name, const Tupelo__GroupState *s)
{
	struct group	*g;
	size_t		 n;

	if ((g = group_new(st, name, 0)) == NULL)
		return (TP_ENOMEM);
	if (group_config_set(g, s->config) != TP_OK)
		return (TP_ENOMEM);
	g->floor = s->ack_floor;
	g->next_seq = s->ack_floor + 1;
	g->delivered_upto = s->delivered_seq;
	g->created_ns = s->created_ns;
	g->redelivered = s->redelivered;
	g->dead_lettered = s->dead_lettered;
	g->skipped = s->skipped;
	if (gstate_copy_u64(&g->skip, s->acked, s->n_acked) != TP_OK ||
	    gstate_copy_u64(&g->counted, s->counted_seqs,
	    s->n_counted_seqs) != TP_OK)
		return (TP_ENOMEM);
	g->nskip = s->n_acked;
	n = s->n_counted_seqs < s->n_counts ? s->n_counted_seqs : s->n_counts;
	if (n != 0) {
		if ((g->counts = calloc(n, sizeof *g->counts)) == NULL)
			return (TP_ENOMEM);
		memcpy(g->counts, s->counts, n * sizeof *g->counts);
	}
	g->ncounted = n;
	return (TP_OK);
}

/* Seconds since the epoch, or RFC 3339; ns in *out. */
static int
gstate_parse_time(const char *s, int64_t *out)
{
	struct tm	 tm;
	const char	*p;
	char		*end;
	double		 secs;
	int64_t		 frac = 0, scale = 100000000, off = 0, t;
	int		 h, m;

	if (isdigit((unsigned char)*s) && strchr(s, '-') == NULL) {
		secs = strtod(s, &end);
		/* Up to 2262, where ns since the epoch leave an int64. */
		if (*end != '\0' || secs < 0 || secs > 9.2e9)
			return (-1);
		*out = (int64_t)(secs * 1e9);
		return (0);
	}
	memset(&tm, 0, sizeof tm);
	if ((p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return (-1);
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++) {
			frac += (*p - '0') * scale;
			scale /= 10;
		}
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	else if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1]) &&
	    isdigit((unsigned char)p[2]) && p[3] == ':' &&
	    isdigit((unsigned char)p[4]) && isdigit((unsigned char)p[5])) {
		h = (p[1] - '0') * 10 + (p[2] - '0');
		m = (p[4] - '0') * 10 + (p[5] - '0');
		off = (int64_t)(h * 3600 + m * 60) * (*p == '+' ? 1 : -1);
		p += 6;
	} else
		return (-1);
	if (*p != '\0')
		return (-1);
	/* The same range as above (and no overflow on the way). */
	t = (int64_t)timegm(&tm) - off;
	if (t < 0 || t > 9200000000LL)
		return (-1);
	*out = t * 1000000000 + frac;
	return (0);
}

static int
gstate_parse_u64(const char *s, uint64_t *out)
{
	char	*end;

	if (!isdigit((unsigned char)*s))
		return (-1);
	*out = strtoull(s, &end, 10);
	return (*end == '\0' ? 0 : -1);
}

/* The first seq a new group delivers, from its start position. */
static int
gstate_start_seq(struct station *st, const char *start, uint64_t *seq,
    struct tp_err *err)
{
	uint64_t	 committed = station_committed(st), n;
	int64_t		 t;
	MDB_txn		*txn;
	int		 rc, code;

	if (start == NULL || *start == '\0' || strcmp(start, "all") == 0)
		*seq = 1;
	else if (strcmp(start, "new") == 0)
		*seq = committed + 1;
	else if (strncmp(start, "seq:", 4) == 0 &&
	    gstate_parse_u64(start + 4, &n) == 0 && n > 0)
		*seq = n;
	else if (strncmp(start, "last:", 5) == 0 &&
	    gstate_parse_u64(start + 5, &n) == 0)
		*seq = n >= committed ? 1 : committed - n + 1;
	else if (strncmp(start, "time:", 5) == 0 &&
	    gstate_parse_time(start + 5, &t) == 0) {
		code = store_read_begin(station_store(st), &txn, err);
		if (code != TP_OK)
			return (code);
		rc = station_seq_at_time(txn, st, t, seq);
		store_read_end(station_store(st), txn);
		if (rc != 0)
			return (error_set(err, store_code(rc), "cannot search "
			    "the log: %s", mdb_strerror(rc)));
	} else
		return (error_set(err, TP_EINVAL, "bad start position "
		    "\"%.64s\": use all, new, seq:N, time:T (RFC 3339 or Unix "
		    "seconds) or last:N", start));
	return (TP_OK);
}

int
gstate_create(struct station *st, const char *name, const char *start,
    const Tupelo__GroupConfig *cfg, int ephemeral, struct group **out,
    struct tp_err *err)
{
	struct group	*g;
	uint64_t	 seq;
	int		 code;

	*out = NULL;
	if (station_ngroups(st) >= GSTATE_GROUPS_MAX)
		return (error_set(err, TP_EBUSY, "station %s has %d groups, "
		    "the most it may", station_name(st), GSTATE_GROUPS_MAX));
	if ((code = gstate_start_seq(st, start, &seq, err)) != TP_OK)
		return (code);
	if ((g = group_new(st, name, ephemeral)) == NULL)
		return (error_set(err, TP_ENOMEM, "out of memory"));
	if (group_config_set(g, cfg) != TP_OK) {
		station_group_remove(st, g);
		group_free(g);
		return (error_set(err, TP_ENOMEM, "out of memory"));
	}
	/* Everything before the start counts as acked. */
	g->next_seq = seq;
	g->floor = seq - 1;
	g->dirty = !ephemeral;
	if (!ephemeral)
		log_info("group created station=%s group=%s start_seq=%llu",
		    station_name(st), name, (unsigned long long)seq);
	*out = g;
	return (TP_OK);
}

/* ---- requests ---- */

static struct station *
gstate_station(struct conn *c, uint64_t id, const char *name)
{
	struct station	*st;
	char		 msg[256];

	if ((st = station_find(name)) == NULL) {
		snprintf(msg, sizeof msg, "no station named %s", name);
		conn_send_error(c, id, TP_ENOSTATION, msg);
	}
	return (st);
}

static struct group *
gstate_group(struct conn *c, uint64_t id, struct station *st,
    const char *name)
{
	struct group	*g;
	char		 msg[256];

	if ((g = station_group_find(st, name)) == NULL) {
		snprintf(msg, sizeof msg, "station %s has no group %s",
		    station_name(st), name);
		conn_send_error(c, id, TP_ENOSTATION, msg);
	}
	return (g);
}

void
gstate_request_create(struct conn *c, uint64_t id,
    const Tupelo__GroupCreate *req)
{
	struct station	*st;
	struct group	*g;
	struct tp_err	 err;
	char		 msg[256];
	int		 code;

	if ((st = gstate_station(c, id, req->station)) == NULL)
		return;
	if (station_group_find(st, req->group) != NULL) {
		snprintf(msg, sizeof msg, "station %s already has a group %s",
		    req->station, req->group);
		conn_send_error(c, id, TP_EEXIST, msg);
		return;
	}
	if (gstate_create(st, req->group, req->start, req->config, 0, &g,
	    &err) != TP_OK) {
		conn_send_error(c, id, err.code, err.message);
		return;
	}
	if ((code = gstate_waiter_add(g, c, id)) != TP_OK)
		conn_send_error(c, id, code, NULL);
}

void
gstate_delete(struct group *g, struct conn *c, uint64_t id)
{
	struct gstate_op	*op;
	struct station		*st = g->st;
	char			 name[TP_NAME_MAX + 1];

	snprintf(name, sizeof name, "%s", g->name);
	station_group_remove(st, g);
	if (g->ephemeral) {
		group_free(g);
		if (c != NULL)
			conn_send_ok(c, id);
		return;
	}
	if ((op = gstate_op_new(g)) == NULL || (c != NULL &&
	    (op->waiters = calloc(1, sizeof *op->waiters)) == NULL)) {
		free(op);
		group_free(g);
		if (c != NULL)
			conn_send_error(c, id, TP_ENOMEM, NULL);
		return;
	}
	op->remove = 1;
	if (c != NULL) {
		op->waiters[0].conn = c;
		op->waiters[0].id = id;
		op->nwaiters = 1;
		conn_ref(c);
	}
	g->refs++;
	group_free(g);
	if (writer_submit(station_writer(st), &gstate_wop, op, 64,
	    WRITER_SYNC) != TP_OK)
		gstate_done(op, TP_ESHUTDOWN);
	else
		log_info("group deleted station=%s group=%s", station_name(st),
		    name);
}

void
gstate_request_delete(struct conn *c, uint64_t id,
    const Tupelo__GroupDelete *req)
{
	struct station		*st;
	struct group		*g;

	if ((st = gstate_station(c, id, req->station)) == NULL ||
	    (g = gstate_group(c, id, st, req->group)) == NULL)
		return;
	if (g->name[0] == '_' && !g->ephemeral) {
		conn_send_error(c, id, TP_EPERM, "the group belongs to a "
		    "trigger: remove the trigger instead");
		return;
	}
	gstate_delete(g, c, id);
}

/* Fill info (pointing into g and names) with a group's figures. */
static void
gstate_info(struct group *g, Tupelo__GroupInfo *info, Tupelo__GroupConfig *cfg,
    char **names)
{
	struct sub	*s;
	uint64_t	 committed = station_committed(g->st), acked = 0;
	uint64_t	 from = g->floor, first, last, count;
	MDB_txn		*txn;
	size_t		 i;

	/* Lag counts kept messages: below the first kept, none are. */
	if (store_read_begin(station_store(g->st), &txn, NULL) == TP_OK) {
		if (slog_bounds(txn, station_dbi(g->st), &first, &last,
		    &count) == 0 && first > from + 1)
			from = first - 1;
		if (count == 0)
			from = committed;
		store_read_end(station_store(g->st), txn);
	}

	tupelo__group_info__init(info);
	group_config_get(g, cfg);
	info->station = (char *)station_name(g->st);
	info->group = g->name;
	info->config = cfg;
	info->ack_floor = g->floor;
	info->delivered_seq = g->next_seq - 1;
	info->pending = (uint32_t)g->npending;
	for (i = 0; i < g->len; i++)
		acked += g->win[g->head + i].state == PEND_ACKED &&
		    g->win[g->head + i].seq > from;
	info->lag = committed > from + acked ? committed - from - acked : 0;
	info->redelivered = g->redelivered;
	info->dead_lettered = g->dead_lettered;
	info->skipped = g->skipped;
	info->created_ns = g->created_ns;
	TAILQ_FOREACH(s, &g->subs, entry) {
		if (names != NULL)
			names[info->members] = s->name;
		info->members++;
	}
	info->n_consumers = names != NULL ? info->members : 0;
	info->consumers = names;
}

void
gstate_request_get(struct conn *c, uint64_t id, const Tupelo__GroupGet *req)
{
	Tupelo__Frame		 f = TUPELO__FRAME__INIT;
	Tupelo__GroupInfo	 info;
	Tupelo__GroupConfig	 cfg;
	struct station		*st;
	struct group		*g;
	struct sub		*s;
	char			**names;
	size_t			 n = 0;

	if ((st = gstate_station(c, id, req->station)) == NULL ||
	    (g = gstate_group(c, id, st, req->group)) == NULL)
		return;
	TAILQ_FOREACH(s, &g->subs, entry)
		n++;
	if ((names = calloc(n + 1, sizeof *names)) == NULL) {
		conn_send_error(c, id, TP_ENOMEM, NULL);
		return;
	}
	gstate_info(g, &info, &cfg, names);
	f.id = id;
	f.body_case = TUPELO__FRAME__BODY_GROUP_INFO;
	f.group_info = &info;
	conn_send(c, &f);
	free(names);
}

void
gstate_request_list(struct conn *c, uint64_t id, const Tupelo__GroupList *req)
{
	Tupelo__Frame		  f = TUPELO__FRAME__INIT;
	Tupelo__GroupListReply	  reply = TUPELO__GROUP_LIST_REPLY__INIT;
	Tupelo__GroupInfo	 *infos, **ptrs;
	Tupelo__GroupConfig	 *cfgs;
	struct station		 *st;
	struct group		 *g;
	size_t			  i, n, m;

	if ((st = gstate_station(c, id, req->station)) == NULL)
		return;
	n = station_ngroups(st);
	infos = calloc(n + 1, sizeof *infos);
	ptrs = calloc(n + 1, sizeof *ptrs);
	cfgs = calloc(n + 1, sizeof *cfgs);
	if (infos == NULL || ptrs == NULL || cfgs == NULL) {
		conn_send_error(c, id, TP_ENOMEM, NULL);
		goto out;
	}
	/* Ephemeral groups are a consumer's own: not listed. */
	for (i = 0, m = 0; i < n; i++) {
		g = station_group_at(st, i);
		if (g->ephemeral)
			continue;
		gstate_info(g, &infos[m], &cfgs[m], NULL);
		ptrs[m] = &infos[m];
		m++;
	}
	reply.n_groups = m;
	reply.groups = ptrs;
	f.id = id;
	f.body_case = TUPELO__FRAME__BODY_GROUP_LIST_REPLY;
	f.group_list_reply = &reply;
	conn_send(c, &f);
out:
	free(infos);
	free(ptrs);
	free(cfgs);
}
