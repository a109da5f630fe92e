/*
 * tupelo station create|update|ls|info|rm: station administration, and
 * the parsing of the station settings that create and update share.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cmd.h"
#include "tools/output.h"

static int	station_create(struct cmd_ctx *, int, char **);
static int	station_update(struct cmd_ctx *, int, char **);
static int	station_ls(struct cmd_ctx *, int, char **);
static int	station_info(struct cmd_ctx *, int, char **);
static int	station_rm(struct cmd_ctx *, int, char **);

const struct cmd_entry cmd_station_entries[] = {
	{ "station", "create", "NAME [--retention-age SECONDS] "
	    "[--retention-messages N] [--retention-bytes BYTES] "
	    "[--retention-ack] [--durability sync|interval] "
	    "[--max-message-size BYTES] [--dedup-window SECONDS] "
	    "[--compression zstd|none] [--compression-level N]",
	    "Create a station. Retention limits are off unless given; BYTES\n"
	    "take a K, M or G suffix. --retention-ack drops messages once\n"
	    "every consumer group acked them. The broker enforces the count\n"
	    "and bytes limits after each append, the age and ack limits\n"
	    "within about a second. Durability and the message size limit\n"
	    "default to the broker's.\n"
	    "--dedup-window is how long a producer message id is remembered\n"
	    "to drop duplicates; default the broker's (120 seconds).\n"
	    "--compression zstd stores payloads compressed when that makes\n"
	    "them smaller, at --compression-level -7 to 19 (default 3);\n"
	    "consumers get them back unchanged. Default: none.\n",
	    station_create },
	{ "station", "update", "NAME [--retention-age SECONDS] "
	    "[--retention-messages N] [--retention-bytes BYTES] "
	    "[--retention-ack|--no-retention-ack] "
	    "[--durability sync|interval|default] "
	    "[--max-message-size BYTES] [--dedup-window SECONDS] "
	    "[--compression zstd|none] [--compression-level N]",
	    "Change settings of a station: only those given change, the\n"
	    "options as for station create. A retention limit of 0 removes\n"
	    "it; retention changes apply at once. --max-message-size 0,\n"
	    "--dedup-window 0 and --durability default go back to the\n"
	    "broker's default. Compression applies to messages produced\n"
	    "from then on.\n",
	    station_update },
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

/* Long-only options of station settings, for create and update. */
enum {
	STATION_OPT_AGE = 0x200,
	STATION_OPT_MESSAGES,
	STATION_OPT_BYTES,
	STATION_OPT_ACK,
	STATION_OPT_NO_ACK,
	STATION_OPT_DURABILITY,
	STATION_OPT_MAXMSG,
	STATION_OPT_DEDUP,
	STATION_OPT_COMPRESSION,
	STATION_OPT_LEVEL
};
#define STATION_OPTIONS							\
	{ "retention-age", required_argument, NULL, STATION_OPT_AGE },	\
	{ "retention-messages", required_argument, NULL,		\
	    STATION_OPT_MESSAGES },					\
	{ "retention-bytes", required_argument, NULL,			\
	    STATION_OPT_BYTES },					\
	{ "retention-ack", no_argument, NULL, STATION_OPT_ACK },	\
	{ "durability", required_argument, NULL,			\
	    STATION_OPT_DURABILITY },					\
	{ "max-message-size", required_argument, NULL,			\
	    STATION_OPT_MAXMSG },					\
	{ "dedup-window", required_argument, NULL, STATION_OPT_DEDUP },	\
	{ "compression", required_argument, NULL,			\
	    STATION_OPT_COMPRESSION },					\
	{ "compression-level", required_argument, NULL,		\
	    STATION_OPT_LEVEL }

/* Given apart from --compression, though TP_SET_COMPRESSION sets both. */
#define STATION_SET_LEVEL	0x10000

/* The settings given, the TP_SET_* flag of each, and its JSON name. */
static const struct {
	unsigned int	 given;		/* TP_SET_* or STATION_SET_LEVEL */
	unsigned int	 field;		/* TP_SET_* */
	const char	*name;
} station_fields[] = {
	{ TP_SET_RETENTION_AGE, TP_SET_RETENTION_AGE, "retention_age_s" },
	{ TP_SET_RETENTION_MESSAGES, TP_SET_RETENTION_MESSAGES,
	    "retention_messages" },
	{ TP_SET_RETENTION_BYTES, TP_SET_RETENTION_BYTES, "retention_bytes" },
	{ TP_SET_RETENTION_ACK, TP_SET_RETENTION_ACK, "retention_ack" },
	{ TP_SET_DURABILITY, TP_SET_DURABILITY, "durability" },
	{ TP_SET_MAX_MESSAGE_SIZE, TP_SET_MAX_MESSAGE_SIZE,
	    "max_message_size" },
	{ TP_SET_DEDUP_WINDOW, TP_SET_DEDUP_WINDOW, "dedup_window_s" },
	{ TP_SET_COMPRESSION, TP_SET_COMPRESSION, "compression" },
	{ STATION_SET_LEVEL, TP_SET_COMPRESSION, "compression_level" },
};
#define STATION_NFIELDS	(sizeof station_fields / sizeof station_fields[0])

/* Station settings from the command line. */
struct station_args {
	struct tp_station_opts	opts;
	unsigned int		given;	/* station_fields given bits */
	int			update;	/* 1: station update, 0: create */
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

static const char *
station_compression(int c)
{
	switch (c) {
	case TP_COMPRESSION_NONE:
		return ("none");
	case TP_COMPRESSION_ZSTD:
		return ("zstd");
	default:
		return ("unknown");
	}
}

/* Handle a STATION_OPTIONS option into sa, else as cmd_option does. */
static int
station_setting(struct cmd_ctx *ctx, int ch, struct station_args *sa)
{
	struct tp_station_opts	*so = &sa->opts;
	uint64_t		 v;
	int64_t			 l;
	int			 rc = CMD_CONTINUE;

	switch (ch) {
	case STATION_OPT_AGE:
		rc = cmd_number(ctx, "--retention-age", optarg, 0, UINT64_MAX,
		    &so->retention_age_s);
		sa->given |= TP_SET_RETENTION_AGE;
		break;
	case STATION_OPT_MESSAGES:
		rc = cmd_number(ctx, "--retention-messages", optarg, 0,
		    UINT64_MAX, &so->retention_messages);
		sa->given |= TP_SET_RETENTION_MESSAGES;
		break;
	case STATION_OPT_BYTES:
		rc = cmd_bytes(ctx, "--retention-bytes", optarg, 0, UINT64_MAX,
		    &so->retention_bytes);
		sa->given |= TP_SET_RETENTION_BYTES;
		break;
	case STATION_OPT_ACK:
	case STATION_OPT_NO_ACK:
		so->retention_ack = ch == STATION_OPT_ACK;
		sa->given |= TP_SET_RETENTION_ACK;
		break;
	case STATION_OPT_DURABILITY:
		if (strcmp(optarg, "sync") == 0)
			so->durability = TP_DURABILITY_SYNC;
		else if (strcmp(optarg, "interval") == 0)
			so->durability = TP_DURABILITY_INTERVAL;
		else if (sa->update && strcmp(optarg, "default") == 0)
			so->durability = TP_DURABILITY_DEFAULT;
		else
			rc = cmd_usage(ctx, "bad --durability '%s': want "
			    "sync%s", optarg, sa->update ?
			    ", interval or default" : " or interval");
		sa->given |= TP_SET_DURABILITY;
		break;
	case STATION_OPT_MAXMSG:
		/* In an update, 0 goes back to the broker's limit. */
		rc = cmd_bytes(ctx, "--max-message-size", optarg,
		    sa->update ? 0 : 1, UINT32_MAX, &v);
		so->max_message_size = (uint32_t)v;
		sa->given |= TP_SET_MAX_MESSAGE_SIZE;
		break;
	case STATION_OPT_DEDUP:
		rc = cmd_number(ctx, "--dedup-window", optarg,
		    sa->update ? 0 : 1, UINT64_MAX, &so->dedup_window_s);
		sa->given |= TP_SET_DEDUP_WINDOW;
		break;
	case STATION_OPT_COMPRESSION:
		if (strcmp(optarg, "zstd") == 0)
			so->compression = TP_COMPRESSION_ZSTD;
		else if (strcmp(optarg, "none") == 0)
			so->compression = TP_COMPRESSION_NONE;
		else
			rc = cmd_usage(ctx, "bad --compression '%s': want zstd "
			    "or none", optarg);
		sa->given |= TP_SET_COMPRESSION;
		break;
	case STATION_OPT_LEVEL:
		/* The levels the broker accepts; 0 is zstd's default, 3. */
		rc = cmd_integer(ctx, "--compression-level", optarg, -7, 19,
		    &l);
		so->compression_level = (int)l;
		sa->given |= STATION_SET_LEVEL;
		break;
	default:
		return (cmd_option(ctx, ch));
	}
	return (rc);
}

/* A level with compression none is a usage error; CMD_CONTINUE if not. */
static int
station_check_level(const struct cmd_ctx *ctx, const struct station_args *sa)
{
	if ((sa->given & STATION_SET_LEVEL) &&
	    (!sa->update || (sa->given & TP_SET_COMPRESSION)) &&
	    sa->opts.compression != TP_COMPRESSION_ZSTD)
		return (cmd_usage(ctx, "--compression-level needs "
		    "--compression zstd"));
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
	    ",\"last_seq\":%" PRIu64 ",\"removed\":%" PRIu64 ",\"bytes\":%"
	    PRIu64 ",\"logical_bytes\":%" PRIu64 ",\"groups\":%" PRIu32
	    ",\"created\":\"%s\",\"created_ns\":%" PRId64,
	    si->messages, si->first_seq, si->last_seq, si->removed, si->bytes,
	    si->logical_bytes, si->groups, created, si->created_ns);
	printf(",\"retention_age_s\":%" PRIu64 ",\"retention_messages\":%"
	    PRIu64 ",\"retention_bytes\":%" PRIu64 ",\"retention_ack\":%s"
	    ",\"durability\":\"%s\",\"max_message_size\":%" PRIu32
	    ",\"dedup_window_s\":%" PRIu64 ",\"compression\":\"%s\""
	    ",\"compression_level\":%d}",
	    si->opts.retention_age_s, si->opts.retention_messages,
	    si->opts.retention_bytes, si->opts.retention_ack ? "true" : "false",
	    station_durability(si->opts.durability),
	    si->opts.max_message_size, si->opts.dedup_window_s,
	    station_compression(si->opts.compression),
	    si->opts.compression_level);
}

static int
station_create(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option	opts[] = {
		CMD_COMMON_OPTIONS,
		STATION_OPTIONS,
		{ NULL, 0, NULL, 0 }
	};
	struct station_args		sa;
	struct tp_conn			*conn = NULL;
	struct tp_err			err;
	int				ch, rc;

	memset(&sa, 0, sizeof sa);
	while ((ch = getopt_long(argc, argv, "hu:", opts, NULL)) != -1) {
		if ((rc = station_setting(ctx, ch, &sa)) != CMD_CONTINUE)
			return (rc);
	}
	if (argc - optind != 1)
		return (cmd_usage(ctx, NULL));
	if ((rc = station_check_level(ctx, &sa)) != CMD_CONTINUE)
		return (rc);
	if ((rc = cmd_connect(ctx, &conn)) != CMD_OK)
		return (rc);
	memset(&err, 0, sizeof err);
	if (tp_station_create(conn, argv[optind], &sa.opts, &err) != TP_OK)
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

/*
 * TP_SET_COMPRESSION sets the codec and the level together: when only one
 * was given, take the other from the station, so that it stays.
 */
static int
station_keep_compression(struct tp_conn *conn, const char *name,
    struct station_args *sa)
{
	struct tp_station_info	si;
	struct tp_err		err;
	unsigned int		both = TP_SET_COMPRESSION | STATION_SET_LEVEL;

	if ((sa->given & both) == 0 || (sa->given & both) == both)
		return (CMD_OK);
	memset(&err, 0, sizeof err);
	if (tp_station_info(conn, name, &si, &err) != TP_OK)
		return (cmd_fail(&err));
	if (sa->given & TP_SET_COMPRESSION) {
		sa->opts.compression_level = si.opts.compression_level;
		return (CMD_OK);
	}
	if (si.opts.compression != TP_COMPRESSION_ZSTD)
		return (cmd_error("station %s is not compressed: "
		    "--compression-level needs --compression zstd", name));
	sa->opts.compression = si.opts.compression;
	return (CMD_OK);
}

static int
station_update(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option	 opts[] = {
		CMD_COMMON_OPTIONS,
		STATION_OPTIONS,
		{ "no-retention-ack", no_argument, NULL, STATION_OPT_NO_ACK },
		{ NULL, 0, NULL, 0 }
	};
	struct station_args		 sa;
	struct tp_conn			*conn = NULL;
	struct tp_err			 err;
	const char			*name;
	unsigned int			 fields = 0;
	size_t				 i;
	int				 ch, rc, first = 1;

	memset(&sa, 0, sizeof sa);
	sa.update = 1;
	while ((ch = getopt_long(argc, argv, "hu:", opts, NULL)) != -1) {
		if ((rc = station_setting(ctx, ch, &sa)) != CMD_CONTINUE)
			return (rc);
	}
	if (argc - optind != 1)
		return (cmd_usage(ctx, NULL));
	if (sa.given == 0)
		return (cmd_usage(ctx, "nothing to update: give a setting"));
	if ((rc = station_check_level(ctx, &sa)) != CMD_CONTINUE)
		return (rc);
	name = argv[optind];
	if ((rc = cmd_connect(ctx, &conn)) != CMD_OK)
		return (rc);
	if ((rc = station_keep_compression(conn, name, &sa)) != CMD_OK)
		goto out;
	for (i = 0; i < STATION_NFIELDS; i++) {
		if (sa.given & station_fields[i].given)
			fields |= station_fields[i].field;
	}
	memset(&err, 0, sizeof err);
	if (tp_station_update(conn, name, &sa.opts, fields, &err) != TP_OK) {
		rc = cmd_fail(&err);
		goto out;
	}
	if (!ctx->json) {
		printf("updated station %s\n", name);
		goto out;
	}
	fputs("{\"name\":", stdout);
	output_json_str(stdout, name);
	fputs(",\"updated\":[", stdout);
	for (i = 0; i < STATION_NFIELDS; i++) {
		if ((sa.given & station_fields[i].given) == 0)
			continue;
		printf("%s\"%s\"", first ? "" : ",", station_fields[i].name);
		first = 0;
	}
	fputs("]}\n", stdout);
out:
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

	if ((rc = cmd_common_options(ctx, argc, argv)) != CMD_CONTINUE)
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

	if ((rc = cmd_common_options(ctx, argc, argv)) != CMD_CONTINUE)
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
	printf("%-20s %" PRIu64 "\n", "removed", si.removed);
	printf("%-20s %" PRIu64 "\n", "bytes", si.bytes);
	printf("%-20s %" PRIu64 "\n", "logical_bytes", si.logical_bytes);
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
	printf("%-20s %s\n", "compression",
	    station_compression(si.opts.compression));
	if (si.opts.compression_level == 0)
		printf("%-20s %s\n", "compression_level", "default");
	else
		printf("%-20s %d\n", "compression_level",
		    si.opts.compression_level);
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

	if ((rc = cmd_common_options(ctx, argc, argv)) != CMD_CONTINUE)
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
