/*
 * The protocol listener: bind every address of the host (port 0 allowed:
 * one port for all; each bound address is logged as "listening on
 * HOST:PORT", "(tls)" after it for the TLS listener), accept, and back
 * off on EMFILE.
 */
#ifndef TP_BROKER_LISTENER_H
#define TP_BROKER_LISTENER_H

struct event_base;
struct tp_err;

/* Bind addr ("HOST:PORT") and accept into broker/conn, TLS if tls. */
int	listener_start(struct event_base *, const char *, int,
	    struct tp_err *);
/* Stop accepting and close every listening socket. */
void	listener_stop(void);

#endif
