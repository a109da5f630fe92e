/*
 * Crash torture against a real tupelod. One data directory lives through
 * every round; in each, a producer child and a consumer child work on
 * station "t" (retention 3000 messages, durable group "g") until the
 * broker is SIGKILLed at a random moment. After each restart the log, the
 * acknowledged produces, retention and the group's ack floor must agree.
 *
 * The seed is printed: TUPELO_TORTURE_SEED replays a run and
 * TUPELO_TORTURE_ROUNDS changes its length. The children never use
 * cmocka: they report through pipes and their exit status.
 */
#include <sys/types.h>
#include <sys/wait.h>

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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <tupelo/tupelo.h>

#include "harness.h"

#define TORTURE_ROUNDS		20
#define TORTURE_ROUNDS_MAX	10000
#define TORTURE_SEED		20240611U
#define TORTURE_RETENTION	3000
#define TORTURE_BATCH_MAX	50
#define TORTURE_SLACK		(TORTURE_BATCH_MAX * 16)
#define TORTURE_COMMIT_EVERY	20
#define TORTURE_RUN_MIN_MS	50
#define TORTURE_RUN_MAX_MS	400
#define TORTURE_CHILD_MS	15000	/* children must end after a kill */
#define TORTURE_TRIM_MS		10000	/* retention must catch up by then */
#define TORTURE_TIMEOUT_MS	5000	/* client request timeout */
#define TORTURE_MARKER		UINT64_MAX	/* counter of "m-<round>" */

/* A batch the producer had acknowledged: seqs and payload counters. */
struct torture_acked {
	uint64_t	first;
	uint64_t	last;
	uint64_t	counter;	/* payload counter of first */
	unsigned	round;
};

/* The producer's record on its pipe. */
struct torture_rec {
	uint64_t	first;
	uint64_t	last;
	uint64_t	counter;
};

/* One child's pipe: records gathered as they come. */
struct torture_feed {
	int		fd;		/* read end; -1 at EOF */
	size_t		size;		/* bytes per record */
	unsigned char	buf[4096];
	size_t		len;		/* bytes in buf */
};

struct torture {
	struct broker		 b;
	unsigned		 seed;
	unsigned		 rounds;
	int			 has_check;	/* tupelod --check exists */
	struct torture_acked	*acked;		/* owned */
	size_t			 nacked;
	size_t			 acked_cap;
	uint64_t		 acked_max;	/* highest acknowledged seq */
	uint64_t		 committed_max;	/* highest committed ack */
	uint64_t		 first_kept;	/* of the last check */
};

static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static struct tp_conn *
connect_ok(struct broker *b)
{
	struct tp_conn	*c = NULL;
	struct tp_err	 err;

	if (tp_connect(b->url, "test_torture", &c, &err) != TP_OK)
		fail_msg("connect %s: %s", b->url, err.message);
	tp_set_timeout(c, 30000);
	return (c);
}

/* An unsigned from the environment within [min, max], or def. */
static unsigned
env_unsigned(const char *name, unsigned def, unsigned min, unsigned max)
{
	const char	*s = getenv(name);
	char		*end;
	unsigned long	 v;

	if (s == NULL || *s == '\0')
		return (def);
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		fail_msg("%s=%s: want a number from %u to %u", name, s, min,
		    max);
	return ((unsigned)v);
}

/* Does "tupelod --help" offer --check? */
static int
torture_has_check(void)
{
	char	 cmd[1024], line[512];
	FILE	*p;
	int	 found = 0;

	snprintf(cmd, sizeof cmd, "'%s' -c /dev/null --help 2>&1",
	    harness_tupelod());
	if ((p = popen(cmd, "r")) == NULL)
		return (0);
	while (fgets(line, sizeof line, p) != NULL)
		found |= strstr(line, "--check") != NULL;
	pclose(p);
	return (found);
}

/*
 * Run tupelod --check on the killed broker's data directory: sound, or
 * sound once the next start has recovered it (exit 3).
 */
static void
torture_check_dir(struct torture *t, unsigned round)
{
	char	 cmd[1024], out[8192];
	FILE	*p;
	size_t	 n;
	int	 status;

	snprintf(cmd, sizeof cmd, "'%s' -c /dev/null --check '%s' 2>&1",
	    harness_tupelod(), t->b.data);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, sizeof out - 1, p);
	out[n] = '\0';
	status = pclose(p);
	if (status == -1 || !WIFEXITED(status) ||
	    (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 3))
		fail_msg("round %u: %s: status %d:\n%s", round, cmd,
		    WIFEXITED(status) ? WEXITSTATUS(status) : -1, out);
}

/* A child ends: quietly when the broker went away, loudly otherwise. */
static void __attribute__((noreturn))
torture_child_end(const char *who, const char *what, int rc,
    const struct tp_err *err)
{
	if (rc == TP_ECONN || rc == TP_ETIMEDOUT)
		_exit(0);
	fprintf(stderr, "torture %s: %s: %s: %s\n", who, what,
	    tp_strerror(rc), err->message);
	_exit(4);
}

/* A child never outlives the test, nor fires the parent's watchdog. */
static void
torture_child_init(int read_fd)
{
	close(read_fd);
	signal(SIGALRM, SIG_DFL);
	alarm(TORTURE_CHILD_MS / 1000 + 30);
}

/* Child: produce batches of 1..50 and report each acknowledged range. */
static void __attribute__((noreturn))
torture_producer(const char *url, unsigned seed, unsigned round, int fd)
{
	struct tp_message	msgs[TORTURE_BATCH_MAX];
	char			bufs[TORTURE_BATCH_MAX][48];
	struct torture_rec	rec;
	struct tp_conn		*c;
	struct tp_err		err;
	uint64_t		first, last, counter = 0;
	size_t			i, n;
	int			rc;

	memset(msgs, 0, sizeof msgs);
	if ((rc = tp_connect(url, "torture-producer", &c, &err)) != TP_OK)
		torture_child_end("producer", "connect", rc, &err);
	tp_set_timeout(c, TORTURE_TIMEOUT_MS);
	for (;;) {
		n = 1 + (size_t)rand_r(&seed) % TORTURE_BATCH_MAX;
		for (i = 0; i < n; i++) {
			snprintf(bufs[i], sizeof bufs[i], "p-%u-%llu", round,
			    (unsigned long long)(counter + i));
			msgs[i].payload = bufs[i];
			msgs[i].len = strlen(bufs[i]);
		}
		rc = tp_produce(c, "t", msgs, n, &first, &last, &err);
		if (rc != TP_OK)
			torture_child_end("producer", "produce", rc, &err);
		if (first == 0 || last - first + 1 != n) {
			fprintf(stderr, "torture producer: %zu messages "
			    "acknowledged as %llu..%llu\n", n,
			    (unsigned long long)first,
			    (unsigned long long)last);
			_exit(5);
		}
		rec.first = first;
		rec.last = last;
		rec.counter = counter;
		if (write(fd, &rec, sizeof rec) != sizeof rec)
			_exit(3);
		counter += n;
	}
}

/*
 * Child: consume group "g", ack everything, commit every 20 and report
 * the highest seq acked by then. Within this run seqs only go up, except
 * for redeliveries.
 */
static void __attribute__((noreturn))
torture_consumer(const char *url, int fd)
{
	struct tp_consumer	*cons;
	struct tp_conn		*c;
	struct tp_msg		*m;
	struct tp_err		 err;
	uint64_t		 seq, high = 0;
	unsigned		 n = 0;
	int			 rc;

	if ((rc = tp_connect(url, "torture-consumer", &c, &err)) != TP_OK)
		torture_child_end("consumer", "connect", rc, &err);
	tp_set_timeout(c, TORTURE_TIMEOUT_MS);
	if ((rc = tp_consumer_new(c, "t", "g", NULL, &cons, &err)) != TP_OK)
		torture_child_end("consumer", "join", rc, &err);
	for (;;) {
		rc = tp_consume(cons, 1000, &m, &err);
		if (rc == TP_ETIMEDOUT)
			continue;
		if (rc != TP_OK)
			torture_child_end("consumer", "consume", rc, &err);
		seq = tp_msg_seq(m);
		if (seq <= high && tp_msg_deliveries(m) <= 1) {
			fprintf(stderr, "torture consumer: seq %llu (first "
			    "delivery) after seq %llu\n",
			    (unsigned long long)seq,
			    (unsigned long long)high);
			_exit(2);
		}
		if (seq > high)
			high = seq;
		rc = tp_ack(cons, m, &err);
		tp_msg_free(m);
		if (rc != TP_OK)
			torture_child_end("consumer", "ack", rc, &err);
		if (++n % TORTURE_COMMIT_EVERY != 0)
			continue;
		rc = tp_consumer_commit(cons, TORTURE_TIMEOUT_MS, &err);
		if (rc != TP_OK)
			torture_child_end("consumer", "commit", rc, &err);
		if (write(fd, &high, sizeof high) != sizeof high)
			_exit(3);
	}
}

static void
torture_add_acked(struct torture *t, uint64_t first, uint64_t last,
    uint64_t counter, unsigned round)
{
	struct torture_acked	*a;
	size_t			 cap;

	if (t->nacked == t->acked_cap) {
		cap = t->acked_cap != 0 ? t->acked_cap * 2 : 256;
		a = reallocarray(t->acked, cap, sizeof *a);
		assert_non_null(a);
		t->acked = a;
		t->acked_cap = cap;
	}
	a = &t->acked[t->nacked++];
	a->first = first;
	a->last = last;
	a->counter = counter;
	a->round = round;
	if (last > t->acked_max)
		t->acked_max = last;
}

/* Take whole records out of a feed. */
static void
torture_feed_take(struct torture *t, struct torture_feed *f, unsigned round)
{
	struct torture_rec	rec;
	uint64_t		high;
	size_t			off = 0;

	for (; f->len - off >= f->size; off += f->size) {
		if (f->size == sizeof rec) {
			memcpy(&rec, f->buf + off, sizeof rec);
			torture_add_acked(t, rec.first, rec.last, rec.counter,
			    round);
		} else {
			memcpy(&high, f->buf + off, sizeof high);
			if (high > t->committed_max)
				t->committed_max = high;
		}
	}
	memmove(f->buf, f->buf + off, f->len - off);
	f->len -= off;
}

/* Read the children's pipes until the deadline or until both ended. */
static void
torture_feed_until(struct torture *t, struct torture_feed *f, size_t nf,
    int64_t deadline, unsigned round)
{
	struct pollfd	pfd[2];
	int64_t		left;
	ssize_t		r;
	size_t		i;
	int		open;

	for (;;) {
		open = 0;
		for (i = 0; i < nf; i++) {
			pfd[i].fd = f[i].fd;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
			open += f[i].fd != -1;
		}
		if (open == 0 || (left = deadline - now_ms()) <= 0)
			return;
		if (poll(pfd, nf, (int)left) == -1) {
			assert_int_equal(errno, EINTR);
			continue;
		}
		for (i = 0; i < nf; i++) {
			if (f[i].fd == -1 || pfd[i].revents == 0)
				continue;
			r = read(f[i].fd, f[i].buf + f[i].len,
			    sizeof f[i].buf - f[i].len);
			if (r == -1 && errno == EINTR)
				continue;
			if (r <= 0) {
				close(f[i].fd);
				f[i].fd = -1;
				continue;
			}
			f[i].len += (size_t)r;
			torture_feed_take(t, &f[i], round);
		}
	}
}

static pid_t
torture_fork(struct torture *t, unsigned round, int producer,
    struct torture_feed *f)
{
	int	fds[2];
	pid_t	pid;

	assert_int_equal(pipe(fds), 0);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		torture_child_init(fds[0]);
		if (producer)
			torture_producer(t->b.url, t->seed * 31 + round,
			    round, fds[1]);
		torture_consumer(t->b.url, fds[1]);
	}
	close(fds[1]);
	memset(f, 0, sizeof *f);
	f->fd = fds[0];
	f->size = producer ? sizeof(struct torture_rec) : sizeof(uint64_t);
	return (pid);
}

static void
torture_reap(pid_t pid, const char *who, unsigned round)
{
	int	status;

	while (waitpid(pid, &status, 0) == -1)
		assert_int_equal(errno, EINTR);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("round %u: %s child: %s %d", round, who,
		    WIFEXITED(status) ? "exit" : "signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) :
		    WTERMSIG(status));
}

/* (round, counter) of a payload "p-R-C" or "m-R"; 0 if neither. */
static int
torture_parse(struct tp_msg *m, unsigned *round, uint64_t *counter)
{
	char			 text[64];
	const void		*p;
	size_t			 len;
	unsigned long long	 c;

	p = tp_msg_payload(m, &len);
	if (len == 0 || len >= sizeof text)
		return (0);
	memcpy(text, p, len);
	text[len] = '\0';
	if (sscanf(text, "p-%u-%llu", round, &c) == 2) {
		*counter = c;
		return (1);
	}
	if (sscanf(text, "m-%u", round) == 1) {
		*counter = TORTURE_MARKER;
		return (1);
	}
	return (0);
}

/* The kept log, read whole: seqs and what their payloads say. */
struct torture_log {
	uint64_t	*seq;
	unsigned	*round;
	uint64_t	*counter;
	size_t		 n;
	size_t		 cap;
};

static void
torture_log_free(struct torture_log *l)
{
	free(l->seq);
	free(l->round);
	free(l->counter);
	memset(l, 0, sizeof *l);
}

/* Read the whole log; checks (a): seqs and payloads only go up. */
static void
torture_read_log(struct tp_conn *c, struct torture_log *l, unsigned round)
{
	struct tp_msg	**msgs;
	struct tp_err	 err;
	uint64_t	 from = 1, counter = 0;
	size_t		 n, i, cap;
	unsigned	 r = 0;

	memset(l, 0, sizeof *l);
	for (;;) {
		if (tp_read(c, "t", from, 1000, &msgs, &n, &err) != TP_OK)
			fail_msg("round %u: read from %llu: %s", round,
			    (unsigned long long)from, err.message);
		if (n == 0) {
			free(msgs);
			break;
		}
		if (l->n + n > l->cap) {
			cap = l->cap * 2 > l->n + n ? l->cap * 2 : l->n + n;
			l->seq = reallocarray(l->seq, cap, sizeof *l->seq);
			l->round = reallocarray(l->round, cap,
			    sizeof *l->round);
			l->counter = reallocarray(l->counter, cap,
			    sizeof *l->counter);
			assert_non_null(l->seq);
			assert_non_null(l->round);
			assert_non_null(l->counter);
			l->cap = cap;
		}
		for (i = 0; i < n; i++) {
			if (!torture_parse(msgs[i], &r, &counter))
				fail_msg("round %u: seq %llu: bad payload",
				    round, (unsigned long long)
				    tp_msg_seq(msgs[i]));
			l->seq[l->n] = tp_msg_seq(msgs[i]);
			l->round[l->n] = r;
			l->counter[l->n] = counter;
			if (l->n > 0 && l->seq[l->n] <= l->seq[l->n - 1])
				fail_msg("round %u: seq %llu after %llu",
				    round, (unsigned long long)l->seq[l->n],
				    (unsigned long long)l->seq[l->n - 1]);
			/* Stored in the order produced: no repeats. */
			if (l->n > 0 && (r < l->round[l->n - 1] ||
			    (r == l->round[l->n - 1] &&
			    counter <= l->counter[l->n - 1])))
				fail_msg("round %u: seq %llu holds a payload "
				    "produced before that of seq %llu", round,
				    (unsigned long long)l->seq[l->n],
				    (unsigned long long)l->seq[l->n - 1]);
			l->n++;
			tp_msg_free(msgs[i]);
		}
		from = l->seq[l->n - 1] + 1;
		free(msgs);
	}
}

/* Index of seq in the log, or -1. */
static ssize_t
torture_log_find(const struct torture_log *l, uint64_t seq)
{
	size_t	lo = 0, hi = l->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (l->seq[mid] == seq)
			return ((ssize_t)mid);
		if (l->seq[mid] < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (-1);
}

/* (b): every acknowledged seq is kept, as produced, or was trimmed. */
static void
torture_check_acked(struct torture *t, const struct torture_log *l,
    uint64_t first_kept, unsigned round)
{
	struct torture_acked	*a;
	uint64_t		 s, want;
	ssize_t			 at;
	size_t			 i, keep = 0;

	for (i = 0; i < t->nacked; i++) {
		a = &t->acked[i];
		for (s = a->first; s <= a->last; s++) {
			if (s < first_kept)
				continue;
			if ((at = torture_log_find(l, s)) == -1)
				fail_msg("round %u: acknowledged seq %llu "
				    "(round %u) is missing; first kept %llu",
				    round, (unsigned long long)s, a->round,
				    (unsigned long long)first_kept);
			want = a->counter == TORTURE_MARKER ?
			    TORTURE_MARKER : a->counter + (s - a->first);
			if (l->round[at] != a->round ||
			    l->counter[at] != want)
				fail_msg("round %u: seq %llu holds payload "
				    "%u/%llu, acknowledged for %u/%llu", round,
				    (unsigned long long)s, l->round[at],
				    (unsigned long long)l->counter[at],
				    a->round, (unsigned long long)want);
		}
		/* Trimmed whole: it stays trimmed, forget it. */
		if (a->last >= first_kept)
			t->acked[keep++] = *a;
	}
	t->nacked = keep;
}

static void
torture_info(struct tp_conn *c, struct tp_station_info *info,
    unsigned round)
{
	struct tp_err	err;

	if (tp_station_info(c, "t", info, &err) != TP_OK)
		fail_msg("round %u: station info: %s", round, err.message);
}

/* After a restart: check (a) to (e), then let retention catch up. */
static void
torture_verify(struct torture *t, unsigned round)
{
	struct tp_conn		*c = connect_ok(&t->b);
	struct tp_station_info	 info;
	struct tp_group_info	 gi;
	struct tp_message	 msg;
	struct torture_log	 l;
	struct tp_err		 err;
	char			 marker[32];
	uint64_t		 first_kept, first, last;
	int64_t			 deadline;

	torture_info(c, &info, round);
	torture_read_log(c, &l, round);
	assert_int_equal(info.messages, l.n);
	first_kept = l.n > 0 ? l.seq[0] : 0;
	if (l.n > 0) {
		assert_int_equal(info.first_seq, first_kept);
		assert_true(l.seq[l.n - 1] <= info.last_seq);
	}
	/* Retention removes from the head only: the head never goes back. */
	if (first_kept < t->first_kept)
		fail_msg("round %u: first kept seq %llu, was %llu", round,
		    (unsigned long long)first_kept,
		    (unsigned long long)t->first_kept);
	t->first_kept = first_kept;
	/* (c) Retention may lag by what was committed just before a kill. */
	if (l.n > TORTURE_RETENTION + TORTURE_SLACK)
		fail_msg("round %u: %zu messages kept, retention %d", round,
		    l.n, TORTURE_RETENTION);
	torture_check_acked(t, &l, first_kept, round);
	/* (d) */
	if (info.last_seq < t->acked_max)
		fail_msg("round %u: last_seq %llu below acknowledged %llu",
		    round, (unsigned long long)info.last_seq,
		    (unsigned long long)t->acked_max);
	/* (e) Every seq <= ack_floor is acked: so is every committed one. */
	if (tp_group_info(c, "t", "g", &gi, &err) != TP_OK)
		fail_msg("round %u: group info: %s", round, err.message);
	if (gi.ack_floor < t->committed_max && t->committed_max >= first_kept)
		fail_msg("round %u: ack_floor %llu below committed ack %llu "
		    "(first kept %llu)", round,
		    (unsigned long long)gi.ack_floor,
		    (unsigned long long)t->committed_max,
		    (unsigned long long)first_kept);
	printf("torture: round %u: log %llu..%llu (%zu kept), last_seq %llu, "
	    "acked up to %llu, committed %llu, ack_floor %llu\n", round,
	    (unsigned long long)first_kept,
	    (unsigned long long)(l.n > 0 ? l.seq[l.n - 1] : 0), l.n,
	    (unsigned long long)info.last_seq,
	    (unsigned long long)t->acked_max,
	    (unsigned long long)t->committed_max,
	    (unsigned long long)gi.ack_floor);
	torture_log_free(&l);

	/*
	 * Retention runs after a commit: one marker message sets it off,
	 * and then the log must come down to the limit.
	 */
	snprintf(marker, sizeof marker, "m-%u", round);
	memset(&msg, 0, sizeof msg);
	msg.payload = marker;
	msg.len = strlen(marker);
	if (tp_produce(c, "t", &msg, 1, &first, &last, &err) != TP_OK)
		fail_msg("round %u: produce marker: %s", round, err.message);
	torture_add_acked(t, first, last, TORTURE_MARKER, round);
	deadline = now_ms() + TORTURE_TRIM_MS;
	for (;;) {
		torture_info(c, &info, round);
		if (info.messages <= TORTURE_RETENTION)
			break;
		if (now_ms() > deadline)
			fail_msg("round %u: %llu messages kept %d ms after a "
			    "produce, retention %d", round,
			    (unsigned long long)info.messages,
			    TORTURE_TRIM_MS, TORTURE_RETENTION);
		usleep(20000);
	}
	tp_close(c);
}

static void
torture_round(struct torture *t, unsigned round)
{
	struct torture_feed	f[2];
	pid_t			producer, consumer;
	int			run_ms;

	run_ms = TORTURE_RUN_MIN_MS +
	    rand() % (TORTURE_RUN_MAX_MS - TORTURE_RUN_MIN_MS + 1);
	producer = torture_fork(t, round, 1, &f[0]);
	consumer = torture_fork(t, round, 0, &f[1]);
	torture_feed_until(t, f, 2, now_ms() + run_ms, round);
	broker_kill(&t->b, SIGKILL);
	/* Both children end once their connections fail. */
	torture_feed_until(t, f, 2, now_ms() + TORTURE_CHILD_MS, round);
	if (f[0].fd != -1 || f[1].fd != -1) {
		kill(producer, SIGKILL);
		kill(consumer, SIGKILL);
		fail_msg("round %u: children still running %d ms after the "
		    "kill", round, TORTURE_CHILD_MS);
	}
	torture_reap(producer, "producer", round);
	torture_reap(consumer, "consumer", round);
	printf("torture: round %u: killed after %d ms\n", round, run_ms);
	/* (f) The data directory is sound and opens again. */
	if (t->has_check)
		torture_check_dir(t, round);
	if (broker_restart(&t->b) != 0)
		fail_msg("round %u: tupelod did not restart", round);
	torture_verify(t, round);
}

static int
teardown(void **state)
{
	struct torture	*t = *state;

	if (t != NULL) {
		broker_stop(&t->b);
		free(t->acked);
		free(t);
	}
	return (0);
}

static void
test_torture_sigkill_rounds(void **state)
{
	struct torture		*t;
	struct tp_station_opts	 opts;
	struct tp_conn		*c;
	struct tp_err		 err;
	unsigned		 round;
	int64_t			 t0 = now_ms();

	if ((t = calloc(1, sizeof *t)) == NULL)
		fail_msg("out of memory");
	*state = t;
	t->seed = env_unsigned("TUPELO_TORTURE_SEED", TORTURE_SEED, 0,
	    UINT32_MAX);
	t->rounds = env_unsigned("TUPELO_TORTURE_ROUNDS", TORTURE_ROUNDS, 1,
	    TORTURE_ROUNDS_MAX);
	if (broker_start(&t->b, NULL) != 0)
		fail_msg("tupelod did not start");
	if (t->b.external)
		skip();
	t->has_check = torture_has_check();
	printf("torture: seed %u (TUPELO_TORTURE_SEED), %u rounds, "
	    "tupelod --check %s, data %s\n", t->seed, t->rounds,
	    t->has_check ? "run" : "not available", t->b.data);
	srand(t->seed);

	c = connect_ok(&t->b);
	memset(&opts, 0, sizeof opts);
	opts.retention_messages = TORTURE_RETENTION;
	assert_int_equal(tp_station_create(c, "t", &opts, &err), TP_OK);
	assert_int_equal(tp_group_create(c, "t", "g", NULL, &err), TP_OK);
	tp_close(c);

	for (round = 0; round < t->rounds; round++)
		torture_round(t, round);
	printf("torture: %u rounds in %lld ms\n", t->rounds,
	    (long long)(now_ms() - t0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_torture_sigkill_rounds,
		    teardown),
	};

	harness_watchdog(300);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
