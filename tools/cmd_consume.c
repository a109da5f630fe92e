/*
 * tupelo consume and tupelo read: print messages, one per line, as raw
 * payloads or JSON objects. consume settles what it printed through a
 * consumer group (acks it, or nacks or leaves it as asked), but only
 * after standard output was flushed, and commits before it exits, so a
 * message is either printed or delivered again.
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/compat.h"
#include "tools/cmd.h"
#include "tools/output.h"

#define CONSUME_BACKLOG		256	/* printed messages awaiting ack */
#define CONSUME_UNACKED		1000	/* deliveries in flight */
#define CONSUME_SLICE_MS	250	/* longest wait between stop checks */
#define CONSUME_COMMIT_MS	30000	/* wait for acks to be durable */
#define READ_BATCH		1000	/* messages per read request */

static int	consume_exec(struct cmd_ctx *, int, char **);
static int	read_exec(struct cmd_ctx *, int, char **);

const struct cmd_entry cmd_consume_entries[] = {
	{ "consume", NULL, "NAME -g GROUP [-n COUNT] [--timeout SECONDS] "
	    "[--from all|new|seq:N|time:T|last:N] [--ack-wait SECONDS] "
	    "[--max-deliveries N] [--backoff MS[,MS...]] "
	    "[--max-ack-pending N] [--nack [--nack-delay SECONDS]] "
	    "[--no-ack] [--ephemeral]",
	    "Print messages as a member of consumer group GROUP, each payload\n"
	    "on its own line, and ack them. Stops after COUNT messages, after\n"
	    "SECONDS without a new one, or on SIGINT or SIGTERM.\n"
	    "  --name NAME          consumer name shown by the broker\n"
	    "  --max-unacked N      deliveries in flight (default 1000)\n"
	    "  --nack               nack each message instead of acking it:\n"
	    "                       it comes again (after --nack-delay), or\n"
	    "                       goes to the dead-letter station\n"
	    "  --no-ack             print only: messages come again after\n"
	    "                       the ack wait\n"
	    "  --ephemeral          a group of this consumer alone, gone when\n"
	    "                       it stops (no -g needed)\n"
	    "Group settings (--from when the group is new; the others also\n"
	    "change an existing group):\n"
	    "  --from POSITION      where a new group starts (default all)\n"
	    "  --ack-wait SECONDS   redeliver unacked after (default 30*)\n"
	    "  --max-deliveries N   then dead-letter (default 5*, 0: none)\n"
	    "  --backoff MS,...     delays before each redelivery, the last\n"
	    "                       repeating, instead of the ack wait\n"
	    "  --max-ack-pending N  unacked in the group (default 10000*)\n"
	    "* the broker's default, as configured. SECONDS may have\n"
	    "decimals (0.5). With --json, one object per line: seq, time,\n"
	    "time_ns, deliveries, headers, msg_id, and payload (or\n"
	    "payload_base64 when it is not UTF-8).\n",
	    consume_exec },
	{ "read", NULL, "NAME [--from SEQ] [-n COUNT]",
	    "Print stored messages from sequence SEQ (default the first kept)\n"
	    "on, without a consumer group: up to COUNT, or to the end.\n"
	    "Output as for consume.\n",
	    read_exec },
	{ NULL, NULL, NULL, NULL, NULL }
};

/* What consume does with a message it printed. */
enum consume_settle {
	CONSUME_ACK,
	CONSUME_NACK,
	CONSUME_NO_ACK
};

struct consume_run {
	uint64_t		count;		/* stop after, 0: never */
	int64_t			timeout_ms;	/* idle time to stop, -1 */
	enum consume_settle	settle;
	uint32_t		nack_delay_ms;
};

static volatile sig_atomic_t	consume_stop;

static void
consume_signal(int sig)
{
	(void)sig;
	consume_stop = 1;
}

/* Print one message as the context asks. */
void
cmd_consume_print(const struct cmd_ctx *ctx, const struct tp_msg *m)
{
	const void	*payload;
	const char	*key, *value;
	char		 t[OUTPUT_TIME_MAX];
	size_t		 len, i;

	payload = tp_msg_payload(m, &len);
	if (!ctx->json) {
		fwrite(payload, 1, len, stdout);
		fputc('\n', stdout);
		return;
	}
	output_time(t, sizeof t, tp_msg_time_ns(m));
	printf("{\"seq\":%" PRIu64 ",\"time\":\"%s\",\"time_ns\":%" PRId64
	    ",\"deliveries\":%" PRIu32 ",\"headers\":{", tp_msg_seq(m), t,
	    tp_msg_time_ns(m), tp_msg_deliveries(m));
	for (i = 0; i < tp_msg_nheaders(m); i++) {
		tp_msg_header_at(m, i, &key, &value);
		if (i > 0)
			fputc(',', stdout);
		output_json_str(stdout, key);
		fputc(':', stdout);
		output_json_str(stdout, value);
	}
	fputc('}', stdout);
	if (*tp_msg_id(m) != '\0') {
		fputs(",\"msg_id\":", stdout);
		output_json_str(stdout, tp_msg_id(m));
	}
	if (output_utf8_valid(payload, len)) {
		fputs(",\"payload\":", stdout);
		output_json_string(stdout, payload, len);
	} else {
		fputs(",\"payload_base64\":", stdout);
		output_json_base64(stdout, payload, len);
	}
	fputs("}\n", stdout);
}

/* Flush standard output, then settle and free what it holds. */
static int
consume_settle(const struct consume_run *run, struct tp_consumer *c,
    struct tp_msg **backlog, size_t *n)
{
	struct tp_err	err;
	size_t		i;
	int		rc = CMD_OK, code = TP_OK;

	if (*n == 0)
		return (CMD_OK);
	if (fflush(stdout) != 0)
		rc = cmd_error("standard output: write error");
	memset(&err, 0, sizeof err);
	for (i = 0; i < *n; i++) {
		if (rc == CMD_OK && run->settle == CONSUME_ACK)
			code = tp_ack(c, backlog[i], &err);
		else if (rc == CMD_OK && run->settle == CONSUME_NACK)
			code = tp_nack(c, backlog[i], run->nack_delay_ms, &err);
		if (code != TP_OK && rc == CMD_OK)
			rc = cmd_fail(&err);
		tp_msg_free(backlog[i]);
	}
	*n = 0;
	return (rc);
}

/* Print and settle messages until the run says to stop. */
static int
consume_loop(const struct cmd_ctx *ctx, struct tp_consumer *c,
    const struct consume_run *run)
{
	struct tp_msg	*backlog[CONSUME_BACKLOG], *m;
	struct tp_err	 err;
	size_t		 nb = 0;
	uint64_t	 got = 0;
	int64_t		 last = tp_now_ms(), left;
	int		 code, rc = CMD_OK, slice;

	memset(&err, 0, sizeof err);
	while (!consume_stop && (run->count == 0 || got < run->count)) {
		code = tp_consume(c, 0, &m, &err);
		if (code == TP_ETIMEDOUT) {
			/* Nothing at hand: settle before waiting. */
			rc = consume_settle(run, c, backlog, &nb);
			if (rc != CMD_OK)
				break;
			slice = CONSUME_SLICE_MS;
			if (run->timeout_ms >= 0) {
				left = last + run->timeout_ms -
				    tp_now_ms();
				if (left <= 0)
					break;
				if (left < slice)
					slice = (int)left;
			}
			code = tp_consume(c, slice, &m, &err);
			if (code == TP_ETIMEDOUT)
				continue;
		}
		if (code == TP_EDONE)
			break;
		if (code != TP_OK) {
			rc = cmd_fail(&err);
			break;
		}
		cmd_consume_print(ctx, m);
		backlog[nb++] = m;
		got++;
		last = tp_now_ms();
		if (nb == CONSUME_BACKLOG &&
		    (rc = consume_settle(run, c, backlog, &nb)) != CMD_OK)
			break;
	}
	code = consume_settle(run, c, backlog, &nb);
	if (code != CMD_OK && rc == CMD_OK)
		rc = code;
	memset(&err, 0, sizeof err);
	if (tp_consumer_commit(c, CONSUME_COMMIT_MS, &err) != TP_OK &&
	    rc == CMD_OK)
		rc = cmd_fail(&err);
	return (rc);
}

static int
consume_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	enum {
		OPT_TIMEOUT = 0x200, OPT_NAME, OPT_UNACKED, OPT_NACK,
		OPT_NACK_DELAY, OPT_NO_ACK, OPT_EPHEMERAL
	};
	static const struct option	 opts[] = {
		CMD_COMMON_OPTIONS,
		CMD_GROUP_OPTIONS,
		{ "group", required_argument, NULL, 'g' },
		{ "count", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "max-unacked", required_argument, NULL, OPT_UNACKED },
		{ "nack", no_argument, NULL, OPT_NACK },
		{ "nack-delay", required_argument, NULL, OPT_NACK_DELAY },
		{ "no-ack", no_argument, NULL, OPT_NO_ACK },
		{ "ephemeral", no_argument, NULL, OPT_EPHEMERAL },
		{ NULL, 0, NULL, 0 }
	};
	struct tp_consumer_opts		 co;
	struct consume_run		 run;
	struct cmd_group		 g;
	struct tp_consumer		*c = NULL;
	struct tp_conn			*conn = NULL;
	struct tp_err			 err;
	struct sigaction		 sa;
	const char			*group = NULL;
	uint64_t			 secs = 0, unacked = 0, delay = 0;
	int				 ch, rc, nack = 0, no_ack = 0;
	int				 delayed = 0;

	memset(&co, 0, sizeof co);
	memset(&run, 0, sizeof run);
	memset(&g, 0, sizeof g);
	run.timeout_ms = -1;
	while ((ch = getopt_long(argc, argv, "hu:g:n:", opts, NULL)) != -1) {
		rc = CMD_CONTINUE;
		switch (ch) {
		case 'g':
			group = optarg;
			break;
		case 'n':
			rc = cmd_number(ctx, "-n", optarg, 1, UINT64_MAX,
			    &run.count);
			break;
		case OPT_TIMEOUT:
			rc = cmd_number(ctx, "--timeout", optarg, 0,
			    INT32_MAX / 1000, &secs);
			run.timeout_ms = (int64_t)secs * 1000;
			break;
		case OPT_NAME:
			co.name = optarg;
			break;
		case OPT_UNACKED:
			rc = cmd_number(ctx, "--max-unacked", optarg, 1,
			    UINT32_MAX, &unacked);
			break;
		case OPT_NACK:
			nack = 1;
			break;
		case OPT_NACK_DELAY:
			rc = cmd_seconds(ctx, "--nack-delay", optarg, 0,
			    UINT32_MAX, &delay);
			delayed = 1;
			break;
		case OPT_NO_ACK:
			no_ack = 1;
			break;
		case OPT_EPHEMERAL:
			co.ephemeral = 1;
			break;
		default:
			rc = cmd_group_option(ctx, ch, &g);
			break;
		}
		if (rc != CMD_CONTINUE)
			return (rc);
	}
	if (argc - optind != 1 || (group == NULL && !co.ephemeral))
		return (cmd_usage(ctx, NULL));
	if (nack && no_ack)
		return (cmd_usage(ctx, "--nack and --no-ack exclude each "
		    "other"));
	if (delayed && !nack)
		return (cmd_usage(ctx, "--nack-delay needs --nack"));
	run.settle = nack ? CONSUME_NACK : no_ack ? CONSUME_NO_ACK :
	    CONSUME_ACK;
	run.nack_delay_ms = (uint32_t)delay;
	if (g.set)
		co.group = &g.opts;
	/* No more delivered than wanted: extras would count a delivery. */
	co.max_unacked = unacked != 0 ? (uint32_t)unacked : CONSUME_UNACKED;
	if (run.count != 0 && unacked == 0 && run.count < co.max_unacked)
		co.max_unacked = (uint32_t)run.count;
	co.max_messages = run.count;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = consume_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if ((rc = cmd_connect(ctx, &conn)) != CMD_OK)
		return (rc);
	memset(&err, 0, sizeof err);
	if (tp_consumer_new(conn, argv[optind], group, &co, &c, &err) !=
	    TP_OK)
		rc = cmd_fail(&err);
	else
		rc = consume_loop(ctx, c, &run);
	tp_consumer_free(c);
	tp_close(conn);
	return (rc);
}

static int
read_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option	  opts[] = {
		CMD_COMMON_OPTIONS,
		{ "from", required_argument, NULL, 'f' },
		{ "count", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	struct tp_conn			 *conn = NULL;
	struct tp_msg			**msgs;
	struct tp_err			  err;
	uint64_t			  from = 0, count = 0, got = 0, want;
	uint64_t			  prev;
	size_t				  i, n;
	int				  ch, rc;

	while ((ch = getopt_long(argc, argv, "hu:f:n:", opts, NULL)) != -1) {
		rc = CMD_CONTINUE;
		switch (ch) {
		case 'f':
			rc = cmd_number(ctx, "--from", optarg, 0, UINT64_MAX,
			    &from);
			break;
		case 'n':
			rc = cmd_number(ctx, "-n", optarg, 1, UINT64_MAX,
			    &count);
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
	if ((rc = cmd_connect(ctx, &conn)) != CMD_OK)
		return (rc);
	memset(&err, 0, sizeof err);
	while (count == 0 || got < count) {
		want = READ_BATCH;
		if (count != 0 && count - got < want)
			want = count - got;
		if (tp_read(conn, argv[optind], from, (size_t)want, &msgs, &n,
		    &err) != TP_OK) {
			rc = cmd_fail(&err);
			break;
		}
		if (n == 0)
			break;
		prev = from;
		for (i = 0; i < n; i++) {
			cmd_consume_print(ctx, msgs[i]);
			from = tp_msg_seq(msgs[i]) + 1;
			tp_msg_free(msgs[i]);
		}
		free(msgs);
		got += n;
		if (from <= prev) {
			rc = cmd_error("broker went backwards at seq %" PRIu64,
			    from - 1);
			break;
		}
	}
	tp_close(conn);
	if (fflush(stdout) != 0 && rc == CMD_OK)
		rc = cmd_error("standard output: write error");
	return (rc);
}
