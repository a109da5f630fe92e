/*
 * What every tupelo command shares: usage and error messages, the common
 * options, strict number parsing and connecting.
 */
#include "tools/cmd.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tools/output.h"

#define CMD_COLUMNS	80

void
cmd_wrap(FILE *f, const char *head, const char *text, size_t indent)
{
	const char	*p = text, *q;
	size_t		 col, len;
	int		 depth;

	fputs(head, f);
	col = strlen(head);
	while (*p != '\0') {
		/* A word ends at a space outside brackets. */
		depth = 0;
		for (q = p; *q != '\0' && (*q != ' ' || depth > 0); q++) {
			if (*q == '[')
				depth++;
			else if (*q == ']' && depth > 0)
				depth--;
		}
		len = (size_t)(q - p);
		if (col > indent && col + 1 + len >= CMD_COLUMNS) {
			fprintf(f, "\n%*s", (int)indent, "");
			col = indent;
		} else if (p != text || col > 0) {
			fputc(' ', f);
			col++;
		}
		fwrite(p, 1, len, f);
		col += len;
		for (p = q; *p == ' '; p++)
			;
	}
	fputc('\n', f);
}

void
cmd_print_usage(const struct cmd_entry *e, FILE *f)
{
	char	head[128];

	snprintf(head, sizeof head, "usage: tupelo [-u URL] [--json] %s%s%s",
	    e->name, e->subname != NULL ? " " : "",
	    e->subname != NULL ? e->subname : "");
	cmd_wrap(f, head, e->usage, 8);
}

int
cmd_usage(const struct cmd_ctx *ctx, const char *fmt, ...)
{
	va_list	ap;

	if (fmt != NULL) {
		fputs("tupelo: ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	cmd_print_usage(ctx->entry, stderr);
	return (CMD_USAGE);
}

int
cmd_error(const char *fmt, ...)
{
	va_list	ap;

	fflush(stdout);
	fputs("tupelo: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return (CMD_ERROR);
}

int
cmd_fail(const struct tp_err *err)
{
	if (err->message[0] == '\0')
		return (cmd_error("%s", tp_strerror(err->code)));
	return (cmd_error("%s", err->message));
}

int
cmd_option(struct cmd_ctx *ctx, int ch)
{
	switch (ch) {
	case 'h':
		cmd_print_usage(ctx->entry, stdout);
		if (ctx->entry->help != NULL)
			fputs(ctx->entry->help, stdout);
		return (CMD_OK);
	case 'u':
		ctx->url = optarg;
		return (CMD_CONTINUE);
	case CMD_OPT_JSON:
		ctx->json = 1;
		return (CMD_CONTINUE);
	default:
		/* getopt_long has said what was wrong. */
		return (cmd_usage(ctx, NULL));
	}
}

/* Parse s as a decimal with an optional scale suffix. */
static int
cmd_parse(const struct cmd_ctx *ctx, const char *what, const char *s,
    uint64_t min, uint64_t max, int suffix, uint64_t *out)
{
	unsigned long long	 v;
	uint64_t		 scale = 1;
	char			*end;

	*out = 0;
	errno = 0;
	if (*s < '0' || *s > '9')
		goto bad;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		goto bad;
	if (suffix && *end != '\0' && end[1] == '\0') {
		switch (*end) {
		case 'k':
		case 'K':
			scale = 1024;
			break;
		case 'm':
		case 'M':
			scale = 1024 * 1024;
			break;
		case 'g':
		case 'G':
			scale = 1024 * 1024 * 1024;
			break;
		default:
			goto bad;
		}
		end++;
	}
	if (*end != '\0' || v > UINT64_MAX / scale)
		goto bad;
	v *= scale;
	if (v < min || v > max)
		goto bad;
	*out = v;
	return (CMD_CONTINUE);
bad:
	return (cmd_usage(ctx, "bad %s '%s': want a number from %llu to %llu%s",
	    what, s, (unsigned long long)min, (unsigned long long)max,
	    suffix ? " (K, M, G allowed)" : ""));
}

int
cmd_number(const struct cmd_ctx *ctx, const char *what, const char *s,
    uint64_t min, uint64_t max, uint64_t *out)
{
	return (cmd_parse(ctx, what, s, min, max, 0, out));
}

int
cmd_integer(const struct cmd_ctx *ctx, const char *what, const char *s,
    int64_t min, int64_t max, int64_t *out)
{
	long long	 v;
	char		*end;

	*out = 0;
	errno = 0;
	if ((*s < '0' || *s > '9') && (*s != '-' || s[1] < '0' || s[1] > '9'))
		goto bad;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		goto bad;
	*out = v;
	return (CMD_CONTINUE);
bad:
	return (cmd_usage(ctx, "bad %s '%s': want a number from %lld to %lld",
	    what, s, (long long)min, (long long)max));
}

int
cmd_bytes(const struct cmd_ctx *ctx, const char *what, const char *s,
    uint64_t min, uint64_t max, uint64_t *out)
{
	return (cmd_parse(ctx, what, s, min, max, 1, out));
}

int
cmd_seconds(const struct cmd_ctx *ctx, const char *what, const char *s,
    uint64_t min, uint64_t max, uint64_t *out)
{
	const char	*p = s;
	uint64_t	 ms = 0, scale = 100;
	size_t		 digits = 0;
	char		 lo[OUTPUT_SECONDS_MAX], hi[OUTPUT_SECONDS_MAX];

	*out = 0;
	for (; *p >= '0' && *p <= '9'; p++, digits++) {
		if (ms > UINT64_MAX / 10000)
			goto bad;
		ms = ms * 10 + (uint64_t)(*p - '0');
	}
	ms *= 1000;
	if (*p == '.') {
		/* A fourth decimal stops the loop and fails below. */
		for (p++; *p >= '0' && *p <= '9' && scale > 0; p++) {
			ms += (uint64_t)(*p - '0') * scale;
			scale /= 10;
			digits++;
		}
	}
	if (digits == 0 || *p != '\0' || ms < min || ms > max)
		goto bad;
	*out = ms;
	return (CMD_CONTINUE);
bad:
	output_seconds(lo, sizeof lo, min);
	output_seconds(hi, sizeof hi, max);
	return (cmd_usage(ctx, "bad %s '%s': want seconds from %s to %s, "
	    "at most 3 decimals", what, s, lo, hi));
}

int
cmd_connect(const struct cmd_ctx *ctx, struct tp_conn **conn)
{
	struct tp_err	err;

	memset(&err, 0, sizeof err);
	if (tp_connect(ctx->url, "tupelo", conn, &err) != TP_OK)
		return (cmd_fail(&err));
	return (CMD_OK);
}

void
cmd_getopt_reset(void)
{
#ifdef __GLIBC__
	optind = 0;
#else
	optind = 1;
	optreset = 1;
#endif
}

int
cmd_common_options(struct cmd_ctx *ctx, int argc, char **argv)
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

int
cmd_header(const struct cmd_ctx *ctx, char *arg, struct tp_message *m)
{
	struct tp_header	*h = (struct tp_header *)m->headers;
	char			*eq;

	if ((eq = strchr(arg, '=')) == NULL || eq == arg)
		return (cmd_usage(ctx, "bad header '%s': want KEY=VALUE", arg));
	if (m->nheaders == CMD_HEADERS_MAX)
		return (cmd_usage(ctx, "more than %d headers",
		    CMD_HEADERS_MAX));
	*eq = '\0';
	h[m->nheaders].key = arg;
	h[m->nheaders++].value = eq + 1;
	return (CMD_CONTINUE);
}
