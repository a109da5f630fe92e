/*
 * Client connections, on the loop thread. The socket is read with one
 * readv of up to CONN_READ_MAX bytes per readable event, and frames are
 * handled at most CONN_FRAMES_PER_TURN per callback; if more are buffered
 * the connection re-arms itself with an active event, since libevent will
 * not call again for bytes already read. Replies and deliveries queued
 * during a turn of the loop are written with one writev at its end (the
 * flush event); only output the socket does not take at once waits for a
 * writable event. Reading stops (paused) while the output is over
 * conn-buffer or produce bytes waiting for storage are over conn-inflight,
 * so a peer that does not read, or outruns the disk, only slows itself.
 * A connection is freed from a zero-timeout event after its last reference
 * (pending storage operations hold one) is gone.
 *
 * A TLS connection (broker/tls) goes through conn_io_read and
 * conn_io_write, which call readv and evbuffer_write for plain ones: the
 * same buffers, and the same rules but for two: whichever event the
 * session waits for (the handshake, which comes first, or a write blocked
 * on reading) is armed, and bytes held inside the session are read
 * without waiting for the socket.
 */
#include "broker/conn.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <sys/uio.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/config.h"
#include "broker/dispatch.h"
#include "broker/group.h"
#include "broker/log.h"
#include "broker/tls.h"
#include "proto/compat.h"
#include "proto/error.h"
#include "proto/frame.h"
#include "proto/wire.h"

#define CONN_FRAMES_PER_TURN	64
#define CONN_CLOSE_GRACE	5	/* seconds to flush before closing */
#define CONN_READ_MAX		(64 * 1024)	/* bytes per read */
/* Read no further than one whole frame and this beyond what is buffered. */
#define CONN_READ_AHEAD		(64 * 1024)

#define CONN_PAUSE_OUTPUT	0x1	/* output over conn-buffer */
#define CONN_PAUSE_INFLIGHT	0x2	/* produce bytes over conn-inflight */
#define CONN_PAUSE_STOP		0x4	/* shutdown or closing */

struct conn {
	uint64_t		 id;
	char			 peer[64];
	char			 name[64];	/* client name, escaped */
	evutil_socket_t		 fd;		/* owned */
	struct tls_conn		*tls;		/* owned, NULL: plain */
	struct evbuffer		*in;		/* owned: bytes read */
	struct evbuffer		*out;		/* owned: bytes to write */
	struct event		*rev;		/* owned: readable */
	struct event		*wev;		/* owned: writable */
	struct event		*flush;		/* owned: write at turn end */
	struct event		*more;		/* owned: re-arm frame loop */
	struct event		*grace;		/* owned: flush-close timeout */
	int			 reading;	/* rev is added */
	int			 writing;	/* wev is added */
	int			 flushing;	/* flush is active */
	int			 out_full;	/* output reached conn-buffer */
	int			 paused;	/* CONN_PAUSE_* */
	int			 closing;	/* closed: no more I/O */
	int			 flush_close;	/* close once output is out */
	long			 inflight;	/* produce bytes at storage */
	int			 refs;		/* list + pending operations */
	struct sub		**subs;		/* owned array, borrowed subs */
	size_t			 nsubs;
	size_t			 subs_cap;
	TAILQ_ENTRY(conn)	 entry;
};
TAILQ_HEAD(conn_list, conn);

static struct event_base	*conn_base;
static const struct config	*conn_cfg;
static struct conn_list		 conn_all = TAILQ_HEAD_INITIALIZER(conn_all);
static size_t			 conn_n;
static uint64_t			 conn_next_id = 1;
/* Frames are decoded into it, one at a time, and released at once. */
static struct frame_arena	*conn_arena;

static void	conn_process(struct conn *);

int
conn_start(struct event_base *base, const struct config *cfg)
{
	conn_base = base;
	conn_cfg = cfg;
	return (frame_arena_new(&conn_arena));
}

size_t
conn_count(void)
{
	return (conn_n);
}

size_t
conn_output_bytes(void)
{
	struct conn	*c;
	size_t		 n = 0;

	TAILQ_FOREACH(c, &conn_all, entry)
		n += evbuffer_get_length(c->out);
	return (n);
}

uint64_t
conn_id(struct conn *c)
{
	return (c->id);
}

const char *
conn_peer(struct conn *c)
{
	return (c->peer);
}

int
conn_closed(struct conn *c)
{
	return (c->closing);
}

void
conn_set_name(struct conn *c, const char *name)
{
	log_escape(name, strlen(name), c->name, sizeof c->name);
}

void
conn_ref(struct conn *c)
{
	c->refs++;
}

void
conn_unref(struct conn *c)
{
	if (--c->refs > 0)
		return;
	free(c->subs);
	free(c);
}

/* Read while not paused and the input holds less than a frame ahead. */
static void
conn_update_read(struct conn *c)
{
	int	want;

	want = c->paused == 0 && !c->closing && evbuffer_get_length(c->in) <
	    conn_cfg->max_frame_size + FRAME_HEADER + CONN_READ_AHEAD;
	/* TLS: the session may need to read for its output to go out. */
	if (c->tls != NULL && !c->closing &&
	    tls_conn_wants(c->tls) == TLS_WANT_READ &&
	    (!tls_conn_ready(c->tls) || evbuffer_get_length(c->out) > 0))
		want = 1;
	if (want && !c->reading)
		event_add(c->rev, NULL);
	else if (!want && c->reading)
		event_del(c->rev);
	c->reading = want;
	/* Bytes inside the TLS session: the socket will not say so. */
	if (want && c->tls != NULL && tls_conn_pending(c->tls))
		event_active(c->rev, EV_READ, 0);
}

static void
conn_pause(struct conn *c, int why)
{
	c->paused |= why;
	conn_update_read(c);
}

static void
conn_resume(struct conn *c, int why)
{
	if (c->paused == 0 || (c->paused &= ~why) != 0 || c->closing)
		return;
	conn_update_read(c);
	/* Frames may already be buffered: run the loop again. */
	event_active(c->more, EV_TIMEOUT, 0);
}

/* Free what conn_accept() made; c itself goes with its last reference. */
static void
conn_free_io(struct conn *c)
{
	if (c->rev != NULL)
		event_free(c->rev);
	if (c->wev != NULL)
		event_free(c->wev);
	if (c->flush != NULL)
		event_free(c->flush);
	if (c->more != NULL)
		event_free(c->more);
	if (c->grace != NULL)
		event_free(c->grace);
	if (c->in != NULL)
		evbuffer_free(c->in);
	if (c->out != NULL)
		evbuffer_free(c->out);
	tls_conn_free(c->tls);
	if (c->fd != -1)
		evutil_closesocket(c->fd);
}

static void
conn_free_cb(evutil_socket_t fd, short events, void *arg)
{
	struct conn	*c = arg;

	conn_free_io(c);
	conn_unref(c);
}

void
conn_close(struct conn *c)
{
	size_t	i;

	if (c->closing)
		return;
	c->closing = 1;
	log_debug("%s: conn=%llu peer=%s", __func__,
	    (unsigned long long)c->id, c->peer);
	event_del(c->rev);
	event_del(c->wev);
	event_del(c->flush);
	event_del(c->more);
	c->reading = c->writing = c->flushing = 0;
	/* group_sub_close() removes the sub from this array. */
	for (i = c->nsubs; i > 0; i--)
		group_sub_close(c->subs[i - 1]);
	TAILQ_REMOVE(&conn_all, c, entry);
	conn_n--;
	event_base_once(conn_base, -1, EV_TIMEOUT, conn_free_cb, c, NULL);
}

void
conn_close_all(void)
{
	struct conn	*c, *c1;

	TAILQ_FOREACH_SAFE(c, &conn_all, entry, c1)
		conn_close(c);
	frame_arena_free(conn_arena);
	conn_arena = NULL;
}

void
conn_stop_all(void)
{
	struct conn	*c;

	TAILQ_FOREACH(c, &conn_all, entry)
		conn_pause(c, CONN_PAUSE_STOP);
}

static void
conn_grace_cb(evutil_socket_t fd, short events, void *arg)
{
	conn_close(arg);
}

/* Stop reading, and close once what is queued has been written. */
static void
conn_close_after_flush(struct conn *c)
{
	struct timeval	tv = { CONN_CLOSE_GRACE, 0 };

	if (c->closing || c->flush_close)
		return;
	c->flush_close = 1;
	conn_pause(c, CONN_PAUSE_STOP);
	if (evbuffer_get_length(c->out) == 0) {
		conn_close(c);
		return;
	}
	c->grace = evtimer_new(conn_base, conn_grace_cb, c);
	if (c->grace != NULL)
		evtimer_add(c->grace, &tv);
}

int
conn_writable(struct conn *c)
{
	if (c->closing || c->flush_close)
		return (0);
	return (evbuffer_get_length(c->out) < conn_cfg->conn_buffer);
}

/* A read or write that failed only for now. */
static int
conn_retriable(int e)
{
	return (e == EAGAIN || e == EWOULDBLOCK || e == EINTR);
}

/* A read or write failed for good (errno): the connection is over. */
static void
conn_io_failed(struct conn *c, const char *what)
{
	log_debug("%s: conn=%llu peer=%s: %s", what,
	    (unsigned long long)c->id, c->peer, strerror(errno));
	conn_close(c);
}

/* Read from the socket into iov: readv, or through the TLS session. */
static ssize_t
conn_io_read(struct conn *c, const struct iovec *iov, int n)
{
	if (c->tls != NULL)
		return (tls_conn_read(c->tls, iov, n));
	return (readv(c->fd, iov, n));
}

/* Write what the output holds: one writev, or through the TLS session. */
static int
conn_io_write(struct conn *c)
{
	if (c->tls != NULL)
		return (tls_conn_write(c->tls, c->out));
	return (evbuffer_write(c->out, c->fd));
}

/*
 * Write what is queued, as much as the socket takes; wait for it to be
 * writable only if some is left. Once the output is back under half of
 * conn-buffer after reaching it, reading resumes and the subscriptions
 * deliver again.
 */
static void
conn_write(struct conn *c)
{
	size_t	left, i;
	int	want;

	if (c->closing)
		return;
	if ((evbuffer_get_length(c->out) > 0 || (c->tls != NULL &&
	    tls_conn_wants(c->tls) == TLS_WANT_WRITE)) &&
	    conn_io_write(c) == -1 && !conn_retriable(errno)) {
		conn_io_failed(c, "write");
		return;
	}
	left = evbuffer_get_length(c->out);
	want = left > 0;
	if (c->tls != NULL && tls_conn_wants(c->tls) != 0) {
		/* Blocked on reading: the read event retries it. */
		want = tls_conn_wants(c->tls) == TLS_WANT_WRITE;
		conn_update_read(c);
	}
	if (want && !c->writing)
		event_add(c->wev, NULL);
	else if (!want && c->writing)
		event_del(c->wev);
	c->writing = want;
	if (c->flush_close) {
		if (left == 0)
			conn_close(c);
		return;
	}
	if (!c->out_full || left > conn_cfg->conn_buffer / 2)
		return;
	c->out_full = 0;
	conn_resume(c, CONN_PAUSE_OUTPUT);
	for (i = c->nsubs; i > 0 && !c->closing; i--)
		group_sub_writable(c->subs[i - 1]);
}

static void
conn_write_cb(evutil_socket_t fd, short events, void *arg)
{
	conn_write(arg);
}

static void
conn_flush_cb(evutil_socket_t fd, short events, void *arg)
{
	struct conn	*c = arg;

	c->flushing = 0;
	conn_write(c);
}

/* Output was queued: write it at the end of this turn of the loop. */
static void
conn_sent(struct conn *c)
{
	if (evbuffer_get_length(c->out) >= conn_cfg->conn_buffer) {
		c->out_full = 1;
		conn_pause(c, CONN_PAUSE_OUTPUT);
	}
	if (!c->flushing && !c->writing) {
		c->flushing = 1;
		event_active(c->flush, EV_WRITE, 0);
	}
}

void
conn_inflight(struct conn *c, long bytes)
{
	c->inflight += bytes;
	if (c->closing)
		return;
	if (c->inflight >= (long)conn_cfg->conn_inflight)
		conn_pause(c, CONN_PAUSE_INFLIGHT);
	else
		conn_resume(c, CONN_PAUSE_INFLIGHT);
}

void
conn_send(struct conn *c, const Tupelo__Frame *f)
{
	struct evbuffer		*out;
	struct evbuffer_iovec	 v;
	size_t			 len;

	if (c->closing)
		return;
	out = c->out;
	len = frame_size(f);
	if (evbuffer_reserve_space(out, (ev_ssize_t)len, &v, 1) < 1) {
		log_error("out of memory queueing %zu bytes conn=%llu", len,
		    (unsigned long long)c->id);
		conn_close(c);
		return;
	}
	v.iov_len = frame_pack(f, v.iov_base);
	evbuffer_commit_space(out, &v, 1);
	conn_sent(c);
}

void
conn_send_error(struct conn *c, uint64_t id, int code, const char *msg)
{
	Tupelo__Frame	f = TUPELO__FRAME__INIT;
	Tupelo__Error	e = TUPELO__ERROR__INIT;

	e.code = (uint32_t)code;
	e.message = (char *)(msg != NULL ? msg : tp_strerror(code));
	f.id = id;
	f.body_case = TUPELO__FRAME__BODY_ERROR;
	f.error = &e;
	conn_send(c, &f);
}

void
conn_send_ok(struct conn *c, uint64_t id)
{
	Tupelo__Frame	f = TUPELO__FRAME__INIT;
	Tupelo__Ok	ok = TUPELO__OK__INIT;

	f.id = id;
	f.body_case = TUPELO__FRAME__BODY_OK;
	f.ok = &ok;
	conn_send(c, &f);
}

/* Bytes of one record inside the body: seq, deliveries, stored fields. */
static size_t
conn_rec_size(const struct conn_rec *r)
{
	size_t	n;

	n = wire_varint_field_size(1, r->seq) + r->len;
	if (r->deliveries != 0)
		n += wire_varint_field_size(7, r->deliveries);
	return (n);
}

void
conn_send_records(struct conn *c, uint64_t id, uint32_t body_field,
    uint64_t sub, uint32_t rec_field, const struct conn_rec *recs, size_t n)
{
	struct evbuffer		*out;
	struct evbuffer_iovec	 v;
	size_t			 body = 0, frame = 0, i, len;
	uint8_t			*p;

	if (c->closing)
		return;
	if (sub != 0)
		body += wire_varint_field_size(1, sub);
	for (i = 0; i < n; i++)
		body += wire_len_field_size(rec_field, conn_rec_size(&recs[i]));
	if (id != 0)
		frame += wire_varint_field_size(1, id);
	frame += wire_len_field_size(body_field, body);

	out = c->out;
	if (evbuffer_reserve_space(out, (ev_ssize_t)(FRAME_HEADER + frame),
	    &v, 1) < 1) {
		log_error("out of memory queueing %zu bytes conn=%llu", frame,
		    (unsigned long long)c->id);
		conn_close(c);
		return;
	}
	p = v.iov_base;
	frame_put_len(p, (uint32_t)frame);
	p += FRAME_HEADER;
	if (id != 0)
		p += wire_varint_field_put(p, 1, id);
	p += wire_len_field_put(p, body_field, body);
	if (sub != 0)
		p += wire_varint_field_put(p, 1, sub);
	for (i = 0; i < n; i++) {
		len = conn_rec_size(&recs[i]);
		p += wire_len_field_put(p, rec_field, len);
		p += wire_varint_field_put(p, 1, recs[i].seq);
		if (recs[i].deliveries != 0)
			p += wire_varint_field_put(p, 7, recs[i].deliveries);
		memcpy(p, recs[i].data, recs[i].len);
		p += recs[i].len;
	}
	v.iov_len = FRAME_HEADER + frame;
	evbuffer_commit_space(out, &v, 1);
	conn_sent(c);
}

static void
conn_more_cb(evutil_socket_t fd, short events, void *arg)
{
	conn_process(arg);
}

/* Read what the socket has (up to CONN_READ_MAX), then handle frames. */
static void
conn_read_cb(evutil_socket_t fd, short events, void *arg)
{
	struct conn		*c = arg;
	struct evbuffer_iovec	 v[2];
	struct iovec		 iov[2];
	ssize_t			 r;
	int			 i, n;

	/* TLS: output may have waited for the session to read. */
	if (c->tls != NULL && tls_conn_ready(c->tls) &&
	    evbuffer_get_length(c->out) > 0) {
		conn_write(c);
		if (c->closing)
			return;
		if (c->paused != 0) {
			conn_update_read(c);
			return;
		}
	}
	if ((n = evbuffer_reserve_space(c->in, CONN_READ_MAX, v, 2)) < 1) {
		log_error("out of memory reading conn=%llu",
		    (unsigned long long)c->id);
		conn_close(c);
		return;
	}
	for (i = 0; i < n; i++) {
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len;
	}
	r = conn_io_read(c, iov, n);
	if (r == -1 && conn_retriable(errno)) {
		/* TLS: the handshake may have to write, or let output go. */
		if (c->tls != NULL && (evbuffer_get_length(c->out) > 0 ||
		    tls_conn_wants(c->tls) == TLS_WANT_WRITE))
			conn_write(c);
		return;
	}
	if (r == -1) {
		conn_io_failed(c, "read");
		return;
	}
	if (r == 0) {
		conn_close(c);		/* the peer closed */
		return;
	}
	for (i = 0; i < n; i++) {
		if ((size_t)r < v[i].iov_len)
			v[i].iov_len = (size_t)r;
		r -= (ssize_t)v[i].iov_len;
	}
	evbuffer_commit_space(c->in, v, n == 2 && v[1].iov_len != 0 ? 2 : 1);
	conn_process(c);
	/* TLS: output queued before the handshake ended goes out now. */
	if (c->tls != NULL && !c->closing && !c->flushing && !c->writing &&
	    evbuffer_get_length(c->out) > 0)
		conn_sent(c);
}

static void
conn_frames(struct conn *c)
{
	struct evbuffer	*in = c->in;
	Tupelo__Frame	*f;
	struct tp_err	 err;
	uint8_t		 hdr[FRAME_HEADER], *body;
	uint64_t	 id;
	uint32_t	 len;
	size_t		 avail;
	int		 n, r;

	for (n = 0; n < CONN_FRAMES_PER_TURN; n++) {
		if (c->paused || c->closing || conn_arena == NULL)
			return;
		avail = evbuffer_get_length(in);
		if (avail < FRAME_HEADER)
			return;
		evbuffer_copyout(in, hdr, sizeof hdr);
		r = frame_peek(hdr, avail, (uint32_t)conn_cfg->max_frame_size,
		    &len);
		if (r == -TP_ETOOBIG) {
			error_set(&err, TP_ETOOBIG, "frame of %u bytes is "
			    "larger than max-frame-size (%llu): closing",
			    frame_get_len(hdr),
			    (unsigned long long)conn_cfg->max_frame_size);
			log_warn("conn=%llu peer=%s: %s",
			    (unsigned long long)c->id, c->peer, err.message);
			conn_send_error(c, 0, TP_ETOOBIG, err.message);
			conn_close_after_flush(c);
			return;
		}
		if (r == FRAME_NEED)
			return;
		body = evbuffer_pullup(in, FRAME_HEADER + len) + FRAME_HEADER;
		r = frame_unpack_arena(conn_arena, body, len, &f, &err);
		if (r != TP_OK) {
			id = frame_id(body, len);
			evbuffer_drain(in, FRAME_HEADER + len);
			log_debug("%s: conn=%llu %s", __func__,
			    (unsigned long long)c->id, err.message);
			conn_send_error(c, id, r, err.message);
			continue;
		}
		/* Payloads of a Produce still point into the input. */
		dispatch_frame(c, f);
		frame_arena_reset(conn_arena);
		evbuffer_drain(in, FRAME_HEADER + len);
	}
	if (evbuffer_get_length(in) >= FRAME_HEADER)
		event_active(c->more, EV_TIMEOUT, 0);
}

/* Handle buffered frames, then read only if there is room for more. */
static void
conn_process(struct conn *c)
{
	conn_frames(c);
	conn_update_read(c);
}

static void
conn_peer_name(const struct sockaddr *sa, char *buf, size_t len)
{
	char	host[INET6_ADDRSTRLEN] = "?";
	int	port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
		port = ntohs(s4->sin_port);
		snprintf(buf, len, "%s:%d", host, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
		port = ntohs(s6->sin6_port);
		snprintf(buf, len, "[%s]:%d", host, port);
	} else
		snprintf(buf, len, "?");
}

void
conn_accept(evutil_socket_t fd, const struct sockaddr *sa, int salen,
    int tls)
{
	struct conn	*c;
	int		 one = 1;
	int		 full = conn_n >= conn_cfg->max_connections;

	if ((c = calloc(1, sizeof *c)) == NULL) {
		log_error("out of memory accepting a connection");
		evutil_closesocket(fd);
		return;
	}
	c->id = conn_next_id++;
	c->refs = 1;
	c->fd = fd;
	conn_peer_name(sa, c->peer, sizeof c->peer);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->in = evbuffer_new();
	c->out = evbuffer_new();
	c->rev = event_new(conn_base, fd, EV_READ | EV_PERSIST, conn_read_cb,
	    c);
	c->wev = event_new(conn_base, fd, EV_WRITE | EV_PERSIST,
	    conn_write_cb, c);
	c->flush = event_new(conn_base, -1, 0, conn_flush_cb, c);
	c->more = event_new(conn_base, -1, 0, conn_more_cb, c);
	if (tls)
		tls_conn_new(fd, c->id, c->peer, &c->tls);
	/* The listener hands over non-blocking sockets. */
	if (c->in == NULL || c->out == NULL || c->rev == NULL ||
	    c->wev == NULL || c->flush == NULL || c->more == NULL ||
	    (tls && c->tls == NULL)) {
		log_error("out of memory accepting a connection");
		conn_free_io(c);
		free(c);
		return;
	}
	conn_update_read(c);
	TAILQ_INSERT_TAIL(&conn_all, c, entry);
	conn_n++;
	log_debug("%s: conn=%llu peer=%s", __func__,
	    (unsigned long long)c->id, c->peer);
	if (full) {
		log_warn("max-connections (%llu) reached: refusing peer=%s",
		    (unsigned long long)conn_cfg->max_connections, c->peer);
		conn_send_error(c, 0, TP_EBUSY, "too many connections");
		conn_close_after_flush(c);
	}
}

int
conn_sub_add(struct conn *c, struct sub *s)
{
	struct sub	**subs;
	size_t		  cap;

	if (c->nsubs == c->subs_cap) {
		cap = c->subs_cap != 0 ? c->subs_cap * 2 : 4;
		if ((subs = reallocarray(c->subs, cap, sizeof *subs)) == NULL)
			return (TP_ENOMEM);
		c->subs = subs;
		c->subs_cap = cap;
	}
	c->subs[c->nsubs++] = s;
	return (TP_OK);
}

void
conn_sub_remove(struct conn *c, struct sub *s)
{
	size_t	i;

	for (i = 0; i < c->nsubs; i++) {
		if (c->subs[i] == s) {
			c->subs[i] = c->subs[--c->nsubs];
			return;
		}
	}
}

size_t
conn_nsubs(struct conn *c)
{
	return (c->nsubs);
}

struct sub *
conn_sub_find(struct conn *c, uint64_t id)
{
	size_t	i;

	for (i = 0; i < c->nsubs; i++) {
		if (group_sub_id(c->subs[i]) == id)
			return (c->subs[i]);
	}
	return (NULL);
}
