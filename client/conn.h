/*
 * One connection to tupelod: URL, socket, hello, framed blocking I/O with
 * timeouts, request ids, the table of outstanding requests and the routing
 * of Deliver frames to subscriptions. Used by one thread at a time.
 */
#ifndef TP_CLIENT_CONN_H
#define TP_CLIENT_CONN_H

#include <stdint.h>

#include "proto/frame.h"
#include "proto/tupelo.pb-c.h"
#include "proto/wire.h"
#include "tupelo/tupelo.h"

/* Largest frame accepted from the broker: a 64 MiB payload and its record. */
#define CONN_FRAME_MAX		(64U * 1024 * 1024 + 64 * 1024)

/*
 * Reply to an asynchronous request: the reply is owned by the callback
 * (free it with frame_free), or NULL with err set when the connection was
 * lost or closed.
 */
typedef void (*conn_reply_cb)(void *, Tupelo__Frame *, const struct tp_err *);
/* A Deliver frame for a subscription, owned by the callback. */
typedef void (*conn_deliver_cb)(void *, Tupelo__Frame *);

/* Send a request and wait for its reply; Error replies become codes. */
int		 conn_request(struct tp_conn *, Tupelo__Frame *,
		     Tupelo__Frame **, struct tp_err *);
/* The same, waiting wait_ms (-1: no limit) instead of the timeout. */
int		 conn_request_wait(struct tp_conn *, Tupelo__Frame *, int,
		     Tupelo__Frame **, struct tp_err *);
/* conn_request for a request answered with Ok. */
int		 conn_request_ok(struct tp_conn *, Tupelo__Frame *,
		     struct tp_err *);
/* Send a request whose reply goes to cb; cb is not called on failure. */
int		 conn_send(struct tp_conn *, Tupelo__Frame *, conn_reply_cb,
		     void *, struct tp_err *);
/*
 * The same for a request encoded by the caller: its Frame fields but the
 * id, len bytes at buf + CONN_PREFIX, with CONN_PREFIX bytes free before
 * them for the length and the id. buf stays the caller's.
 */
#define CONN_PREFIX	(FRAME_HEADER + 1 + WIRE_VARINT_MAX)
int		 conn_send_encoded(struct tp_conn *, uint8_t *, size_t,
		     conn_reply_cb, void *, struct tp_err *);
/* Dispatch one frame, waiting up to ms (or until fd is readable). */
int		 conn_pump(struct tp_conn *, int, int, struct tp_err *);
/*
 * Fail the connection if its oldest request waited past the timeout;
 * otherwise the ms until that would happen (-1: nothing outstanding).
 */
int		 conn_expire(struct tp_conn *);
/* Forget the outstanding requests whose callback argument is arg. */
void		 conn_cancel(struct tp_conn *, void *);
/* The code for a reply of the wrong type (TP_EPROTO, or its Error). */
int		 conn_unexpected(const Tupelo__Frame *, struct tp_err *);
/* Route Deliver frames of subscription sub to cb. */
int		 conn_sub_add(struct tp_conn *, uint64_t, conn_deliver_cb,
		     void *, struct tp_err *);
/* Stop routing a subscription; its later deliveries are dropped. */
void		 conn_sub_remove(struct tp_conn *, uint64_t);
/* The error that ended the connection, or TP_OK while it is usable. */
int		 conn_failed(struct tp_conn *, struct tp_err *);
/* The request timeout in ms. */
int		 conn_timeout(struct tp_conn *);
/* The URL connected to; borrowed from the connection. */
const char	*conn_url(struct tp_conn *);
/* The broker's frame limit and default message limit, from HelloOk. */
uint32_t	 conn_max_frame(struct tp_conn *);
uint32_t	 conn_max_message(struct tp_conn *);
/*
 * Decompress a zstd frame made with dictionary id (fetched from the
 * broker on first use, then cached) into dst (len bytes); *n gets the
 * size. Not while a frame is being dispatched.
 */
int		 conn_decompress(struct tp_conn *, uint32_t, void *, size_t,
		     const void *, size_t, size_t *, struct tp_err *);
/* Monotonic clock in ms. */
int64_t		 conn_now_ms(void);
/* Deadline (ms) for a timeout (-1: none), and the ms left until one. */
int64_t		 conn_deadline(int);
int		 conn_remaining(int64_t);

#endif
