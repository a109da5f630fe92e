/*
 * tupelod as a daemon: SIGHUP reopens a renamed log file and reloads the
 * config file (reloadable options take effect, the others wait for a
 * restart, a file with errors changes nothing), the signals it has no use
 * for leave it running, and "-l localhost:0" serves every address the
 * name has, on one port. Every wait is for a line of the broker's log,
 * with a deadline.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <netdb.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <tupelo/tupelo.h>

#include "harness.h"
#include "proto/compat.h"

#define WAIT_MS	15000	/* for a log line */

struct fixture {
	char	dir[256];	/* mkdtemp: config and log files */
	char	conf[300];
	char	log[300];
	char	old[310];	/* the log, renamed */
};

static int
setup(void **state)
{
	struct fixture	*fx;

	if ((fx = calloc(1, sizeof *fx)) == NULL)
		return (-1);
	snprintf(fx->dir, sizeof fx->dir, "/tmp/tupelo-daemon.XXXXXX");
	if (mkdtemp(fx->dir) == NULL) {
		free(fx);
		return (-1);
	}
	snprintf(fx->conf, sizeof fx->conf, "%s/tupelod.conf", fx->dir);
	snprintf(fx->log, sizeof fx->log, "%s/tupelod.log", fx->dir);
	snprintf(fx->old, sizeof fx->old, "%s.1", fx->log);
	*state = fx;
	return (0);
}

static int
teardown(void **state)
{
	struct fixture	*fx = *state;

	unlink(fx->conf);
	unlink(fx->log);
	unlink(fx->old);
	rmdir(fx->dir);
	free(fx);
	return (0);
}

/* How many times text occurs in the file at path (0 if none). */
static int
count_in(const char *path, const char *text)
{
	char	 buf[65536], *p;
	FILE	*f;
	size_t	 n;
	int	 count = 0;

	if ((f = fopen(path, "r")) == NULL)
		return (0);
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (p = buf; (p = strstr(p, text)) != NULL; p++)
		count++;
	return (count);
}

/* Wait until text occurs at least n times in path; fail at the deadline. */
static void
wait_for(struct broker *b, const char *path, const char *text, int n)
{
	int64_t	deadline = tp_now_ms() + WAIT_MS;

	while (count_in(path, text) < n) {
		if (tp_now_ms() > deadline)
			fail_msg("no \"%s\" (x%d) in %s within %d ms", text, n,
			    path, WAIT_MS);
		if (b->pid > 0 && kill(b->pid, 0) != 0)
			fail_msg("tupelod died waiting for \"%s\"", text);
		usleep(10000);
	}
}

static void
write_conf(struct fixture *fx, const char *text)
{
	char	tmp[320];
	FILE	*f;

	/* Whole or not at all, as an editor would save it. */
	snprintf(tmp, sizeof tmp, "%s.tmp", fx->conf);
	assert_non_null(f = fopen(tmp, "w"));
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, fx->conf), 0);
}

/* Create station (if need be) and produce one message to it. */
static void
produce_one(struct broker *b, const char *station)
{
	struct tp_message	 m = { .payload = "x", .len = 1 };
	struct tp_conn		*c = harness_connect(b, "test_daemon");
	struct tp_err		 err;
	uint64_t		 first, last;
	int			 rc;

	rc = tp_station_create(c, station, NULL, &err);
	if (rc != TP_OK && rc != TP_EEXIST)
		fail_msg("station create: %s", err.message);
	if (tp_produce(c, station, &m, 1, &first, &last, &err) != TP_OK)
		fail_msg("produce: %s", err.message);
	assert_true(first == last && first > 0);
	tp_close(c);
}

/*
 * logrotate: rename the log, SIGHUP; the lines after go to a new file
 * at the path, the broker goes on serving, and exits 0 on SIGTERM.
 */
static void
test_daemon_sighup_reopens_log(void **state)
{
	struct fixture	*fx = *state;
	struct broker	 b;

	if (getenv("TUPELO_TEST_URL") != NULL)
		skip();
	assert_int_equal(broker_start(&b, "--log-file", fx->log, NULL), 0);
	produce_one(&b, "before");
	assert_int_equal(rename(fx->log, fx->old), 0);
	assert_int_equal(kill(b.pid, SIGHUP), 0);
	wait_for(&b, fx->log, "configuration reloaded", 1);
	assert_int_equal(count_in(fx->old, "SIGHUP: reopening the log"), 1);
	assert_int_equal(count_in(fx->old, "configuration reloaded"), 0);
	assert_int_equal(count_in(fx->log, "listening on"), 0);

	/* Still serving; its lines go to the new file. */
	produce_one(&b, "after");
	produce_one(&b, "before");
	wait_for(&b, fx->log, "station=after", 1);
	assert_int_equal(count_in(fx->old, "station=after"), 0);

	/* A second rotation works the same. */
	assert_int_equal(unlink(fx->old), 0);
	assert_int_equal(rename(fx->log, fx->old), 0);
	assert_int_equal(kill(b.pid, SIGHUP), 0);
	wait_for(&b, fx->log, "configuration reloaded", 1);
	produce_one(&b, "after");
	broker_term_clean(&b);
	assert_int_equal(count_in(fx->log, "stopped"), 1);
	broker_stop(&b);
}

/* SIGUSR1, SIGUSR2 and SIGALRM are logged and leave it running. */
static void
test_daemon_ignored_signals(void **state)
{
	struct fixture	*fx = *state;
	struct broker	 b;

	if (getenv("TUPELO_TEST_URL") != NULL)
		skip();
	assert_int_equal(broker_start(&b, "--log-file", fx->log, NULL), 0);
	assert_int_equal(kill(b.pid, SIGUSR1), 0);
	wait_for(&b, fx->log, "SIGUSR1 ignored", 1);
	assert_int_equal(kill(b.pid, SIGUSR2), 0);
	wait_for(&b, fx->log, "SIGUSR2 ignored", 1);
	assert_int_equal(kill(b.pid, SIGALRM), 0);
	wait_for(&b, fx->log, "SIGALRM ignored", 1);
	produce_one(&b, "still");
	broker_term_clean(&b);
	broker_stop(&b);
}

/* Is connecting refused (the broker at max-connections)? */
static int
connect_refused(struct broker *b)
{
	struct tp_conn	*c = NULL;
	struct tp_err	 err;

	if (tp_connect(b->url, "extra", &c, &err) != TP_OK)
		return (1);
	/* Accepted, then maybe told so at the first request. */
	if (tp_station_create(c, "probe", NULL, &err) == TP_EBUSY) {
		tp_close(c);
		return (1);
	}
	tp_close(c);
	return (0);
}

/*
 * A reloadable option (max-connections) takes effect on SIGHUP, one that
 * is not (map-size) is logged as needing a restart, the command line
 * still wins over the file, and a file with errors changes nothing.
 */
static void
test_daemon_sighup_reloads(void **state)
{
	struct fixture	*fx = *state;
	struct broker	 b;
	struct tp_conn	*held;
	char		 where[400];

	if (getenv("TUPELO_TEST_URL") != NULL)
		skip();
	write_conf(fx, "max-connections = 100\nmap-size = 256M\n"
	    "max-unacked = 50\n");
	assert_int_equal(broker_start(&b, "-c", fx->conf, "--log-file",
	    fx->log, "--max-unacked", "60", NULL), 0);
	held = harness_connect(&b, "held");
	assert_false(connect_refused(&b));

	write_conf(fx, "max-connections = 1\nmap-size = 512M\n"
	    "max-unacked = 70\n");
	assert_int_equal(kill(b.pid, SIGHUP), 0);
	wait_for(&b, fx->log, "configuration reloaded", 1);
	assert_int_equal(count_in(fx->log, "max-connections changed from "
	    "100 to 1"), 1);
	assert_int_equal(count_in(fx->log, "map-size changed from 256M to "
	    "512M: that needs a restart"), 1);
	/* --max-unacked 60 on the command line beats the file. */
	assert_int_equal(count_in(fx->log, "max-unacked changed"), 0);
	/* The one connection held is all it takes now. */
	assert_true(connect_refused(&b));
	wait_for(&b, fx->log, "max-connections (1) reached", 1);

	/* Errors: reported with file:line, the settings in force stay. */
	write_conf(fx, "max-connections = 100\nmax-connections = lots\n"
	    "no-such-option = 1\n");
	assert_int_equal(kill(b.pid, SIGHUP), 0);
	wait_for(&b, fx->log, "not reloaded", 1);
	snprintf(where, sizeof where, "%s:2: max-connections", fx->conf);
	assert_int_equal(count_in(fx->log, where), 1);
	snprintf(where, sizeof where, "%s:3: unknown option", fx->conf);
	assert_int_equal(count_in(fx->log, where), 1);
	assert_true(connect_refused(&b));

	/* Fixed, the next SIGHUP applies it. */
	write_conf(fx, "max-connections = 100\nmap-size = 256M\n");
	assert_int_equal(kill(b.pid, SIGHUP), 0);
	wait_for(&b, fx->log, "configuration reloaded", 2);
	assert_false(connect_refused(&b));
	tp_close(held);
	produce_one(&b, "reloaded");
	broker_term_clean(&b);
	broker_stop(&b);
}

/* Does getaddrinfo give host an address of family af? */
static int
resolves_to(const char *host, int af)
{
	struct addrinfo	 hints, *res, *ai;
	int		 found = 0;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, "0", &hints, &res) != 0)
		return (0);
	for (ai = res; ai != NULL; ai = ai->ai_next)
		found |= ai->ai_family == af;
	freeaddrinfo(res);
	return (found);
}

/* Can this machine bind ::1? */
static int
has_ipv6_loopback(void)
{
	struct sockaddr_in6	sa;
	int			fd, ok;

	if ((fd = socket(AF_INET6, SOCK_STREAM, 0)) == -1)
		return (0);
	memset(&sa, 0, sizeof sa);
	sa.sin6_family = AF_INET6;
	sa.sin6_addr = in6addr_loopback;
	ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
	close(fd);
	return (ok);
}

/* Connect to url and create a station: the broker serves there. */
static void
serves(const char *url)
{
	struct tp_conn	*c = NULL;
	struct tp_err	 err;
	int		 rc;

	if (tp_connect(url, "test_daemon", &c, &err) != TP_OK)
		fail_msg("connect %s: %s", url, err.message);
	rc = tp_station_create(c, "v4v6", NULL, &err);
	if (rc != TP_OK && rc != TP_EEXIST)
		fail_msg("%s: station create: %s", url, err.message);
	tp_close(c);
}

/* -l localhost:0: every address of localhost, on one port. */
static void
test_daemon_listen_localhost(void **state)
{
	struct broker	b;
	char		url[128];
	int		v4, v6;

	if (getenv("TUPELO_TEST_URL") != NULL)
		skip();
	v4 = resolves_to("localhost", AF_INET);
	v6 = resolves_to("localhost", AF_INET6) && has_ipv6_loopback();
	assert_int_equal(broker_start(&b, "-l", "localhost:0", NULL), 0);
	if (v4) {
		assert_true(broker_log_has(&b, "listening on 127.0.0.1:"));
		snprintf(url, sizeof url, "tupelo://127.0.0.1:%d", b.port);
		serves(url);
	}
	if (v6) {
		snprintf(url, sizeof url, "listening on [::1]:%d", b.port);
		assert_true(broker_log_has(&b, url));
		snprintf(url, sizeof url, "tupelo://[::1]:%d", b.port);
		serves(url);
	} else
		fprintf(stderr, "test_daemon: localhost does not resolve to "
		    "::1 here (or ::1 is missing): IPv6 half not checked\n");
	assert_true(v4 || v6);
	broker_term_clean(&b);
	broker_stop(&b);
}

/* An IPv6 address in brackets: the v6 socket alone (IPV6_V6ONLY). */
static void
test_daemon_listen_ipv6(void **state)
{
	struct broker	b;
	char		url[128];

	if (getenv("TUPELO_TEST_URL") != NULL)
		skip();
	if (!has_ipv6_loopback()) {
		fprintf(stderr, "test_daemon: no ::1 on this machine\n");
		skip();
	}
	assert_int_equal(broker_start(&b, "-l", "[::1]:0", NULL), 0);
	assert_true(broker_log_has(&b, "listening on [::1]:"));
	snprintf(url, sizeof url, "tupelo://[::1]:%d", b.port);
	serves(url);
	broker_term_clean(&b);
	broker_stop(&b);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_daemon_sighup_reopens_log),
		T(test_daemon_ignored_signals),
		T(test_daemon_sighup_reloads),
		T(test_daemon_listen_localhost),
		T(test_daemon_listen_ipv6),
	};

	harness_watchdog(300);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
