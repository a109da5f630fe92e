/*
 * Consumers: one subscription of a consumer group on a borrowed
 * connection. The connection routes this subscription's Deliver frames to
 * consumer_deliver_cb, which queues them whole; tp_consume hands their
 * records out one by one. Acks are gathered (up to CONSUMER_ACKS_MAX) and
 * sent as one Ack request whose reply is counted, not waited for, until
 * tp_consumer_commit. Acks also free the broker's credit, so they go out
 * before tp_consume waits on the network. Nack, InProgress and Term
 * matter at once (a redelivery delay, an ack wait to restart), so each is
 * sent when called, after the gathered acks to keep their order, and is
 * counted like an Ack.
 *
 * The broker sends up to max_unacked messages ahead of tp_consume; what
 * the application never took is named in the Unsubscribe of
 * tp_consumer_free, so that those deliveries are not counted. With
 * max_messages the broker sends no more than that in all, and
 * tp_consume hands out no more even from a broker that ignores it.
 */
#include <stdlib.h>
#include <string.h>

#include "client/conn.h"
#include "client/group.h"
#include "client/msg.h"
#include "proto/compat.h"
#include "proto/error.h"
#include "proto/frame.h"
#include "proto/validate.h"

#define CONSUMER_ACKS_MAX		256
#define CONSUMER_UNACKED_DEFAULT	1000

struct consumer_batch {
	Tupelo__Frame			*f;	/* owned Deliver frame */
	size_t				 next;	/* next record to hand out */
	TAILQ_ENTRY(consumer_batch)	 entry;
};

struct tp_consumer {
	struct tp_conn			*conn;	/* borrowed until free */
	uint64_t			 sub;
	uint64_t			 left;	/* messages still to hand
						   out; UINT64_MAX: any */
	TAILQ_HEAD(, consumer_batch)	 queue;	/* owned, oldest first */
	int				 lost;	/* a delivery dropped: ENOMEM */

	uint64_t			 acks[CONSUMER_ACKS_MAX];
	size_t				 npending; /* acks not yet sent */
	int				 lazy;	/* lazy acks sent since the
						   last durable one */
	unsigned int			 inflight; /* requests without reply */
	struct tp_err			 ack_err; /* first failure, or 0 */
};

static void
consumer_deliver_cb(void *arg, Tupelo__Frame *f)
{
	struct tp_consumer	*c = arg;
	struct consumer_batch	*b;

	if ((b = malloc(sizeof *b)) == NULL) {
		/* The broker delivers these again after its ack wait. */
		c->lost = 1;
		frame_free(f);
		return;
	}
	b->f = f;
	b->next = 0;
	TAILQ_INSERT_TAIL(&c->queue, b, entry);
}

static void
consumer_ack_cb(void *arg, Tupelo__Frame *reply, const struct tp_err *why)
{
	struct tp_consumer	*c = arg;
	struct tp_err		 e;

	c->inflight--;
	if (reply == NULL)
		e = *why;
	else if (reply->body_case != TUPELO__FRAME__BODY_OK)
		conn_unexpected(reply, &e);
	else
		e.code = TP_OK;
	frame_free(reply);
	if (e.code != TP_OK && c->ack_err.code == TP_OK)
		c->ack_err = e;
}

/* Send f, whose Ok reply consumer_ack_cb counts. */
static int
consumer_send(struct tp_consumer *c, Tupelo__Frame *f, struct tp_err *err)
{
	int	code;

	if ((code = conn_send(c->conn, f, consumer_ack_cb, c, err)) == TP_OK)
		c->inflight++;
	return (code);
}

/*
 * Send the gathered acks as one Ack request. Lazy ones (all but a
 * commit's) are answered at once and saved by the broker within
 * milliseconds; a durable one is
 * answered once the group's position, with every ack before it, is
 * durable, so a commit after lazy acks sends one even with none pending.
 */
static int
consumer_send_acks(struct tp_consumer *c, int lazy, struct tp_err *err)
{
	Tupelo__Frame	f = TUPELO__FRAME__INIT;
	Tupelo__Ack	ack = TUPELO__ACK__INIT;

	if (c->npending == 0 && (lazy || !c->lazy))
		return (TP_OK);
	ack.sub = c->sub;
	ack.seqs = c->acks;
	ack.n_seqs = c->npending;
	ack.lazy = lazy != 0;
	f.body_case = TUPELO__FRAME__BODY_ACK;
	f.ack = &ack;
	c->npending = 0;
	c->lazy = lazy;
	return (consumer_send(c, &f, err));
}

static int
consumer_subscribe(struct tp_consumer *c, const char *station,
    const char *group, const struct tp_consumer_opts *opts,
    struct tp_err *err)
{
	Tupelo__Frame		 f = TUPELO__FRAME__INIT, *reply = NULL;
	Tupelo__Subscribe	 s = TUPELO__SUBSCRIBE__INIT;
	Tupelo__GroupConfig	 cfg;
	const char		*start;
	int			 code;

	s.station = (char *)station;
	if (group != NULL)
		s.group = (char *)group;
	s.max_unacked = CONSUMER_UNACKED_DEFAULT;
	if (opts != NULL && opts->max_unacked != 0)
		s.max_unacked = opts->max_unacked;
	if (opts != NULL && opts->name != NULL)
		s.consumer = (char *)opts->name;
	if (opts != NULL && opts->group != NULL) {
		code = group_config(opts->group, &cfg, &start, err);
		if (code != TP_OK)
			return (code);
		if (start != NULL)
			s.start = (char *)start;
		s.config = &cfg;
	}
	if (opts != NULL && opts->ephemeral)
		s.ephemeral = 1;
	s.max_messages = c->left != UINT64_MAX ? c->left : 0;
	f.body_case = TUPELO__FRAME__BODY_SUBSCRIBE;
	f.subscribe = &s;
	if ((code = conn_request(c->conn, &f, &reply, err)) != TP_OK)
		return (code);
	if (reply->body_case != TUPELO__FRAME__BODY_SUBSCRIBE_OK ||
	    reply->subscribe_ok == NULL)
		code = conn_unexpected(reply, err);
	else
		c->sub = reply->subscribe_ok->sub;
	frame_free(reply);
	return (code);
}

/*
 * Leave the group, naming the queued messages the application never took
 * (at most a frame's worth; any beyond count as delivered).
 */
static void
consumer_unsubscribe(struct tp_consumer *c)
{
	Tupelo__Frame		 f = TUPELO__FRAME__INIT, *reply = NULL;
	Tupelo__Unsubscribe	 u = TUPELO__UNSUBSCRIBE__INIT;
	struct consumer_batch	*b;
	Tupelo__Deliver		*d;
	uint64_t		*unread = NULL;
	size_t			 n = 0, i;

	TAILQ_FOREACH(b, &c->queue, entry)
		n += b->f->deliver->n_records - b->next;
	if (n > VALIDATE_BATCH_MAX)
		n = VALIDATE_BATCH_MAX;
	/* Without memory for the list they count as delivered. */
	if (n > 0 && (unread = calloc(n, sizeof *unread)) != NULL) {
		TAILQ_FOREACH(b, &c->queue, entry) {
			d = b->f->deliver;
			for (i = b->next; i < d->n_records &&
			    u.n_unread < n; i++)
				unread[u.n_unread++] = d->records[i]->seq;
		}
		u.unread = unread;
	}
	u.sub = c->sub;
	f.body_case = TUPELO__FRAME__BODY_UNSUBSCRIBE;
	f.unsubscribe = &u;
	if (conn_request(c->conn, &f, &reply, NULL) == TP_OK)
		frame_free(reply);
	free(unread);
}

int
tp_consumer_new(struct tp_conn *conn, const char *station, const char *group,
    const struct tp_consumer_opts *opts, struct tp_consumer **out,
    struct tp_err *err)
{
	struct tp_consumer	*c;
	int			 code;

	*out = NULL;
	if ((code = validate_name("station", station, err)) != TP_OK)
		return (code);
	/* An ephemeral group needs no name. */
	if ((opts == NULL || !opts->ephemeral || (group != NULL &&
	    *group != '\0')) &&
	    (code = validate_name("group", group, err)) != TP_OK)
		return (code);
	if ((c = calloc(1, sizeof *c)) == NULL)
		return (error_set(err, TP_ENOMEM, "no memory for a consumer"));
	c->conn = conn;
	c->left = opts != NULL && opts->max_messages != 0 ?
	    opts->max_messages : UINT64_MAX;
	TAILQ_INIT(&c->queue);
	if ((code = consumer_subscribe(c, station, group, opts, err)) != TP_OK)
		goto fail;
	if ((code = conn_sub_add(conn, c->sub, consumer_deliver_cb, c,
	    err)) != TP_OK) {
		consumer_unsubscribe(c);
		goto fail;
	}
	*out = c;
	return (TP_OK);
fail:
	free(c);
	return (code);
}

int
tp_consume(struct tp_consumer *c, int timeout_ms, struct tp_msg **out,
    struct tp_err *err)
{
	struct consumer_batch	*b;
	Tupelo__Deliver		*d;
	int64_t			 deadline = conn_deadline(timeout_ms);
	int			 code;

	*out = NULL;
	for (;;) {
		if (c->lost) {
			c->lost = 0;
			return (error_set(err, TP_ENOMEM, "no memory for a "
			    "delivery; it comes again after the ack wait"));
		}
		if (c->left == 0) {
			/* Settle what was taken: nothing more comes. */
			if ((code = consumer_send_acks(c, 1, err)) != TP_OK)
				return (code);
			return (error_set(err, TP_EDONE, "the consumer has "
			    "had the max_messages it asked for"));
		}
		if ((b = TAILQ_FIRST(&c->queue)) != NULL) {
			d = b->f->deliver;
			if (b->next < d->n_records) {
				if (c->left != UINT64_MAX)
					c->left--;
				return (msg_from_record(c->conn,
				    d->records[b->next++],
				    out, err));
			}
			TAILQ_REMOVE(&c->queue, b, entry);
			frame_free(b->f);
			free(b);
			continue;
		}
		if ((code = consumer_send_acks(c, 1, err)) != TP_OK)
			return (code);
		code = conn_pump(c->conn, conn_remaining(deadline), -1, err);
		if (code == TP_ETIMEDOUT) {
			if (conn_remaining(deadline) == 0)
				return (error_set(err, TP_ETIMEDOUT, "no "
				    "message within %d ms", timeout_ms));
		} else if (code != TP_OK)
			return (code);
	}
}

int
tp_ack(struct tp_consumer *c, const struct tp_msg *m, struct tp_err *err)
{
	if (m == NULL || tp_msg_seq(m) == 0)
		return (error_set(err, TP_EINVAL, "ack of no message"));
	if (c->npending == CONSUMER_ACKS_MAX)
		consumer_send_acks(c, 1, NULL);
	c->acks[c->npending++] = tp_msg_seq(m);
	if (c->npending == CONSUMER_ACKS_MAX)
		return (consumer_send_acks(c, 1, err));
	return (TP_OK);
}

/* Is m a message to settle? Then send the acks gathered before it. */
static int
consumer_settle(struct tp_consumer *c, const struct tp_msg *m,
    const char *what, struct tp_err *err)
{
	if (m == NULL || tp_msg_seq(m) == 0)
		return (error_set(err, TP_EINVAL, "%s of no message", what));
	return (consumer_send_acks(c, 1, err));
}

int
tp_nack(struct tp_consumer *c, const struct tp_msg *m, uint32_t delay_ms,
    struct tp_err *err)
{
	Tupelo__Frame	f = TUPELO__FRAME__INIT;
	Tupelo__Nack	nack = TUPELO__NACK__INIT;
	uint64_t	seq;
	int		code;

	if ((code = consumer_settle(c, m, "nack", err)) != TP_OK)
		return (code);
	seq = tp_msg_seq(m);
	nack.sub = c->sub;
	nack.seqs = &seq;
	nack.n_seqs = 1;
	nack.delay_ms = delay_ms;
	f.body_case = TUPELO__FRAME__BODY_NACK;
	f.nack = &nack;
	return (consumer_send(c, &f, err));
}

int
tp_in_progress(struct tp_consumer *c, const struct tp_msg *m,
    struct tp_err *err)
{
	Tupelo__Frame		f = TUPELO__FRAME__INIT;
	Tupelo__InProgress	ip = TUPELO__IN_PROGRESS__INIT;
	uint64_t		seq;
	int			code;

	if ((code = consumer_settle(c, m, "in-progress", err)) != TP_OK)
		return (code);
	seq = tp_msg_seq(m);
	ip.sub = c->sub;
	ip.seqs = &seq;
	ip.n_seqs = 1;
	f.body_case = TUPELO__FRAME__BODY_IN_PROGRESS;
	f.in_progress = &ip;
	return (consumer_send(c, &f, err));
}

int
tp_term(struct tp_consumer *c, const struct tp_msg *m, const char *reason,
    struct tp_err *err)
{
	Tupelo__Frame	f = TUPELO__FRAME__INIT;
	Tupelo__Term	term = TUPELO__TERM__INIT;
	uint64_t	seq;
	int		code;

	/* The reason becomes a header value of the dead letter. */
	if (reason != NULL && strlen(reason) > VALIDATE_VALUE_MAX)
		return (error_set(err, TP_EINVAL, "term reason longer than %d "
		    "bytes", VALIDATE_VALUE_MAX));
	if ((code = consumer_settle(c, m, "term", err)) != TP_OK)
		return (code);
	seq = tp_msg_seq(m);
	term.sub = c->sub;
	term.seqs = &seq;
	term.n_seqs = 1;
	if (reason != NULL)
		term.reason = (char *)reason;
	f.body_case = TUPELO__FRAME__BODY_TERM;
	f.term = &term;
	return (consumer_send(c, &f, err));
}

int
tp_consumer_commit(struct tp_consumer *c, int timeout_ms, struct tp_err *err)
{
	int64_t	deadline = conn_deadline(timeout_ms);
	int	code;

	code = consumer_send_acks(c, 0, err);
	while (code == TP_OK && c->inflight > 0) {
		code = conn_pump(c->conn, conn_remaining(deadline), -1, err);
		if (code == TP_ETIMEDOUT && conn_remaining(deadline) != 0)
			code = TP_OK;
		else if (code == TP_ETIMEDOUT)
			return (error_set(err, TP_ETIMEDOUT, "%u ack requests "
			    "not confirmed within %d ms", c->inflight,
			    timeout_ms));
	}
	if (c->ack_err.code != TP_OK) {
		code = c->ack_err.code;
		if (err != NULL)
			*err = c->ack_err;
		c->ack_err.code = TP_OK;
	}
	return (code);
}

void
tp_consumer_free(struct tp_consumer *c)
{
	struct consumer_batch	*b;

	if (c == NULL)
		return;
	tp_consumer_commit(c, conn_timeout(c->conn), NULL);
	if (conn_failed(c->conn, NULL) == TP_OK)
		consumer_unsubscribe(c);
	conn_cancel(c->conn, c);
	conn_sub_remove(c->conn, c->sub);
	while ((b = TAILQ_FIRST(&c->queue)) != NULL) {
		TAILQ_REMOVE(&c->queue, b, entry);
		frame_free(b->f);
		free(b);
	}
	free(c);
}
