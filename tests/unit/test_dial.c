/*
 * Unit tests of client/dial: tupelo:// URLs split into host and port (the
 * default port, credentials, IPv6 in brackets) or refused with TP_EINVAL
 * and a message, and TCP connects on 127.0.0.1 to a listening socket, to a
 * port nobody listens on and to a service name that does not resolve.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "client/dial.h"
#include "proto/error.h"

#define HOST_MAX	256
#define PORT_MAX	8

/* Parse url, which must succeed, and compare host and port. */
static void
parse_ok(const char *url, const char *want_host, const char *want_port)
{
	struct tp_err	err;
	char		host[HOST_MAX], port[PORT_MAX];
	int		code;

	memset(&err, 0, sizeof err);
	code = dial_parse(url, host, sizeof host, port, sizeof port, &err);
	if (code != TP_OK)
		fail_msg("%s: %s (%s)", url, error_name(code), err.message);
	assert_string_equal(host, want_host);
	assert_string_equal(port, want_port);
}

/* Parse url, which must fail with TP_EINVAL and a message naming it. */
static void
parse_bad(const char *url)
{
	struct tp_err	err;
	char		host[HOST_MAX], port[PORT_MAX];
	int		code;

	memset(&err, 0, sizeof err);
	code = dial_parse(url, host, sizeof host, port, sizeof port, &err);
	if (code != TP_EINVAL)
		fail_msg("\"%s\": want TP_EINVAL, got %s (host \"%s\")", url,
		    error_name(code), code == TP_OK ? host : "");
	assert_int_equal(err.code, TP_EINVAL);
	assert_true(strlen(err.message) > 0);
	assert_non_null(strstr(err.message, url));

	/* err may be NULL. */
	assert_int_equal(dial_parse(url, host, sizeof host, port, sizeof port,
	    NULL), TP_EINVAL);
}

/* A listening TCP socket on 127.0.0.1 and a kernel-chosen port. */
static int
listen_local(char *port, size_t portsz)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof sin;
	int			fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd != -1);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = 0;
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	assert_true(ntohs(sin.sin_port) != 0);
	snprintf(port, portsz, "%u", ntohs(sin.sin_port));
	return (fd);
}

static void
test_dial_parse_host(void **state)
{
	(void)state;
	parse_ok("tupelo://host", "host", "6666");
	parse_ok("tupelo://127.0.0.1", "127.0.0.1", "6666");
	parse_ok("tupelo://broker.example.com", "broker.example.com", "6666");
}

static void
test_dial_parse_default_port(void **state)
{
	char	want[PORT_MAX];

	(void)state;
	snprintf(want, sizeof want, "%d", TP_DEFAULT_PORT);
	assert_string_equal(want, "6666");
	parse_ok("tupelo://host", "host", want);
	parse_ok("tupelo://host/", "host", want);
	parse_ok("tupelo://user:pass@host", "host", want);
	parse_ok("tupelo://[::1]", "::1", want);
}

static void
test_dial_parse_port(void **state)
{
	(void)state;
	parse_ok("tupelo://host:1234", "host", "1234");
	parse_ok("tupelo://host:1", "host", "1");
	parse_ok("tupelo://host:65535", "host", "65535");
	parse_ok("tupelo://127.0.0.1:6666", "127.0.0.1", "6666");
	parse_ok("tupelo://host:1234/", "host", "1234");
	/* Leading zeros are a number like any other. */
	parse_ok("tupelo://host:007", "host", "7");
}

static void
test_dial_parse_credentials(void **state)
{
	(void)state;
	parse_ok("tupelo://user:pass@host:1", "host", "1");
	parse_ok("tupelo://user:pass@host", "host", "6666");
	parse_ok("tupelo://user:pass@10.0.0.1:99", "10.0.0.1", "99");
	parse_ok("tupelo://user:pass@[::1]:7000", "::1", "7000");
}

static void
test_dial_parse_ipv6(void **state)
{
	(void)state;
	parse_ok("tupelo://[::1]:7000", "::1", "7000");
	parse_ok("tupelo://[::1]", "::1", "6666");
	parse_ok("tupelo://[::1]/", "::1", "6666");
	parse_ok("tupelo://[2001:db8::42]:65535", "2001:db8::42", "65535");
}

static void
test_dial_parse_wrong_scheme(void **state)
{
	(void)state;
	parse_bad("");
	parse_bad("host:6666");
	parse_bad("http://host:6666");
	parse_bad("tupelo:/host");
	parse_bad("tupelo//host");
	parse_bad(" tupelo://host");
	parse_bad("tcp://127.0.0.1:6666");
}

static void
test_dial_parse_tls(void **state)
{
	(void)state;
	parse_ok("tupelos://host:7000", "host", "7000");
	parse_ok("tupelos://u:p@[::1]:7000/", "::1", "7000");
	parse_bad("tupelos:/host");
	assert_true(dial_is_tls("tupelos://host"));
	assert_false(dial_is_tls("tupelo://host"));
}

static void
test_dial_parse_empty_host(void **state)
{
	(void)state;
	parse_bad("tupelo://");
	parse_bad("tupelo:///");
	parse_bad("tupelo://:1234");
	parse_bad("tupelo://user:pass@");
	parse_bad("tupelo://user:pass@:1234");
	parse_bad("tupelo://[]");
	parse_bad("tupelo://[]:1234");
}

static void
test_dial_parse_bad_port(void **state)
{
	(void)state;
	parse_bad("tupelo://host:0");
	parse_bad("tupelo://host:00");
	parse_bad("tupelo://host:65536");
	parse_bad("tupelo://host:70000");
	parse_bad("tupelo://host:99999999999999999999999");
	parse_bad("tupelo://host:");
	parse_bad("tupelo://host:/");
	parse_bad("tupelo://host:abc");
	parse_bad("tupelo://host:-1");
	parse_bad("tupelo://host:+1");
	parse_bad("tupelo://host: 1");
	parse_bad("tupelo://host:0x10");
	parse_bad("tupelo://[::1]:");
	parse_bad("tupelo://[::1]:0");
}

static void
test_dial_parse_trailing_garbage(void **state)
{
	(void)state;
	parse_bad("tupelo://host:1234x");
	parse_bad("tupelo://host:1234 ");
	parse_bad("tupelo://host:1234/path");
	parse_bad("tupelo://host:1234?x=1");
	parse_bad("tupelo://host:1234#frag");
	parse_bad("tupelo://host:1234//");
	parse_bad("tupelo://host/path");
	parse_bad("tupelo://host//");
	parse_bad("tupelo://host:1:2");
	parse_bad("tupelo://[::1]x");
	parse_bad("tupelo://[::1]]");
	parse_bad("tupelo://[::1]:1/x");
	parse_bad("tupelo://[::1");
}

static void
test_dial_parse_bad_host_chars(void **state)
{
	(void)state;
	/*
	 * A query, a fragment, a blank or a second '@' cannot be part of a
	 * host name: they are garbage after it, as they are after a port.
	 */
	parse_bad("tupelo://host?x=1");
	parse_bad("tupelo://host#frag");
	parse_bad("tupelo://ho st");
	parse_bad("tupelo://host\n");
	parse_bad("tupelo://user:pass@evil@host");
}

static void
test_dial_parse_bad_credentials(void **state)
{
	(void)state;
	parse_bad("tupelo://user@host");
	parse_bad("tupelo://@host");
	parse_bad("tupelo://@host:1");
}

static void
test_dial_parse_host_too_long(void **state)
{
	struct tp_err	err;
	char		host[8], port[PORT_MAX];

	(void)state;
	memset(host, 'x', sizeof host);
	assert_int_equal(dial_parse("tupelo://1234567:1", host, sizeof host,
	    port, sizeof port, &err), TP_OK);
	assert_string_equal(host, "1234567");
	assert_int_equal(dial_parse("tupelo://12345678:1", host, sizeof host,
	    port, sizeof port, &err), TP_EINVAL);
	assert_int_equal(err.code, TP_EINVAL);
	assert_int_equal(dial_parse("tupelo://[1::2345]", host, sizeof host,
	    port, sizeof port, &err), TP_OK);
	assert_string_equal(host, "1::2345");
	assert_int_equal(dial_parse("tupelo://[1::23456]", host, sizeof host,
	    port, sizeof port, &err), TP_EINVAL);
}

static void
test_dial_connect_ok(void **state)
{
	struct sockaddr_in	sin;
	socklen_t		len;
	struct tp_err		err;
	char			port[PORT_MAX];
	int			lfd, fd = -1, afd, flags, one = 0;

	(void)state;
	lfd = listen_local(port, sizeof port);
	memset(&err, 0, sizeof err);
	if (dial_connect("127.0.0.1", port, 10000, &fd, &err) != TP_OK)
		fail_msg("dial_connect 127.0.0.1 %s: %s", port, err.message);
	assert_true(fd >= 0);

	/* Non-blocking, close-on-exec, no Nagle. */
	assert_true((flags = fcntl(fd, F_GETFL)) != -1);
	assert_true(flags & O_NONBLOCK);
	assert_true((flags = fcntl(fd, F_GETFD)) != -1);
	assert_true(flags & FD_CLOEXEC);
	len = sizeof one;
	assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, &len),
	    0);
	assert_true(one != 0);

	/* The other end is our listener. */
	len = sizeof sin;
	assert_int_equal(getpeername(fd, (struct sockaddr *)&sin, &len), 0);
	assert_int_equal(sin.sin_family, AF_INET);
	assert_int_equal(ntohl(sin.sin_addr.s_addr), INADDR_LOOPBACK);
	assert_int_equal(ntohs(sin.sin_port), atoi(port));
	afd = accept(lfd, NULL, NULL);
	assert_true(afd != -1);
	assert_int_equal(write(fd, "x", 1), 1);
	assert_int_equal(read(afd, port, 1), 1);
	assert_int_equal(port[0], 'x');
	close(afd);
	close(fd);
	close(lfd);
}

static void
test_dial_connect_no_limit(void **state)
{
	struct tp_err	err;
	char		port[PORT_MAX];
	int		lfd, fd = -1;

	(void)state;
	lfd = listen_local(port, sizeof port);
	assert_int_equal(dial_connect("127.0.0.1", port, -1, &fd, &err),
	    TP_OK);
	assert_true(fd >= 0);
	close(fd);
	close(lfd);
}

static void
test_dial_connect_refused(void **state)
{
	struct tp_err	err;
	char		port[PORT_MAX];
	int		lfd, fd = 1234;

	(void)state;
	/* A port that was just ours and now has nobody listening. */
	lfd = listen_local(port, sizeof port);
	close(lfd);

	memset(&err, 0, sizeof err);
	assert_int_equal(dial_connect("127.0.0.1", port, 10000, &fd, &err),
	    TP_ECONN);
	assert_int_equal(fd, -1);
	assert_int_equal(err.code, TP_ECONN);
	assert_non_null(strstr(err.message, "127.0.0.1"));
	assert_non_null(strstr(err.message, port));

	/* err may be NULL. */
	fd = 1234;
	assert_int_equal(dial_connect("127.0.0.1", port, 10000, &fd, NULL),
	    TP_ECONN);
	assert_int_equal(fd, -1);
}

static void
test_dial_connect_bad_service(void **state)
{
	struct tp_err	err;
	int		fd = 1234;

	(void)state;
	/* A numeric host needs no DNS; the service name fails locally. */
	memset(&err, 0, sizeof err);
	assert_int_equal(dial_connect("127.0.0.1", "no-such-tupelo-port",
	    10000, &fd, &err), TP_ECONN);
	assert_int_equal(fd, -1);
	assert_int_equal(err.code, TP_ECONN);
	assert_non_null(strstr(err.message, "127.0.0.1"));
}

static void
test_dial_connect_zero_timeout(void **state)
{
	struct tp_err	err;
	char		port[PORT_MAX];
	int		lfd, fd = 1234;

	(void)state;
	/* No time at all: not even a listening port is tried. */
	lfd = listen_local(port, sizeof port);
	memset(&err, 0, sizeof err);
	assert_int_equal(dial_connect("127.0.0.1", port, 0, &fd, &err),
	    TP_ETIMEDOUT);
	assert_int_equal(fd, -1);
	assert_int_equal(err.code, TP_ETIMEDOUT);
	close(lfd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dial_parse_host),
		cmocka_unit_test(test_dial_parse_default_port),
		cmocka_unit_test(test_dial_parse_port),
		cmocka_unit_test(test_dial_parse_credentials),
		cmocka_unit_test(test_dial_parse_ipv6),
		cmocka_unit_test(test_dial_parse_wrong_scheme),
		cmocka_unit_test(test_dial_parse_tls),
		cmocka_unit_test(test_dial_parse_empty_host),
		cmocka_unit_test(test_dial_parse_bad_port),
		cmocka_unit_test(test_dial_parse_trailing_garbage),
		cmocka_unit_test(test_dial_parse_bad_host_chars),
		cmocka_unit_test(test_dial_parse_bad_credentials),
		cmocka_unit_test(test_dial_parse_host_too_long),
		cmocka_unit_test(test_dial_connect_ok),
		cmocka_unit_test(test_dial_connect_no_limit),
		cmocka_unit_test(test_dial_connect_refused),
		cmocka_unit_test(test_dial_connect_bad_service),
		cmocka_unit_test(test_dial_connect_zero_timeout),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
