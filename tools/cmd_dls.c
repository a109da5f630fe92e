/*
 * tupelo dls ls|replay|purge: the dead letters of a station, kept in its
 * dead-letter station "<station>.dls" with headers that say where each
 * came from and why it is there.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cmd.h"
#include "tools/output.h"

#define DLS_BATCH	1000	/* messages per read request */
#define DLS_CELL	40	/* characters of a payload or header shown */

static int	dls_ls(struct cmd_ctx *, int, char **);
static int	dls_replay(struct cmd_ctx *, int, char **);
static int	dls_purge(struct cmd_ctx *, int, char **);

const struct cmd_entry cmd_dls_entries[] = {
	{ "dls", "ls", "STATION [-n COUNT] [--from SEQ]",
	    "List the dead letters of STATION, oldest first: seq in the\n"
	    "dead-letter station, seq in the station it came from, group,\n"
	    "times delivered, reason (max-deliveries or term), last error,\n"
	    "and the start of the payload. Up to COUNT, from seq SEQ of the\n"
	    "dead-letter station on. With --json, one object per line as\n"
	    "consume prints them, headers included.\n", dls_ls },
	{ "dls", "replay", "STATION [--to STATION] [--seq N]...",
	    "Produce dead letters of STATION again, without the dead-letter\n"
	    "headers, to the station each came from (or the --to station),\n"
	    "and remove them from the dead-letter station. --seq picks one\n"
	    "by its seq in the dead-letter station, and may be repeated;\n"
	    "default all of them.\n", dls_replay },
	{ "dls", "purge", "STATION",
	    "Remove every dead letter of STATION.\n", dls_purge },
	{ NULL, NULL, NULL, NULL, NULL }
};

/* The dead-letter station of station into buf; CMD_ERROR if too long. */
static int
dls_name(const char *station, char *buf, size_t size)
{
	int	n;

	n = snprintf(buf, size, "%s%s", station, TP_DLS_SUFFIX);
	if (n < 0 || (size_t)n >= size)
		return (cmd_error("station name is longer than %d bytes",
		    TP_NAME_MAX));
	return (CMD_CONTINUE);
}

/* Header key of m, escaped into cell, or "-". */
static void
dls_header(const struct tp_msg *m, const char *key, char *cell, size_t size)
{
	const char	*v;

	if ((v = tp_msg_header(m, key)) == NULL || *v == '\0')
		snprintf(cell, size, "-");
	else
		output_escape(cell, size, v, strlen(v), DLS_CELL);
}

/* Add one dead letter to the table; -1 when out of memory. */
static int
dls_row(struct output_table *t, const struct tp_msg *m)
{
	static const char *const	 keys[] = {
		TP_HDR_ORIGIN_SEQ, TP_HDR_GROUP, TP_HDR_DELIVERIES,
		TP_HDR_REASON, TP_HDR_ERROR
	};
	char				 cells[7][DLS_CELL * 4 + 4];
	const char			*row[7];
	const void			*payload;
	size_t				 i, len;

	snprintf(cells[0], sizeof cells[0], "%" PRIu64, tp_msg_seq(m));
	for (i = 0; i < 5; i++)
		dls_header(m, keys[i], cells[i + 1], sizeof cells[i + 1]);
	payload = tp_msg_payload(m, &len);
	output_escape(cells[6], sizeof cells[6], payload, len, DLS_CELL);
	for (i = 0; i < 7; i++)
		row[i] = cells[i];
	return (output_table_add(t, row));
}

static int
dls_ls(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option	  opts[] = {
		CMD_COMMON_OPTIONS,
		{ "from", required_argument, NULL, 'f' },
		{ "count", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	static const char *const	  names[] = {
		"SEQ", "ORIGIN_SEQ", "GROUP", "DELIVERIES", "REASON", "ERROR",
		"PAYLOAD"
	};
	struct output_table		 *t = NULL;
	struct tp_conn			 *conn = NULL;
	struct tp_msg			**msgs;
	struct tp_err			  err;
	char				  name[TP_NAME_MAX + 8];
	uint64_t			  from = 0, count = 0, got = 0, want;
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
	if ((rc = dls_name(argv[optind], name, sizeof name)) != CMD_CONTINUE)
		return (rc);
	if (!ctx->json && (t = output_table_new(7, names)) == NULL)
		return (cmd_error("out of memory"));
	if ((rc = cmd_connect(ctx, &conn)) != CMD_OK)
		goto out;
	memset(&err, 0, sizeof err);
	while (rc == CMD_OK && (count == 0 || got < count)) {
		want = DLS_BATCH;
		if (count != 0 && count - got < want)
			want = count - got;
		if (tp_read(conn, name, from, (size_t)want, &msgs, &n,
		    &err) != TP_OK) {
			rc = cmd_fail(&err);
			break;
		}
		if (n == 0)
			break;
		for (i = 0; i < n; i++) {
			if (ctx->json)
				cmd_consume_print(ctx, msgs[i]);
			else if (rc == CMD_OK && dls_row(t, msgs[i]) != 0)
				rc = cmd_error("out of memory");
			from = tp_msg_seq(msgs[i]) + 1;
			tp_msg_free(msgs[i]);
		}
		free(msgs);
		got += n;
	}
	if (rc == CMD_OK && t != NULL)
		output_table_print(t, stdout);
	if (fflush(stdout) != 0 && rc == CMD_OK)
		rc = cmd_error("standard output: write error");
out:
	output_table_free(t);
	tp_close(conn);
	return (rc);
}

static int
dls_replay(struct cmd_ctx *ctx, int argc, char **argv)
{
	enum { OPT_TO = 0x200, OPT_SEQ };
	static const struct option	 opts[] = {
		CMD_COMMON_OPTIONS,
		{ "to", required_argument, NULL, OPT_TO },
		{ "seq", required_argument, NULL, OPT_SEQ },
		{ NULL, 0, NULL, 0 }
	};
	struct tp_conn			*conn = NULL;
	struct tp_err			 err;
	const char			*to = NULL;
	uint64_t			*seqs = NULL, *v, seq;
	size_t				 n = 0, cap = 0;
	uint32_t			 count = 0;
	int				 ch, rc = CMD_CONTINUE;

	while (rc == CMD_CONTINUE &&
	    (ch = getopt_long(argc, argv, "hu:", opts, NULL)) != -1) {
		switch (ch) {
		case OPT_TO:
			to = optarg;
			break;
		case OPT_SEQ:
			rc = cmd_number(ctx, "--seq", optarg, 1, UINT64_MAX,
			    &seq);
			if (rc != CMD_CONTINUE)
				break;
			if (n == cap) {
				cap = cap == 0 ? 16 : cap * 2;
				v = reallocarray(seqs, cap, sizeof *seqs);
				if (v == NULL) {
					rc = cmd_error("out of memory");
					break;
				}
				seqs = v;
			}
			seqs[n++] = seq;
			break;
		default:
			rc = cmd_option(ctx, ch);
			break;
		}
	}
	if (rc != CMD_CONTINUE)
		goto out;
	if (argc - optind != 1) {
		rc = cmd_usage(ctx, NULL);
		goto out;
	}
	if ((rc = cmd_connect(ctx, &conn)) != CMD_OK)
		goto out;
	memset(&err, 0, sizeof err);
	if (tp_dls_replay(conn, argv[optind], to, seqs, n, &count, &err) !=
	    TP_OK)
		rc = cmd_fail(&err);
	else if (ctx->json) {
		fputs("{\"station\":", stdout);
		output_json_str(stdout, argv[optind]);
		printf(",\"replayed\":%" PRIu32 "}\n", count);
	} else
		printf("replayed %" PRIu32 " message%s\n", count,
		    count == 1 ? "" : "s");
out:
	free(seqs);
	tp_close(conn);
	return (rc);
}

static int
dls_purge(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option	 opts[] = {
		CMD_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 }
	};
	struct tp_conn			*conn = NULL;
	struct tp_err			 err;
	char				 name[TP_NAME_MAX + 8];
	int				 ch, rc;

	while ((ch = getopt_long(argc, argv, "hu:", opts, NULL)) != -1) {
		if ((rc = cmd_option(ctx, ch)) != CMD_CONTINUE)
			return (rc);
	}
	if (argc - optind != 1)
		return (cmd_usage(ctx, NULL));
	if ((rc = dls_name(argv[optind], name, sizeof name)) != CMD_CONTINUE)
		return (rc);
	if ((rc = cmd_connect(ctx, &conn)) != CMD_OK)
		return (rc);
	memset(&err, 0, sizeof err);
	if (tp_station_purge(conn, name, &err) != TP_OK)
		rc = cmd_fail(&err);
	else if (ctx->json) {
		fputs("{\"station\":", stdout);
		output_json_str(stdout, argv[optind]);
		fputs(",\"purged\":true}\n", stdout);
	} else
		printf("purged the dead letters of station %s\n",
		    argv[optind]);
	tp_close(conn);
	return (rc);
}
