/*
 * The command table of the tupelo tool and what every command shares:
 * the context built from the global options, usage and error reporting,
 * number parsing and connecting. Each cmd_<group>.c exports its entries.
 */
#ifndef TP_TOOLS_CMD_H
#define TP_TOOLS_CMD_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include <tupelo/tupelo.h>

#define CMD_OK		0	/* exit status: success */
#define CMD_ERROR	1	/* the broker or the connection failed */
#define CMD_USAGE	2	/* bad command line */
#define CMD_CONTINUE	-1	/* an option parsed: keep going */

/* Long-only options every command takes. */
#define CMD_OPT_JSON	0x100
#define CMD_COMMON_OPTIONS						\
	{ "help", no_argument, NULL, 'h' },				\
	{ "json", no_argument, NULL, CMD_OPT_JSON },			\
	{ "url", required_argument, NULL, 'u' }

/* Long-only options of group settings, for consume and group create. */
#define CMD_OPT_FROM		0x300
#define CMD_OPT_ACK_WAIT	0x301
#define CMD_OPT_MAX_DELIVERIES	0x302
#define CMD_OPT_BACKOFF		0x303
#define CMD_OPT_MAX_ACK_PENDING	0x304
#define CMD_GROUP_OPTIONS						\
	{ "from", required_argument, NULL, CMD_OPT_FROM },		\
	{ "ack-wait", required_argument, NULL, CMD_OPT_ACK_WAIT },	\
	{ "max-deliveries", required_argument, NULL,			\
	    CMD_OPT_MAX_DELIVERIES },					\
	{ "backoff", required_argument, NULL, CMD_OPT_BACKOFF },	\
	{ "max-ack-pending", required_argument, NULL,			\
	    CMD_OPT_MAX_ACK_PENDING }
#define CMD_BACKOFF_MAX		32	/* --backoff delays */

struct cmd_entry;

struct cmd_ctx {
	const char		*url;	/* -u, or NULL: TUPELO_URL, default */
	int			 json;	/* --json */
	const struct cmd_entry	*entry;	/* the command running */
};

/* Group settings from the command line. */
struct cmd_group {
	struct tp_group_opts	opts;	/* points into this struct, argv */
	uint32_t		backoff[CMD_BACKOFF_MAX];	/* ms */
	int			set;	/* 1: some setting was given */
};

struct cmd_entry {
	const char	*name;
	const char	*subname;	/* NULL: a command without one */
	const char	*usage;		/* arguments, after the name(s) */
	const char	*help;		/* what it does and its options */
	int		(*exec)(struct cmd_ctx *, int, char **);
};

/* Entry tables, each ending with an entry whose name is NULL. */
extern const struct cmd_entry cmd_station_entries[];
extern const struct cmd_entry cmd_produce_entries[];
extern const struct cmd_entry cmd_consume_entries[];
extern const struct cmd_entry cmd_group_entries[];
extern const struct cmd_entry cmd_dls_entries[];
extern const struct cmd_entry cmd_trigger_entries[];
extern const struct cmd_entry cmd_invoke_entries[];

/* Print head, then text wrapped at 80 columns, indenting later lines. */
void	cmd_wrap(FILE *, const char *, const char *, size_t);
/* Print the usage line of a command to f. */
void	cmd_print_usage(const struct cmd_entry *, FILE *);
/* Usage error: the message (may be NULL) and usage on stderr; CMD_USAGE. */
int	cmd_usage(const struct cmd_ctx *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* "tupelo: message" on stderr; returns CMD_ERROR. */
int	cmd_error(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Report a library error; returns CMD_ERROR. */
int	cmd_fail(const struct tp_err *);
/* Handle -h, -u, --json and unknown options; CMD_CONTINUE or a status. */
int	cmd_option(struct cmd_ctx *, int);
/* Parse only the common options; the operands stay at argv[optind]. */
int	cmd_common_options(struct cmd_ctx *, int, char **);
/*
 * Parse option what's whole decimal value in [min, max]: CMD_CONTINUE,
 * or CMD_USAGE after saying why.
 */
int	cmd_number(const struct cmd_ctx *, const char *, const char *,
	    uint64_t, uint64_t, uint64_t *);
/* Like cmd_number, for a signed value with an optional '-'. */
int	cmd_integer(const struct cmd_ctx *, const char *, const char *,
	    int64_t, int64_t, int64_t *);
/* Like cmd_number, with an optional K, M or G (binary) suffix. */
int	cmd_bytes(const struct cmd_ctx *, const char *, const char *,
	    uint64_t, uint64_t, uint64_t *);
/*
 * Like cmd_number, for seconds with up to three decimals: *out gets
 * milliseconds in [min, max].
 */
int	cmd_seconds(const struct cmd_ctx *, const char *, const char *,
	    uint64_t, uint64_t, uint64_t *);
/* Headers a message of the command line may carry (-H K=V). */
#define CMD_HEADERS_MAX	64
/*
 * Add the -H argument KEY=VALUE (split in place) to m's headers, whose
 * array holds CMD_HEADERS_MAX: CMD_CONTINUE, or CMD_USAGE after saying
 * why.
 */
int	cmd_header(const struct cmd_ctx *, char *, struct tp_message *);
/* Connect as the context says; CMD_OK or CMD_ERROR (reported). */
int	cmd_connect(const struct cmd_ctx *, struct tp_conn **);
/* Make getopt_long start over on a new argument vector. */
void	cmd_getopt_reset(void);

/* Handle a CMD_GROUP_OPTIONS option into g, else as cmd_option does. */
int	cmd_group_option(struct cmd_ctx *, int, struct cmd_group *);
/* Print a received message, raw or as a JSON line (consume, read). */
void	cmd_consume_print(const struct cmd_ctx *, const struct tp_msg *);

#endif
