/*
 * The http and lambda trigger targets against a real tupelod, driven by
 * the tupelo CLI. The http group posts to tests/integration/
 * trigger_server.py (found under $srcdir), which records every request:
 * CloudEvents binary mode for batch size 1, JSON batches with a window,
 * async concurrency, retries honouring Retry-After, and a 4xx that goes
 * straight to the dead letters. The lambda group installs serverless and
 * serverless-offline with npm ci from tests/integration/lambda/
 * package-lock.json (exact versions that run on Node.js 18 and 20) into a
 * temp directory, or into $TUPELO_NPM_CACHE to speed up reruns, serves
 * tests/integration/lambda with serverless-offline's Lambda Invoke API,
 * and checks a function that succeeds, one that throws and one that
 * reports batchItemFailures. The project promises real parts: without
 * node, npm or the registry the lambda tests fail, they do not skip.
 *
 * Helpers run in process groups of their own and are killed as groups;
 * serverless-offline's wrapper shell also kills its group when this test
 * goes away (EOF on its standard input), and the python server exits on
 * EOF too. An alarm is the watchdog.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
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

#include <tupelo/tupelo.h>

#include "harness.h"

#define WATCHDOG_S	290	/* the whole file, npm ci included */
#define WAIT_MS		30000	/* for a trigger to get somewhere */
#define SERVER_MS	10000	/* for trigger_server.py to report */
#define NPM_MS		200000	/* for npm ci */
#define SLS_MS		90000	/* for serverless-offline to listen */
#define STOP_MS		5000	/* for a process group to end on SIGTERM */
#define POLL_US		50000

#define LAMBDA_DIR	"tests/integration/lambda"	/* under srcdir */
#define NPM_MARKER	".tupelo-npm-installed"	/* hash of the lock */
#define SLS_PREFIX	"tupelo-it-test-"	/* service-stage- */

/* A helper process, leader of its own process group. */
struct proc {
	pid_t	pid;		/* -1: none; also the group id */
	int	in;		/* write end of its stdin, or -1 */
};

struct fixture {
	struct broker	 b;
	struct proc	 srv;		/* trigger_server.py */
	int		 srv_port;
	struct proc	 sls;		/* serverless offline, via sh */
	int		 lambda_port;
	char		 tmp[64];	/* scratch dir, removed at the end */
	char		 svc[PATH_MAX];	/* serverless service dir */
	char		 lamlog[PATH_MAX]; /* what the functions received */
	char		 slslog[PATH_MAX];
	char		 why[512];	/* why lambda is not ready */
	int		 ready;		/* lambda: serverless-offline up */
};

static struct fixture	*fixtures[2];	/* for the watchdog */

static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static const char *
srcdir(void)
{
	const char	*s = getenv("srcdir");

	return (s != NULL && *s != '\0' ? s : ".");
}

/* ---- helper processes ---- */

static void
watchdog_cb(int sig)
{
	static const char	 msg[] = "test_trigger_http: watchdog\n";
	struct fixture		*f;
	size_t			 i;
	ssize_t			 n;

	(void)sig;
	n = write(2, msg, sizeof msg - 1);
	(void)n;
	for (i = 0; i < 2; i++) {
		if ((f = fixtures[i]) == NULL)
			continue;
		if (f->srv.pid > 0)
			kill(-f->srv.pid, SIGKILL);
		if (f->sls.pid > 0)
			kill(-f->sls.pid, SIGKILL);
		if (f->b.pid > 0)
			kill(f->b.pid, SIGKILL);
	}
	_exit(124);
}

/*
 * Start argv[0] (searched in PATH) in a new process group, in dir (NULL:
 * here), with env ("K=V", NULL-ended, may be NULL) added. stdin is a pipe
 * kept in p->in when keep_in, else /dev/null; stdout goes to *out_fd (a
 * pipe) when out_fd is not NULL, else to log; stderr goes to log (NULL:
 * inherited).
 */
static int
proc_start(struct proc *p, const char *dir, char *const env[],
    int keep_in, int *out_fd, const char *log, char *const argv[])
{
	int	in[2] = { -1, -1 }, out[2] = { -1, -1 }, fd;
	size_t	i;

	p->pid = -1;
	p->in = -1;
	if ((keep_in && pipe(in) != 0) || (out_fd != NULL && pipe(out) != 0))
		return (-1);
	if ((p->pid = fork()) == -1)
		return (-1);
	if (p->pid == 0) {
		setpgid(0, 0);
		if (dir != NULL && chdir(dir) != 0)
			_exit(126);
		for (i = 0; env != NULL && env[i] != NULL; i++)
			putenv(env[i]);
		fd = keep_in ? in[0] : open("/dev/null", O_RDONLY);
		dup2(fd, 0);
		if (log != NULL && (fd = open(log,
		    O_WRONLY | O_CREAT | O_APPEND, 0644)) != -1) {
			dup2(fd, 2);
			if (out_fd == NULL)
				dup2(fd, 1);
			close(fd);
		}
		if (out_fd != NULL)
			dup2(out[1], 1);
		/* Only 0, 1 and 2: no pipe of ours keeps a child alive. */
		for (fd = 3; fd < 1024; fd++)
			close(fd);
		execvp(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(p->pid, p->pid);
	if (keep_in) {
		close(in[0]);
		p->in = in[1];
		fcntl(p->in, F_SETFD, FD_CLOEXEC);
	}
	if (out_fd != NULL) {
		close(out[1]);
		*out_fd = out[0];
		fcntl(out[0], F_SETFD, FD_CLOEXEC);
	}
	return (0);
}

/* Has p's leader exited (reaped now)? *status gets its wait status. */
static int
proc_exited(struct proc *p, int *status)
{
	int	st;

	if (p->pid <= 0)
		return (1);
	if (waitpid(p->pid, &st, WNOHANG) != p->pid)
		return (0);
	if (status != NULL)
		*status = st;
	return (1);
}

/* Wait up to ms for p's leader to exit; -1 if it did not. */
static int
proc_wait(struct proc *p, int64_t ms, int *status)
{
	int64_t	deadline = now_ms() + ms;

	while (!proc_exited(p, status)) {
		if (now_ms() > deadline)
			return (-1);
		usleep(20000);
	}
	return (0);
}

/* SIGTERM p's whole group, SIGKILL what is left after STOP_MS. */
static void
proc_stop(struct proc *p)
{
	int64_t	deadline = now_ms() + STOP_MS;
	int	status, reaped = 0;

	if (p->in != -1)
		close(p->in);
	p->in = -1;
	if (p->pid <= 0)
		return;
	kill(-p->pid, SIGTERM);
	for (;;) {
		if (!reaped && waitpid(p->pid, &status, WNOHANG) == p->pid)
			reaped = 1;
		if (kill(-p->pid, 0) == -1 && errno == ESRCH)
			break;
		if (now_ms() > deadline) {
			kill(-p->pid, SIGKILL);
			break;
		}
		usleep(20000);
	}
	if (!reaped)
		waitpid(p->pid, &status, 0);
	p->pid = -1;
}

static void
rm_rf(const char *dir)
{
	char	cmd[PATH_MAX + 16];
	int	r;

	if (dir[0] == '\0' || getenv("TUPELO_TEST_KEEP") != NULL)
		return;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	r = system(cmd);
	(void)r;
}

/* A port nobody listens on now, chosen by the kernel. */
static int
free_port(void)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof sin;
	int			fd, port = -1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return (-1);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	close(fd);
	return (port);
}

/* A TCP connection to 127.0.0.1:port, or -1. */
static int
tcp_connect(int port)
{
	struct sockaddr_in	sin;
	int			fd;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return (-1);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
		close(fd);
		return (-1);
	}
	return (fd);
}

/* The last bytes of a file, to show why something did not start. */
static void
show_tail(const char *path, size_t max)
{
	char	 buf[8192];
	FILE	*f;
	long	 size;
	size_t	 n;

	if ((f = fopen(path, "r")) == NULL)
		return;
	if (max > sizeof buf)
		max = sizeof buf;
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, size > (long)max ? size - (long)max : 0, SEEK_SET);
	n = fread(buf, 1, max, f);
	fclose(f);
	fprintf(stderr, "---- %s (last %zu bytes) ----\n", path, n);
	fwrite(buf, 1, n, stderr);
	fprintf(stderr, "\n----\n");
}

static char *
slurp(const char *path)
{
	struct stat	 sb;
	char		*buf;
	FILE		*f;
	size_t		 n;

	if ((f = fopen(path, "r")) == NULL)
		return (strdup(""));
	fstat(fileno(f), &sb);
	if ((buf = malloc((size_t)sb.st_size + 1)) != NULL) {
		n = fread(buf, 1, (size_t)sb.st_size, f);
		buf[n] = '\0';
	}
	fclose(f);
	return (buf);
}

static int
copy_file(const char *from, const char *to)
{
	char	 buf[4096];
	FILE	*in, *out;
	size_t	 n;
	int	 rc = 0;

	if ((in = fopen(from, "r")) == NULL)
		return (-1);
	if ((out = fopen(to, "w")) == NULL) {
		fclose(in);
		return (-1);
	}
	while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
		if (fwrite(buf, 1, n, out) != n)
			rc = -1;
	}
	if (fclose(out) != 0)
		rc = -1;
	fclose(in);
	return (rc);
}

/* ---- JSON, as far as the tests read it ---- */

/* The value after "key": in doc (any spaces around the colon), or NULL. */
static const char *
json_at(const char *doc, const char *key)
{
	const char	*p = doc;
	size_t		 klen = strlen(key);

	while ((p = strstr(p, key)) != NULL) {
		if (p > doc && p[-1] == '"' && p[klen] == '"') {
			p += klen + 1;
			p += strspn(p, " \t\r\n");
			if (*p == ':')
				return (p + 1 + strspn(p + 1, " \t\r\n"));
		} else
			p += klen;
	}
	return (NULL);
}

/* The number (or string of digits) at "key"; -1 if there is none. */
static int
json_u64(const char *doc, const char *key, uint64_t *v)
{
	const char	*p = json_at(doc, key);
	char		*end;

	if (p == NULL)
		return (-1);
	if (*p == '"')
		p++;
	if (*p < '0' || *p > '9')
		return (-1);
	*v = strtoull(p, &end, 10);
	return (0);
}

/* The string at "key" into buf (escapes of ASCII undone); -1 if none. */
static int
json_str(const char *doc, const char *key, char *buf, size_t size)
{
	const char	*p = json_at(doc, key);
	size_t		 n = 0;
	unsigned	 u;

	if (p == NULL || *p++ != '"')
		return (-1);
	while (*p != '\0' && *p != '"' && n + 1 < size) {
		if (*p == '\\' && p[1] != '\0') {
			p++;
			switch (*p) {
			case 'n':
				buf[n++] = '\n';
				break;
			case 't':
				buf[n++] = '\t';
				break;
			case 'u':
				if (sscanf(p + 1, "%4x", &u) == 1 && u < 0x80) {
					buf[n++] = (char)u;
					p += 4;
					break;
				}
				/* FALLTHROUGH */
			default:
				buf[n++] = *p;
				break;
			}
			p++;
			continue;
		}
		buf[n++] = *p++;
	}
	buf[n] = '\0';
	return (*p == '"' ? 0 : -1);
}

static size_t
count(const char *hay, const char *needle)
{
	size_t	n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return (n);
}

/* Split buf in place into its non-empty lines; *lines is malloc'd. */
static size_t
split_lines(char *buf, char ***lines)
{
	char	*p, *nl;
	size_t	 n = 0, cap = 16;

	*lines = malloc(cap * sizeof **lines);
	assert_non_null(*lines);
	for (p = buf; *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) != NULL)
			*nl = '\0';
		if (*p != '\0') {
			if (n == cap) {
				cap *= 2;
				*lines = realloc(*lines, cap * sizeof **lines);
				assert_non_null(*lines);
			}
			(*lines)[n++] = p;
		}
		if (nl == NULL)
			break;
	}
	return (n);
}

/* ---- the broker through the CLI ---- */

static char *
cli(struct broker *b, const char *in, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Run tupelo ARGS, failing the test unless it exits 0; its stdout. */
static char *
cli(struct broker *b, const char *in, const char *fmt, ...)
{
	char	 args[4096], *out = NULL, *err = NULL;
	va_list	 ap;
	int	 rc;

	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	rc = cli_run(b, in, &out, &err, "%s", args);
	if (rc != 0) {
		fprintf(stderr, "tupelo %s: exit %d\n%s%s\n", args, rc,
		    out != NULL ? out : "", err != NULL ? err : "");
		fail_msg("tupelo %.200s: exit %d: %.200s", args, rc,
		    err != NULL ? err : "");
	}
	free(err);
	assert_non_null(out);
	return (out);
}

/* Produce the lines of text to station through tupelo produce. */
static void
produce_lines(struct broker *b, const char *station, const char *opts,
    const char *text)
{
	char	*path, *out;

	path = harness_tmpfile(text, strlen(text));
	assert_non_null(path);
	out = cli(b, path, "produce %s %s", station, opts);
	unlink(path);
	free(path);
	free(out);
}

/* A number from "tupelo trigger info NAME --json". */
static uint64_t
trigger_stat(struct broker *b, const char *name, const char *key)
{
	char		*out;
	uint64_t	 v;

	out = cli(b, NULL, "trigger info %s --json", name);
	if (json_u64(out, key, &v) != 0)
		fail_msg("trigger info %s --json: no number \"%s\" in: %s",
		    name, key, out);
	free(out);
	return (v);
}

/* Wait until the trigger's counter key reaches want. */
static void
wait_stat(struct broker *b, const char *name, const char *key,
    uint64_t want)
{
	int64_t		deadline = now_ms() + WAIT_MS;
	uint64_t	v;

	while ((v = trigger_stat(b, name, key)) < want) {
		if (now_ms() > deadline)
			fail_msg("trigger %s: %s is %" PRIu64 ", not %" PRIu64
			    " after %d ms", name, key, v, want, WAIT_MS);
		usleep(POLL_US);
	}
}

/* The dead letters of station, one JSON object a line; *out to free. */
static size_t
dead_letters(struct broker *b, const char *station, char **out,
    char ***lines)
{
	*out = cli(b, NULL, "dls ls %s --json", station);
	return (split_lines(*out, lines));
}

/* Wait until station has at least n dead letters. */
static size_t
wait_dead(struct broker *b, const char *station, size_t n, char **out,
    char ***lines)
{
	int64_t	deadline = now_ms() + WAIT_MS;
	size_t	got;

	for (;;) {
		if ((got = dead_letters(b, station, out, lines)) >= n)
			return (got);
		free(*out);
		free(*lines);
		if (now_ms() > deadline)
			fail_msg("%s: %zu dead letters, not %zu after %d ms",
			    station, got, n, WAIT_MS);
		usleep(POLL_US);
	}
}

/* A header of a dead letter line, "" if it has none. */
static const char *
dead_header(const char *line, const char *key, char *buf, size_t size)
{
	const char	*h = json_at(line, "headers");

	if (h == NULL || json_str(h, key, buf, size) != 0)
		buf[0] = '\0';
	return (buf);
}

/* ---- trigger_server.py ---- */

/* GET path from the server; the body, malloc'd. */
static char *
srv_get(struct fixture *f, const char *path)
{
	char	 req[512], *buf, *body;
	size_t	 len = 0, cap = 65536;
	ssize_t	 n;
	int	 fd;

	if ((fd = tcp_connect(f->srv_port)) == -1)
		fail_msg("trigger_server.py on port %d: %s", f->srv_port,
		    strerror(errno));
	snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n"
	    "Connection: close\r\n\r\n", path);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	buf = malloc(cap);
	assert_non_null(buf);
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (cap - len < 4096) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
	}
	close(fd);
	buf[len] = '\0';
	if (strncmp(buf, "HTTP/1.", 7) != 0 ||
	    strncmp(buf + 9, "200", 3) != 0 ||
	    (body = strstr(buf, "\r\n\r\n")) == NULL)
		fail_msg("GET %s: %s", path, buf);
	memmove(buf, body + 4, strlen(body + 4) + 1);
	return (buf);
}

/* Requests the server had for path; as lines in *buf. */
static size_t
srv_requests(struct fixture *f, const char *path, char **buf,
    char ***lines)
{
	char	q[256];

	snprintf(q, sizeof q, "/_requests?path=%s", path);
	*buf = srv_get(f, q);
	return (split_lines(*buf, lines));
}

/* A number under "group" (such as "paths") in /_stats for path; 0. */
static uint64_t
srv_stat(struct fixture *f, const char *group, const char *path)
{
	const char	*g;
	char		*s, *end;
	uint64_t	 v = 0;

	s = srv_get(f, "/_stats");
	if ((g = json_at(s, group)) != NULL && *g == '{' &&
	    (end = strchr(g, '}')) != NULL) {
		*end = '\0';
		if (json_u64(g, path, &v) != 0)
			v = 0;
	}
	free(s);
	return (v);
}

static int
srv_start(struct fixture *f)
{
	char		 path[PATH_MAX], line[64];
	char		*argv[3];
	struct pollfd	 pfd;
	int64_t		 deadline = now_ms() + SERVER_MS;
	size_t		 len = 0;
	ssize_t		 n;
	int		 out;

	snprintf(path, sizeof path, "%s/tests/integration/trigger_server.py",
	    srcdir());
	argv[0] = "python3";
	argv[1] = path;
	argv[2] = NULL;
	if (proc_start(&f->srv, NULL, NULL, 1, &out, NULL, argv) != 0) {
		fprintf(stderr, "cannot start python3 %s\n", path);
		return (-1);
	}
	pfd.fd = out;
	pfd.events = POLLIN;
	while (len + 1 < sizeof line && memchr(line, '\n', len) == NULL) {
		if (now_ms() > deadline ||
		    (poll(&pfd, 1, 100) == -1 && errno != EINTR))
			break;
		if ((pfd.revents & (POLLIN | POLLHUP)) == 0)
			continue;
		if ((n = read(out, line + len, sizeof line - len - 1)) <= 0)
			break;
		len += (size_t)n;
	}
	close(out);
	line[len] = '\0';
	if ((f->srv_port = atoi(line)) <= 0) {
		fprintf(stderr, "python3 %s did not report its port\n", path);
		return (-1);
	}
	return (0);
}

/* ---- serverless-offline ---- */

static int
lambda_fail(struct fixture *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
lambda_fail(struct fixture *f, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(f->why, sizeof f->why, fmt, ap);
	va_end(ap);
	fprintf(stderr, "test_trigger_http: %s\n", f->why);
	return (-1);
}

/* FNV-1a, 64 bits: enough to tell one lockfile from another. */
static uint64_t
lock_hash(const char *s)
{
	uint64_t	h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return (h);
}

/* Copy the files (NULL-terminated names) of LAMBDA_DIR into f->svc. */
static int
lambda_copy(struct fixture *f, const char *const *files)
{
	char	from[PATH_MAX + 64], to[PATH_MAX + 64];
	size_t	i;

	for (i = 0; files[i] != NULL; i++) {
		snprintf(from, sizeof from, "%s/%s/%s", srcdir(), LAMBDA_DIR,
		    files[i]);
		snprintf(to, sizeof to, "%s/%s", f->svc, files[i]);
		if (copy_file(from, to) != 0)
			return (lambda_fail(f, "cannot copy %s to %s", from,
			    to));
	}
	return (0);
}

/*
 * npm ci the packages pinned by LAMBDA_DIR/package-lock.json into f->svc,
 * unless the marker says that very lockfile is installed there (a changed
 * lock installs again). npm ci, not npm install: exact versions, and the
 * lock is never rewritten. No install scripts: serverless runs without
 * them, and npm versions differ on whether they run by default.
 */
static int
lambda_install(struct fixture *f)
{
	static char	 upd[] = "npm_config_update_notifier=false";
	char		*env[] = { upd, NULL };
	char		*argv[] = { "npm", "ci", "--no-audit", "--no-fund",
			    "--ignore-scripts", NULL };
	const char	*files[] = { "package.json", "package-lock.json",
			    NULL };
	char		 to[PATH_MAX + 64];
	char		 log[PATH_MAX + 32], want[32], *lock, *mark;
	struct proc	 p;
	FILE		*fp;
	int		 installed, status = 0;
	int64_t		 t0 = now_ms();

	if (lambda_copy(f, files) != 0)
		return (-1);
	snprintf(to, sizeof to, "%s/package-lock.json", f->svc);
	if ((lock = slurp(to)) == NULL || *lock == '\0') {
		free(lock);
		return (lambda_fail(f, "cannot read %s", to));
	}
	snprintf(want, sizeof want, "%016" PRIx64 "\n", lock_hash(lock));
	free(lock);

	snprintf(to, sizeof to, "%s/%s", f->svc, NPM_MARKER);
	mark = slurp(to);
	installed = mark != NULL && strcmp(mark, want) == 0;
	free(mark);
	snprintf(to, sizeof to, "%s/node_modules/.bin/serverless", f->svc);
	if (installed && access(to, X_OK) == 0)
		return (0);
	/* npm ci starts by removing node_modules: no marker until done. */
	snprintf(to, sizeof to, "%s/%s", f->svc, NPM_MARKER);
	if (unlink(to) != 0 && errno != ENOENT)
		return (lambda_fail(f, "cannot remove %s: %s", to,
		    strerror(errno)));

	snprintf(log, sizeof log, "%s/npm-ci.log", f->tmp);
	if (proc_start(&p, f->svc, env, 0, NULL, log, argv) != 0)
		return (lambda_fail(f, "cannot run npm: %s", strerror(errno)));
	if (proc_wait(&p, NPM_MS, &status) != 0) {
		proc_stop(&p);
		show_tail(log, 4000);
		return (lambda_fail(f, "npm ci in %s took over %d s (is the "
		    "npm registry reachable?); its log, %s, is above", f->svc,
		    NPM_MS / 1000, log));
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		show_tail(log, 4000);
		return (lambda_fail(f, "npm ci in %s failed (exit %d; is the "
		    "npm registry reachable?); its log, %s, is above: the "
		    "lambda tests need serverless-offline", f->svc,
		    WIFEXITED(status) ? WEXITSTATUS(status) : -1, log));
	}
	fprintf(stderr, "test_trigger_http: npm ci took %.1f s\n",
	    (double)(now_ms() - t0) / 1000);
	if ((fp = fopen(to, "w")) != NULL) {
		fputs(want, fp);
		fclose(fp);
	}
	return (0);
}

/*
 * The shell that runs serverless-offline: it ends its process group when
 * serverless exits, or when its standard input (held by this test) ends.
 */
static const char sls_script[] =
	"exec 3<&0 </dev/null\n"
	"npx --no serverless offline start --host 127.0.0.1 "
	"--lambdaPort \"$1\" --httpPort \"$2\" --noSponsor 3<&- &\n"
	"sls=$!\n"
	"(cat <&3 >/dev/null; kill -KILL 0) &\n"
	"exec 3<&-\n"
	"wait $sls\n"
	"echo \"serverless exited: $?\" >&2\n"
	"kill -KILL 0\n";

/* Start serverless-offline on f->svc and wait until it listens. */
static int
lambda_serve(struct fixture *f)
{
	static char	 tel[] = "SLS_TELEMETRY_DISABLED=1";
	static char	 notif[] = "SLS_NOTIFICATIONS_MODE=off";
	static char	 depr[] = "SLS_DEPRECATION_DISABLE=*";
	static char	 key[] = "AWS_ACCESS_KEY_ID=tupelo-test";
	static char	 secret[] = "AWS_SECRET_ACCESS_KEY=tupelo-test";
	static char	 upd[] = "npm_config_update_notifier=false";
	static char	 lamlog[PATH_MAX + 32];
	char		*env[] = { tel, notif, depr, key, secret, upd, lamlog,
			    NULL };
	char		 lport[16], hport[16];
	char		*argv[] = { "sh", "-c", (char *)sls_script, "sh", lport,
			    hport, NULL };
	const char	*files[] = { "serverless.yml", "handler.js", NULL };
	int64_t		 deadline, t0 = now_ms();
	int		 fd, status;

	if (lambda_copy(f, files) != 0)
		return (-1);
	snprintf(lamlog, sizeof lamlog, "TUPELO_LAMBDA_LOG=%s", f->lamlog);
	f->lambda_port = free_port();
	snprintf(lport, sizeof lport, "%d", f->lambda_port);
	snprintf(hport, sizeof hport, "%d", free_port());
	if (proc_start(&f->sls, f->svc, env, 1, NULL, f->slslog, argv) != 0)
		return (lambda_fail(f, "cannot run sh: %s", strerror(errno)));
	deadline = now_ms() + SLS_MS;
	while ((fd = tcp_connect(f->lambda_port)) == -1) {
		if (proc_exited(&f->sls, &status)) {
			f->sls.pid = -1;
			show_tail(f->slslog, 4000);
			return (lambda_fail(f, "serverless offline exited "
			    "before listening (log above)"));
		}
		if (now_ms() > deadline) {
			show_tail(f->slslog, 4000);
			return (lambda_fail(f, "serverless offline not "
			    "listening on 127.0.0.1:%d after %d s",
			    f->lambda_port, SLS_MS / 1000));
		}
		usleep(100000);
	}
	close(fd);
	fprintf(stderr, "test_trigger_http: serverless offline up in %.1f s\n",
	    (double)(now_ms() - t0) / 1000);
	return (0);
}

static void
lambda_setup(struct fixture *f)
{
	const char	*cache = getenv("TUPELO_NPM_CACHE");
	char		 cmd[PATH_MAX + 32];

	if (system("command -v node >/dev/null && command -v npm >/dev/null "
	    "&& command -v npx >/dev/null") != 0) {
		lambda_fail(f, "node, npm and npx are needed for the lambda "
		    "tests (serverless-offline); install nodejs and npm");
		return;
	}
	if (cache != NULL && *cache != '\0') {
		snprintf(f->svc, sizeof f->svc, "%s", cache);
		snprintf(cmd, sizeof cmd, "mkdir -p '%s'", cache);
		if (system(cmd) != 0) {
			lambda_fail(f, "cannot make TUPELO_NPM_CACHE %s",
			    cache);
			return;
		}
	} else {
		snprintf(f->svc, sizeof f->svc, "%s/sls", f->tmp);
		if (mkdir(f->svc, 0755) != 0) {
			lambda_fail(f, "mkdir %s: %s", f->svc, strerror(errno));
			return;
		}
	}
	snprintf(f->lamlog, sizeof f->lamlog, "%s/lambda.log", f->tmp);
	snprintf(f->slslog, sizeof f->slslog, "%s/serverless.log", f->tmp);
	if (lambda_install(f) == 0 && lambda_serve(f) == 0)
		f->ready = 1;
}

/* ---- groups ---- */

static int	fixture_free(void **);

static int
fixture_new(void **state, int lambda)
{
	struct fixture	*f;

	if ((f = calloc(1, sizeof *f)) == NULL)
		return (-1);
	f->srv.pid = f->sls.pid = -1;
	f->srv.in = f->sls.in = -1;
	fixtures[lambda] = f;
	*state = f;
	snprintf(f->tmp, sizeof f->tmp, "/tmp/tupelo-trigger.XXXXXX");
	if (mkdtemp(f->tmp) == NULL) {
		f->tmp[0] = '\0';
		goto fail;
	}
	if (broker_start(&f->b, NULL) != 0)
		goto fail;
	if (lambda)
		lambda_setup(f);
	else if (srv_start(f) != 0)
		goto fail;
	return (0);

fail:
	fixture_free(state);
	*state = NULL;
	return (-1);
}

static int
http_setup(void **state)
{
	return (fixture_new(state, 0));
}

static int
lambda_group_setup(void **state)
{
	return (fixture_new(state, 1));
}

static int
fixture_free(void **state)
{
	struct fixture	*f = *state;
	size_t		 i;

	if (f == NULL)
		return (0);
	proc_stop(&f->srv);
	proc_stop(&f->sls);
	broker_stop(&f->b);
	if (f->tmp[0] != '\0')
		rm_rf(f->tmp);
	for (i = 0; i < 2; i++) {
		if (fixtures[i] == f)
			fixtures[i] = NULL;
	}
	free(f);
	return (0);
}

/* ---- http ---- */

/*
 * Batch size 1: CloudEvents binary mode, one request per message in seq
 * order, the payload as the body and the attributes as ce- headers.
 */
static void
test_trigger_http_binary_mode(void **state)
{
	struct fixture	*f = *state;
	struct broker	*b = &f->b;
	char		*in, *buf, **lines, *out, want[64], v[256];
	size_t		 n, i, len = 0;
	uint64_t	 seq;

	out = cli(b, NULL, "station create hb.bin");
	free(out);
	out = cli(b, NULL, "trigger add bin --station hb.bin --http "
	    "http://127.0.0.1:%d/ok --batch-size 1", f->srv_port);
	free(out);
	in = malloc(20 * 32);
	assert_non_null(in);
	for (i = 1; i <= 20; i++)
		len += (size_t)sprintf(in + len, "payload-%zu\n", i);
	produce_lines(b, "hb.bin", "-H region=eu -H 'note=50% off'", in);
	free(in);
	wait_stat(b, "bin", "messages", 20);

	n = srv_requests(f, "/ok", &buf, &lines);
	assert_int_equal(n, 20);
	for (i = 0; i < n; i++) {
		/* Stream mode, one at a time: in order. */
		if (json_str(lines[i], "ce-subject", v, sizeof v) != 0)
			fail_msg("no ce-subject: %s", lines[i]);
		seq = strtoull(v, NULL, 10);
		assert_int_equal(seq, i + 1);
		assert_int_equal(json_str(lines[i], "ce-specversion", v,
		    sizeof v), 0);
		assert_string_equal(v, "1.0");
		snprintf(want, sizeof want, "hb.bin/%" PRIu64, seq);
		assert_int_equal(json_str(lines[i], "ce-id", v, sizeof v), 0);
		assert_string_equal(v, want);
		assert_int_equal(json_str(lines[i], "ce-source", v, sizeof v),
		    0);
		assert_string_equal(v, "tupelo://station/hb.bin");
		assert_int_equal(json_str(lines[i], "ce-type", v, sizeof v), 0);
		assert_string_equal(v, "io.tupelo.message");
		snprintf(want, sizeof want, "%" PRIu64, seq);
		assert_int_equal(json_str(lines[i], "ce-tupeloseq", v,
		    sizeof v), 0);
		assert_string_equal(v, want);
		assert_int_equal(json_str(lines[i], "ce-tupelotrigger", v,
		    sizeof v), 0);
		assert_string_equal(v, "bin");
		assert_int_equal(json_str(lines[i], "ce-tupeloattempt", v,
		    sizeof v), 0);
		assert_string_equal(v, "1");
		assert_int_equal(json_str(lines[i], "ce-tupelodeliveries", v,
		    sizeof v), 0);
		assert_string_equal(v, "1");
		assert_int_equal(json_str(lines[i], "ce-time", v, sizeof v), 0);
		assert_true(strlen(v) >= 20 && v[4] == '-' && v[10] == 'T' &&
		    v[strlen(v) - 1] == 'Z');
		/* A message header is an extension attribute. */
		assert_int_equal(json_str(lines[i], "ce-region", v, sizeof v),
		    0);
		assert_string_equal(v, "eu");
		/* Percent-encoded as the HTTP binding asks. */
		assert_int_equal(json_str(lines[i], "ce-note", v, sizeof v),
		    0);
		assert_string_equal(v, "50%25%20off");
		/* Exactly one Content-Type (no repeated header). */
		assert_int_equal(json_str(lines[i], "content-type", v,
		    sizeof v), 0);
		assert_string_equal(v, "application/octet-stream");
		snprintf(want, sizeof want, "payload-%" PRIu64, seq);
		assert_int_equal(json_str(lines[i], "body", v, sizeof v), 0);
		assert_string_equal(v, want);
	}
	free(lines);
	free(buf);
	/* Stream mode: one request at a time. */
	assert_int_equal(srv_stat(f, "max_in_flight", "/ok"), 1);

	/* A message's content-type header is the request's Content-Type. */
	produce_lines(b, "hb.bin", "-H content-type=application/json",
	    "{\"a\":1}\n");
	wait_stat(b, "bin", "messages", 21);
	n = srv_requests(f, "/ok", &buf, &lines);
	assert_int_equal(n, 21);
	assert_int_equal(json_str(lines[20], "content-type", v, sizeof v), 0);
	assert_string_equal(v, "application/json");
	assert_int_equal(json_str(lines[20], "body", v, sizeof v), 0);
	assert_string_equal(v, "{\"a\":1}");
	assert_int_equal(json_str(lines[20], "ce-subject", v, sizeof v), 0);
	assert_string_equal(v, "21");
	free(lines);
	free(buf);
	assert_int_equal(trigger_stat(b, "bin", "failures"), 0);
	out = cli(b, NULL, "trigger rm bin");
	free(out);
}

/* The seqs of the events of a batch line, in order, into seqs. */
static size_t
batch_seqs(const char *line, uint64_t *seqs, size_t max)
{
	const char	*p = line;
	size_t		 n = 0;

	while ((p = json_at(p, "tupeloseq")) != NULL) {
		if (n < max)
			seqs[n] = strtoull(p, NULL, 10);
		n++;
	}
	return (n);
}

/*
 * Batch size 10 with a 300 ms window: 95 messages at once go out in
 * batches of at most 10, each a JSON array of structured CloudEvents;
 * then 3 messages produced one by one go out together, once the window
 * has passed.
 */
static void
test_trigger_http_batch_window(void **state)
{
	struct fixture		*f = *state;
	struct broker		*b = &f->b;
	struct tp_conn		*c;
	struct tp_message	 msg;
	struct tp_err		 err;
	char			*in, *buf, **lines, *out, want[96], v[128];
	char			 payload[3][16];
	unsigned char		 seen[99];
	uint64_t		 seqs[32], last = 0;
	size_t			 n, i, j, k, len = 0, total = 0, before;
	int64_t			 t0, spent;
	double			 t;

	out = cli(b, NULL, "station create hb.batch");
	free(out);
	out = cli(b, NULL, "trigger add batch --station hb.batch --http "
	    "http://127.0.0.1:%d/batch --batch-size 10 --batch-window-ms 300",
	    f->srv_port);
	free(out);
	in = malloc(95 * 32);
	assert_non_null(in);
	for (i = 1; i <= 95; i++)
		len += (size_t)sprintf(in + len, "{\"n\":%zu}\n", i);
	produce_lines(b, "hb.batch", "", in);
	free(in);
	wait_stat(b, "batch", "messages", 95);

	memset(seen, 0, sizeof seen);
	n = srv_requests(f, "/batch", &buf, &lines);
	assert_true(n >= 10);
	for (i = 0; i < n; i++) {
		assert_int_equal(json_str(lines[i], "content-type", v,
		    sizeof v), 0);
		assert_string_equal(v, "application/cloudevents-batch+json");
		k = batch_seqs(lines[i], seqs, 32);
		assert_true(k >= 1 && k <= 10);
		assert_int_equal(count(lines[i], "\"specversion\":\"1.0\""), k);
		assert_int_equal(count(lines[i],
		    "\"type\":\"io.tupelo.message\""), k);
		assert_int_equal(count(lines[i],
		    "\"source\":\"tupelo://station/hb.batch\""), k);
		assert_int_equal(count(lines[i],
		    "\"datacontenttype\":\"application/json\""), k);
		for (j = 0; j < k; j++) {
			/* In order, each once. */
			assert_true(seqs[j] == last + 1);
			last = seqs[j];
			seen[seqs[j]]++;
			/* The JSON payload is the data, as JSON. */
			snprintf(want, sizeof want, "\"data\":{\"n\":%" PRIu64
			    "}", seqs[j]);
			assert_non_null(strstr(lines[i], want));
			snprintf(want, sizeof want, "\"id\":\"hb.batch/%"
			    PRIu64 "\"", seqs[j]);
			assert_non_null(strstr(lines[i], want));
			snprintf(want, sizeof want, "\"subject\":\"%" PRIu64
			    "\"", seqs[j]);
			assert_non_null(strstr(lines[i], want));
		}
		total += k;
	}
	assert_int_equal(total, 95);
	for (i = 1; i <= 95; i++)
		assert_int_equal(seen[i], 1);
	before = n;
	free(lines);
	free(buf);

	/* Three messages, one produce each, within the window. */
	c = harness_connect(b, "test_trigger_http");
	memset(&msg, 0, sizeof msg);
	t0 = now_ms();
	for (i = 0; i < 3; i++) {
		snprintf(payload[i], sizeof payload[i], "{\"n\":%zu}", 96 + i);
		msg.payload = payload[i];
		msg.len = strlen(payload[i]);
		if (tp_produce(c, "hb.batch", &msg, 1, NULL, NULL, &err) !=
		    TP_OK)
			fail_msg("produce: %s", err.message);
	}
	spent = now_ms() - t0;
	tp_close(c);
	wait_stat(b, "batch", "messages", 98);
	n = srv_requests(f, "/batch", &buf, &lines);
	total = 0;
	for (i = before; i < n; i++)
		total += batch_seqs(lines[i], seqs, 32);
	assert_int_equal(total, 3);
	if (spent < 200) {
		/* One batch of 3, sent no sooner than the window allows. */
		assert_int_equal(n, before + 1);
		assert_int_equal(batch_seqs(lines[before], seqs, 32), 3);
		assert_int_equal(seqs[0], 96);
		assert_int_equal(seqs[2], 98);
		assert_true(json_at(lines[before], "t") != NULL);
		t = strtod(json_at(lines[before], "t"), NULL);
		assert_true((int64_t)(t * 1000) - t0 >= 250);
	} else
		fprintf(stderr, "test_trigger_http: 3 produces took %" PRId64
		    " ms, not checking that they made one batch\n", spent);
	free(lines);
	free(buf);
	assert_int_equal(trigger_stat(b, "batch", "failures"), 0);
	out = cli(b, NULL, "trigger rm batch");
	free(out);
}

/*
 * In a batch, a JSON payload is "data" as JSON, text is a string, and
 * bytes that are not UTF-8 (or not JSON under a JSON content type) are
 * "data_base64".
 */
static void
test_trigger_http_batch_data_kinds(void **state)
{
	struct fixture		*f = *state;
	struct broker		*b = &f->b;
	struct tp_conn		*c;
	struct tp_message	 msg[4];
	struct tp_header	 ct = { "content-type", "application/json" };
	struct tp_err		 err;
	char			*buf, *out;
	static const char *const want[] = {
		"\"data\":{\"k\":\"v\"},\"datacontenttype\":"
		    "\"application/json\",\"id\":\"hb.kinds/1\"",
		"\"data\":\"hello text\",\"datacontenttype\":"
		    "\"text/plain; charset=utf-8\",\"id\":\"hb.kinds/2\"",
		"\"data_base64\":\"//4AAQ==\",\"datacontenttype\":"
		    "\"application/octet-stream\",\"id\":\"hb.kinds/3\"",
		"\"data_base64\":\"bm90IGpzb24=\",\"datacontenttype\":"
		    "\"application/json\",\"id\":\"hb.kinds/4\"",
	};
	size_t			 i;

	out = cli(b, NULL, "station create hb.kinds");
	free(out);
	out = cli(b, NULL, "trigger add kinds --station hb.kinds --http "
	    "http://127.0.0.1:%d/kinds --batch-size 10", f->srv_port);
	free(out);
	memset(msg, 0, sizeof msg);
	msg[0].payload = "{\"k\":\"v\"}";
	msg[1].payload = "hello text";
	msg[2].payload = "\xff\xfe\x00\x01";
	msg[3].payload = "not json";
	msg[3].headers = &ct;
	msg[3].nheaders = 1;
	for (i = 0; i < 4; i++)
		msg[i].len = i == 2 ? 4 : strlen(msg[i].payload);
	c = harness_connect(b, "test_trigger_http");
	if (tp_produce(c, "hb.kinds", msg, 4, NULL, NULL, &err) != TP_OK)
		fail_msg("produce: %s", err.message);
	tp_close(c);
	wait_stat(b, "kinds", "messages", 4);
	buf = srv_get(f, "/_requests?path=/kinds");
	for (i = 0; i < 4; i++) {
		if (strstr(buf, want[i]) == NULL)
			fail_msg("no event with %s in: %s", want[i], buf);
	}
	free(buf);
	out = cli(b, NULL, "trigger rm kinds");
	free(out);
}

/* Async mode runs up to --concurrency invocations at once, no more. */
static void
test_trigger_http_async_concurrency(void **state)
{
	struct fixture	*f = *state;
	struct broker	*b = &f->b;
	char		*in, *buf, **lines, *out, v[64];
	unsigned char	 seen[31];
	uint64_t	 max, seq;
	size_t		 n, i, len = 0;

	out = cli(b, NULL, "station create hb.async");
	free(out);
	out = cli(b, NULL, "trigger add async --station hb.async --http "
	    "'http://127.0.0.1:%d/slow?ms=300' --mode async --concurrency 3 "
	    "--batch-size 1", f->srv_port);
	free(out);
	in = malloc(30 * 16);
	assert_non_null(in);
	for (i = 1; i <= 30; i++)
		len += (size_t)sprintf(in + len, "slow-%zu\n", i);
	produce_lines(b, "hb.async", "", in);
	free(in);
	wait_stat(b, "async", "messages", 30);

	max = srv_stat(f, "max_in_flight", "/slow");
	assert_true(max <= 3);
	assert_true(max >= 2);
	memset(seen, 0, sizeof seen);
	n = srv_requests(f, "/slow", &buf, &lines);
	assert_int_equal(n, 30);
	for (i = 0; i < n; i++) {
		assert_int_equal(json_str(lines[i], "ce-subject", v, sizeof v),
		    0);
		seq = strtoull(v, NULL, 10);
		assert_true(seq >= 1 && seq <= 30);
		seen[seq]++;
	}
	for (i = 1; i <= 30; i++)
		assert_int_equal(seen[i], 1);
	free(lines);
	free(buf);
	assert_int_equal(trigger_stat(b, "async", "failures"), 0);
	out = cli(b, NULL, "trigger rm async");
	free(out);
}

/*
 * 503 with Retry-After, then 200: retried (after the delay the server
 * asked, not the 100 ms backoff), delivered, nothing dead.
 */
static void
retry_after(struct fixture *f, const char *name, const char *query,
    uint64_t fails)
{
	struct broker	*b = &f->b;
	char		 station[64], *buf, **lines, *out, v[32], want[16];
	double		 t, prev = 0;
	size_t		 n, i, k;

	snprintf(station, sizeof station, "hb.%s", name);
	out = cli(b, NULL, "station create %s", station);
	free(out);
	out = cli(b, NULL, "trigger add %s --station %s --http "
	    "'http://127.0.0.1:%d/fail503-then-ok?%s' --batch-size 1 "
	    "--backoff 100", name, station, f->srv_port, query);
	free(out);
	produce_lines(b, station, "", "try-again\n");
	wait_stat(b, name, "messages", 1);

	n = srv_requests(f, "/fail503-then-ok", &buf, &lines);
	for (i = 0, k = 0; i < n; i++) {
		if (json_str(lines[i], "query", v, sizeof v) != 0 ||
		    strcmp(v, query) != 0)
			continue;
		assert_true(json_at(lines[i], "t") != NULL);
		t = strtod(json_at(lines[i], "t"), NULL);
		/* Retry-After (1 s at least), not the backoff. */
		if (k > 0 && t - prev < 0.9)
			fail_msg("attempt %zu came %.3f s after the 503 with "
			    "Retry-After", k + 1, t - prev);
		prev = t;
		/* The same delivery, attempt after attempt. */
		snprintf(want, sizeof want, "%zu", ++k);
		assert_int_equal(json_str(lines[i], "ce-tupeloattempt", v,
		    sizeof v), 0);
		assert_string_equal(v, want);
		assert_int_equal(json_str(lines[i], "ce-tupelodeliveries", v,
		    sizeof v), 0);
		assert_string_equal(v, "1");
	}
	assert_int_equal(k, fails + 1);
	free(lines);
	free(buf);
	assert_int_equal(trigger_stat(b, name, "failures"), fails);
	assert_true(trigger_stat(b, name, "retries") >= 1);
	assert_int_equal(trigger_stat(b, name, "dead_lettered"), 0);
	n = dead_letters(b, station, &out, &lines);
	assert_int_equal(n, 0);
	free(lines);
	free(out);
	out = cli(b, NULL, "trigger rm %s", name);
	free(out);
}

static void
test_trigger_http_retry_after(void **state)
{
	struct fixture	*f = *state;

	/* Two 503s with "Retry-After: 1", then 200. */
	retry_after(f, "r503", "n=2", 2);
	assert_int_equal(srv_stat(f, "paths", "/fail503-then-ok"), 3);
	/* One 503 with an HTTP date 2 s ahead, then 200. */
	retry_after(f, "r503date", "n=1&date=2", 1);
	assert_int_equal(srv_stat(f, "paths", "/fail503-then-ok"), 5);
}

/* A 400 is not retried: one request, then the dead letters. */
static void
test_trigger_http_400_dead_letter(void **state)
{
	struct fixture	*f = *state;
	struct broker	*b = &f->b;
	char		*out, **lines, v[512];
	size_t		 n;

	out = cli(b, NULL, "station create hb.bad");
	free(out);
	out = cli(b, NULL, "trigger add bad --station hb.bad --http "
	    "http://127.0.0.1:%d/bad400 --backoff 100", f->srv_port);
	free(out);
	produce_lines(b, "hb.bad", "", "refused\n");
	n = wait_dead(b, "hb.bad", 1, &out, &lines);
	assert_int_equal(n, 1);
	assert_string_equal(dead_header(lines[0], TP_HDR_REASON, v, sizeof v),
	    "rejected");
	dead_header(lines[0], TP_HDR_ERROR, v, sizeof v);
	if (strstr(v, "HTTP 400") == NULL || strstr(v, "bad request") == NULL)
		fail_msg("tp-error \"%s\" does not say HTTP 400: bad request",
		    v);
	assert_string_equal(dead_header(lines[0], TP_HDR_TRIGGER, v,
	    sizeof v), "bad");
	assert_string_equal(dead_header(lines[0], TP_HDR_ORIGIN_SEQ, v,
	    sizeof v), "1");
	assert_string_equal(dead_header(lines[0], TP_HDR_ATTEMPTS, v,
	    sizeof v), "1");
	assert_int_equal(json_str(lines[0], "payload", v, sizeof v), 0);
	assert_string_equal(v, "refused");
	free(lines);
	free(out);
	/* Dead-lettered after the first answer: exactly one request. */
	assert_int_equal(srv_stat(f, "paths", "/bad400"), 1);
	assert_int_equal(trigger_stat(b, "bad", "failures"), 1);
	assert_int_equal(trigger_stat(b, "bad", "retries"), 0);
	assert_int_equal(trigger_stat(b, "bad", "dead_lettered"), 1);
	assert_int_equal(trigger_stat(b, "bad", "messages"), 0);
	out = cli(b, NULL, "trigger rm bad");
	free(out);
}

/* ---- lambda ---- */

static struct fixture *
lambda_ready(void **state)
{
	struct fixture	*f = *state;

	if (!f->ready)
		fail_msg("serverless-offline is not running: %s", f->why);
	return (f);
}

/* The lines the function fn logged (all of them, in order). */
static size_t
lambda_calls(struct fixture *f, const char *fn, char **buf, char ***lines)
{
	char	pat[64];
	size_t	n, i, k = 0;

	*buf = slurp(f->lamlog);
	assert_non_null(*buf);
	n = split_lines(*buf, lines);
	snprintf(pat, sizeof pat, "{\"fn\":\"%s\"", fn);
	for (i = 0; i < n; i++) {
		if (strncmp((*lines)[i], pat, strlen(pat)) == 0)
			(*lines)[k++] = (*lines)[i];
	}
	return (k);
}

static void
lambda_trigger(struct fixture *f, const char *name, const char *station,
    const char *fn, const char *opts)
{
	char	*out;

	out = cli(&f->b, NULL, "station create %s", station);
	free(out);
	out = cli(&f->b, NULL, "trigger add %s --station %s --lambda "
	    "http://127.0.0.1:%d --function %s%s %s", name, station,
	    f->lambda_port, SLS_PREFIX, fn, opts);
	free(out);
}

/* A function that returns: every message succeeds, in SQS-shaped records. */
static void
test_trigger_lambda_ok(void **state)
{
	struct fixture	*f = lambda_ready(state);
	struct broker	*b = &f->b;
	char		*in, *buf, **lines, *out, id[64], body[64];
	size_t		 n, i, j, len = 0, records = 0;

	lambda_trigger(f, "lok", "lb.ok", "ok", "--batch-size 5");
	in = malloc(12 * 16);
	assert_non_null(in);
	for (i = 1; i <= 12; i++)
		len += (size_t)sprintf(in + len, "m-%zu\n", i);
	produce_lines(b, "lb.ok", "-H kind=test", in);
	free(in);
	wait_stat(b, "lok", "messages", 12);
	assert_int_equal(trigger_stat(b, "lok", "failures"), 0);
	assert_int_equal(trigger_stat(b, "lok", "dead_lettered"), 0);
	n = dead_letters(b, "lb.ok", &out, &lines);
	assert_int_equal(n, 0);
	free(lines);
	free(out);

	/* What the function received. */
	n = lambda_calls(f, "ok", &buf, &lines);
	assert_true(n >= 3);
	for (i = 0; i < n; i++) {
		records += count(lines[i], "\"messageId\":\"");
		assert_int_equal(count(lines[i], "\"eventSource\":\"tupelo\""),
		    count(lines[i], "\"messageId\":\""));
		assert_int_equal(count(lines[i],
		    "\"eventSourceARN\":\"tupelo:station:lb.ok\""),
		    count(lines[i], "\"messageId\":\""));
		assert_int_equal(count(lines[i], "\"kind\":\"test\""),
		    count(lines[i], "\"messageId\":\""));
	}
	assert_int_equal(records, 12);
	for (i = 1; i <= 12; i++) {
		snprintf(id, sizeof id, "\"messageId\":\"%zu\"", i);
		snprintf(body, sizeof body, "\"body\":\"m-%zu\"", i);
		for (j = 0; j < n; j++) {
			if (strstr(lines[j], id) != NULL &&
			    strstr(lines[j], body) != NULL)
				break;
		}
		if (j == n)
			fail_msg("no record %s, %s in %s", id, body,
			    f->lamlog);
	}
	free(lines);
	free(buf);
	out = cli(b, NULL, "trigger rm lok");
	free(out);
}

/* A function that throws: retried once, then a dead letter. */
static void
test_trigger_lambda_error(void **state)
{
	struct fixture	*f = lambda_ready(state);
	struct broker	*b = &f->b;
	char		*buf, **lines, *out, v[512];
	size_t		 n;

	lambda_trigger(f, "lboom", "lb.boom", "boom",
	    "--max-retries 1 --backoff 100");
	produce_lines(b, "lb.boom", "", "explode\n");
	n = wait_dead(b, "lb.boom", 1, &out, &lines);
	assert_int_equal(n, 1);
	assert_string_equal(dead_header(lines[0], TP_HDR_REASON, v, sizeof v),
	    "max-retries");
	assert_string_equal(dead_header(lines[0], TP_HDR_ATTEMPTS, v,
	    sizeof v), "2");
	assert_string_equal(dead_header(lines[0], TP_HDR_TRIGGER, v,
	    sizeof v), "lboom");
	dead_header(lines[0], TP_HDR_ERROR, v, sizeof v);
	if (strstr(v, "boom") == NULL || strstr(v, "Unhandled") == NULL)
		fail_msg("tp-error \"%s\" does not tell the function error", v);
	free(lines);
	free(out);
	/* Two attempts, no more. */
	n = lambda_calls(f, "boom", &buf, &lines);
	assert_int_equal(n, 2);
	assert_non_null(strstr(lines[0], "\"body\":\"explode\""));
	assert_non_null(strstr(lines[0], "\"attempt\":\"1\""));
	assert_non_null(strstr(lines[1], "\"attempt\":\"2\""));
	free(lines);
	free(buf);
	assert_int_equal(trigger_stat(b, "lboom", "failures"), 2);
	assert_int_equal(trigger_stat(b, "lboom", "dead_lettered"), 1);
	assert_int_equal(trigger_stat(b, "lboom", "messages"), 0);
	out = cli(b, NULL, "trigger rm lboom");
	free(out);
}

/*
 * batchItemFailures with --item-failures: only the items the function
 * names are retried and end in the dead letters; the others succeed.
 */
static void
test_trigger_lambda_item_failures(void **state)
{
	struct fixture	*f = lambda_ready(state);
	struct broker	*b = &f->b;
	char		*buf, **lines, *out, v[256];
	const char	*text = "good-1\ngood-2\nbad-3\ngood-4\ngood-5\n"
			    "good-6\nbad-7\ngood-8\ngood-9\ngood-10\n";
	size_t		 n, i, good = 0, bad = 0;

	lambda_trigger(f, "lpart", "lb.part", "partial",
	    "--item-failures --batch-size 5 --max-retries 1 --backoff 100");
	produce_lines(b, "lb.part", "", text);
	n = wait_dead(b, "lb.part", 2, &out, &lines);
	assert_int_equal(n, 2);
	for (i = 0; i < n; i++) {
		assert_string_equal(dead_header(lines[i], TP_HDR_REASON, v,
		    sizeof v), "max-retries");
		assert_string_equal(dead_header(lines[i], TP_HDR_ORIGIN_SEQ,
		    v, sizeof v), i == 0 ? "3" : "7");
		assert_int_equal(json_str(lines[i], "payload", v, sizeof v),
		    0);
		assert_string_equal(v, i == 0 ? "bad-3" : "bad-7");
		dead_header(lines[i], TP_HDR_ERROR, v, sizeof v);
		assert_non_null(strstr(v, "batchItemFailures"));
	}
	free(lines);
	free(out);
	wait_stat(b, "lpart", "messages", 8);
	assert_int_equal(trigger_stat(b, "lpart", "messages"), 8);
	assert_int_equal(trigger_stat(b, "lpart", "dead_lettered"), 2);

	/* Each good item was sent once; each bad one twice. */
	n = lambda_calls(f, "partial", &buf, &lines);
	for (i = 0; i < n; i++) {
		good += count(lines[i], "\"body\":\"good-");
		bad += count(lines[i], "\"body\":\"bad-");
	}
	assert_int_equal(good, 8);
	assert_int_equal(bad, 4);
	free(lines);
	free(buf);
	out = cli(b, NULL, "trigger rm lpart");
	free(out);
}

int
main(void)
{
	const struct CMUnitTest http[] = {
		cmocka_unit_test(test_trigger_http_binary_mode),
		cmocka_unit_test(test_trigger_http_batch_window),
		cmocka_unit_test(test_trigger_http_batch_data_kinds),
		cmocka_unit_test(test_trigger_http_async_concurrency),
		cmocka_unit_test(test_trigger_http_retry_after),
		cmocka_unit_test(test_trigger_http_400_dead_letter),
	};
	const struct CMUnitTest lambda[] = {
		cmocka_unit_test(test_trigger_lambda_ok),
		cmocka_unit_test(test_trigger_lambda_error),
		cmocka_unit_test(test_trigger_lambda_item_failures),
	};
	int	failed;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, watchdog_cb);
	alarm(WATCHDOG_S);
	failed = cmocka_run_group_tests_name("trigger_http", http,
	    http_setup, fixture_free);
	failed += cmocka_run_group_tests_name("trigger_lambda", lambda,
	    lambda_group_setup, fixture_free);
	return (failed);
}
