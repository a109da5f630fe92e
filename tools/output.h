/*
 * Output for people and scripts: aligned tables, JSON strings, base64,
 * UTF-8 checks and RFC 3339 times. Everything writes to a FILE.
 */
#ifndef TP_TOOLS_OUTPUT_H
#define TP_TOOLS_OUTPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct output_table;

/* A table with ncols columns named by the ncols strings at names. */
struct output_table *output_table_new(size_t, const char *const *);
/* Add a row of ncols strings (copied); -1 when out of memory. */
int	output_table_add(struct output_table *, const char *const *);
/* Print the header and rows, columns padded to their widest cell. */
void	output_table_print(struct output_table *, FILE *);
void	output_table_free(struct output_table *);

/* Is len bytes at p well-formed UTF-8? */
int	output_utf8_valid(const void *, size_t);
/* Write len bytes at p as a quoted JSON string (bad UTF-8 as U+FFFD). */
void	output_json_string(FILE *, const void *, size_t);
/* Write a NUL-terminated string as a quoted JSON string. */
void	output_json_str(FILE *, const char *);
/* Write len bytes at p as a quoted base64 JSON string. */
void	output_json_base64(FILE *, const void *, size_t);
/* Format ns since the epoch as RFC 3339 UTC with nanoseconds. */
void	output_time(char *, size_t, int64_t);
/* Format ms as seconds, with decimals only as needed ("30", "0.25"). */
void	output_seconds(char *, size_t, uint64_t);
/*
 * Copy len bytes at p into a table cell of size bytes: at most max
 * characters, then "..."; control characters, backslashes and bad UTF-8
 * escaped as \n, \t, \r, \\ and \xNN.
 */
void	output_escape(char *, size_t, const void *, size_t, size_t);

#define OUTPUT_TIME_MAX		48	/* buffer for output_time */
#define OUTPUT_SECONDS_MAX	32	/* buffer for output_seconds */

#endif
