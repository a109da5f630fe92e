/*
 * Unit tests of broker/log: log_escape() (printable bytes kept, the rest as
 * \xNN, capped with "..." and always NUL-terminated), levels, the log file
 * (timestamps, appending, one line per call, reopened after a rename),
 * stderr (timestamps, none when it is the journal), and libevent's
 * warnings routed into the log. Log files live in a mkdtemp directory.
 */
#include <sys/stat.h>

#include <event2/event.h>
#include <fcntl.h>
#include <regex.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tmpdir.h"

#include "broker/log.h"

#define LINE_MAX_BYTES	2048	/* log_vwrite's line buffer */

struct fixture {
	char	base[256];	/* mkdtemp directory */
	char	path[512];	/* log file inside base */
	char	text[8192];	/* last read_log */
};

static int
setup(void **state)
{
	struct fixture	*fx;

	if ((fx = calloc(1, sizeof *fx)) == NULL)
		return (-1);
	if (tmpdir_make(fx->base, sizeof fx->base) != 0) {
		free(fx);
		return (-1);
	}
	snprintf(fx->path, sizeof fx->path, "%s/tupelod.log", fx->base);
	*state = fx;
	return (0);
}

static int
teardown(void **state)
{
	struct fixture	*fx = *state;

	log_close();
	unlink(fx->path);
	rmdir(fx->base);
	free(fx);
	return (0);
}

/* Read the whole file at path into fx->text; returns its length. */
static size_t
read_log(struct fixture *fx, const char *path)
{
	FILE	*f;
	size_t	 n;

	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(fx->text, 1, sizeof fx->text - 1, f);
	assert_false(ferror(f));
	fclose(f);
	fx->text[n] = '\0';
	return (n);
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

/* Does s match the extended regular expression re? */
static int
matches(const char *s, const char *re)
{
	regex_t	r;
	int	rc;

	assert_int_equal(regcomp(&r, re, REG_EXTENDED | REG_NOSUB), 0);
	rc = regexec(&r, s, 0, NULL, 0);
	regfree(&r);
	return (rc == 0);
}

/* log_escape of len bytes at s into a buffer of size must give want. */
static void
escape_is(const char *s, size_t len, size_t size, const char *want)
{
	char		 buf[256];
	const char	*out;

	assert_true(size < sizeof buf);
	memset(buf, 'Z', sizeof buf);
	out = log_escape(s, len, buf, size);
	assert_ptr_equal(out, buf);
	assert_string_equal(buf, want);
	assert_int_equal(buf[size], 'Z');
}

/* The full escape of len bytes at s, as log_escape writes it uncapped. */
static void
escape_full(const char *s, size_t len, char *out, size_t *ends,
    size_t *nends)
{
	static const char	hex[] = "0123456789abcdef";
	unsigned char		c;
	size_t			i, n = 0;

	*nends = 0;
	ends[(*nends)++] = 0;
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"')
			out[n++] = (char)c;
		else {
			out[n++] = '\\';
			out[n++] = 'x';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
		ends[(*nends)++] = n;
	}
	out[n] = '\0';
}

static void
test_log_escape_printable(void **state)
{
	(void)state;
	escape_is("orders", 6, 64, "orders");
	escape_is("conn=42 peer=127.0.0.1:5512 a/b{}[]~'", 37, 64,
	    "conn=42 peer=127.0.0.1:5512 a/b{}[]~'");
	/* Only len bytes are read. */
	escape_is("orders-and-more", 6, 64, "orders");
}

static void
test_log_escape_empty(void **state)
{
	(void)state;
	escape_is("", 0, 64, "");
	escape_is("abc", 0, 64, "");
	escape_is("abc", 0, 1, "");
}

static void
test_log_escape_control(void **state)
{
	(void)state;
	escape_is("a\nb", 3, 64, "a\\x0ab");
	escape_is("\r\t\x01\x1f", 4, 64, "\\x0d\\x09\\x01\\x1f");
	escape_is("\x1b[31m", 5, 64, "\\x1b[31m");
	escape_is("\x7f", 1, 64, "\\x7f");
	escape_is("\x80\xff", 2, 64, "\\x80\\xff");
	escape_is("caf\xc3\xa9", 5, 64, "caf\\xc3\\xa9");
	/* A NUL inside the counted bytes neither ends nor hides the rest. */
	escape_is("a\0b", 3, 64, "a\\x00b");
}

static void
test_log_escape_quote_backslash(void **state)
{
	(void)state;
	escape_is("\"", 1, 64, "\\x22");
	escape_is("\\", 1, 64, "\\x5c");
	escape_is("name=\"x\\y\"", 10, 64, "name=\\x22x\\x5cy\\x22");
	/* An escaped string cannot fake an escape of its own. */
	escape_is("\\x0a", 4, 64, "\\x5cx0a");
}

static void
test_log_escape_cap(void **state)
{
	char		 buf[16], in[200];
	const char	*out;
	size_t		 n;

	(void)state;
	memset(in, 'a', sizeof in);
	out = log_escape(in, sizeof in, buf, sizeof buf);
	n = strlen(out);
	assert_true(n < sizeof buf);
	assert_true(n > 3);
	assert_string_equal(out + n - 3, "...");
	assert_memory_equal(out, in, n - 3);

	/* Escapes are never cut in half. */
	memset(in, '\n', sizeof in);
	out = log_escape(in, sizeof in, buf, sizeof buf);
	n = strlen(out);
	assert_true(n < sizeof buf);
	if (n >= 3 && strcmp(out + n - 3, "...") == 0)
		n -= 3;
	assert_true(n >= 4);
	assert_int_equal(n % 4, 0);
	assert_memory_equal(out, "\\x0a\\x0a\\x0a", n);
}

static void
test_log_escape_terminated(void **state)
{
	static const char	*in[] = { "abcdefghijklmnopqrstuvwxyz",
				    "\x01\x02\x03\x04\x05\x06\x07\x08\x09",
				    "a\"b\\c\nd\xff" "e\"f\\g\nh\xff" "i" };
	char			 buf[128];
	size_t			 size, i, len;

	(void)state;
	for (i = 0; i < sizeof in / sizeof in[0]; i++) {
		len = strlen(in[i]);
		for (size = 1; size < 64; size++) {
			memset(buf, 'Z', sizeof buf);
			log_escape(in[i], len, buf, size);
			if (memchr(buf, '\0', size) == NULL)
				fail_msg("input %zu size %zu: no NUL", i,
				    size);
			if (buf[size] != 'Z')
				fail_msg("input %zu size %zu: wrote past the "
				    "buffer", i, size);
		}
	}
}

static void
test_log_escape_cap_marked(void **state)
{
	static const char	*in[] = { "abcdefghijklmnopqrstuvwxyz",
				    "\x01\x02\x03\x04\x05\x06\x07\x08\x09",
				    "a\"b\\c\nd\xff" "e\"f\\g\nh\xff" "i",
				    "abcdefghij\x01tail",
				    "abcdefghijk\x01tail",
				    "abcdefghijkl\x01tail" };
	char			 buf[128], full[512];
	size_t			 ends[128], nends, size, i, j, len, n;

	(void)state;
	/*
	 * Whatever the buffer, the result is the whole escape, or a prefix
	 * of it ending between two escaped bytes followed by "...": a reader
	 * of the log can always tell a cut name from a whole one.
	 */
	for (i = 0; i < sizeof in / sizeof in[0]; i++) {
		len = strlen(in[i]);
		escape_full(in[i], len, full, ends, &nends);
		for (size = 8; size < 64; size++) {
			log_escape(in[i], len, buf, size);
			n = strlen(buf);
			assert_true(n < size);
			if (strcmp(buf, full) == 0)
				continue;
			if (n < 3 || strcmp(buf + n - 3, "...") != 0)
				fail_msg("size %zu: \"%s\" cut to \"%s\" "
				    "without \"...\"", size, full, buf);
			for (j = 0; j < nends; j++) {
				if (ends[j] == n - 3)
					break;
			}
			if (j == nends || strncmp(buf, full, n - 3) != 0)
				fail_msg("size %zu: \"%s\" is no cut of "
				    "\"%s\"", size, buf, full);
		}
	}
}

static void
test_log_levels(void **state)
{
	struct fixture	*fx = *state;

	assert_int_equal(log_open(LOG_LEVEL_WARN, fx->path), 0);
	assert_int_equal(log_level(), LOG_LEVEL_WARN);
	log_info("not written %d", 1);
	log_debug("not written %d", 2);
	assert_int_equal(read_log(fx, fx->path), 0);

	log_warn("disk %s at %d%%", "nearly full", 95);
	read_log(fx, fx->path);
	assert_int_equal(count_lines(fx->text), 1);
	if (!matches(fx->text, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:"
	    "[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z tupelod: warn: disk nearly full "
	    "at 95%\n$"))
		fail_msg("bad line: %s", fx->text);

	log_error("cannot %s", "write");
	log_info("still not written");
	read_log(fx, fx->path);
	assert_int_equal(count_lines(fx->text), 2);
	assert_non_null(strstr(fx->text, "Z tupelod: error: cannot write\n"));
	assert_null(strstr(fx->text, "info"));
}

static void
test_log_level_debug(void **state)
{
	struct fixture	*fx = *state;

	assert_int_equal(log_open(LOG_LEVEL_DEBUG, fx->path), 0);
	assert_int_equal(log_level(), LOG_LEVEL_DEBUG);
	log_error("e");
	log_warn("w");
	log_info("i");
	log_debug("d");
	read_log(fx, fx->path);
	assert_int_equal(count_lines(fx->text), 4);
	assert_true(matches(fx->text, "Z tupelod: error: e\n[^\n]*"
	    "Z tupelod: warn: w\n[^\n]*Z tupelod: info: i\n[^\n]*"
	    "Z tupelod: debug: d\n$"));
}

static void
test_log_level_error(void **state)
{
	struct fixture	*fx = *state;

	assert_int_equal(log_open(LOG_LEVEL_ERROR, fx->path), 0);
	log_warn("w");
	log_info("i");
	log_debug("d");
	assert_int_equal(read_log(fx, fx->path), 0);
	log_error("e");
	read_log(fx, fx->path);
	assert_int_equal(count_lines(fx->text), 1);
	assert_non_null(strstr(fx->text, "tupelod: error: e\n"));
}

static void
test_log_file_appends(void **state)
{
	struct fixture	*fx = *state;
	FILE		*f;

	f = fopen(fx->path, "w");
	assert_non_null(f);
	fputs("an earlier line\n", f);
	fclose(f);

	assert_int_equal(log_open(LOG_LEVEL_INFO, fx->path), 0);
	log_info("started");
	read_log(fx, fx->path);
	assert_int_equal(count_lines(fx->text), 2);
	assert_memory_equal(fx->text, "an earlier line\n", 16);
	assert_non_null(strstr(fx->text, "tupelod: info: started\n"));
}

static void
test_log_open_fails(void **state)
{
	struct fixture	*fx = *state;
	char		 path[1024];

	snprintf(path, sizeof path, "%s/no/such/dir/tupelod.log", fx->base);
	assert_int_equal(log_open(LOG_LEVEL_INFO, path), -1);
	snprintf(path, sizeof path, "%s", fx->base);
	assert_int_equal(log_open(LOG_LEVEL_INFO, path), -1);
}

static void
test_log_long_line(void **state)
{
	struct fixture	*fx = *state;
	char		*big;
	size_t		 n;

	big = malloc(5000);
	assert_non_null(big);
	memset(big, 'b', 4999);
	big[4999] = '\0';
	assert_int_equal(log_open(LOG_LEVEL_INFO, fx->path), 0);
	log_warn("big=%s", big);
	log_info("after");
	n = read_log(fx, fx->path);
	/* Cut to one line of the buffer, and the next line is whole. */
	assert_int_equal(count_lines(fx->text), 2);
	assert_true(strchr(fx->text, '\n') - fx->text < LINE_MAX_BYTES);
	assert_true(n < 2 * LINE_MAX_BYTES);
	assert_true(matches(fx->text, "tupelod: warn: big=b+\n"
	    "[^\n]*Z tupelod: info: after\n$"));
	free(big);
}

/*
 * Open the log on stderr with fd 2 pointing at fx->path, with the
 * environment variable JOURNAL_STREAM set to journal (NULL: unset), log
 * a warning and an info line at level warn; fx->text gets what came out.
 */
static void
stderr_lines(struct fixture *fx, const char *journal)
{
	int	fd, saved;

	fd = open(fx->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd != -1);
	saved = dup(STDERR_FILENO);
	assert_true(saved != -1);
	fflush(stderr);
	if (dup2(fd, STDERR_FILENO) == -1) {
		close(saved);
		fail_msg("dup2");
	}
	if (journal != NULL)
		setenv("JOURNAL_STREAM", journal, 1);
	else
		unsetenv("JOURNAL_STREAM");
	/* Where stderr goes is looked at when the log is opened. */
	assert_int_equal(log_open(LOG_LEVEL_WARN, NULL), 0);
	log_warn("to %s", "stderr");
	log_info("not this");
	unsetenv("JOURNAL_STREAM");
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	read_log(fx, fx->path);
}

static void
test_log_stderr(void **state)
{
	struct fixture	*fx = *state;

	/* Without a file, lines go to fd 2, with a timestamp. */
	stderr_lines(fx, NULL);
	assert_true(matches(fx->text, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T"
	    "[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z tupelod: warn: "
	    "to stderr\n$"));
}

static void
test_log_stderr_journal(void **state)
{
	struct fixture	*fx = *state;
	struct stat	 sb;
	char		 env[128];

	/* The journal stamps lines itself: stderr is its stream. */
	assert_int_equal(close(open(fx->path, O_WRONLY | O_CREAT, 0600)), 0);
	assert_int_equal(stat(fx->path, &sb), 0);
	snprintf(env, sizeof env, "%ju:%ju", (uintmax_t)sb.st_dev,
	    (uintmax_t)sb.st_ino);
	stderr_lines(fx, env);
	assert_string_equal(fx->text, "tupelod: warn: to stderr\n");

	/* Inherited from a service, naming another stream: stamped. */
	snprintf(env, sizeof env, "%ju:%ju", (uintmax_t)sb.st_dev,
	    (uintmax_t)sb.st_ino + 1);
	stderr_lines(fx, env);
	assert_true(matches(fx->text, "Z tupelod: warn: to stderr\n$"));
	stderr_lines(fx, "garbage");
	assert_true(matches(fx->text, "Z tupelod: warn: to stderr\n$"));
}

/* SIGHUP after logrotate: the renamed file keeps what it has, the next
   lines go to a new file at the path. */
static void
test_log_reopen(void **state)
{
	struct fixture	*fx = *state;
	char		 old[600];

	snprintf(old, sizeof old, "%s.1", fx->path);
	assert_int_equal(log_open(LOG_LEVEL_INFO, fx->path), 0);
	log_info("before");
	assert_int_equal(rename(fx->path, old), 0);
	log_info("still the old file");
	assert_int_equal(log_open(LOG_LEVEL_INFO, fx->path), 0);
	log_info("after");
	read_log(fx, old);
	assert_true(matches(fx->text, "info: before\n.*info: still the old "
	    "file\n$"));
	read_log(fx, fx->path);
	assert_true(matches(fx->text, "^[^\n]*Z tupelod: info: after\n$"));
	unlink(old);
}

/* A file that cannot be opened leaves the log where it was. */
static void
test_log_reopen_fails(void **state)
{
	struct fixture	*fx = *state;
	char		 bad[600];

	snprintf(bad, sizeof bad, "%s/no/such/dir/log", fx->base);
	assert_int_equal(log_open(LOG_LEVEL_INFO, fx->path), 0);
	assert_int_equal(log_open(LOG_LEVEL_DEBUG, bad), -1);
	log_info("kept");
	log_debug("level kept too");
	log_set_level(LOG_LEVEL_DEBUG);
	log_debug("now debug");
	read_log(fx, fx->path);
	assert_int_equal(count_lines(fx->text), 2);
	assert_true(matches(fx->text, "info: kept\n.*debug: now debug\n$"));
}

static void
test_log_libevent_routed(void **state)
{
	struct fixture		*fx = *state;
	struct event_config	*cfg;
	struct event_base	*base;

	assert_int_equal(log_open(LOG_LEVEL_WARN, fx->path), 0);
	/* A base with every Linux method refused: libevent warns. */
	cfg = event_config_new();
	assert_non_null(cfg);
	event_config_avoid_method(cfg, "epoll");
	event_config_avoid_method(cfg, "poll");
	event_config_avoid_method(cfg, "select");
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (base != NULL) {
		event_base_free(base);
		skip();
	}
	read_log(fx, fx->path);
	assert_true(count_lines(fx->text) >= 1);
	assert_true(matches(fx->text, "Z tupelod: (warn|error): libevent: "));
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_escape_printable),
		cmocka_unit_test(test_log_escape_empty),
		cmocka_unit_test(test_log_escape_control),
		cmocka_unit_test(test_log_escape_quote_backslash),
		cmocka_unit_test(test_log_escape_cap),
		cmocka_unit_test(test_log_escape_terminated),
		cmocka_unit_test(test_log_escape_cap_marked),
		T(test_log_levels),
		T(test_log_level_debug),
		T(test_log_level_error),
		T(test_log_file_appends),
		T(test_log_open_fails),
		T(test_log_long_line),
		T(test_log_stderr),
		T(test_log_stderr_journal),
		T(test_log_reopen),
		T(test_log_reopen_fails),
		T(test_log_libevent_routed),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
