/*
 * Dialling: a tupelo:// or tupelos:// URL into host and port, and those
 * into a connected non-blocking TCP socket (TCP_NODELAY, no SIGPIPE)
 * within a timeout.
 */
#include "client/dial.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/conn.h"
#include "proto/error.h"

/* Letters, digits, '-', '.', and ':' (IPv6): what a host can be. */
static int
dial_host_ok(const char *h, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		if (!isalnum((unsigned char)h[i]) && h[i] != '-' &&
		    h[i] != '.' && h[i] != ':' && h[i] != '_')
			return (0);
	}
	return (1);
}

int
dial_is_tls(const char *url)
{
	return (strncmp(url, "tupelos://", 10) == 0);
}

/*
 * Split "tupelo[s]://[user:pass@]host[:port][/]" into host and port. The
 * credentials are checked for shape only: the protocol has no login yet.
 */
int
dial_parse(const char *url, char *host, size_t hostsz, char *port,
    size_t portsz, struct tp_err *err)
{
	const char	*p, *end, *at, *h, *hend, *colon = NULL;
	char		*ep;
	unsigned long	 n;
	size_t		 len;

	if (dial_is_tls(url))
		p = url + 10;
	else if (strncmp(url, "tupelo://", 9) == 0)
		p = url + 9;
	else
		return (error_set(err, TP_EINVAL, "URL must start with "
		    "tupelo:// or tupelos://: %s", url));
	end = p + strlen(p);
	if (end > p && end[-1] == '/')
		end--;
	if ((at = memchr(p, '@', (size_t)(end - p))) != NULL) {
		if (memchr(p, ':', (size_t)(at - p)) == NULL || *p == ':')
			return (error_set(err, TP_EINVAL, "URL credentials "
			    "must be user:pass: %s", url));
		p = at + 1;
	}
	if (*p == '[') {
		h = p + 1;
		if ((hend = memchr(h, ']', (size_t)(end - h))) == NULL)
			return (error_set(err, TP_EINVAL, "URL has no ']': %s",
			    url));
		if (hend + 1 < end) {
			if (hend[1] != ':')
				goto bad;
			colon = hend + 1;
		}
	} else {
		h = p;
		hend = memchr(p, ':', (size_t)(end - p));
		if (hend != NULL)
			colon = hend;
		else
			hend = end;
	}
	len = (size_t)(hend - h);
	if (len == 0 || len >= hostsz || !dial_host_ok(h, len))
		goto bad;
	memcpy(host, h, len);
	host[len] = '\0';
	if (colon == NULL) {
		snprintf(port, portsz, "%d", TP_DEFAULT_PORT);
		return (TP_OK);
	}
	if (colon + 1 == end || colon[1] < '0' || colon[1] > '9')
		goto bad;
	errno = 0;
	n = strtoul(colon + 1, &ep, 10);
	if (errno != 0 || ep != end || n == 0 || n > 65535)
		goto bad;
	snprintf(port, portsz, "%lu", n);
	return (TP_OK);
bad:
	return (error_set(err, TP_EINVAL, "bad URL (want tupelo[s]://"
	    "[user:pass@]host[:port]): %s", url));
}

/* Connect one address within the deadline; returns the fd or -1. */
static int
dial_one(const struct addrinfo *ai, int64_t deadline, int *error)
{
	struct pollfd	pfd;
	socklen_t	len;
	int		fd, one = 1, rc;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
	    ai->ai_protocol);
	if (fd == -1) {
		*error = errno;
		return (-1);
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1)
		goto fail;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
#ifdef SO_NOSIGPIPE
	setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return (fd);
	if (errno != EINPROGRESS)
		goto fail;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	do {
		pfd.revents = 0;
		rc = poll(&pfd, 1, conn_remaining(deadline));
	} while (rc < 0 && errno == EINTR);
	if (rc <= 0) {
		errno = rc == 0 ? ETIMEDOUT : errno;
		goto fail;
	}
	len = sizeof rc;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &rc, &len) == -1)
		goto fail;
	if (rc == 0)
		return (fd);
	errno = rc;
fail:
	*error = errno;
	close(fd);
	return (-1);
}

int
dial_connect(const char *host, const char *port, int timeout_ms, int *out,
    struct tp_err *err)
{
	struct addrinfo	 hints, *res = NULL, *ai;
	int64_t		 deadline = conn_deadline(timeout_ms);
	int		 rc, fd = -1, error = 0;

	*out = -1;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0)
		return (error_set(err, TP_ECONN, "%s: %s", host,
		    gai_strerror(rc)));
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next) {
		if (conn_remaining(deadline) == 0)
			break;
		fd = dial_one(ai, deadline, &error);
	}
	freeaddrinfo(res);
	if ((*out = fd) != -1)
		return (TP_OK);
	if (error == ETIMEDOUT || conn_remaining(deadline) == 0)
		return (error_set(err, TP_ETIMEDOUT, "connect to %s port %s "
		    "timed out", host, port));
	return (error_set(err, TP_ECONN, "connect to %s port %s: %s", host,
	    port, strerror(error)));
}
