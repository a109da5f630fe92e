/*
 * Integration test harness: start the real tupelod on 127.0.0.1 port 0
 * with a temporary data directory and -c /dev/null (never an installed
 * config file), learn its port from its log, restart or kill it, and run
 * the tupelo CLI against it. TUPELO_TEST_URL aims the
 * tests at a broker that is already running instead (tests that restart
 * the broker skip themselves then).
 */
#ifndef TP_TESTS_HARNESS_H
#define TP_TESTS_HARNESS_H

#include <sys/types.h>

#include <stddef.h>

struct broker {
	pid_t	pid;		/* -1 when not running */
	int	external;	/* TUPELO_TEST_URL given */
	int	port;
	int	tls_port;	/* from a "(tls)" line, 0: none */
	char	dir[256];	/* temp dir: data/ and tupelod.log */
	char	data[300];	/* data directory */
	char	log[300];	/* the broker's stderr */
	char	url[320];
	char	args[8][128];	/* extra tupelod arguments */
	int	nargs;
};

/* Start a broker on a new data directory; extra args end with NULL. */
int	broker_start(struct broker *, ...);
/* Start again on the same data directory (after stop or kill). */
int	broker_restart(struct broker *);
/*
 * Send sig and wait for the process; returns its wait status, or -1 if
 * it did not exit within HARNESS_STOP_MS (then it is killed).
 */
#define HARNESS_STOP_MS	30000
int	broker_kill(struct broker *, int);
/* SIGTERM; fail the test unless the broker exits 0 (within the above). */
void	broker_term_clean(struct broker *);
/* Stop (SIGTERM), wait, and remove the temp directory. */
void	broker_stop(struct broker *);
/* Resident memory of the broker in KiB, or -1. */
long	broker_rss_kb(struct broker *);
/* Its peak resident set so far, KiB. */
long	broker_peak_kb(struct broker *);
/* CPU time (user + system) it has used so far, ms; -1 if unread. */
long	broker_cpu_ms(struct broker *);
/* Does the broker's log contain this text? */
int	broker_log_has(struct broker *, const char *);
/* Its log: the file of a --log-file argument, else its stderr (log). */
const char *broker_log_path(struct broker *);

/*
 * Run "tupelo -u URL ARGS" through sh with stdin from the file in_path
 * (NULL: /dev/null); stdout and stderr go to malloc'd strings (NULL
 * allowed). Returns the exit status, or -1.
 */
int	cli_run(struct broker *, const char *, char **, char **,
	    const char *, ...) __attribute__((format(printf, 5, 6)));
/* Path of the tupelo CLI and tupelod binaries under test. */
const char *harness_cli(void);
const char *harness_tupelod(void);
/* Kill the test after seconds (a watchdog for hung tests). */
void	harness_watchdog(unsigned);
/* Write len bytes to a new temp file; returns its malloc'd path. */
char	*harness_tmpfile(const void *, size_t);

struct tp_conn;
/* cmocka group setup and teardown: one broker (no extra options). */
int	harness_setup(void **);
int	harness_teardown(void **);
/* Connect to the broker, failing the test if that fails. */
struct tp_conn *harness_connect(struct broker *, const char *);

#endif
