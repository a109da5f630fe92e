/*
 * Unit tests of broker/fn_http against a real HTTP server on 127.0.0.1
 * (tests/unit/fn_http_server.py, found under $srcdir, started once for
 * the group): success and echo, request headers, the classification of
 * statuses, Retry-After in both forms, timeouts, refused connections,
 * Lambda function errors, output truncation, keep-alive, many requests
 * at once, cancel and stop with requests in flight, and bad requests
 * refused without a callback. Each test gets its own event base and
 * fn_http_start/fn_http_stop; an alarm is the watchdog.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <event2/event.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "broker/fn_http.h"
#include "client/tupelo/tupelo.h"

#define WATCHDOG_S	60	/* a hung test dies */
#define NCONCURRENT	50
#define NSEQUENTIAL	20

extern char	**environ;

struct call {
	int		 calls;		/* done callbacks seen */
	struct fn_result res;		/* the last one, output NULL */
	char		*output;	/* owned: copy of res.output */
	size_t		 output_len;
};

static pid_t			 server_pid = -1;
static int			 server_port;
static int			 server_stdin = -1; /* its EOF ends it */
static struct event_base	*base;
static int			 finished;	/* callbacks, all calls */
static int			 in_post;	/* inside fn_http_post */

static void
call_clear(struct call *c)
{
	free(c->output);
	memset(c, 0, sizeof *c);
}

static void
done_cb(void *arg, const struct fn_result *res)
{
	struct call	*c = arg;

	assert_false(in_post);
	c->calls++;
	finished++;
	c->res = *res;
	c->res.output = NULL;
	free(c->output);
	c->output = malloc(res->output_len + 1);
	assert_non_null(c->output);
	assert_true(res->output != NULL || res->output_len == 0);
	if (res->output_len != 0)
		memcpy(c->output, res->output, res->output_len);
	c->output[res->output_len] = '\0';
	c->output_len = res->output_len;
}

static int
group_setup(void **state)
{
	posix_spawn_file_actions_t	 fa;
	const char			*srcdir;
	char				 path[PATH_MAX], line[64];
	char				*argv[3];
	FILE				*f;
	int				 out[2], in[2];

	if ((srcdir = getenv("srcdir")) == NULL)
		srcdir = ".";
	snprintf(path, sizeof path, "%s/tests/unit/fn_http_server.py",
	    srcdir);
	if (pipe(out) != 0 || pipe(in) != 0)
		return (-1);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
	posix_spawn_file_actions_addclose(&fa, out[0]);
	posix_spawn_file_actions_addclose(&fa, out[1]);
	posix_spawn_file_actions_addclose(&fa, in[0]);
	posix_spawn_file_actions_addclose(&fa, in[1]);
	argv[0] = "python3";
	argv[1] = path;
	argv[2] = NULL;
	if (posix_spawnp(&server_pid, "python3", &fa, NULL, argv,
	    environ) != 0) {
		fprintf(stderr, "cannot run python3 %s\n", path);
		return (-1);
	}
	posix_spawn_file_actions_destroy(&fa);
	close(out[1]);
	close(in[0]);
	server_stdin = in[1];
	if ((f = fdopen(out[0], "r")) == NULL)
		return (-1);
	if (fgets(line, sizeof line, f) == NULL) {
		fprintf(stderr, "%s did not report its port\n", path);
		fclose(f);
		return (-1);
	}
	fclose(f);
	server_port = atoi(line);
	return (server_port > 0 ? 0 : -1);
}

static int
group_teardown(void **state)
{
	int	status;

	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		waitpid(server_pid, &status, 0);
	}
	if (server_stdin != -1)
		close(server_stdin);
	return (0);
}

static int
setup(void **state)
{
	struct tp_err	err;

	alarm(WATCHDOG_S);
	finished = 0;
	if ((base = event_base_new()) == NULL)
		return (-1);
	if (fn_http_start(base, &err) != TP_OK) {
		fprintf(stderr, "fn_http_start: %s\n", err.message);
		return (-1);
	}
	return (0);
}

static int
teardown(void **state)
{
	fn_http_stop();
	event_base_free(base);
	base = NULL;
	alarm(0);
	return (0);
}

/* A request to path on the test server with body (copied, may be NULL). */
static void
req_init(struct fn_http_req *r, char *url, size_t size, int port,
    const char *path, const char *body)
{
	snprintf(url, size, "http://127.0.0.1:%d%s", port, path);
	memset(r, 0, sizeof *r);
	r->url = url;
	r->content_type = "text/plain";
	if (body != NULL) {
		r->len = strlen(body);
		r->body = malloc(r->len + 1);
		assert_non_null(r->body);
		memcpy(r->body, body, r->len + 1);
	}
	r->timeout_ms = 10000;
	r->output_max = 1 << 20;
}

static void
post(const struct fn_http_req *r, struct call *c, struct fn_http **out)
{
	struct tp_err	 err;
	struct fn_http	*h;
	int		 rc;

	in_post = 1;
	rc = fn_http_post(r, done_cb, c, out != NULL ? out : &h, &err);
	in_post = 0;
	if (rc != TP_OK)
		fail_msg("fn_http_post: %s", err.message);
}

/* Run the loop until n callbacks in all have come. */
static void
wait_finished(int n)
{
	while (finished < n)
		assert_int_equal(event_base_loop(base, EVLOOP_ONCE), 0);
}

/* Run the loop for ms milliseconds. */
static void
run_for(int ms)
{
	struct timeval	tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* Post body to path, wait for the answer into c. */
static void
run(struct fn_http_req *r, struct call *c)
{
	int	n = finished;

	post(r, c, NULL);
	assert_int_equal(c->calls, 0);
	assert_int_equal(fn_http_running(), 1);
	wait_finished(n + 1);
	assert_int_equal(c->calls, 1);
	assert_int_equal(fn_http_running(), 0);
}

static void
run_path(const char *path, const char *body, struct call *c)
{
	struct fn_http_req	r;
	char			url[256];

	req_init(&r, url, sizeof url, server_port, path, body);
	run(&r, c);
}

static void
assert_printable(const char *s)
{
	for (; *s != '\0'; s++)
		assert_true(*s >= 0x20 && *s < 0x7f);
}

static int
closed_port(void)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof sin;
	int			fd, port;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	close(fd);
	return (port);
}

/* The server's count of distinct client connections so far. */
static long
server_connections(void)
{
	struct call	 c = { 0 };
	const char	*p;
	long		 n;

	run_path("/stats", NULL, &c);
	assert_int_equal(c.res.ok, 1);
	p = strstr(c.output, "\"connections\": ");
	assert_non_null(p);
	n = strtol(p + strlen("\"connections\": "), NULL, 10);
	call_clear(&c);
	return (n);
}

static void
test_fn_http_ok_echo(void **state)
{
	struct call	c = { 0 };

	run_path("/ok", "hello, world", &c);
	assert_int_equal(c.res.ok, 1);
	assert_int_equal(c.res.retry, 0);
	assert_int_equal(c.res.status, 200);
	assert_int_equal(c.res.retry_after_ms, -1);
	assert_int_equal(c.res.timed_out, 0);
	assert_int_equal(c.res.output_truncated, 0);
	assert_string_equal(c.res.error, "");
	assert_int_equal(c.output_len, strlen("hello, world"));
	assert_string_equal(c.output, "hello, world");
	call_clear(&c);
}

static void
test_fn_http_empty_body(void **state)
{
	struct call	c = { 0 };

	run_path("/ok", NULL, &c);
	assert_int_equal(c.res.ok, 1);
	assert_int_equal(c.res.status, 200);
	assert_int_equal(c.output_len, 0);
	call_clear(&c);
}

static void
test_fn_http_headers(void **state)
{
	const char		*hdrs[] = { "X-Test: yes", "X-Other:  two  ",
				    NULL };
	struct fn_http_req	 r;
	struct call		 c = { 0 };
	char			 url[256];

	req_init(&r, url, sizeof url, server_port, "/headers", "{}");
	r.content_type = "application/cloudevents+json";
	r.headers = hdrs;
	run(&r, &c);
	assert_int_equal(c.res.ok, 1);
	assert_non_null(strstr(c.output,
	    "\"Content-Type\": \"application/cloudevents+json\""));
	assert_non_null(strstr(c.output, "\"X-Test\": \"yes\""));
	assert_non_null(strstr(c.output, "\"X-Other\": \"two"));
	assert_non_null(strstr(c.output, "\"User-Agent\": \"tupelod\""));
	assert_non_null(strstr(c.output, "\"Content-Length\": \"2\""));
	assert_null(strstr(c.output, "Expect"));
	call_clear(&c);
}

static void
test_fn_http_503_retry_after(void **state)
{
	struct call	c = { 0 };

	run_path("/status/503?retry_after=2", "x", &c);
	assert_int_equal(c.res.ok, 0);
	assert_int_equal(c.res.retry, 1);
	assert_int_equal(c.res.status, 503);
	assert_int_equal(c.res.retry_after_ms, 2000);
	assert_int_equal(c.res.timed_out, 0);
	assert_true(strncmp(c.res.error, "HTTP 503", 8) == 0);
	assert_non_null(strstr(c.res.error, "oops"));
	assert_non_null(strstr(c.res.error, "status 503"));
	assert_printable(c.res.error);
	/* The body still comes out whole. */
	assert_non_null(memchr(c.output, '\x01', c.output_len));
	call_clear(&c);

	run_path("/status/503?retry_after=soon", "x", &c);
	assert_int_equal(c.res.retry, 1);
	assert_int_equal(c.res.retry_after_ms, -1);
	call_clear(&c);

	run_path("/status/500", "x", &c);
	assert_int_equal(c.res.retry, 1);
	assert_int_equal(c.res.status, 500);
	assert_int_equal(c.res.retry_after_ms, -1);
	call_clear(&c);
}

static void
test_fn_http_retry_after_date(void **state)
{
	struct call	c = { 0 };

	run_path("/retry-date", "x", &c);
	assert_int_equal(c.res.ok, 0);
	assert_int_equal(c.res.retry, 1);
	assert_int_equal(c.res.status, 503);
	assert_in_range(c.res.retry_after_ms, 1000, 4000);
	call_clear(&c);
}

static void
test_fn_http_400_no_retry(void **state)
{
	struct call	c = { 0 };

	run_path("/status/400", "x", &c);
	assert_int_equal(c.res.ok, 0);
	assert_int_equal(c.res.retry, 0);
	assert_int_equal(c.res.status, 400);
	assert_int_equal(c.res.retry_after_ms, -1);
	assert_true(strncmp(c.res.error, "HTTP 400", 8) == 0);
	assert_printable(c.res.error);
	call_clear(&c);
}

static void
test_fn_http_retryable_4xx(void **state)
{
	static const int	 codes[] = { 404, 409, 429 };
	struct call		 c = { 0 };
	char			 path[64], want[32];
	size_t			 i;

	for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		snprintf(path, sizeof path, "/status/%d", codes[i]);
		run_path(path, "x", &c);
		assert_int_equal(c.res.ok, 0);
		assert_int_equal(c.res.retry, 1);
		assert_int_equal(c.res.status, codes[i]);
		snprintf(want, sizeof want, "HTTP %d", codes[i]);
		assert_true(strncmp(c.res.error, want, strlen(want)) == 0);
		call_clear(&c);
	}
	run_path("/status/429?retry_after=7", "x", &c);
	assert_int_equal(c.res.retry, 1);
	assert_int_equal(c.res.retry_after_ms, 7000);
	call_clear(&c);
}

static void
test_fn_http_redirect_not_followed(void **state)
{
	struct call	c = { 0 };

	run_path("/redirect", "x", &c);
	assert_int_equal(c.res.ok, 0);
	assert_int_equal(c.res.retry, 0);
	assert_int_equal(c.res.status, 302);
	assert_string_equal(c.output, "moved");
	call_clear(&c);
}

static void
test_fn_http_timeout(void **state)
{
	struct fn_http_req	r;
	struct call		c = { 0 };
	char			url[256];

	req_init(&r, url, sizeof url, server_port, "/slow?ms=3000", "x");
	r.timeout_ms = 300;
	run(&r, &c);
	assert_int_equal(c.res.ok, 0);
	assert_int_equal(c.res.retry, 1);
	assert_int_equal(c.res.timed_out, 1);
	assert_int_equal(c.res.status, -1);
	assert_int_equal(c.res.retry_after_ms, -1);
	assert_non_null(strstr(c.res.error, "127.0.0.1"));
	assert_printable(c.res.error);
	call_clear(&c);
}

static void
test_fn_http_refused(void **state)
{
	struct fn_http_req	r;
	struct call		c = { 0 };
	char			url[256];

	req_init(&r, url, sizeof url, closed_port(), "/ok", "x");
	run(&r, &c);
	assert_int_equal(c.res.ok, 0);
	assert_int_equal(c.res.retry, 1);
	assert_int_equal(c.res.status, -1);
	assert_int_equal(c.res.timed_out, 0);
	assert_int_equal(c.res.retry_after_ms, -1);
	assert_true(strlen(c.res.error) > strlen("127.0.0.1: "));
	assert_true(strncmp(c.res.error, "127.0.0.1: ", 11) == 0);
	assert_printable(c.res.error);
	call_clear(&c);
}

static void
test_fn_http_lambda_error(void **state)
{
	struct fn_http_req	r;
	struct call		c = { 0 };
	char			url[256];

	req_init(&r, url, sizeof url, server_port, "/lambda-error", "{}");
	r.lambda = 1;
	run(&r, &c);
	assert_int_equal(c.res.ok, 0);
	assert_int_equal(c.res.retry, 1);
	assert_int_equal(c.res.status, 200);
	assert_non_null(strstr(c.res.error, "function error Unhandled"));
	assert_non_null(strstr(c.res.error, "boom"));
	assert_string_equal(c.output, "{\"errorMessage\":\"boom\"}");
	call_clear(&c);

	/* A plain webhook does not care about the header. */
	req_init(&r, url, sizeof url, server_port, "/lambda-error", "{}");
	run(&r, &c);
	assert_int_equal(c.res.ok, 1);
	assert_int_equal(c.res.retry, 0);
	assert_string_equal(c.res.error, "");
	call_clear(&c);

	/* A Lambda answer without the header is a success. */
	req_init(&r, url, sizeof url, server_port, "/ok", "{}");
	r.lambda = 1;
	run(&r, &c);
	assert_int_equal(c.res.ok, 1);
	call_clear(&c);
}

static void
test_fn_http_truncate(void **state)
{
	struct fn_http_req	 r;
	struct call		 c = { 0 };
	char			 url[256];
	size_t			 i;

	req_init(&r, url, sizeof url, server_port, "/big?n=100000", "x");
	r.output_max = 1000;
	run(&r, &c);
	assert_int_equal(c.res.ok, 1);
	assert_int_equal(c.output_len, 1000);
	assert_int_equal(c.res.output_truncated, 1);
	for (i = 0; i < c.output_len; i++)
		assert_int_equal(c.output[i], 'x');
	call_clear(&c);

	req_init(&r, url, sizeof url, server_port, "/big?n=100000", "x");
	r.output_max = 100000;
	run(&r, &c);
	assert_int_equal(c.output_len, 100000);
	assert_int_equal(c.res.output_truncated, 0);
	call_clear(&c);

	/* Nothing kept, yet an error still shows the body's start. */
	req_init(&r, url, sizeof url, server_port, "/status/503", "x");
	r.output_max = 0;
	run(&r, &c);
	assert_int_equal(c.output_len, 0);
	assert_int_equal(c.res.output_truncated, 1);
	assert_non_null(strstr(c.res.error, "oops"));
	call_clear(&c);
}

static void
test_fn_http_keepalive(void **state)
{
	struct call	c = { 0 };
	long		before, after;
	int		i;

	before = server_connections();
	for (i = 0; i < NSEQUENTIAL; i++) {
		run_path("/ok", "again", &c);
		assert_int_equal(c.res.ok, 1);
		call_clear(&c);
	}
	after = server_connections();
	assert_int_equal(after, before);
}

static void
test_fn_http_concurrent(void **state)
{
	struct fn_http_req	 r;
	struct call		*c;
	char			 url[256], body[32];
	int			 i;

	c = calloc(NCONCURRENT, sizeof *c);
	assert_non_null(c);
	for (i = 0; i < NCONCURRENT; i++) {
		snprintf(body, sizeof body, "request %d", i);
		req_init(&r, url, sizeof url, server_port, "/ok", body);
		post(&r, &c[i], NULL);
	}
	assert_int_equal(fn_http_running(), NCONCURRENT);
	wait_finished(NCONCURRENT);
	assert_int_equal(fn_http_running(), 0);
	for (i = 0; i < NCONCURRENT; i++) {
		snprintf(body, sizeof body, "request %d", i);
		assert_int_equal(c[i].calls, 1);
		assert_int_equal(c[i].res.ok, 1);
		assert_string_equal(c[i].output, body);
		call_clear(&c[i]);
	}
	free(c);
}

static void
test_fn_http_cancel(void **state)
{
	struct fn_http_req	 r;
	struct fn_http		*slow, *slow2;
	struct call		 a = { 0 }, b = { 0 }, d = { 0 };
	char			 url[256];

	req_init(&r, url, sizeof url, server_port, "/slow?ms=500", "x");
	post(&r, &a, &slow);
	req_init(&r, url, sizeof url, server_port, "/slow?ms=500", "x");
	post(&r, &d, &slow2);
	req_init(&r, url, sizeof url, server_port, "/ok", "fast");
	post(&r, &b, NULL);
	assert_int_equal(fn_http_running(), 3);
	/* One before it ever ran, one while it waits for the answer. */
	fn_http_cancel(slow);
	assert_int_equal(fn_http_running(), 2);
	wait_finished(1);
	assert_int_equal(b.calls, 1);
	assert_string_equal(b.output, "fast");
	fn_http_cancel(slow2);
	assert_int_equal(fn_http_running(), 0);
	run_for(800);
	assert_int_equal(a.calls, 0);
	assert_int_equal(d.calls, 0);
	assert_int_equal(finished, 1);
	call_clear(&b);

	/* Still good for more after cancels. */
	run_path("/ok", "after", &b);
	assert_int_equal(b.res.ok, 1);
	call_clear(&b);
}

static void
test_fn_http_stop_in_flight(void **state)
{
	struct fn_http_req	 r;
	struct call		 c[6];
	char			 url[256];
	struct tp_err		 err;
	int			 i;

	memset(c, 0, sizeof c);
	for (i = 0; i < 5; i++) {
		req_init(&r, url, sizeof url, server_port, "/slow?ms=500",
		    "x");
		post(&r, &c[i], NULL);
	}
	run_for(100);
	req_init(&r, url, sizeof url, server_port, "/ok", "x");
	post(&r, &c[5], NULL);
	assert_int_equal(fn_http_running(), 6);
	fn_http_stop();
	assert_int_equal(fn_http_running(), 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	for (i = 0; i < 6; i++)
		assert_int_equal(c[i].calls, 0);
	fn_http_stop();

	/* And it starts again. */
	assert_int_equal(fn_http_start(base, &err), TP_OK);
	run_path("/ok", "again", &c[0]);
	assert_int_equal(c[0].res.ok, 1);
	call_clear(&c[0]);
}

static void
again_cb(void *arg, const struct fn_result *res)
{
	struct call		*c = arg;
	struct fn_http_req	 r;
	char			 url[256];

	done_cb(arg, res);
	if (c->calls < 3) {
		req_init(&r, url, sizeof url, server_port, "/ok", "more");
		assert_int_equal(fn_http_post(&r, again_cb, c, NULL, NULL),
		    TP_OK);
	}
}

static void
stop_cb(void *arg, const struct fn_result *res)
{
	done_cb(arg, res);
	fn_http_stop();
}

static void
test_fn_http_post_from_done(void **state)
{
	struct fn_http_req	r;
	struct call		c = { 0 }, d = { 0 };
	char			url[256];

	req_init(&r, url, sizeof url, server_port, "/ok", "first");
	assert_int_equal(fn_http_post(&r, again_cb, &c, NULL, NULL), TP_OK);
	wait_finished(3);
	assert_int_equal(c.calls, 3);
	assert_string_equal(c.output, "more");
	assert_int_equal(fn_http_running(), 0);
	call_clear(&c);

	/* Stopping from inside done abandons the rest quietly. */
	req_init(&r, url, sizeof url, server_port, "/ok", "x");
	assert_int_equal(fn_http_post(&r, stop_cb, &c, NULL, NULL), TP_OK);
	req_init(&r, url, sizeof url, server_port, "/slow?ms=300", "x");
	post(&r, &d, NULL);
	wait_finished(4);
	assert_int_equal(c.calls, 1);
	assert_int_equal(fn_http_running(), 0);
	run_for(500);
	assert_int_equal(d.calls, 0);
	call_clear(&c);
}

static void
test_fn_http_bad_requests(void **state)
{
	const char		*bad_hdrs[] = { "X-A: 1\r\nX-B: 2", NULL };
	const char		*no_colon[] = { "X-A", NULL };
	struct fn_http_req	 r;
	struct fn_http		*h = NULL;
	struct call		 c = { 0 };
	struct tp_err		 err;
	char			 url[256];

	/* Each body is malloc'd: valgrind shows it freed on refusal. */
	req_init(&r, url, sizeof url, server_port, "/ok", "x");
	r.url = "ftp://127.0.0.1/x";
	assert_int_equal(fn_http_post(&r, done_cb, &c, &h, &err), TP_EINVAL);
	assert_int_equal(err.code, TP_EINVAL);

	req_init(&r, url, sizeof url, server_port, "/ok", "x");
	r.url = "not a url";
	assert_int_equal(fn_http_post(&r, done_cb, &c, &h, &err), TP_EINVAL);

	req_init(&r, url, sizeof url, server_port, "/ok", "x");
	r.timeout_ms = 0;
	assert_int_equal(fn_http_post(&r, done_cb, &c, &h, &err), TP_EINVAL);

	req_init(&r, url, sizeof url, server_port, "/ok", "x");
	r.headers = bad_hdrs;
	assert_int_equal(fn_http_post(&r, done_cb, &c, &h, &err), TP_EINVAL);

	req_init(&r, url, sizeof url, server_port, "/ok", "x");
	r.headers = no_colon;
	assert_int_equal(fn_http_post(&r, done_cb, &c, &h, &err), TP_EINVAL);

	req_init(&r, url, sizeof url, server_port, "/ok", "x");
	r.content_type = "text/plain\r\nX-Evil: 1";
	assert_int_equal(fn_http_post(&r, done_cb, &c, &h, &err), TP_EINVAL);

	assert_null(h);
	assert_int_equal(fn_http_running(), 0);
	run_for(50);
	assert_int_equal(c.calls, 0);
}

/* No fixture: stop before any start, and post while stopped. */
static void
test_fn_http_not_started(void **state)
{
	struct fn_http_req	 r;
	struct fn_http		*h = NULL;
	struct call		 c = { 0 };
	struct tp_err		 err;
	char			 url[256];

	fn_http_stop();
	fn_http_stop();
	req_init(&r, url, sizeof url, 1, "/ok", "x");
	assert_int_equal(fn_http_post(&r, done_cb, &c, &h, &err),
	    TP_ESHUTDOWN);
	assert_null(h);
	assert_int_equal(fn_http_running(), 0);
	assert_int_equal(c.calls, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fn_http_not_started),
		cmocka_unit_test_setup_teardown(test_fn_http_ok_echo,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_fn_http_empty_body,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_fn_http_headers,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_fn_http_503_retry_after,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_fn_http_retry_after_date,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_fn_http_400_no_retry,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_fn_http_retryable_4xx,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_fn_http_redirect_not_followed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fn_http_timeout,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_fn_http_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_fn_http_lambda_error,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_fn_http_truncate,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_fn_http_keepalive,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_fn_http_concurrent,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_fn_http_cancel,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_fn_http_stop_in_flight,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_fn_http_post_from_done,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_fn_http_bad_requests,
		    setup, teardown),
	};

	/* Requests go straight to 127.0.0.1, whatever the environment. */
	setenv("NO_PROXY", "*", 1);
	setenv("no_proxy", "*", 1);
	signal(SIGPIPE, SIG_IGN);
	return (cmocka_run_group_tests(tests, group_setup, group_teardown));
}
