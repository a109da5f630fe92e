/*
 * tupelo bench produce|consume|latency: load generators that measure a
 * broker. produce runs N worker threads, each producing on a connection
 * of its own with a bounded number of messages in flight, and reports the
 * throughput and the ack latency of every message; consume drains a
 * station through a consumer group and reports its rate; latency is in
 * bench_latency.c. With --result LABEL each prints the one RESULT line of
 * the peer benchmarks (NATS, Redis) instead, so its runs land in their
 * tables.
 *
 * Threads: the main thread connects, starts the workers together, joins
 * them and reports. With a window above 1, a worker's acks come on its
 * tp_producer's own thread, which hands the window slot back under the
 * worker's lock; with a window of 1 the worker is the only thread.
 */
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/bench.h"
#include "tools/cmd.h"

#define BENCH_COUNT		100000	/* messages, all producers */
#define BENCH_SIZE		128	/* payload bytes */
#define BENCH_WINDOW		256	/* messages in flight per producer */
#define BENCH_DURATION_MS	60000
#define BENCH_PRODUCERS_MAX	1024
#define BENCH_WINDOW_MAX	10000	/* the largest batch */
#define BENCH_SIZE_MAX		(64 * 1024 * 1024)
#define BENCH_IDLE_MS		2000	/* consume: stop when idle */
#define BENCH_UNACKED		1000	/* consume: deliveries in flight */
#define BENCH_COMMIT_MS		30000	/* consume: wait for acks */

static int	bench_produce(struct cmd_ctx *, int, char **);
static int	bench_consume(struct cmd_ctx *, int, char **);

const struct cmd_entry cmd_bench_entries[] = {
	{ "bench", "produce", "STATION [--producers N] [--count N] "
	    "[--size BYTES] [--window N] [--duration SECONDS] [--create] "
	    "[--result LABEL]",
	    "Produce --count messages (default 100000, split among the\n"
	    "producers) of --size bytes (default 128) to STATION from\n"
	    "--producers threads (default 1), each on a connection of its\n"
	    "own; stop there or after --duration seconds (default 60),\n"
	    "whichever comes first. Payloads are JSON-like order records,\n"
	    "so that compression ratios mean something.\n"
	    "--window N is how many messages each producer has in flight\n"
	    "(default 256). With 1, each message is one synchronous\n"
	    "tp_produce() waited for. Above 1, each producer thread hands\n"
	    "messages to an asynchronous tp_producer (batches of up to N\n"
	    "messages and 512 KiB, 1 ms linger) only while fewer than N of\n"
	    "its messages are unacknowledged.\n"
	    "Ack latency runs from handing a message to the library to its\n"
	    "ack. --create creates the station, with the broker's defaults,\n"
	    "if it is missing.\n"
	    "Prints messages acked, seconds (start to last ack), msg_per_s,\n"
	    "mb_per_s (10^6 payload bytes), p50_ms, p99_ms and p999_ms ack\n"
	    "latency, producers, window and size. Exit status 1 if any\n"
	    "message failed.\n"
	    "--result LABEL prints instead one line for the peer benchmarks:\n"
	    "RESULT label=LABEL peer=tupelo wl=pub size producers window\n"
	    "msgs secs msgs_per_s MBps p50_us p99_us client_cpu_s (user and\n"
	    "system seconds of this process), each as key=value.\n",
	    bench_produce },
	{ "bench", "consume", "STATION -g GROUP [--count N] [--result LABEL]",
	    "Consume and ack messages of STATION as a member of consumer\n"
	    "group GROUP (created at the first message if new): --count\n"
	    "of them, or all until none came for 2 seconds. Prints\n"
	    "messages, seconds (from joining the group to the last message,\n"
	    "plus committing the acks), msg_per_s and mb_per_s. Exit status\n"
	    "1 if fewer than --count came.\n"
	    "--result LABEL prints instead: RESULT label=LABEL peer=tupelo\n"
	    "wl=drain size msgs secs msgs_per_s MBps client_cpu_s.\n",
	    bench_consume },
	{ "bench", "latency", "STATION [--rate N] [--size BYTES] "
	    "[--duration SECONDS] [--warmup SECONDS] [--batch N] [--create] "
	    "[--result LABEL]",
	    "Measure publish-to-receive latency at a fixed rate: one\n"
	    "producer thread hands --rate messages a second (default 5000)\n"
	    "of --size bytes (default 1 KiB, at least 16) to a tp_producer,\n"
	    "on a schedule kept with absolute sleeps, with at most 256\n"
	    "awaiting their ack; up to --batch N messages (default 256) go\n"
	    "in one Produce request: each is sent at once, and while 8\n"
	    "requests wait for their acks the next ones gather into one\n"
	    "(1: one message a request). A consumer on\n"
	    "a connection of its own, in a consumer group made for the run\n"
	    "(lat-PID, starting at new messages, deleted at the end),\n"
	    "receives and acks each.\n"
	    "Latency runs from handing a message to the library to its\n"
	    "receipt; the first --warmup seconds (default 1) are not\n"
	    "counted, then --duration seconds (default 10) are.\n"
	    "Prints sent, received, achieved_rate (sent per second of\n"
	    "sending), p50_us, p99_us, p999_us and max_us latency, and\n"
	    "lag_p99_us and lag_max_us, how late messages were handed to the\n"
	    "library against the schedule (waits for the window included).\n"
	    "--result LABEL prints instead: RESULT label=LABEL peer=tupelo\n"
	    "wl=lat size rate sent received achieved_rate samples p50_us\n"
	    "p90_us p99_us p999_us max_us lag_p99_us lag_max_us\n"
	    "client_cpu_s. Exit status 1 if a message failed or did not come\n"
	    "within 10 seconds after the last was sent.\n",
	    bench_latency_exec },
	{ NULL, NULL, NULL, NULL, NULL }
};

/* What every producer shares; read-only once the workers run. */
struct bench_run {
	const char	*station;	/* borrowed from argv */
	uint64_t	 window;
	size_t		 size;		/* payload bytes */
	const char	*pool;		/* borrowed: npool payloads */
	size_t		 npool;
	int64_t		 duration_ns;	/* --duration */
	int64_t		 start_ns;	/* monotonic, set at go */
	int64_t		 deadline_ns;	/* start_ns + duration_ns */

	pthread_mutex_t	 lock;		/* guards go and abort */
	pthread_cond_t	 cond;		/* go was set */
	int		 go;
	int		 abort;		/* 1: not every worker started */
};

/* One message in flight: a place in a producer's window. */
struct bench_slot {
	int64_t			 sent_ns;	/* monotonic */
	struct bench_slot	*next;		/* free list */
};

struct bench_worker {
	struct bench_run	*run;		/* borrowed */
	struct tp_conn		*conn;		/* owned; window 1 */
	struct tp_producer	*producer;	/* owned; window above 1 */
	pthread_t		 thread;
	uint64_t		 count;		/* messages to produce */
	uint64_t		 first;		/* index of its first one */
	uint64_t		 sent;		/* handed to the library */
	int64_t			 end_ns;	/* after the last ack */

	/* Window 1: the worker's alone; above: guarded by lock. */
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;		/* a slot came free */
	struct bench_slot	*slots;		/* owned, window entries */
	struct bench_slot	*free;		/* free slots, into slots */
	int			 waiting;	/* for a free slot */
	uint64_t		 acked;
	uint64_t		 failed;
	int			 code;		/* first failure */
	char			 why[256];	/* its message */
	struct bench_hist	*hist;		/* owned: ack latency */
};

/* Record the first failure of w; messages failed count one more. */
static void
bench_fail(struct bench_worker *w, int code, const char *why)
{
	pthread_mutex_lock(&w->lock);
	if (w->failed++ == 0) {
		w->code = code;
		snprintf(w->why, sizeof w->why, "%s", why != NULL &&
		    *why != '\0' ? why : tp_strerror(code));
	}
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* Outcome of one message of an asynchronous producer; its thread. */
static void
bench_ack_cb(void *arg, int code, uint64_t seq, void *opaque)
{
	struct bench_worker	*w = arg;
	struct bench_slot	*s = opaque;
	int64_t			 now = bench_now_ns();

	if (code != TP_OK)
		bench_fail(w, code, NULL);
	pthread_mutex_lock(&w->lock);
	if (code == TP_OK) {
		w->acked++;
		bench_hist_add(w->hist, now - s->sent_ns);
	}
	s->next = w->free;
	w->free = s;
	if (w->waiting)
		pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* Wait for a free place in the window; NULL once a message failed. */
static struct bench_slot *
bench_slot_take(struct bench_worker *w)
{
	struct bench_slot	*s = NULL;

	pthread_mutex_lock(&w->lock);
	w->waiting = 1;
	while (w->free == NULL && w->failed == 0)
		pthread_cond_wait(&w->cond, &w->lock);
	w->waiting = 0;
	if (w->failed == 0) {
		s = w->free;
		w->free = s->next;
	}
	pthread_mutex_unlock(&w->lock);
	return (s);
}

static void
bench_message(const struct bench_run *run, uint64_t i, struct tp_message *m)
{
	memset(m, 0, sizeof *m);
	m->payload = run->pool + (i % run->npool) * run->size;
	m->len = run->size;
}

/* Window 1: one synchronous produce after the other. */
static void
bench_produce_sync(struct bench_worker *w)
{
	struct bench_run	*run = w->run;
	struct tp_message	 m;
	struct tp_err		 err;
	int64_t			 t0;
	uint64_t		 i;

	for (i = 0; i < w->count; i++) {
		if ((t0 = bench_now_ns()) >= run->deadline_ns)
			break;
		bench_message(run, w->first + i, &m);
		memset(&err, 0, sizeof err);
		w->sent++;
		if (tp_produce(w->conn, run->station, &m, 1, NULL, NULL,
		    &err) != TP_OK) {
			bench_fail(w, err.code, err.message);
			break;
		}
		bench_hist_add(w->hist, bench_now_ns() - t0);
		w->acked++;
	}
}

/* Window above 1: keep the window full, then wait for every ack. */
static void
bench_produce_async(struct bench_worker *w)
{
	struct bench_run	*run = w->run;
	struct bench_slot	*s;
	struct tp_message	 m;
	uint64_t		 i;
	int			 code;

	for (i = 0; i < w->count; i++) {
		if ((s = bench_slot_take(w)) == NULL)
			break;
		if ((s->sent_ns = bench_now_ns()) >= run->deadline_ns) {
			pthread_mutex_lock(&w->lock);
			s->next = w->free;
			w->free = s;
			pthread_mutex_unlock(&w->lock);
			break;
		}
		bench_message(run, w->first + i, &m);
		w->sent++;
		if ((code = tp_producer_send(w->producer, &m, s)) != TP_OK) {
			bench_fail(w, code, NULL);
			break;
		}
	}
	/* Failures were counted by the callback. */
	tp_producer_flush(w->producer, -1);
}

static void *
bench_worker_main(void *arg)
{
	struct bench_worker	*w = arg;
	struct bench_run	*run = w->run;
	int			 abort;

	pthread_mutex_lock(&run->lock);
	while (!run->go)
		pthread_cond_wait(&run->cond, &run->lock);
	abort = run->abort;
	pthread_mutex_unlock(&run->lock);
	if (abort)
		return (NULL);
	if (run->window == 1)
		bench_produce_sync(w);
	else
		bench_produce_async(w);
	w->end_ns = bench_now_ns();
	return (NULL);
}

/* Connect a worker: its own connection, or an asynchronous producer. */
static int
bench_worker_open(struct bench_worker *w, const char *url,
    struct tp_conn *conn, struct tp_err *err)
{
	struct tp_producer_opts	po;
	size_t			i;
	int			code;

	if ((w->hist = calloc(1, sizeof *w->hist)) == NULL)
		return (TP_ENOMEM);
	if (w->run->window == 1)
		return (tp_connect(url, "tupelo bench", &w->conn, err));
	if ((w->slots = calloc(w->run->window, sizeof *w->slots)) == NULL)
		return (TP_ENOMEM);
	for (i = 0; i < w->run->window; i++) {
		w->slots[i].next = w->free;
		w->free = &w->slots[i];
	}
	/*
	 * A full window goes out as one batch, as a pipeline of window
	 * requests would. The slots hold the window; the library's own
	 * limit stays above it, so that it never blocks a message the
	 * window let through.
	 */
	memset(&po, 0, sizeof po);
	po.batch_size = (uint32_t)w->run->window;
	po.max_pending = (uint32_t)w->run->window * 2;
	po.linger_ms = 1;
	code = tp_producer_new(conn, w->run->station, &po, bench_ack_cb, w,
	    &w->producer, err);
	return (code);
}

static void
bench_worker_close(struct bench_worker *w)
{
	tp_producer_free(w->producer);
	tp_close(w->conn);
	free(w->slots);
	free(w->hist);
}

static void
bench_print_produce(const struct cmd_ctx *ctx, const struct bench_run *run,
    uint64_t producers, uint64_t acked, double secs,
    const struct bench_hist *h, const char *label)
{
	double	rate, mb;

	rate = secs > 0 ? (double)acked / secs : 0;
	mb = rate * (double)run->size / 1e6;
	if (label != NULL) {
		bench_result(label, "peer=tupelo wl=pub size=%zu producers=%"
		    PRIu64 " window=%" PRIu64 " msgs=%" PRIu64 " secs=%.3f "
		    "msgs_per_s=%.0f MBps=%.2f p50_us=%.1f p99_us=%.1f",
		    run->size, producers, run->window, acked, secs, rate, mb,
		    bench_hist_us(h, 0.5), bench_hist_us(h, 0.99));
		return;
	}
	if (ctx->json) {
		printf("{\"messages\":%" PRIu64 ",\"seconds\":%.3f,"
		    "\"msg_per_s\":%.0f,\"mb_per_s\":%.2f,\"p50_ms\":%.3f,"
		    "\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"producers\":%" PRIu64
		    ",\"window\":%" PRIu64 ",\"size\":%zu}\n", acked, secs,
		    rate, mb, bench_hist_ms(h, 0.5), bench_hist_ms(h, 0.99),
		    bench_hist_ms(h, 0.999), producers, run->window,
		    run->size);
		return;
	}
	printf("%-10s %" PRIu64 "\n", "messages", acked);
	printf("%-10s %.3f\n", "seconds", secs);
	printf("%-10s %.0f\n", "msg_per_s", rate);
	printf("%-10s %.2f\n", "mb_per_s", mb);
	printf("%-10s %.3f\n", "p50_ms", bench_hist_ms(h, 0.5));
	printf("%-10s %.3f\n", "p99_ms", bench_hist_ms(h, 0.99));
	printf("%-10s %.3f\n", "p999_ms", bench_hist_ms(h, 0.999));
	printf("%-10s %" PRIu64 "\n", "producers", producers);
	printf("%-10s %" PRIu64 "\n", "window", run->window);
	printf("%-10s %zu\n", "size", run->size);
}

/* Start the workers together, wait for them, merge what they measured. */
static int
bench_run_workers(struct bench_run *run, struct bench_worker *w, size_t n,
    struct bench_hist *total, uint64_t *acked, double *secs)
{
	int64_t	end = 0;
	size_t	i, started = 0;
	int	rc = CMD_OK;

	for (i = 0; i < n; i++) {
		if (pthread_create(&w[i].thread, NULL, bench_worker_main,
		    &w[i]) != 0) {
			rc = cmd_error("cannot start producer thread %zu", i);
			break;
		}
		started++;
	}
	pthread_mutex_lock(&run->lock);
	run->start_ns = bench_now_ns();
	run->deadline_ns = run->start_ns + run->duration_ns;
	run->abort = started < n;
	run->go = 1;
	pthread_cond_broadcast(&run->cond);
	pthread_mutex_unlock(&run->lock);
	for (i = 0; i < started; i++)
		pthread_join(w[i].thread, NULL);
	if (rc != CMD_OK)
		return (rc);
	*acked = 0;
	for (i = 0; i < n; i++) {
		if (w[i].end_ns > end)
			end = w[i].end_ns;
		*acked += w[i].acked;
		bench_hist_merge(total, w[i].hist);
		if (w[i].failed > 0)
			rc = cmd_error("producer %zu: %" PRIu64 " of %" PRIu64
			    " messages failed: %s", i + 1, w[i].failed,
			    w[i].sent, w[i].why);
	}
	*secs = (double)(end - run->start_ns) / 1e9;
	return (rc);
}

static int
bench_produce(struct cmd_ctx *ctx, int argc, char **argv)
{
	enum {
		OPT_PRODUCERS = 0x200, OPT_COUNT, OPT_SIZE, OPT_WINDOW,
		OPT_DURATION, OPT_CREATE, OPT_RESULT
	};
	static const struct option	 opts[] = {
		CMD_COMMON_OPTIONS,
		{ "producers", required_argument, NULL, OPT_PRODUCERS },
		{ "count", required_argument, NULL, OPT_COUNT },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "window", required_argument, NULL, OPT_WINDOW },
		{ "duration", required_argument, NULL, OPT_DURATION },
		{ "create", no_argument, NULL, OPT_CREATE },
		{ "result", required_argument, NULL, OPT_RESULT },
		{ NULL, 0, NULL, 0 }
	};
	struct bench_run		 run;
	struct bench_worker		*w = NULL;
	struct bench_hist		*total = NULL;
	struct tp_station_info		 si;
	struct tp_conn			*conn = NULL;
	struct tp_err			 err;
	char				*pool = NULL;
	const char			*label = NULL;
	uint64_t			 producers = 1, count = BENCH_COUNT;
	uint64_t			 size = BENCH_SIZE;
	uint64_t			 ms = BENCH_DURATION_MS;
	uint64_t			 acked = 0, first = 0;
	double				 secs = 0;
	size_t				 i, n = 0;
	int				 ch, rc, code, create = 0;

	memset(&run, 0, sizeof run);
	run.window = BENCH_WINDOW;
	while ((ch = getopt_long(argc, argv, "hu:", opts, NULL)) != -1) {
		switch (ch) {
		case OPT_PRODUCERS:
			rc = cmd_number(ctx, "--producers", optarg, 1,
			    BENCH_PRODUCERS_MAX, &producers);
			break;
		case OPT_COUNT:
			rc = cmd_number(ctx, "--count", optarg, 1, UINT64_MAX,
			    &count);
			break;
		case OPT_SIZE:
			rc = cmd_bytes(ctx, "--size", optarg, 1,
			    BENCH_SIZE_MAX, &size);
			break;
		case OPT_WINDOW:
			rc = cmd_number(ctx, "--window", optarg, 1,
			    BENCH_WINDOW_MAX, &run.window);
			break;
		case OPT_DURATION:
			rc = cmd_seconds(ctx, "--duration", optarg, 1,
			    UINT32_MAX, &ms);
			break;
		case OPT_CREATE:
			create = 1;
			rc = CMD_CONTINUE;
			break;
		case OPT_RESULT:
			label = optarg;
			rc = bench_label(ctx, label);
			break;
		default:
			rc = cmd_option(ctx, ch);
			break;
		}
		if (rc != CMD_CONTINUE)
			return (rc);
	}
	if (argc - optind != 1)
		return (cmd_usage(ctx, NULL));
	if (count < producers)
		return (cmd_usage(ctx, "--count %" PRIu64 " is less than "
		    "--producers %" PRIu64, count, producers));
	run.station = argv[optind];
	run.size = (size_t)size;
	run.duration_ns = (int64_t)ms * 1000000;
	pthread_mutex_init(&run.lock, NULL);
	pthread_cond_init(&run.cond, NULL);

	if ((rc = cmd_connect(ctx, &conn)) != CMD_OK)
		goto out;
	memset(&err, 0, sizeof err);
	if (create && (code = tp_station_create(conn, run.station, NULL,
	    &err)) != TP_OK && code != TP_EEXIST) {
		rc = cmd_fail(&err);
		goto out;
	}
	memset(&err, 0, sizeof err);
	if (tp_station_info(conn, run.station, &si, &err) != TP_OK) {
		rc = cmd_fail(&err);
		goto out;
	}
	if ((pool = bench_pool_new(run.size, &run.npool)) == NULL ||
	    (total = calloc(1, sizeof *total)) == NULL ||
	    (w = calloc((size_t)producers, sizeof *w)) == NULL) {
		rc = cmd_error("out of memory");
		goto out;
	}
	run.pool = pool;
	for (n = 0; n < producers; n++) {
		w[n].run = &run;
		w[n].count = count / producers + (n < count % producers);
		w[n].first = first;
		first += w[n].count;
		pthread_mutex_init(&w[n].lock, NULL);
		pthread_cond_init(&w[n].cond, NULL);
		memset(&err, 0, sizeof err);
		if ((code = bench_worker_open(&w[n], ctx->url, conn, &err)) !=
		    TP_OK) {
			if (err.code == TP_OK)
				err.code = code;
			rc = cmd_fail(&err);
			n++;
			goto out;
		}
	}
	rc = bench_run_workers(&run, w, n, total, &acked, &secs);
	if (rc == CMD_OK)
		bench_print_produce(ctx, &run, producers, acked, secs, total,
		    label);
out:
	for (i = 0; i < n; i++) {
		bench_worker_close(&w[i]);
		pthread_mutex_destroy(&w[i].lock);
		pthread_cond_destroy(&w[i].cond);
	}
	free(w);
	free(total);
	free(pool);
	tp_close(conn);
	pthread_mutex_destroy(&run.lock);
	pthread_cond_destroy(&run.cond);
	if (fflush(stdout) != 0 && rc == CMD_OK)
		rc = cmd_error("standard output: write error");
	return (rc);
}

static int
bench_consume(struct cmd_ctx *ctx, int argc, char **argv)
{
	enum { OPT_COUNT = 0x200, OPT_RESULT };
	static const struct option	 opts[] = {
		CMD_COMMON_OPTIONS,
		{ "group", required_argument, NULL, 'g' },
		{ "count", required_argument, NULL, OPT_COUNT },
		{ "result", required_argument, NULL, OPT_RESULT },
		{ NULL, 0, NULL, 0 }
	};
	struct tp_consumer_opts		 co;
	struct tp_consumer		*c = NULL;
	struct tp_conn			*conn = NULL;
	struct tp_msg			*m;
	struct tp_err			 err;
	const char			*group = NULL, *label = NULL;
	uint64_t			 count = 0, got = 0, bytes = 0;
	int64_t				 t0, last, c0;
	double				 secs, rate;
	size_t				 len;
	int				 ch, rc, code;

	while ((ch = getopt_long(argc, argv, "hu:g:", opts, NULL)) != -1) {
		switch (ch) {
		case 'g':
			group = optarg;
			rc = CMD_CONTINUE;
			break;
		case OPT_COUNT:
			rc = cmd_number(ctx, "--count", optarg, 1, UINT64_MAX,
			    &count);
			break;
		case OPT_RESULT:
			label = optarg;
			rc = bench_label(ctx, label);
			break;
		default:
			rc = cmd_option(ctx, ch);
			break;
		}
		if (rc != CMD_CONTINUE)
			return (rc);
	}
	if (argc - optind != 1 || group == NULL)
		return (cmd_usage(ctx, NULL));
	memset(&co, 0, sizeof co);
	co.name = "tupelo bench";
	co.max_unacked = BENCH_UNACKED;
	if (count != 0 && count < co.max_unacked)
		co.max_unacked = (uint32_t)count;
	if ((rc = cmd_connect(ctx, &conn)) != CMD_OK)
		return (rc);
	memset(&err, 0, sizeof err);
	if (tp_consumer_new(conn, argv[optind], group, &co, &c, &err) !=
	    TP_OK) {
		rc = cmd_fail(&err);
		goto out;
	}
	t0 = last = bench_now_ns();
	while (count == 0 || got < count) {
		code = tp_consume(c, BENCH_IDLE_MS, &m, &err);
		if (code == TP_ETIMEDOUT)
			break;
		if (code != TP_OK) {
			rc = cmd_fail(&err);
			goto out;
		}
		tp_msg_payload(m, &len);
		code = tp_ack(c, m, &err);
		tp_msg_free(m);
		if (code != TP_OK) {
			rc = cmd_fail(&err);
			goto out;
		}
		bytes += len;
		got++;
		last = bench_now_ns();
	}
	/* The idle wait is not counted; committing the acks is. */
	c0 = bench_now_ns();
	if (tp_consumer_commit(c, BENCH_COMMIT_MS, &err) != TP_OK) {
		rc = cmd_fail(&err);
		goto out;
	}
	secs = (double)(last - t0 + bench_now_ns() - c0) / 1e9;
	rate = secs > 0 ? (double)got / secs : 0;
	if (label != NULL)
		bench_result(label, "peer=tupelo wl=drain size=%" PRIu64
		    " msgs=%" PRIu64 " secs=%.3f msgs_per_s=%.0f MBps=%.2f",
		    got > 0 ? bytes / got : 0, got, secs, rate,
		    secs > 0 ? (double)bytes / secs / 1e6 : 0);
	else if (ctx->json)
		printf("{\"messages\":%" PRIu64 ",\"seconds\":%.3f,"
		    "\"msg_per_s\":%.0f,\"mb_per_s\":%.2f}\n", got, secs, rate,
		    secs > 0 ? (double)bytes / secs / 1e6 : 0);
	else {
		printf("%-10s %" PRIu64 "\n", "messages", got);
		printf("%-10s %.3f\n", "seconds", secs);
		printf("%-10s %.0f\n", "msg_per_s", rate);
		printf("%-10s %.2f\n", "mb_per_s",
		    secs > 0 ? (double)bytes / secs / 1e6 : 0);
	}
	if (count != 0 && got < count)
		rc = cmd_error("only %" PRIu64 " of %" PRIu64 " messages came "
		    "before %d seconds without one", got, count,
		    BENCH_IDLE_MS / 1000);
out:
	tp_consumer_free(c);
	tp_close(conn);
	if (fflush(stdout) != 0 && rc == CMD_OK)
		rc = cmd_error("standard output: write error");
	return (rc);
}
