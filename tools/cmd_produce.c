/*
 * tupelo produce: messages from the arguments (one synchronous batch) or
 * from standard input, one per line, through an asynchronous producer so
 * that large inputs go out in pipelined batches.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cmd.h"
#include "tools/output.h"


static int	produce_exec(struct cmd_ctx *, int, char **);

const struct cmd_entry cmd_produce_entries[] = {
	{ "produce", NULL, "NAME [-H KEY=VALUE]... [--id MSGID] [MESSAGE...]",
	    "Store each MESSAGE argument as one message or, with none, each\n"
	    "line of standard input (without its newline). -H adds a header\n"
	    "to every message; --id gives a single MESSAGE a producer\n"
	    "message id, stored with it. A message id produced again within\n"
	    "the station's dedup window is a duplicate: not stored again, it\n"
	    "keeps its first seq.\n",
	    produce_exec },
	{ NULL, NULL, NULL, NULL, NULL }
};

/* Outcomes of the stdin producer; written on its thread before flush. */
struct produce_result {
	uint64_t	count;		/* stored */
	uint64_t	duplicates;	/* not stored: id seen before */
	uint64_t	first;
	uint64_t	last;
	uint64_t	failed;
	int		code;		/* first failure */
};

static void
produce_cb(void *arg, int code, uint64_t seq, void *opaque)
{
	struct produce_result	*r = arg;

	if (code != TP_OK) {
		if (r->failed++ == 0)
			r->code = code;
		return;
	}
	if (r->count++ == 0 || seq < r->first)
		r->first = seq;
	if (seq > r->last)
		r->last = seq;
}

static void
produce_print(const struct cmd_ctx *ctx, const struct produce_result *r)
{
	if (ctx->json) {
		printf("{\"count\":%" PRIu64 ",\"duplicates\":%" PRIu64
		    ",\"first_seq\":%" PRIu64 ",\"last_seq\":%" PRIu64 "}\n",
		    r->count, r->duplicates, r->first, r->last);
		return;
	}
	printf("stored %" PRIu64 " message%s", r->count,
	    r->count == 1 ? "" : "s");
	if (r->duplicates > 0)
		printf(", %" PRIu64 " duplicate%s", r->duplicates,
		    r->duplicates == 1 ? "" : "s");
	if ((r->count > 0 || r->duplicates > 0) && r->first == r->last)
		printf(", seq %" PRIu64, r->first);
	else if (r->count > 0 || r->duplicates > 0)
		printf(", seq %" PRIu64 "..%" PRIu64, r->first, r->last);
	putchar('\n');
}

/*
 * Every argument is a message: one synchronous batch. first..last are
 * the seqs of the first and the last message, duplicates or not.
 */
static int
produce_args(struct cmd_ctx *ctx, struct tp_conn *conn, const char *station,
    char **args, size_t n, const struct tp_message *proto)
{
	struct tp_message	*msgs;
	struct produce_result	 r;
	struct tp_err		 err;
	uint64_t		*seqs;
	size_t			 i, dups = 0;
	int			 rc = CMD_OK;

	msgs = calloc(n, sizeof *msgs);
	seqs = calloc(n, sizeof *seqs);
	if (msgs == NULL || seqs == NULL) {
		rc = cmd_error("out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		msgs[i] = *proto;
		msgs[i].payload = args[i];
		msgs[i].len = strlen(args[i]);
	}
	memset(&r, 0, sizeof r);
	memset(&err, 0, sizeof err);
	if (tp_produce_seqs(conn, station, msgs, n, seqs, &dups, &err) !=
	    TP_OK) {
		rc = cmd_fail(&err);
		goto out;
	}
	r.count = n - dups;
	r.duplicates = dups;
	r.first = seqs[0];
	r.last = seqs[n - 1];
	produce_print(ctx, &r);
out:
	free(seqs);
	free(msgs);
	return (rc);
}

/* Each line of standard input is a message. */
static int
produce_stdin(struct cmd_ctx *ctx, struct tp_conn *conn, const char *station,
    const struct tp_message *proto)
{
	struct tp_producer	*p = NULL;
	struct tp_message	 msg = *proto;
	struct produce_result	 r;
	struct tp_err		 err;
	char			*line = NULL;
	size_t			 cap = 0;
	ssize_t			 len;
	uint64_t		 lineno = 0;
	int			 code = TP_OK, rc = CMD_OK;

	memset(&r, 0, sizeof r);
	memset(&err, 0, sizeof err);
	if (tp_producer_new(conn, station, NULL, produce_cb, &r, &p, &err) !=
	    TP_OK)
		return (cmd_fail(&err));
	while ((len = getline(&line, &cap, stdin)) != -1) {
		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			len--;
		msg.payload = line;
		msg.len = (size_t)len;
		if ((code = tp_producer_send(p, &msg, NULL)) != TP_OK)
			break;
	}
	free(line);
	if (code == TP_OK && ferror(stdin))
		rc = cmd_error("standard input: read error");
	tp_producer_flush(p, -1);
	/* The broker's words for the first failure, not only its code. */
	tp_producer_error(p, &err);
	tp_producer_free(p);
	if (r.count > 0 || (code == TP_OK && r.failed == 0 && rc == CMD_OK))
		produce_print(ctx, &r);
	if (code != TP_OK)
		rc = cmd_error("line %" PRIu64 " (%zu bytes): %s", lineno,
		    msg.len, tp_strerror(code));
	if (r.failed > 0)
		rc = cmd_error("%" PRIu64 " of %" PRIu64 " messages failed: %s",
		    r.failed, r.failed + r.count, err.code != TP_OK ?
		    err.message : tp_strerror(r.code));
	return (rc);
}

static int
produce_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	enum { OPT_ID = 0x200 };
	static const struct option	opts[] = {
		CMD_COMMON_OPTIONS,
		{ "header", required_argument, NULL, 'H' },
		{ "id", required_argument, NULL, OPT_ID },
		{ NULL, 0, NULL, 0 }
	};
	struct tp_header		hdrs[CMD_HEADERS_MAX];
	struct tp_message		proto;
	struct tp_conn			*conn = NULL;
	int				ch, rc, n;

	memset(&proto, 0, sizeof proto);
	proto.headers = hdrs;
	while ((ch = getopt_long(argc, argv, "hu:H:", opts, NULL)) != -1) {
		switch (ch) {
		case 'H':
			if ((rc = cmd_header(ctx, optarg, &proto)) !=
			    CMD_CONTINUE)
				return (rc);
			break;
		case OPT_ID:
			proto.msg_id = optarg;
			break;
		default:
			if ((rc = cmd_option(ctx, ch)) != CMD_CONTINUE)
				return (rc);
			break;
		}
	}
	if (optind == argc)
		return (cmd_usage(ctx, NULL));
	n = argc - optind - 1;
	if (proto.msg_id != NULL && n != 1)
		return (cmd_usage(ctx, "--id needs exactly one MESSAGE"));
	if ((rc = cmd_connect(ctx, &conn)) != CMD_OK)
		return (rc);
	if (n > 0)
		rc = produce_args(ctx, conn, argv[optind], argv + optind + 1,
		    (size_t)n, &proto);
	else
		rc = produce_stdin(ctx, conn, argv[optind], &proto);
	tp_close(conn);
	if (fflush(stdout) != 0 && rc == CMD_OK)
		rc = cmd_error("standard output: write error");
	return (rc);
}
