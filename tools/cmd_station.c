/*
 * tupelo station create|ls|info|rm: station administration.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cmd.h"
#include "tools/output.h"

static int	station_create(struct cmd_ctx *, int, char **);
static int	station_ls(struct cmd_ctx *, int, char **);
static int	station_info(struct cmd_ctx *, int, char **);
static int	station_rm(struct cmd_ctx *, int, char **);

const struct cmd_entry cmd_station_entries[] = {
	{ "station", "create", "NAME [--retention-age SECONDS] "
	    "[--retention-messages N] [--retention-bytes BYTES] "
	    "[--retention-ack] [--durability sync|interval] "
	    "[--max-message-size BYTES] [--dedup-window SECONDS]",
	    "Create a station. Retention limits are off unless given; BYTES\n"
	    "take a K, M or G suffix. --retention-ack drops messages once\n"
	    "every consumer group acked them. This version stores the\n"
	    "retention settings but does not enforce them yet. Durability\n"
	    "and the message size limit default to the broker's.\n"
	    "--dedup-window is how long a producer message id is remembered\n"
	    "to drop duplicates; default the broker's (120 seconds).\n",
	    station_create },
	{ "station", "ls", "",
	    "List stations: name, messages kept, first and last sequence\n"
	    "number and stored bytes.\n", station_ls },
	{ "station", "info", "NAME",
	    "Show a station's counters and settings.\n", station_info },
	{ "station", "rm", "NAME",
	    "Delete a station with all its messages and groups.\n",
	    station_rm },
	{ NULL, NULL, NULL, NULL, NULL }
};

static const char *
station_durability(int d)
{
	switch (d) {
	case TP_DURABILITY_SYNC:
		return ("sync");
	case TP_DURABILITY_INTERVAL:
		return ("interval");
	default:
		return ("default");
	}
}

/* Parse only the common options; the operands stay at argv[optind]. */
static int
station_options(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option	opts[] = {
		CMD_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 }
	};
	int				ch, rc;

	while ((ch = getopt_long(argc, argv, "hu:", opts, NULL)) != -1) {
		if ((rc = cmd_option(ctx, ch)) != CMD_CONTINUE)
			return (rc);
	}
	return (CMD_CONTINUE);
}

static void
station_json(const struct tp_station_info *si)
{
	char	created[OUTPUT_TIME_MAX];

	output_time(created, sizeof created, si->created_ns);
	fputs("{\"name\":", stdout);
	output_json_str(stdout, si->name);
	printf(",\"messages\":%" PRIu64 ",\"first_seq\":%" PRIu64
	    ",\"last_seq\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"groups\":%"
	    PRIu32 ",\"created\":\"%s\",\"created_ns\":%" PRId64,
	    si->messages, si->first_seq, si->last_seq, si->bytes, si->groups,
	    created, si->created_ns);
	printf(",\"retention_age_s\":%" PRIu64 ",\"retention_messages\":%"
	    PRIu64 ",\"retention_bytes\":%" PRIu64 ",\"retention_ack\":%s"
	    ",\"durability\":\"%s\",\"max_message_size\":%" PRIu32
	    ",\"dedup_window_s\":%" PRIu64 "}",
	    si->opts.retention_age_s, si->opts.retention_messages,
	    si->opts.retention_bytes, si->opts.retention_ack ? "true" : "false",
	    station_durability(si->opts.durability),
	    si->opts.max_message_size, si->opts.dedup_window_s);
}

static int
station_create(struct cmd_ctx *ctx, int argc, char **argv)
{
	enum {
		OPT_AGE = 0x200, OPT_MESSAGES, OPT_BYTES, OPT_ACK,
		OPT_DURABILITY, OPT_MAXMSG, OPT_DEDUP
	};
	static const struct option	opts[] = {
		CMD_COMMON_OPTIONS,
		{ "retention-age", required_argument, NULL, OPT_AGE },
		{ "retention-messages", required_argument, NULL, OPT_MESSAGES },
		{ "retention-bytes", required_argument, NULL, OPT_BYTES },
		{ "retention-ack", no_argument, NULL, OPT_ACK },
		{ "durability", required_argument, NULL, OPT_DURABILITY },
		{ "max-message-size", required_argument, NULL, OPT_MAXMSG },
		{ "dedup-window", required_argument, NULL, OPT_DEDUP },
		{ NULL, 0, NULL, 0 }
	};
	struct tp_station_opts		so;
	struct tp_conn			*conn = NULL;
	struct tp_err			err;
	uint64_t			v;
	int				ch, rc;

	memset(&so, 0, sizeof so);
	while ((ch = getopt_long(argc, argv, "hu:", opts, NULL)) != -1) {
		rc = CMD_CONTINUE;
		switch (ch) {
		case OPT_AGE:
			rc = cmd_number(ctx, "--retention-age", optarg, 0,
			    UINT64_MAX, &so.retention_age_s);
			break;
		case OPT_MESSAGES:
			rc = cmd_number(ctx, "--retention-messages", optarg, 0,
			    UINT64_MAX, &so.retention_messages);
			break;
		case OPT_BYTES:
			rc = cmd_bytes(ctx, "--retention-bytes", optarg, 0,
			    UINT64_MAX, &so.retention_bytes);
			break;
		case OPT_ACK:
			so.retention_ack = 1;
			break;
		case OPT_DURABILITY:
			if (strcmp(optarg, "sync") == 0)
				so.durability = TP_DURABILITY_SYNC;
			else if (strcmp(optarg, "interval") == 0)
				so.durability = TP_DURABILITY_INTERVAL;
			else
				rc = cmd_usage(ctx, "bad --durability '%s': "
				    "want sync or interval", optarg);
			break;
		case OPT_MAXMSG:
			rc = cmd_bytes(ctx, "--max-message-size", optarg, 1,
			    UINT32_MAX, &v);
			so.max_message_size = (uint32_t)v;
			break;
		case OPT_DEDUP:
			rc = cmd_number(ctx, "--dedup-window", optarg, 1,
			    UINT64_MAX, &so.dedup_window_s);
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
	if (tp_station_create(conn, argv[optind], &so, &err) != TP_OK)
		rc = cmd_fail(&err);
	else if (ctx->json) {
		fputs("{\"name\":", stdout);
		output_json_str(stdout, argv[optind]);
		fputs(",\"created\":true}\n", stdout);
	} else
		printf("created station %s\n", argv[optind]);
	tp_close(conn);
	return (rc);
}

static int
station_ls(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const char *const	 names[] = {
		"NAME", "MESSAGES", "FIRST", "LAST", "BYTES"
	};
	struct tp_station_info		*v = NULL;
	struct output_table		*t = NULL;
	struct tp_conn			*conn = NULL;
	struct tp_err			 err;
	char				 num[4][24];
	const char			*row[5];
	size_t				 i, n = 0;
	int				 rc;

	if ((rc = station_options(ctx, argc, argv)) != CMD_CONTINUE)
		return (rc);
	if (optind != argc)
		return (cmd_usage(ctx, NULL));
	if ((rc = cmd_connect(ctx, &conn)) != CMD_OK)
		return (rc);
	memset(&err, 0, sizeof err);
	if (tp_station_list(conn, &v, &n, &err) != TP_OK) {
		rc = cmd_fail(&err);
		goto out;
	}
	if (ctx->json) {
		fputc('[', stdout);
		for (i = 0; i < n; i++) {
			if (i > 0)
				fputc(',', stdout);
			station_json(&v[i]);
		}
		fputs("]\n", stdout);
		goto out;
	}
	if ((t = output_table_new(5, names)) == NULL)
		goto nomem;
	for (i = 0; i < n; i++) {
		snprintf(num[0], sizeof num[0], "%" PRIu64, v[i].messages);
		snprintf(num[1], sizeof num[1], "%" PRIu64, v[i].first_seq);
		snprintf(num[2], sizeof num[2], "%" PRIu64, v[i].last_seq);
		snprintf(num[3], sizeof num[3], "%" PRIu64, v[i].bytes);
		row[0] = v[i].name;
		row[1] = num[0];
		row[2] = num[1];
		row[3] = num[2];
		row[4] = num[3];
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

static void
station_limit(const char *name, uint64_t v, const char *unit)
{
	if (v == 0)
		printf("%-20s none\n", name);
	else
		printf("%-20s %" PRIu64 "%s\n", name, v, unit);
}

static int
station_info(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct tp_station_info	 si;
	struct tp_conn		*conn = NULL;
	struct tp_err		 err;
	char			 created[OUTPUT_TIME_MAX];
	int			 rc;

	if ((rc = station_options(ctx, argc, argv)) != CMD_CONTINUE)
		return (rc);
	if (argc - optind != 1)
		return (cmd_usage(ctx, NULL));
	if ((rc = cmd_connect(ctx, &conn)) != CMD_OK)
		return (rc);
	memset(&err, 0, sizeof err);
	if (tp_station_info(conn, argv[optind], &si, &err) != TP_OK) {
		rc = cmd_fail(&err);
		goto out;
	}
	if (ctx->json) {
		station_json(&si);
		fputc('\n', stdout);
		goto out;
	}
	output_time(created, sizeof created, si.created_ns);
	printf("%-20s %s\n", "name", si.name);
	printf("%-20s %" PRIu64 "\n", "messages", si.messages);
	printf("%-20s %" PRIu64 "\n", "first_seq", si.first_seq);
	printf("%-20s %" PRIu64 "\n", "last_seq", si.last_seq);
	printf("%-20s %" PRIu64 "\n", "bytes", si.bytes);
	printf("%-20s %" PRIu32 "\n", "groups", si.groups);
	printf("%-20s %s\n", "created", created);
	station_limit("retention_age", si.opts.retention_age_s, "s");
	station_limit("retention_messages", si.opts.retention_messages, "");
	station_limit("retention_bytes", si.opts.retention_bytes, "");
	printf("%-20s %s\n", "retention_ack",
	    si.opts.retention_ack ? "yes" : "no");
	printf("%-20s %s\n", "durability",
	    station_durability(si.opts.durability));
	if (si.opts.max_message_size == 0)
		printf("%-20s %s\n", "max_message_size", "default");
	else
		printf("%-20s %" PRIu32 "\n", "max_message_size",
		    si.opts.max_message_size);
	if (si.opts.dedup_window_s == 0)
		printf("%-20s %s\n", "dedup_window", "default");
	else
		printf("%-20s %" PRIu64 "s\n", "dedup_window",
		    si.opts.dedup_window_s);
out:
	tp_close(conn);
	return (rc);
}

static int
station_rm(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct tp_conn	*conn = NULL;
	struct tp_err	 err;
	int		 rc;

	if ((rc = station_options(ctx, argc, argv)) != CMD_CONTINUE)
		return (rc);
	if (argc - optind != 1)
		return (cmd_usage(ctx, NULL));
	if ((rc = cmd_connect(ctx, &conn)) != CMD_OK)
		return (rc);
	memset(&err, 0, sizeof err);
	if (tp_station_delete(conn, argv[optind], &err) != TP_OK)
		rc = cmd_fail(&err);
	else if (ctx->json) {
		fputs("{\"name\":", stdout);
		output_json_str(stdout, argv[optind]);
		fputs(",\"deleted\":true}\n", stdout);
	} else
		printf("deleted station %s\n", argv[optind]);
	tp_close(conn);
	return (rc);
}
