/*
 * TLS on the loop thread. One server SSL_CTX at a time: SIGHUP builds a
 * new one from the files and swaps it in for new connections; an SSL
 * holds a reference to the context it was made from, so established
 * connections keep the old certificate until they close. TLS 1.2 is the
 * minimum, 1.3 is what OpenSSL negotiates when the client has it;
 * renegotiation is off. The handshake runs inside the first reads and
 * writes; its failure (a plaintext client, say) is logged with the peer
 * and ends that connection only. Reads and writes follow readv and
 * evbuffer_write: -1 with errno EAGAIN when blocked, and tls_conn_wants
 * says on which event to retry.
 */
#include "broker/tls.h"

#include <sys/socket.h>

#include <errno.h>
#include <event2/buffer.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "broker/config.h"
#include "broker/log.h"
#include "proto/error.h"

#define TLS_WRITE_MAX	(256 * 1024)	/* bytes per tls_conn_write */
#define TLS_DRAIN_MAX	(64 * 1024)	/* bytes discarded after a failure */

struct tls_conn {
	SSL		*ssl;		/* owned; holds its SSL_CTX */
	uint64_t	 id;		/* the connection's, for the log */
	const char	*peer;		/* borrowed from the connection */
	int		 wants;		/* TLS_WANT_* of the last call */
	int		 ready;		/* handshake done */
};

static SSL_CTX	*tls_ctx;	/* owned: for new connections */
static int	 tls_verify;	/* tls-ca given: client certificates */

/* The oldest queued OpenSSL error as text, and the queue cleared. */
static const char *
tls_error(char *buf, size_t len)
{
	unsigned long	 e = ERR_get_error();
	const char	*r;

	if (e == 0)
		snprintf(buf, len, "%s", errno != 0 ? strerror(errno) :
		    "connection closed");
	else if ((r = ERR_reason_error_string(e)) != NULL)
		snprintf(buf, len, "%s", r);
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return (buf);
}

/* A context from the files of cfg; NULL with why filled. */
static SSL_CTX *
tls_ctx_new(const struct config *cfg, char *why, size_t len)
{
	SSL_CTX		*ctx;
	char		 e[256];

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		snprintf(why, len, "SSL_CTX_new: %s", tls_error(e, sizeof e));
		return (NULL);
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	if (*cfg->tls_cert == '\0' || *cfg->tls_key == '\0') {
		snprintf(why, len, "tls-listen needs tls-cert and tls-key");
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
		snprintf(why, len, "tls-cert %s: %s", cfg->tls_cert,
		    tls_error(e, sizeof e));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key,
	    SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(why, len, "tls-key %s: %s", cfg->tls_key,
		    tls_error(e, sizeof e));
		goto fail;
	}
	if (*cfg->tls_ca != '\0') {
		if (SSL_CTX_load_verify_locations(ctx, cfg->tls_ca,
		    NULL) != 1) {
			snprintf(why, len, "tls-ca %s: %s", cfg->tls_ca,
			    tls_error(e, sizeof e));
			goto fail;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
		    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	return (ctx);
fail:
	SSL_CTX_free(ctx);
	return (NULL);
}

int
tls_start(const struct config *cfg, struct tp_err *err)
{
	char	why[512];

	if (*cfg->tls_listen == '\0')
		return (TP_OK);
	if ((tls_ctx = tls_ctx_new(cfg, why, sizeof why)) == NULL)
		return (error_set(err, TP_EINVAL, "%s", why));
	tls_verify = *cfg->tls_ca != '\0';
	return (TP_OK);
}

void
tls_reload(const struct config *cfg)
{
	SSL_CTX	*ctx;
	char	 why[512];

	if (tls_ctx == NULL)
		return;
	if ((ctx = tls_ctx_new(cfg, why, sizeof why)) == NULL) {
		log_error("TLS not reloaded: %s; the certificate in force "
		    "stays", why);
		return;
	}
	SSL_CTX_free(tls_ctx);
	tls_ctx = ctx;
	tls_verify = *cfg->tls_ca != '\0';
	log_info("TLS certificate reloaded from %s", cfg->tls_cert);
}

void
tls_stop(void)
{
	SSL_CTX_free(tls_ctx);
	tls_ctx = NULL;
}

int
tls_enabled(void)
{
	return (tls_ctx != NULL);
}

int
tls_conn_new(int fd, uint64_t id, const char *peer, struct tls_conn **out)
{
	struct tls_conn	*t;

	*out = NULL;
	if (tls_ctx == NULL)
		return (TP_EINVAL);
	if ((t = calloc(1, sizeof *t)) == NULL)
		return (TP_ENOMEM);
	ERR_clear_error();
	if ((t->ssl = SSL_new(tls_ctx)) == NULL ||
	    SSL_set_fd(t->ssl, fd) != 1) {
		ERR_clear_error();
		tls_conn_free(t);
		return (TP_ENOMEM);
	}
	SSL_set_accept_state(t->ssl);
	t->id = id;
	t->peer = peer;
	*out = t;
	return (TP_OK);
}

void
tls_conn_free(struct tls_conn *t)
{
	if (t == NULL)
		return;
	SSL_free(t->ssl);
	free(t);
}

/*
 * Discard what the peer sent and nobody will read (a plaintext request,
 * say), so that closing the socket ends with a FIN, not a reset that
 * could destroy the alert on its way.
 */
static void
tls_conn_drain(struct tls_conn *t)
{
	char	buf[4096];
	size_t	total = 0;
	ssize_t	n;

	while (total < TLS_DRAIN_MAX && (n = recv(SSL_get_fd(t->ssl), buf,
	    sizeof buf, MSG_DONTWAIT)) > 0)
		total += (size_t)n;
}

/*
 * After an SSL call returned r <= 0: record what it waits for and set
 * errno (EAGAIN when it is only blocked); 0 for a clean end of stream.
 */
static int
tls_conn_failed(struct tls_conn *t, int r, const char *what)
{
	char	e[256];
	int	saved = errno;

	switch (SSL_get_error(t->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		t->wants = TLS_WANT_READ;
		errno = EAGAIN;
		return (-1);
	case SSL_ERROR_WANT_WRITE:
		t->wants = TLS_WANT_WRITE;
		errno = EAGAIN;
		return (-1);
	case SSL_ERROR_ZERO_RETURN:
		t->wants = 0;
		return (0);
	}
	t->wants = 0;
	errno = saved;
	tls_error(e, sizeof e);
	if (!t->ready) {
		log_warn("TLS handshake failed: conn=%llu peer=%s: %s",
		    (unsigned long long)t->id, t->peer, e);
		tls_conn_drain(t);
	} else
		log_debug("TLS %s: conn=%llu peer=%s: %s", what,
		    (unsigned long long)t->id, t->peer, e);
	errno = EPROTO;
	return (-1);
}

/* Run the handshake; 1 when done, else tls_conn_failed's answer. */
static int
tls_conn_handshake(struct tls_conn *t)
{
	X509	*x;
	char	 subject[256];
	int	 r;

	if (t->ready)
		return (1);
	ERR_clear_error();
	if ((r = SSL_do_handshake(t->ssl)) != 1) {
		r = tls_conn_failed(t, r, "handshake");
		/* Before the handshake, an end of stream is no success. */
		if (r == 0) {
			errno = ECONNRESET;
			r = -1;
		}
		return (r);
	}
	t->ready = 1;
	log_debug("TLS handshake: conn=%llu peer=%s %s %s",
	    (unsigned long long)t->id, t->peer, SSL_get_version(t->ssl),
	    SSL_get_cipher_name(t->ssl));
	if (tls_verify && (x = SSL_get0_peer_certificate(t->ssl)) != NULL) {
		X509_NAME_oneline(X509_get_subject_name(x), subject,
		    sizeof subject);
		log_info("conn=%llu peer=%s: client certificate %s",
		    (unsigned long long)t->id, t->peer, subject);
	}
	return (1);
}

ssize_t
tls_conn_read(struct tls_conn *t, const struct iovec *iov, int n)
{
	size_t	off, total = 0;
	int	i, r;

	if ((r = tls_conn_handshake(t)) != 1)
		return (r);
	for (i = 0; i < n; i++) {
		for (off = 0; off < iov[i].iov_len; off += (size_t)r) {
			ERR_clear_error();
			r = SSL_read(t->ssl, (char *)iov[i].iov_base + off,
			    (int)(iov[i].iov_len - off));
			if (r > 0) {
				total += (size_t)r;
				continue;
			}
			if (total == 0)
				return (tls_conn_failed(t, r, "read"));
			/* What is read counts; the next call sees the rest. */
			ERR_clear_error();
			t->wants = 0;
			return ((ssize_t)total);
		}
	}
	t->wants = 0;
	return ((ssize_t)total);
}

int
tls_conn_write(struct tls_conn *t, struct evbuffer *out)
{
	struct evbuffer_iovec	v;
	size_t			total = 0, len;
	int			r;

	if ((r = tls_conn_handshake(t)) != 1)
		return (r);
	t->wants = 0;
	while (total < TLS_WRITE_MAX && evbuffer_peek(out, -1, NULL, &v,
	    1) > 0) {
		len = v.iov_len;
		if (len > TLS_WRITE_MAX)
			len = TLS_WRITE_MAX;
		ERR_clear_error();
		r = SSL_write(t->ssl, v.iov_base, (int)len);
		if (r <= 0) {
			if (total > 0)
				break;
			if (tls_conn_failed(t, r, "write") == 0)
				errno = EPIPE;
			return (-1);
		}
		evbuffer_drain(out, (size_t)r);
		total += (size_t)r;
	}
	return ((int)total);
}

int
tls_conn_wants(struct tls_conn *t)
{
	return (t->wants);
}

int
tls_conn_pending(struct tls_conn *t)
{
	return (SSL_pending(t->ssl) > 0);
}

int
tls_conn_ready(struct tls_conn *t)
{
	return (t->ready);
}
