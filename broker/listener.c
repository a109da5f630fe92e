/*
 * Accepting connections. A listen address names a host: the broker binds
 * every address getaddrinfo gives for it (localhost: 127.0.0.1 and ::1),
 * IPv6 sockets with IPV6_V6ONLY so that both families can bind one port.
 * With port 0 the first bind picks the port and the others take the same
 * one; should another program hold that port on another address, the
 * whole bind starts again with a new port, a few times. When accept fails
 * for lack of descriptors the listeners are disabled and re-enabled from
 * a timer, instead of spinning. The TLS listener is made the same way,
 * its connections flagged for TLS and its addresses logged with "(tls)".
 */
#include "broker/listener.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdint.h>
#include <netdb.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "broker/conn.h"
#include "broker/log.h"
#include "proto/error.h"

#define LISTENER_BACKOFF_MS	200
#define LISTENER_MAX		16	/* addresses of one name */
#define LISTENER_BACKLOG	1024
#define LISTENER_TRIES		5	/* port 0 taken on another address */

/* The plain and the TLS listener: LISTENER_MAX addresses each. */
static struct evconnlistener	*listeners[2 * LISTENER_MAX];
static size_t			 nlisteners;
static struct event		*listener_retry;

static void
listener_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	conn_accept(fd, sa, salen, (int)(intptr_t)arg);
}

static void
listener_retry_cb(evutil_socket_t fd, short events, void *arg)
{
	size_t	i;

	for (i = 0; i < nlisteners; i++)
		evconnlistener_enable(listeners[i]);
}

static void
listener_error_cb(struct evconnlistener *l, void *arg)
{
	struct timeval	tv = { 0, LISTENER_BACKOFF_MS * 1000 };
	int		err = EVUTIL_SOCKET_ERROR();
	size_t		i;

	log_warn("accept failed: %s; retrying in %d ms",
	    evutil_socket_error_to_string(err), LISTENER_BACKOFF_MS);
	for (i = 0; i < nlisteners; i++)
		evconnlistener_disable(listeners[i]);
	evtimer_add(listener_retry, &tv);
}

/* "HOST:PORT" or "[V6]:PORT" resolved to every address (port 0: any). */
static int
listener_resolve(const char *addr, struct addrinfo **res)
{
	struct addrinfo	 hints;
	char		 host[256];
	const char	*colon, *h = addr;
	size_t		 hlen;

	if ((colon = strrchr(addr, ':')) == NULL || colon[1] == '\0')
		return (-1);
	hlen = (size_t)(colon - addr);
	if (hlen >= 2 && addr[0] == '[' && addr[hlen - 1] == ']') {
		h = addr + 1;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof host)
		return (-1);
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if (getaddrinfo(host, colon + 1, &hints, res) != 0 || *res == NULL)
		return (-1);
	return (0);
}

/* An address as text: "127.0.0.1:6666" or "[::1]:6666". */
static void
listener_name(const struct sockaddr *sa, char *buf, size_t len)
{
	char	host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
		snprintf(buf, len, "[%s]:%d", host, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
		snprintf(buf, len, "%s:%d", host, ntohs(s4->sin_port));
	}
}

static void
listener_set_port(struct sockaddr *sa, int port)
{
	if (sa->sa_family == AF_INET6)
		((struct sockaddr_in6 *)(void *)sa)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)(void *)sa)->sin_port = htons(port);
}

static int
listener_get_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET6)
		return (ntohs(((const struct sockaddr_in6 *)(const void *)
		    sa)->sin6_port));
	return (ntohs(((const struct sockaddr_in *)(const void *)sa)->
	    sin_port));
}

/* A bound, non-blocking socket for sa; -1 with errno set. */
static int
listener_socket(struct sockaddr *sa, socklen_t salen)
{
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof ss;
	int			fd, one = 1, saved;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		return (-1);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    (sa->sa_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &one, sizeof one) != 0) ||
	    bind(fd, sa, salen) != 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		goto fail;
	/* Port 0: the one the kernel chose, for the log and the others. */
	listener_set_port(sa, listener_get_port((struct sockaddr *)&ss));
	return (fd);
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return (-1);
}

/* Did an earlier entry of list give the same address as ai? */
static int
listener_seen(const struct addrinfo *list, const struct addrinfo *ai)
{
	const struct addrinfo	*p;

	for (p = list; p != ai; p = p->ai_next) {
		if (p->ai_addrlen == ai->ai_addrlen &&
		    memcmp(p->ai_addr, ai->ai_addr, ai->ai_addrlen) == 0)
			return (1);
	}
	return (0);
}

/*
 * Bind every address of res, all on one port. An address this machine
 * does not have (no IPv6, say) is skipped with a warning; any other
 * failure undoes every bind. Returns 0, or -1 with errno set and the
 * failing address in what.
 */
static int
listener_bind_all(struct addrinfo *res, int fds[], size_t *nfds,
    char *what, size_t len)
{
	struct addrinfo	*ai;
	size_t		 i;
	int		 port, saved, fd;

	port = listener_get_port(res->ai_addr);
	*nfds = 0;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (listener_seen(res, ai) || *nfds == LISTENER_MAX)
			continue;
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		if (port != 0)
			listener_set_port(ai->ai_addr, port);
		listener_name(ai->ai_addr, what, len);
		if ((fd = listener_socket(ai->ai_addr, ai->ai_addrlen)) == -1) {
			if (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL) {
				log_warn("cannot listen on %s: %s; skipped",
				    what, strerror(errno));
				continue;
			}
			goto fail;
		}
		port = listener_get_port(ai->ai_addr);
		fds[(*nfds)++] = fd;
	}
	if (*nfds == 0) {
		errno = EADDRNOTAVAIL;
		return (-1);
	}
	return (0);
fail:
	saved = errno;
	for (i = 0; i < *nfds; i++)
		close(fds[i]);
	*nfds = 0;
	errno = saved;
	return (-1);
}

int
listener_start(struct event_base *base, const char *addr, int tls,
    struct tp_err *err)
{
	struct addrinfo		*res = NULL, *ai;
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	char			 what[INET6_ADDRSTRLEN + 16];
	int			 fds[LISTENER_MAX], want, rc = TP_OK;
	int			 tries = 0;
	size_t			 nfds = 0, i, first = nlisteners;

	if (listener_resolve(addr, &res) != 0)
		return (error_set(err, TP_EINVAL, "invalid listen address %s: "
		    "use HOST:PORT", addr));
	want = listener_get_port(res->ai_addr);
	for (;;) {
		for (ai = res; ai != NULL; ai = ai->ai_next)
			listener_set_port(ai->ai_addr, want);
		if (listener_bind_all(res, fds, &nfds, what,
		    sizeof what) == 0)
			break;
		/* Port 0 came out taken on another address: a new one. */
		if (want == 0 && errno == EADDRINUSE &&
		    ++tries < LISTENER_TRIES)
			continue;
		rc = error_set(err, TP_EIO, "cannot listen on %s (%s): %s",
		    what, addr, strerror(errno));
		goto out;
	}
	if (listener_retry == NULL)
		listener_retry = evtimer_new(base, listener_retry_cb, NULL);
	if (listener_retry == NULL) {
		rc = error_set(err, TP_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < nfds; i++) {
		listeners[nlisteners] = evconnlistener_new(base,
		    listener_accept_cb, (void *)(intptr_t)tls,
		    LEV_OPT_CLOSE_ON_FREE |
		    LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
		    LISTENER_BACKLOG, fds[i]);
		if (listeners[nlisteners] == NULL) {
			rc = error_set(err, TP_EIO, "cannot listen on %s: %s",
			    addr, strerror(errno));
			goto out;
		}
		fds[i] = -1;
		evconnlistener_set_error_cb(listeners[nlisteners],
		    listener_error_cb);
		nlisteners++;
	}
	for (i = first; i < nlisteners; i++) {
		len = sizeof ss;
		getsockname(evconnlistener_get_fd(listeners[i]),
		    (struct sockaddr *)&ss, &len);
		listener_name((struct sockaddr *)&ss, what, sizeof what);
		log_info("listening on %s%s", what, tls ? " (tls)" : "");
	}
out:
	for (i = 0; i < nfds; i++) {
		if (fds[i] != -1)
			close(fds[i]);
	}
	if (res != NULL)
		freeaddrinfo(res);
	if (rc != TP_OK)
		listener_stop();
	return (rc);
}

void
listener_stop(void)
{
	size_t	i;

	for (i = 0; i < nlisteners; i++)
		evconnlistener_free(listeners[i]);
	nlisteners = 0;
	if (listener_retry != NULL)
		event_free(listener_retry);
	listener_retry = NULL;
}
