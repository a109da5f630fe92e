/*
 * TLS (issue 16): a real tupelod with a TLS listener, certificates made
 * by the openssl command in a temp directory (a test CA, a server
 * certificate for 127.0.0.1 and localhost, a second CA with its own
 * server certificate, an expired one), and clients through libtupelo,
 * openssl s_client and a raw socket. Every wait has a deadline; nothing
 * is timed.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
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

#define WAIT_MS		15000	/* for a log line or an end of stream */
#define ROUND_TRIP	10000	/* messages through a group over TLS */

/*
 * The certificates: ca (srv, exp signed by it: exp expired yesterday)
 * and ca2 (srv2). Both servers name 127.0.0.1 and localhost.
 */
static const char tls_script[] =
	"set -e\n"
	"cd \"$1\"\n"
	"printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' >ext.cnf\n"
	"for ca in ca ca2; do\n"
	"  openssl req -x509 -newkey rsa:2048 -nodes -keyout $ca.key "
	"-out $ca.pem -days 30 -subj \"/CN=Tupelo test $ca\"\n"
	"done\n"
	"mk() {\n"
	"  openssl req -newkey rsa:2048 -nodes -keyout $1.key -out $1.csr "
	"-subj \"/CN=tupelo $1\"\n"
	"  openssl x509 -req -in $1.csr -CA $2.pem -CAkey $2.key "
	"-CAcreateserial -out $1.pem -days $3 -extfile ext.cnf\n"
	"}\n"
	"mk srv ca 30\n"
	"mk srv2 ca2 30\n"
	"mk exp ca -1\n";

struct fixture {
	char	dir[256];	/* mkdtemp: the certificates */
};

static char *
path(struct fixture *fx, const char *name)
{
	static char	buf[4][320];
	static int	i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof buf[i], "%s/%s", fx->dir, name);
	return (buf[i]);
}

static int
setup(void **state)
{
	struct fixture	*fx;
	char		 cmd[1024], *script;

	if ((fx = calloc(1, sizeof *fx)) == NULL)
		return (-1);
	snprintf(fx->dir, sizeof fx->dir, "/tmp/tupelo-tls.XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return (-1);
	script = harness_tmpfile(tls_script, strlen(tls_script));
	snprintf(cmd, sizeof cmd, "sh %s %s >%s/openssl.log 2>&1", script,
	    fx->dir, fx->dir);
	if (system(cmd) != 0) {
		snprintf(cmd, sizeof cmd, "cat %s/openssl.log >&2", fx->dir);
		system(cmd);
		fprintf(stderr, "test_tls: making certificates failed\n");
		unlink(script);
		free(script);
		return (-1);
	}
	unlink(script);
	free(script);
	*state = fx;
	return (0);
}

static int
teardown(void **state)
{
	struct fixture	*fx = *state;
	char		 cmd[400];

	snprintf(cmd, sizeof cmd, "rm -rf %s", fx->dir);
	system(cmd);
	free(fx);
	return (0);
}

/* Start a broker serving TLS with cert and key (copied: tests replace). */
static void
start_tls(struct fixture *fx, struct broker *b, const char *cert,
    const char *key)
{
	char	cmd[1024];

	snprintf(cmd, sizeof cmd, "cp %s %s/cur.pem && cp %s %s/cur.key",
	    path(fx, cert), fx->dir, path(fx, key), fx->dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(broker_start(b, "--tls-listen", "127.0.0.1:0",
	    "--tls-cert", path(fx, "cur.pem"), "--tls-key",
	    path(fx, "cur.key"), NULL), 0);
	if (b->external)
		skip();
	assert_true(b->tls_port > 0);
}

/* Connect over TLS trusting ca; returns the code, err filled. */
static int
tls_connect(struct broker *b, const char *host, const char *ca,
    struct tp_conn **c, struct tp_err *err)
{
	char	url[128];

	snprintf(url, sizeof url, "tupelos://%s:%d", host, b->tls_port);
	setenv("TUPELO_CA", ca, 1);
	memset(err, 0, sizeof *err);
	return (tp_connect(url, "test_tls", c, err));
}

/* Wait for text in the broker's log. */
static void
wait_log(struct broker *b, const char *text)
{
	int64_t	deadline = tp_now_ms() + WAIT_MS;

	while (!broker_log_has(b, text)) {
		if (tp_now_ms() > deadline)
			fail_msg("no \"%s\" in the log within %d ms", text,
			    WAIT_MS);
		usleep(20000);
	}
}

/* Produce one message through c and check the ack. */
static void
produce_one(struct tp_conn *c, const char *station)
{
	struct tp_message	m = { "x", 1, NULL, 0, NULL };
	struct tp_err		err;
	uint64_t		seq = 0;

	if (tp_produce(c, station, &m, 1, &seq, NULL, &err) != TP_OK)
		fail_msg("produce to %s: %s", station, err.message);
	assert_true(seq > 0);
}

/* Run a shell command; its output (stdout and stderr), malloc'd. */
static char *
run(const char *fmt, ...)
{
	char	 cmd[2048], *out;
	va_list	 ap;
	size_t	 n = 0, cap = 65536;
	FILE	*f;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	assert_non_null(out = malloc(cap));
	assert_non_null(f = popen(cmd, "r"));
	n = fread(out, 1, cap - 1, f);
	pclose(f);
	out[n] = '\0';
	return (out);
}

static void
test_tls_s_client_negotiates_tls13(void **state)
{
	struct fixture	*fx = *state;
	struct broker	 b;
	char		*out;

	start_tls(fx, &b, "srv.pem", "srv.key");
	out = run("openssl s_client -connect 127.0.0.1:%d -CAfile %s "
	    "-verify_return_error -brief </dev/null 2>&1", b.tls_port,
	    path(fx, "ca.pem"));
	if (strstr(out, "Protocol version: TLSv1.3") == NULL)
		fail_msg("s_client said:\n%s", out);
	free(out);
	/* TLS 1.2 is still accepted, nothing older. */
	out = run("openssl s_client -connect 127.0.0.1:%d -CAfile %s "
	    "-tls1_2 -brief </dev/null 2>&1", b.tls_port, path(fx, "ca.pem"));
	if (strstr(out, "Protocol version: TLSv1.2") == NULL)
		fail_msg("s_client -tls1_2 said:\n%s", out);
	free(out);
	broker_stop(&b);
}

static void
test_tls_round_trip(void **state)
{
	struct fixture		*fx = *state;
	struct broker		 b;
	struct tp_conn		*c;
	struct tp_producer	*p;
	struct tp_consumer	*cons;
	struct tp_consumer_opts	 copts;
	struct tp_message	 m;
	struct tp_msg		*msg;
	struct tp_err		 err;
	const void		*data;
	char			 payload[32];
	size_t			 len;
	int			 i;

	start_tls(fx, &b, "srv.pem", "srv.key");
	if (tls_connect(&b, "127.0.0.1", path(fx, "ca.pem"), &c,
	    &err) != TP_OK)
		fail_msg("tupelos:// connect: %s", err.message);
	assert_int_equal(tp_station_create(c, "tls", NULL, &err), TP_OK);
	/* The producer dials the same tupelos:// URL on its own. */
	if (tp_producer_new(c, "tls", NULL, NULL, NULL, &p, &err) != TP_OK)
		fail_msg("producer: %s", err.message);
	memset(&m, 0, sizeof m);
	for (i = 0; i < ROUND_TRIP; i++) {
		m.len = (size_t)snprintf(payload, sizeof payload, "m%d", i);
		m.payload = payload;
		assert_int_equal(tp_producer_send(p, &m, NULL), TP_OK);
	}
	assert_int_equal(tp_producer_flush(p, 60000), TP_OK);
	tp_producer_free(p);

	memset(&copts, 0, sizeof copts);
	copts.max_messages = ROUND_TRIP;
	assert_int_equal(tp_consumer_new(c, "tls", "g", &copts, &cons, &err),
	    TP_OK);
	for (i = 0; i < ROUND_TRIP; i++) {
		if (tp_consume(cons, 30000, &msg, &err) != TP_OK)
			fail_msg("consume %d: %s", i, err.message);
		assert_int_equal(tp_msg_seq(msg), (uint64_t)i + 1);
		data = tp_msg_payload(msg, &len);
		snprintf(payload, sizeof payload, "m%d", i);
		assert_int_equal(len, strlen(payload));
		assert_memory_equal(data, payload, len);
		assert_int_equal(tp_ack(cons, msg, &err), TP_OK);
		tp_msg_free(msg);
	}
	assert_int_equal(tp_consumer_commit(cons, 30000, &err), TP_OK);
	tp_consumer_free(cons);
	tp_close(c);
	broker_stop(&b);
}

static void
test_tls_other_ca_fails_verification(void **state)
{
	struct fixture	*fx = *state;
	struct broker	 b;
	struct tp_conn	*c = NULL;
	struct tp_err	 err;

	start_tls(fx, &b, "srv.pem", "srv.key");
	assert_int_equal(tls_connect(&b, "127.0.0.1", path(fx, "ca2.pem"),
	    &c, &err), TP_ECONN);
	assert_null(c);
	if (strncmp(err.message, "certificate verify failed: ", 27) != 0)
		fail_msg("message: %s", err.message);
	/* A host name is checked against the certificate's names. */
	assert_int_equal(tls_connect(&b, "localhost", path(fx, "ca.pem"),
	    &c, &err), TP_OK);
	tp_close(c);
	broker_stop(&b);
}

/* A raw TCP connection to port on 127.0.0.1. */
static int
raw_connect(int port)
{
	struct sockaddr_in	sin;
	int			fd;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((fd = socket(AF_INET, SOCK_STREAM, 0)) != -1);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	return (fd);
}

static void
test_tls_plaintext_client_closed(void **state)
{
	struct fixture	*fx = *state;
	struct broker	 b;
	struct tp_conn	*plain, *tls, *c = NULL;
	struct tp_err	 err;
	struct pollfd	 pfd;
	char		 url[128], buf[4096];
	/* A frame's length prefix and some bytes, as a client would send. */
	const char	 hello[] = "\0\0\0\x0c\x08\x01\x12\x08plain!!!";
	int64_t		 deadline;
	ssize_t		 n;
	int		 fd;

	start_tls(fx, &b, "srv.pem", "srv.key");
	plain = harness_connect(&b, "test_tls");
	assert_int_equal(tls_connect(&b, "127.0.0.1", path(fx, "ca.pem"),
	    &tls, &err), TP_OK);
	assert_int_equal(tp_station_create(plain, "pt", NULL, &err), TP_OK);

	/* Raw bytes: the broker closes, with a FIN, not a reset. */
	fd = raw_connect(b.tls_port);
	assert_int_equal(write(fd, hello, sizeof hello - 1),
	    (ssize_t)sizeof hello - 1);
	deadline = tp_now_ms() + WAIT_MS;
	for (;;) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		assert_true(tp_now_ms() < deadline);
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = read(fd, buf, sizeof buf);
		if (n == 0)
			break;
		if (n < 0)
			fail_msg("read: %s (want an end of stream)",
			    strerror(errno));
	}
	close(fd);
	wait_log(&b, "TLS handshake failed");
	wait_log(&b, "peer=127.0.0.1:");

	/* libtupelo speaking plaintext to the TLS port: an error. */
	snprintf(url, sizeof url, "tupelo://127.0.0.1:%d", b.tls_port);
	assert_int_equal(tp_connect(url, "test_tls", &c, &err), TP_ECONN);

	/* The others were not disturbed. */
	produce_one(plain, "pt");
	produce_one(tls, "pt");
	tp_close(plain);
	tp_close(tls);
	broker_stop(&b);
}

static void
test_tls_expired_certificate_refused(void **state)
{
	struct fixture	*fx = *state;
	struct broker	 b;
	struct tp_conn	*c = NULL;
	struct tp_err	 err;

	start_tls(fx, &b, "exp.pem", "exp.key");
	assert_int_equal(tls_connect(&b, "127.0.0.1", path(fx, "ca.pem"),
	    &c, &err), TP_ECONN);
	assert_null(c);
	if (strstr(err.message, "certificate verify failed: ") == NULL ||
	    strstr(err.message, "expired") == NULL)
		fail_msg("message: %s", err.message);
	broker_stop(&b);
}

/* Replace the served files with cert and key, then SIGHUP. */
static void
replace_and_hup(struct fixture *fx, struct broker *b, const char *cert,
    const char *key, const char *logline)
{
	char	cmd[2048];

	snprintf(cmd, sizeof cmd, "cp %s %s/new.pem && cp %s %s/new.key && "
	    "mv %s/new.pem %s/cur.pem && mv %s/new.key %s/cur.key",
	    path(fx, cert), fx->dir, path(fx, key), fx->dir, fx->dir,
	    fx->dir, fx->dir, fx->dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(kill(b->pid, SIGHUP), 0);
	wait_log(b, logline);
}

static void
test_tls_sighup_reloads_certificate(void **state)
{
	struct fixture	*fx = *state;
	struct broker	 b;
	struct tp_conn	*old, *c = NULL;
	struct tp_err	 err;
	char		*out;

	start_tls(fx, &b, "srv.pem", "srv.key");
	assert_int_equal(tls_connect(&b, "127.0.0.1", path(fx, "ca.pem"),
	    &old, &err), TP_OK);
	assert_int_equal(tp_station_create(old, "rl", NULL, &err), TP_OK);

	replace_and_hup(fx, &b, "srv2.pem", "srv2.key",
	    "TLS certificate reloaded");
	/* New connections get the certificate of the second CA. */
	if (tls_connect(&b, "127.0.0.1", path(fx, "ca2.pem"), &c,
	    &err) != TP_OK)
		fail_msg("after reload, trusting ca2: %s", err.message);
	produce_one(c, "rl");
	tp_close(c);
	c = NULL;
	assert_int_equal(tls_connect(&b, "127.0.0.1", path(fx, "ca.pem"),
	    &c, &err), TP_ECONN);
	assert_non_null(strstr(err.message, "certificate verify failed"));
	out = run("openssl s_client -connect 127.0.0.1:%d -brief </dev/null "
	    "2>&1", b.tls_port);
	if (strstr(out, "tupelo srv2") == NULL)
		fail_msg("s_client after reload:\n%s", out);
	free(out);
	/* The connection made before goes on. */
	produce_one(old, "rl");

	/* A key that does not fit: logged, the certificate in force stays. */
	replace_and_hup(fx, &b, "srv.pem", "srv2.key", "TLS not reloaded");
	if (tls_connect(&b, "127.0.0.1", path(fx, "ca2.pem"), &c,
	    &err) != TP_OK)
		fail_msg("after a failed reload: %s", err.message);
	produce_one(c, "rl");
	tp_close(c);
	produce_one(old, "rl");
	tp_close(old);
	broker_stop(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls_s_client_negotiates_tls13),
		cmocka_unit_test(test_tls_round_trip),
		cmocka_unit_test(test_tls_other_ca_fails_verification),
		cmocka_unit_test(test_tls_plaintext_client_closed),
		cmocka_unit_test(test_tls_expired_certificate_refused),
		cmocka_unit_test(test_tls_sighup_reloads_certificate),
	};

	harness_watchdog(300);
	return (cmocka_run_group_tests(tests, setup, teardown));
}
