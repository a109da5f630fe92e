/*
 * Start, stop and kill the real tupelod; run the real CLI. Every wait has
 * a deadline, and a broker that died while starting fails the test at
 * once with its log.
 */
#include "harness.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <setjmp.h>
#include <stddef.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <tupelo/tupelo.h>

#define HARNESS_START_MS	15000

static struct broker	*harness_live[16];

static void
harness_cleanup(void)
{
	size_t	i;

	for (i = 0; i < sizeof harness_live / sizeof harness_live[0]; i++) {
		if (harness_live[i] != NULL && harness_live[i]->pid > 0)
			kill(harness_live[i]->pid, SIGKILL);
	}
}

static void
harness_track(struct broker *b)
{
	static int	registered;
	size_t		i;

	if (!registered) {
		atexit(harness_cleanup);
		registered = 1;
	}
	for (i = 0; i < sizeof harness_live / sizeof harness_live[0]; i++) {
		if (harness_live[i] == b)
			return;
	}
	for (i = 0; i < sizeof harness_live / sizeof harness_live[0]; i++) {
		if (harness_live[i] == NULL) {
			harness_live[i] = b;
			return;
		}
	}
}

static void
harness_alarm(int sig)
{
	static const char	msg[] = "harness: watchdog expired\n";
	ssize_t			n;

	n = write(2, msg, sizeof msg - 1);
	(void)n;
	harness_cleanup();
	_exit(124);
}

void
harness_watchdog(unsigned seconds)
{
	signal(SIGALRM, harness_alarm);
	alarm(seconds);
}

const char *
harness_cli(void)
{
	const char	*p = getenv("TUPELO_CLI");

	return (p != NULL ? p : "tools/tupelo");
}

const char *
harness_tupelod(void)
{
	const char	*p = getenv("TUPELOD");

	return (p != NULL ? p : "broker/tupelod");
}

static long
harness_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

const char *
broker_log_path(struct broker *b)
{
	int	i;

	for (i = 0; i + 1 < b->nargs; i++) {
		if (strcmp(b->args[i], "--log-file") == 0)
			return (b->args[i + 1]);
	}
	return (b->log);
}

static void
harness_dump_log(struct broker *b)
{
	char	buf[4096];
	FILE	*f;
	size_t	n;

	if ((f = fopen(broker_log_path(b), "r")) == NULL)
		return;
	fprintf(stderr, "---- %s ----\n", broker_log_path(b));
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		fwrite(buf, 1, n, stderr);
	fclose(f);
}

int
broker_log_has(struct broker *b, const char *text)
{
	char	buf[65536];
	FILE	*f;
	size_t	n;

	if ((f = fopen(broker_log_path(b), "r")) == NULL)
		return (0);
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	return (strstr(buf, text) != NULL);
}

/*
 * Wait for "listening on 127.0.0.1:PORT" in the log of this start; a TLS
 * listener's "listening on 127.0.0.1:PORT (tls)" sets tls_port instead.
 */
static int
harness_wait_ready(struct broker *b, long from)
{
	char	 buf[65536], *p, *q, *last = NULL;
	long	 deadline = harness_ms() + HARNESS_START_MS;
	int	 status;
	FILE	*f;
	size_t	 n;

	while (harness_ms() < deadline) {
		if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
			fprintf(stderr, "harness: tupelod exited while "
			    "starting\n");
			b->pid = -1;
			harness_dump_log(b);
			return (-1);
		}
		if ((f = fopen(broker_log_path(b), "r")) != NULL) {
			fseek(f, from, SEEK_SET);
			n = fread(buf, 1, sizeof buf - 1, f);
			fclose(f);
			buf[n] = '\0';
			for (p = buf; (p = strstr(p, "listening on ")) != NULL;
			    p++) {
				q = strchr(p, '\n');
				if (q == NULL)
					break;
				if (q - p > 6 && memcmp(q - 6, " (tls)", 6) ==
				    0) {
					while (q > p && q[-1] != ':')
						q--;
					b->tls_port = atoi(q);
					continue;
				}
				last = p;
			}
			if (last != NULL && (p = strchr(last, '\n')) != NULL) {
				*p = '\0';
				p = strrchr(last, ':');
				b->port = p != NULL ? atoi(p + 1) : 0;
				snprintf(b->url, sizeof b->url,
				    "tupelo://127.0.0.1:%d", b->port);
				return (0);
			}
		}
		usleep(10000);
	}
	fprintf(stderr, "harness: tupelod not ready after %d ms\n",
	    HARNESS_START_MS);
	harness_dump_log(b);
	return (-1);
}

static int
harness_spawn(struct broker *b)
{
	char		*argv[24];
	struct stat	 sb;
	long		 from = 0;
	int		 fd, i, n = 0;

	if (stat(broker_log_path(b), &sb) == 0)
		from = (long)sb.st_size;
	argv[n++] = (char *)harness_tupelod();
	/* Never an installed tupelod.conf; a test's own -c comes later. */
	argv[n++] = "-c";
	argv[n++] = "/dev/null";
	argv[n++] = "-d";
	argv[n++] = b->data;
	argv[n++] = "-l";
	argv[n++] = "127.0.0.1:0";
	argv[n++] = "-v";
	for (i = 0; i < b->nargs; i++)
		argv[n++] = b->args[i];
	argv[n] = NULL;
	if ((b->pid = fork()) == -1)
		return (-1);
	if (b->pid == 0) {
		fd = open(b->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd != -1) {
			dup2(fd, 2);
			close(fd);
		}
		fd = open("/dev/null", O_RDWR);
		dup2(fd, 0);
		dup2(fd, 1);
		execv(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	harness_track(b);
	return (harness_wait_ready(b, from));
}

int
broker_start(struct broker *b, ...)
{
	const char	*url = getenv("TUPELO_TEST_URL"), *a;
	va_list		 ap;

	memset(b, 0, sizeof *b);
	b->pid = -1;
	if (url != NULL && *url != '\0') {
		b->external = 1;
		snprintf(b->url, sizeof b->url, "%s", url);
		return (0);
	}
	snprintf(b->dir, sizeof b->dir, "/tmp/tupelo-test.XXXXXX");
	if (mkdtemp(b->dir) == NULL)
		return (-1);
	snprintf(b->data, sizeof b->data, "%s/data", b->dir);
	snprintf(b->log, sizeof b->log, "%s/tupelod.log", b->dir);
	va_start(ap, b);
	while ((a = va_arg(ap, const char *)) != NULL && b->nargs < 8)
		snprintf(b->args[b->nargs++], sizeof b->args[0], "%s", a);
	va_end(ap);
	return (harness_spawn(b));
}

int
broker_restart(struct broker *b)
{
	if (b->external)
		return (-1);
	if (b->pid > 0)
		broker_kill(b, SIGTERM);
	return (harness_spawn(b));
}

int
broker_kill(struct broker *b, int sig)
{
	int	status = -1, i;
	pid_t	r = 0;

	if (b->pid <= 0)
		return (-1);
	kill(b->pid, sig);
	/* A broker that does not stop fails the test, not the suite. */
	for (i = 0; i < HARNESS_STOP_MS / 10; i++) {
		if ((r = waitpid(b->pid, &status, WNOHANG)) != 0 &&
		    !(r == -1 && errno == EINTR))
			break;
		usleep(10000);
	}
	if (r == 0) {
		fprintf(stderr, "harness: tupelod (pid %d) did not exit within "
		    "%d s of signal %d: killed\n", (int)b->pid,
		    HARNESS_STOP_MS / 1000, sig);
		kill(b->pid, SIGKILL);
		while (waitpid(b->pid, NULL, 0) == -1 && errno == EINTR)
			;
		status = -1;
	}
	b->pid = -1;
	return (status);
}

void
broker_term_clean(struct broker *b)
{
	int	status = broker_kill(b, SIGTERM);

	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("tupelod did not exit 0 on SIGTERM (wait status %d)",
		    status);
}

void
broker_stop(struct broker *b)
{
	char	cmd[512];
	size_t	i;
	int	r;

	for (i = 0; i < sizeof harness_live / sizeof harness_live[0]; i++) {
		if (harness_live[i] == b)
			harness_live[i] = NULL;
	}
	if (b->external)
		return;
	broker_kill(b, SIGTERM);
	if (getenv("TUPELO_TEST_KEEP") == NULL && b->dir[0] != '\0') {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", b->dir);
		r = system(cmd);
		(void)r;
	}
}

/* A "Vm...:" line of the broker's /proc status, in KiB; -1 if unread. */
static long
broker_status_kb(struct broker *b, const char *field)
{
	char	path[64], line[256];
	size_t	n = strlen(field);
	long	kb = -1;
	FILE	*f;

	snprintf(path, sizeof path, "/proc/%d/status", (int)b->pid);
	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	while (fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, field, n) == 0)
			kb = strtol(line + n, NULL, 10);
	}
	fclose(f);
	return (kb);
}

long
broker_rss_kb(struct broker *b)
{
	return (broker_status_kb(b, "VmRSS:"));
}

long
broker_cpu_ms(struct broker *b)
{
	char			 path[64], buf[1024], *p;
	unsigned long long	 ut, st;
	FILE			*f;
	size_t			 n;
	long			 hz = sysconf(_SC_CLK_TCK);

	snprintf(path, sizeof path, "/proc/%d/stat", (int)b->pid);
	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* After the command's closing parenthesis: state is field 3,
	   utime and stime fields 14 and 15. */
	if ((p = strrchr(buf, ')')) == NULL || sscanf(p + 2,
	    "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
	    &st) != 2 || hz <= 0)
		return (-1);
	return ((long)((ut + st) * 1000 / (unsigned long long)hz));
}

long
broker_peak_kb(struct broker *b)
{
	return (broker_status_kb(b, "VmHWM:"));
}

static char *
harness_slurp(const char *path)
{
	struct stat	 sb;
	char		*buf;
	FILE		*f;
	size_t		 n;

	if ((f = fopen(path, "r")) == NULL)
		return (NULL);
	fstat(fileno(f), &sb);
	if ((buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		fclose(f);
		return (NULL);
	}
	n = fread(buf, 1, (size_t)sb.st_size, f);
	buf[n] = '\0';
	fclose(f);
	return (buf);
}

char *
harness_tmpfile(const void *data, size_t len)
{
	char	*path;
	int	 fd;

	if ((path = strdup("/tmp/tupelo-in.XXXXXX")) == NULL)
		return (NULL);
	if ((fd = mkstemp(path)) == -1) {
		free(path);
		return (NULL);
	}
	if (write(fd, data, len) != (ssize_t)len) {
		close(fd);
		free(path);
		return (NULL);
	}
	close(fd);
	return (path);
}

int
cli_run(struct broker *b, const char *in_path, char **out, char **err,
    const char *fmt, ...)
{
	char	 args[4096], cmd[8192], opath[] = "/tmp/tupelo-out.XXXXXX";
	char	 epath[] = "/tmp/tupelo-err.XXXXXX";
	va_list	 ap;
	int	 ofd, efd, status;

	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	if ((ofd = mkstemp(opath)) == -1)
		return (-1);
	if ((efd = mkstemp(epath)) == -1) {
		close(ofd);
		unlink(opath);
		return (-1);
	}
	close(ofd);
	close(efd);
	snprintf(cmd, sizeof cmd, "%s -u '%s' %s <%s >%s 2>%s", harness_cli(),
	    b->url, args, in_path != NULL ? in_path : "/dev/null", opath,
	    epath);
	status = system(cmd);
	if (out != NULL)
		*out = harness_slurp(opath);
	if (err != NULL)
		*err = harness_slurp(epath);
	unlink(opath);
	unlink(epath);
	if (status == -1 || !WIFEXITED(status))
		return (-1);
	return (WEXITSTATUS(status));
}

int
harness_setup(void **state)
{
	struct broker	*b;

	if ((b = calloc(1, sizeof *b)) == NULL)
		return (-1);
	if (broker_start(b, NULL) != 0) {
		free(b);
		return (-1);
	}
	*state = b;
	return (0);
}

int
harness_teardown(void **state)
{
	/* cmocka tears a group down even when its setup failed. */
	if (*state == NULL)
		return (0);
	broker_stop(*state);
	free(*state);
	return (0);
}

struct tp_conn *
harness_connect(struct broker *b, const char *name)
{
	struct tp_conn	*c = NULL;
	struct tp_err	 err;

	if (tp_connect(b->url, name, &c, &err) != TP_OK)
		fail_msg("connect %s: %s", b->url, err.message);
	return (c);
}
