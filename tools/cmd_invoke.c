/*
 * tupelo invoke: the sync model. One message is stored and the command
 * waits for the result of the station's trigger on it.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cmd.h"
#include "tools/output.h"

#define INVOKE_TIMEOUT_DEF	30000	/* ms */
#define INVOKE_TIMEOUT_MAX	86400000 /* ms: the broker's limit, a day */
#define INVOKE_INPUT_MAX	(64 * 1024 * 1024) /* bytes from stdin */

static int	invoke_exec(struct cmd_ctx *, int, char **);

const struct cmd_entry cmd_invoke_entries[] = {
	{ "invoke", NULL, "STATION MESSAGE [-H KEY=VALUE]... "
	    "[--timeout SECONDS]",
	    "Store MESSAGE (- : standard input) in STATION and wait for the\n"
	    "result of its trigger on it: print the function's output as it\n"
	    "is. -H adds a header; --timeout is how long to wait (default\n"
	    "30); the message is processed even if the wait ends first.\n",
	    invoke_exec },
	{ NULL, NULL, NULL, NULL, NULL }
};

/* All of standard input into *buf (malloc'd) and *len. */
static int
invoke_stdin(char **buf, size_t *len)
{
	char	*p = NULL, *q;
	size_t	 cap = 0, n = 0, got;

	for (;;) {
		if (n == cap) {
			if (cap >= INVOKE_INPUT_MAX) {
				free(p);
				return (cmd_error("standard input: more than "
				    "%d bytes", INVOKE_INPUT_MAX));
			}
			cap = cap == 0 ? 64 * 1024 : cap * 2;
			if ((q = realloc(p, cap)) == NULL) {
				free(p);
				return (cmd_error("out of memory"));
			}
			p = q;
		}
		got = fread(p + n, 1, cap - n, stdin);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(stdin)) {
		free(p);
		return (cmd_error("standard input: read error"));
	}
	*buf = p;
	*len = n;
	return (CMD_OK);
}

/* The output, raw or as JSON, and the outcome's exit status. */
static int
invoke_print(const struct cmd_ctx *ctx, const char *station, int code,
    const struct tp_err *err, const void *out, size_t len)
{
	if (ctx->json) {
		fputs("{\"station\":", stdout);
		output_json_str(stdout, station);
		printf(",\"ok\":%s", code == TP_OK ? "true" : "false");
		if (output_utf8_valid(out, len)) {
			fputs(",\"output\":", stdout);
			output_json_string(stdout, out, len);
		} else {
			fputs(",\"output_base64\":", stdout);
			output_json_base64(stdout, out, len);
		}
		if (code != TP_OK) {
			fputs(",\"error\":", stdout);
			output_json_str(stdout, err->message);
		}
		fputs("}\n", stdout);
	} else if (len > 0)
		fwrite(out, 1, len, stdout);
	if (code == TP_OK)
		return (CMD_OK);
	if (err->message[0] == '\0')
		return (cmd_error("function failed"));
	return (cmd_error("function failed: %s", err->message));
}

static int
invoke_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	enum { OPT_TIMEOUT = 0x200 };
	static const struct option	 opts[] = {
		CMD_COMMON_OPTIONS,
		{ "header", required_argument, NULL, 'H' },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ NULL, 0, NULL, 0 }
	};
	struct tp_header		 hdrs[CMD_HEADERS_MAX];
	struct tp_message		 msg;
	struct tp_conn			*conn = NULL;
	struct tp_err			 err;
	char				*input = NULL;
	void				*out = NULL;
	size_t				 outlen = 0;
	uint64_t			 timeout = INVOKE_TIMEOUT_DEF;
	int				 ch, code, rc;

	memset(&msg, 0, sizeof msg);
	msg.headers = hdrs;
	while ((ch = getopt_long(argc, argv, "hu:H:", opts, NULL)) != -1) {
		switch (ch) {
		case 'H':
			if ((rc = cmd_header(ctx, optarg, &msg)) !=
			    CMD_CONTINUE)
				return (rc);
			break;
		case OPT_TIMEOUT:
			rc = cmd_seconds(ctx, "--timeout", optarg, 1,
			    INVOKE_TIMEOUT_MAX, &timeout);
			if (rc != CMD_CONTINUE)
				return (rc);
			break;
		default:
			if ((rc = cmd_option(ctx, ch)) != CMD_CONTINUE)
				return (rc);
			break;
		}
	}
	if (argc - optind != 2)
		return (cmd_usage(ctx, NULL));
	if (strcmp(argv[optind + 1], "-") == 0) {
		if ((rc = invoke_stdin(&input, &msg.len)) != CMD_OK)
			return (rc);
		msg.payload = input;
	} else {
		msg.payload = argv[optind + 1];
		msg.len = strlen(argv[optind + 1]);
	}
	if ((rc = cmd_connect(ctx, &conn)) != CMD_OK)
		goto out;
	memset(&err, 0, sizeof err);
	code = tp_request(conn, argv[optind], &msg, (uint32_t)timeout, &out,
	    &outlen, &err);
	if (code == TP_OK || code == TP_EFUNCTION)
		rc = invoke_print(ctx, argv[optind], code, &err, out, outlen);
	else
		rc = cmd_fail(&err);
	if (fflush(stdout) != 0 && rc == CMD_OK)
		rc = cmd_error("standard output: write error");
out:
	free(out);
	free(input);
	tp_close(conn);
	return (rc);
}
