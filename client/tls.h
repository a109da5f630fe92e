/*
 * TLS for one client connection (tupelos://): the handshake with a
 * deadline, the server checked against the system's authorities or those
 * in TUPELO_CA and against the host name or address dialled, then reads
 * and writes in the shape of recv and send. No OpenSSL type leaves it.
 */
#ifndef TP_CLIENT_TLS_H
#define TP_CLIENT_TLS_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

struct tls;
struct tp_err;

/*
 * Handshake over the connected non-blocking socket fd (borrowed) with
 * host, within the deadline (conn_deadline). Returns TP_OK, TP_EINVAL
 * (TUPELO_CA unreadable), TP_ECONN ("certificate verify failed: ..." when
 * the server is not trusted), TP_ETIMEDOUT, TP_ENOMEM.
 */
int		 tls_open(int, const char *, int64_t, struct tls **,
		     struct tp_err *);
/* Say goodbye if the socket takes it at once, and free. */
void		 tls_close(struct tls *);
/* As recv and send: -1 with errno EAGAIN when blocked; see tls_events. */
ssize_t		 tls_read(struct tls *, void *, size_t);
ssize_t		 tls_write(struct tls *, const void *, size_t);
/* The poll events the last blocked call waits for (POLLIN, POLLOUT). */
short		 tls_events(struct tls *);
/* Bytes inside the session not yet read: read before polling. */
int		 tls_pending(struct tls *);
/* Why the last call failed, when errno is EPROTO. */
const char	*tls_error(struct tls *);

#endif
