/*
 * The http and lambda targets on libcurl's multi interface, driven by the
 * libevent loop: curl tells us which sockets to watch (one event each) and
 * when to wake it (one timer); every event hands the socket back through
 * fn_curl.multi_socket_action() and then collects finished transfers. The
 * multi handle's connection cache keeps connections alive between
 * requests. A request's done callback runs once, from a loop callback,
 * after its easy handle is gone; nothing here calls back into curl from
 * inside a curl callback. Loop thread only.
 */
#include "broker/fn_http.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <event2/event.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "broker/fn_curl.h"
#include "broker/log.h"
#include "broker/netguard.h"
#include "proto/compat.h"
#include "proto/error.h"

#define FN_HTTP_MAXCONNECTS	64	/* idle connections cached */
#define FN_HTTP_CONNECT_MS	10000	/* connect timeout cap */
#define FN_HTTP_HEAD		256	/* body bytes kept for error text */
#define FN_HTTP_ERROR_BODY	200	/* body bytes put in error text */
#define FN_HTTP_VALUE		128	/* X-Amz-Function-Error value kept */
#define FN_HTTP_OUT_MIN		1024	/* first output allocation */

struct fn_http {
	CURL			*easy;		/* owned */
	struct curl_slist	*headers;	/* owned: request headers */
	char			*body;		/* owned: the POST body */
	char			*host;		/* owned: for error text */
	fn_done_cb		 done;
	void			*arg;		/* borrowed: the caller's */
	int			 lambda;	/* function errors fail */
	size_t			 output_max;	/* bytes of body kept */

	char			*out;		/* owned: body kept, +NUL */
	size_t			 out_len;	/* bytes in out */
	size_t			 out_size;	/* bytes allocated */
	int			 truncated;	/* body beyond output_max */
	int			 nomem;		/* output allocation failed */
	char			 head[FN_HTTP_HEAD]; /* first body bytes */
	size_t			 head_len;

	int64_t			 retry_after_ms; /* -1: none */
	int			 fn_error;	/* X-Amz-Function-Error came */
	int			 refused;	/* netguard refused it */
	char			 fn_error_value[FN_HTTP_VALUE];
	char			 errbuf[CURL_ERROR_SIZE]; /* curl's detail */

	TAILQ_ENTRY(fn_http)	 entry;
};
TAILQ_HEAD(fn_http_list, fn_http);

/* A socket curl asked us to watch. */
struct fn_http_sock {
	curl_socket_t		 fd;
	int			 what;		/* CURL_POLL_* */
	struct event		*ev;		/* owned; NULL until watched */
	LIST_ENTRY(fn_http_sock) entry;
};
LIST_HEAD(fn_http_sock_list, fn_http_sock);

static struct event_base	*fn_http_base;	/* borrowed from main */
static CURLM			*fn_http_multi;	/* owned */
static struct event		*fn_http_timer;	/* owned: curl's timeout */
static int			 fn_http_global; /* curl_global_init done */
static size_t			 fn_http_count;	/* requests in flight */
static struct fn_http_list	 fn_http_all =
    TAILQ_HEAD_INITIALIZER(fn_http_all);
static struct fn_http_sock_list	 fn_http_socks =
    LIST_HEAD_INITIALIZER(fn_http_socks);

static void	fn_http_check(void);

/*
 * Append len bytes of src to the string in dst (size bytes) as printable
 * text: whitespace and control bytes become one space, other bytes
 * outside ASCII '?'. Stops when dst is full.
 */
static void
fn_http_append(char *dst, size_t size, const char *src, size_t len)
{
	size_t		 n = strlen(dst), i;
	unsigned char	 c;

	for (i = 0; i < len && n + 1 < size; i++) {
		c = (unsigned char)src[i];
		if (c < 0x20 || c == 0x7f || c == ' ') {
			if (n == 0 || dst[n - 1] == ' ')
				continue;
			c = ' ';
		} else if (c > 0x7f)
			c = '?';
		dst[n++] = (char)c;
	}
	dst[n] = '\0';
}

static void
fn_http_appendf(char *dst, size_t size, const char *fmt, ...)
    TP_PRINTF(3, 4);

static void
fn_http_appendf(char *dst, size_t size, const char *fmt, ...)
{
	char	tmp[FN_ERROR_MAX];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	fn_http_append(dst, size, tmp, strnlen(tmp, sizeof tmp));
}

/* Drop trailing spaces left by fn_http_append. */
static void
fn_http_trim(char *s)
{
	size_t	n = strlen(s);

	while (n > 0 && s[n - 1] == ' ')
		s[--n] = '\0';
}

static int64_t
fn_http_now_ms(void)
{
	struct timeval	tv;

	gettimeofday(&tv, NULL);
	return ((int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000);
}

/*
 * A Retry-After value in ms: delta seconds, or an HTTP date from now
 * (never negative); -1 if it is neither.
 */
static int64_t
fn_http_retry_after(const char *s)
{
	const char	*p;
	int64_t		 secs = 0, ms;
	time_t		 t;

	if (*s == '\0')
		return (-1);
	for (p = s; *p >= '0' && *p <= '9'; p++) {
		if (secs < INT64_MAX / 10000)
			secs = secs * 10 + (*p - '0');
	}
	if (*p == '\0')
		return (secs * 1000);
	if ((t = fn_curl.getdate(s, NULL)) == -1)
		return (-1);
	ms = (int64_t)t * 1000 - fn_http_now_ms();
	return (ms < 0 ? 0 : ms);
}

/* curl: one response header line (not NUL-terminated). */
static size_t
fn_http_header_cb(char *data, size_t size, size_t nitems, void *arg)
{
	struct fn_http	*req = arg;
	size_t		 len = size * nitems, nlen, vlen;
	const char	*colon, *v;
	char		 value[FN_HTTP_VALUE];

	/* A new status line: a new response (after 1xx); forget the last. */
	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		req->retry_after_ms = -1;
		req->fn_error = 0;
		req->fn_error_value[0] = '\0';
		return (len);
	}
	if ((colon = memchr(data, ':', len)) == NULL)
		return (len);
	nlen = colon - data;
	while (nlen > 0 && (data[nlen - 1] == ' ' || data[nlen - 1] == '\t'))
		nlen--;
	v = colon + 1;
	vlen = len - (v - data);
	while (vlen > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t' ||
	    v[vlen - 1] == '\r' || v[vlen - 1] == '\n'))
		vlen--;
	if (vlen >= sizeof value)
		vlen = sizeof value - 1;
	memcpy(value, v, vlen);
	value[vlen] = '\0';

	if (nlen == 11 && strncasecmp(data, "Retry-After", nlen) == 0)
		req->retry_after_ms = fn_http_retry_after(value);
	else if (nlen == 20 &&
	    strncasecmp(data, "X-Amz-Function-Error", nlen) == 0) {
		req->fn_error = 1;
		req->fn_error_value[0] = '\0';
		fn_http_append(req->fn_error_value,
		    sizeof req->fn_error_value, value, vlen);
	}
	return (len);
}

/* curl: response body bytes; keep output_max of them, drop the rest. */
static size_t
fn_http_write_cb(char *data, size_t size, size_t nitems, void *arg)
{
	struct fn_http	*req = arg;
	size_t		 len = size * nitems, n, want, cap;
	char		*out;

	n = sizeof req->head - req->head_len;
	if (n > len)
		n = len;
	memcpy(req->head + req->head_len, data, n);
	req->head_len += n;

	n = req->output_max - req->out_len;
	if (n > len)
		n = len;
	if (n < len)
		req->truncated = 1;
	if (n == 0)
		return (len);
	if (req->out_len + n + 1 > req->out_size) {
		want = req->out_size == 0 ? FN_HTTP_OUT_MIN : req->out_size;
		while (want < req->out_len + n + 1 && want < SIZE_MAX / 2)
			want *= 2;
		cap = req->output_max < SIZE_MAX ? req->output_max + 1 :
		    SIZE_MAX;
		if (want > cap)
			want = cap;
		if ((out = realloc(req->out, want)) == NULL) {
			req->nomem = 1;
			return (0);
		}
		req->out = out;
		req->out_size = want;
	}
	memcpy(req->out + req->out_len, data, n);
	req->out_len += n;
	req->out[req->out_len] = '\0';
	return (len);
}

/* Free a request's memory; its easy handle must be gone already. */
static void
fn_http_free(struct fn_http *req)
{
	fn_curl.slist_free_all(req->headers);
	free(req->body);
	free(req->host);
	free(req->out);
	free(req);
}

/* Take req off the multi handle and out of the list, and free it. */
static void
fn_http_remove(struct fn_http *req)
{
	TAILQ_REMOVE(&fn_http_all, req, entry);
	fn_http_count--;
	if (req->easy != NULL) {
		fn_curl.multi_remove_handle(fn_http_multi, req->easy);
		fn_curl.easy_cleanup(req->easy);
		req->easy = NULL;
	}
}

/* Classify the end of a transfer into res. */
static void
fn_http_classify(struct fn_http *req, CURLcode code, struct fn_result *res)
{
	long	status = 0;
	size_t	body;

	memset(res, 0, sizeof *res);
	res->retry_after_ms = -1;
	res->status = -1;
	res->output = req->out != NULL ? req->out : "";
	res->output_len = req->out_len;
	res->output_truncated = req->truncated;

	if (code == CURLE_OK)
		fn_curl.easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE,
		    &status);
	if (code != CURLE_OK && req->refused) {
		/* Not worth a retry: the name leads there every time. */
		fn_http_appendf(res->error, sizeof res->error, "%s: refused: "
		    "it resolves to a link-local or cloud metadata address",
		    req->host);
		return;
	}
	if (code != CURLE_OK || status <= 0) {
		res->retry = 1;
		res->timed_out = code == CURLE_OPERATION_TIMEDOUT;
		if (req->nomem) {
			fn_http_appendf(res->error, sizeof res->error,
			    "%s: out of memory for the response", req->host);
		} else {
			fn_http_appendf(res->error, sizeof res->error,
			    "%s: %s", req->host, req->errbuf[0] != '\0' ?
			    req->errbuf : fn_curl.easy_strerror(code));
		}
		fn_http_trim(res->error);
		return;
	}
	res->status = (int)status;
	body = req->head_len < FN_HTTP_ERROR_BODY ? req->head_len :
	    FN_HTTP_ERROR_BODY;

	if (status >= 200 && status <= 299) {
		if (!req->lambda || !req->fn_error) {
			res->ok = 1;
			return;
		}
		res->retry = 1;
		res->retry_after_ms = req->retry_after_ms;
		fn_http_appendf(res->error, sizeof res->error,
		    "function error %s: ", req->fn_error_value);
		fn_http_append(res->error, sizeof res->error, req->head, body);
		fn_http_trim(res->error);
		return;
	}
	res->retry = status == 404 || status == 409 || status == 429 ||
	    (status >= 500 && status <= 599);
	res->retry_after_ms = req->retry_after_ms;
	fn_http_appendf(res->error, sizeof res->error, "HTTP %ld", status);
	if (body != 0) {
		fn_http_append(res->error, sizeof res->error, ": ", 2);
		fn_http_append(res->error, sizeof res->error, req->head, body);
	}
	fn_http_trim(res->error);
}

/* A transfer ended: report it once and free the request. */
static void
fn_http_finish(struct fn_http *req, CURLcode code)
{
	struct fn_result	res;

	fn_http_classify(req, code, &res);
	log_debug("%s: host=%s status=%d ok=%d retry=%d curl=%d", __func__,
	    req->host, res.status, res.ok, res.retry, (int)code);
	/* No curl calls after done: it may stop the module. */
	fn_http_remove(req);
	req->done(req->arg, &res);
	fn_http_free(req);
}

/* Collect the transfers curl has finished. */
static void
fn_http_check(void)
{
	CURLMsg		*msg;
	struct fn_http	*req;
	CURLcode	 code;
	char		*p;
	int		 left;

	while (fn_http_multi != NULL &&
	    (msg = fn_curl.multi_info_read(fn_http_multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		code = msg->data.result;
		p = NULL;
		fn_curl.easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &p);
		if ((req = (struct fn_http *)p) == NULL)
			continue;
		fn_http_finish(req, code);
	}
}

static void
fn_http_socket_action(curl_socket_t fd, int action)
{
	int	running;

	if (fn_http_multi == NULL)
		return;
	fn_curl.multi_socket_action(fn_http_multi, fd, action, &running);
	fn_http_check();
}

/* libevent: a watched socket is ready. */
static void
fn_http_event_cb(evutil_socket_t fd, short events, void *arg)
{
	int	action = 0;

	if (events & EV_READ)
		action |= CURL_CSELECT_IN;
	if (events & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	fn_http_socket_action(fd, action);
}

/* libevent: curl's timeout. */
static void
fn_http_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	fn_http_socket_action(CURL_SOCKET_TIMEOUT, 0);
}

static void
fn_http_sock_free(struct fn_http_sock *sk)
{
	LIST_REMOVE(sk, entry);
	if (sk->ev != NULL)
		event_free(sk->ev);
	free(sk);
}

/* curl: watch fd for what (CURL_POLL_*), or stop watching it. */
static int
fn_http_curl_sock_cb(CURL *easy, curl_socket_t fd, int what, void *userp,
    void *socketp)
{
	struct fn_http_sock	*sk = socketp;
	short			 events = EV_PERSIST;

	if (what == CURL_POLL_REMOVE) {
		if (sk != NULL)
			fn_http_sock_free(sk);
		return (0);
	}
	if (sk == NULL) {
		if ((sk = calloc(1, sizeof *sk)) == NULL)
			return (-1);
		sk->fd = fd;
		LIST_INSERT_HEAD(&fn_http_socks, sk, entry);
		if (fn_curl.multi_assign(fn_http_multi, fd, sk) != CURLM_OK) {
			fn_http_sock_free(sk);
			return (-1);
		}
	}
	if (sk->ev != NULL && sk->what == what)
		return (0);
	if (sk->ev != NULL) {
		event_free(sk->ev);
		sk->ev = NULL;
	}
	sk->what = what;
	if (what & CURL_POLL_IN)
		events |= EV_READ;
	if (what & CURL_POLL_OUT)
		events |= EV_WRITE;
	if ((sk->ev = event_new(fn_http_base, fd, events, fn_http_event_cb,
	    sk)) == NULL || event_add(sk->ev, NULL) != 0) {
		log_warn("http target cannot watch fd=%d", (int)fd);
		return (-1);
	}
	return (0);
}

/* curl: wake it in timeout_ms (0: soon, from the loop), or never (-1). */
static int
fn_http_curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct timeval	tv;

	if (timeout_ms < 0) {
		evtimer_del(fn_http_timer);
		return (0);
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	return (evtimer_add(fn_http_timer, &tv) == 0 ? 0 : -1);
}

static void	fn_http_teardown(void);

int
fn_http_start(struct event_base *base, struct tp_err *err)
{
	if (fn_http_base != NULL)
		return (error_set(err, TP_EINVAL, "http targets started"));
	fn_http_base = base;
	return (TP_OK);
}

/* The first request: load libcurl and set up the multi handle. */
static int
fn_http_setup(struct tp_err *err)
{
	CURLcode	cc;
	int		code;

	if ((code = fn_curl_load(err)) != TP_OK)
		return (code);
	if (!fn_http_global) {
		if ((cc = fn_curl.global_init(CURL_GLOBAL_DEFAULT)) !=
		    CURLE_OK)
			return (error_set(err, TP_EINTERNAL,
			    "cannot set up libcurl: %s",
			    fn_curl.easy_strerror(cc)));
		fn_http_global = 1;
	}
	if ((fn_http_timer = evtimer_new(fn_http_base, fn_http_timer_cb,
	    NULL)) == NULL)
		goto nomem;
	if ((fn_http_multi = fn_curl.multi_init()) == NULL)
		goto nomem;
	if (fn_curl.multi_setopt(fn_http_multi, CURLMOPT_SOCKETFUNCTION,
	    fn_http_curl_sock_cb) != CURLM_OK ||
	    fn_curl.multi_setopt(fn_http_multi, CURLMOPT_TIMERFUNCTION,
	    fn_http_curl_timer_cb) != CURLM_OK ||
	    fn_curl.multi_setopt(fn_http_multi, CURLMOPT_MAXCONNECTS,
	    (long)FN_HTTP_MAXCONNECTS) != CURLM_OK) {
		fn_http_teardown();
		return (error_set(err, TP_EINTERNAL,
		    "cannot set up the libcurl multi handle"));
	}
	return (TP_OK);

nomem:
	fn_http_teardown();
	return (error_set(err, TP_ENOMEM, "out of memory"));
}

/* Abandon every request and free libcurl's state (it stays loaded). */
static void
fn_http_teardown(void)
{
	struct fn_http		*req;
	struct fn_http_sock	*sk;

	while ((req = TAILQ_FIRST(&fn_http_all)) != NULL) {
		fn_http_remove(req);
		fn_http_free(req);
	}
	/* Closing cached connections may still call the socket callback. */
	if (fn_http_multi != NULL)
		fn_curl.multi_cleanup(fn_http_multi);
	fn_http_multi = NULL;
	while ((sk = LIST_FIRST(&fn_http_socks)) != NULL)
		fn_http_sock_free(sk);
	if (fn_http_timer != NULL)
		event_free(fn_http_timer);
	fn_http_timer = NULL;
	if (fn_http_global)
		fn_curl.global_cleanup();
	fn_http_global = 0;
}

void
fn_http_stop(void)
{
	fn_http_teardown();
	fn_http_base = NULL;
}

/*
 * Check the URL (http or https, with a host) and keep its host for error
 * text: never the user name or password it may carry.
 */
static int
fn_http_url(struct fn_http *req, const char *url, struct tp_err *err)
{
	CURLU	*u;
	char	*scheme = NULL, *host = NULL;
	int	 rc = TP_OK;

	if ((u = fn_curl.url()) == NULL)
		return (error_set(err, TP_ENOMEM, "out of memory"));
	if (fn_curl.url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    fn_curl.url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    fn_curl.url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		rc = error_set(err, TP_EINVAL, "bad URL");
		goto out;
	}
	if (strcasecmp(scheme, "http") != 0 &&
	    strcasecmp(scheme, "https") != 0) {
		rc = error_set(err, TP_EINVAL, "URL is not http or https");
		goto out;
	}
	if ((req->host = strdup(host)) == NULL)
		rc = error_set(err, TP_ENOMEM, "out of memory");
out:
	fn_curl.free(scheme);
	fn_curl.free(host);
	fn_curl.url_cleanup(u);
	return (rc);
}

/* Is s fit for a header line: no CR, LF or NUL games? */
static int
fn_http_header_ok(const char *s)
{
	return (strpbrk(s, "\r\n") == NULL);
}

/* The request's header list: Content-Type, the caller's, no Expect. */
static int
fn_http_headers(struct fn_http *req, const struct fn_http_req *r,
    struct tp_err *err)
{
	struct curl_slist	*l;
	const char *const	*h;
	const char		*ct;
	char			*line = NULL;
	size_t			 len;
	int			 own_ct = 0;

	for (h = r->headers; h != NULL && *h != NULL; h++) {
		if (!fn_http_header_ok(*h) || strchr(*h, ':') == NULL)
			return (error_set(err, TP_EINVAL, "bad header line"));
		if (strncasecmp(*h, "Content-Type:", 13) == 0)
			own_ct = 1;
	}
	ct = r->content_type != NULL ? r->content_type :
	    "application/octet-stream";
	if (!fn_http_header_ok(ct))
		return (error_set(err, TP_EINVAL, "bad content type"));
	if (!own_ct) {
		len = strlen(ct) + sizeof "Content-Type: ";
		if ((line = malloc(len)) == NULL)
			goto nomem;
		snprintf(line, len, "Content-Type: %s", ct);
		if ((l = fn_curl.slist_append(req->headers, line)) == NULL)
			goto nomem;
		req->headers = l;
		free(line);
		line = NULL;
	}
	for (h = r->headers; h != NULL && *h != NULL; h++) {
		if ((l = fn_curl.slist_append(req->headers, *h)) == NULL)
			goto nomem;
		req->headers = l;
	}
	/* No "Expect: 100-continue": the body goes without waiting. */
	if ((l = fn_curl.slist_append(req->headers, "Expect:")) == NULL)
		goto nomem;
	req->headers = l;
	return (TP_OK);

nomem:
	free(line);
	return (error_set(err, TP_ENOMEM, "out of memory"));
}

/*
 * Open the socket of a connection libcurl is about to make, unless the
 * resolved address is one no trigger may reach (broker/netguard).
 */
static curl_socket_t
fn_http_open_cb(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct fn_http	*req = arg;

	(void)purpose;
	if (netguard_refused(&a->addr)) {
		req->refused = 1;
		return (CURL_SOCKET_BAD);
	}
	return (socket(a->family, a->socktype, a->protocol));
}

/* The easy handle's options for req. */
static int
fn_http_setopt(struct fn_http *req, const struct fn_http_req *r)
{
	CURL	*e = req->easy;
	long	 connect_ms;

	connect_ms = r->timeout_ms < FN_HTTP_CONNECT_MS ? r->timeout_ms :
	    FN_HTTP_CONNECT_MS;
	if (fn_curl.easy_setopt(e, CURLOPT_PRIVATE, (char *)req) != CURLE_OK ||
	    fn_curl.easy_setopt(e, CURLOPT_URL, r->url) != CURLE_OK ||
	    fn_curl.easy_setopt(e, CURLOPT_PROTOCOLS_STR,
	    "http,https") != CURLE_OK ||
	    fn_curl.easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    fn_curl.easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    fn_curl.easy_setopt(e, CURLOPT_USERAGENT, "tupelod") != CURLE_OK ||
	    fn_curl.easy_setopt(e, CURLOPT_TIMEOUT_MS,
	    (long)r->timeout_ms) != CURLE_OK ||
	    fn_curl.easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
	    connect_ms) != CURLE_OK ||
	    fn_curl.easy_setopt(e, CURLOPT_ERRORBUFFER, req->errbuf) !=
	    CURLE_OK ||
	    fn_curl.easy_setopt(e, CURLOPT_POST, 1L) != CURLE_OK ||
	    fn_curl.easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)r->len) != CURLE_OK ||
	    fn_curl.easy_setopt(e, CURLOPT_POSTFIELDS,
	    req->body != NULL ? req->body : "") != CURLE_OK ||
	    fn_curl.easy_setopt(e, CURLOPT_HTTPHEADER, req->headers) !=
	    CURLE_OK ||
	    fn_curl.easy_setopt(e, CURLOPT_HEADERFUNCTION,
	    fn_http_header_cb) != CURLE_OK ||
	    fn_curl.easy_setopt(e, CURLOPT_HEADERDATA, req) != CURLE_OK ||
	    fn_curl.easy_setopt(e, CURLOPT_WRITEFUNCTION,
	    fn_http_write_cb) != CURLE_OK ||
	    fn_curl.easy_setopt(e, CURLOPT_WRITEDATA, req) != CURLE_OK ||
	    fn_curl.easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION,
	    fn_http_open_cb) != CURLE_OK ||
	    fn_curl.easy_setopt(e, CURLOPT_OPENSOCKETDATA, req) != CURLE_OK)
		return (TP_EINTERNAL);
	return (TP_OK);
}

int
fn_http_post(const struct fn_http_req *r, fn_done_cb done, void *arg,
    struct fn_http **out, struct tp_err *err)
{
	struct fn_http	*req = NULL;
	int		 rc;

	if (fn_http_base == NULL) {
		rc = error_set(err, TP_ESHUTDOWN, "http targets not running");
		goto fail;
	}
	if (fn_http_multi == NULL && (rc = fn_http_setup(err)) != TP_OK)
		goto fail;
	if (r->url == NULL || done == NULL || r->timeout_ms <= 0 ||
	    (r->body == NULL && r->len != 0)) {
		rc = error_set(err, TP_EINVAL, "bad http request");
		goto fail;
	}
	if ((req = calloc(1, sizeof *req)) == NULL) {
		rc = error_set(err, TP_ENOMEM, "out of memory");
		goto fail;
	}
	req->body = r->body;
	req->done = done;
	req->arg = arg;
	req->lambda = r->lambda;
	req->output_max = r->output_max;
	req->retry_after_ms = -1;
	if ((rc = fn_http_url(req, r->url, err)) != TP_OK ||
	    (rc = fn_http_headers(req, r, err)) != TP_OK)
		goto fail;
	if ((req->easy = fn_curl.easy_init()) == NULL) {
		rc = error_set(err, TP_ENOMEM, "out of memory");
		goto fail;
	}
	if (fn_http_setopt(req, r) != TP_OK) {
		rc = error_set(err, TP_EINTERNAL, "cannot set up the request");
		goto fail;
	}
	/* Adding only arms curl's timer: done cannot run from here. */
	if (fn_curl.multi_add_handle(fn_http_multi, req->easy) != CURLM_OK) {
		rc = error_set(err, TP_EINTERNAL, "cannot start the request");
		goto fail;
	}
	TAILQ_INSERT_TAIL(&fn_http_all, req, entry);
	fn_http_count++;
	if (out != NULL)
		*out = req;
	return (TP_OK);

fail:
	if (req == NULL)
		free(r->body);
	else {
		if (req->easy != NULL)
			fn_curl.easy_cleanup(req->easy);
		fn_http_free(req);
	}
	return (rc);
}

void
fn_http_cancel(struct fn_http *req)
{
	if (req == NULL)
		return;
	fn_http_remove(req);
	fn_http_free(req);
}

size_t
fn_http_running(void)
{
	return (fn_http_count);
}
