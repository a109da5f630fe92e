/*
 * tupelo bench latency: publish-to-receive latency at a fixed rate, the
 * W3 workload of the peer benchmarks. The main thread hands messages to
 * a tp_producer on a schedule of absolute CLOCK_MONOTONIC deadlines, each
 * payload starting with the time it was handed over and its index; a
 * consumer thread, on a connection of its own in a group made for the
 * run, receives, measures and acks them.
 *
 * Threads: the main thread owns the first connection and the producer;
 * the consumer thread owns the consumer, its connection and the latency
 * histogram from its start to its join. The producer's own thread runs
 * the ack callback, which gives the window place back. lock guards the
 * window count, the failures and the consumer's deadline.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools/bench.h"
#include "tools/cmd.h"

#define BENCH_LATENCY_RATE	5000	/* messages per second */
#define BENCH_LATENCY_RATE_MAX	1000000
#define BENCH_LATENCY_SIZE	1024	/* payload bytes */
#define BENCH_LATENCY_SIZE_MAX	(16 * 1024 * 1024)
#define BENCH_LATENCY_MS	10000	/* --duration */
#define BENCH_LATENCY_WARMUP_MS	1000	/* --warmup */
/* Longest --duration and --warmup: index * 10^9 stays in a uint64_t. */
#define BENCH_LATENCY_LONGEST_MS 3600000
#define BENCH_LATENCY_WINDOW	256	/* awaiting their ack, as the peers */
#define BENCH_LATENCY_BATCH	256	/* messages per Produce request */
#define BENCH_LATENCY_BATCH_MAX	10000	/* the library's largest batch */
#define BENCH_LATENCY_HEAD	16	/* payload: send time, index */
#define BENCH_LATENCY_POLL_MS	100	/* consumer: look at the deadline */
#define BENCH_LATENCY_WAIT_MS	10000	/* deliveries after the last send */
#define BENCH_LATENCY_FLUSH_MS	5000	/* acks after those */

struct bench_latency {
	const char		*station;	/* borrowed from argv */
	uint64_t		 warm;		/* first measured index */
	uint64_t		 total;		/* messages to send */

	/* The consumer thread's between its start and its join. */
	struct tp_consumer	*consumer;	/* owned */
	pthread_t		 thread;
	uint64_t		 received;	/* with an index below total */
	struct bench_hist	*hist;		/* owned: latency */

	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;		/* inflight dropped, failure */
	uint64_t		 inflight;	/* sent, outcome not reported */
	uint64_t		 failed;	/* messages that failed */
	char			 why[256];	/* the first failure */
	int64_t			 deadline_ns;	/* the consumer stops then */
	int			 cfailed;	/* 1: the consumer failed */
	char			 cwhy[256];	/* why */
};

/* Outcome of one message; on the producer's thread. */
static void
bench_latency_ack_cb(void *arg, int code, uint64_t seq, void *opaque)
{
	struct bench_latency	*l = arg;

	pthread_mutex_lock(&l->lock);
	if (code != TP_OK && l->failed++ == 0)
		snprintf(l->why, sizeof l->why, "%s", tp_strerror(code));
	l->inflight--;
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->lock);
}

/* Wait for a place in the window and take it; 0 once a message failed. */
static int
bench_latency_take(struct bench_latency *l)
{
	int	ok;

	pthread_mutex_lock(&l->lock);
	while (l->inflight >= BENCH_LATENCY_WINDOW && l->failed == 0)
		pthread_cond_wait(&l->cond, &l->lock);
	if ((ok = l->failed == 0))
		l->inflight++;
	pthread_mutex_unlock(&l->lock);
	return (ok);
}

static void
bench_latency_sleep(int64_t until_ns)
{
	struct timespec	ts;

	ts.tv_sec = until_ns / 1000000000;
	ts.tv_nsec = until_ns % 1000000000;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	    EINTR)
		;
}

static void
bench_latency_cfail(struct bench_latency *l, const struct tp_err *err)
{
	pthread_mutex_lock(&l->lock);
	l->cfailed = 1;
	snprintf(l->cwhy, sizeof l->cwhy, "%s", err->message[0] != '\0' ?
	    err->message : tp_strerror(err->code));
	pthread_mutex_unlock(&l->lock);
}

/* Receive, measure and ack until every message came or the deadline. */
static void *
bench_latency_consumer_main(void *arg)
{
	struct bench_latency	*l = arg;
	struct tp_msg		*m;
	struct tp_err		 err;
	const char		*p;
	int64_t			 now, deadline, sent;
	uint64_t		 i;
	size_t			 len;
	int			 code;

	while (l->received < l->total) {
		pthread_mutex_lock(&l->lock);
		deadline = l->deadline_ns;
		pthread_mutex_unlock(&l->lock);
		if (bench_now_ns() >= deadline)
			break;
		memset(&err, 0, sizeof err);
		code = tp_consume(l->consumer, BENCH_LATENCY_POLL_MS, &m, &err);
		if (code == TP_ETIMEDOUT)
			continue;
		if (code != TP_OK) {
			bench_latency_cfail(l, &err);
			break;
		}
		now = bench_now_ns();
		p = tp_msg_payload(m, &len);
		/* Others' messages, if any, are acked and not counted. */
		if (len >= BENCH_LATENCY_HEAD) {
			memcpy(&sent, p, sizeof sent);
			memcpy(&i, p + sizeof sent, sizeof i);
			if (i < l->total) {
				l->received++;
				if (i >= l->warm)
					bench_hist_add(l->hist, now - sent);
			}
		}
		code = tp_ack(l->consumer, m, &err);
		tp_msg_free(m);
		if (code != TP_OK) {
			bench_latency_cfail(l, &err);
			break;
		}
	}
	return (NULL);
}

/* A group of our own that starts at new messages; CMD_OK or reported. */
static int
bench_latency_group(struct tp_conn *conn, const char *station,
    const char *group)
{
	struct tp_group_opts	go;
	struct tp_err		err;
	int			code;

	memset(&go, 0, sizeof go);
	go.start = "new";
	memset(&err, 0, sizeof err);
	code = tp_group_create(conn, station, group, &go, &err);
	if (code == TP_EEXIST) {
		/* Left by an earlier run of the same PID. */
		memset(&err, 0, sizeof err);
		if (tp_group_delete(conn, station, group, &err) != TP_OK)
			return (cmd_fail(&err));
		memset(&err, 0, sizeof err);
		code = tp_group_create(conn, station, group, &go, &err);
	}
	return (code == TP_OK ? CMD_OK : cmd_fail(&err));
}

/* Send total messages on schedule; the index of the first not sent. */
static uint64_t
bench_latency_send(struct bench_latency *l, struct tp_producer *p,
    uint64_t rate, const char *pool, size_t npool, char *buf, size_t size,
    struct bench_hist *lag, int64_t *start, int64_t *end)
{
	struct tp_message	m;
	int64_t			sched, now;
	uint64_t		i;
	int			code;

	memset(&m, 0, sizeof m);
	m.payload = buf;
	m.len = size;
	*start = bench_now_ns();
	for (i = 0; i < l->total; i++) {
		sched = *start + (int64_t)(i * 1000000000ULL / rate);
		bench_latency_sleep(sched);
		if (!bench_latency_take(l))
			break;
		memcpy(buf, pool + (i % npool) * size, size);
		now = bench_now_ns();
		memcpy(buf, &now, sizeof now);
		memcpy(buf + sizeof now, &i, sizeof i);
		if ((code = tp_producer_send(p, &m, NULL)) != TP_OK) {
			pthread_mutex_lock(&l->lock);
			if (l->failed++ == 0)
				snprintf(l->why, sizeof l->why, "%s",
				    tp_strerror(code));
			l->inflight--;
			pthread_mutex_unlock(&l->lock);
			break;
		}
		bench_hist_add(lag, now - sched);
	}
	*end = bench_now_ns();
	return (i);
}

static void
bench_latency_print(const struct cmd_ctx *ctx, const char *label,
    uint64_t rate, size_t size, uint64_t sent, uint64_t received,
    double achieved, const struct bench_hist *h, const struct bench_hist *lag)
{
	if (label != NULL) {
		bench_result(label, "peer=tupelo wl=lat size=%zu rate=%" PRIu64
		    " sent=%" PRIu64 " received=%" PRIu64 " achieved_rate=%.0f"
		    " samples=%" PRIu64 " p50_us=%.1f p90_us=%.1f p99_us=%.1f"
		    " p999_us=%.1f max_us=%.1f lag_p99_us=%.1f lag_max_us=%.1f",
		    size, rate, sent, received, achieved, h->n,
		    bench_hist_us(h, 0.5), bench_hist_us(h, 0.9),
		    bench_hist_us(h, 0.99), bench_hist_us(h, 0.999),
		    bench_hist_us(h, 1), bench_hist_us(lag, 0.99),
		    bench_hist_us(lag, 1));
		return;
	}
	if (ctx->json) {
		printf("{\"sent\":%" PRIu64 ",\"received\":%" PRIu64 ","
		    "\"achieved_rate\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f,"
		    "\"p999_us\":%.1f,\"max_us\":%.1f,\"lag_p99_us\":%.1f,"
		    "\"lag_max_us\":%.1f,\"rate\":%" PRIu64 ",\"size\":%zu}\n",
		    sent, received, achieved, bench_hist_us(h, 0.5),
		    bench_hist_us(h, 0.99), bench_hist_us(h, 0.999),
		    bench_hist_us(h, 1), bench_hist_us(lag, 0.99),
		    bench_hist_us(lag, 1), rate, size);
		return;
	}
	printf("%-13s %" PRIu64 "\n", "sent", sent);
	printf("%-13s %" PRIu64 "\n", "received", received);
	printf("%-13s %.0f\n", "achieved_rate", achieved);
	printf("%-13s %.1f\n", "p50_us", bench_hist_us(h, 0.5));
	printf("%-13s %.1f\n", "p99_us", bench_hist_us(h, 0.99));
	printf("%-13s %.1f\n", "p999_us", bench_hist_us(h, 0.999));
	printf("%-13s %.1f\n", "max_us", bench_hist_us(h, 1));
	printf("%-13s %.1f\n", "lag_p99_us", bench_hist_us(lag, 0.99));
	printf("%-13s %.1f\n", "lag_max_us", bench_hist_us(lag, 1));
	printf("%-13s %" PRIu64 "\n", "rate", rate);
	printf("%-13s %zu\n", "size", size);
}

int
bench_latency_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	enum {
		OPT_RATE = 0x200, OPT_SIZE, OPT_DURATION, OPT_WARMUP,
		OPT_BATCH, OPT_CREATE, OPT_RESULT
	};
	static const struct option	 opts[] = {
		CMD_COMMON_OPTIONS,
		{ "rate", required_argument, NULL, OPT_RATE },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "duration", required_argument, NULL, OPT_DURATION },
		{ "warmup", required_argument, NULL, OPT_WARMUP },
		{ "batch", required_argument, NULL, OPT_BATCH },
		{ "create", no_argument, NULL, OPT_CREATE },
		{ "result", required_argument, NULL, OPT_RESULT },
		{ NULL, 0, NULL, 0 }
	};
	struct bench_latency		 l;
	struct bench_hist		*lag = NULL;
	struct tp_producer_opts		 po;
	struct tp_consumer_opts		 co;
	struct tp_producer		*p = NULL;
	struct tp_conn			*conn = NULL, *cconn = NULL;
	struct tp_err			 err;
	const char			*label = NULL;
	char				*pool = NULL, *buf = NULL;
	char				 group[TP_NAME_MAX + 1];
	uint64_t			 rate = BENCH_LATENCY_RATE;
	uint64_t			 size = BENCH_LATENCY_SIZE;
	uint64_t			 ms = BENCH_LATENCY_MS;
	uint64_t			 warm_ms = BENCH_LATENCY_WARMUP_MS;
	uint64_t			 batch = BENCH_LATENCY_BATCH;
	uint64_t			 sent, failed;
	int64_t				 start, end;
	size_t				 npool;
	int				 ch, rc, code, create = 0;
	int				 grouped = 0, started = 0;

	while ((ch = getopt_long(argc, argv, "hu:", opts, NULL)) != -1) {
		switch (ch) {
		case OPT_RATE:
			rc = cmd_number(ctx, "--rate", optarg, 1,
			    BENCH_LATENCY_RATE_MAX, &rate);
			break;
		case OPT_SIZE:
			rc = cmd_bytes(ctx, "--size", optarg,
			    BENCH_LATENCY_HEAD, BENCH_LATENCY_SIZE_MAX, &size);
			break;
		case OPT_DURATION:
			rc = cmd_seconds(ctx, "--duration", optarg, 1,
			    BENCH_LATENCY_LONGEST_MS, &ms);
			break;
		case OPT_WARMUP:
			rc = cmd_seconds(ctx, "--warmup", optarg, 0,
			    BENCH_LATENCY_LONGEST_MS, &warm_ms);
			break;
		case OPT_BATCH:
			rc = cmd_number(ctx, "--batch", optarg, 1,
			    BENCH_LATENCY_BATCH_MAX, &batch);
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
	memset(&l, 0, sizeof l);
	l.station = argv[optind];
	l.warm = rate * warm_ms / 1000;
	l.total = l.warm + rate * ms / 1000;
	if (l.total == l.warm)
		return (cmd_usage(ctx, "--duration is shorter than one "
		    "message at --rate %" PRIu64, rate));
	l.deadline_ns = INT64_MAX;
	pthread_mutex_init(&l.lock, NULL);
	pthread_cond_init(&l.cond, NULL);
	snprintf(group, sizeof group, "lat-%ld", (long)getpid());

	if ((rc = cmd_connect(ctx, &conn)) != CMD_OK)
		goto out;
	memset(&err, 0, sizeof err);
	if (create && (code = tp_station_create(conn, l.station, NULL,
	    &err)) != TP_OK && code != TP_EEXIST) {
		rc = cmd_fail(&err);
		goto out;
	}
	if ((pool = bench_pool_new((size_t)size, &npool)) == NULL ||
	    (buf = malloc((size_t)size)) == NULL ||
	    (l.hist = calloc(1, sizeof *l.hist)) == NULL ||
	    (lag = calloc(1, sizeof *lag)) == NULL) {
		rc = cmd_error("out of memory");
		goto out;
	}
	if ((rc = bench_latency_group(conn, l.station, group)) != CMD_OK)
		goto out;
	grouped = 1;
	memset(&err, 0, sizeof err);
	memset(&co, 0, sizeof co);
	co.name = "tupelo bench latency";
	if (tp_connect(ctx->url, co.name, &cconn, &err) != TP_OK ||
	    tp_consumer_new(cconn, l.station, group, &co, &l.consumer,
	    &err) != TP_OK) {
		rc = cmd_fail(&err);
		goto out;
	}
	/*
	 * The window is held by inflight; the library's own limit stays
	 * above it, so that it never blocks a message the window let
	 * through.
	 */
	memset(&po, 0, sizeof po);
	po.batch_size = (uint32_t)batch;
	po.max_pending = BENCH_LATENCY_WINDOW * 2;
	/* Latency first: each message goes at once, and while requests
	 * wait for their acks the next ones gather into one. */
	po.linger_ms = TP_LINGER_NONE;
	memset(&err, 0, sizeof err);
	if (tp_producer_new(conn, l.station, &po, bench_latency_ack_cb, &l,
	    &p, &err) != TP_OK) {
		rc = cmd_fail(&err);
		goto out;
	}
	if (pthread_create(&l.thread, NULL, bench_latency_consumer_main,
	    &l) != 0) {
		rc = cmd_error("cannot start the consumer thread");
		goto out;
	}
	started = 1;

	sent = bench_latency_send(&l, p, rate, pool, npool, buf,
	    (size_t)size, lag, &start, &end);
	pthread_mutex_lock(&l.lock);
	l.deadline_ns = bench_now_ns() +
	    (int64_t)BENCH_LATENCY_WAIT_MS * 1000000;
	pthread_mutex_unlock(&l.lock);
	pthread_join(l.thread, NULL);
	started = 0;
	code = tp_producer_flush(p, BENCH_LATENCY_FLUSH_MS);
	pthread_mutex_lock(&l.lock);
	failed = l.failed;
	pthread_mutex_unlock(&l.lock);
	bench_latency_print(ctx, label, rate, (size_t)size, sent, l.received,
	    end > start ? (double)sent / ((double)(end - start) / 1e9) : 0,
	    l.hist, lag);
	if (failed > 0)
		rc = cmd_error("%" PRIu64 " messages failed: %s", failed,
		    l.why);
	else if (code != TP_OK)
		rc = cmd_error("acks did not all come within %d seconds: %s",
		    BENCH_LATENCY_FLUSH_MS / 1000, tp_strerror(code));
	else if (l.cfailed)
		rc = cmd_error("consumer: %s", l.cwhy);
	else if (l.received < sent)
		rc = cmd_error("only %" PRIu64 " of %" PRIu64 " messages came "
		    "within %d seconds of the last", l.received, sent,
		    BENCH_LATENCY_WAIT_MS / 1000);
out:
	if (started) {
		pthread_mutex_lock(&l.lock);
		l.deadline_ns = 0;
		pthread_mutex_unlock(&l.lock);
		pthread_join(l.thread, NULL);
	}
	tp_producer_free(p);
	tp_consumer_free(l.consumer);
	tp_close(cconn);
	memset(&err, 0, sizeof err);
	if (grouped && tp_group_delete(conn, l.station, group, &err) !=
	    TP_OK && rc == CMD_OK)
		rc = cmd_fail(&err);
	tp_close(conn);
	free(lag);
	free(l.hist);
	free(buf);
	free(pool);
	pthread_mutex_destroy(&l.lock);
	pthread_cond_destroy(&l.cond);
	if (fflush(stdout) != 0 && rc == CMD_OK)
		rc = cmd_error("standard output: write error");
	return (rc);
}
