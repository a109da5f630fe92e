/*
 * The tupelo CLI against a real tupelod, as a user runs it: station
 * commands with tables and --json, station update and compression,
 * produce from arguments and standard input, consume through a group,
 * exit statuses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static void
run_ok(struct broker *b, char **out, const char *args)
{
	char	*err = NULL;
	int	 rc;

	rc = cli_run(b, NULL, out, &err, "%s", args);
	if (rc != 0)
		fail_msg("tupelo %s: exit %d: %s", args, rc, err);
	free(err);
}

static void
test_cli_station_commands(void **state)
{
	struct broker	*b = *state;
	char		*out, *err;

	run_ok(b, &out, "station create cli.s1 --retention-age 60 "
	    "--retention-messages 100 --retention-bytes 4096");
	free(out);
	run_ok(b, &out, "station ls");
	assert_non_null(strstr(out, "NAME"));
	assert_non_null(strstr(out, "cli.s1"));
	free(out);
	run_ok(b, &out, "--json station info cli.s1");
	assert_non_null(strstr(out, "\"name\""));
	assert_non_null(strstr(out, "\"cli.s1\""));
	assert_non_null(strstr(out, "\"messages\""));
	assert_non_null(strstr(out, "\"first_seq\""));
	assert_non_null(strstr(out, "\"last_seq\""));
	assert_non_null(strstr(out, "\"bytes\""));
	free(out);

	assert_int_equal(cli_run(b, NULL, &out, &err, "station create "
	    "cli.s1"), 1);
	assert_non_null(strstr(err, "exists"));
	free(out);
	free(err);
	assert_int_equal(cli_run(b, NULL, &out, &err, "station info "
	    "nosuch"), 1);
	assert_true(strlen(err) > 0);
	free(out);
	free(err);
	assert_int_equal(cli_run(b, NULL, &out, &err, "station create "
	    "'Bad Name'"), 1);
	free(out);
	free(err);

	run_ok(b, &out, "station rm cli.s1");
	free(out);
	assert_int_equal(cli_run(b, NULL, &out, &err, "station info cli.s1"),
	    1);
	free(out);
	free(err);
}

static void
test_cli_usage_errors(void **state)
{
	struct broker	*b = *state;
	char		*out, *err;

	assert_int_equal(cli_run(b, NULL, &out, &err, "frobnicate"), 2);
	assert_true(strlen(err) > 0);
	free(out);
	free(err);
	/* A mistyped command gets one line that says what was meant. */
	assert_int_equal(cli_run(b, NULL, &out, &err, "version"), 2);
	assert_non_null(strstr(err, "--version"));
	assert_ptr_equal(strchr(err, '\n'), err + strlen(err) - 1);
	free(out);
	free(err);
	assert_int_equal(cli_run(b, NULL, &out, &err, "consme x"), 2);
	assert_non_null(strstr(err, "'consume'"));
	assert_ptr_equal(strchr(err, '\n'), err + strlen(err) - 1);
	free(out);
	free(err);
	assert_int_equal(cli_run(b, NULL, &out, &err, "station create"), 2);
	free(out);
	free(err);
	assert_int_equal(cli_run(b, NULL, &out, &err, "consume x"), 2);
	free(out);
	free(err);
	assert_int_equal(cli_run(b, NULL, &out, &err, "consume x -g g -n "
	    "abc"), 2);
	free(out);
	free(err);
	assert_int_equal(cli_run(b, NULL, &out, &err, "--help"), 0);
	assert_non_null(strstr(out, "station"));
	free(out);
	free(err);
}

static void
test_cli_produce_arguments_and_headers(void **state)
{
	struct broker	*b = *state;
	char		*out;

	run_ok(b, &out, "station create cli.h");
	free(out);
	run_ok(b, &out, "produce cli.h -H kind=order -H region=eu one two "
	    "three");
	assert_non_null(strstr(out, "3"));
	assert_non_null(strstr(out, "1..3"));
	free(out);
	run_ok(b, &out, "consume cli.h -g g -n 3");
	assert_string_equal(out, "one\ntwo\nthree\n");
	free(out);
	run_ok(b, &out, "produce cli.h four");
	assert_string_equal(out, "stored 1 message, seq 4\n");
	free(out);
	run_ok(b, &out, "consume cli.h -g g -n 1");
	assert_string_equal(out, "four\n");
	free(out);
	run_ok(b, &out, "read cli.h --from 2 -n 1 --json");
	assert_non_null(strstr(out, "\"seq\""));
	assert_null(strstr(out, "\"one\""));
	assert_non_null(strstr(out, "\"kind\""));
	assert_non_null(strstr(out, "\"order\""));
	assert_non_null(strstr(out, "\"two\""));
	free(out);
	/* The group acked them: nothing more, exit after the timeout. */
	run_ok(b, &out, "consume cli.h -g g --timeout 1");
	assert_string_equal(out, "");
	free(out);
}

/* 100,000 lines in, every line back once and in order. */
static void
test_cli_hundred_thousand_lines(void **state)
{
	struct broker	*b = *state;
	char		*in, *path, *out, *err, *p;
	size_t		 n = 100000, i, len = 0;
	int		 rc;

	in = malloc(n * 16);
	assert_non_null(in);
	for (i = 0; i < n; i++)
		len += (size_t)sprintf(in + len, "line-%zu\n", i);
	path = harness_tmpfile(in, len);
	assert_non_null(path);
	run_ok(b, &out, "station create cli.big");
	free(out);
	rc = cli_run(b, path, &out, &err, "produce cli.big");
	if (rc != 0)
		fail_msg("produce: %s", err);
	assert_non_null(strstr(out, "100000"));
	assert_non_null(strstr(out, "1..100000"));
	free(out);
	free(err);
	rc = cli_run(b, NULL, &out, &err, "consume cli.big -g g1 -n 100000");
	if (rc != 0)
		fail_msg("consume: %s", err);
	assert_int_equal(strlen(out), len);
	assert_memory_equal(out, in, len);
	free(out);
	free(err);
	/* Acked: the group has nothing left. */
	run_ok(b, &out, "consume cli.big -g g1 --timeout 1");
	assert_string_equal(out, "");
	free(out);
	run_ok(b, &out, "--json station info cli.big");
	p = strstr(out, "\"last_seq\"");
	assert_non_null(p);
	assert_non_null(strstr(p, "100000"));
	free(out);
	free(path);
	free(in);
}

static void
test_cli_consume_json(void **state)
{
	struct broker	*b = *state;
	char		*out;

	run_ok(b, &out, "station create cli.j");
	free(out);
	run_ok(b, &out, "produce cli.j -H a=b 'hello \"world\"'");
	free(out);
	run_ok(b, &out, "consume cli.j -g g -n 1 --json");
	assert_non_null(strstr(out, "\"seq\""));
	assert_non_null(strstr(out, "\"time\""));
	assert_non_null(strstr(out, "\"headers\""));
	assert_non_null(strstr(out, "hello \\\"world\\\""));
	assert_int_equal(out[strlen(out) - 1], '\n');
	free(out);
}

/*
 * Issue 14: "consume -n 1" five times on a group that dead-letters what
 * it delivered once without an ack prints messages 1..5 in order, each
 * delivered once, and nothing goes to the dead-letter station.
 */
static void
test_cli_issue14_consume_n_takes_n(void **state)
{
	struct broker	*b = *state;
	char		*out, want[64];
	int		 i;

	run_ok(b, &out, "station create cli.n");
	free(out);
	run_ok(b, &out, "produce cli.n m1 m2 m3 m4 m5 m6 m7");
	free(out);
	run_ok(b, &out, "group create cli.n g --max-deliveries 1");
	free(out);
	for (i = 1; i <= 5; i++) {
		run_ok(b, &out, "consume cli.n -g g -n 1 --json");
		snprintf(want, sizeof want, "\"seq\":%d,", i);
		assert_non_null(strstr(out, want));
		assert_non_null(strstr(out, "\"deliveries\":1,"));
		/* One line: one message. */
		assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
		free(out);
	}
	run_ok(b, &out, "--json station info cli.n.dls");
	assert_non_null(strstr(out, "\"messages\":0,"));
	free(out);
	run_ok(b, &out, "consume cli.n -g g -n 2");
	assert_string_equal(out, "m6\nm7\n");
	free(out);
}

static void
test_cli_broker_down(void **state)
{
	struct broker	 down;
	char		*out, *err;

	(void)state;
	memset(&down, 0, sizeof down);
	snprintf(down.url, sizeof down.url, "tupelo://127.0.0.1:1");
	assert_int_equal(cli_run(&down, NULL, &out, &err, "station ls"), 1);
	assert_true(strlen(err) > 0);
	free(out);
	free(err);
}

/*
 * Lines from standard input refused by the broker (its data capped at
 * 4 MiB): the CLI says what the broker said, not only the code's words.
 */
static void
test_cli_produce_refused_says_why(void **state)
{
	struct broker	 capped;
	char		*in, *path, *out, *err;
	size_t		 n = 6000, len = 1001, i;

	(void)state;
	memset(&capped, 0, sizeof capped);
	if (broker_start(&capped, "--map-size", "2M", "--max-data-size",
	    "4M", NULL) != 0)
		fail_msg("cannot start a capped broker");
	if (capped.external) {
		broker_stop(&capped);
		skip();
	}
	run_ok(&capped, NULL, "station create full");
	assert_non_null(in = malloc(n * len));
	memset(in, 'x', n * len);
	for (i = 0; i < n; i++)
		in[i * len + len - 1] = '\n';
	assert_non_null(path = harness_tmpfile(in, n * len));
	free(in);
	assert_int_equal(cli_run(&capped, path, &out, &err,
	    "produce full"), 1);
	if (strstr(err, "messages failed: storage full: message not stored")
	    == NULL)
		fail_msg("no reason from the broker: %s", err);
	unlink(path);
	free(path);
	free(out);
	free(err);
	broker_stop(&capped);
}

/* A counter in the JSON that tupelo args prints. */
static uint64_t
station_counter(struct broker *b, const char *args, const char *key)
{
	char		*out, *p, pat[64];
	uint64_t	 v;

	snprintf(pat, sizeof pat, "\"%s\":", key);
	run_ok(b, &out, args);
	if ((p = strstr(out, pat)) == NULL)
		fail_msg("no %s in %s", key, out);
	v = strtoull(p + strlen(pat), NULL, 10);
	free(out);
	return (v);
}

/*
 * station create --compression, station update (only the options given
 * change, 0 removes a retention limit), the new info fields, usage errors.
 */
static void
test_cli_station_update_and_compression(void **state)
{
	struct broker	*b = *state;
	char		*in, *path, *out, *err;
	const char	*info = "--json station info cli.z";
	size_t		 n = 200, i, len = 0;
	int		 tries;

	in = malloc(n * 1100);
	assert_non_null(in);
	for (i = 0; i < n; i++) {
		len += (size_t)sprintf(in + len, "{\"id\":%zu,\"note\":\"", i);
		memset(in + len, 'x', 1000);
		len += 1000;
		len += (size_t)sprintf(in + len, "\"}\n");
	}
	path = harness_tmpfile(in, len);
	assert_non_null(path);
	run_ok(b, &out, "station create cli.z --compression zstd "
	    "--compression-level 5");
	free(out);
	if (cli_run(b, path, &out, &err, "produce cli.z") != 0)
		fail_msg("produce: %s", err);
	free(out);
	free(err);
	run_ok(b, &out, info);
	assert_non_null(strstr(out, "\"compression\":\"zstd\""));
	assert_non_null(strstr(out, "\"compression_level\":5"));
	assert_non_null(strstr(out, "\"removed\":0"));
	free(out);
	assert_true(station_counter(b, info, "bytes") <
	    station_counter(b, info, "logical_bytes"));
	run_ok(b, &out, "station info cli.z");
	assert_non_null(strstr(out, "logical_bytes"));
	assert_non_null(strstr(out, "compression "));
	free(out);

	run_ok(b, &out, "station update cli.z --retention-messages 50");
	assert_string_equal(out, "updated station cli.z\n");
	free(out);
	for (tries = 0; tries < 300; tries++) {
		if (station_counter(b, info, "messages") == 50)
			break;
		usleep(50000);
	}
	assert_int_equal(station_counter(b, info, "messages"), 50);
	assert_int_equal(station_counter(b, info, "removed"), n - 50);
	assert_int_equal(station_counter(b, info, "first_seq"), n - 49);

	/* Only the level changes; 0 removes the limit. */
	run_ok(b, &out, "--json station update cli.z --compression-level -3 "
	    "--retention-messages 0");
	assert_non_null(strstr(out, "\"updated\":[\"retention_messages\","
	    "\"compression_level\"]"));
	free(out);
	run_ok(b, &out, info);
	assert_non_null(strstr(out, "\"compression\":\"zstd\""));
	assert_non_null(strstr(out, "\"compression_level\":-3"));
	assert_non_null(strstr(out, "\"retention_messages\":0"));
	free(out);
	if (cli_run(b, path, &out, &err, "produce cli.z") != 0)
		fail_msg("produce: %s", err);
	free(out);
	free(err);
	assert_int_equal(station_counter(b, info, "messages"), 50 + n);

	assert_int_equal(cli_run(b, NULL, &out, &err, "station update cli.z"),
	    2);
	free(out);
	free(err);
	assert_int_equal(cli_run(b, NULL, &out, &err, "station create cli.y "
	    "--compression-level 3"), 2);
	free(out);
	free(err);
	assert_int_equal(cli_run(b, NULL, &out, &err, "station update cli.z "
	    "--compression-level 20"), 2);
	free(out);
	free(err);
	assert_int_equal(cli_run(b, NULL, &out, &err, "station update "
	    "nosuch --retention-age 1"), 1);
	free(out);
	free(err);
	free(path);
	free(in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cli_station_commands),
		cmocka_unit_test(test_cli_usage_errors),
		cmocka_unit_test(test_cli_produce_arguments_and_headers),
		cmocka_unit_test(test_cli_hundred_thousand_lines),
		cmocka_unit_test(test_cli_consume_json),
		cmocka_unit_test(test_cli_issue14_consume_n_takes_n),
		cmocka_unit_test(test_cli_broker_down),
		cmocka_unit_test(test_cli_produce_refused_says_why),
		cmocka_unit_test(test_cli_station_update_and_compression),
	};

	harness_watchdog(600);
	return (cmocka_run_group_tests(tests, harness_setup,
	    harness_teardown));
}
