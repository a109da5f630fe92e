/*
 * tupelo: the command-line tool of the Tupelo broker. Parses the global
 * options up to the command word, finds the command in the tables the
 * cmd_<group>.c files export and runs it. Exit status: 0 success, 1 an
 * error from the broker or the connection, 2 a usage error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cmd.h"

/* From cmd_bench.c, which has no header of its own. */
extern const struct cmd_entry cmd_bench_entries[];

static const struct cmd_entry *const tupelo_tables[] = {
	cmd_station_entries,
	cmd_produce_entries,
	cmd_consume_entries,
	cmd_group_entries,
	cmd_dls_entries,
	cmd_trigger_entries,
	cmd_invoke_entries,
	cmd_bench_entries,
};
static char	tupelo_name[] = "tupelo";	/* argv[0] for getopt */

#define TUPELO_NTABLES	(sizeof tupelo_tables / sizeof tupelo_tables[0])

static void
tupelo_usage(FILE *f)
{
	const struct cmd_entry	*e;
	char			 head[64];
	size_t			 i;

	fprintf(f, "usage: tupelo [-u URL] [--json] COMMAND [ARGS]\n"
	    "       tupelo --version | --help | COMMAND --help\n\n"
	    "  -u, --url URL   broker, tupelo[s]://[user:pass@]host[:port]\n"
	    "                  (default: $TUPELO_URL, else %s)\n"
	    "  --json          print JSON for scripts\n\ncommands:\n",
	    TP_DEFAULT_URL);
	for (i = 0; i < TUPELO_NTABLES; i++) {
		for (e = tupelo_tables[i]; e->name != NULL; e++) {
			snprintf(head, sizeof head, "  %s%s%s", e->name,
			    e->subname != NULL ? " " : "",
			    e->subname != NULL ? e->subname : "");
			cmd_wrap(f, head, e->usage, 6);
		}
	}
}

/* Usage of every command named name (to f unless NULL); 0 if none. */
static int
tupelo_group_usage(const char *name, FILE *f)
{
	const struct cmd_entry	*e;
	size_t			 i;
	int			 found = 0;

	for (i = 0; i < TUPELO_NTABLES; i++) {
		for (e = tupelo_tables[i]; e->name != NULL; e++) {
			if (strcmp(e->name, name) == 0) {
				if (f != NULL)
					cmd_print_usage(e, f);
				found = 1;
			}
		}
	}
	return (found);
}

/* Edit distance of a and b, counted up to 3 (more: 3). */
static size_t
tupelo_distance(const char *a, const char *b)
{
	size_t	row[32], i, j, diag, up, best;
	size_t	la = strlen(a), lb = strlen(b);

	if (la >= sizeof row || lb >= sizeof row)
		return (3);
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		diag = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			up = row[j];
			best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return (row[lb] < 3 ? row[lb] : 3);
}

/*
 * One line for a command that does not exist: the nearest one, or the
 * option meant by a word like "version", then where the list is.
 */
static void
tupelo_unknown(const char *name)
{
	const struct cmd_entry	*e;
	const char		*near = NULL;
	size_t			 i, d, best = 3;

	if (strcmp(name, "version") == 0 || strcmp(name, "help") == 0) {
		fprintf(stderr, "tupelo: unknown command '%s'; did you mean "
		    "'tupelo --%s'?\n", name, name);
		return;
	}
	for (i = 0; i < TUPELO_NTABLES; i++) {
		for (e = tupelo_tables[i]; e->name != NULL; e++) {
			if ((d = tupelo_distance(name, e->name)) < best) {
				best = d;
				near = e->name;
			}
		}
	}
	if (near != NULL)
		fprintf(stderr, "tupelo: unknown command '%s'; did you mean "
		    "'%s'?\n", name, near);
	else
		fprintf(stderr, "tupelo: unknown command '%s'; 'tupelo "
		    "--help' lists them\n", name);
}

/* The short usage, for a bad option. */
static void
tupelo_hint(void)
{
	fprintf(stderr, "usage: tupelo [-u URL] [--json] COMMAND [ARGS]\n"
	    "'tupelo --help' lists the commands, 'tupelo COMMAND --help' "
	    "explains one\n");
}

/* Find name (and sub, for commands that have one); NULL if unknown. */
static const struct cmd_entry *
tupelo_find(const char *name, const char *sub)
{
	const struct cmd_entry	*e;
	size_t			 i;

	for (i = 0; i < TUPELO_NTABLES; i++) {
		for (e = tupelo_tables[i]; e->name != NULL; e++) {
			if (strcmp(e->name, name) != 0)
				continue;
			if (e->subname == NULL ||
			    (sub != NULL && strcmp(e->subname, sub) == 0))
				return (e);
		}
	}
	return (NULL);
}

int
main(int argc, char **argv)
{
	static const struct option	 opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, CMD_OPT_JSON },
		{ "url", required_argument, NULL, 'u' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct cmd_ctx			 ctx;
	const struct cmd_entry		*e;
	const char			*name, *sub;
	int				 ch, first;

	memset(&ctx, 0, sizeof ctx);
	argv[0] = tupelo_name;
	while ((ch = getopt_long(argc, argv, "+hu:V", opts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			tupelo_usage(stdout);
			return (CMD_OK);
		case 'u':
			ctx.url = optarg;
			break;
		case 'V':
			printf("tupelo %s\n", TP_VERSION_STRING);
			return (CMD_OK);
		case CMD_OPT_JSON:
			ctx.json = 1;
			break;
		default:
			tupelo_hint();
			return (CMD_USAGE);
		}
	}
	if (optind == argc) {
		tupelo_usage(stderr);
		return (CMD_USAGE);
	}
	name = argv[optind];
	sub = optind + 1 < argc ? argv[optind + 1] : NULL;
	if ((e = tupelo_find(name, sub)) == NULL) {
		if (sub != NULL && (strcmp(sub, "--help") == 0 ||
		    strcmp(sub, "-h") == 0) && tupelo_group_usage(name, stdout))
			return (CMD_OK);
		if (!tupelo_group_usage(name, NULL))
			tupelo_unknown(name);
		else {
			if (sub != NULL)
				fprintf(stderr, "tupelo: unknown command '%s "
				    "%s'\n", name, sub);
			else
				fprintf(stderr, "tupelo: %s needs a "
				    "subcommand\n", name);
			tupelo_group_usage(name, stderr);
		}
		return (CMD_USAGE);
	}
	ctx.entry = e;
	/* The command parses from its own word on; getopt says "tupelo". */
	first = optind + (e->subname != NULL ? 1 : 0);
	argv[first] = argv[0];
	cmd_getopt_reset();
	return (e->exec(&ctx, argc - first, argv + first));
}
