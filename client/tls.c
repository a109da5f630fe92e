/*
 * The client side of TLS. Each connection has its own SSL_CTX, so that
 * TUPELO_CA is read when connecting and no state is shared between
 * threads. The socket goes through a BIO that writes with MSG_NOSIGNAL:
 * OpenSSL's own would raise SIGPIPE in the application when the broker
 * has gone. A failed verification is reported with OpenSSL's reason
 * ("certificate verify failed: certificate has expired"), not as a bare
 * connection error.
 */
#include "client/tls.h"

#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/conn.h"
#include "proto/error.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL	0
#endif

struct tls {
	SSL_CTX		*ctx;		/* owned */
	SSL		*ssl;		/* owned, with its BIO */
	short		 events;	/* POLLIN or POLLOUT: blocked on */
	char		 why[160];	/* the last failure */
};

static pthread_once_t	 tls_once = PTHREAD_ONCE_INIT;
static BIO_METHOD	*tls_bio_method;	/* NULL: could not be made */

/* The socket BIO's write, with MSG_NOSIGNAL. */
static int
tls_bio_write(BIO *b, const char *buf, int len)
{
	ssize_t	n;
	int	fd = -1;

	BIO_get_fd(b, &fd);
	errno = 0;
	n = send(fd, buf, (size_t)len, MSG_NOSIGNAL);
	BIO_clear_retry_flags(b);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		BIO_set_retry_write(b);
	return ((int)n);
}

static void
tls_init(void)
{
	const BIO_METHOD	*s = BIO_s_socket();
	BIO_METHOD		*m;

	if ((m = BIO_meth_new(BIO_TYPE_SOCKET, "tupelo socket")) == NULL)
		return;
	if (BIO_meth_set_write(m, tls_bio_write) != 1 ||
	    BIO_meth_set_read(m, BIO_meth_get_read(s)) != 1 ||
	    BIO_meth_set_puts(m, BIO_meth_get_puts(s)) != 1 ||
	    BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(s)) != 1 ||
	    BIO_meth_set_create(m, BIO_meth_get_create(s)) != 1 ||
	    BIO_meth_set_destroy(m, BIO_meth_get_destroy(s)) != 1) {
		BIO_meth_free(m);
		return;
	}
	tls_bio_method = m;
}

/* The oldest OpenSSL error of this thread as text; the queue cleared. */
static void
tls_set_why(struct tls *t, const char *what)
{
	unsigned long	 e = ERR_get_error();
	const char	*r = e != 0 ? ERR_reason_error_string(e) : NULL;

	if (r != NULL)
		snprintf(t->why, sizeof t->why, "%s: %s", what, r);
	else if (e == 0 && errno != 0)
		snprintf(t->why, sizeof t->why, "%s: %s", what,
		    strerror(errno));
	else if (e == 0)
		snprintf(t->why, sizeof t->why, "%s: connection closed by "
		    "the broker", what);
	else
		snprintf(t->why, sizeof t->why, "%s: error %lx", what, e);
	ERR_clear_error();
}

/* After a call returned r <= 0: -1 with errno (EAGAIN: blocked), or 0. */
static int
tls_failed(struct tls *t, int r, const char *what)
{
	switch (SSL_get_error(t->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		t->events = POLLIN;
		errno = EAGAIN;
		return (-1);
	case SSL_ERROR_WANT_WRITE:
		t->events = POLLOUT;
		errno = EAGAIN;
		return (-1);
	case SSL_ERROR_ZERO_RETURN:
		return (0);
	}
	tls_set_why(t, what);
	errno = EPROTO;
	return (-1);
}

/* The server must be host: a name, or an address written as one. */
static int
tls_set_host(struct tls *t, const char *host)
{
	unsigned char	addr[16];

	if (inet_pton(AF_INET, host, addr) == 1 ||
	    inet_pton(AF_INET6, host, addr) == 1)
		return (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl),
		    host) == 1 ? 0 : -1);
	if (SSL_set_tlsext_host_name(t->ssl, host) != 1 ||
	    SSL_set1_host(t->ssl, host) != 1)
		return (-1);
	return (0);
}

/* The context: TLS 1.2 or later, the server verified. */
static int
tls_ctx(struct tls *t, struct tp_err *err)
{
	const char	*ca = getenv("TUPELO_CA");

	if ((t->ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return (error_set(err, TP_ENOMEM, "no memory for TLS"));
	SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
	if (ca != NULL && *ca != '\0') {
		if (SSL_CTX_load_verify_locations(t->ctx, ca, NULL) != 1) {
			tls_set_why(t, ca);
			return (error_set(err, TP_EINVAL, "TUPELO_CA %s",
			    t->why));
		}
	} else if (SSL_CTX_set_default_verify_paths(t->ctx) != 1) {
		tls_set_why(t, "system certificate authorities");
		return (error_set(err, TP_ECONN, "%s", t->why));
	}
	return (TP_OK);
}

int
tls_open(int fd, const char *host, int64_t deadline, struct tls **out,
    struct tp_err *err)
{
	struct tls	*t;
	struct pollfd	 pfd;
	BIO		*bio = NULL;
	long		 v;
	int		 code, r;

	*out = NULL;
	pthread_once(&tls_once, tls_init);
	if ((t = calloc(1, sizeof *t)) == NULL)
		return (error_set(err, TP_ENOMEM, "no memory for TLS"));
	ERR_clear_error();
	if ((code = tls_ctx(t, err)) != TP_OK)
		goto fail;
	if (tls_bio_method == NULL || (t->ssl = SSL_new(t->ctx)) == NULL ||
	    (bio = BIO_new(tls_bio_method)) == NULL) {
		code = error_set(err, TP_ENOMEM, "no memory for TLS");
		goto fail;
	}
	BIO_set_fd(bio, fd, BIO_NOCLOSE);
	SSL_set_bio(t->ssl, bio, bio);
	if (tls_set_host(t, host) != 0) {
		code = error_set(err, TP_EINVAL, "TLS: bad host name %s",
		    host);
		goto fail;
	}
	for (;;) {
		ERR_clear_error();
		if ((r = SSL_connect(t->ssl)) == 1)
			break;
		if (tls_failed(t, r, "TLS handshake") != -1 ||
		    errno != EAGAIN) {
			v = SSL_get_verify_result(t->ssl);
			if (v != X509_V_OK)
				code = error_set(err, TP_ECONN, "certificate "
				    "verify failed: %s",
				    X509_verify_cert_error_string(v));
			else
				code = error_set(err, TP_ECONN, "%s with %s",
				    r == 0 || t->why[0] == '\0' ?
				    "TLS handshake: connection closed" :
				    t->why, host);
			goto fail;
		}
		pfd.fd = fd;
		pfd.events = t->events;
		pfd.revents = 0;
		r = poll(&pfd, 1, conn_remaining(deadline));
		if (r == 0) {
			code = error_set(err, TP_ETIMEDOUT, "TLS handshake "
			    "with %s timed out", host);
			goto fail;
		}
		if (r < 0 && errno != EINTR) {
			code = error_set(err, TP_ECONN, "poll: %s",
			    strerror(errno));
			goto fail;
		}
	}
	t->events = 0;
	*out = t;
	return (TP_OK);
fail:
	tls_close(t);
	return (code);
}

void
tls_close(struct tls *t)
{
	if (t == NULL)
		return;
	if (t->ssl != NULL && SSL_is_init_finished(t->ssl))
		SSL_shutdown(t->ssl);
	ERR_clear_error();
	SSL_free(t->ssl);
	SSL_CTX_free(t->ctx);
	free(t);
}

ssize_t
tls_read(struct tls *t, void *buf, size_t len)
{
	int	r;

	ERR_clear_error();
	if ((r = SSL_read(t->ssl, buf, len > INT32_MAX ? INT32_MAX :
	    (int)len)) > 0) {
		t->events = 0;
		return (r);
	}
	return (tls_failed(t, r, "TLS read"));
}

ssize_t
tls_write(struct tls *t, const void *buf, size_t len)
{
	int	r;

	ERR_clear_error();
	if ((r = SSL_write(t->ssl, buf, len > INT32_MAX ? INT32_MAX :
	    (int)len)) > 0) {
		t->events = 0;
		return (r);
	}
	if ((r = tls_failed(t, r, "TLS write")) == 0) {
		errno = EPIPE;
		r = -1;
	}
	return (r);
}

short
tls_events(struct tls *t)
{
	return (t->events);
}

int
tls_pending(struct tls *t)
{
	return (SSL_pending(t->ssl) > 0);
}

const char *
tls_error(struct tls *t)
{
	return (t->why);
}
