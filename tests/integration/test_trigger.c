/*
 * Function triggers with the exec target against a real tupelod, driven
 * through the tupelo CLI as a user drives them: the event document and
 * environment; ten thousand messages once each and in log order; retries
 * with backoff into the dead letters; bisecting and batchItemFailures
 * around a poison message; timeouts (the whole process group killed) and
 * signals; async mode, batch windows and byte limits, start positions,
 * ordering keys, max age and --on-failure; chaining through --on-success,
 * also across a SIGKILL of the broker; tupelo invoke; filters; and the
 * admin commands (ls, info, pause, resume, update, rm, bad settings, a
 * restart).
 *
 * The functions are shell scripts written at run time into a directory of
 * the test; they keep their records next to themselves. Every wait polls
 * the expected state up to a deadline; nothing asserts speed.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define WAIT_MS		30000	/* deadline of a wait */
#define WAIT_LONG_MS	90000	/* for thousands of messages */
#define POLL_US		50000	/* between two looks */

/*
 * The start of every function: d is its directory, py a python3 (the
 * system one when there is one: version-manager shims start slowly).
 */
static const char fn_prologue[] =
    "d='%s'\n"
    "py=python3\n"
    "[ -x /usr/bin/python3 ] && py=/usr/bin/python3\n";

/*
 * Python that prints the body of every record of the event, in order, a
 * line each, in one write: functions running at once append to the same
 * file, and PYTHONUNBUFFERED may be set.
 */
#define FN_BODIES							\
    "\"$py\" -c 'import json, sys\n"					\
    "sys.stdout.write(\"\".join(r[\"body\"] + \"\\n\"\n"		\
    "    for r in json.load(sys.stdin)[\"Records\"]))\n'"

static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* ---- functions: shell scripts in a directory of the test ---- */

/*
 * A new directory for a test's functions, inside the broker's temporary
 * directory when the test started the broker: removed with it even when
 * the test fails.
 */
static void
fn_dir(struct broker *b, char *dir, size_t size)
{
	if (b->dir[0] != '\0' && strlen(b->dir) + 12 < size)
		snprintf(dir, size, "%s/fn.XXXXXX", b->dir);
	else
		snprintf(dir, size, "/tmp/tupelo-fn.XXXXXX");
	if (mkdtemp(dir) == NULL)
		fail_msg("mkdtemp: %s", strerror(errno));
}

static void
fn_dir_remove(const char *dir)
{
	char	cmd[128];
	int	r;

	if (getenv("TUPELO_TEST_KEEP") != NULL)
		return;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	r = system(cmd);
	(void)r;
}

/* Write the function dir/name; cmd gets the command that runs it. */
static void
fn_script(const char *dir, const char *name, const char *body, char *cmd,
    size_t size)
{
	char	 path[160];
	FILE	*f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	fprintf(f, fn_prologue, dir);
	fputs(body, f);
	if (fclose(f) != 0)
		fail_msg("%s: %s", path, strerror(errno));
	snprintf(cmd, size, "sh %s", path);
}

/* The contents of dir/name (malloc'd), "" while it does not exist. */
static char *
fn_file(const char *dir, const char *name)
{
	char	 path[256], *buf = NULL, *p;
	size_t	 len = 0, cap = 0, n;
	FILE	*f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((f = fopen(path, "r")) == NULL) {
		if ((buf = strdup("")) == NULL)
			fail_msg("out of memory");
		return (buf);
	}
	do {
		if (cap - len < 65536) {
			cap = cap == 0 ? 65536 : cap * 2;
			if ((p = realloc(buf, cap + 1)) == NULL)
				fail_msg("out of memory");
			buf = p;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = '\0';
	return (buf);
}

static size_t
count_lines(const char *s)
{
	size_t	n = 0;

	for (; *s != '\0'; s++) {
		if (*s == '\n')
			n++;
	}
	return (n);
}

/* Line i (from 0) of text, malloc'd without its newline, or NULL. */
static char *
line_at(const char *text, size_t i)
{
	const char	*end;
	char		*line;

	while (i-- > 0) {
		if ((text = strchr(text, '\n')) == NULL)
			return (NULL);
		text++;
	}
	if (*text == '\0')
		return (NULL);
	if ((end = strchr(text, '\n')) == NULL)
		end = text + strlen(text);
	if ((line = strndup(text, (size_t)(end - text))) == NULL)
		fail_msg("out of memory");
	return (line);
}

/* Wait until dir/name has at least n lines; returns its contents. */
static char *
fn_wait_lines(const char *dir, const char *name, size_t n, int ms)
{
	int64_t	 deadline = now_ms() + ms;
	char	*s;

	for (;;) {
		s = fn_file(dir, name);
		if (count_lines(s) >= n)
			return (s);
		if (now_ms() > deadline)
			fail_msg("%s/%s: %zu lines after %d ms, want %zu", dir,
			    name, count_lines(s), ms, n);
		free(s);
		usleep(POLL_US);
	}
}

/* ---- the CLI ---- */

/* Run the CLI, failing the test unless it exits 0; returns stdout. */
static char * __attribute__((format(printf, 2, 3)))
cli_ok(struct broker *b, const char *fmt, ...)
{
	char	 args[4096], *out = NULL, *err = NULL;
	va_list	 ap;
	int	 rc;

	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	rc = cli_run(b, NULL, &out, &err, "%s", args);
	if (rc != 0)
		fail_msg("tupelo %s: exit %d: %s", args, rc,
		    err != NULL ? err : "");
	free(err);
	if (out == NULL && (out = strdup("")) == NULL)
		fail_msg("out of memory");
	return (out);
}

/* Run the CLI; returns its exit status, *err its stderr (malloc'd). */
static int __attribute__((format(printf, 3, 4)))
cli_status(struct broker *b, char **err, const char *fmt, ...)
{
	char	 args[4096], *out = NULL, *e = NULL;
	va_list	 ap;
	int	 rc;

	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	rc = cli_run(b, NULL, &out, &e, "%s", args);
	free(out);
	if (e == NULL && (e = strdup("")) == NULL)
		fail_msg("out of memory");
	if (err != NULL)
		*err = e;
	else
		free(e);
	return (rc);
}

/* Produce each line of text as a message, through standard input. */
static void
produce_lines(struct broker *b, const char *station, const char *text)
{
	char	*path, *out = NULL, *err = NULL;
	int	 rc;

	if ((path = harness_tmpfile(text, strlen(text))) == NULL)
		fail_msg("cannot write a temp file");
	rc = cli_run(b, path, &out, &err, "produce %s", station);
	unlink(path);
	free(path);
	if (rc != 0)
		fail_msg("produce %s: exit %d: %s", station, rc,
		    err != NULL ? err : "");
	free(out);
	free(err);
}

/* ---- JSON as the CLI prints it ---- */

/* Where the value of "key" starts in json, or NULL. */
static const char *
json_value(const char *json, const char *key)
{
	char		 pat[128];
	const char	*p;
	size_t		 len;

	len = (size_t)snprintf(pat, sizeof pat, "\"%s\"", key);
	for (p = json; (p = strstr(p, pat)) != NULL; p += len) {
		p += len;
		while (*p == ' ')
			p++;
		if (*p != ':')
			continue;
		p++;
		while (*p == ' ')
			p++;
		return (p);
	}
	return (NULL);
}

/* The number (or boolean: 1, 0) of "key" in json; fails when absent. */
static int64_t
json_num(const char *json, const char *key)
{
	const char	*p;

	if ((p = json_value(json, key)) == NULL)
		fail_msg("no \"%s\" in %s", key, json);
	if (strncmp(p, "true", 4) == 0)
		return (1);
	if (strncmp(p, "false", 5) == 0)
		return (0);
	if (*p == '"')
		p++;
	return (strtoll(p, NULL, 10));
}

/* The string "key" of json, unescaped into buf; 0 when absent. */
static int
json_str(const char *json, const char *key, char *buf, size_t size)
{
	const char	*p;
	size_t		 n = 0;
	char		 c;

	if ((p = json_value(json, key)) == NULL || *p++ != '"')
		return (0);
	for (; *p != '\0' && *p != '"'; p++) {
		c = *p;
		if (c == '\\' && p[1] != '\0') {
			c = *++p;
			if (c == 'n')
				c = '\n';
			else if (c == 't')
				c = '\t';
			else if (c == 'u') {
				c = '?';
				p += strnlen(p + 1, 4);
			}
		}
		if (n + 1 < size)
			buf[n++] = c;
	}
	buf[n] = '\0';
	return (1);
}

/* Fail unless the string "key" of json is want. */
static void
assert_json_str(const char *json, const char *key, const char *want)
{
	char	buf[1024];

	if (!json_str(json, key, buf, sizeof buf))
		fail_msg("no string \"%s\" in %s", key, json);
	if (strcmp(buf, want) != 0)
		fail_msg("\"%s\" is \"%s\", want \"%s\" in %s", key, buf, want,
		    json);
}

/* Fail unless the string "key" of json contains want. */
static void
assert_json_has(const char *json, const char *key, const char *want)
{
	char	buf[1024];

	if (!json_str(json, key, buf, sizeof buf))
		fail_msg("no string \"%s\" in %s", key, json);
	if (strstr(buf, want) == NULL)
		fail_msg("\"%s\" is \"%s\", want it to contain \"%s\"", key,
		    buf, want);
}

/* ---- triggers and dead letters ---- */

/* A figure or setting of "trigger info --json". */
static int64_t
trig_num(struct broker *b, const char *name, const char *key)
{
	char	*out;
	int64_t	 v;

	out = cli_ok(b, "--json trigger info %s", name);
	v = json_num(out, key);
	free(out);
	return (v);
}

/* Wait until the figure key of trigger name is want. */
static void
trig_wait(struct broker *b, const char *name, const char *key, int64_t want,
    int ms)
{
	int64_t	deadline = now_ms() + ms, v;

	for (;;) {
		if ((v = trig_num(b, name, key)) == want)
			return;
		if (now_ms() > deadline)
			fail_msg("trigger %s: %s is %lld after %d ms, want "
			    "%lld", name, key, (long long)v, ms,
			    (long long)want);
		usleep(POLL_US);
	}
}

/* A number of "station info --json". */
static int64_t
station_num(struct broker *b, const char *station, const char *key)
{
	char	*out;
	int64_t	 v;

	out = cli_ok(b, "--json station info %s", station);
	v = json_num(out, key);
	free(out);
	return (v);
}

/*
 * Wait until station has n dead letters; returns "dls ls --json" (one
 * object per line). The dead-letter station may not exist before.
 */
static char *
dls_wait(struct broker *b, const char *station, size_t n)
{
	int64_t	 deadline = now_ms() + WAIT_MS;
	char	*out = NULL, *err = NULL;
	int	 rc;

	for (;;) {
		rc = cli_run(b, NULL, &out, &err, "--json dls ls %s", station);
		if (rc == 0 && out != NULL && count_lines(out) >= n)
			break;
		if (now_ms() > deadline)
			fail_msg("dls ls %s: exit %d, %zu dead letters after "
			    "%d ms, want %zu: %s", station, rc, out != NULL ?
			    count_lines(out) : 0, WAIT_MS, n,
			    err != NULL ? err : "");
		free(out);
		free(err);
		usleep(POLL_US);
	}
	free(err);
	return (out);
}

/* Fail unless the command exits 1 or 2 with stderr containing want. */
static void
assert_rejected(struct broker *b, const char *args, const char *want)
{
	char	*err;
	int	 rc;

	rc = cli_status(b, &err, "%s", args);
	if (rc != 1 && rc != 2)
		fail_msg("tupelo %s: exit %d, want 1 or 2", args, rc);
	if (strstr(err, want) == NULL)
		fail_msg("tupelo %s: \"%s\" does not say \"%s\"", args, err,
		    want);
	free(err);
}

/*
 * A broker for the tests that give commands to run through /bin/sh -c:
 * exec-triggers = any. The named functions test starts its own.
 */
static int
trigger_setup(void **state)
{
	struct broker	*b;

	if ((b = calloc(1, sizeof *b)) == NULL)
		return (-1);
	if (broker_start(b, "--exec-triggers", "any", NULL) != 0) {
		free(b);
		return (-1);
	}
	*state = b;
	return (0);
}

/* ---- the tests ---- */

/*
 * The event document on standard input and the environment: one record
 * with its header, one whose payload is not UTF-8 (base64).
 */
static void
test_trigger_event_document(void **state)
{
	struct broker	*b = *state;
	char		 dir[64], cmd[256], *s;

	fn_dir(b, dir, sizeof dir);
	fn_script(dir, "doc.sh",
	    "cat >\"$d/doc.$TUPELO_FIRST_SEQ\"\n"
	    "env | grep -E '^TUPELO_(STATION|TRIGGER|BATCH_SIZE|ATTEMPT|"
	    "FIRST_SEQ|LAST_SEQ)=' | sort >\"$d/env.$TUPELO_FIRST_SEQ\"\n",
	    cmd, sizeof cmd);
	free(cli_ok(b, "station create ev"));
	free(cli_ok(b, "trigger add ev1 --station ev --exec '%s' "
	    "--batch-size 1", cmd));
	free(cli_ok(b, "produce ev -H color=blue hello"));
	produce_lines(b, "ev", "\377\376x\n");
	trig_wait(b, "ev1", "position", 2, WAIT_MS);

	s = fn_file(dir, "doc.1");
	assert_non_null(strstr(s, "{\"Records\":[{"));
	assert_non_null(strstr(s, "\"messageId\":\"1\""));
	assert_non_null(strstr(s, "\"sequenceNumber\":\"1\""));
	assert_non_null(strstr(s, "\"body\":\"hello\""));
	assert_non_null(strstr(s, "\"ApproximateReceiveCount\":\"1\""));
	assert_non_null(strstr(s, "\"attempt\":\"1\""));
	assert_non_null(strstr(s, "\"SentTimestamp\":\""));
	assert_non_null(strstr(s, "\"eventSource\":\"tupelo\""));
	assert_non_null(strstr(s, "\"eventSourceARN\":\"tupelo:station:ev\""));
	assert_non_null(strstr(s, "\"station\":\"ev\""));
	assert_non_null(strstr(s, "\"trigger\":\"ev1\""));
	assert_non_null(strstr(s, "\"color\":\"blue\""));
	assert_null(strstr(s, "isBase64Encoded"));
	free(s);
	s = fn_file(dir, "env.1");
	assert_string_equal(s, "TUPELO_ATTEMPT=1\nTUPELO_BATCH_SIZE=1\n"
	    "TUPELO_FIRST_SEQ=1\nTUPELO_LAST_SEQ=1\nTUPELO_STATION=ev\n"
	    "TUPELO_TRIGGER=ev1\n");
	free(s);
	/* Bytes ff fe 78 are not UTF-8: base64 "//54". */
	s = fn_file(dir, "doc.2");
	assert_non_null(strstr(s, "\"isBase64Encoded\":true"));
	assert_non_null(strstr(s, "\"body\":\"//54\""));
	assert_non_null(strstr(s, "\"messageId\":\"2\""));
	free(s);
	free(cli_ok(b, "trigger rm ev1"));
	fn_dir_remove(dir);
}

/*
 * 10,000 messages through a stream trigger with batches of 100: every
 * body exactly once, in log order, in batches that follow each other.
 */
static void
test_trigger_ten_thousand_in_order(void **state)
{
	struct broker	*b = *state;
	char		 dir[64], cmd[256], *in, *s, *line;
	size_t		 n = 10000, i, len = 0, total = 0;
	unsigned long	 first, last, size, next = 1;

	fn_dir(b, dir, sizeof dir);
	fn_script(dir, "collect.sh",
	    "echo \"$TUPELO_FIRST_SEQ $TUPELO_LAST_SEQ $TUPELO_BATCH_SIZE\" "
	    ">>\"$d/batches\"\n"
	    FN_BODIES " >>\"$d/out\"\n", cmd, sizeof cmd);
	free(cli_ok(b, "station create bulk"));
	free(cli_ok(b, "trigger add bulk1 --station bulk --exec '%s' "
	    "--batch-size 100", cmd));
	if ((in = malloc(n * 16)) == NULL)
		fail_msg("out of memory");
	for (i = 1; i <= n; i++)
		len += (size_t)sprintf(in + len, "body-%05zu\n", i);
	produce_lines(b, "bulk", in);
	trig_wait(b, "bulk1", "position", (int64_t)n, WAIT_LONG_MS);

	s = fn_file(dir, "out");
	assert_int_equal(strlen(s), len);
	assert_memory_equal(s, in, len);
	free(s);
	s = fn_file(dir, "batches");
	for (i = 0; (line = line_at(s, i)) != NULL; i++) {
		if (sscanf(line, "%lu %lu %lu", &first, &last, &size) != 3)
			fail_msg("batch line \"%s\"", line);
		assert_int_equal(first, next);
		assert_int_equal(last - first + 1, size);
		assert_in_range(size, 1, 100);
		next = last + 1;
		total += size;
		free(line);
	}
	assert_int_equal(total, n);
	free(s);
	assert_int_equal(trig_num(b, "bulk1", "messages"), n);
	assert_int_equal(trig_num(b, "bulk1", "failures"), 0);
	assert_int_equal(trig_num(b, "bulk1", "lag"), 0);
	free(in);
	fn_dir_remove(dir);
}

/*
 * Records each invocation ("attempt first last ns" in inv); when the
 * batch holds a poison message, fails with "poison found" (its end as
 * "first ns" in failed), else appends the bodies to out.
 */
static const char fn_poison[] =
    "doc=$(cat)\n"
    "echo \"$TUPELO_ATTEMPT $TUPELO_FIRST_SEQ $TUPELO_LAST_SEQ "
    "$(date +%s%N)\" >>\"$d/inv\"\n"
    "case $doc in\n"
    "*poison*)\n"
    "\techo 'poison found' >&2\n"
    "\techo \"$TUPELO_FIRST_SEQ $(date +%s%N)\" >>\"$d/failed\"\n"
    "\texit 1 ;;\n"
    "esac\n"
    "printf '%s' \"$doc\" | " FN_BODIES " >>\"$d/out\"\n";

/* "name-1" .. "name-n" one a line, "poison" at seq bad. */
static char *
poison_lines(const char *name, size_t n, size_t bad)
{
	char	*s;
	size_t	 i, len = 0;

	if ((s = malloc(n * 32 + 1)) == NULL)
		fail_msg("out of memory");
	s[0] = '\0';
	for (i = 1; i <= n; i++) {
		if (i == bad)
			len += (size_t)sprintf(s + len, "poison\n");
		else
			len += (size_t)sprintf(s + len, "%s-%zu\n", name, i);
	}
	return (s);
}

/* The lines of in without the poison one. */
static char *
healthy_lines(const char *in)
{
	char	*s, *p;

	if ((s = strdup(in)) == NULL)
		fail_msg("out of memory");
	if ((p = strstr(s, "poison\n")) != NULL)
		memmove(p, p + 7, strlen(p + 7) + 1);
	return (s);
}

/* Fail unless the dead letters (dls ls --json) are just the poison. */
static void
assert_poison_dead(const char *dls, const char *station, const char *trig,
    unsigned long seq, const char *error, const char *attempts)
{
	char	*line, group[128], seqs[32];

	assert_int_equal(count_lines(dls), 1);
	line = line_at(dls, 0);
	snprintf(group, sizeof group, "_trigger.%s", trig);
	snprintf(seqs, sizeof seqs, "%lu", seq);
	assert_json_str(line, "payload", "poison");
	assert_json_str(line, "tp-origin-station", station);
	assert_json_str(line, "tp-origin-seq", seqs);
	assert_json_str(line, "tp-group", group);
	assert_json_str(line, "tp-trigger", trig);
	assert_json_str(line, "tp-reason", "max-retries");
	assert_json_str(line, "tp-attempts", attempts);
	assert_json_has(line, "tp-error", error);
	free(line);
}

/*
 * Batches of one, two retries with backoff 200 ms doubling: the poison
 * message is invoked three times (attempts 1, 2, 3, the second wait
 * longer than the first), then dead-lettered with its error; every other
 * message succeeds once.
 */
static void
test_trigger_poison_retries_then_dls(void **state)
{
	struct broker	*b = *state;
	char		 dir[64], cmd[256], *in, *want, *s, *line, *dls;
	unsigned long	 att, first, last;
	long long	 ns, at[4] = { 0, 0, 0, 0 }, end[4] = { 0, 0, 0, 0 };
	size_t		 i, npoison = 0, nother = 0;

	fn_dir(b, dir, sizeof dir);
	fn_script(dir, "poison.sh", fn_poison, cmd, sizeof cmd);
	free(cli_ok(b, "station create po"));
	free(cli_ok(b, "trigger add po1 --station po --exec '%s' "
	    "--batch-size 1 --max-retries 2 --backoff 200:2000", cmd));
	in = poison_lines("ok", 10, 5);
	produce_lines(b, "po", in);

	dls = dls_wait(b, "po", 1);
	assert_poison_dead(dls, "po", "po1", 5, "poison found", "3");
	free(dls);
	trig_wait(b, "po1", "position", 10, WAIT_MS);
	want = healthy_lines(in);
	s = fn_file(dir, "out");
	assert_string_equal(s, want);
	free(s);
	free(want);

	s = fn_file(dir, "inv");
	for (i = 0; (line = line_at(s, i)) != NULL; i++) {
		if (sscanf(line, "%lu %lu %lu %lld", &att, &first, &last,
		    &ns) != 4)
			fail_msg("invocation line \"%s\"", line);
		assert_int_equal(first, last);
		/* In log order: nothing after the poison before it is done. */
		assert_int_equal(first, i < 4 ? i + 1 : i < 7 ? 5 : i - 1);
		if (first == 5) {
			assert_true(npoison < 3);
			assert_int_equal(att, ++npoison);
			at[npoison] = ns / 1000000;
		} else {
			assert_int_equal(att, 1);
			nother++;
		}
		free(line);
	}
	free(s);
	assert_int_equal(npoison, 3);
	assert_int_equal(nother, 9);
	/*
	 * From the end of an attempt to the start of the next: backoff
	 * 200, then 400 ms, +-10%, and the time to start the function.
	 */
	s = fn_file(dir, "failed");
	for (i = 0; (line = line_at(s, i)) != NULL; i++) {
		if (i >= 3 || sscanf(line, "%lu %lld", &first, &ns) != 2)
			fail_msg("failure line \"%s\"", line);
		assert_int_equal(first, 5);
		end[i + 1] = ns / 1000000;
		free(line);
	}
	free(s);
	assert_int_equal(i, 3);
	assert_true(at[2] - end[1] >= 180);
	assert_true(at[3] - end[2] >= 360);
	assert_true(at[3] - end[2] > at[2] - end[1]);

	assert_int_equal(trig_num(b, "po1", "dead_lettered"), 1);
	assert_int_equal(trig_num(b, "po1", "failures"), 3);
	assert_int_equal(trig_num(b, "po1", "successes"), 9);
	assert_int_equal(trig_num(b, "po1", "invocations"), 12);
	assert_int_equal(trig_num(b, "po1", "messages"), 9);
	free(in);
	fn_dir_remove(dir);
}

/*
 * Batches of ten with --bisect-on-error: the failed batch is split until
 * the poison message is alone; only it is dead-lettered (after three
 * attempts of its own), its neighbours all succeed, once, in order.
 */
static void
test_trigger_bisect_isolates_poison(void **state)
{
	struct broker	*b = *state;
	char		 dir[64], cmd[256], *in, *want, *s, *line, *dls;
	unsigned long	 att, first, last;
	long long	 ns;
	size_t		 i, alone = 0, mixed = 0;

	fn_dir(b, dir, sizeof dir);
	fn_script(dir, "poison.sh", fn_poison, cmd, sizeof cmd);
	free(cli_ok(b, "station create bi"));
	free(cli_ok(b, "trigger add bi1 --station bi --exec '%s' "
	    "--batch-size 10 --batch-window-ms 300 --bisect-on-error "
	    "--max-retries 2 --backoff 100:400", cmd));
	in = poison_lines("h", 30, 14);
	produce_lines(b, "bi", in);

	dls = dls_wait(b, "bi", 1);
	assert_poison_dead(dls, "bi", "bi1", 14, "poison found", "3");
	free(dls);
	trig_wait(b, "bi1", "position", 30, WAIT_MS);
	want = healthy_lines(in);
	s = fn_file(dir, "out");
	assert_string_equal(s, want);
	free(s);
	free(want);

	s = fn_file(dir, "inv");
	for (i = 0; (line = line_at(s, i)) != NULL; i++) {
		if (sscanf(line, "%lu %lu %lu %lld", &att, &first, &last,
		    &ns) != 4)
			fail_msg("invocation line \"%s\"", line);
		if (first == 14 && last == 14)
			assert_int_equal(att, ++alone);
		else if (first <= 14 && last >= 14) {
			/* Splitting is not an attempt. */
			assert_int_equal(att, 1);
			mixed++;
		}
		free(line);
	}
	free(s);
	assert_int_equal(alone, 3);
	assert_true(mixed >= 1);
	assert_int_equal(trig_num(b, "bi1", "dead_lettered"), 1);
	free(in);
	fn_dir_remove(dir);
}

/*
 * --item-failures: the function reports the poison message in
 * batchItemFailures and exits 0; only it is retried and dead-lettered,
 * the rest of its batch is done once.
 */
static void
test_trigger_item_failures(void **state)
{
	struct broker	*b = *state;
	char		 dir[64], cmd[256], *in, *want, *s, *dls;

	fn_dir(b, dir, sizeof dir);
	fn_script(dir, "items.sh",
	    "echo \"$TUPELO_ATTEMPT $TUPELO_FIRST_SEQ $TUPELO_LAST_SEQ\" "
	    ">>\"$d/inv\"\n"
	    "exec \"$py\" -c 'import json, sys\n"
	    "recs = json.load(sys.stdin)[\"Records\"]\n"
	    "with open(sys.argv[1] + \"/out\", \"a\") as f:\n"
	    "    f.write(\"\".join(r[\"body\"] + \"\\n\" for r in recs\n"
	    "        if r[\"body\"] != \"poison\"))\n"
	    "bad = [{\"itemIdentifier\": r[\"messageId\"]} for r in recs\n"
	    "    if r[\"body\"] == \"poison\"]\n"
	    "print(json.dumps({\"batchItemFailures\": bad}))\n' \"$d\"\n",
	    cmd, sizeof cmd);
	free(cli_ok(b, "station create it"));
	free(cli_ok(b, "trigger add it1 --station it --exec '%s' "
	    "--batch-size 10 --batch-window-ms 300 --item-failures "
	    "--max-retries 2 --backoff 100:400", cmd));
	in = poison_lines("i", 30, 14);
	produce_lines(b, "it", in);

	dls = dls_wait(b, "it", 1);
	assert_poison_dead(dls, "it", "it1", 14, "batchItemFailures", "3");
	free(dls);
	trig_wait(b, "it1", "position", 30, WAIT_MS);
	want = healthy_lines(in);
	s = fn_file(dir, "out");
	assert_string_equal(s, want);
	free(s);
	free(want);
	assert_int_equal(trig_num(b, "it1", "dead_lettered"), 1);
	assert_int_equal(trig_num(b, "it1", "messages"), 29);
	free(in);
	fn_dir_remove(dir);
}

/*
 * Async mode, batches of five, four at a time, a poison message among
 * them: it is retried and dead-lettered while the others go on; every
 * other body is done exactly once.
 */
static void
test_trigger_async_mode(void **state)
{
	struct broker	*b = *state;
	char		 dir[64], cmd[256], *in, *s, *line, *dls, want[32];
	unsigned	*seen;
	size_t		 i, n = 200;
	unsigned long	 k;

	fn_dir(b, dir, sizeof dir);
	fn_script(dir, "poison.sh", fn_poison, cmd, sizeof cmd);
	free(cli_ok(b, "station create as"));
	free(cli_ok(b, "trigger add as1 --station as --exec '%s' "
	    "--mode async --concurrency 4 --batch-size 5 --max-retries 2 "
	    "--backoff 100:400 --bisect-on-error", cmd));
	assert_int_equal(trig_num(b, "as1", "concurrency"), 4);
	in = poison_lines("a", n, 77);
	produce_lines(b, "as", in);
	dls = dls_wait(b, "as", 1);
	assert_poison_dead(dls, "as", "as1", 77, "poison found", "3");
	free(dls);
	trig_wait(b, "as1", "position", (int64_t)n, WAIT_MS);
	if ((seen = calloc(n + 1, sizeof *seen)) == NULL)
		fail_msg("out of memory");
	s = fn_file(dir, "out");
	for (i = 0; (line = line_at(s, i)) != NULL; i++) {
		if (sscanf(line, "a-%lu", &k) != 1 || k < 1 || k > n)
			fail_msg("output line %zu \"%s\" of:\n%s", i, line, s);
		seen[k]++;
		free(line);
	}
	free(s);
	for (k = 1; k <= n; k++) {
		snprintf(want, sizeof want, "a-%lu", k);
		if (seen[k] != (k == 77 ? 0 : 1))
			fail_msg("%s done %u times", want, seen[k]);
	}
	assert_int_equal(trig_num(b, "as1", "in_flight"), 0);
	assert_int_equal(trig_num(b, "as1", "dead_lettered"), 1);
	free(seen);
	free(in);
	fn_dir_remove(dir);
}

/*
 * Batching: a partial batch waits for --batch-window-ms and then goes as
 * one; --batch-max-bytes caps a batch below --batch-size.
 */
static void
test_trigger_batching(void **state)
{
	struct broker	*b = *state;
	char		 dir[64], cmd[256], *s, *line, *in;
	unsigned long	 first, last, size, next = 1;
	size_t		 i, len = 0;

	fn_dir(b, dir, sizeof dir);
	fn_script(dir, "batch.sh",
	    "echo \"$TUPELO_FIRST_SEQ $TUPELO_LAST_SEQ $TUPELO_BATCH_SIZE\" "
	    ">>\"$d/batches.$TUPELO_TRIGGER\"\n"
	    FN_BODIES " >>\"$d/out.$TUPELO_TRIGGER\"\n", cmd, sizeof cmd);
	free(cli_ok(b, "station create bw"));
	free(cli_ok(b, "trigger add bw1 --station bw --exec '%s' "
	    "--batch-size 5 --batch-window-ms 1000", cmd));
	produce_lines(b, "bw", "w-1\nw-2\nw-3\n");
	trig_wait(b, "bw1", "position", 3, WAIT_MS);
	s = fn_file(dir, "batches.bw1");
	assert_string_equal(s, "1 3 3\n");
	free(s);

	/* 300-byte messages, at most 1024 bytes a batch: 3 at most. */
	free(cli_ok(b, "station create bb"));
	free(cli_ok(b, "trigger add bb1 --station bb --exec '%s' "
	    "--batch-size 100 --batch-max-bytes 1024 --start all", cmd));
	if ((in = malloc(20 * 302 + 1)) == NULL)
		fail_msg("out of memory");
	for (i = 0; i < 20; i++) {
		memset(in + len, 'a' + (int)i, 300);
		len += 300;
		in[len++] = '\n';
	}
	in[len] = '\0';
	produce_lines(b, "bb", in);
	trig_wait(b, "bb1", "position", 20, WAIT_MS);
	s = fn_file(dir, "out.bb1");
	assert_string_equal(s, in);
	free(s);
	s = fn_file(dir, "batches.bb1");
	for (i = 0; (line = line_at(s, i)) != NULL; i++) {
		if (sscanf(line, "%lu %lu %lu", &first, &last, &size) != 3)
			fail_msg("batch line \"%s\"", line);
		assert_int_equal(first, next);
		assert_in_range(size, 1, 3);
		next = last + 1;
		free(line);
	}
	assert_int_equal(next, 21);
	free(s);
	free(in);
	fn_dir_remove(dir);
}

/*
 * A function that never reads its input (200 KB, more than a pipe holds)
 * and exits 0 has succeeded.
 */
static void
test_trigger_input_not_read(void **state)
{
	struct broker	*b = *state;
	char		 dir[64], cmd[256], *in, *s;
	size_t		 i, len = 0;

	fn_dir(b, dir, sizeof dir);
	fn_script(dir, "deaf.sh", "echo \"$TUPELO_BATCH_SIZE\" >>\"$d/inv\"\n",
	    cmd, sizeof cmd);
	free(cli_ok(b, "station create deaf"));
	free(cli_ok(b, "trigger add deaf1 --station deaf --exec '%s' "
	    "--batch-size 100 --batch-window-ms 2000 --max-retries 0", cmd));
	if ((in = malloc(100 * 2002 + 1)) == NULL)
		fail_msg("out of memory");
	for (i = 0; i < 100; i++) {
		memset(in + len, 'x', 2000);
		len += 2000;
		in[len++] = '\n';
	}
	in[len] = '\0';
	produce_lines(b, "deaf", in);
	trig_wait(b, "deaf1", "position", 100, WAIT_MS);
	assert_int_equal(trig_num(b, "deaf1", "failures"), 0);
	assert_int_equal(trig_num(b, "deaf1", "dead_lettered"), 0);
	assert_int_equal(trig_num(b, "deaf1", "messages"), 100);
	s = fn_file(dir, "inv");
	assert_string_equal(s, "100\n");
	free(s);
	free(in);
	fn_dir_remove(dir);
}

/*
 * The output cannot be stored (no such on-success station): the batch
 * failed, is retried, then dead-lettered with that reason.
 */
static void
test_trigger_on_success_missing(void **state)
{
	struct broker	*b = *state;
	char		 dir[64], cmd[256], *s, *dls;

	fn_dir(b, dir, sizeof dir);
	fn_script(dir, "out.sh",
	    "cat >/dev/null\n"
	    "echo \"$TUPELO_ATTEMPT\" >>\"$d/inv\"\n"
	    "echo result\n", cmd, sizeof cmd);
	free(cli_ok(b, "station create nos"));
	free(cli_ok(b, "trigger add nos1 --station nos --exec '%s' "
	    "--on-success nos-out --max-retries 1 --backoff 100", cmd));
	free(cli_ok(b, "produce nos lost"));
	dls = dls_wait(b, "nos", 1);
	assert_json_str(dls, "payload", "lost");
	assert_json_has(dls, "tp-error", "nos-out");
	free(dls);
	s = fn_file(dir, "inv");
	assert_string_equal(s, "1\n2\n");
	free(s);
	fn_dir_remove(dir);
}

/*
 * A function that leaves a process of another session behind, holding
 * its standard output: the invocation is done when the function exits,
 * not when that process does.
 */
static void
test_trigger_escaped_child(void **state)
{
	struct broker	*b = *state;
	char		 dir[64], cmd[256], kill_cmd[256], *s;
	int		 r;

	fn_dir(b, dir, sizeof dir);
	fn_script(dir, "escape.sh",
	    "cat >/dev/null\n"
	    "setsid sleep 120 &\n"
	    "echo $! >\"$d/escaped\"\n"
	    "echo done\n", cmd, sizeof cmd);
	free(cli_ok(b, "station create esc"));
	free(cli_ok(b, "trigger add esc1 --station esc --exec '%s' "
	    "--timeout-ms 60000", cmd));
	free(cli_ok(b, "produce esc one"));
	trig_wait(b, "esc1", "position", 1, WAIT_MS);
	assert_int_equal(trig_num(b, "esc1", "successes"), 1);
	s = fn_file(dir, "escaped");
	snprintf(kill_cmd, sizeof kill_cmd, "kill %ld 2>/dev/null",
	    strtol(s, NULL, 10));
	free(s);
	r = system(kill_cmd);
	(void)r;
	fn_dir_remove(dir);
}

/* Removing a station removes its triggers; the names are free again. */
static void
test_trigger_station_removed(void **state)
{
	struct broker	*b = *state;
	char		 dir[64], cmd[256], *s;

	fn_dir(b, dir, sizeof dir);
	fn_script(dir, "rm.sh", FN_BODIES " >>\"$d/out\"\n", cmd,
	    sizeof cmd);
	free(cli_ok(b, "station create gone"));
	free(cli_ok(b, "trigger add gone1 --station gone --exec '%s'", cmd));
	free(cli_ok(b, "station rm gone"));
	assert_rejected(b, "trigger info gone1", "gone1");
	s = cli_ok(b, "trigger ls");
	assert_null(strstr(s, "gone1"));
	free(s);
	free(cli_ok(b, "station create gone"));
	free(cli_ok(b, "trigger add gone1 --station gone --exec '%s'", cmd));
	free(cli_ok(b, "produce gone again"));
	trig_wait(b, "gone1", "position", 1, WAIT_MS);
	s = fn_file(dir, "out");
	assert_string_equal(s, "again\n");
	free(s);
	fn_dir_remove(dir);
}

/* Is pid a live process whose command is sleep? */
static int
sleep_alive(long pid)
{
	char	 path[64], buf[64];
	size_t	 n;
	FILE	*f;

	snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
	if ((f = fopen(path, "r")) == NULL)
		return (0);
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* A zombie has an empty command line. */
	return (n > 0 && strcmp(buf, "sleep") == 0);
}

/*
 * A function that hangs (a sleep in the foreground and one in the
 * background) past --timeout-ms: killed, group and all, retried once,
 * then dead-lettered as timed out; none of its processes remains.
 */
static void
test_trigger_timeout_kills_group(void **state)
{
	struct broker	*b = *state;
	char		 dir[64], cmd[256], *s, *line, *dls;
	int64_t		 deadline;
	size_t		 i, alive;

	fn_dir(b, dir, sizeof dir);
	fn_script(dir, "hang.sh",
	    "cat >/dev/null\n"
	    "echo \"$TUPELO_ATTEMPT\" >>\"$d/inv\"\n"
	    "echo $$ >>\"$d/pids\"\n"
	    "sleep 60 &\n"
	    "echo $! >>\"$d/pids\"\n"
	    "exec sleep 60\n", cmd, sizeof cmd);
	free(cli_ok(b, "station create hang"));
	free(cli_ok(b, "trigger add hang1 --station hang --exec '%s' "
	    "--batch-size 1 --timeout-ms 500 --max-retries 1 --backoff 100",
	    cmd));
	free(cli_ok(b, "produce hang stuck"));

	dls = dls_wait(b, "hang", 1);
	assert_int_equal(count_lines(dls), 1);
	assert_json_str(dls, "payload", "stuck");
	assert_json_str(dls, "tp-reason", "max-retries");
	assert_json_str(dls, "tp-attempts", "2");
	assert_json_has(dls, "tp-error", "timed out");
	free(dls);
	s = fn_file(dir, "inv");
	assert_string_equal(s, "1\n2\n");
	free(s);

	/* Killed: gone as soon as the kernel has taken them down. */
	deadline = now_ms() + WAIT_MS;
	do {
		s = fn_file(dir, "pids");
		assert_int_equal(count_lines(s), 4);
		alive = 0;
		for (i = 0; (line = line_at(s, i)) != NULL; i++) {
			alive += sleep_alive(strtol(line, NULL, 10));
			free(line);
		}
		free(s);
		if (alive == 0)
			break;
		usleep(POLL_US);
	} while (now_ms() < deadline);
	assert_int_equal(alive, 0);
	assert_int_equal(trig_num(b, "hang1", "dead_lettered"), 1);
	assert_int_equal(trig_num(b, "hang1", "in_flight"), 0);
	fn_dir_remove(dir);
}

/* A function that kills itself with SIGSEGV: retried, then "signal". */
static void
test_trigger_signal(void **state)
{
	struct broker	*b = *state;
	char		 dir[64], cmd[256], *s, *dls;

	fn_dir(b, dir, sizeof dir);
	fn_script(dir, "segv.sh",
	    "cat >/dev/null\n"
	    "echo \"$TUPELO_ATTEMPT\" >>\"$d/inv\"\n"
	    "ulimit -c 0\n"
	    "kill -SEGV $$\n", cmd, sizeof cmd);
	free(cli_ok(b, "station create sig"));
	/* exec: the shell that kills itself is the one the broker ran. */
	free(cli_ok(b, "trigger add sig1 --station sig --exec 'exec %s' "
	    "--batch-size 1 --max-retries 1 --backoff 100", cmd));
	free(cli_ok(b, "produce sig crash"));

	dls = dls_wait(b, "sig", 1);
	assert_json_str(dls, "payload", "crash");
	assert_json_str(dls, "tp-reason", "max-retries");
	assert_json_str(dls, "tp-attempts", "2");
	assert_json_has(dls, "tp-error", "signal");
	free(dls);
	s = fn_file(dir, "inv");
	assert_string_equal(s, "1\n2\n");
	free(s);
	fn_dir_remove(dir);
}

/*
 * tupelo invoke: the function's output on success; its error and exit 1
 * on failure; a station without a trigger, or none at all, fails.
 */
static void
test_trigger_invoke(void **state)
{
	struct broker	*b = *state;
	char		 dir[64], cmd[256], fcmd[256], sh[1024], name[32];
	char		 want[32], *out, *err;
	size_t		 i;

	fn_dir(b, dir, sizeof dir);
	fn_script(dir, "echo.sh",
	    "exec \"$py\" -c 'import json, sys\n"
	    "r = json.load(sys.stdin)[\"Records\"][0]\n"
	    "k = r[\"headers\"].get(\"k\")\n"
	    "sys.stdout.write(\"echo:\" + r[\"body\"] + "
	    "(\"|\" + k if k else \"\"))'\n", cmd, sizeof cmd);
	fn_script(dir, "fail.sh",
	    "cat >/dev/null\n"
	    "echo 'bad input' >&2\n"
	    "exit 3\n", fcmd, sizeof fcmd);
	free(cli_ok(b, "station create rpc"));
	free(cli_ok(b, "station create rpcfail"));
	free(cli_ok(b, "station create rpcnone"));
	free(cli_ok(b, "trigger add rpc1 --station rpc --exec '%s'", cmd));
	free(cli_ok(b, "trigger add rpcfail1 --station rpcfail --exec '%s' "
	    "--max-retries 0", fcmd));

	out = cli_ok(b, "invoke rpc hello --timeout 20");
	assert_string_equal(out, "echo:hello");
	free(out);
	out = cli_ok(b, "invoke rpc again --header k=v --timeout 20");
	assert_string_equal(out, "echo:again|v");
	free(out);
	/* Five callers at once: each gets the output for its message. */
	snprintf(sh, sizeof sh, "for i in 1 2 3 4 5; do %s -u '%s' invoke rpc "
	    "m$i --timeout 20 >%s/call.$i 2>&1 & done; wait", harness_cli(),
	    b->url, dir);
	assert_int_equal(system(sh), 0);
	for (i = 1; i <= 5; i++) {
		snprintf(name, sizeof name, "call.%zu", i);
		snprintf(want, sizeof want, "echo:m%zu", i);
		out = fn_file(dir, name);
		assert_string_equal(out, want);
		free(out);
	}

	assert_int_equal(cli_status(b, &err, "invoke rpcfail hello "
	    "--timeout 20"), 1);
	assert_non_null(strstr(err, "function failed"));
	assert_non_null(strstr(err, "bad input"));
	free(err);
	/* Given up: it went to the dead letters like any other. */
	free(dls_wait(b, "rpcfail", 1));

	assert_int_equal(cli_status(b, &err, "invoke rpcnone hello "
	    "--timeout 5"), 1);
	assert_non_null(strstr(err, "trigger"));
	free(err);
	assert_int_equal(cli_status(b, &err, "invoke nosuchstation hello "
	    "--timeout 5"), 1);
	assert_true(strlen(err) > 0);
	free(err);
	fn_dir_remove(dir);
}

/*
 * A station with two triggers: invoke answers with the result of the
 * first enabled one by name (tupelo(1)), even when the other one is done
 * first.
 */
static void
test_trigger_invoke_first_by_name(void **state)
{
	struct broker	*b = *state;
	char		 dir[64], acmd[256], bcmd[256], *out;

	fn_dir(b, dir, sizeof dir);
	fn_script(dir, "slow.sh",
	    "cat >/dev/null\n"
	    "sleep 1\n"
	    "printf 'from-a'\n", acmd, sizeof acmd);
	fn_script(dir, "quick.sh",
	    "cat >/dev/null\n"
	    "printf 'from-b'\n", bcmd, sizeof bcmd);
	free(cli_ok(b, "station create multi"));
	free(cli_ok(b, "trigger add multi-a --station multi --exec '%s'",
	    acmd));
	free(cli_ok(b, "trigger add multi-b --station multi --exec '%s'",
	    bcmd));
	out = cli_ok(b, "invoke multi hello --timeout 20");
	assert_string_equal(out, "from-a");
	free(out);
	fn_dir_remove(dir);
}

/*
 * Filters on a header and on a field of the JSON payload: only matching
 * messages invoke, the rest are counted as filtered and acked.
 */
static void
test_trigger_filters(void **state)
{
	struct broker	*b = *state;
	char		 dir[64], cmd[256], *s;

	fn_dir(b, dir, sizeof dir);
	fn_script(dir, "orders.sh", FN_BODIES " >>\"$d/out.$TUPELO_TRIGGER\"\n",
	    cmd, sizeof cmd);
	free(cli_ok(b, "station create fl"));
	free(cli_ok(b, "trigger add fl1 --station fl --exec '%s' "
	    "--filter type=order --filter '$.amount=100'", cmd));
	free(cli_ok(b, "trigger add fl2 --station fl --exec '%s' "
	    "--filter 'region?' --filter 'type^=ord' --filter 'type!=refund'",
	    cmd));
	free(cli_ok(b, "produce fl -H type=order '{\"id\":\"a\","
	    "\"amount\":100}'"));
	free(cli_ok(b, "produce fl -H type=order '{\"id\":\"b\","
	    "\"amount\":7}'"));
	free(cli_ok(b, "produce fl -H type=refund '{\"id\":\"c\","
	    "\"amount\":100}'"));
	free(cli_ok(b, "produce fl '{\"id\":\"d\",\"amount\":100}'"));
	free(cli_ok(b, "produce fl -H type=order 'not json'"));
	free(cli_ok(b, "produce fl -H type=order '{\"id\":\"f\"}'"));
	free(cli_ok(b, "produce fl -H type=order -H region=eu "
	    "'{\"id\":\"g\",\"amount\":100}'"));
	trig_wait(b, "fl1", "position", 7, WAIT_MS);
	trig_wait(b, "fl2", "position", 7, WAIT_MS);

	s = fn_file(dir, "out.fl1");
	assert_string_equal(s, "{\"id\":\"a\",\"amount\":100}\n"
	    "{\"id\":\"g\",\"amount\":100}\n");
	free(s);
	s = fn_file(dir, "out.fl2");
	assert_string_equal(s, "{\"id\":\"g\",\"amount\":100}\n");
	free(s);
	assert_int_equal(trig_num(b, "fl1", "filtered"), 5);
	assert_int_equal(trig_num(b, "fl1", "messages"), 2);
	assert_int_equal(trig_num(b, "fl2", "filtered"), 6);
	assert_int_equal(trig_num(b, "fl2", "messages"), 1);
	fn_dir_remove(dir);
}

/*
 * tupelo invoke of a message the station's trigger filters out: answered
 * at once with an error that says so, not left to the timeout (the filter
 * may drop the message before the append's callback has run).
 */
static void
test_trigger_invoke_filtered_out(void **state)
{
	struct broker	*b = *state;
	char		 dir[64], cmd[256], *err;

	fn_dir(b, dir, sizeof dir);
	fn_script(dir, "never.sh", "cat >/dev/null\necho invoked\n", cmd,
	    sizeof cmd);
	free(cli_ok(b, "station create flinv"));
	free(cli_ok(b, "trigger add flinv1 --station flinv --exec '%s' "
	    "--filter type=order", cmd));
	assert_int_equal(cli_status(b, &err, "invoke flinv -H type=refund "
	    "refund-1 --timeout 5"), 1);
	if (strstr(err, "filtered") == NULL)
		fail_msg("invoke of a filtered message: %s", err);
	free(err);
	trig_wait(b, "flinv1", "position", 1, WAIT_MS);
	assert_int_equal(trig_num(b, "flinv1", "filtered"), 1);
	assert_int_equal(trig_num(b, "flinv1", "invocations"), 0);
	fn_dir_remove(dir);
}

/*
 * --max-retries -1 with --max-age: retried until the message is too old,
 * then dead-lettered as max-age, with the last error, to the
 * --on-failure station instead of the dead-letter station.
 */
static void
test_trigger_max_age_on_failure(void **state)
{
	struct broker	*b = *state;
	char		 dir[64], cmd[256], *s, *line, *err;
	int64_t		 deadline;

	fn_dir(b, dir, sizeof dir);
	fn_script(dir, "fail.sh",
	    "cat >/dev/null\n"
	    "echo \"$TUPELO_ATTEMPT\" >>\"$d/inv\"\n"
	    "echo 'always fails' >&2\n"
	    "exit 1\n", cmd, sizeof cmd);
	free(cli_ok(b, "station create ag"));
	free(cli_ok(b, "station create ag-failed"));
	free(cli_ok(b, "trigger add ag1 --station ag --exec '%s' "
	    "--batch-size 1 --max-retries -1 --max-age 1 --backoff 200:400 "
	    "--on-failure ag-failed", cmd));
	free(cli_ok(b, "produce ag old"));
	trig_wait(b, "ag1", "position", 1, WAIT_MS);

	deadline = now_ms() + WAIT_MS;
	for (;;) {
		s = cli_ok(b, "--json read ag-failed");
		if (count_lines(s) > 0 || now_ms() > deadline)
			break;
		free(s);
		usleep(POLL_US);
	}
	assert_int_equal(count_lines(s), 1);
	line = line_at(s, 0);
	assert_json_str(line, "payload", "old");
	assert_json_str(line, "tp-reason", "max-age");
	assert_json_str(line, "tp-trigger", "ag1");
	assert_json_str(line, "tp-origin-station", "ag");
	assert_json_has(line, "tp-error", "always fails");
	free(line);
	free(s);
	/* Retried more than the default two times, while young enough. */
	s = fn_file(dir, "inv");
	assert_true(count_lines(s) >= 2);
	free(s);
	assert_int_equal(trig_num(b, "ag1", "dead_lettered"), 1);
	/* Nothing in the default dead-letter station. */
	if (cli_status(b, &err, "--json dls ls ag") == 0) {
		free(err);
		s = cli_ok(b, "--json dls ls ag");
		assert_int_equal(count_lines(s), 0);
		free(s);
	} else
		free(err);
	fn_dir_remove(dir);
}

/* --start all, new (the default), seq:N and last:N. */
static void
test_trigger_start_positions(void **state)
{
	struct broker	*b = *state;
	char		 dir[64], cmd[256], *s;

	fn_dir(b, dir, sizeof dir);
	fn_script(dir, "seen.sh", FN_BODIES " >>\"$d/out.$TUPELO_TRIGGER\"\n",
	    cmd, sizeof cmd);
	free(cli_ok(b, "station create sp"));
	produce_lines(b, "sp", "s-1\ns-2\ns-3\ns-4\ns-5\n");
	free(cli_ok(b, "trigger add spall --station sp --exec '%s' "
	    "--start all", cmd));
	free(cli_ok(b, "trigger add spnew --station sp --exec '%s'", cmd));
	free(cli_ok(b, "trigger add spseq --station sp --exec '%s' "
	    "--start seq:4", cmd));
	free(cli_ok(b, "trigger add splast --station sp --exec '%s' "
	    "--start last:2", cmd));
	free(cli_ok(b, "produce sp s-6"));
	trig_wait(b, "spall", "position", 6, WAIT_MS);
	trig_wait(b, "spnew", "position", 6, WAIT_MS);
	trig_wait(b, "spseq", "position", 6, WAIT_MS);
	trig_wait(b, "splast", "position", 6, WAIT_MS);
	s = fn_file(dir, "out.spall");
	assert_string_equal(s, "s-1\ns-2\ns-3\ns-4\ns-5\ns-6\n");
	free(s);
	s = fn_file(dir, "out.spnew");
	assert_string_equal(s, "s-6\n");
	free(s);
	s = fn_file(dir, "out.spseq");
	assert_string_equal(s, "s-4\ns-5\ns-6\n");
	free(s);
	s = fn_file(dir, "out.splast");
	assert_string_equal(s, "s-4\ns-5\ns-6\n");
	free(s);
	fn_dir_remove(dir);
}

/*
 * Stream mode with --ordering-key and concurrency 3: batches of one key
 * never overlap and keep the key's order; every message once.
 */
static void
test_trigger_ordering_key(void **state)
{
	struct broker	*b = *state;
	char		 dir[64], cmd[256], *s, *line, want[64];
	const char	*keys[] = { "A", "B", "C" };
	size_t		 i, k, next[3] = { 1, 1, 1 };

	fn_dir(b, dir, sizeof dir);
	/* busy.KEY exists while a batch of that key runs. */
	fn_script(dir, "keyed.sh",
	    "exec \"$py\" -c 'import json, os, sys, time\n"
	    "d = sys.argv[1]\n"
	    "recs = json.load(sys.stdin)[\"Records\"]\n"
	    "keys = set(r[\"headers\"].get(\"acct\", \"\") for r in recs)\n"
	    "held = []\n"
	    "for k in keys:\n"
	    "    try:\n"
	    "        os.close(os.open(d + \"/busy.\" + k,\n"
	    "            os.O_CREAT | os.O_EXCL | os.O_WRONLY))\n"
	    "        held.append(k)\n"
	    "    except FileExistsError:\n"
	    "        open(d + \"/overlap\", \"a\").write(k + \"\\n\")\n"
	    "time.sleep(0.05)\n"
	    "with open(d + \"/out\", \"a\") as f:\n"
	    "    f.write(\"\".join(r[\"body\"] + \"\\n\" for r in recs))\n"
	    "for k in held:\n"
	    "    os.unlink(d + \"/busy.\" + k)\n' \"$d\"\n", cmd, sizeof cmd);
	free(cli_ok(b, "station create ok"));
	free(cli_ok(b, "trigger add ok1 --station ok --exec '%s' "
	    "--ordering-key acct --concurrency 3 --batch-size 2", cmd));
	for (i = 1; i <= 6; i++) {
		for (k = 0; k < 3; k++)
			free(cli_ok(b, "produce ok -H acct=%s %s-%zu", keys[k],
			    keys[k], i));
	}
	trig_wait(b, "ok1", "position", 18, WAIT_MS);
	s = fn_file(dir, "overlap");
	assert_string_equal(s, "");
	free(s);
	s = fn_file(dir, "out");
	assert_int_equal(count_lines(s), 18);
	for (i = 0; (line = line_at(s, i)) != NULL; i++) {
		for (k = 0; k < 3; k++) {
			if (line[0] == keys[k][0])
				break;
		}
		assert_true(k < 3);
		snprintf(want, sizeof want, "%s-%zu", keys[k], next[k]++);
		assert_string_equal(line, want);
		free(line);
	}
	free(s);
	fn_dir_remove(dir);
}

/* How many lines of text are "thumb:<prefix>N" for each N of 1..n. */
static void
count_thumbs(const char *text, const char *prefix, size_t n,
    unsigned *seen)
{
	char		 pat[64];
	const char	*p = text;
	size_t		 len;
	unsigned long	 k;
	char		*end;

	len = (size_t)snprintf(pat, sizeof pat, "thumb:%s", prefix);
	memset(seen, 0, (n + 1) * sizeof *seen);
	while (*p != '\0') {
		if (strncmp(p, pat, len) == 0) {
			k = strtoul(p + len, &end, 10);
			if (*end == '\n' && k >= 1 && k <= n)
				seen[k]++;
		}
		if ((p = strchr(p, '\n')) == NULL)
			break;
		p++;
	}
}

static const char fn_resize[] =
    "exec \"$py\" -c 'import json, sys\n"
    "for r in json.load(sys.stdin)[\"Records\"]:\n"
    "    print(\"thumb:\" + r[\"body\"])\n'\n";

/* The output of resize: one message of lines per invocation. */
static const char fn_notify[] =
    "exec \"$py\" -c 'import json, sys\n"
    "with open(sys.argv[1] + \"/notified\", \"a\") as f:\n"
    "    f.write(\"\".join(r[\"body\"]\n"
    "        for r in json.load(sys.stdin)[\"Records\"]))\n' \"$d\"\n";

/*
 * uploads -> resize -> thumbnails -> notify: 200 uploads end as 200
 * notifications, once each. Then 2000 more with the broker killed (-9)
 * in the middle: after a restart every one is notified at least once.
 */
static void
test_trigger_chain_on_success(void **state)
{
	struct broker	*b = *state;
	char		 dir[64], rcmd[256], ncmd[256], *in, *s, *line;
	unsigned	*seen;
	size_t		 i, len, missing;
	int64_t		 deadline;

	if (b->external)
		skip();
	fn_dir(b, dir, sizeof dir);
	fn_script(dir, "resize.sh", fn_resize, rcmd, sizeof rcmd);
	fn_script(dir, "notify.sh", fn_notify, ncmd, sizeof ncmd);
	free(cli_ok(b, "station create uploads"));
	free(cli_ok(b, "station create thumbnails"));
	free(cli_ok(b, "trigger add resize --station uploads --exec '%s' "
	    "--on-success thumbnails --batch-size 20", rcmd));
	free(cli_ok(b, "trigger add notify --station thumbnails --exec '%s' "
	    "--batch-size 20", ncmd));
	if ((in = malloc(2000 * 16)) == NULL ||
	    (seen = calloc(2001, sizeof *seen)) == NULL)
		fail_msg("out of memory");
	for (i = 1, len = 0; i <= 200; i++)
		len += (size_t)sprintf(in + len, "up-%zu\n", i);
	produce_lines(b, "uploads", in);
	trig_wait(b, "resize", "position", 200, WAIT_MS);
	trig_wait(b, "notify", "position", station_num(b, "thumbnails",
	    "last_seq"), WAIT_MS);
	s = fn_file(dir, "notified");
	assert_int_equal(count_lines(s), 200);
	count_thumbs(s, "up-", 200, seen);
	for (i = 1; i <= 200; i++) {
		if (seen[i] != 1)
			fail_msg("up-%zu notified %u times", i, seen[i]);
	}
	free(s);
	/* The output carries where it came from. */
	s = cli_ok(b, "--json read thumbnails --from 1 -n 1");
	line = line_at(s, 0);
	assert_json_str(line, "tp-trigger", "resize");
	assert_json_str(line, "tp-origin-station", "uploads");
	assert_non_null(strstr(line, "\"tp-origin-seq\":\"1-"));
	free(line);
	free(s);

	/* 1000 in, a SIGKILL while they flow, 1000 more after the restart. */
	for (i = 1, len = 0; i <= 1000; i++)
		len += (size_t)sprintf(in + len, "big-%zu\n", i);
	produce_lines(b, "uploads", in);
	free(fn_wait_lines(dir, "notified", 200 + 100, WAIT_LONG_MS));
	broker_kill(b, SIGKILL);
	if (broker_restart(b) != 0)
		fail_msg("the broker did not restart");
	for (i = 1001, len = 0; i <= 2000; i++)
		len += (size_t)sprintf(in + len, "big-%zu\n", i);
	produce_lines(b, "uploads", in);
	trig_wait(b, "resize", "position", 2200, WAIT_LONG_MS);
	trig_wait(b, "notify", "position", station_num(b, "thumbnails",
	    "last_seq"), WAIT_LONG_MS);
	/* Functions of the killed broker may still be finishing. */
	deadline = now_ms() + WAIT_MS;
	for (;;) {
		s = fn_file(dir, "notified");
		count_thumbs(s, "big-", 2000, seen);
		free(s);
		for (i = 1, missing = 0; i <= 2000; i++)
			missing += seen[i] == 0;
		if (missing == 0 || now_ms() > deadline)
			break;
		usleep(POLL_US);
	}
	for (i = 1; i <= 2000; i++) {
		if (seen[i] == 0)
			fail_msg("big-%zu never notified (%zu missing)", i,
			    missing);
	}
	free(seen);
	free(in);
	fn_dir_remove(dir);
}

/*
 * ls and info with settings and figures, pause and resume, update, rm
 * with its group, bad settings, and a restart: the trigger continues
 * after its position without invoking acked messages again.
 */
static void
test_trigger_admin(void **state)
{
	struct broker	*b = *state;
	char		 dir[64], cmd[256], wcmd[256], bad[512], *s, *in;
	size_t		 i, len;

	if (b->external)
		skip();
	fn_dir(b, dir, sizeof dir);
	fn_script(dir, "count.sh", FN_BODIES " >>\"$d/out\"\n", cmd,
	    sizeof cmd);
	fn_script(dir, "witness.sh", "cat >/dev/null\n", wcmd, sizeof wcmd);
	free(cli_ok(b, "station create adm"));
	free(cli_ok(b, "station create other"));
	free(cli_ok(b, "trigger add a1 --station adm --exec '%s' "
	    "--batch-size 5 --timeout-ms 4000 --max-retries 3 "
	    "--backoff 50:800", cmd));
	free(cli_ok(b, "trigger add witness --station adm --exec '%s'", wcmd));
	free(cli_ok(b, "trigger add elsewhere --station other --exec '%s' "
	    "--disabled", wcmd));

	s = cli_ok(b, "trigger ls");
	assert_non_null(strstr(s, "a1"));
	assert_non_null(strstr(s, "witness"));
	assert_non_null(strstr(s, "elsewhere"));
	free(s);
	s = cli_ok(b, "trigger ls --station adm");
	assert_non_null(strstr(s, "a1"));
	assert_null(strstr(s, "elsewhere"));
	free(s);
	s = cli_ok(b, "trigger info a1");
	assert_non_null(strstr(s, "a1"));
	assert_non_null(strstr(s, "adm"));
	free(s);
	s = cli_ok(b, "--json trigger info a1");
	assert_json_str(s, "name", "a1");
	assert_json_str(s, "station", "adm");
	assert_int_equal(json_num(s, "batch_size"), 5);
	assert_int_equal(json_num(s, "timeout_ms"), 4000);
	assert_int_equal(json_num(s, "max_retries"), 3);
	assert_int_equal(json_num(s, "backoff_initial_ms"), 50);
	assert_int_equal(json_num(s, "backoff_max_ms"), 800);
	assert_int_equal(json_num(s, "enabled"), 1);
	assert_int_equal(json_num(s, "invocations"), 0);
	free(s);
	assert_int_equal(trig_num(b, "elsewhere", "enabled"), 0);

	/* Ten messages: done, the figures say so. */
	if ((in = malloc(100 * 16)) == NULL)
		fail_msg("out of memory");
	for (i = 1, len = 0; i <= 10; i++)
		len += (size_t)sprintf(in + len, "m-%zu\n", i);
	produce_lines(b, "adm", in);
	trig_wait(b, "a1", "position", 10, WAIT_MS);
	s = cli_ok(b, "--json trigger info a1");
	assert_true(json_num(s, "invocations") >= 2);
	assert_int_equal(json_num(s, "successes"), json_num(s,
	    "invocations"));
	assert_int_equal(json_num(s, "failures"), 0);
	assert_int_equal(json_num(s, "dead_lettered"), 0);
	assert_int_equal(json_num(s, "messages"), 10);
	assert_int_equal(json_num(s, "lag"), 0);
	free(s);

	/* Paused: the witness sees the next ten, a1 does not. */
	free(cli_ok(b, "trigger pause a1"));
	assert_int_equal(trig_num(b, "a1", "enabled"), 0);
	for (i = 11, len = 0; i <= 20; i++)
		len += (size_t)sprintf(in + len, "m-%zu\n", i);
	produce_lines(b, "adm", in);
	trig_wait(b, "witness", "position", 20, WAIT_MS);
	assert_int_equal(trig_num(b, "a1", "position"), 10);
	assert_int_equal(trig_num(b, "a1", "messages"), 10);
	s = fn_file(dir, "out");
	assert_int_equal(count_lines(s), 10);
	free(s);
	free(cli_ok(b, "trigger resume a1"));
	assert_int_equal(trig_num(b, "a1", "enabled"), 1);
	trig_wait(b, "a1", "position", 20, WAIT_MS);
	s = fn_file(dir, "out");
	assert_int_equal(count_lines(s), 20);
	free(s);

	/* Only the setting given changes. */
	free(cli_ok(b, "trigger update a1 --batch-size 7"));
	s = cli_ok(b, "--json trigger info a1");
	assert_int_equal(json_num(s, "batch_size"), 7);
	assert_int_equal(json_num(s, "timeout_ms"), 4000);
	assert_int_equal(json_num(s, "max_retries"), 3);
	assert_non_null(strstr(s, "\"filters\":[]"));
	free(s);
	free(cli_ok(b, "trigger update a1 --filter 'kind=z' --filter 'x?'"));
	s = cli_ok(b, "--json trigger info a1");
	assert_non_null(strstr(s, "\"filters\":[\"kind=z\",\"x?\"]"));
	assert_int_equal(json_num(s, "batch_size"), 7);
	free(s);
	free(cli_ok(b, "trigger update a1 --no-filter"));
	s = cli_ok(b, "--json trigger info a1");
	assert_non_null(strstr(s, "\"filters\":[]"));
	free(s);

	/* Bad settings are refused and leave nothing behind. */
	assert_rejected(b, "trigger add b1 --station adm", "");
	assert_rejected(b, "trigger add b1 --station adm --http ftp://x",
	    "http");
	snprintf(bad, sizeof bad, "trigger add b1 --station adm --exec '%s' "
	    "--filter bogus", cmd);
	assert_rejected(b, bad, "filter");
	snprintf(bad, sizeof bad, "trigger add b1 --station adm --exec '%s' "
	    "--batch-size 0", cmd);
	assert_rejected(b, bad, "batch");
	snprintf(bad, sizeof bad, "trigger add b1 --station nosuch "
	    "--exec '%s'", cmd);
	assert_rejected(b, bad, "nosuch");
	snprintf(bad, sizeof bad, "trigger add witness --station adm "
	    "--exec '%s'", cmd);
	assert_rejected(b, bad, "exists");
	assert_rejected(b, "trigger info b1", "b1");
	s = cli_ok(b, "trigger ls");
	assert_null(strstr(s, "b1"));
	free(s);

	/* A restart: same settings, on after its position, nothing twice. */
	if (broker_restart(b) != 0)
		fail_msg("the broker did not restart");
	s = cli_ok(b, "--json trigger info a1");
	assert_int_equal(json_num(s, "batch_size"), 7);
	assert_int_equal(json_num(s, "position"), 20);
	assert_int_equal(json_num(s, "enabled"), 1);
	free(s);
	for (i = 21, len = 0; i <= 25; i++)
		len += (size_t)sprintf(in + len, "m-%zu\n", i);
	produce_lines(b, "adm", in);
	trig_wait(b, "a1", "position", 25, WAIT_MS);
	trig_wait(b, "witness", "position", 25, WAIT_MS);
	s = fn_file(dir, "out");
	for (i = 1, len = 0; i <= 25; i++)
		len += (size_t)sprintf(in + len, "m-%zu\n", i);
	assert_string_equal(s, in);
	free(s);
	assert_int_equal(trig_num(b, "a1", "messages"), 5);

	/* rm: the trigger and its group are gone, the others stay. */
	s = cli_ok(b, "group ls adm");
	assert_non_null(strstr(s, "_trigger.a1"));
	free(s);
	free(cli_ok(b, "trigger rm a1"));
	s = cli_ok(b, "trigger ls");
	assert_null(strstr(s, "a1"));
	assert_non_null(strstr(s, "witness"));
	free(s);
	s = cli_ok(b, "group ls adm");
	assert_null(strstr(s, "_trigger.a1"));
	assert_non_null(strstr(s, "_trigger.witness"));
	free(s);
	assert_rejected(b, "trigger info a1", "a1");
	assert_rejected(b, "trigger rm a1", "a1");
	/* The name is free again, with a new position. */
	free(cli_ok(b, "trigger add a1 --station adm --exec '%s'", wcmd));
	assert_int_equal(trig_num(b, "a1", "position"), 25);
	assert_int_equal(trig_num(b, "a1", "batch_size"), 10);
	free(cli_ok(b, "trigger rm a1"));
	free(in);
	fn_dir_remove(dir);
}

/*
 * Issue 16: by default a client names a function, an executable the
 * operator put in functions-dir; it runs without a shell and with a clean
 * environment (TUPELO_*, PATH and what exec-env lists, nothing else of
 * tupelod's). Command strings, paths and ".." are refused with a message
 * naming the setting; exec-triggers = off refuses exec triggers.
 */
static void
test_trigger_issue16_named_functions(void **state)
{
	struct broker	 b;
	char		 dir[64], path[128], *out, *s;
	FILE		*f;

	(void)state;
	snprintf(dir, sizeof dir, "/tmp/tupelo-fn.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/show-env", dir);
	assert_non_null(f = fopen(path, "w"));
	fprintf(f, "#!/bin/sh\ncat >/dev/null\nenv | sort >'%s/env'\n"
	    "echo \"ran $# $TUPELO_STATION\"\n", dir);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, 0755), 0);
	setenv("TUPELO_TEST_SECRET", "s3cret", 1);
	setenv("TUPELO_TEST_PASSED", "yes", 1);
	assert_int_equal(broker_start(&b, "--functions-dir", dir,
	    "--exec-env", "TUPELO_TEST_PASSED,NO_SUCH_VAR", NULL), 0);
	unsetenv("TUPELO_TEST_SECRET");
	unsetenv("TUPELO_TEST_PASSED");
	if (b.external) {
		broker_stop(&b);
		skip();
	}
	free(cli_ok(&b, "station create fn"));
	assert_rejected(&b, "trigger add t1 --station fn --exec "
	    "\"sh -c 'echo hi'\"", "exec-triggers = any");
	assert_rejected(&b, "trigger add t1 --station fn --exec ../x",
	    "exec-triggers = any");
	assert_rejected(&b, "trigger add t1 --station fn --exec /bin/sh",
	    "functions-dir");
	assert_rejected(&b, "trigger add t1 --station fn --exec a..b",
	    "functions-dir");
	assert_rejected(&b, "trigger add t1 --station fn --exec nosuch",
	    "no function nosuch");
	free(cli_ok(&b, "trigger add t1 --station fn --exec show-env"));
	out = cli_ok(&b, "invoke fn hello");
	assert_string_equal(out, "ran 0 fn\n");
	free(out);
	s = fn_file(dir, "env");
	assert_non_null(strstr(s, "TUPELO_STATION=fn\n"));
	assert_non_null(strstr(s, "PATH=/usr/local/bin:/usr/bin:/bin\n"));
	assert_non_null(strstr(s, "TUPELO_TEST_PASSED=yes\n"));
	assert_null(strstr(s, "s3cret"));
	assert_null(strstr(s, "NO_SUCH_VAR"));
	free(s);
	broker_stop(&b);

	assert_int_equal(broker_start(&b, "--functions-dir", dir,
	    "--exec-triggers", "off", NULL), 0);
	free(cli_ok(&b, "station create fn"));
	assert_rejected(&b, "trigger add t1 --station fn --exec show-env",
	    "exec-triggers = off");
	broker_stop(&b);

	/*
	 * A command string stored under "any" (or by an older tupelod) is
	 * paused at a start under "named", with the reason, and kept.
	 */
	assert_int_equal(broker_start(&b, "--exec-triggers", "any", NULL), 0);
	free(cli_ok(&b, "station create old"));
	free(cli_ok(&b, "trigger add t2 --station old --exec "
	    "'cat >/dev/null'"));
	assert_true(WIFEXITED(broker_kill(&b, SIGTERM)));
	b.nargs = 0;
	assert_int_equal(broker_restart(&b), 0);
	out = cli_ok(&b, "--json trigger info t2");
	assert_non_null(strstr(out, "\"enabled\":false"));
	assert_non_null(strstr(out, "exec-triggers = any"));
	free(out);
	assert_rejected(&b, "trigger resume t2", "exec-triggers = any");
	broker_stop(&b);
	fn_dir_remove(dir);
}

/*
 * Issue 16: http and lambda triggers cannot be aimed at link-local or
 * cloud metadata addresses, however written; the reason is given. (What
 * a name resolves to is checked per connection: test_netguard.)
 */
static void
test_trigger_issue16_metadata_refused(void **state)
{
	struct broker	*b = *state;

	free(cli_ok(b, "station create md"));
	assert_rejected(b, "trigger add m1 --station md --http "
	    "http://169.254.169.254/latest/meta-data/", "cloud metadata");
	assert_rejected(b, "trigger add m1 --station md --http "
	    "'http://[::ffff:169.254.169.254]/'", "cloud metadata");
	assert_rejected(b, "trigger add m1 --station md --lambda "
	    "http://[fe80::1]:9001 --function f", "link-local");
	/* Nothing was made. */
	assert_rejected(b, "trigger info m1", "m1");
	free(cli_ok(b, "station rm md"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trigger_event_document),
		cmocka_unit_test(test_trigger_ten_thousand_in_order),
		cmocka_unit_test(test_trigger_poison_retries_then_dls),
		cmocka_unit_test(test_trigger_bisect_isolates_poison),
		cmocka_unit_test(test_trigger_item_failures),
		cmocka_unit_test(test_trigger_timeout_kills_group),
		cmocka_unit_test(test_trigger_signal),
		cmocka_unit_test(test_trigger_async_mode),
		cmocka_unit_test(test_trigger_batching),
		cmocka_unit_test(test_trigger_input_not_read),
		cmocka_unit_test(test_trigger_station_removed),
		cmocka_unit_test(test_trigger_on_success_missing),
		cmocka_unit_test(test_trigger_escaped_child),
		cmocka_unit_test(test_trigger_invoke),
		cmocka_unit_test(test_trigger_invoke_first_by_name),
		cmocka_unit_test(test_trigger_filters),
		cmocka_unit_test(test_trigger_invoke_filtered_out),
		cmocka_unit_test(test_trigger_max_age_on_failure),
		cmocka_unit_test(test_trigger_start_positions),
		cmocka_unit_test(test_trigger_ordering_key),
		cmocka_unit_test_setup_teardown(test_trigger_chain_on_success,
		    trigger_setup, harness_teardown),
		cmocka_unit_test_setup_teardown(test_trigger_admin,
		    trigger_setup, harness_teardown),
		cmocka_unit_test(test_trigger_issue16_named_functions),
		cmocka_unit_test(test_trigger_issue16_metadata_refused),
	};

	harness_watchdog(300);
	return (cmocka_run_group_tests(tests, trigger_setup,
	    harness_teardown));
}
