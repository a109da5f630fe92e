/*
 * tupelo group ls|info|create|rm: consumer group administration, and the
 * parsing of the group settings that consume shares.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cmd.h"
#include "tools/output.h"

#define GROUP_NAME_CELL	64	/* characters of a consumer name shown */

static int	group_ls(struct cmd_ctx *, int, char **);
static int	group_info(struct cmd_ctx *, int, char **);
static int	group_create(struct cmd_ctx *, int, char **);
static int	group_rm(struct cmd_ctx *, int, char **);

const struct cmd_entry cmd_group_entries[] = {
	{ "group", "ls", "STATION",
	    "List the consumer groups of STATION: members connected, ack\n"
	    "floor (every seq up to it is acked), highest seq delivered,\n"
	    "deliveries pending an ack, messages not yet acked (lag),\n"
	    "redeliveries and dead letters.\n", group_ls },
	{ "group", "info", "STATION GROUP",
	    "Show a consumer group's position, counters and settings.\n",
	    group_info },
	{ "group", "create", "STATION GROUP "
	    "[--from all|new|seq:N|time:T|last:N] [--ack-wait SECONDS] "
	    "[--max-deliveries N] [--backoff MS[,MS...]] "
	    "[--max-ack-pending N]",
	    "Create a consumer group before any consumer joins it, so that\n"
	    "it keeps messages from its start position on.\n"
	    "  --from POSITION      all (default), new, seq:N, time:T (RFC\n"
	    "                       3339 or Unix seconds) or last:N\n"
	    "  --ack-wait SECONDS   redeliver unacked after (default 30*)\n"
	    "  --max-deliveries N   then dead-letter (default 5*, 0: none)\n"
	    "  --backoff MS,...     delays before each redelivery, the last\n"
	    "                       repeating, instead of the ack wait\n"
	    "  --max-ack-pending N  unacked in the group (default 10000*)\n"
	    "* the broker's default, as configured. SECONDS may have\n"
	    "decimals (0.5).\n",
	    group_create },
	{ "group", "rm", "STATION GROUP",
	    "Delete a consumer group; its consumers are disconnected.\n",
	    group_rm },
	{ NULL, NULL, NULL, NULL, NULL }
};

/* Is s a start position: a keyword, or a prefix with a value? */
static int
group_start_valid(const char *s)
{
	static const char *const	 prefixes[] = {
		"seq:", "time:", "last:"
	};
	size_t				 i, len;

	if (strcmp(s, "all") == 0 || strcmp(s, "new") == 0)
		return (1);
	for (i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
		len = strlen(prefixes[i]);
		if (strncmp(s, prefixes[i], len) == 0 && s[len] != '\0')
			return (1);
	}
	return (0);
}

/* Parse "MS[,MS...]" into g's delays. */
static int
group_backoff(struct cmd_ctx *ctx, const char *arg, struct cmd_group *g)
{
	char		 buf[32];
	const char	*p = arg, *comma;
	size_t		 len, n = 0;
	uint64_t	 v;
	int		 rc;

	for (;;) {
		if ((comma = strchr(p, ',')) == NULL)
			comma = p + strlen(p);
		if (n == CMD_BACKOFF_MAX)
			return (cmd_usage(ctx, "more than %d --backoff delays",
			    CMD_BACKOFF_MAX));
		if ((len = (size_t)(comma - p)) >= sizeof buf)
			return (cmd_usage(ctx, "bad --backoff '%s': want "
			    "milliseconds, separated by commas", arg));
		memcpy(buf, p, len);
		buf[len] = '\0';
		rc = cmd_number(ctx, "--backoff delay", buf, 1, UINT32_MAX,
		    &v);
		if (rc != CMD_CONTINUE)
			return (rc);
		g->backoff[n++] = (uint32_t)v;
		if (*comma == '\0')
			break;
		p = comma + 1;
	}
	g->opts.backoff_ms = g->backoff;
	g->opts.nbackoff = n;
	return (CMD_CONTINUE);
}

int
cmd_group_option(struct cmd_ctx *ctx, int ch, struct cmd_group *g)
{
	uint64_t	v;
	int		rc = CMD_CONTINUE;

	switch (ch) {
	case CMD_OPT_FROM:
		if (!group_start_valid(optarg))
			return (cmd_usage(ctx, "bad --from '%s': want all, "
			    "new, seq:N, time:T or last:N", optarg));
		g->opts.start = optarg;
		break;
	case CMD_OPT_ACK_WAIT:
		rc = cmd_seconds(ctx, "--ack-wait", optarg, 1, UINT32_MAX, &v);
		g->opts.ack_wait_ms = (uint32_t)v;
		break;
	case CMD_OPT_MAX_DELIVERIES:
		rc = cmd_number(ctx, "--max-deliveries", optarg, 0, INT32_MAX,
		    &v);
		g->opts.max_deliveries = v == 0 ? -1 : (int32_t)v;
		break;
	case CMD_OPT_BACKOFF:
		rc = group_backoff(ctx, optarg, g);
		break;
	case CMD_OPT_MAX_ACK_PENDING:
		rc = cmd_number(ctx, "--max-ack-pending", optarg, 1,
		    UINT32_MAX, &v);
		g->opts.max_ack_pending = (uint32_t)v;
		break;
	default:
		return (cmd_option(ctx, ch));
	}
	g->set = 1;
	return (rc);
}

/* The fields of a group's JSON object, without the closing brace. */
static void
group_json(const struct tp_group_info *gi)
{
	char	created[OUTPUT_TIME_MAX];

	output_time(created, sizeof created, gi->created_ns);
	fputs("{\"station\":", stdout);
	output_json_str(stdout, gi->station);
	fputs(",\"group\":", stdout);
	output_json_str(stdout, gi->group);
	printf(",\"members\":%" PRIu32 ",\"ack_floor\":%" PRIu64
	    ",\"delivered_seq\":%" PRIu64 ",\"pending\":%" PRIu32
	    ",\"lag\":%" PRIu64 ",\"redelivered\":%" PRIu64
	    ",\"dead_lettered\":%" PRIu64 ",\"skipped\":%" PRIu64,
	    gi->members, gi->ack_floor, gi->delivered_seq, gi->pending,
	    gi->lag, gi->redelivered, gi->dead_lettered, gi->skipped);
	printf(",\"ack_wait_ms\":%" PRIu32 ",\"max_deliveries\":%" PRId32
	    ",\"max_ack_pending\":%" PRIu32 ",\"created\":\"%s\""
	    ",\"created_ns\":%" PRId64, gi->ack_wait_ms, gi->max_deliveries,
	    gi->max_ack_pending, created, gi->created_ns);
}

static int
group_ls(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const char *const	 names[] = {
		"GROUP", "MEMBERS", "ACK_FLOOR", "DELIVERED", "PENDING", "LAG",
		"REDELIVERED", "DEAD"
	};
	struct tp_group_info		*v = NULL;
	struct output_table		*t = NULL;
	struct tp_conn			*conn = NULL;
	struct tp_err			 err;
	char				 num[7][24];
	const char			*row[8];
	size_t				 i, j, n = 0;
	int				 rc;

	if ((rc = cmd_common_options(ctx, argc, argv)) != CMD_CONTINUE)
		return (rc);
	if (argc - optind != 1)
		return (cmd_usage(ctx, NULL));
	if ((rc = cmd_connect(ctx, &conn)) != CMD_OK)
		return (rc);
	memset(&err, 0, sizeof err);
	if (tp_group_list(conn, argv[optind], &v, &n, &err) != TP_OK) {
		rc = cmd_fail(&err);
		goto out;
	}
	if (ctx->json) {
		fputc('[', stdout);
		for (i = 0; i < n; i++) {
			if (i > 0)
				fputc(',', stdout);
			group_json(&v[i]);
			fputc('}', stdout);
		}
		fputs("]\n", stdout);
		goto out;
	}
	if ((t = output_table_new(8, names)) == NULL)
		goto nomem;
	for (i = 0; i < n; i++) {
		snprintf(num[0], sizeof num[0], "%" PRIu32, v[i].members);
		snprintf(num[1], sizeof num[1], "%" PRIu64, v[i].ack_floor);
		snprintf(num[2], sizeof num[2], "%" PRIu64,
		    v[i].delivered_seq);
		snprintf(num[3], sizeof num[3], "%" PRIu32, v[i].pending);
		snprintf(num[4], sizeof num[4], "%" PRIu64, v[i].lag);
		snprintf(num[5], sizeof num[5], "%" PRIu64, v[i].redelivered);
		snprintf(num[6], sizeof num[6], "%" PRIu64,
		    v[i].dead_lettered);
		row[0] = v[i].group;
		for (j = 0; j < 7; j++)
			row[j + 1] = num[j];
		if (output_table_add(t, row) != 0)
			goto nomem;
	}
	output_table_print(t, stdout);
	goto out;
nomem:
	rc = cmd_error("out of memory");
out:
	output_table_free(t);
	free(v);
	tp_close(conn);
	return (rc);
}

/* The members line: their number, then their names, escaped. */
static void
group_members(const struct tp_group_info *gi, char **names, size_t n)
{
	char	cell[GROUP_NAME_CELL * 4 + 4];
	size_t	i;

	printf("%-20s %" PRIu32, "members", gi->members);
	for (i = 0; i < n; i++) {
		output_escape(cell, sizeof cell, names[i], strlen(names[i]),
		    GROUP_NAME_CELL);
		printf("%s%s", i == 0 ? " (" : ", ",
		    *cell != '\0' ? cell : "-");
	}
	printf("%s\n", n > 0 ? ")" : "");
}

static int
group_info(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct tp_group_info	  gi;
	struct tp_conn		 *conn = NULL;
	struct tp_err		  err;
	char			**names = NULL;
	char			  created[OUTPUT_TIME_MAX];
	char			  wait[OUTPUT_SECONDS_MAX];
	size_t			  i, n = 0;
	int			  rc;

	if ((rc = cmd_common_options(ctx, argc, argv)) != CMD_CONTINUE)
		return (rc);
	if (argc - optind != 2)
		return (cmd_usage(ctx, NULL));
	if ((rc = cmd_connect(ctx, &conn)) != CMD_OK)
		return (rc);
	memset(&err, 0, sizeof err);
	if (tp_group_info(conn, argv[optind], argv[optind + 1], &gi,
	    &err) != TP_OK ||
	    tp_group_members(conn, argv[optind], argv[optind + 1], &names,
	    &n, &err) != TP_OK) {
		rc = cmd_fail(&err);
		goto out;
	}
	if (ctx->json) {
		group_json(&gi);
		fputs(",\"consumers\":[", stdout);
		for (i = 0; i < n; i++) {
			if (i > 0)
				fputc(',', stdout);
			output_json_str(stdout, names[i]);
		}
		fputs("]}\n", stdout);
		goto out;
	}
	output_time(created, sizeof created, gi.created_ns);
	output_seconds(wait, sizeof wait, gi.ack_wait_ms);
	printf("%-20s %s\n", "station", gi.station);
	printf("%-20s %s\n", "group", gi.group);
	group_members(&gi, names, n);
	printf("%-20s %" PRIu64 "\n", "ack_floor", gi.ack_floor);
	printf("%-20s %" PRIu64 "\n", "delivered_seq", gi.delivered_seq);
	printf("%-20s %" PRIu32 "\n", "pending", gi.pending);
	printf("%-20s %" PRIu64 "\n", "lag", gi.lag);
	printf("%-20s %" PRIu64 "\n", "redelivered", gi.redelivered);
	printf("%-20s %" PRIu64 "\n", "dead_lettered", gi.dead_lettered);
	printf("%-20s %" PRIu64 "\n", "skipped", gi.skipped);
	printf("%-20s %ss\n", "ack_wait", wait);
	if (gi.max_deliveries < 0)
		printf("%-20s %s\n", "max_deliveries", "none");
	else
		printf("%-20s %" PRId32 "\n", "max_deliveries",
		    gi.max_deliveries);
	printf("%-20s %" PRIu32 "\n", "max_ack_pending", gi.max_ack_pending);
	printf("%-20s %s\n", "created", created);
out:
	free(names);
	tp_close(conn);
	return (rc);
}

static int
group_create(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option	opts[] = {
		CMD_COMMON_OPTIONS,
		CMD_GROUP_OPTIONS,
		{ NULL, 0, NULL, 0 }
	};
	struct cmd_group		g;
	struct tp_conn			*conn = NULL;
	struct tp_err			err;
	int				ch, rc;

	memset(&g, 0, sizeof g);
	while ((ch = getopt_long(argc, argv, "hu:", opts, NULL)) != -1) {
		if ((rc = cmd_group_option(ctx, ch, &g)) != CMD_CONTINUE)
			return (rc);
	}
	if (argc - optind != 2)
		return (cmd_usage(ctx, NULL));
	if ((rc = cmd_connect(ctx, &conn)) != CMD_OK)
		return (rc);
	memset(&err, 0, sizeof err);
	if (tp_group_create(conn, argv[optind], argv[optind + 1], &g.opts,
	    &err) != TP_OK)
		rc = cmd_fail(&err);
	else if (ctx->json) {
		fputs("{\"station\":", stdout);
		output_json_str(stdout, argv[optind]);
		fputs(",\"group\":", stdout);
		output_json_str(stdout, argv[optind + 1]);
		fputs(",\"created\":true}\n", stdout);
	} else
		printf("created group %s of station %s\n", argv[optind + 1],
		    argv[optind]);
	tp_close(conn);
	return (rc);
}

static int
group_rm(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct tp_conn	*conn = NULL;
	struct tp_err	 err;
	int		 rc;

	if ((rc = cmd_common_options(ctx, argc, argv)) != CMD_CONTINUE)
		return (rc);
	if (argc - optind != 2)
		return (cmd_usage(ctx, NULL));
	if ((rc = cmd_connect(ctx, &conn)) != CMD_OK)
		return (rc);
	memset(&err, 0, sizeof err);
	if (tp_group_delete(conn, argv[optind], argv[optind + 1], &err) !=
	    TP_OK)
		rc = cmd_fail(&err);
	else if (ctx->json) {
		fputs("{\"station\":", stdout);
		output_json_str(stdout, argv[optind]);
		fputs(",\"group\":", stdout);
		output_json_str(stdout, argv[optind + 1]);
		fputs(",\"deleted\":true}\n", stdout);
	} else
		printf("deleted group %s of station %s\n", argv[optind + 1],
		    argv[optind]);
	tp_close(conn);
	return (rc);
}
