/*
 * The client side of one broker connection. The socket is non-blocking and
 * every wait is a poll() with a deadline, so no call blocks longer than its
 * timeout. Frames are read into one buffer that grows only to the frame
 * being read (its length prefix is checked first) and shrinks back when
 * empty. Replies are matched to requests by id through a list of
 * outstanding requests; Deliver frames (id 0) go to the subscription named
 * in them. Once the stream fails the connection is dead: every outstanding
 * request is failed and later calls return the same error.
 *
 * pump dispatches at most one frame per call, so a caller waiting for a
 * reply (say SubscribeOk) sees it before the frames behind it (the first
 * Deliver of that subscription) are routed.
 *
 * A tupelos:// connection runs TLS (client/tls) over the same socket: the
 * socket calls go through conn_io_recv and conn_io_send, polls wait for
 * what the session waits for, and bytes already inside the session are
 * read before polling.
 */
#include "client/conn.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/dial.h"
#include "client/tls.h"

#include <zstd.h>
#include "proto/compat.h"
#include "proto/error.h"
#include "proto/frame.h"
#include "proto/wire.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL	0
#endif

#define CONN_RBUF_INIT		(64 * 1024)
#define CONN_TIMEOUT_DEFAULT	30000
#define CONN_MESSAGE_DEFAULT	(1024 * 1024)

struct conn_req {
	uint64_t		 id;
	int64_t			 sent_ms;	/* monotonic */
	conn_reply_cb		 cb;
	void			*arg;		/* borrowed from the caller */
	TAILQ_ENTRY(conn_req)	 entry;
};

struct conn_sub {
	uint64_t		 sub;
	conn_deliver_cb		 cb;
	void			*arg;		/* borrowed from the consumer */
	LIST_ENTRY(conn_sub)	 entry;
};

struct tp_conn {
	int			 fd;
	struct tls		*tls;		/* owned, NULL: plain */
	char			*url;		/* owned */
	char			 server[128];	/* from HelloOk */
	uint32_t		 max_frame;	/* bytes we may send */
	uint32_t		 max_message;	/* broker default payload max */
	int			 timeout_ms;
	uint64_t		 next_id;

	uint8_t			*rbuf;		/* owned; rlen bytes at roff */
	size_t			 roff;
	size_t			 rlen;
	size_t			 rcap;

	int			 dead;		/* 1: dead_err says why */
	struct tp_err		 dead_err;

	TAILQ_HEAD(, conn_req)	 reqs;		/* owned, oldest first */
	LIST_HEAD(, conn_sub)	 subs;		/* owned */
	LIST_HEAD(, conn_dict)	 dicts;		/* owned, fetched once */
	ZSTD_DCtx		*dctx;		/* owned, for dictionaries */
};

/* A zstd dictionary the broker sent. */
struct conn_dict {
	uint32_t		 id;
	ZSTD_DDict		*ddict;		/* owned */
	LIST_ENTRY(conn_dict)	 entry;
};

/* What conn_request waits for. */
struct conn_slot {
	int		 done;
	Tupelo__Frame	*reply;		/* owned until handed out */
	struct tp_err	 err;		/* when reply is NULL */
};

int64_t
conn_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

int64_t
conn_deadline(int timeout_ms)
{
	if (timeout_ms < 0)
		return (-1);
	return (conn_now_ms() + timeout_ms);
}

int
conn_remaining(int64_t deadline)
{
	int64_t	left;

	if (deadline < 0)
		return (-1);
	left = deadline - conn_now_ms();
	if (left <= 0)
		return (0);
	return (left > INT32_MAX ? INT32_MAX : (int)left);
}

/*
 * Kill the connection: remember why and fail every outstanding request.
 * The code is never TP_ETIMEDOUT, which conn_pump uses for "nothing yet".
 */
static int
conn_fail(struct tp_conn *conn, const struct tp_err *why)
{
	struct conn_req	*req;

	if (conn->dead)
		return (conn->dead_err.code);
	conn->dead = 1;
	conn->dead_err = *why;
	if (why->code == TP_ETIMEDOUT || why->code == TP_OK)
		conn->dead_err.code = TP_ECONN;
	if (conn->fd != -1)
		shutdown(conn->fd, SHUT_RDWR);
	while ((req = TAILQ_FIRST(&conn->reqs)) != NULL) {
		TAILQ_REMOVE(&conn->reqs, req, entry);
		req->cb(req->arg, NULL, &conn->dead_err);
		free(req);
	}
	return (conn->dead_err.code);
}

/* conn_fail with a formatted reason, copied to err too. */
static int TP_PRINTF(4, 5)
conn_failf(struct tp_conn *conn, struct tp_err *err, int code,
    const char *fmt, ...)
{
	struct tp_err	why;
	va_list		ap;

	why.code = code;
	va_start(ap, fmt);
	vsnprintf(why.message, sizeof why.message, fmt, ap);
	va_end(ap);
	conn_fail(conn, &why);
	return (conn_failed(conn, err));
}

int
conn_failed(struct tp_conn *conn, struct tp_err *err)
{
	if (!conn->dead)
		return (TP_OK);
	if (err != NULL)
		*err = conn->dead_err;
	return (conn->dead_err.code);
}

/* Make room to read: the whole current frame, or a buffer's worth. */
static int
conn_reserve(struct tp_conn *conn, struct tp_err *err)
{
	size_t	 need;
	uint8_t	*p;

	need = CONN_RBUF_INIT;
	if (conn->rlen >= FRAME_HEADER)
		need = FRAME_HEADER + frame_get_len(conn->rbuf + conn->roff);
	if (need > FRAME_HEADER + CONN_FRAME_MAX)
		return (conn_failf(conn, err, TP_EPROTO, "broker sent a frame "
		    "of %zu bytes, more than %u", need - FRAME_HEADER,
		    CONN_FRAME_MAX));
	if (need < conn->rlen + 1)
		need = conn->rlen + 1;
	if (conn->roff + need <= conn->rcap)
		return (TP_OK);
	if (conn->roff > 0) {
		memmove(conn->rbuf, conn->rbuf + conn->roff, conn->rlen);
		conn->roff = 0;
	}
	if (need <= conn->rcap)
		return (TP_OK);
	if ((p = realloc(conn->rbuf, need)) == NULL)
		return (conn_failf(conn, err, TP_ENOMEM, "no memory for a "
		    "frame of %zu bytes", need));
	conn->rbuf = p;
	conn->rcap = need;
	return (TP_OK);
}

/* recv, or a read through TLS; -1 with errno (EAGAIN: nothing yet). */
static ssize_t
conn_io_recv(struct tp_conn *conn, void *buf, size_t len)
{
	if (conn->tls != NULL)
		return (tls_read(conn->tls, buf, len));
	return (recv(conn->fd, buf, len, 0));
}

/* send without SIGPIPE, or a write through TLS. */
static ssize_t
conn_io_send(struct tp_conn *conn, const void *buf, size_t len)
{
	if (conn->tls != NULL)
		return (tls_write(conn->tls, buf, len));
	return (send(conn->fd, buf, len, MSG_NOSIGNAL));
}

/* What failed, after conn_io_recv or conn_io_send set errno. */
static const char *
conn_io_error(struct tp_conn *conn)
{
	if (conn->tls != NULL && errno == EPROTO)
		return (tls_error(conn->tls));
	return (strerror(errno));
}

/* The poll events to wait for: want, or what TLS waits for. */
static short
conn_io_events(struct tp_conn *conn, short want)
{
	if (conn->tls != NULL && tls_events(conn->tls) != 0)
		return (tls_events(conn->tls));
	return (want);
}

/* Read what the socket has; TP_OK also when it had nothing after all. */
static int
conn_read_some(struct tp_conn *conn, struct tp_err *err)
{
	ssize_t	n;
	int	code;

	if ((code = conn_reserve(conn, err)) != TP_OK)
		return (code);
	n = conn_io_recv(conn, conn->rbuf + conn->roff + conn->rlen,
	    conn->rcap - conn->roff - conn->rlen);
	if (n > 0) {
		conn->rlen += (size_t)n;
		return (TP_OK);
	}
	if (n == 0)
		return (conn_failf(conn, err, TP_ECONN, "connection closed "
		    "by the broker"));
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return (TP_OK);
	return (conn_failf(conn, err, TP_ECONN, "read: %s",
	    conn_io_error(conn)));
}

/* Take the next whole frame out of the buffer; *out NULL if none yet. */
static int
conn_next_frame(struct tp_conn *conn, Tupelo__Frame **out,
    struct tp_err *err)
{
	uint32_t	len = 0;
	int		rc;
	uint8_t		*p;
	struct tp_err	why;

	*out = NULL;
	rc = frame_peek(conn->rbuf + conn->roff, conn->rlen, CONN_FRAME_MAX,
	    &len);
	if (rc == -TP_ETOOBIG)
		return (conn_failf(conn, err, TP_EPROTO, "broker sent a frame "
		    "of %u bytes, more than %u", frame_get_len(conn->rbuf +
		    conn->roff), CONN_FRAME_MAX));
	if (rc != FRAME_READY)
		return (TP_OK);
	if (frame_unpack(conn->rbuf + conn->roff + FRAME_HEADER, len, out,
	    &why) != TP_OK) {
		conn_fail(conn, &why);
		return (conn_failed(conn, err));
	}
	conn->roff += FRAME_HEADER + len;
	conn->rlen -= FRAME_HEADER + len;
	if (conn->rlen == 0) {
		conn->roff = 0;
		if (conn->rcap > CONN_RBUF_INIT &&
		    (p = realloc(conn->rbuf, CONN_RBUF_INIT)) != NULL) {
			conn->rbuf = p;
			conn->rcap = CONN_RBUF_INIT;
		}
	}
	return (TP_OK);
}

/* Hand one frame to whoever waits for it; takes ownership of f. */
static int
conn_dispatch(struct tp_conn *conn, Tupelo__Frame *f, struct tp_err *err)
{
	struct conn_req	*req;
	struct conn_sub	*sub;
	struct tp_err	 why;

	if (f->id == 0 && f->body_case == TUPELO__FRAME__BODY_DELIVER &&
	    f->deliver != NULL) {
		LIST_FOREACH(sub, &conn->subs, entry) {
			if (sub->sub == f->deliver->sub) {
				sub->cb(sub->arg, f);
				return (TP_OK);
			}
		}
	} else if (f->id == 0 && f->body_case == TUPELO__FRAME__BODY_ERROR) {
		/* An error without a request: the broker gave up on us. */
		conn_unexpected(f, &why);
		frame_free(f);
		conn_fail(conn, &why);
		return (conn_failed(conn, err));
	} else if (f->id != 0) {
		TAILQ_FOREACH(req, &conn->reqs, entry) {
			if (req->id == f->id)
				break;
		}
		if (req != NULL) {
			TAILQ_REMOVE(&conn->reqs, req, entry);
			req->cb(req->arg, f, NULL);
			free(req);
			return (TP_OK);
		}
	}
	/* A late reply to a cancelled request, or a stray delivery. */
	frame_free(f);
	return (TP_OK);
}

/* Dispatch every whole frame already buffered. */
static int
conn_dispatch_all(struct tp_conn *conn, struct tp_err *err)
{
	Tupelo__Frame	*f;
	int		 code;

	for (;;) {
		if ((code = conn_next_frame(conn, &f, err)) != TP_OK)
			return (code);
		if (f == NULL)
			return (TP_OK);
		if ((code = conn_dispatch(conn, f, err)) != TP_OK)
			return (code);
	}
}

/*
 * Write all of buf. While the socket is full, keep reading (and
 * dispatching) so a broker blocked on writing to us cannot deadlock us.
 */
static int
conn_write(struct tp_conn *conn, const uint8_t *buf, size_t len,
    struct tp_err *err)
{
	struct pollfd	pfd;
	int64_t		deadline = conn_deadline(conn->timeout_ms);
	size_t		off = 0;
	ssize_t		n;
	int		code;

	while (off < len) {
		n = conn_io_send(conn, buf + off, len - off);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return (conn_failf(conn, err, TP_ECONN, "write: %s",
			    conn_io_error(conn)));
		pfd.fd = conn->fd;
		pfd.events = POLLOUT | POLLIN;
		if (conn->tls != NULL)
			pfd.events = tls_events(conn->tls) | POLLIN;
		pfd.revents = 0;
		n = poll(&pfd, 1, conn_remaining(deadline));
		if (n < 0 && errno != EINTR)
			return (conn_failf(conn, err, TP_ECONN, "poll: %s",
			    strerror(errno)));
		if (n == 0) {
			/* Half a frame is on the wire: the stream is lost. */
			return (conn_failf(conn, err, TP_ECONN, "write "
			    "timed out, connection dropped"));
		}
		if (n > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR))) {
			if ((code = conn_read_some(conn, err)) != TP_OK)
				return (code);
			if ((code = conn_dispatch_all(conn, err)) != TP_OK)
				return (code);
		}
	}
	return (TP_OK);
}

int
conn_send(struct tp_conn *conn, Tupelo__Frame *f, conn_reply_cb cb,
    void *arg, struct tp_err *err)
{
	struct conn_req	*req = NULL;
	uint8_t		*buf = NULL;
	size_t		 size;
	int		 code;

	if ((code = conn_failed(conn, err)) != TP_OK)
		return (code);
	f->id = conn->next_id++;
	size = frame_size(f);
	if (size - FRAME_HEADER > conn->max_frame) {
		code = error_set(err, TP_ETOOBIG, "request of %zu bytes, the "
		    "broker takes at most %u", size, conn->max_frame);
		goto out;
	}
	if ((req = malloc(sizeof *req)) == NULL ||
	    (buf = malloc(size)) == NULL) {
		code = error_set(err, TP_ENOMEM, "no memory for a request");
		goto out;
	}
	frame_pack(f, buf);
	if ((code = conn_write(conn, buf, size, err)) != TP_OK)
		goto out;
	/* Registered only now: no reply can precede the whole request. */
	req->id = f->id;
	req->sent_ms = conn_now_ms();
	req->cb = cb;
	req->arg = arg;
	TAILQ_INSERT_TAIL(&conn->reqs, req, entry);
	req = NULL;
out:
	free(req);
	free(buf);
	return (code);
}

int
conn_send_encoded(struct tp_conn *conn, uint8_t *buf, size_t len,
    conn_reply_cb cb, void *arg, struct tp_err *err)
{
	struct conn_req	*req;
	uint8_t		*start;
	uint64_t	 id;
	size_t		 idlen;
	int		 code;

	if ((code = conn_failed(conn, err)) != TP_OK)
		return (code);
	id = conn->next_id++;
	idlen = 1 + wire_varint_size(id);
	if (idlen + len > conn->max_frame)
		return (error_set(err, TP_ETOOBIG, "request of %zu bytes, the "
		    "broker takes at most %u", idlen + len, conn->max_frame));
	if ((req = malloc(sizeof *req)) == NULL)
		return (error_set(err, TP_ENOMEM, "no memory for a request"));
	/* The id goes first: protobuf takes fields in any order. */
	start = buf + CONN_PREFIX - idlen - FRAME_HEADER;
	frame_put_len(start, (uint32_t)(idlen + len));
	start[FRAME_HEADER] = 1 << 3 | WIRE_VARINT;
	wire_varint_put(start + FRAME_HEADER + 1, id);
	if ((code = conn_write(conn, start, FRAME_HEADER + idlen + len,
	    err)) != TP_OK) {
		free(req);
		return (code);
	}
	req->id = id;
	req->sent_ms = conn_now_ms();
	req->cb = cb;
	req->arg = arg;
	TAILQ_INSERT_TAIL(&conn->reqs, req, entry);
	return (TP_OK);
}

int
conn_pump(struct tp_conn *conn, int timeout_ms, int wake_fd,
    struct tp_err *err)
{
	struct pollfd	 pfd[2];
	Tupelo__Frame	*f;
	int64_t		 deadline = conn_deadline(timeout_ms);
	int		 code, n;

	for (;;) {
		if ((code = conn_failed(conn, err)) != TP_OK)
			return (code);
		if ((code = conn_next_frame(conn, &f, err)) != TP_OK)
			return (code);
		if (f != NULL)
			return (conn_dispatch(conn, f, err));
		/* TLS may hold a record already read from the socket. */
		if (conn->tls != NULL && tls_pending(conn->tls)) {
			if ((code = conn_read_some(conn, err)) != TP_OK)
				return (code);
			continue;
		}
		pfd[0].fd = conn->fd;
		pfd[0].events = conn_io_events(conn, POLLIN);
		pfd[0].revents = 0;
		pfd[1].fd = wake_fd;
		pfd[1].events = POLLIN;
		pfd[1].revents = 0;
		n = poll(pfd, wake_fd >= 0 ? 2 : 1, conn_remaining(deadline));
		if (n < 0 && errno != EINTR)
			return (conn_failf(conn, err, TP_ECONN, "poll: %s",
			    strerror(errno)));
		if (n <= 0 || pfd[1].revents != 0)
			return (TP_ETIMEDOUT);
		if ((code = conn_read_some(conn, err)) != TP_OK)
			return (code);
	}
}

int
conn_expire(struct tp_conn *conn)
{
	struct conn_req	*req = TAILQ_FIRST(&conn->reqs);
	int64_t		 left;

	if (req == NULL || conn->dead || conn->timeout_ms < 0)
		return (-1);
	left = req->sent_ms + conn->timeout_ms - conn_now_ms();
	if (left > 0)
		return (left > INT32_MAX ? INT32_MAX : (int)left);
	conn_failf(conn, NULL, TP_ECONN, "no reply from the broker "
	    "within %d ms, connection dropped", conn->timeout_ms);
	return (0);
}

void
conn_cancel(struct tp_conn *conn, void *arg)
{
	struct conn_req	*req, *req1;

	TAILQ_FOREACH_SAFE(req, &conn->reqs, entry, req1) {
		if (req->arg == arg) {
			TAILQ_REMOVE(&conn->reqs, req, entry);
			free(req);
		}
	}
}

int
conn_unexpected(const Tupelo__Frame *f, struct tp_err *err)
{
	int	code;

	if (f->body_case != TUPELO__FRAME__BODY_ERROR || f->error == NULL)
		return (error_set(err, TP_EPROTO, "unexpected reply (body %d) "
		    "from the broker", (int)f->body_case));
	code = (int)f->error->code;
	if (code <= TP_OK)
		code = TP_EINTERNAL;
	if (f->error->message == NULL || *f->error->message == '\0')
		return (error_set(err, code, NULL));
	return (error_set(err, code, "%s", f->error->message));
}

static void
conn_request_cb(void *arg, Tupelo__Frame *reply, const struct tp_err *why)
{
	struct conn_slot	*slot = arg;

	slot->done = 1;
	slot->reply = reply;
	if (reply == NULL)
		slot->err = *why;
}

int
conn_request(struct tp_conn *conn, Tupelo__Frame *f, Tupelo__Frame **reply,
    struct tp_err *err)
{
	return (conn_request_wait(conn, f, conn->timeout_ms, reply, err));
}

int
conn_request_wait(struct tp_conn *conn, Tupelo__Frame *f, int wait_ms,
    Tupelo__Frame **reply, struct tp_err *err)
{
	struct conn_slot	 slot;
	int64_t			 deadline;
	int			 code;

	*reply = NULL;
	memset(&slot, 0, sizeof slot);
	if ((code = conn_send(conn, f, conn_request_cb, &slot, err)) != TP_OK)
		return (code);
	deadline = conn_deadline(wait_ms);
	while (!slot.done) {
		code = conn_pump(conn, conn_remaining(deadline), -1, err);
		if (slot.done)
			break;
		if (code == TP_OK ||
		    (code == TP_ETIMEDOUT && conn_remaining(deadline) != 0))
			continue;
		conn_cancel(conn, &slot);
		if (code == TP_ETIMEDOUT)
			return (error_set(err, TP_ETIMEDOUT, "no reply "
			    "from the broker within %d ms", wait_ms));
		return (code);
	}
	if (slot.reply == NULL) {
		if (err != NULL)
			*err = slot.err;
		return (slot.err.code);
	}
	if (slot.reply->body_case == TUPELO__FRAME__BODY_ERROR) {
		code = conn_unexpected(slot.reply, err);
		frame_free(slot.reply);
		return (code);
	}
	*reply = slot.reply;
	return (TP_OK);
}

int
conn_request_ok(struct tp_conn *conn, Tupelo__Frame *f, struct tp_err *err)
{
	Tupelo__Frame	*reply = NULL;
	int		 code;

	if ((code = conn_request(conn, f, &reply, err)) != TP_OK)
		return (code);
	if (reply->body_case != TUPELO__FRAME__BODY_OK)
		code = conn_unexpected(reply, err);
	frame_free(reply);
	return (code);
}

int
conn_sub_add(struct tp_conn *conn, uint64_t id, conn_deliver_cb cb,
    void *arg, struct tp_err *err)
{
	struct conn_sub	*sub;

	if ((sub = malloc(sizeof *sub)) == NULL)
		return (error_set(err, TP_ENOMEM, "no memory for a "
		    "subscription"));
	sub->sub = id;
	sub->cb = cb;
	sub->arg = arg;
	LIST_INSERT_HEAD(&conn->subs, sub, entry);
	return (TP_OK);
}

void
conn_sub_remove(struct tp_conn *conn, uint64_t id)
{
	struct conn_sub	*sub, *sub1;

	LIST_FOREACH_SAFE(sub, &conn->subs, entry, sub1) {
		if (sub->sub == id) {
			LIST_REMOVE(sub, entry);
			free(sub);
		}
	}
}

int
conn_timeout(struct tp_conn *conn)
{
	return (conn->timeout_ms);
}

const char *
conn_url(struct tp_conn *conn)
{
	return (conn->url);
}

uint32_t
conn_max_frame(struct tp_conn *conn)
{
	return (conn->max_frame);
}

uint32_t
conn_max_message(struct tp_conn *conn)
{
	return (conn->max_message);
}

static int
conn_hello(struct tp_conn *conn, const char *client_name, struct tp_err *err)
{
	Tupelo__Frame	 f = TUPELO__FRAME__INIT, *reply = NULL;
	Tupelo__Hello	 hello = TUPELO__HELLO__INIT;
	Tupelo__HelloOk	*ok;
	int		 code;

	hello.version = TP_PROTOCOL_VERSION;
	if (client_name != NULL)
		hello.client_name = (char *)client_name;
	f.body_case = TUPELO__FRAME__BODY_HELLO;
	f.hello = &hello;
	if ((code = conn_request(conn, &f, &reply, err)) != TP_OK)
		return (code);
	if (reply->body_case != TUPELO__FRAME__BODY_HELLO_OK ||
	    (ok = reply->hello_ok) == NULL) {
		code = conn_unexpected(reply, err);
		goto out;
	}
	if (ok->version != TP_PROTOCOL_VERSION) {
		code = error_set(err, TP_EVERSION, "broker speaks protocol %u, "
		    "we speak %d", ok->version, TP_PROTOCOL_VERSION);
		goto out;
	}
	snprintf(conn->server, sizeof conn->server, "%s",
	    ok->server != NULL ? ok->server : "");
	if (ok->max_frame != 0)
		conn->max_frame = ok->max_frame;
	if (ok->max_message != 0)
		conn->max_message = ok->max_message;
out:
	frame_free(reply);
	return (code);
}

int
tp_connect(const char *url, const char *client_name, struct tp_conn **out,
    struct tp_err *err)
{
	struct tp_conn	*conn = NULL;
	char		 host[256], port[16];
	int		 code;

	*out = NULL;
	if (url == NULL && (url = getenv("TUPELO_URL")) == NULL)
		url = TP_DEFAULT_URL;
	if ((code = dial_parse(url, host, sizeof host, port, sizeof port,
	    err)) != TP_OK)
		return (code);
	if ((conn = calloc(1, sizeof *conn)) == NULL)
		return (error_set(err, TP_ENOMEM, "no memory for a "
		    "connection"));
	conn->fd = -1;
	conn->timeout_ms = CONN_TIMEOUT_DEFAULT;
	conn->max_frame = FRAME_MAX_DEFAULT;
	conn->max_message = CONN_MESSAGE_DEFAULT;
	conn->next_id = 1;
	TAILQ_INIT(&conn->reqs);
	LIST_INIT(&conn->subs);
	if ((conn->url = strdup(url)) == NULL ||
	    (conn->rbuf = malloc(CONN_RBUF_INIT)) == NULL) {
		code = error_set(err, TP_ENOMEM, "no memory for a connection");
		goto fail;
	}
	conn->rcap = CONN_RBUF_INIT;
	if ((code = dial_connect(host, port, conn->timeout_ms, &conn->fd,
	    err)) != TP_OK)
		goto fail;
	if (dial_is_tls(url) && (code = tls_open(conn->fd, host,
	    conn_deadline(conn->timeout_ms), &conn->tls, err)) != TP_OK)
		goto fail;
	if ((code = conn_hello(conn, client_name, err)) != TP_OK)
		goto fail;
	*out = conn;
	return (TP_OK);
fail:
	tp_close(conn);
	return (code);
}

void
tp_close(struct tp_conn *conn)
{
	struct tp_err	 why;
	struct conn_sub	*sub;
	struct conn_dict *d;

	if (conn == NULL)
		return;
	error_set(&why, TP_ECONN, "connection closed");
	conn_fail(conn, &why);
	while ((sub = LIST_FIRST(&conn->subs)) != NULL) {
		LIST_REMOVE(sub, entry);
		free(sub);
	}
	while ((d = LIST_FIRST(&conn->dicts)) != NULL) {
		LIST_REMOVE(d, entry);
		ZSTD_freeDDict(d->ddict);
		free(d);
	}
	ZSTD_freeDCtx(conn->dctx);
	tls_close(conn->tls);
	if (conn->fd != -1)
		close(conn->fd);
	free(conn->rbuf);
	free(conn->url);
	free(conn);
}

void
tp_set_timeout(struct tp_conn *conn, int timeout_ms)
{
	conn->timeout_ms = timeout_ms < 0 ? -1 : timeout_ms;
}

const char *
tp_server(struct tp_conn *conn)
{
	return (conn->server);
}

int
conn_decompress(struct tp_conn *conn, uint32_t id, void *dst, size_t len,
    const void *src, size_t srclen, size_t *n, struct tp_err *err)
{
	Tupelo__Frame		 f = TUPELO__FRAME__INIT, *reply = NULL;
	Tupelo__DictGet		 dg = TUPELO__DICT_GET__INIT;
	struct conn_dict	*d;
	int			 code;

	LIST_FOREACH(d, &conn->dicts, entry) {
		if (d->id == id)
			break;
	}
	if (d == NULL) {
		dg.id = id;
		f.body_case = TUPELO__FRAME__BODY_DICT_GET;
		f.dict_get = &dg;
		if ((code = conn_request(conn, &f, &reply, err)) != TP_OK)
			return (code);
		if (reply->body_case != TUPELO__FRAME__BODY_DICT_REPLY) {
			code = conn_unexpected(reply, err);
			frame_free(reply);
			return (code);
		}
		if ((d = calloc(1, sizeof *d)) == NULL ||
		    (d->ddict = ZSTD_createDDict(reply->dict_reply->dict.data,
		    reply->dict_reply->dict.len)) == NULL) {
			free(d);
			frame_free(reply);
			return (error_set(err, TP_ENOMEM, "no memory for a "
			    "zstd dictionary"));
		}
		frame_free(reply);
		d->id = id;
		LIST_INSERT_HEAD(&conn->dicts, d, entry);
	}
	if (conn->dctx == NULL && (conn->dctx = ZSTD_createDCtx()) == NULL)
		return (error_set(err, TP_ENOMEM, "no memory for zstd"));
	*n = ZSTD_decompress_usingDDict(conn->dctx, dst, len, src, srclen,
	    d->ddict);
	if (ZSTD_isError(*n))
		return (error_set(err, TP_EPROTO, "zstd: %s",
		    ZSTD_getErrorName(*n)));
	return (TP_OK);
}
