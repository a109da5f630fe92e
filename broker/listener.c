/*
 * Accepting connections. When accept fails for lack of descriptors the
 * listener is disabled and re-enabled from a timer, instead of spinning.
 */
#include "broker/listener.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <netdb.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <stdio.h>
#include <string.h>

#include "broker/conn.h"
#include "broker/log.h"
#include "proto/error.h"

#define LISTENER_BACKOFF_MS	200

static struct evconnlistener	*listener;
static struct event		*listener_retry;

static void
listener_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	conn_accept(fd, sa, salen);
}

static void
listener_retry_cb(evutil_socket_t fd, short events, void *arg)
{
	if (listener != NULL)
		evconnlistener_enable(listener);
}

static void
listener_error_cb(struct evconnlistener *l, void *arg)
{
	struct timeval	tv = { 0, LISTENER_BACKOFF_MS * 1000 };
	int		err = EVUTIL_SOCKET_ERROR();

	log_warn("accept failed: %s; retrying in %d ms",
	    evutil_socket_error_to_string(err), LISTENER_BACKOFF_MS);
	evconnlistener_disable(l);
	evtimer_add(listener_retry, &tv);
}

/* Parse "HOST:PORT" or "[V6]:PORT" (port 0: any) into ss. */
static int
listener_parse(const char *addr, struct sockaddr_storage *ss, int *slen)
{
	struct addrinfo	 hints, *ai = NULL;
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
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0 || ai == NULL)
		return (-1);
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*slen = (int)ai->ai_addrlen;
	freeaddrinfo(ai);
	return (0);
}

int
listener_start(struct event_base *base, const char *addr, struct tp_err *err)
{
	struct sockaddr_storage	ss;
	char			host[INET6_ADDRSTRLEN];
	socklen_t		len = sizeof ss;
	int			slen = sizeof ss, port;

	memset(&ss, 0, sizeof ss);
	if (listener_parse(addr, &ss, &slen) != 0)
		return (error_set(err, TP_EINVAL, "invalid listen address %s: "
		    "use HOST:PORT", addr));
	listener = evconnlistener_new_bind(base, listener_accept_cb, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    1024, (struct sockaddr *)&ss, slen);
	if (listener == NULL)
		return (error_set(err, TP_EIO, "cannot listen on %s: %s", addr,
		    strerror(errno)));
	evconnlistener_set_error_cb(listener, listener_error_cb);
	listener_retry = evtimer_new(base, listener_retry_cb, NULL);
	if (listener_retry == NULL)
		return (error_set(err, TP_ENOMEM, "out of memory"));
	getsockname(evconnlistener_get_fd(listener), (struct sockaddr *)&ss,
	    &len);
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
		port = ntohs(s6->sin6_port);
		log_info("listening on [%s]:%d", host, port);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
		port = ntohs(s4->sin_port);
		log_info("listening on %s:%d", host, port);
	}
	return (TP_OK);
}

void
listener_stop(void)
{
	if (listener != NULL)
		evconnlistener_free(listener);
	listener = NULL;
	if (listener_retry != NULL)
		event_free(listener_retry);
	listener_retry = NULL;
}
