/*
 * The exec target. Each run is a program started with posix_spawn
 * (the broker has threads: no fork) as the leader of a process group of its
 * own, with three pipes on 0, 1 and 2 and no other descriptor of ours. The
 * loop writes the input, reads stdout (up to output_max, draining the rest)
 * and the tail of stderr, and kills the group at the timeout.
 *
 * A SIGCHLD event looks at our children pid by pid (never waitpid(-1): other
 * children in the process are not ours). It sees an exit first without
 * reaping (WNOWAIT), kills what is left of the group while the zombie leader
 * still holds the group id, then reaps. The result is delivered from a
 * zero-timeout event, after the pipes are drained and closed.
 *
 * A cancelled run keeps only its pid on a list of the dead until reaped.
 * Everything here runs on the loop thread.
 */
#include "broker/fn_exec.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/log.h"
#include "proto/compat.h"
#include "proto/error.h"

#define FN_EXEC_READ		65536	/* bytes per read() */
#define FN_EXEC_READS		16	/* reads per callback, then yield */
/*
 * Reads per pipe once the group is dead: 64 x 64 KiB is more than the
 * largest pipe buffer (1 MiB), so everything written before is read, and a
 * process that escaped the group cannot keep the loop busy.
 */
#define FN_EXEC_DRAIN		64
#define FN_EXEC_OUT_MIN		4096	/* first stdout allocation */

struct fn_exec {
	pid_t		 pid;		/* also the process group id */
	int		 reaped;	/* waitpid reported it */
	int		 wstatus;	/* from waitpid, once reaped */
	int		 timed_out;	/* the timer killed the group */
	int		 delivering;	/* done is running */
	int		 timeout_ms;

	int		 in_fd;		/* owned; -1: closed */
	int		 out_fd;	/* owned; -1: closed */
	int		 err_fd;	/* owned; -1: closed */
	struct event	*in_ev;		/* owned */
	struct event	*out_ev;	/* owned */
	struct event	*err_ev;	/* owned */
	struct event	*timer;		/* owned */
	struct event	*done_ev;	/* owned; activated once reaped */

	char		*input;		/* owned, until written */
	size_t		 inlen;
	size_t		 inoff;		/* bytes written */

	char		*out;		/* owned, stdout kept */
	size_t		 outlen;
	size_t		 outsize;	/* allocated */
	size_t		 output_max;
	int		 truncated;	/* stdout beyond output_max came */
	int		 nomem;		/* stdout could not be kept */

	char		 err[FN_ERROR_MAX]; /* last stderr bytes, no NUL */
	size_t		 errlen;

	fn_done_cb	 done;
	void		*arg;		/* borrowed, the caller's */

	TAILQ_ENTRY(fn_exec) entry;
};
TAILQ_HEAD(fn_exec_list, fn_exec);

static struct event_base	*fn_exec_base;	/* borrowed from main */
static struct event		*fn_exec_sigchld; /* owned */
static struct fn_exec_list	 fn_exec_runs =
    TAILQ_HEAD_INITIALIZER(fn_exec_runs);
/* Cancelled, killed, not yet reaped: only pid is valid. */
static struct fn_exec_list	 fn_exec_dead =
    TAILQ_HEAD_INITIALIZER(fn_exec_dead);
static size_t			 fn_exec_nruns;
static char			 fn_exec_buf[FN_EXEC_READ]; /* loop thread */

static void
fn_exec_close_fd(int *fd, struct event **ev)
{
	if (*ev != NULL)
		event_free(*ev);
	*ev = NULL;
	if (*fd != -1)
		close(*fd);
	*fd = -1;
}

/* Give back every resource but the pid and the list entry. */
static void
fn_exec_release(struct fn_exec *fe)
{
	fn_exec_close_fd(&fe->in_fd, &fe->in_ev);
	fn_exec_close_fd(&fe->out_fd, &fe->out_ev);
	fn_exec_close_fd(&fe->err_fd, &fe->err_ev);
	if (fe->timer != NULL)
		event_free(fe->timer);
	fe->timer = NULL;
	if (fe->done_ev != NULL)
		event_free(fe->done_ev);
	fe->done_ev = NULL;
	free(fe->input);
	fe->input = NULL;
	free(fe->out);
	fe->out = NULL;
}

static void
fn_exec_keep_out(struct fn_exec *fe, const char *buf, size_t len)
{
	size_t	 room, size;
	char	*p;

	room = fe->output_max - fe->outlen;
	if (len > room) {
		fe->truncated = 1;
		len = room;
	}
	if (len == 0 || fe->nomem)
		return;
	if (fe->outlen + len > fe->outsize) {
		size = fe->outsize == 0 ? FN_EXEC_OUT_MIN : fe->outsize;
		while (size < fe->outlen + len)
			size = size > fe->output_max / 2 ? fe->output_max :
			    size * 2;
		if (size > fe->output_max)
			size = fe->output_max;
		if ((p = realloc(fe->out, size)) == NULL) {
			fe->nomem = 1;
			return;
		}
		fe->out = p;
		fe->outsize = size;
	}
	memcpy(fe->out + fe->outlen, buf, len);
	fe->outlen += len;
}

/* Keep the last FN_ERROR_MAX - 1 bytes of stderr. */
static void
fn_exec_keep_err(struct fn_exec *fe, const char *buf, size_t len)
{
	const size_t	cap = FN_ERROR_MAX - 1;
	size_t		drop;

	if (len >= cap) {
		memcpy(fe->err, buf + len - cap, cap);
		fe->errlen = cap;
		return;
	}
	if (fe->errlen + len > cap) {
		drop = fe->errlen + len - cap;
		memmove(fe->err, fe->err + drop, fe->errlen - drop);
		fe->errlen -= drop;
	}
	memcpy(fe->err + fe->errlen, buf, len);
	fe->errlen += len;
}

/* Read up to n times from fd; close it at EOF or on an error. */
static void
fn_exec_read(struct fn_exec *fe, int *fd, struct event **ev, int n)
{
	ssize_t	r;

	while (*fd != -1 && n-- > 0) {
		r = read(*fd, fn_exec_buf, sizeof fn_exec_buf);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && errno == EAGAIN)
			return;
		if (r <= 0) {
			if (r == -1)
				log_debug("%s: pid=%ld read: %s", __func__,
				    (long)fe->pid, strerror(errno));
			fn_exec_close_fd(fd, ev);
			return;
		}
		if (fd == &fe->out_fd)
			fn_exec_keep_out(fe, fn_exec_buf, (size_t)r);
		else
			fn_exec_keep_err(fe, fn_exec_buf, (size_t)r);
	}
}

static void
fn_exec_out_cb(evutil_socket_t fd, short events, void *arg)
{
	struct fn_exec	*fe = arg;

	fn_exec_read(fe, &fe->out_fd, &fe->out_ev, FN_EXEC_READS);
}

static void
fn_exec_err_cb(evutil_socket_t fd, short events, void *arg)
{
	struct fn_exec	*fe = arg;

	fn_exec_read(fe, &fe->err_fd, &fe->err_ev, FN_EXEC_READS);
}

/* Write what the pipe takes; a child that stops reading is no error. */
static void
fn_exec_in_cb(evutil_socket_t fd, short events, void *arg)
{
	struct fn_exec	*fe = arg;
	ssize_t		 w;

	while (fe->inoff < fe->inlen) {
		w = write(fe->in_fd, fe->input + fe->inoff,
		    fe->inlen - fe->inoff);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && errno == EAGAIN)
			return;
		if (w == -1) {
			if (errno != EPIPE)
				log_debug("%s: pid=%ld write: %s", __func__,
				    (long)fe->pid, strerror(errno));
			break;
		}
		fe->inoff += (size_t)w;
	}
	fn_exec_close_fd(&fe->in_fd, &fe->in_ev);
	free(fe->input);
	fe->input = NULL;
}

static void
fn_exec_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	struct fn_exec	*fe = arg;

	fe->timed_out = 1;
	if (!fe->reaped)
		kill(-fe->pid, SIGKILL);
	log_debug("%s: pid=%ld killed after %d ms", __func__, (long)fe->pid,
	    fe->timeout_ms);
}

/* Printable ASCII only, no trailing blank lines: it ends up in logs. */
static void
fn_exec_sanitize(char *s)
{
	size_t	len = strlen(s), i;

	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' ||
	    s[len - 1] == ' ' || s[len - 1] == '\t'))
		s[--len] = '\0';
	for (i = 0; i < len; i++) {
		if (s[i] == '\n' || s[i] == '\t')
			s[i] = ' ';
		else if ((unsigned char)s[i] < 0x20 ||
		    (unsigned char)s[i] >= 0x7f)
			s[i] = '?';
	}
}

static void
fn_exec_result(struct fn_exec *fe, struct fn_result *res)
{
	const char	*tail = fe->err;
	size_t		 len = fe->errlen, room;
	int		 n;

	memset(res, 0, sizeof *res);
	res->retry_after_ms = -1;
	res->status = -1;
	res->timed_out = fe->timed_out;
	res->output = fe->out;
	res->output_len = fe->outlen;
	res->output_truncated = fe->truncated;
	if (WIFEXITED(fe->wstatus))
		res->status = WEXITSTATUS(fe->wstatus);
	else if (WIFSIGNALED(fe->wstatus))
		res->signal = WTERMSIG(fe->wstatus);
	if (res->status == 0 && !fe->timed_out && !fe->nomem) {
		res->ok = 1;
		return;
	}
	res->retry = 1;

	/* Leading blank lines would waste the room; trailing ones go below. */
	while (len > 0 && (*tail == '\n' || *tail == '\r')) {
		tail++;
		len--;
	}
	n = 0;
	if (fe->timed_out)
		n = snprintf(res->error, sizeof res->error,
		    "timed out after %d ms%s", fe->timeout_ms,
		    len != 0 ? ": " : "");
	else if (fe->nomem)
		n = snprintf(res->error, sizeof res->error,
		    "out of memory for the output%s", len != 0 ? ": " : "");
	else if (len == 0 && res->signal != 0)
		n = snprintf(res->error, sizeof res->error,
		    "killed by signal %d (%s)", res->signal,
		    strsignal(res->signal));
	else if (len == 0)
		n = snprintf(res->error, sizeof res->error,
		    "exited with status %d", res->status);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof res->error)
		n = sizeof res->error - 1;
	/* The end of stderr says most: keep that part if it must be cut. */
	room = sizeof res->error - 1 - (size_t)n;
	if (len > room) {
		tail += len - room;
		len = room;
	}
	memcpy(res->error + n, tail, len);
	res->error[(size_t)n + len] = '\0';
	fn_exec_sanitize(res->error);
}

/* The child is reaped: read what is left, close, report, free. */
static void
fn_exec_done_cb(evutil_socket_t fd, short events, void *arg)
{
	struct fn_exec		*fe = arg;
	struct fn_result	 res;

	fn_exec_read(fe, &fe->out_fd, &fe->out_ev, FN_EXEC_DRAIN);
	fn_exec_read(fe, &fe->err_fd, &fe->err_ev, FN_EXEC_DRAIN);
	fn_exec_close_fd(&fe->in_fd, &fe->in_ev);
	fn_exec_close_fd(&fe->out_fd, &fe->out_ev);
	fn_exec_close_fd(&fe->err_fd, &fe->err_ev);
	TAILQ_REMOVE(&fn_exec_runs, fe, entry);
	fn_exec_nruns--;

	fn_exec_result(fe, &res);
	if (!res.ok)
		log_debug("%s: pid=%ld status=%d signal=%d timed_out=%d: %s",
		    __func__, (long)fe->pid, res.status, res.signal,
		    res.timed_out, res.error);
	fe->delivering = 1;
	fe->done(fe->arg, &res);

	fn_exec_release(fe);
	free(fe);
}

/*
 * Has pid exited? Look without reaping, kill the rest of its group while
 * the zombie still holds the group id (so it cannot be reused), then reap.
 */
static int
fn_exec_reap(pid_t pid, int *wstatus)
{
	siginfo_t	si;

	memset(&si, 0, sizeof si);
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == -1) {
		if (errno != ECHILD)
			return (0);
		/* Someone else reaped it; nothing more can be learnt. */
		*wstatus = -1;
		return (1);
	}
	if (si.si_pid != pid)
		return (0);
	kill(-pid, SIGKILL);
	while (waitpid(pid, wstatus, 0) == -1) {
		if (errno != EINTR) {
			*wstatus = -1;
			break;
		}
	}
	return (1);
}

static void
fn_exec_sigchld_cb(evutil_socket_t fd, short events, void *arg)
{
	struct fn_exec	*fe, *fe1;
	int		 wstatus;

	TAILQ_FOREACH_SAFE(fe, &fn_exec_dead, entry, fe1) {
		if (!fn_exec_reap(fe->pid, &wstatus))
			continue;
		TAILQ_REMOVE(&fn_exec_dead, fe, entry);
		free(fe);
	}
	TAILQ_FOREACH(fe, &fn_exec_runs, entry) {
		if (fe->reaped || !fn_exec_reap(fe->pid, &fe->wstatus))
			continue;
		fe->reaped = 1;
		if (fe->timer != NULL)
			evtimer_del(fe->timer);
		event_active(fe->done_ev, EV_TIMEOUT, 1);
	}
}

int
fn_exec_start(struct event_base *base, struct tp_err *err)
{
	if (fn_exec_base != NULL)
		return (error_set(err, TP_EINVAL, "fn_exec already started"));
	fn_exec_sigchld = evsignal_new(base, SIGCHLD, fn_exec_sigchld_cb,
	    NULL);
	if (fn_exec_sigchld == NULL)
		return (error_set(err, TP_ENOMEM,
		    "cannot create SIGCHLD event"));
	if (evsignal_add(fn_exec_sigchld, NULL) != 0) {
		event_free(fn_exec_sigchld);
		fn_exec_sigchld = NULL;
		return (error_set(err, TP_EINTERNAL,
		    "cannot add SIGCHLD event"));
	}
	fn_exec_base = base;
	return (TP_OK);
}

void
fn_exec_stop(void)
{
	struct fn_exec	*fe;
	int		 wstatus;

	while ((fe = TAILQ_FIRST(&fn_exec_runs)) != NULL)
		fn_exec_cancel(fe);
	/* Killed already; reap who is gone, leave the rest to init. */
	while ((fe = TAILQ_FIRST(&fn_exec_dead)) != NULL) {
		TAILQ_REMOVE(&fn_exec_dead, fe, entry);
		while (waitpid(fe->pid, &wstatus, WNOHANG) == -1 &&
		    errno == EINTR)
			;
		free(fe);
	}
	if (fn_exec_sigchld != NULL)
		event_free(fn_exec_sigchld);
	fn_exec_sigchld = NULL;
	fn_exec_base = NULL;
}

/*
 * The environment of a run: exactly env's "NAME=value" strings (others
 * are dropped), nothing of the broker's own. The array is owned by the
 * caller, the strings are borrowed until posix_spawn returns.
 */
static char **
fn_exec_environ(char *const *env)
{
	char	**envp;
	size_t	  m = 0, i, k = 0;

	if (env != NULL)
		while (env[m] != NULL)
			m++;
	if ((envp = reallocarray(NULL, m + 1, sizeof *envp)) == NULL)
		return (NULL);
	for (i = 0; i < m; i++) {
		if (env[i][0] != '=' && strchr(env[i], '=') != NULL)
			envp[k++] = env[i];
	}
	envp[k] = NULL;
	return (envp);
}

/*
 * A pipe with both ends above 2 (so a dup2 onto 0-2 cannot clobber another
 * one), close-on-exec, and non-blocking on our end only (ours: 1 for the
 * child's stdin): O_NONBLOCK is shared with the child through dup2.
 */
static int
fn_exec_pipe(int fds[2], int ours)
{
	int	i, fd;

	if (pipe2(fds, O_CLOEXEC) != 0)
		return (-1);
	for (i = 0; i < 2; i++) {
		if (fds[i] > 2)
			continue;
		if ((fd = fcntl(fds[i], F_DUPFD_CLOEXEC, 3)) == -1)
			return (-1);
		close(fds[i]);
		fds[i] = fd;
	}
	return (fcntl(fds[ours], F_SETFL, O_NONBLOCK));
}

int
fn_exec_run(char *const *argv, char *const *env, void *input, size_t inlen,
    int timeout_ms, size_t output_max, fn_done_cb done, void *arg,
    struct fn_exec **out, struct tp_err *err)
{
	struct fn_exec			*fe = NULL;
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 sa;
	sigset_t			 set;
	struct timeval			 tv;
	char				**envp = NULL, ebuf[128];
	int				 in[2] = { -1, -1 };
	int				 outp[2] = { -1, -1 };
	int				 errp[2] = { -1, -1 };
	int				 fa_ok = 0, sa_ok = 0, rc, e, i;

	if (fn_exec_base == NULL) {
		rc = error_set(err, TP_EINVAL, "fn_exec not started");
		goto fail;
	}
	if (argv == NULL || argv[0] == NULL || timeout_ms <= 0 ||
	    done == NULL) {
		rc = error_set(err, TP_EINVAL, "bad exec arguments");
		goto fail;
	}
	if ((fe = calloc(1, sizeof *fe)) == NULL ||
	    (envp = fn_exec_environ(env)) == NULL) {
		rc = error_set(err, TP_ENOMEM, "exec: %s", strerror(ENOMEM));
		goto fail;
	}
	fe->in_fd = fe->out_fd = fe->err_fd = -1;
	fe->input = input;
	input = NULL;
	fe->inlen = inlen;
	fe->timeout_ms = timeout_ms;
	fe->output_max = output_max;
	fe->done = done;
	fe->arg = arg;

	if (fn_exec_pipe(in, 1) != 0 || fn_exec_pipe(outp, 0) != 0 ||
	    fn_exec_pipe(errp, 0) != 0) {
		e = errno;
		rc = error_set(err, e == ENOMEM ? TP_ENOMEM : TP_EIO,
		    "exec: pipe: %s", strerror(e));
		goto fail;
	}
	fe->in_ev = event_new(fn_exec_base, in[1], EV_WRITE | EV_PERSIST,
	    fn_exec_in_cb, fe);
	fe->out_ev = event_new(fn_exec_base, outp[0], EV_READ | EV_PERSIST,
	    fn_exec_out_cb, fe);
	fe->err_ev = event_new(fn_exec_base, errp[0], EV_READ | EV_PERSIST,
	    fn_exec_err_cb, fe);
	fe->timer = evtimer_new(fn_exec_base, fn_exec_timer_cb, fe);
	fe->done_ev = event_new(fn_exec_base, -1, 0, fn_exec_done_cb, fe);
	if (fe->in_ev == NULL || fe->out_ev == NULL || fe->err_ev == NULL ||
	    fe->timer == NULL || fe->done_ev == NULL) {
		rc = error_set(err, TP_ENOMEM, "exec: cannot create events");
		goto fail;
	}

	if ((e = posix_spawn_file_actions_init(&fa)) != 0)
		goto spawn_fail;
	fa_ok = 1;
	if ((e = posix_spawn_file_actions_adddup2(&fa, in[0], 0)) != 0 ||
	    (e = posix_spawn_file_actions_adddup2(&fa, outp[1], 1)) != 0 ||
	    (e = posix_spawn_file_actions_adddup2(&fa, errp[1], 2)) != 0 ||
	    (e = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) != 0)
		goto spawn_fail;
	if ((e = posix_spawnattr_init(&sa)) != 0)
		goto spawn_fail;
	sa_ok = 1;
	/*
	 * Own group (so the timeout kills grandchildren too), no blocked
	 * signals, every disposition default: the broker ignores SIGPIPE and
	 * a pipeline in a command must not.
	 */
	sigemptyset(&set);
	if ((e = posix_spawnattr_setsigmask(&sa, &set)) != 0)
		goto spawn_fail;
	sigfillset(&set);
	if ((e = posix_spawnattr_setsigdefault(&sa, &set)) != 0 ||
	    (e = posix_spawnattr_setpgroup(&sa, 0)) != 0 ||
	    (e = posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETPGROUP |
	    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)) != 0)
		goto spawn_fail;
	if ((e = posix_spawn(&fe->pid, argv[0], &fa, &sa, argv, envp)) != 0)
		goto spawn_fail;
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&sa);
	free(envp);

	close(in[0]);
	close(outp[1]);
	close(errp[1]);
	fe->in_fd = in[1];
	fe->out_fd = outp[0];
	fe->err_fd = errp[0];
	if (fe->inlen == 0) {
		fn_exec_close_fd(&fe->in_fd, &fe->in_ev);
		free(fe->input);
		fe->input = NULL;
	} else
		event_add(fe->in_ev, NULL);
	event_add(fe->out_ev, NULL);
	event_add(fe->err_ev, NULL);
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(fe->timer, &tv);
	TAILQ_INSERT_TAIL(&fn_exec_runs, fe, entry);
	fn_exec_nruns++;
	log_debug("%s: pid=%ld program=\"%s\"", __func__, (long)fe->pid,
	    log_escape(argv[0], strlen(argv[0]), ebuf, sizeof ebuf));
	*out = fe;
	return (TP_OK);

spawn_fail:
	rc = error_set(err, e == ENOMEM ? TP_ENOMEM : TP_EIO,
	    "cannot run %s: %s", argv[0], strerror(e));
fail:
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	if (sa_ok)
		posix_spawnattr_destroy(&sa);
	for (i = 0; i < 2; i++) {
		if (in[i] != -1)
			close(in[i]);
		if (outp[i] != -1)
			close(outp[i]);
		if (errp[i] != -1)
			close(errp[i]);
	}
	if (fe != NULL) {
		fn_exec_release(fe);
		free(fe);
	}
	free(envp);
	free(input);
	return (rc);
}

void
fn_exec_cancel(struct fn_exec *fe)
{
	/* From its own callback: it is over and freed on return. */
	if (fe == NULL || fe->delivering)
		return;
	TAILQ_REMOVE(&fn_exec_runs, fe, entry);
	fn_exec_nruns--;
	fn_exec_release(fe);
	if (fe->reaped) {
		free(fe);
		return;
	}
	kill(-fe->pid, SIGKILL);
	log_debug("%s: pid=%ld cancelled", __func__, (long)fe->pid);
	TAILQ_INSERT_TAIL(&fn_exec_dead, fe, entry);
}

size_t
fn_exec_running(void)
{
	return (fn_exec_nruns);
}
