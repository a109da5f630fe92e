/*
 * Client connections, on the loop thread. Frames are handled at most
 * CONN_FRAMES_PER_TURN per callback; if more are buffered the connection
 * re-arms itself with an active event, since libevent will not call again
 * for bytes already read. Reading stops (paused) while the output is over
 * conn-buffer or produce bytes waiting for storage are over conn-inflight,
 * so a peer that does not read, or outruns the disk, only slows itself.
 * A connection is freed from a zero-timeout event after its last reference
 * (pending storage operations hold one) is gone.
 */
#include "broker/conn.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/config.h"
#include "broker/dispatch.h"
#include "broker/group.h"
#include "broker/log.h"
#include "proto/compat.h"
#include "proto/error.h"
#include "proto/frame.h"
#include "proto/wire.h"

#define CONN_FRAMES_PER_TURN	64
#define CONN_CLOSE_GRACE	5	/* seconds to flush before closing */

#define CONN_PAUSE_OUTPUT	0x1	/* output over conn-buffer */
#define CONN_PAUSE_INFLIGHT	0x2	/* produce bytes over conn-inflight */
#define CONN_PAUSE_STOP		0x4	/* shutdown or closing */

struct conn {
	uint64_t		 id;
	char			 peer[64];
	char			 name[64];	/* client name, escaped */
	struct bufferevent	*bev;		/* owned, NULL once freed */
	struct event		*more;		/* owned: re-arm frame loop */
	struct event		*grace;		/* owned: flush-close timeout */
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

	TAILQ_FOREACH(c, &conn_all, entry) {
		if (c->bev != NULL)
			n += evbuffer_get_length(
			    bufferevent_get_output(c->bev));
	}
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

static void
conn_pause(struct conn *c, int why)
{
	if (c->paused == 0 && c->bev != NULL)
		bufferevent_disable(c->bev, EV_READ);
	c->paused |= why;
}

static void
conn_resume(struct conn *c, int why)
{
	if (c->paused == 0 || (c->paused &= ~why) != 0 || c->closing)
		return;
	bufferevent_enable(c->bev, EV_READ);
	/* Frames may already be buffered: run the loop again. */
	event_active(c->more, EV_TIMEOUT, 0);
}

static void
conn_free_cb(evutil_socket_t fd, short events, void *arg)
{
	struct conn	*c = arg;

	bufferevent_free(c->bev);
	c->bev = NULL;
	event_free(c->more);
	if (c->grace != NULL)
		event_free(c->grace);
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
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
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
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		conn_close(c);
		return;
	}
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	c->grace = evtimer_new(conn_base, conn_grace_cb, c);
	if (c->grace != NULL)
		evtimer_add(c->grace, &tv);
}

int
conn_writable(struct conn *c)
{
	if (c->closing || c->flush_close)
		return (0);
	return (evbuffer_get_length(bufferevent_get_output(c->bev)) <
	    conn_cfg->conn_buffer);
}

static void
conn_sent(struct conn *c)
{
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) >=
	    conn_cfg->conn_buffer)
		conn_pause(c, CONN_PAUSE_OUTPUT);
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
	out = bufferevent_get_output(c->bev);
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

	out = bufferevent_get_output(c->bev);
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

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	conn_process(arg);
}

static void
conn_process(struct conn *c)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	Tupelo__Frame	*f;
	struct tp_err	 err;
	uint8_t		 hdr[FRAME_HEADER];
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
		r = frame_unpack_arena(conn_arena, evbuffer_pullup(in,
		    FRAME_HEADER + len) + FRAME_HEADER, len, &f, &err);
		if (r != TP_OK) {
			evbuffer_drain(in, FRAME_HEADER + len);
			log_debug("%s: conn=%llu %s", __func__,
			    (unsigned long long)c->id, err.message);
			conn_send_error(c, 0, r, err.message);
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

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;
	size_t		 i;

	if (c->flush_close) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			conn_close(c);
		return;
	}
	conn_resume(c, CONN_PAUSE_OUTPUT);
	for (i = c->nsubs; i > 0 && !c->closing; i--)
		group_sub_writable(c->subs[i - 1]);
}

static void
conn_event_cb(struct bufferevent *bev, short events, void *arg)
{
	struct conn	*c = arg;

	if (events & BEV_EVENT_ERROR)
		log_debug("%s: conn=%llu peer=%s: %s", __func__,
		    (unsigned long long)c->id, c->peer,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_close(c);
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
conn_accept(evutil_socket_t fd, const struct sockaddr *sa, int salen)
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
	conn_peer_name(sa, c->peer, sizeof c->peer);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->bev = bufferevent_socket_new(conn_base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->more = event_new(conn_base, -1, 0, conn_more_cb, c);
	if (c->bev == NULL || c->more == NULL) {
		log_error("out of memory accepting a connection");
		if (c->bev != NULL)
			bufferevent_free(c->bev);
		else
			evutil_closesocket(fd);
		if (c->more != NULL)
			event_free(c->more);
		free(c);
		return;
	}
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb,
	    c);
	/* Read no further than one whole frame beyond what is buffered. */
	bufferevent_setwatermark(c->bev, EV_READ, 0,
	    conn_cfg->max_frame_size + FRAME_HEADER + 65536);
	bufferevent_setwatermark(c->bev, EV_WRITE, conn_cfg->conn_buffer / 2,
	    0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
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
