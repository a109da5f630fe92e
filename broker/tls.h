/*
 * TLS for the protocol listener: the server SSL_CTX (certificate, key,
 * optional client CA), its reload on SIGHUP, and the socket I/O of one
 * TLS connection in the shape of readv and evbuffer_write, so that
 * broker/conn keeps one code path for plain and TLS connections.
 */
#ifndef TP_BROKER_TLS_H
#define TP_BROKER_TLS_H

#include <sys/types.h>
#include <sys/uio.h>

#include <stdint.h>

#define TLS_WANT_READ	1	/* blocked until the socket is readable */
#define TLS_WANT_WRITE	2	/* blocked until the socket is writable */

struct config;
struct evbuffer;
struct tls_conn;
struct tp_err;

/* Load tls-cert, tls-key and tls-ca into the context new connections use. */
int	tls_start(const struct config *, struct tp_err *);
/* SIGHUP: load them again; on failure log it and keep the old context. */
void	tls_reload(const struct config *);
/* Drop the context (connections keep theirs until they are freed). */
void	tls_stop(void);
/* Is there a context, i.e. was tls_start called with tls-listen set? */
int	tls_enabled(void);

/* A server-side TLS session on fd; id and peer (borrowed) for the log. */
int	tls_conn_new(int, uint64_t, const char *, struct tls_conn **);
void	tls_conn_free(struct tls_conn *);
/* As readv: bytes, 0 at end of stream, -1 with errno (EAGAIN: blocked). */
ssize_t	tls_conn_read(struct tls_conn *, const struct iovec *, int);
/* As evbuffer_write: bytes written and drained, or -1 with errno. */
int	tls_conn_write(struct tls_conn *, struct evbuffer *);
/* TLS_WANT_* the last call was blocked on, or 0. */
int	tls_conn_wants(struct tls_conn *);
/* Decrypted or received bytes held inside the session, not yet read. */
int	tls_conn_pending(struct tls_conn *);
/* Has the handshake finished? */
int	tls_conn_ready(struct tls_conn *);

#endif
