/*
 * The protocol listener: bind every address of the host (port 0 allowed:
 * one port for all; each bound address is logged as "listening on
 * HOST:PORT"), accept, and back off on EMFILE.
 */
#ifndef TP_BROKER_LISTENER_H
#define TP_BROKER_LISTENER_H

struct event_base;
struct tp_err;

/* Bind addr ("HOST:PORT") and start accepting into broker/conn. */
int	listener_start(struct event_base *, const char *, struct tp_err *);
/* Stop accepting and close the socket. */
void	listener_stop(void);

#endif
