/*
 * Dialling the broker: URL parsing and a TCP connect with a timeout (TLS
 * over it is client/tls).
 */
#ifndef TP_CLIENT_DIAL_H
#define TP_CLIENT_DIAL_H

#include <stddef.h>

struct tp_err;

/* Split "tupelo[s]://[user:pass@]host[:port]" into host and port strings. */
int	dial_parse(const char *, char *, size_t, char *, size_t,
	    struct tp_err *);
/* Is url a tupelos:// one (TLS)? */
int	dial_is_tls(const char *);
/* Connect to host and port within ms (-1: no limit); *fd non-blocking. */
int	dial_connect(const char *, const char *, int, int *, struct tp_err *);

#endif
