/*
 * One client connection: its socket and buffers, the frame loop (a bounded
 * number of frames per turn), replies and pushed deliveries into the
 * output buffer, written once per turn of the loop, back-pressure (stop
 * reading while the output or the produce bytes waiting for storage are
 * over their caps), the subscriptions it carries, and a deferred free so
 * no callback frees its own object.
 */
#ifndef TP_BROKER_CONN_H
#define TP_BROKER_CONN_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include <event2/util.h>

#include "proto/tupelo.pb-c.h"

struct config;
struct event_base;
struct conn;
struct sub;

/* A stored record to send: seq and delivery count prepended to data. */
struct conn_rec {
	uint64_t	 seq;
	uint32_t	 deliveries;
	const void	*data;		/* borrowed until the call returns */
	size_t		 len;
};

int	conn_start(struct event_base *, const struct config *);
/* Take over an accepted socket; TLS over it if the last argument is 1. */
void	conn_accept(evutil_socket_t, const struct sockaddr *, int, int);
/* Stop reading from every connection (shutdown); replies still go out. */
void	conn_stop_all(void);
/* Close every connection now. */
void	conn_close_all(void);
size_t	conn_count(void);
/* Bytes waiting in all output buffers. */
size_t	conn_output_bytes(void);

void	conn_close(struct conn *);
void	conn_ref(struct conn *);
void	conn_unref(struct conn *);
int	conn_closed(struct conn *);
uint64_t conn_id(struct conn *);
const char *conn_peer(struct conn *);
/* Is the output below its cap, so more deliveries may be queued? */
int	conn_writable(struct conn *);
/* Produce bytes handed to storage (+) or completed (-). */
void	conn_inflight(struct conn *, long);
void	conn_set_name(struct conn *, const char *);

/* Queue a reply frame; a closed connection drops it. */
void	conn_send(struct conn *, const Tupelo__Frame *);
void	conn_send_error(struct conn *, uint64_t, int, const char *);
void	conn_send_ok(struct conn *, uint64_t);
/*
 * Queue a frame whose body (field body_field of Frame) holds an optional
 * sub (field 1) and the records (field rec_field), built around the
 * stored bytes without re-encoding them.
 */
void	conn_send_records(struct conn *, uint64_t, uint32_t, uint64_t,
	    uint32_t, const struct conn_rec *, size_t);

/* Subscriptions carried by the connection. */
int	conn_sub_add(struct conn *, struct sub *);
void	conn_sub_remove(struct conn *, struct sub *);
struct sub *conn_sub_find(struct conn *, uint64_t);
size_t	conn_nsubs(struct conn *);

#endif
