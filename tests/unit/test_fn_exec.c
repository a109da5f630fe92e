/*
 * broker/fn_exec against real /bin/sh commands on a real event_base: each
 * test runs the loop until its callbacks came, under a watchdog.
 */
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "broker/fn_exec.h"
#include "broker/log.h"
#include "proto/error.h"

#define WATCHDOG_S	20	/* no test may take longer */

struct run {
	int			 called;
	struct fn_result	 res;
	char			*out;	/* owned copy of res.output */
};

static struct event_base	*base;
static struct event		*watchdog;
static int			 pending;	/* callbacks still due */

static void
run_done_cb(void *arg, const struct fn_result *res)
{
	struct run	*r = arg;

	assert_int_equal(r->called, 0);
	r->called = 1;
	r->res = *res;
	r->out = malloc(res->output_len + 1);
	assert_non_null(r->out);
	if (res->output_len != 0)
		memcpy(r->out, res->output, res->output_len);
	r->out[res->output_len] = '\0';
	r->res.output = NULL;
	if (--pending == 0)
		event_base_loopbreak(base);
}

static void
watchdog_cb(evutil_socket_t fd, short events, void *arg)
{
	fail_msg("watchdog: callbacks still due: %d", pending);
}

static int
setup(void **state)
{
	struct timeval	tv = { WATCHDOG_S, 0 };

	if ((base = event_base_new()) == NULL)
		return (-1);
	if (fn_exec_start(base, NULL) != TP_OK)
		return (-1);
	watchdog = evtimer_new(base, watchdog_cb, NULL);
	evtimer_add(watchdog, &tv);
	pending = 0;
	return (0);
}

static int
teardown(void **state)
{
	fn_exec_stop();
	event_free(watchdog);
	event_base_free(base);
	return (0);
}

/* The environment of a run that names none: a PATH only. */
static char *const path_env[] = { "PATH=/usr/bin:/bin", NULL };
static char *const echo_first[] = { "/bin/sh", "-c", "echo first", NULL };
static char *const sh_true[] = { "/bin/true", NULL };

/*
 * Start cmd through /bin/sh -c with exactly env (NULL: path_env) and a
 * copy of input (NULL: none); the callback not yet.
 */
static struct fn_exec *
start(struct run *r, const char *cmd, char *const *env, const void *input,
    size_t inlen, int timeout_ms, size_t output_max)
{
	char *const	 argv[] = { "/bin/sh", "-c", (char *)cmd, NULL };
	struct fn_exec	*fe = NULL;
	struct tp_err	 err;
	void		*copy = NULL;

	memset(r, 0, sizeof *r);
	if (inlen != 0) {
		assert_non_null(copy = malloc(inlen));
		memcpy(copy, input, inlen);
	}
	if (fn_exec_run(argv, env != NULL ? env : path_env, copy, inlen,
	    timeout_ms, output_max, run_done_cb, r, &fe, &err) != TP_OK)
		fail_msg("fn_exec_run: %s", err.message);
	assert_int_equal(r->called, 0);
	pending++;
	return (fe);
}

static void
loop(void)
{
	event_base_dispatch(base);
	assert_int_equal(pending, 0);
	assert_int_equal(fn_exec_running(), 0);
}

static void
run_free(struct run *r)
{
	free(r->out);
}

/* Run the loop for ms milliseconds. */
static void
loop_for(int ms)
{
	struct timeval	tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* Live (not zombie) processes in group pgid, from /proc. */
static int
group_live(pid_t pgid)
{
	DIR		*d;
	struct dirent	*de;
	FILE		*f;
	char		 path[300], line[1024], *p, state;
	long		 pgrp;
	int		 n = 0;

	assert_non_null(d = opendir("/proc"));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(line, sizeof line, f) != NULL &&
		    (p = strrchr(line, ')')) != NULL &&
		    sscanf(p + 1, " %c %*d %ld", &state, &pgrp) == 2 &&
		    pgrp == (long)pgid && state != 'Z' && state != 'X')
			n++;
		fclose(f);
	}
	closedir(d);
	return (n);
}

static void
test_fn_exec_cat_echoes_input(void **state)
{
	const size_t	 len = 1024 * 1024;
	struct run	 r;
	char		*in;
	size_t		 i;

	assert_non_null(in = malloc(len));
	for (i = 0; i < len; i++)
		in[i] = (char)(i * 7 + i / 251);
	start(&r, "cat", NULL, in, len, 10000, 2 * len);
	loop();
	assert_int_equal(r.res.ok, 1);
	assert_int_equal(r.res.status, 0);
	assert_int_equal(r.res.signal, 0);
	assert_int_equal(r.res.timed_out, 0);
	assert_int_equal(r.res.output_truncated, 0);
	assert_string_equal(r.res.error, "");
	assert_int_equal(r.res.output_len, len);
	assert_memory_equal(r.out, in, len);
	free(in);
	run_free(&r);
}

static void
test_fn_exec_exit_status_and_stderr(void **state)
{
	struct run	r;

	start(&r, "echo some output; echo 'bad thing happened' >&2; exit 3",
	    NULL, NULL, 0, 5000, 1024);
	loop();
	assert_int_equal(r.res.ok, 0);
	assert_int_equal(r.res.retry, 1);
	assert_int_equal(r.res.retry_after_ms, -1);
	assert_int_equal(r.res.status, 3);
	assert_int_equal(r.res.signal, 0);
	assert_int_equal(r.res.timed_out, 0);
	assert_string_equal(r.out, "some output\n");
	assert_string_equal(r.res.error, "bad thing happened");
	run_free(&r);
}

static void
test_fn_exec_exit_status_text(void **state)
{
	struct run	r;

	start(&r, "exit 3", NULL, NULL, 0, 5000, 1024);
	loop();
	assert_int_equal(r.res.ok, 0);
	assert_int_equal(r.res.status, 3);
	assert_string_equal(r.res.error, "exited with status 3");
	run_free(&r);
}

static void
test_fn_exec_exit_zero_no_input(void **state)
{
	struct run	r;

	start(&r, "exit 0", NULL, NULL, 0, 5000, 1024);
	loop();
	assert_int_equal(r.res.ok, 1);
	assert_int_equal(r.res.retry, 0);
	assert_int_equal(r.res.status, 0);
	assert_int_equal(r.res.output_len, 0);
	assert_string_equal(r.res.error, "");
	run_free(&r);
}

static void
test_fn_exec_stderr_tail(void **state)
{
	struct run	r;
	size_t		i, len;

	start(&r, "i=0; while [ $i -lt 300 ]; do printf 'line%d\\t\\r\\n' $i"
	    " >&2; i=$((i + 1)); done; exit 1", NULL, NULL, 0, 5000, 1024);
	loop();
	assert_int_equal(r.res.ok, 0);
	assert_int_equal(r.res.status, 1);
	len = strlen(r.res.error);
	assert_true(len > 400 && len < FN_ERROR_MAX);
	assert_non_null(strstr(r.res.error, "line299"));
	assert_null(strstr(r.res.error, "line0 "));
	for (i = 0; i < len; i++)
		assert_true(r.res.error[i] >= 0x20 && r.res.error[i] < 0x7f);
	assert_true(r.res.error[len - 1] != ' ');
	run_free(&r);
}

/* The run gets env and nothing of the broker's environment. */
static void
test_fn_exec_env(void **state)
{
	char *const	env[] = { "TUPELO_X=hello world", "TUPELO_Y=new",
			    "BROKEN", "PATH=/usr/bin:/bin", NULL };
	struct run	r;

	setenv("TUPELO_Y", "old", 1);
	setenv("TUPELO_Z", "secret", 1);
	start(&r, "printf '%s|%s|%s|%s' \"$TUPELO_X\" \"$TUPELO_Y\""
	    " \"$TUPELO_Z\" \"$(env | grep -c '^TUPELO_Y=')\"", env, NULL, 0,
	    5000, 1024);
	loop();
	assert_int_equal(r.res.ok, 1);
	assert_string_equal(r.out, "hello world|new||1");
	unsetenv("TUPELO_Y");
	unsetenv("TUPELO_Z");
	run_free(&r);
}

static void
test_fn_exec_timeout(void **state)
{
	struct run	r;
	time_t		t0 = time(NULL);

	start(&r, "echo late >&2; exec sleep 30", NULL, NULL, 0, 300, 1024);
	loop();
	assert_true(time(NULL) - t0 < 5);
	assert_int_equal(r.res.ok, 0);
	assert_int_equal(r.res.retry, 1);
	assert_int_equal(r.res.timed_out, 1);
	assert_int_equal(r.res.status, -1);
	assert_int_equal(r.res.signal, SIGKILL);
	assert_string_equal(r.res.error, "timed out after 300 ms: late");
	run_free(&r);
}

static void
test_fn_exec_timeout_kills_group(void **state)
{
	struct run	r;
	long		pid;
	int		i;

	start(&r, "echo $$; sleep 100 & sleep 100", NULL, NULL, 0, 300,
	    1024);
	loop();
	assert_int_equal(r.res.timed_out, 1);
	assert_string_equal(r.res.error, "timed out after 300 ms");
	assert_int_equal(sscanf(r.out, "%ld", &pid), 1);
	assert_true(pid > 1);
	/* Orphans are reparented and reaped elsewhere: no live one left. */
	for (i = 0; i < 100 && group_live((pid_t)pid) != 0; i++)
		usleep(20000);
	assert_int_equal(group_live((pid_t)pid), 0);
	run_free(&r);
}

static void
test_fn_exec_exit_kills_group(void **state)
{
	struct run	r;
	long		pid;
	int		i;

	/* The leader exits at once; its child holds the pipes open. */
	start(&r, "echo $$; sleep 100 &", NULL, NULL, 0, 10000, 1024);
	loop();
	assert_int_equal(r.res.ok, 1);
	assert_int_equal(r.res.timed_out, 0);
	assert_int_equal(sscanf(r.out, "%ld", &pid), 1);
	for (i = 0; i < 100 && group_live((pid_t)pid) != 0; i++)
		usleep(20000);
	assert_int_equal(group_live((pid_t)pid), 0);
	run_free(&r);
}

static void
test_fn_exec_killed_by_signal(void **state)
{
	struct run	r;

	start(&r, "kill -SEGV $$", NULL, NULL, 0, 5000, 1024);
	loop();
	assert_int_equal(r.res.ok, 0);
	assert_int_equal(r.res.retry, 1);
	assert_int_equal(r.res.status, -1);
	assert_int_equal(r.res.signal, SIGSEGV);
	assert_int_equal(r.res.timed_out, 0);
	assert_non_null(strstr(r.res.error, "killed by signal 11"));
	run_free(&r);
}

static void
test_fn_exec_output_truncated(void **state)
{
	struct run	r;

	start(&r, "head -c 300000 /dev/zero | tr '\\0' x", NULL, NULL, 0,
	    5000, 1000);
	loop();
	assert_int_equal(r.res.ok, 1);
	assert_int_equal(r.res.output_truncated, 1);
	assert_int_equal(r.res.output_len, 1000);
	assert_int_equal(strspn(r.out, "x"), 1000);
	run_free(&r);

	start(&r, "echo hidden", NULL, NULL, 0, 5000, 0);
	loop();
	assert_int_equal(r.res.ok, 1);
	assert_int_equal(r.res.output_truncated, 1);
	assert_int_equal(r.res.output_len, 0);
	run_free(&r);
}

static void
test_fn_exec_command_not_found(void **state)
{
	struct run	r;

	start(&r, "tupelo-no-such-command-here", NULL, NULL, 0, 5000, 1024);
	loop();
	assert_int_equal(r.res.ok, 0);
	assert_int_equal(r.res.retry, 1);
	assert_int_equal(r.res.status, 127);
	assert_non_null(strstr(r.res.error, "not found"));
	run_free(&r);
}

static void
test_fn_exec_unread_input(void **state)
{
	const size_t	 len = 4 * 1024 * 1024;
	struct run	 r;
	char		*in;

	assert_non_null(in = calloc(1, len));
	start(&r, "exit 0", NULL, in, len, 5000, 1024);
	loop();
	assert_int_equal(r.res.ok, 1);
	assert_string_equal(r.res.error, "");
	run_free(&r);

	/* Reads a little, then closes stdin and carries on. */
	start(&r, "head -c 10 >/dev/null; exec 0<&-; sleep 0.2; echo done",
	    NULL, in, len, 5000, 1024);
	loop();
	assert_int_equal(r.res.ok, 1);
	assert_string_equal(r.out, "done\n");
	run_free(&r);
	free(in);
}

static void
test_fn_exec_concurrent(void **state)
{
	struct run	r[50];
	char		in[32];
	int		i;

	for (i = 0; i < 50; i++) {
		snprintf(in, sizeof in, "run %d", i);
		start(&r[i], i % 2 ? "cat" : "sleep 0.1; cat", NULL, in,
		    strlen(in), 10000, 1024);
	}
	assert_int_equal(fn_exec_running(), 50);
	loop();
	for (i = 0; i < 50; i++) {
		snprintf(in, sizeof in, "run %d", i);
		assert_int_equal(r[i].called, 1);
		assert_int_equal(r[i].res.ok, 1);
		assert_string_equal(r[i].out, in);
		run_free(&r[i]);
	}
}

static void
test_fn_exec_cancel(void **state)
{
	struct fn_exec	*fe;
	struct run	 r, r2;

	fe = start(&r, "sleep 30", NULL, "x", 1, 10000, 1024);
	loop_for(100);
	assert_int_equal(fn_exec_running(), 1);
	fn_exec_cancel(fe);
	pending--;
	assert_int_equal(fn_exec_running(), 0);
	/* The cancelled child's SIGCHLD comes and is discarded. */
	loop_for(300);
	assert_int_equal(r.called, 0);

	/* Cancelled before the loop ever ran: still no callback. */
	fe = start(&r, "exit 0", NULL, NULL, 0, 10000, 1024);
	fn_exec_cancel(fe);
	pending--;
	start(&r2, "exit 0", NULL, NULL, 0, 10000, 1024);
	loop();
	assert_int_equal(r.called, 0);
	assert_int_equal(r2.called, 1);
	run_free(&r2);

	/* Left running at fn_exec_stop(): no callback either. */
	start(&r, "sleep 30", NULL, NULL, 0, 10000, 1024);
	pending--;
}

static struct fn_exec	*self_fe;
static struct run	 self_next;

/* Cancels its own (finished) run and starts the next from the callback. */
static void
self_done_cb(void *arg, const struct fn_result *res)
{
	fn_exec_cancel(self_fe);
	if (arg != &self_next)
		start(&self_next, "echo next", NULL, NULL, 0, 5000, 1024);
	run_done_cb(arg, res);
}

static void
test_fn_exec_callback_reenters(void **state)
{
	struct tp_err	err;
	struct run	r;

	memset(&r, 0, sizeof r);
	memset(&self_next, 0, sizeof self_next);
	assert_int_equal(fn_exec_run(echo_first, path_env, NULL, 0, 5000, 1024,
	    self_done_cb, &r, &self_fe, &err), TP_OK);
	pending = 1;
	loop();
	assert_int_equal(r.called, 1);
	assert_string_equal(r.out, "first\n");
	assert_int_equal(self_next.called, 1);
	assert_string_equal(self_next.out, "next\n");
	run_free(&r);
	run_free(&self_next);
}

static void
test_fn_exec_no_fd_leak(void **state)
{
	struct run	 r;
	char		*p, *end;
	long		 n;
	int		 fd, seen[3] = { 0, 0, 0 }, others = 0;

	assert_true((fd = open("/dev/null", O_RDONLY)) != -1);
	assert_int_equal(dup2(fd, 77), 77);
	start(&r, "for f in /proc/$$/fd/*; do printf '%s ' ${f##*/}; done",
	    NULL, NULL, 0, 5000, 4096);
	loop();
	close(77);
	close(fd);
	assert_int_equal(r.res.ok, 1);
	/* 0-2, and at most the directory the glob reads (which may reuse
	 * fd's number); never 77. */
	for (p = r.out; *p != '\0'; p = end) {
		n = strtol(p, &end, 10);
		assert_true(end != p && *end == ' ');
		end++;
		assert_true(n != 77);
		if (n >= 0 && n <= 2)
			seen[n]++;
		else
			others++;
	}
	assert_true(seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
	assert_true(others <= 1);
	run_free(&r);
}

static void
test_fn_exec_bad_arguments(void **state)
{
	struct fn_exec	*fe = NULL;
	struct tp_err	 err;
	struct run	 r;
	void		*in;

	/* input is freed on every error: valgrind tells. */
	assert_non_null(in = malloc(10));
	assert_int_equal(fn_exec_run(sh_true, path_env, in, 10, 0, 10,
	    run_done_cb, &r, &fe, &err), TP_EINVAL);
	assert_int_equal(err.code, TP_EINVAL);
	assert_null(fe);
	assert_int_equal(fn_exec_running(), 0);

	fn_exec_stop();
	assert_non_null(in = malloc(10));
	assert_int_equal(fn_exec_run(sh_true, path_env, in, 10, 100, 10,
	    run_done_cb, &r, &fe, &err), TP_EINVAL);
	assert_int_equal(fn_exec_start(base, &err), TP_OK);
	assert_int_equal(fn_exec_start(base, &err), TP_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_fn_exec_cat_echoes_input, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_fn_exec_exit_status_and_stderr, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_fn_exec_exit_status_text, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_fn_exec_exit_zero_no_input, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_fn_exec_stderr_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_fn_exec_env, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_fn_exec_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_fn_exec_timeout_kills_group, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_fn_exec_exit_kills_group, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_fn_exec_killed_by_signal, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_fn_exec_output_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_fn_exec_command_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_fn_exec_unread_input, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_fn_exec_concurrent, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_fn_exec_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_fn_exec_callback_reenters, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_fn_exec_no_fd_leak, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_fn_exec_bad_arguments, setup, teardown),
	};

	/* As the broker does: a child that stops reading is no crash. */
	signal(SIGPIPE, SIG_IGN);
	if (getenv("TUPELO_TEST_DEBUG") != NULL)
		log_open(LOG_LEVEL_DEBUG, NULL);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
