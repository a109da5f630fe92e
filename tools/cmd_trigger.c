/*
 * tupelo trigger add|update|ls|info|pause|resume|rm: function triggers,
 * and the parsing of the settings that add and update share.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cmd.h"
#include "tools/output.h"

#define TRIGGER_FILTERS_MAX	32	/* --filter: the broker's limit */
#define TRIGGER_CELL		4096	/* characters of a setting shown */
#define TRIGGER_LS_CELL		40	/* characters of a name in ls */

static int	trigger_add(struct cmd_ctx *, int, char **);
static int	trigger_update(struct cmd_ctx *, int, char **);
static int	trigger_ls(struct cmd_ctx *, int, char **);
static int	trigger_info(struct cmd_ctx *, int, char **);
static int	trigger_pause(struct cmd_ctx *, int, char **);
static int	trigger_resume(struct cmd_ctx *, int, char **);
static int	trigger_rm(struct cmd_ctx *, int, char **);

#define TRIGGER_SETTINGS_USAGE						\
	"[--batch-size N] [--batch-window-ms MS] [--batch-max-bytes BYTES] " \
	"[--mode stream|async] [--ordering-key HEADER] [--concurrency N] " \
	"[--timeout-ms MS] [--max-retries N] "				\
	"[--backoff INITIAL_MS[:MAX_MS]] [--max-age SECONDS] "
#define TRIGGER_SETTINGS_HELP						\
	"  --exec COMMAND         run COMMAND through /bin/sh -c\n"	\
	"  --http URL             POST to the webhook at URL\n"		\
	"  --lambda URL           the Lambda Invoke API at URL, calling\n" \
	"  --function NAME        the function NAME\n"			\
	"  --batch-size N         messages per invocation (10*)\n"	\
	"  --batch-window-ms MS   wait to fill a batch (0*)\n"		\
	"  --batch-max-bytes BYTES  payload bytes per batch (6M*)\n"	\
	"  --mode stream|async    stream: in order, one batch at a time;\n" \
	"                         async: batches concurrently (stream*)\n" \
	"  --ordering-key HEADER  stream: in order per value of HEADER\n" \
	"  --concurrency N        invocations at once (stream 1*, async\n" \
	"                         10*)\n"				\
	"  --timeout-ms MS        time an invocation may take (30000*)\n" \
	"  --max-retries N        retries of a failed batch (2*); -1:\n" \
	"                         until --max-age\n"			\
	"  --backoff INITIAL_MS[:MAX_MS]  delay before the first retry,\n" \
	"                         doubling up to MAX_MS (1000:300000*)\n" \
	"  --max-age SECONDS      give up on messages older (0*: never)\n" \
	"  --item-failures        retry only the items a reply names in\n" \
	"                         batchItemFailures\n"			\
	"  --bisect-on-error      split a failed batch in two to retry\n" \
	"  --filter EXPR          invoke only for messages that match\n" \
	"                         every EXPR, as 'type=order',\n"	\
	"                         'region^=eu-', 'kind!=test', 'urgent?'\n" \
	"                         or '$.amount=10'; repeatable\n"	\
	"  --on-failure STATION   where messages given up on go (default\n" \
	"                         the dead-letter station STATION.dls)\n" \
	"  --on-success STATION   produce the function's output there\n" \
	"  --disabled             paused: nothing is invoked\n"

const struct cmd_entry cmd_trigger_entries[] = {
	{ "trigger", "add", "NAME --station STATION "
	    "(--exec COMMAND | --http URL | --lambda URL --function NAME) "
	    "[--start POSITION] " TRIGGER_SETTINGS_USAGE
	    "[--item-failures] [--bisect-on-error] [--filter EXPR]... "
	    "[--on-failure STATION] [--on-success STATION] [--disabled]",
	    "Create a trigger: invoke a function with the messages of\n"
	    "STATION as they are stored, in batches; retry a failed batch\n"
	    "with backoff, then send its messages to the on-failure station.\n"
	    "  --station STATION      the station, required\n"
	    "  --start POSITION       new* (the next message), all, seq:N,\n"
	    "                         time:T or last:N\n"
	    TRIGGER_SETTINGS_HELP
	    "* the broker's default.\n",
	    trigger_add },
	{ "trigger", "update", "NAME "
	    "[--exec COMMAND | --http URL | --lambda URL --function NAME] "
	    TRIGGER_SETTINGS_USAGE
	    "[--item-failures|--no-item-failures] "
	    "[--bisect-on-error|--no-bisect-on-error] [--filter EXPR]... "
	    "[--no-filter] [--on-failure STATION] [--on-success STATION] "
	    "[--enabled|--disabled]",
	    "Change settings of a trigger: only those given change, its\n"
	    "position stays. The options are as for trigger add; --filter\n"
	    "replaces the whole list, --no-filter clears it. An empty\n"
	    "--ordering-key, --on-failure or --on-success goes back to none\n"
	    "or the default.\n"
	    "  --no-item-failures, --no-bisect-on-error  turn those off\n"
	    "  --enabled, --disabled  resume or pause\n",
	    trigger_update },
	{ "trigger", "ls", "[--station STATION]",
	    "List the triggers, of STATION or all: station, target, mode,\n"
	    "enabled, position (every seq up to it is done), lag, invocations\n"
	    "running, invocations, failed invocations and messages given up\n"
	    "on.\n", trigger_ls },
	{ "trigger", "info", "NAME",
	    "Show a trigger's settings and figures.\n", trigger_info },
	{ "trigger", "pause", "NAME",
	    "Stop invoking; messages wait, in order.\n", trigger_pause },
	{ "trigger", "resume", "NAME",
	    "Invoke again from where the trigger stopped.\n", trigger_resume },
	{ "trigger", "rm", "NAME",
	    "Delete a trigger and its position.\n", trigger_rm },
	{ NULL, NULL, NULL, NULL, NULL }
};

/* Long-only options of trigger settings, for add and update. */
enum {
	TRIGGER_OPT_STATION = 0x200,
	TRIGGER_OPT_EXEC,
	TRIGGER_OPT_HTTP,
	TRIGGER_OPT_LAMBDA,
	TRIGGER_OPT_FUNCTION,
	TRIGGER_OPT_START,
	TRIGGER_OPT_BATCH_SIZE,
	TRIGGER_OPT_WINDOW,
	TRIGGER_OPT_MAX_BYTES,
	TRIGGER_OPT_MODE,
	TRIGGER_OPT_KEY,
	TRIGGER_OPT_CONCURRENCY,
	TRIGGER_OPT_TIMEOUT,
	TRIGGER_OPT_RETRIES,
	TRIGGER_OPT_BACKOFF,
	TRIGGER_OPT_MAX_AGE,
	TRIGGER_OPT_ITEM,
	TRIGGER_OPT_NO_ITEM,
	TRIGGER_OPT_BISECT,
	TRIGGER_OPT_NO_BISECT,
	TRIGGER_OPT_FILTER,
	TRIGGER_OPT_NO_FILTER,
	TRIGGER_OPT_ON_FAILURE,
	TRIGGER_OPT_ON_SUCCESS,
	TRIGGER_OPT_ENABLED,
	TRIGGER_OPT_DISABLED
};
#define TRIGGER_OPTIONS							\
	{ "exec", required_argument, NULL, TRIGGER_OPT_EXEC },		\
	{ "http", required_argument, NULL, TRIGGER_OPT_HTTP },		\
	{ "lambda", required_argument, NULL, TRIGGER_OPT_LAMBDA },	\
	{ "function", required_argument, NULL, TRIGGER_OPT_FUNCTION },	\
	{ "batch-size", required_argument, NULL, TRIGGER_OPT_BATCH_SIZE }, \
	{ "batch-window-ms", required_argument, NULL,			\
	    TRIGGER_OPT_WINDOW },					\
	{ "batch-max-bytes", required_argument, NULL,			\
	    TRIGGER_OPT_MAX_BYTES },					\
	{ "mode", required_argument, NULL, TRIGGER_OPT_MODE },		\
	{ "ordering-key", required_argument, NULL, TRIGGER_OPT_KEY },	\
	{ "concurrency", required_argument, NULL,			\
	    TRIGGER_OPT_CONCURRENCY },					\
	{ "timeout-ms", required_argument, NULL, TRIGGER_OPT_TIMEOUT },	\
	{ "max-retries", required_argument, NULL, TRIGGER_OPT_RETRIES }, \
	{ "backoff", required_argument, NULL, TRIGGER_OPT_BACKOFF },	\
	{ "max-age", required_argument, NULL, TRIGGER_OPT_MAX_AGE },	\
	{ "item-failures", no_argument, NULL, TRIGGER_OPT_ITEM },	\
	{ "bisect-on-error", no_argument, NULL, TRIGGER_OPT_BISECT },	\
	{ "filter", required_argument, NULL, TRIGGER_OPT_FILTER },	\
	{ "on-failure", required_argument, NULL, TRIGGER_OPT_ON_FAILURE }, \
	{ "on-success", required_argument, NULL, TRIGGER_OPT_ON_SUCCESS }, \
	{ "disabled", no_argument, NULL, TRIGGER_OPT_DISABLED }

/* Trigger settings from the command line. */
struct trigger_args {
	struct tp_trigger_config cfg;	/* strings borrowed from argv */
	const char		*filters[TRIGGER_FILTERS_MAX];
	int			 targets;	/* target options given */
	int			 function;	/* 1: --function given */
	int			 no_filter;	/* 1: --no-filter given */
	int			 update;	/* 1: update, 0: add */
};

static const char *
trigger_target(int target)
{
	switch (target) {
	case TP_TRIGGER_EXEC:
		return ("exec");
	case TP_TRIGGER_HTTP:
		return ("http");
	case TP_TRIGGER_LAMBDA:
		return ("lambda");
	default:
		return ("unknown");
	}
}

static const char *
trigger_mode(int mode)
{
	switch (mode) {
	case TP_MODE_STREAM:
		return ("stream");
	case TP_MODE_ASYNC:
		return ("async");
	default:
		return ("unknown");
	}
}

/* A target option: its kind and where, the other target fields "". */
static void
trigger_set_target(struct trigger_args *ta, int target, const char *arg)
{
	struct tp_trigger_config	*c = &ta->cfg;

	ta->targets++;
	c->target = target;
	c->command = target == TP_TRIGGER_EXEC ? arg : NULL;
	c->url = target != TP_TRIGGER_EXEC ? arg : NULL;
	c->set |= TP_TSET_TARGET | TP_TSET_COMMAND | TP_TSET_URL |
	    TP_TSET_FUNCTION;
}

/* Parse "INITIAL_MS[:MAX_MS]". */
static int
trigger_backoff(struct cmd_ctx *ctx, char *arg, struct tp_trigger_config *c)
{
	char		*colon;
	uint64_t	 v;
	int		 rc;

	if ((colon = strchr(arg, ':')) != NULL)
		*colon++ = '\0';
	rc = cmd_number(ctx, "--backoff initial delay", arg, 1, UINT32_MAX,
	    &v);
	if (rc != CMD_CONTINUE)
		return (rc);
	c->backoff_initial_ms = (uint32_t)v;
	c->set |= TP_TSET_BACKOFF_INITIAL_MS;
	if (colon == NULL)
		return (CMD_CONTINUE);
	rc = cmd_number(ctx, "--backoff maximum delay", colon, 1, UINT32_MAX,
	    &v);
	c->backoff_max_ms = (uint32_t)v;
	c->set |= TP_TSET_BACKOFF_MAX_MS;
	return (rc);
}

/* A yes/no setting. */
static void
trigger_flag(struct tp_trigger_config *c, int *field, uint64_t flag, int v)
{
	*field = v;
	c->set |= flag;
}

/* Handle a trigger setting option into ta, else as cmd_option does. */
static int
trigger_setting(struct cmd_ctx *ctx, int ch, struct trigger_args *ta)
{
	struct tp_trigger_config	*c = &ta->cfg;
	uint64_t			 v;
	int64_t				 l;
	int				 rc = CMD_CONTINUE;

	switch (ch) {
	case TRIGGER_OPT_STATION:
		c->station = optarg;
		break;
	case TRIGGER_OPT_EXEC:
		trigger_set_target(ta, TP_TRIGGER_EXEC, optarg);
		break;
	case TRIGGER_OPT_HTTP:
		trigger_set_target(ta, TP_TRIGGER_HTTP, optarg);
		break;
	case TRIGGER_OPT_LAMBDA:
		trigger_set_target(ta, TP_TRIGGER_LAMBDA, optarg);
		break;
	case TRIGGER_OPT_FUNCTION:
		c->function = optarg;
		ta->function = 1;
		break;
	case TRIGGER_OPT_START:
		c->start = optarg;
		c->set |= TP_TSET_START;
		break;
	case TRIGGER_OPT_BATCH_SIZE:
		rc = cmd_number(ctx, "--batch-size", optarg, 1, UINT32_MAX, &v);
		c->batch_size = (uint32_t)v;
		c->set |= TP_TSET_BATCH_SIZE;
		break;
	case TRIGGER_OPT_WINDOW:
		rc = cmd_number(ctx, "--batch-window-ms", optarg, 0,
		    UINT32_MAX, &v);
		c->batch_window_ms = (uint32_t)v;
		c->set |= TP_TSET_BATCH_WINDOW_MS;
		break;
	case TRIGGER_OPT_MAX_BYTES:
		rc = cmd_bytes(ctx, "--batch-max-bytes", optarg, 1, UINT32_MAX,
		    &v);
		c->batch_max_bytes = (uint32_t)v;
		c->set |= TP_TSET_BATCH_MAX_BYTES;
		break;
	case TRIGGER_OPT_MODE:
		if (strcmp(optarg, "stream") == 0)
			c->mode = TP_MODE_STREAM;
		else if (strcmp(optarg, "async") == 0)
			c->mode = TP_MODE_ASYNC;
		else
			rc = cmd_usage(ctx, "bad --mode '%s': want stream or "
			    "async", optarg);
		c->set |= TP_TSET_MODE;
		break;
	case TRIGGER_OPT_KEY:
		c->ordering_key = optarg;
		c->set |= TP_TSET_ORDERING_KEY;
		break;
	case TRIGGER_OPT_CONCURRENCY:
		rc = cmd_number(ctx, "--concurrency", optarg, 1, UINT32_MAX,
		    &v);
		c->concurrency = (uint32_t)v;
		c->set |= TP_TSET_CONCURRENCY;
		break;
	case TRIGGER_OPT_TIMEOUT:
		rc = cmd_number(ctx, "--timeout-ms", optarg, 1, UINT32_MAX, &v);
		c->timeout_ms = (uint32_t)v;
		c->set |= TP_TSET_TIMEOUT_MS;
		break;
	case TRIGGER_OPT_RETRIES:
		rc = cmd_integer(ctx, "--max-retries", optarg, -1, INT32_MAX,
		    &l);
		c->max_retries = (int32_t)l;
		c->set |= TP_TSET_MAX_RETRIES;
		break;
	case TRIGGER_OPT_BACKOFF:
		rc = trigger_backoff(ctx, optarg, c);
		break;
	case TRIGGER_OPT_MAX_AGE:
		rc = cmd_number(ctx, "--max-age", optarg, 0, UINT32_MAX, &v);
		c->max_age_s = (uint32_t)v;
		c->set |= TP_TSET_MAX_AGE_S;
		break;
	case TRIGGER_OPT_ITEM:
	case TRIGGER_OPT_NO_ITEM:
		trigger_flag(c, &c->item_failures, TP_TSET_ITEM_FAILURES,
		    ch == TRIGGER_OPT_ITEM);
		break;
	case TRIGGER_OPT_BISECT:
	case TRIGGER_OPT_NO_BISECT:
		trigger_flag(c, &c->bisect_on_error, TP_TSET_BISECT_ON_ERROR,
		    ch == TRIGGER_OPT_BISECT);
		break;
	case TRIGGER_OPT_FILTER:
		if (c->nfilters == TRIGGER_FILTERS_MAX)
			return (cmd_usage(ctx, "more than %d --filter "
			    "expressions", TRIGGER_FILTERS_MAX));
		ta->filters[c->nfilters++] = optarg;
		c->filters = ta->filters;
		c->set |= TP_TSET_FILTERS;
		break;
	case TRIGGER_OPT_NO_FILTER:
		ta->no_filter = 1;
		c->set |= TP_TSET_FILTERS;
		break;
	case TRIGGER_OPT_ON_FAILURE:
		c->on_failure = optarg;
		c->set |= TP_TSET_ON_FAILURE;
		break;
	case TRIGGER_OPT_ON_SUCCESS:
		c->on_success = optarg;
		c->set |= TP_TSET_ON_SUCCESS;
		break;
	case TRIGGER_OPT_ENABLED:
	case TRIGGER_OPT_DISABLED:
		trigger_flag(c, &c->enabled, TP_TSET_ENABLED,
		    ch == TRIGGER_OPT_ENABLED);
		break;
	default:
		return (cmd_option(ctx, ch));
	}
	return (rc);
}

/* What the settings given must satisfy together; CMD_CONTINUE if met. */
static int
trigger_check(const struct cmd_ctx *ctx, const struct trigger_args *ta)
{
	if (ta->targets > 1)
		return (cmd_usage(ctx, "give one of --exec, --http or "
		    "--lambda"));
	if (!ta->update && ta->targets == 0)
		return (cmd_usage(ctx, "a trigger needs --exec, --http or "
		    "--lambda"));
	if (ta->function && ta->cfg.target != TP_TRIGGER_LAMBDA)
		return (cmd_usage(ctx, "--function needs --lambda"));
	if (ta->cfg.target == TP_TRIGGER_LAMBDA && !ta->function)
		return (cmd_usage(ctx, "--lambda needs --function"));
	if (ta->no_filter && ta->cfg.nfilters > 0)
		return (cmd_usage(ctx, "--no-filter and --filter conflict"));
	if (ta->update && ta->cfg.set == 0)
		return (cmd_usage(ctx, "nothing to update: give a setting"));
	return (CMD_CONTINUE);
}

static int
trigger_add(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option	 opts[] = {
		CMD_COMMON_OPTIONS,
		TRIGGER_OPTIONS,
		{ "station", required_argument, NULL, TRIGGER_OPT_STATION },
		{ "start", required_argument, NULL, TRIGGER_OPT_START },
		{ NULL, 0, NULL, 0 }
	};
	struct trigger_args		 ta;
	struct tp_conn			*conn = NULL;
	struct tp_err			 err;
	int				 ch, rc;

	memset(&ta, 0, sizeof ta);
	while ((ch = getopt_long(argc, argv, "hu:", opts, NULL)) != -1) {
		if ((rc = trigger_setting(ctx, ch, &ta)) != CMD_CONTINUE)
			return (rc);
	}
	if (argc - optind != 1)
		return (cmd_usage(ctx, NULL));
	if (ta.cfg.station == NULL)
		return (cmd_usage(ctx, "a trigger needs --station"));
	if ((rc = trigger_check(ctx, &ta)) != CMD_CONTINUE)
		return (rc);
	ta.cfg.name = argv[optind];
	if ((rc = cmd_connect(ctx, &conn)) != CMD_OK)
		return (rc);
	memset(&err, 0, sizeof err);
	if (tp_trigger_create(conn, &ta.cfg, &err) != TP_OK)
		rc = cmd_fail(&err);
	else if (ctx->json) {
		fputs("{\"name\":", stdout);
		output_json_str(stdout, ta.cfg.name);
		fputs(",\"station\":", stdout);
		output_json_str(stdout, ta.cfg.station);
		fputs(",\"created\":true}\n", stdout);
	} else
		printf("created trigger %s on station %s\n", ta.cfg.name,
		    ta.cfg.station);
	tp_close(conn);
	return (rc);
}

static int
trigger_update(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option	 opts[] = {
		CMD_COMMON_OPTIONS,
		TRIGGER_OPTIONS,
		{ "no-item-failures", no_argument, NULL,
		    TRIGGER_OPT_NO_ITEM },
		{ "no-bisect-on-error", no_argument, NULL,
		    TRIGGER_OPT_NO_BISECT },
		{ "no-filter", no_argument, NULL, TRIGGER_OPT_NO_FILTER },
		{ "enabled", no_argument, NULL, TRIGGER_OPT_ENABLED },
		{ NULL, 0, NULL, 0 }
	};
	struct trigger_args		 ta;
	struct tp_conn			*conn = NULL;
	struct tp_err			 err;
	uint64_t			 flag;
	int				 ch, rc, first = 1;

	memset(&ta, 0, sizeof ta);
	ta.update = 1;
	while ((ch = getopt_long(argc, argv, "hu:", opts, NULL)) != -1) {
		if ((rc = trigger_setting(ctx, ch, &ta)) != CMD_CONTINUE)
			return (rc);
	}
	if (argc - optind != 1)
		return (cmd_usage(ctx, NULL));
	if ((rc = trigger_check(ctx, &ta)) != CMD_CONTINUE)
		return (rc);
	ta.cfg.name = argv[optind];
	if ((rc = cmd_connect(ctx, &conn)) != CMD_OK)
		return (rc);
	memset(&err, 0, sizeof err);
	if (tp_trigger_update(conn, &ta.cfg, &err) != TP_OK) {
		rc = cmd_fail(&err);
		goto out;
	}
	if (!ctx->json) {
		printf("updated trigger %s\n", ta.cfg.name);
		goto out;
	}
	fputs("{\"name\":", stdout);
	output_json_str(stdout, ta.cfg.name);
	fputs(",\"updated\":[", stdout);
	for (flag = 1; flag <= TP_TSET_ALL; flag <<= 1) {
		if ((ta.cfg.set & flag) == 0)
			continue;
		printf("%s\"%s\"", first ? "" : ",",
		    tp_trigger_field_name(flag));
		first = 0;
	}
	fputs("]}\n", stdout);
out:
	tp_close(conn);
	return (rc);
}

/* A JSON field "name":"value" after a comma. */
static void
trigger_json_field(const char *name, const char *value)
{
	printf(",\"%s\":", name);
	output_json_str(stdout, value);
}

/* A trigger as one JSON object, without a newline. */
static void
trigger_json(const struct tp_trigger_info *ti)
{
	const struct tp_trigger_config	*c = &ti->config;
	char				 t[OUTPUT_TIME_MAX];
	size_t				 i;

	fputs("{\"name\":", stdout);
	output_json_str(stdout, c->name);
	trigger_json_field("station", c->station);
	trigger_json_field("target", trigger_target(c->target));
	trigger_json_field("command", c->command);
	trigger_json_field("url", c->url);
	trigger_json_field("function", c->function);
	trigger_json_field("start", c->start);
	printf(",\"batch_size\":%" PRIu32 ",\"batch_window_ms\":%" PRIu32
	    ",\"batch_max_bytes\":%" PRIu32, c->batch_size,
	    c->batch_window_ms, c->batch_max_bytes);
	trigger_json_field("mode", trigger_mode(c->mode));
	trigger_json_field("ordering_key", c->ordering_key);
	printf(",\"concurrency\":%" PRIu32 ",\"timeout_ms\":%" PRIu32
	    ",\"max_retries\":%" PRId32 ",\"backoff_initial_ms\":%" PRIu32
	    ",\"backoff_max_ms\":%" PRIu32 ",\"max_age_s\":%" PRIu32
	    ",\"item_failures\":%s,\"bisect_on_error\":%s,\"filters\":[",
	    c->concurrency, c->timeout_ms, c->max_retries,
	    c->backoff_initial_ms, c->backoff_max_ms, c->max_age_s,
	    c->item_failures ? "true" : "false",
	    c->bisect_on_error ? "true" : "false");
	for (i = 0; i < c->nfilters; i++) {
		if (i > 0)
			fputc(',', stdout);
		output_json_str(stdout, c->filters[i]);
	}
	fputc(']', stdout);
	trigger_json_field("on_failure", c->on_failure);
	trigger_json_field("on_success", c->on_success);
	output_time(t, sizeof t, ti->created_ns);
	printf(",\"enabled\":%s,\"created\":\"%s\",\"created_ns\":%" PRId64,
	    c->enabled ? "true" : "false", t, ti->created_ns);
	printf(",\"position\":%" PRIu64 ",\"lag\":%" PRIu64
	    ",\"in_flight\":%" PRIu32 ",\"queued\":%" PRIu32
	    ",\"invocations\":%" PRIu64 ",\"successes\":%" PRIu64
	    ",\"failures\":%" PRIu64 ",\"retries\":%" PRIu64
	    ",\"dead_lettered\":%" PRIu64 ",\"filtered\":%" PRIu64
	    ",\"messages\":%" PRIu64 ",\"p50_us\":%" PRIu32
	    ",\"p99_us\":%" PRIu32, ti->position, ti->lag, ti->in_flight,
	    ti->queued, ti->invocations, ti->successes, ti->failures,
	    ti->retries, ti->dead_lettered, ti->filtered, ti->messages,
	    ti->p50_us, ti->p99_us);
	trigger_json_field("last_error", ti->last_error);
	printf(",\"last_error_ns\":%" PRId64 ",\"last_error_at\":",
	    ti->last_error_ns);
	if (ti->last_error_ns == 0)
		fputs("null}", stdout);
	else {
		output_time(t, sizeof t, ti->last_error_ns);
		printf("\"%s\"}", t);
	}
}

static int
trigger_ls(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option	 opts[] = {
		CMD_COMMON_OPTIONS,
		{ "station", required_argument, NULL, TRIGGER_OPT_STATION },
		{ NULL, 0, NULL, 0 }
	};
	static const char *const	 names[] = {
		"NAME", "STATION", "TARGET", "MODE", "ENABLED", "POSITION",
		"LAG", "INFLIGHT", "INVOKED", "FAILED", "DEAD"
	};
	struct tp_trigger_info		*v = NULL;
	struct output_table		*t = NULL;
	struct tp_conn			*conn = NULL;
	struct tp_err			 err;
	const char			*station = NULL;
	char				 num[6][24];
	const char			*row[11];
	size_t				 i, j, n = 0;
	int				 ch, rc;

	while ((ch = getopt_long(argc, argv, "hu:", opts, NULL)) != -1) {
		if (ch == TRIGGER_OPT_STATION)
			station = optarg;
		else if ((rc = cmd_option(ctx, ch)) != CMD_CONTINUE)
			return (rc);
	}
	if (optind != argc)
		return (cmd_usage(ctx, NULL));
	if ((rc = cmd_connect(ctx, &conn)) != CMD_OK)
		return (rc);
	memset(&err, 0, sizeof err);
	if (tp_trigger_list(conn, station, &v, &n, &err) != TP_OK) {
		rc = cmd_fail(&err);
		goto out;
	}
	if (ctx->json) {
		fputc('[', stdout);
		for (i = 0; i < n; i++) {
			if (i > 0)
				fputc(',', stdout);
			trigger_json(&v[i]);
		}
		fputs("]\n", stdout);
		goto out;
	}
	if ((t = output_table_new(11, names)) == NULL)
		goto nomem;
	for (i = 0; i < n; i++) {
		snprintf(num[0], sizeof num[0], "%" PRIu64, v[i].position);
		snprintf(num[1], sizeof num[1], "%" PRIu64, v[i].lag);
		snprintf(num[2], sizeof num[2], "%" PRIu32, v[i].in_flight);
		snprintf(num[3], sizeof num[3], "%" PRIu64, v[i].invocations);
		snprintf(num[4], sizeof num[4], "%" PRIu64, v[i].failures);
		snprintf(num[5], sizeof num[5], "%" PRIu64,
		    v[i].dead_lettered);
		row[0] = v[i].config.name;
		row[1] = v[i].config.station;
		row[2] = trigger_target(v[i].config.target);
		row[3] = trigger_mode(v[i].config.mode);
		row[4] = v[i].config.enabled ? "yes" : "no";
		for (j = 0; j < 6; j++)
			row[j + 5] = num[j];
		if (output_table_add(t, row) != 0)
			goto nomem;
	}
	output_table_print(t, stdout);
	goto out;
nomem:
	rc = cmd_error("out of memory");
out:
	output_table_free(t);
	tp_trigger_list_free(v, n);
	tp_close(conn);
	return (rc);
}

/* One "key value" line; value escaped, or none when empty. */
static void
trigger_line(const char *key, const char *value, const char *none)
{
	static char	cell[TRIGGER_CELL * 4 + 4];

	if (*value == '\0') {
		printf("%-20s %s\n", key, none);
		return;
	}
	output_escape(cell, sizeof cell, value, strlen(value), TRIGGER_CELL);
	printf("%-20s %s\n", key, cell);
}

/* The settings of a trigger, one per line. */
static void
trigger_print_config(const struct tp_trigger_info *ti)
{
	const struct tp_trigger_config	*c = &ti->config;
	char				 t[OUTPUT_TIME_MAX];
	char				 dls[TP_NAME_MAX + 32];
	size_t				 i;

	output_time(t, sizeof t, ti->created_ns);
	printf("%-20s %s\n", "name", c->name);
	printf("%-20s %s\n", "station", c->station);
	printf("%-20s %s\n", "enabled", c->enabled ? "yes" : "no");
	printf("%-20s %s\n", "created", t);
	printf("%-20s %s\n", "target", trigger_target(c->target));
	trigger_line("command", c->command, "-");
	trigger_line("url", c->url, "-");
	trigger_line("function", c->function, "-");
	trigger_line("start", c->start, "-");
	printf("%-20s %" PRIu32 "\n", "batch_size", c->batch_size);
	printf("%-20s %" PRIu32 "\n", "batch_window_ms", c->batch_window_ms);
	printf("%-20s %" PRIu32 "\n", "batch_max_bytes", c->batch_max_bytes);
	printf("%-20s %s\n", "mode", trigger_mode(c->mode));
	trigger_line("ordering_key", c->ordering_key, "none");
	printf("%-20s %" PRIu32 "\n", "concurrency", c->concurrency);
	printf("%-20s %" PRIu32 "\n", "timeout_ms", c->timeout_ms);
	if (c->max_retries < 0)
		printf("%-20s %s\n", "max_retries", "until max age");
	else
		printf("%-20s %" PRId32 "\n", "max_retries", c->max_retries);
	printf("%-20s %" PRIu32 "\n", "backoff_initial_ms",
	    c->backoff_initial_ms);
	printf("%-20s %" PRIu32 "\n", "backoff_max_ms", c->backoff_max_ms);
	if (c->max_age_s == 0)
		printf("%-20s %s\n", "max_age_s", "none");
	else
		printf("%-20s %" PRIu32 "\n", "max_age_s", c->max_age_s);
	printf("%-20s %s\n", "item_failures", c->item_failures ? "yes" : "no");
	printf("%-20s %s\n", "bisect_on_error",
	    c->bisect_on_error ? "yes" : "no");
	if (c->nfilters == 0)
		printf("%-20s %s\n", "filter", "none");
	for (i = 0; i < c->nfilters; i++)
		trigger_line("filter", c->filters[i], "\"\"");
	snprintf(dls, sizeof dls, "%s%s (default)", c->station,
	    TP_DLS_SUFFIX);
	trigger_line("on_failure", c->on_failure, dls);
	trigger_line("on_success", c->on_success, "none");
}

static int
trigger_info(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct tp_trigger_info	*ti = NULL;
	struct tp_conn		*conn = NULL;
	struct tp_err		 err;
	char			 t[OUTPUT_TIME_MAX];
	int			 rc;

	if ((rc = cmd_common_options(ctx, argc, argv)) != CMD_CONTINUE)
		return (rc);
	if (argc - optind != 1)
		return (cmd_usage(ctx, NULL));
	if ((rc = cmd_connect(ctx, &conn)) != CMD_OK)
		return (rc);
	memset(&err, 0, sizeof err);
	if (tp_trigger_info(conn, argv[optind], &ti, &err) != TP_OK) {
		rc = cmd_fail(&err);
		goto out;
	}
	if (ctx->json) {
		trigger_json(ti);
		fputc('\n', stdout);
		goto out;
	}
	trigger_print_config(ti);
	printf("%-20s %" PRIu64 "\n", "position", ti->position);
	printf("%-20s %" PRIu64 "\n", "lag", ti->lag);
	printf("%-20s %" PRIu32 "\n", "in_flight", ti->in_flight);
	printf("%-20s %" PRIu32 "\n", "queued", ti->queued);
	printf("%-20s %" PRIu64 "\n", "invocations", ti->invocations);
	printf("%-20s %" PRIu64 "\n", "successes", ti->successes);
	printf("%-20s %" PRIu64 "\n", "failures", ti->failures);
	printf("%-20s %" PRIu64 "\n", "retries", ti->retries);
	printf("%-20s %" PRIu64 "\n", "dead_lettered", ti->dead_lettered);
	printf("%-20s %" PRIu64 "\n", "filtered", ti->filtered);
	printf("%-20s %" PRIu64 "\n", "messages", ti->messages);
	printf("%-20s %" PRIu32 ".%03" PRIu32 "\n", "p50_ms",
	    ti->p50_us / 1000, ti->p50_us % 1000);
	printf("%-20s %" PRIu32 ".%03" PRIu32 "\n", "p99_ms",
	    ti->p99_us / 1000, ti->p99_us % 1000);
	trigger_line("last_error", ti->last_error, "none");
	if (ti->last_error_ns == 0)
		printf("%-20s %s\n", "last_error_at", "never");
	else {
		output_time(t, sizeof t, ti->last_error_ns);
		printf("%-20s %s\n", "last_error_at", t);
	}
out:
	tp_trigger_info_free(ti);
	tp_close(conn);
	return (rc);
}

/* pause, resume and rm: a NAME, one call, one line. */
static int
trigger_simple(struct cmd_ctx *ctx, int argc, char **argv,
    int (*fn)(struct tp_conn *, const char *, struct tp_err *),
    const char *done, const char *json)
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
	if (fn(conn, argv[optind], &err) != TP_OK)
		rc = cmd_fail(&err);
	else if (ctx->json) {
		fputs("{\"name\":", stdout);
		output_json_str(stdout, argv[optind]);
		printf(",%s}\n", json);
	} else
		printf("%s trigger %s\n", done, argv[optind]);
	tp_close(conn);
	return (rc);
}

static int
trigger_pause(struct cmd_ctx *ctx, int argc, char **argv)
{
	return (trigger_simple(ctx, argc, argv, tp_trigger_pause, "paused",
	    "\"enabled\":false"));
}

static int
trigger_resume(struct cmd_ctx *ctx, int argc, char **argv)
{
	return (trigger_simple(ctx, argc, argv, tp_trigger_resume, "resumed",
	    "\"enabled\":true"));
}

static int
trigger_rm(struct cmd_ctx *ctx, int argc, char **argv)
{
	return (trigger_simple(ctx, argc, argv, tp_trigger_delete, "deleted",
	    "\"deleted\":true"));
}
