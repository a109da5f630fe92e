/*
 * Producing: tp_produce sends a batch synchronously on the caller's
 * connection; a tp_producer copies messages into a queue that its own I/O
 * thread turns into Produce requests on a connection of its own, with up
 * to PRODUCER_INFLIGHT requests pipelined. A ProduceAck gives the range
 * of the batch or, when some message ids were duplicates, the seq of each
 * message (the original one for a duplicate): every message learns its
 * seq either way.
 *
 * Locking: p->lock guards the queue, the counters and the error latch;
 * senders and flushers wait on p->cond, which is broadcast whenever pending
 * drops or the producer stops. The thread owns the connection and never
 * holds the lock while doing I/O or running the callback. Senders wake it
 * through a pipe. pending counts messages whose outcome has not been
 * reported yet, and drops only after the callback ran, so a flush returns
 * after every callback of what it waited for.
 */
#include "client/producer.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/conn.h"
#include "proto/compat.h"
#include "proto/error.h"
#include "proto/frame.h"
#include "proto/validate.h"
#include "proto/wire.h"

#define PRODUCER_INFLIGHT	8		/* Produce requests in flight */
#define PRODUCER_OVERHEAD	256		/* Frame and Produce fields */

/* A message as it goes in a Produce: its "messages" field, encoded. */
struct producer_msg {
	TAILQ_ENTRY(producer_msg)	 entry;
	void				*opaque;	/* the caller's */
	size_t				 len;	/* payload bytes */
	size_t				 wire;	/* bytes of enc */
	int64_t				 queued_ms; /* when it was sent */
	uint8_t				 enc[];
};
TAILQ_HEAD(producer_msgs, producer_msg);

/* One Produce request in flight. */
struct producer_batch {
	struct tp_producer	*p;
	struct producer_msgs	 msgs;		/* owned */
	size_t			 count;
};

struct tp_producer {
	struct tp_conn		*conn;		/* owned; the thread's */
	char			 station[TP_NAME_MAX + 1];
	struct tp_producer_opts	 opts;
	uint32_t		 max_payload;	/* the station's limit */
	size_t			 max_wire;	/* message bytes per Produce */
	tp_produce_cb		 cb;
	void			*arg;		/* the caller's, for cb */

	pthread_t		 thread;
	int			 wake[2];	/* pipe: senders to thread */
	unsigned int		 inflight;	/* thread only */

	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;
	struct producer_msgs	 queue;		/* owned, not yet sent */
	size_t			 nqueued;
	size_t			 queued_bytes;	/* payload bytes queued */
	size_t			 pending;	/* outcome not yet reported */
	int			 flushing;	/* flushers waiting */
	int			 stop;
	int			 fatal;		/* code that stopped us, or 0 */
	int			 first_err;	/* since the last flush */
	struct tp_err		 failure;	/* the first ever, kept */
};

int
producer_fill(Tupelo__Message *m, Tupelo__Header **hp, Tupelo__Header *h,
    const struct tp_message *msg, struct tp_err *err)
{
	size_t	i;

	tupelo__message__init(m);
	if (msg->len > 0 && msg->payload == NULL)
		return (error_set(err, TP_EINVAL, "message without payload"));
	if (msg->nheaders > 0 && msg->headers == NULL)
		return (error_set(err, TP_EINVAL, "message without headers"));
	for (i = 0; i < msg->nheaders; i++) {
		if (msg->headers[i].key == NULL)
			return (error_set(err, TP_EINVAL, "header without a "
			    "key"));
		tupelo__header__init(&h[i]);
		h[i].key = (char *)msg->headers[i].key;
		if (msg->headers[i].value != NULL)
			h[i].value = (char *)msg->headers[i].value;
		hp[i] = &h[i];
	}
	m->n_headers = msg->nheaders;
	m->headers = hp;
	if (msg->msg_id != NULL)
		m->msg_id = (char *)msg->msg_id;
	m->payload.data = (uint8_t *)msg->payload;
	m->payload.len = msg->len;
	return (validate_message(m, err));
}

/* Bytes m takes inside a Produce; TP_ETOOBIG if no frame can hold it. */
static int
producer_wire(const Tupelo__Message *m, size_t max_wire, size_t *wire,
    struct tp_err *err)
{
	size_t	size;

	size = tupelo__message__get_packed_size(m);
	*wire = 1 + wire_varint_size(size) + size;
	if (*wire > max_wire)
		return (error_set(err, TP_ETOOBIG, "message of %zu bytes is "
		    "larger than a frame (%zu)", m->payload.len, max_wire));
	return (TP_OK);
}

static size_t
producer_max_wire(struct tp_conn *conn)
{
	uint32_t	max = conn_max_frame(conn);

	return (max > 2 * PRODUCER_OVERHEAD ? max - PRODUCER_OVERHEAD :
	    PRODUCER_OVERHEAD);
}

/*
 * Does ack answer a Produce of n messages? It lists the seq of each when
 * some were duplicates, else gives the range of all n.
 */
static int
producer_ack_check(const Tupelo__ProduceAck *ack, size_t n,
    struct tp_err *err)
{
	if (ack->n_seqs == n && ack->duplicates <= n)
		return (TP_OK);
	if (ack->n_seqs != 0)
		return (error_set(err, TP_EPROTO, "broker acknowledged %zu "
		    "messages with %zu seqs", n, ack->n_seqs));
	if (ack->count != n || ack->duplicates != 0 ||
	    ack->last_seq - ack->first_seq != n - 1)
		return (error_set(err, TP_EPROTO, "broker acknowledged %zu "
		    "messages as %u, seq %llu..%llu", n, ack->count,
		    (unsigned long long)ack->first_seq,
		    (unsigned long long)ack->last_seq));
	return (TP_OK);
}

/* The seq of message i of a checked ack. */
static uint64_t
producer_ack_seq(const Tupelo__ProduceAck *ack, size_t i)
{
	if (ack->n_seqs != 0)
		return (ack->seqs[i]);
	return (ack->first_seq + i);
}

/* Send one Produce of n messages, wait for its ack, fill seqs (n). */
static int
producer_request(struct tp_conn *conn, const char *station,
    Tupelo__Message **mp, size_t n, uint64_t *seqs, size_t *dups,
    struct tp_err *err)
{
	Tupelo__Frame		 f = TUPELO__FRAME__INIT, *reply = NULL;
	Tupelo__Produce		 pr = TUPELO__PRODUCE__INIT;
	Tupelo__ProduceAck	*ack;
	size_t			 i;
	int			 code;

	pr.station = (char *)station;
	pr.messages = mp;
	pr.n_messages = n;
	f.body_case = TUPELO__FRAME__BODY_PRODUCE;
	f.produce = &pr;
	if ((code = conn_request(conn, &f, &reply, err)) != TP_OK)
		return (code);
	if (reply->body_case != TUPELO__FRAME__BODY_PRODUCE_ACK ||
	    (ack = reply->produce_ack) == NULL)
		code = conn_unexpected(reply, err);
	else if ((code = producer_ack_check(ack, n, err)) == TP_OK) {
		for (i = 0; i < n; i++)
			seqs[i] = producer_ack_seq(ack, i);
		*dups += ack->duplicates;
	}
	frame_free(reply);
	return (code);
}

/*
 * A batch too large for one frame, or for VALIDATE_BATCH_MAX, goes out as
 * several Produce requests, one after the other, so their ranges are in
 * order (though other producers' messages may fall between them).
 */
int
tp_produce_seqs(struct tp_conn *conn, const char *station,
    const struct tp_message *msgs, size_t n, uint64_t *seqs,
    size_t *duplicates, struct tp_err *err)
{
	Tupelo__Message	 *m = NULL, **mp = NULL;
	Tupelo__Header	 *h = NULL, **hp = NULL;
	size_t		 *wire = NULL, i, j, nh = 0, off = 0, sum, max_wire;
	size_t		  dups = 0;
	int		  code;

	if (duplicates != NULL)
		*duplicates = 0;
	if ((code = validate_name("station", station, err)) != TP_OK)
		return (code);
	if (n == 0 || msgs == NULL)
		return (error_set(err, TP_EINVAL, "produce of no messages"));
	if (seqs == NULL)
		return (error_set(err, TP_EINVAL, "produce without room for "
		    "the seqs"));
	for (i = 0; i < n; i++) {
		if (msgs[i].nheaders > VALIDATE_HEADERS_MAX)
			return (error_set(err, TP_EINVAL, "%zu headers on one "
			    "message, at most %d", msgs[i].nheaders,
			    VALIDATE_HEADERS_MAX));
		nh += msgs[i].nheaders;
	}
	m = calloc(n, sizeof *m);
	mp = calloc(n, sizeof *mp);
	wire = calloc(n, sizeof *wire);
	h = calloc(nh + 1, sizeof *h);
	hp = calloc(nh + 1, sizeof *hp);
	if (m == NULL || mp == NULL || wire == NULL || h == NULL ||
	    hp == NULL) {
		code = error_set(err, TP_ENOMEM, "no memory for %zu messages",
		    n);
		goto out;
	}
	max_wire = producer_max_wire(conn);
	for (i = 0; i < n; i++) {
		code = producer_fill(&m[i], hp + off, h + off, &msgs[i], err);
		if (code != TP_OK ||
		    (code = producer_wire(&m[i], max_wire, &wire[i], err)) !=
		    TP_OK)
			goto out;
		mp[i] = &m[i];
		off += msgs[i].nheaders;
	}
	for (i = 0; i < n; i = j) {
		sum = 0;
		for (j = i; j < n && j - i < VALIDATE_BATCH_MAX &&
		    (j == i || sum + wire[j] <= max_wire); j++)
			sum += wire[j];
		code = producer_request(conn, station, mp + i, j - i, seqs + i,
		    &dups, err);
		if (code != TP_OK)
			goto out;
	}
	if (duplicates != NULL)
		*duplicates = dups;
out:
	free(m);
	free(mp);
	free(wire);
	free(h);
	free(hp);
	return (code);
}

int
tp_produce(struct tp_conn *conn, const char *station,
    const struct tp_message *msgs, size_t n, uint64_t *first_seq,
    uint64_t *last_seq, struct tp_err *err)
{
	uint64_t	*seqs = NULL;
	int		 code;

	if (n > 0 && (seqs = calloc(n, sizeof *seqs)) == NULL)
		return (error_set(err, TP_ENOMEM, "no memory for %zu seqs", n));
	code = tp_produce_seqs(conn, station, msgs, n, seqs, NULL, err);
	if (code == TP_OK && first_seq != NULL)
		*first_seq = seqs[0];
	if (code == TP_OK && last_seq != NULL)
		*last_seq = seqs[n - 1];
	free(seqs);
	return (code);
}

/* Bytes of a Header's fields (an empty value is left out). */
static size_t
producer_header_size(const Tupelo__Header *h)
{
	size_t	n = wire_len_field_size(1, strlen(h->key));

	if (h->value != NULL && *h->value != '\0')
		n += wire_len_field_size(2, strlen(h->value));
	return (n);
}

/* Bytes of a Message's fields, as protobuf-c would write them. */
static size_t
producer_body_size(const Tupelo__Message *m)
{
	size_t	i, n = 0;

	for (i = 0; i < m->n_headers; i++)
		n += wire_len_field_size(1, producer_header_size(
		    m->headers[i]));
	if (m->msg_id != NULL && *m->msg_id != '\0')
		n += wire_len_field_size(2, strlen(m->msg_id));
	if (m->payload.len > 0)
		n += wire_len_field_size(3, m->payload.len);
	return (n);
}

static uint8_t *
producer_put_bytes(uint8_t *p, uint32_t field, const void *data, size_t len)
{
	p += wire_len_field_put(p, field, len);
	memcpy(p, data, len);
	return (p + len);
}

/* Write m as the Produce field "messages" (body bytes) at p. */
static void
producer_encode(uint8_t *p, const Tupelo__Message *m, size_t body)
{
	const Tupelo__Header	*h;
	size_t			 i;

	p += wire_len_field_put(p, 2, body);
	for (i = 0; i < m->n_headers; i++) {
		h = m->headers[i];
		p += wire_len_field_put(p, 1, producer_header_size(h));
		p = producer_put_bytes(p, 1, h->key, strlen(h->key));
		if (h->value != NULL && *h->value != '\0')
			p = producer_put_bytes(p, 2, h->value,
			    strlen(h->value));
	}
	if (m->msg_id != NULL && *m->msg_id != '\0')
		p = producer_put_bytes(p, 2, m->msg_id, strlen(m->msg_id));
	if (m->payload.len > 0)
		producer_put_bytes(p, 3, m->payload.data, m->payload.len);
}

/* Check msg and encode it into a new entry. */
static int
producer_msg_new(struct tp_producer *p, const struct tp_message *msg,
    void *opaque, struct producer_msg **out)
{
	struct producer_msg	*pm;
	Tupelo__Message		 m;
	Tupelo__Header		*hp[VALIDATE_HEADERS_MAX];
	Tupelo__Header		 h[VALIDATE_HEADERS_MAX];
	size_t			 body, wire;
	int			 code;

	*out = NULL;
	if (msg == NULL)
		return (TP_EINVAL);
	if (msg->len > p->max_payload)
		return (TP_ETOOBIG);
	if (msg->nheaders > VALIDATE_HEADERS_MAX)
		return (TP_EINVAL);
	if ((code = producer_fill(&m, hp, h, msg, NULL)) != TP_OK)
		return (code);
	body = producer_body_size(&m);
	wire = wire_len_field_size(2, body);
	if (wire > p->max_wire)
		return (TP_ETOOBIG);
	if ((pm = malloc(sizeof *pm + wire)) == NULL)
		return (TP_ENOMEM);
	producer_encode(pm->enc, &m, body);
	pm->len = msg->len;
	pm->wire = wire;
	pm->opaque = opaque;
	*out = pm;
	return (TP_OK);
}

/*
 * Report the outcome of msgs, with their seqs from ack (checked; NULL
 * unless code is TP_OK) or, on failure, why (NULL: the code's words),
 * and free them; called without the lock.
 */
static void
producer_report(struct tp_producer *p, struct producer_msgs *msgs,
    int code, const Tupelo__ProduceAck *ack, const struct tp_err *why)
{
	struct producer_msg	*pm;
	size_t			 n = 0;

	while ((pm = TAILQ_FIRST(msgs)) != NULL) {
		TAILQ_REMOVE(msgs, pm, entry);
		if (p->cb != NULL)
			p->cb(p->arg, code, code == TP_OK ?
			    producer_ack_seq(ack, n) : 0, pm->opaque);
		free(pm);
		n++;
	}
	pthread_mutex_lock(&p->lock);
	p->pending -= n;
	if (code != TP_OK && p->first_err == TP_OK)
		p->first_err = code;
	if (code != TP_OK && p->failure.code == TP_OK) {
		if (why != NULL && why->code == code)
			p->failure = *why;
		else
			error_set(&p->failure, code, NULL);
	}
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static void
producer_ack_cb(void *arg, Tupelo__Frame *reply, const struct tp_err *why)
{
	struct producer_batch	*b = arg;
	struct tp_producer	*p = b->p;
	Tupelo__ProduceAck	*ack = NULL;
	struct tp_err		 e;
	int			 code;

	p->inflight--;
	memset(&e, 0, sizeof e);
	if (reply == NULL)
		e = *why;
	else if (reply->body_case != TUPELO__FRAME__BODY_PRODUCE_ACK ||
	    (ack = reply->produce_ack) == NULL)
		conn_unexpected(reply, &e);
	else
		producer_ack_check(ack, b->count, &e);
	code = e.code;
	producer_report(p, &b->msgs, code, ack, &e);
	frame_free(reply);
	free(b);
}

/* Move the next batch off the queue into b; called with the lock held. */
static void
producer_take_locked(struct tp_producer *p, struct producer_batch *b)
{
	struct producer_msg	*pm;
	size_t			 bytes = 0, wire = 0;

	TAILQ_INIT(&b->msgs);
	b->p = p;
	b->count = 0;
	while ((pm = TAILQ_FIRST(&p->queue)) != NULL) {
		if (b->count > 0 && (b->count >= p->opts.batch_size ||
		    bytes + pm->len > p->opts.batch_bytes ||
		    wire + pm->wire > p->max_wire))
			break;
		TAILQ_REMOVE(&p->queue, pm, entry);
		TAILQ_INSERT_TAIL(&b->msgs, pm, entry);
		b->count++;
		bytes += pm->len;
		wire += pm->wire;
	}
	p->nqueued -= b->count;
	p->queued_bytes -= bytes;
}

/*
 * Send a batch, its messages' encodings one after the other in a
 * Produce; on failure report its messages. Without the lock.
 */
static int
producer_send(struct tp_producer *p, struct producer_batch *b)
{
	struct producer_msg	*pm;
	uint8_t			*buf, *q;
	size_t			 slen = strlen(p->station), body, len;
	int			 code = TP_ENOMEM;

	body = wire_len_field_size(1, slen);
	TAILQ_FOREACH(pm, &b->msgs, entry)
		body += pm->wire;
	len = wire_len_field_size(30, body);
	if ((buf = malloc(CONN_PREFIX + len)) != NULL) {
		q = buf + CONN_PREFIX;
		q += wire_len_field_put(q, 30, body);
		q = producer_put_bytes(q, 1, p->station, slen);
		TAILQ_FOREACH(pm, &b->msgs, entry) {
			memcpy(q, pm->enc, pm->wire);
			q += pm->wire;
		}
		code = conn_send_encoded(p->conn, buf, len, producer_ack_cb, b,
		    NULL);
		free(buf);
	}
	if (code == TP_OK) {
		p->inflight++;
		return (TP_OK);
	}
	producer_report(p, &b->msgs, code, NULL, NULL);
	free(b);
	return (code);
}

/* Fail everything still queued with the code that stopped the producer. */
static void
producer_drain_locked(struct tp_producer *p)
{
	struct producer_msgs	msgs;
	struct tp_err		why;

	TAILQ_INIT(&msgs);
	TAILQ_CONCAT(&msgs, &p->queue, entry);
	p->nqueued = 0;
	p->queued_bytes = 0;
	pthread_mutex_unlock(&p->lock);
	memset(&why, 0, sizeof why);
	(void)conn_failed(p->conn, &why);
	producer_report(p, &msgs, p->fatal, NULL, &why);
	pthread_mutex_lock(&p->lock);
}

static void *
producer_main(void *arg)
{
	struct tp_producer	*p = arg;
	struct producer_batch	*b;
	struct producer_msg	*pm;
	int64_t			 now, due;
	int			 ready, timeout, expire;
	char			 buf[64];

	pthread_mutex_lock(&p->lock);
	while (p->fatal == TP_OK && (!p->stop || p->nqueued > 0 ||
	    p->inflight > 0)) {
		now = conn_now_ms();
		/* Linger is counted from the oldest queued message. */
		due = -1;
		if ((pm = TAILQ_FIRST(&p->queue)) != NULL)
			due = pm->queued_ms + p->opts.linger_ms;
		ready = p->nqueued > 0 && p->inflight < PRODUCER_INFLIGHT && (
		    p->nqueued >= p->opts.batch_size ||
		    p->queued_bytes >= p->opts.batch_bytes ||
		    p->flushing || p->stop || now >= due);
		if (ready && (b = malloc(sizeof *b)) != NULL) {
			producer_take_locked(p, b);
			pthread_mutex_unlock(&p->lock);
			producer_send(p, b);
			pthread_mutex_lock(&p->lock);
			p->fatal = conn_failed(p->conn, NULL);
			continue;
		}
		timeout = -1;
		if (ready)
			timeout = 10;	/* no memory for a batch: retry */
		else if (p->nqueued > 0 && p->inflight < PRODUCER_INFLIGHT)
			timeout = (int)(due - now);
		pthread_mutex_unlock(&p->lock);
		/* A broker that stops acking fails us within the timeout. */
		expire = conn_expire(p->conn);
		if (expire >= 0 && (timeout < 0 || expire < timeout))
			timeout = expire;
		conn_pump(p->conn, timeout, p->wake[0], NULL);
		while (read(p->wake[0], buf, sizeof buf) > 0)
			;	/* drain */
		pthread_mutex_lock(&p->lock);
		p->fatal = conn_failed(p->conn, NULL);
	}
	if (p->fatal != TP_OK)
		producer_drain_locked(p);
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return (NULL);
}

static void
producer_wake(struct tp_producer *p)
{
	ssize_t	n;

	/* A full pipe already wakes the thread. */
	n = write(p->wake[1], "", 1);
	(void)n;
}

/* The lock, and a condition variable on the monotonic clock. */
static int
producer_locks(struct tp_producer *p)
{
	pthread_condattr_t	attr;
	int			rc;

	if ((rc = pthread_condattr_init(&attr)) != 0)
		return (rc);
	if ((rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)) == 0 &&
	    (rc = pthread_cond_init(&p->cond, &attr)) == 0 &&
	    (rc = pthread_mutex_init(&p->lock, NULL)) != 0)
		pthread_cond_destroy(&p->cond);
	pthread_condattr_destroy(&attr);
	return (rc);
}

int
tp_producer_new(struct tp_conn *conn, const char *station,
    const struct tp_producer_opts *opts, tp_produce_cb cb, void *arg,
    struct tp_producer **out, struct tp_err *err)
{
	struct tp_producer	*p;
	struct tp_station_info	 info;
	sigset_t		 all, old;
	int			 code, i, locks = 0;

	*out = NULL;
	if ((code = validate_name("station", station, err)) != TP_OK)
		return (code);
	if ((p = calloc(1, sizeof *p)) == NULL)
		return (error_set(err, TP_ENOMEM, "no memory for a producer"));
	p->wake[0] = p->wake[1] = -1;
	snprintf(p->station, sizeof p->station, "%s", station);
	p->cb = cb;
	p->arg = arg;
	if (opts != NULL)
		p->opts = *opts;
	if (p->opts.batch_size == 0)
		p->opts.batch_size = 500;
	if (p->opts.batch_size > VALIDATE_BATCH_MAX)
		p->opts.batch_size = VALIDATE_BATCH_MAX;
	if (p->opts.batch_bytes == 0)
		p->opts.batch_bytes = 512 * 1024;
	if (p->opts.linger_ms == 0)
		p->opts.linger_ms = 2;
	else if (p->opts.linger_ms == TP_LINGER_NONE)
		p->opts.linger_ms = 0;
	if (p->opts.max_pending == 0)
		p->opts.max_pending = 50000;
	TAILQ_INIT(&p->queue);
	if ((code = tp_connect(conn_url(conn), "libtupelo producer", &p->conn,
	    err)) != TP_OK)
		goto fail;
	tp_set_timeout(p->conn, conn_timeout(conn));
	if ((code = tp_station_info(p->conn, station, &info, err)) != TP_OK)
		goto fail;
	p->max_payload = info.opts.max_message_size;
	if (p->max_payload == 0)
		p->max_payload = conn_max_message(p->conn);
	p->max_wire = producer_max_wire(p->conn);
	if (pipe(p->wake) == -1) {
		code = error_set(err, TP_ENOMEM, "pipe: %s", strerror(errno));
		goto fail;
	}
	for (i = 0; i < 2; i++) {
		fcntl(p->wake[i], F_SETFL, fcntl(p->wake[i], F_GETFL) |
		    O_NONBLOCK);
		fcntl(p->wake[i], F_SETFD, FD_CLOEXEC);
	}
	if ((code = producer_locks(p)) != 0) {
		code = error_set(err, TP_ENOMEM, "cannot make a lock: %s",
		    strerror(code));
		goto fail;
	}
	locks = 1;
	/* Signals are for the application's threads, not ours. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	code = pthread_create(&p->thread, NULL, producer_main, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (code != 0) {
		code = error_set(err, TP_ENOMEM, "cannot start a thread: %s",
		    strerror(code));
		goto fail;
	}
	*out = p;
	return (TP_OK);
fail:
	if (locks) {
		pthread_mutex_destroy(&p->lock);
		pthread_cond_destroy(&p->cond);
	}
	for (i = 0; i < 2; i++) {
		if (p->wake[i] != -1)
			close(p->wake[i]);
	}
	tp_close(p->conn);
	free(p);
	return (code);
}

int
tp_producer_send(struct tp_producer *p, const struct tp_message *msg,
    void *opaque)
{
	struct producer_msg	*pm;
	int			 code, wake;

	if ((code = producer_msg_new(p, msg, opaque, &pm)) != TP_OK)
		return (code);
	pthread_mutex_lock(&p->lock);
	while (p->fatal == TP_OK && p->pending >= p->opts.max_pending)
		pthread_cond_wait(&p->cond, &p->lock);
	if ((code = p->fatal) != TP_OK) {
		pthread_mutex_unlock(&p->lock);
		free(pm);
		return (code);
	}
	pm->queued_ms = conn_now_ms();
	TAILQ_INSERT_TAIL(&p->queue, pm, entry);
	p->nqueued++;
	p->queued_bytes += msg->len;
	p->pending++;
	wake = p->nqueued == 1 || p->nqueued == p->opts.batch_size ||
	    (p->queued_bytes >= p->opts.batch_bytes &&
	    p->queued_bytes - msg->len < p->opts.batch_bytes);
	pthread_mutex_unlock(&p->lock);
	if (wake)
		producer_wake(p);
	return (TP_OK);
}

int
tp_producer_flush(struct tp_producer *p, int timeout_ms)
{
	struct timespec	ts;
	int		code = TP_OK;

	if (timeout_ms >= 0) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += timeout_ms / 1000;
		ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
	}
	pthread_mutex_lock(&p->lock);
	p->flushing++;
	producer_wake(p);
	while (p->pending > 0 && code == TP_OK) {
		if (timeout_ms < 0)
			pthread_cond_wait(&p->cond, &p->lock);
		else if (pthread_cond_timedwait(&p->cond, &p->lock, &ts) ==
		    ETIMEDOUT)
			code = p->pending > 0 ? TP_ETIMEDOUT : TP_OK;
	}
	p->flushing--;
	if (code == TP_OK) {
		code = p->first_err;
		p->first_err = TP_OK;
	}
	pthread_mutex_unlock(&p->lock);
	return (code);
}

int
tp_producer_error(struct tp_producer *p, struct tp_err *err)
{
	int	code;

	pthread_mutex_lock(&p->lock);
	code = p->failure.code;
	if (err != NULL)
		*err = p->failure;
	pthread_mutex_unlock(&p->lock);
	return (code);
}

void
tp_producer_free(struct tp_producer *p)
{
	if (p == NULL)
		return;
	tp_producer_flush(p, -1);
	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_mutex_unlock(&p->lock);
	producer_wake(p);
	pthread_join(p->thread, NULL);
	tp_close(p->conn);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	close(p->wake[0]);
	close(p->wake[1]);
	free(p);
}
