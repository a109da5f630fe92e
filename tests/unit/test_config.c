/*
 * Unit tests of broker/config: defaults, command-line options, sizes with
 * K, M and G, bounds, config files (comments, errors reported with
 * file:line) and their precedence, the default file, --help, --version,
 * --dump-config, and the reload of SIGHUP. What config_load() prints is
 * captured in files of a mkdtemp directory; what config_reload() reports,
 * through config_set_report(). The build points CONFIG_FILE_DEFAULT at a
 * file of the build tree (TEST_CONFIG_DEFAULT), never at the installed one.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
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

#include "broker/config.h"

#define MIB	(1024ULL * 1024)
#define ARGS_MAX	32

/* What the reporter was given: "LEVEL:line\n" each. */
static char	reported[16384];

struct fixture {
	char		base[256];	/* mkdtemp directory */
	char		conf[512];	/* config file path */
	char		out[16384];	/* stdout of the last load */
	char		err[16384];	/* stderr of the last load */
	struct config	cfg;
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
	snprintf(fx->conf, sizeof fx->conf, "%s/tupelod.conf", fx->base);
	unlink(TEST_CONFIG_DEFAULT);
	reported[0] = '\0';
	*state = fx;
	return (0);
}

static int
teardown(void **state)
{
	struct fixture	*fx = *state;

	config_free(&fx->cfg);
	config_set_report(NULL);
	unlink(TEST_CONFIG_DEFAULT);
	tmpdir_remove(fx->base);
	free(fx);
	return (0);
}

static void
report(int level, const char *line)
{
	size_t	n = strlen(reported);

	snprintf(reported + n, sizeof reported - n, "%d:%s\n", level, line);
}

/* Point fd at a new file; returns the saved descriptor. */
static int
redirect(int fd, const char *path)
{
	int	saved, f;

	saved = dup(fd);
	f = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (saved == -1 || f == -1)
		return (-1);
	dup2(f, fd);
	close(f);
	return (saved);
}

static void
restore(int fd, int saved, const char *path, char *buf, size_t len)
{
	FILE	*f;
	size_t	 n = 0;

	dup2(saved, fd);
	close(saved);
	if ((f = fopen(path, "r")) != NULL) {
		n = fread(buf, 1, len - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
}

/*
 * Run config_load() on "tupelod" and the NULL-terminated args, into
 * fx->cfg (freed first), with stdout and stderr captured in fx->out and
 * fx->err.
 */
static int
load(struct fixture *fx, ...)
{
	char		*argv[ARGS_MAX + 2], out[600], err[600];
	const char	*a;
	va_list		 ap;
	int		 argc = 0, rc, saved_out, saved_err;

	argv[argc++] = "tupelod";
	va_start(ap, fx);
	while ((a = va_arg(ap, const char *)) != NULL && argc <= ARGS_MAX)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	snprintf(out, sizeof out, "%s/stdout", fx->base);
	snprintf(err, sizeof err, "%s/stderr", fx->base);

	config_free(&fx->cfg);
	fflush(stdout);
	fflush(stderr);
	saved_out = redirect(STDOUT_FILENO, out);
	saved_err = redirect(STDERR_FILENO, err);
	assert_true(saved_out != -1 && saved_err != -1);
	rc = config_load(&fx->cfg, argc, argv);
	fflush(stdout);
	fflush(stderr);
	restore(STDOUT_FILENO, saved_out, out, fx->out, sizeof fx->out);
	restore(STDERR_FILENO, saved_err, err, fx->err, sizeof fx->err);
	return (rc);
}

static void
write_file(const char *path, const char *text)
{
	FILE	*f;

	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void
write_conf(struct fixture *fx, const char *text)
{
	write_file(fx->conf, text);
}

/* Does fx->err contain "<conf>:<line>:" and then text on that line? */
static int
err_at_line(struct fixture *fx, int line, const char *text)
{
	char	 where[600];
	char	*p, *eol;

	snprintf(where, sizeof where, "%s:%d:", fx->conf, line);
	if ((p = strstr(fx->err, where)) == NULL)
		return (0);
	if ((eol = strchr(p, '\n')) == NULL)
		eol = p + strlen(p);
	p = strstr(p, text);
	return (p != NULL && p < eol);
}

static void
test_config_defaults(void **state)
{
	struct fixture	*fx = *state;
	struct config	*c = &fx->cfg;

	assert_int_equal(load(fx, NULL), 0);
	assert_string_equal(fx->err, "");
	/* No -c: the default file, which may be (and here is) missing. */
	assert_string_equal(c->config_file, TEST_CONFIG_DEFAULT);
	assert_true(c->config_optional);
	assert_true(c->config_missing);
	assert_string_equal(c->data_dir, "./tupelo-data");
	assert_string_equal(c->listen, "127.0.0.1:6666");
	assert_string_equal(c->log_file, "");
	assert_int_equal(c->log_level, 2);
	assert_int_equal(c->max_message_size, 1 * MIB);
	assert_int_equal(c->max_frame_size, 8 * MIB);
	assert_int_equal(c->max_connections, 1024);
	assert_int_equal(c->durability, CONFIG_DURABILITY_SYNC);
	assert_int_equal(c->flush_interval_ms, 100);
	assert_int_equal(c->map_size, 256 * MIB);
	assert_int_equal(c->max_data_size, 0);
	assert_int_equal(c->max_stations, 1024);
	assert_int_equal(c->conn_buffer, 4 * MIB);
	assert_int_equal(c->conn_inflight, 16 * MIB);
	assert_int_equal(c->max_unacked, 1000);
}

static void
test_config_short_options(void **state)
{
	struct fixture	*fx = *state;

	assert_int_equal(load(fx, "-d", "/srv/tupelo", "-l", "0.0.0.0:7000",
	    "-v", NULL), 0);
	assert_string_equal(fx->cfg.data_dir, "/srv/tupelo");
	assert_string_equal(fx->cfg.listen, "0.0.0.0:7000");
	assert_int_equal(fx->cfg.log_level, 3);

	assert_int_equal(load(fx, "-d/attached", "-l:0", NULL), 0);
	assert_string_equal(fx->cfg.data_dir, "/attached");
	assert_string_equal(fx->cfg.listen, ":0");
}

static void
test_config_verbose(void **state)
{
	struct fixture	*fx = *state;

	assert_int_equal(load(fx, "--log-level", "error", "-v", NULL), 0);
	assert_int_equal(fx->cfg.log_level, 1);
	assert_int_equal(load(fx, "--log-level", "error", "-vv", NULL), 0);
	assert_int_equal(fx->cfg.log_level, 2);
	assert_int_equal(load(fx, "--log-level", "warn", "--verbose", NULL),
	    0);
	assert_int_equal(fx->cfg.log_level, 2);
	/* No level above debug. */
	assert_int_equal(load(fx, "-vvvvv", NULL), 0);
	assert_int_equal(fx->cfg.log_level, 3);
	assert_int_equal(load(fx, "--log-level", "debug", "-v", NULL), 0);
	assert_int_equal(fx->cfg.log_level, 3);
}

static void
test_config_long_options(void **state)
{
	struct fixture	*fx = *state;
	struct config	*c = &fx->cfg;

	assert_int_equal(load(fx, "--data-dir", "/d", "--listen=[::1]:1",
	    "--log-file", "/var/log/tupelod.log", "--durability", "interval",
	    "--flush-interval", "250", "--max-connections=10",
	    "--max-unacked", "5", "--max-stations", "3", NULL), 0);
	assert_string_equal(c->data_dir, "/d");
	assert_string_equal(c->listen, "[::1]:1");
	assert_string_equal(c->log_file, "/var/log/tupelod.log");
	assert_int_equal(c->durability, CONFIG_DURABILITY_INTERVAL);
	assert_int_equal(c->flush_interval_ms, 250);
	assert_int_equal(c->max_connections, 10);
	assert_int_equal(c->max_unacked, 5);
	assert_int_equal(c->max_stations, 3);
}

static void
test_config_max_message_size(void **state)
{
	struct fixture	*fx = *state;

	assert_int_equal(load(fx, "--max-message-size", "2M", NULL), 0);
	assert_int_equal(fx->cfg.max_message_size, 2 * MIB);
	assert_int_equal(load(fx, "--max-message-size=1", NULL), 0);
	assert_int_equal(fx->cfg.max_message_size, 1);
}

static void
test_config_sizes(void **state)
{
	struct fixture	*fx = *state;
	struct config	*c = &fx->cfg;

	assert_int_equal(load(fx, "--conn-buffer", "512K", "--map-size", "1G",
	    "--max-data-size", "2G", "--conn-inflight", "65536",
	    "--max-message-size", "100k", "--max-frame-size", "16m", NULL),
	    0);
	assert_int_equal(c->conn_buffer, 512 * 1024);
	assert_int_equal(c->map_size, 1024 * MIB);
	assert_int_equal(c->max_data_size, 2048 * MIB);
	assert_int_equal(c->conn_inflight, 65536);
	assert_int_equal(c->max_message_size, 100 * 1024);
	assert_int_equal(c->max_frame_size, 16 * MIB);

	/* The largest max-data-size, 1 PiB, spelled in G. */
	assert_int_equal(load(fx, "--max-data-size", "1048576G", NULL), 0);
	assert_true(c->max_data_size == 1ULL << 50);
	assert_int_equal(load(fx, "--max-data-size", "0", NULL), 0);
	assert_int_equal(c->max_data_size, 0);
}

static void
test_config_bad_numbers(void **state)
{
	static const char *const bad[] = {
		"1.5M", "2MB", "M", "-1", "", " 1", "1 ", "0x10", "1e6",
		"99999999999999999999", "17179869184G", "1T", "+5",
	};
	struct fixture	*fx = *state;
	size_t		 i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(load(fx, "--map-size", bad[i], NULL), 2);
		assert_non_null(strstr(fx->err, "map-size"));
	}
	/* A plain number takes no suffix. */
	assert_int_equal(load(fx, "--max-connections", "1K", NULL), 2);
	assert_non_null(strstr(fx->err, "max-connections"));
}

static void
test_config_out_of_range(void **state)
{
	struct fixture	*fx = *state;

	assert_int_equal(load(fx, "--max-connections", "0", NULL), 2);
	assert_non_null(strstr(fx->err, "out of range"));
	assert_int_equal(load(fx, "--max-connections", "1000001", NULL), 2);
	assert_int_equal(load(fx, "--max-message-size", "0", NULL), 2);
	assert_int_equal(load(fx, "--max-message-size", "65M", NULL), 2);
	assert_non_null(strstr(fx->err, "max-message-size"));
	assert_int_equal(load(fx, "--max-frame-size", "32K", NULL), 2);
	assert_int_equal(load(fx, "--max-stations", "32001", NULL), 2);
	assert_int_equal(load(fx, "--map-size", "512K", NULL), 2);
	assert_int_equal(load(fx, "--max-data-size", "1048577G", NULL), 2);
	assert_int_equal(load(fx, "--flush-interval", "0", NULL), 2);
	assert_int_equal(load(fx, "--flush-interval", "60001", NULL), 2);

	/* Both ends of a range are allowed. */
	assert_int_equal(load(fx, "--max-connections", "1", NULL), 0);
	assert_int_equal(load(fx, "--max-connections", "1000000", NULL), 0);
	assert_int_equal(load(fx, "--flush-interval", "60000", NULL), 0);
}

static void
test_config_bad_choice(void **state)
{
	struct fixture	*fx = *state;

	assert_int_equal(load(fx, "--durability", "always", NULL), 2);
	assert_non_null(strstr(fx->err, "durability"));
	assert_int_equal(load(fx, "--log-level", "loud", NULL), 2);
	assert_int_equal(load(fx, "--log-level", "DEBUG", NULL), 2);
}

static void
test_config_unknown_option(void **state)
{
	struct fixture	*fx = *state;

	assert_int_equal(load(fx, "--bogus", "1", NULL), 2);
	assert_non_null(strstr(fx->err, "usage: tupelod"));
	assert_int_equal(load(fx, "-x", NULL), 2);
	assert_non_null(strstr(fx->err, "usage: tupelod"));
}

static void
test_config_missing_argument(void **state)
{
	struct fixture	*fx = *state;

	assert_int_equal(load(fx, "--listen", NULL), 2);
	assert_int_equal(load(fx, "-d", NULL), 2);
	assert_int_equal(load(fx, "-c", NULL), 2);
}

static void
test_config_unexpected_argument(void **state)
{
	struct fixture	*fx = *state;

	assert_int_equal(load(fx, "-v", "extra", NULL), 2);
	assert_non_null(strstr(fx->err, "extra"));
}

static void
test_config_frame_fits_message(void **state)
{
	struct fixture	*fx = *state;

	/* A frame must hold the largest message and some room. */
	assert_int_equal(load(fx, "--max-message-size", "64M", NULL), 2);
	assert_non_null(strstr(fx->err, "max-frame-size"));
	assert_int_equal(load(fx, "--max-message-size", "64M",
	    "--max-frame-size", "128M", NULL), 0);
	assert_int_equal(load(fx, "--max-message-size", "8M", NULL), 2);
}

static void
test_config_file(void **state)
{
	struct fixture	*fx = *state;
	struct config	*c = &fx->cfg;

	write_conf(fx,
	    "# tupelod test configuration\n"
	    "\n"
	    "data-dir = /var/lib/tupelo   # trailing comment\n"
	    "\tlisten=0.0.0.0:7000\n"
	    "   # an indented comment\n"
	    "max-message-size = 2M\n"
	    "durability\t=\tinterval\n"
	    "log-level = debug  \n"
	    "map-size = 1G\r\n"
	    "   \n");
	assert_int_equal(load(fx, "-c", fx->conf, NULL), 0);
	assert_string_equal(fx->err, "");
	assert_string_equal(c->config_file, fx->conf);
	assert_string_equal(c->data_dir, "/var/lib/tupelo");
	assert_string_equal(c->listen, "0.0.0.0:7000");
	assert_int_equal(c->max_message_size, 2 * MIB);
	assert_int_equal(c->durability, CONFIG_DURABILITY_INTERVAL);
	assert_int_equal(c->log_level, 3);
	assert_int_equal(c->map_size, 1024 * MIB);
	/* What the file does not set keeps its default. */
	assert_int_equal(c->max_unacked, 1000);

	assert_int_equal(load(fx, "--config", fx->conf, NULL), 0);
	assert_string_equal(c->data_dir, "/var/lib/tupelo");
}

static void
test_config_file_errors(void **state)
{
	struct fixture	*fx = *state;

	write_conf(fx,
	    "# comment\n"
	    "data-dir = /x\n"
	    "no-such-option = 1\n"
	    "max-unacked = lots\n"
	    "max-connections = 0\n"
	    "just words\n"
	    "listen = 127.0.0.1:1\n");
	assert_int_equal(load(fx, "-c", fx->conf, NULL), 2);
	/* Every error is reported, each with file:line. */
	assert_true(err_at_line(fx, 3, "no-such-option"));
	assert_true(err_at_line(fx, 4, "max-unacked"));
	assert_true(err_at_line(fx, 5, "out of range"));
	assert_true(err_at_line(fx, 6, "="));
	assert_false(err_at_line(fx, 2, ""));
	assert_false(err_at_line(fx, 7, ""));
}

static void
test_config_file_missing(void **state)
{
	struct fixture	*fx = *state;

	assert_int_equal(load(fx, "-c", fx->conf, NULL), 2);
	assert_non_null(strstr(fx->err, fx->conf));
}

static void
test_config_cli_overrides_file(void **state)
{
	struct fixture	*fx = *state;
	struct config	*c = &fx->cfg;

	write_conf(fx,
	    "data-dir = /from-file\n"
	    "listen = 10.0.0.1:6666\n"
	    "max-unacked = 5\n"
	    "log-level = error\n");
	/* Options before and after -c alike win over the file. */
	assert_int_equal(load(fx, "-d", "/from-cli", "-c", fx->conf,
	    "--max-unacked", "7", "-v", NULL), 0);
	assert_string_equal(c->data_dir, "/from-cli");
	assert_int_equal(c->max_unacked, 7);
	assert_string_equal(c->listen, "10.0.0.1:6666");
	assert_int_equal(c->log_level, 1);
}

static void
test_config_help(void **state)
{
	static const char *const names[] = {
		"--data-dir", "--listen", "--log-file", "--log-level",
		"--max-message-size", "--max-frame-size", "--max-connections",
		"--durability", "--flush-interval", "--map-size",
		"--max-data-size", "--max-stations", "--conn-buffer",
		"--conn-inflight", "--max-unacked",
	};
	struct fixture	*fx = *state;
	size_t		 i;

	assert_int_equal(load(fx, "--help", NULL), 1);
	assert_non_null(strstr(fx->out, "usage: tupelod"));
	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		assert_non_null(strstr(fx->out, names[i]));
	assert_string_equal(fx->err, "");

	assert_int_equal(load(fx, "-h", NULL), 1);
	assert_non_null(strstr(fx->out, "usage: tupelod"));
	/* --help wins over a bad option after it. */
	assert_int_equal(load(fx, "--help", "--max-connections", "0", NULL),
	    1);
}

static void
test_config_version(void **state)
{
	struct fixture	*fx = *state;

	assert_int_equal(load(fx, "-V", NULL), 1);
	assert_non_null(strstr(fx->out, "tupelod "));
	assert_int_equal(load(fx, "--version", NULL), 1);
	assert_non_null(strstr(fx->out, "tupelod "));
}

static void
test_config_repeated_loads(void **state)
{
	struct fixture	*fx = *state;

	/* Each load starts from the defaults and a fresh getopt. */
	assert_int_equal(load(fx, "--bogus", NULL), 2);
	assert_int_equal(load(fx, "-v", "-d", "/a", NULL), 0);
	assert_int_equal(fx->cfg.log_level, 3);
	assert_int_equal(load(fx, "-l", "h:1", NULL), 0);
	assert_int_equal(fx->cfg.log_level, 2);
	assert_string_equal(fx->cfg.data_dir, "./tupelo-data");
	assert_string_equal(fx->cfg.listen, "h:1");
}

static void
test_config_durability_name(void **state)
{
	(void)state;
	assert_string_equal(config_durability_name(CONFIG_DURABILITY_SYNC),
	    "sync");
	assert_string_equal(config_durability_name(
	    CONFIG_DURABILITY_INTERVAL), "interval");
}

static void
test_config_usage(void **state)
{
	struct fixture	*fx = *state;
	char		 path[600];
	FILE		*f;

	snprintf(path, sizeof path, "%s/usage", fx->base);
	f = fopen(path, "w+");
	assert_non_null(f);
	config_usage(f);
	rewind(f);
	memset(fx->out, 0, sizeof fx->out);
	assert_true(fread(fx->out, 1, sizeof fx->out - 1, f) > 0);
	fclose(f);
	assert_true(strncmp(fx->out, "usage: tupelod ", 15) == 0);
	assert_non_null(strchr(fx->out, '\n'));
}

/* Without -c the default file is read when it exists; -c replaces it. */
static void
test_config_default_file(void **state)
{
	struct fixture	*fx = *state;

	write_file(TEST_CONFIG_DEFAULT, "max-unacked = 7\n");
	assert_int_equal(load(fx, NULL), 0);
	assert_false(fx->cfg.config_missing);
	assert_int_equal(fx->cfg.max_unacked, 7);
	/* The command line still wins. */
	assert_int_equal(load(fx, "--max-unacked", "9", NULL), 0);
	assert_int_equal(fx->cfg.max_unacked, 9);

	write_conf(fx, "# nothing\n");
	assert_int_equal(load(fx, "-c", fx->conf, NULL), 0);
	assert_false(fx->cfg.config_optional);
	assert_int_equal(fx->cfg.max_unacked, 1000);
	assert_int_equal(load(fx, "-c", "/dev/null", NULL), 0);
	assert_int_equal(fx->cfg.max_unacked, 1000);

	/* Errors in it are errors, with its name and line. */
	write_file(TEST_CONFIG_DEFAULT, "max-unacked = 7\nbogus = 1\n");
	assert_int_equal(load(fx, NULL), 2);
	assert_non_null(strstr(fx->err, TEST_CONFIG_DEFAULT ":2: unknown"));
}

/* A value of "" is the empty string, as --dump-config writes it. */
static void
test_config_empty_string(void **state)
{
	struct fixture	*fx = *state;

	write_conf(fx, "log-file = /var/log/x.log\nlog-file = \"\"\n");
	assert_int_equal(load(fx, "-c", fx->conf, NULL), 0);
	assert_string_equal(fx->cfg.log_file, "");
}

/* The line of option name in --help output out, or "". */
static const char *
help_line(const char *out, const char *name, char *buf, size_t len)
{
	const char	*p = out, *e;
	char		 want[64];

	snprintf(want, sizeof want, "--%s ", name);
	buf[0] = '\0';
	while ((p = strstr(p, want)) != NULL) {
		if (p == out || p[-1] == ' ') {
			e = strchr(p, '\n');
			snprintf(buf, len, "%.*s", (int)(e != NULL ? e - p :
			    (long)strlen(p)), p);
			break;
		}
		p++;
	}
	return (buf);
}

static void
test_config_help_reloadable(void **state)
{
	static const char *const reload[] = {
		"log-file", "log-level", "max-connections", "durability",
		"conn-buffer", "conn-inflight", "max-unacked", "dedup-window",
		"ack-wait", "max-deliveries", "max-ack-pending",
	};
	static const char *const restart[] = {
		"data-dir", "listen", "max-message-size", "max-frame-size",
		"flush-interval", "map-size", "max-data-size", "wal-size",
		"max-stations",
	};
	struct fixture	*fx = *state;
	char		 line[256];
	size_t		 i;

	assert_int_equal(load(fx, "--help", NULL), 1);
	for (i = 0; i < sizeof reload / sizeof reload[0]; i++) {
		help_line(fx->out, reload[i], line, sizeof line);
		assert_non_null(strstr(line, "(reloadable)"));
	}
	for (i = 0; i < sizeof restart / sizeof restart[0]; i++) {
		help_line(fx->out, restart[i], line, sizeof line);
		assert_true(line[0] != '\0');
		assert_null(strstr(line, "(reloadable)"));
	}
}

static void
test_config_dump(void **state)
{
	struct fixture	*fx = *state;

	assert_int_equal(load(fx, "-c", "/dev/null", "--dump-config", NULL),
	    1);
	assert_string_equal(fx->err, "");
	/* Every option commented out at its default, with its help. */
	assert_non_null(strstr(fx->out, "\n#data-dir = ./tupelo-data\n"));
	assert_non_null(strstr(fx->out, "\n#log-file = \"\"\n"));
	assert_non_null(strstr(fx->out, "\n#max-message-size = 1M\n"));
	assert_non_null(strstr(fx->out, "(reloadable)\n#log-level = info\n"));
	assert_non_null(strstr(fx->out, "\n# data directory (created if "
	    "missing)\n#data-dir"));
	assert_null(strstr(fx->out, "\ndata-dir"));

	/* What differs from the default is a setting. */
	write_conf(fx, "max-unacked = 5\n");
	assert_int_equal(load(fx, "-c", fx->conf, "-d", "/srv/t",
	    "--dump-config", NULL), 1);
	assert_non_null(strstr(fx->out, "\nmax-unacked = 5\n"));
	assert_non_null(strstr(fx->out, "\ndata-dir = /srv/t\n"));
	assert_non_null(strstr(fx->out, "\n#listen = 127.0.0.1:6666\n"));

	/* Bad options are still errors. */
	assert_int_equal(load(fx, "--dump-config", "--map-size", "1", NULL),
	    2);
}

/* Load with -c fx->conf and the reporter on; args after "-c conf". */
#define LOAD_CONF(fx, ...) do {						\
	assert_int_equal(load(fx, "-c", (fx)->conf, __VA_ARGS__), 0);	\
	config_set_report(report);					\
	reported[0] = '\0';						\
} while (0)

/* config_reload with the argv of the last load of fx. */
static int
reload(struct fixture *fx, const char *const *args, size_t n, int *applied)
{
	char	*argv[ARGS_MAX + 2];
	size_t	 i;

	argv[0] = "tupelod";
	for (i = 0; i < n; i++)
		argv[i + 1] = (char *)args[i];
	argv[n + 1] = NULL;
	return (config_reload(&fx->cfg, (int)n + 1, argv, applied));
}

static void
test_config_reload_applies(void **state)
{
	struct fixture	*fx = *state;
	const char	*args[] = { "-c", fx->conf };
	int		 applied = -1;

	write_conf(fx, "log-level = info\nmax-connections = 10\n"
	    "ack-wait = 500\n");
	LOAD_CONF(fx, NULL);
	write_conf(fx, "log-level = debug\nmax-connections = 20\n"
	    "log-file = /tmp/x.log\ndurability = interval\n"
	    "ack-wait = 500\n");
	assert_int_equal(reload(fx, args, 2, &applied), 0);
	assert_int_equal(applied, 4);
	assert_int_equal(fx->cfg.log_level, 3);
	assert_int_equal(fx->cfg.max_connections, 20);
	assert_string_equal(fx->cfg.log_file, "/tmp/x.log");
	assert_int_equal(fx->cfg.durability, CONFIG_DURABILITY_INTERVAL);
	assert_int_equal(fx->cfg.ack_wait_ms, 500);
	assert_non_null(strstr(reported, "2:log-level changed from info to "
	    "debug\n"));
	assert_non_null(strstr(reported, "2:max-connections changed from 10 "
	    "to 20\n"));
	assert_non_null(strstr(reported, "2:log-file changed from \"\" to "
	    "/tmp/x.log\n"));
	assert_null(strstr(reported, "ack-wait"));

	/* Nothing changed: nothing to say. */
	reported[0] = '\0';
	assert_int_equal(reload(fx, args, 2, &applied), 0);
	assert_int_equal(applied, 0);
	assert_string_equal(reported, "");
}

static void
test_config_reload_needs_restart(void **state)
{
	struct fixture	*fx = *state;
	const char	*args[] = { "-c", fx->conf };
	int		 applied = -1;

	write_conf(fx, "data-dir = /a\nmap-size = 1G\nmax-unacked = 5\n");
	LOAD_CONF(fx, NULL);
	write_conf(fx, "data-dir = /b\nmap-size = 2G\nmax-unacked = 6\n");
	assert_int_equal(reload(fx, args, 2, &applied), 0);
	assert_int_equal(applied, 1);
	assert_string_equal(fx->cfg.data_dir, "/a");
	assert_int_equal(fx->cfg.map_size, 1024 * MIB);
	assert_int_equal(fx->cfg.max_unacked, 6);
	assert_non_null(strstr(reported, "1:data-dir changed from /a to /b: "
	    "that needs a restart; /a stays in force\n"));
	assert_non_null(strstr(reported, "1:map-size changed from 1G to 2G: "
	    "that needs a restart"));
}

/* Precedence holds on reload: the command line still wins. */
static void
test_config_reload_cli_wins(void **state)
{
	struct fixture	*fx = *state;
	const char	*args[] = { "--max-unacked", "7", "-c", fx->conf,
			    "-v" };
	int		 applied = -1;

	write_conf(fx, "max-unacked = 5\nlog-level = error\n");
	LOAD_CONF(fx, "--max-unacked", "7", "-v", NULL);
	assert_int_equal(fx->cfg.max_unacked, 7);
	assert_int_equal(fx->cfg.log_level, 1);
	write_conf(fx, "max-unacked = 9\nlog-level = info\n");
	assert_int_equal(reload(fx, args, 5, &applied), 0);
	assert_int_equal(fx->cfg.max_unacked, 7);
	/* -v still adds one to the level of the file. */
	assert_int_equal(fx->cfg.log_level, 3);
	assert_int_equal(applied, 1);
}

/* A file with errors changes nothing; each error says file:line. */
static void
test_config_reload_errors(void **state)
{
	struct fixture	*fx = *state;
	const char	*args[] = { "-c", fx->conf };
	char		 where[600];
	int		 applied = -1;

	write_conf(fx, "max-connections = 10\nlog-level = warn\n");
	LOAD_CONF(fx, NULL);
	write_conf(fx, "max-connections = 20\nlog-level = loud\n"
	    "max-unacked = 0\n");
	assert_int_equal(reload(fx, args, 2, &applied), 2);
	assert_int_equal(applied, 0);
	assert_int_equal(fx->cfg.max_connections, 10);
	assert_int_equal(fx->cfg.log_level, 1);
	snprintf(where, sizeof where, "0:%s:2: log-level", fx->conf);
	assert_non_null(strstr(reported, where));
	snprintf(where, sizeof where, "0:%s:3: max-unacked", fx->conf);
	assert_non_null(strstr(reported, where));
	assert_non_null(strstr(reported, "not reloaded"));

	/* A file gone is an error too. */
	unlink(fx->conf);
	reported[0] = '\0';
	assert_int_equal(reload(fx, args, 2, &applied), 2);
	assert_int_equal(fx->cfg.max_connections, 10);
	assert_non_null(strstr(reported, fx->conf));

	/* Fixed, it applies. */
	write_conf(fx, "max-connections = 30\n");
	assert_int_equal(reload(fx, args, 2, &applied), 0);
	assert_int_equal(fx->cfg.max_connections, 30);
}

/* Without -c, a default file that appears later is read on reload. */
static void
test_config_reload_default_file(void **state)
{
	struct fixture	*fx = *state;
	int		 applied = -1;

	assert_int_equal(load(fx, NULL), 0);
	config_set_report(report);
	assert_true(fx->cfg.config_missing);
	write_file(TEST_CONFIG_DEFAULT, "max-unacked = 3\n");
	assert_int_equal(reload(fx, NULL, 0, &applied), 0);
	assert_false(fx->cfg.config_missing);
	assert_int_equal(fx->cfg.max_unacked, 3);
	assert_int_equal(applied, 1);
	unlink(TEST_CONFIG_DEFAULT);
	assert_int_equal(reload(fx, NULL, 0, &applied), 0);
	assert_true(fx->cfg.config_missing);
	assert_int_equal(fx->cfg.max_unacked, 1000);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_config_defaults),
		T(test_config_short_options),
		T(test_config_verbose),
		T(test_config_long_options),
		T(test_config_max_message_size),
		T(test_config_sizes),
		T(test_config_bad_numbers),
		T(test_config_out_of_range),
		T(test_config_bad_choice),
		T(test_config_unknown_option),
		T(test_config_missing_argument),
		T(test_config_unexpected_argument),
		T(test_config_frame_fits_message),
		T(test_config_file),
		T(test_config_file_errors),
		T(test_config_file_missing),
		T(test_config_cli_overrides_file),
		T(test_config_help),
		T(test_config_version),
		T(test_config_repeated_loads),
		cmocka_unit_test(test_config_durability_name),
		T(test_config_usage),
		T(test_config_default_file),
		T(test_config_empty_string),
		T(test_config_help_reloadable),
		T(test_config_dump),
		T(test_config_reload_applies),
		T(test_config_reload_needs_restart),
		T(test_config_reload_cli_wins),
		T(test_config_reload_errors),
		T(test_config_reload_default_file),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
