/*
 * Output helpers for the tupelo tool. Tables keep copies of their cells
 * until printed; the JSON writers escape as RFC 8259 asks, and never emit
 * bytes that are not UTF-8.
 */
#include "tools/output.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct output_table {
	size_t	  ncols;
	size_t	  nrows;	/* rows including the header */
	size_t	  cap;		/* rows allocated */
	char	**cells;	/* owned: nrows * ncols strings */
	size_t	 *width;	/* owned: ncols widths */
};

struct output_table *
output_table_new(size_t ncols, const char *const *names)
{
	struct output_table	*t;

	if ((t = calloc(1, sizeof *t)) == NULL)
		return (NULL);
	t->ncols = ncols;
	if ((t->width = calloc(ncols, sizeof *t->width)) == NULL ||
	    output_table_add(t, names) != 0) {
		output_table_free(t);
		return (NULL);
	}
	return (t);
}

int
output_table_add(struct output_table *t, const char *const *row)
{
	char	**cells;
	size_t	  i, len, cap;

	if (t->nrows == t->cap) {
		cap = t->cap == 0 ? 16 : t->cap * 2;
		cells = reallocarray(t->cells, cap * t->ncols, sizeof *cells);
		if (cells == NULL)
			return (-1);
		t->cells = cells;
		t->cap = cap;
	}
	cells = t->cells + t->nrows * t->ncols;
	for (i = 0; i < t->ncols; i++) {
		if ((cells[i] = strdup(row[i])) == NULL) {
			while (i > 0)
				free(cells[--i]);
			return (-1);
		}
		if ((len = strlen(row[i])) > t->width[i])
			t->width[i] = len;
	}
	t->nrows++;
	return (0);
}

void
output_table_print(struct output_table *t, FILE *f)
{
	size_t	r, i;
	char	*cell;

	for (r = 0; r < t->nrows; r++) {
		for (i = 0; i < t->ncols; i++) {
			cell = t->cells[r * t->ncols + i];
			if (i == t->ncols - 1)
				fprintf(f, "%s\n", cell);
			else
				fprintf(f, "%-*s  ", (int)t->width[i], cell);
		}
	}
}

void
output_table_free(struct output_table *t)
{
	size_t	i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->width);
	free(t);
}

/* Length of the UTF-8 sequence at p (at most left bytes), 0 if bad. */
static size_t
output_utf8_seq(const unsigned char *p, size_t left)
{
	uint32_t	cp;
	size_t		n, i;

	if (p[0] < 0x80)
		return (1);
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return (0);
	cp = p[0] & (0x7f >> n);
	if (n > left)
		return (0);
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return (0);
		cp = cp << 6 | (p[i] & 0x3f);
	}
	/* No overlong forms, surrogates or code points past U+10FFFF. */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return (0);
	return (n);
}

int
output_utf8_valid(const void *buf, size_t len)
{
	const unsigned char	*p = buf;
	size_t			 off = 0, n;

	while (off < len) {
		if ((n = output_utf8_seq(p + off, len - off)) == 0)
			return (0);
		off += n;
	}
	return (1);
}

void
output_json_string(FILE *f, const void *buf, size_t len)
{
	const unsigned char	*p = buf;
	size_t			 off = 0, n;
	unsigned char		 c;

	fputc('"', f);
	while (off < len) {
		c = p[off];
		if ((n = output_utf8_seq(p + off, len - off)) == 0) {
			fputs("\\ufffd", f);
			off++;
			continue;
		}
		if (n > 1) {
			fwrite(p + off, 1, n, f);
			off += n;
			continue;
		}
		off++;
		switch (c) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (c < 0x20)
				fprintf(f, "\\u%04x", c);
			else
				fputc(c, f);
			break;
		}
	}
	fputc('"', f);
}

void
output_json_str(FILE *f, const char *s)
{
	output_json_string(f, s, strlen(s));
}

void
output_json_base64(FILE *f, const void *buf, size_t len)
{
	static const char	 b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char	*p = buf;
	char			 out[4];
	uint32_t		 v;
	size_t			 i;

	fputc('"', f);
	for (i = 0; i + 3 <= len; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[0] = b64[v >> 18];
		out[1] = b64[(v >> 12) & 63];
		out[2] = b64[(v >> 6) & 63];
		out[3] = b64[v & 63];
		fwrite(out, 1, 4, f);
	}
	if (i < len) {
		v = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		out[0] = b64[v >> 18];
		out[1] = b64[(v >> 12) & 63];
		out[2] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
		out[3] = '=';
		fwrite(out, 1, 4, f);
	}
	fputc('"', f);
}

void
output_time(char *buf, size_t size, int64_t ns)
{
	struct tm	tm;
	time_t		sec;
	int64_t		frac;
	size_t		n;

	sec = (time_t)(ns / 1000000000);
	frac = ns % 1000000000;
	if (frac < 0) {
		frac += 1000000000;
		sec--;
	}
	if (gmtime_r(&sec, &tm) == NULL ||
	    (n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm)) == 0) {
		snprintf(buf, size, "%lld", (long long)ns);
		return;
	}
	snprintf(buf + n, size - n, ".%09lldZ", (long long)frac);
}

void
output_seconds(char *buf, size_t size, uint64_t ms)
{
	size_t	n;

	snprintf(buf, size, "%llu.%03u", (unsigned long long)(ms / 1000),
	    (unsigned int)(ms % 1000));
	/* Drop the zeros the decimals end with, then a bare point. */
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '0' && strchr(buf, '.') != NULL)
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '.')
		buf[--n] = '\0';
}

void
output_escape(char *buf, size_t size, const void *p, size_t len, size_t max)
{
	static const char	 from[] = "\n\r\t\\", to[] = "nrt\\";
	const unsigned char	*s = p;
	const char		*q;
	char			 piece[8];
	size_t			 off = 0, used = 0, n, plen, chars = 0;

	if (size == 0)
		return;
	buf[0] = '\0';
	while (off < len) {
		n = plen = output_utf8_seq(s + off, len - off);
		if (n > 1 || (n == 1 && s[off] >= 0x20 && s[off] < 0x7f &&
		    s[off] != '\\'))
			memcpy(piece, s + off, n);
		else if ((q = memchr(from, s[off], sizeof from - 1)) != NULL) {
			piece[0] = '\\';
			piece[1] = to[q - from];
			n = 1;
			plen = 2;
		} else {
			n = 1;
			plen = (size_t)snprintf(piece, sizeof piece, "\\x%02x",
			    s[off]);
		}
		/* Room for the piece, and then for "..." and the NUL. */
		if (chars == max || used + plen + 4 > size) {
			snprintf(buf + used, size - used, "...");
			return;
		}
		memcpy(buf + used, piece, plen);
		used += plen;
		buf[used] = '\0';
		off += n;
		chars++;
	}
}
