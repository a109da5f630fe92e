/*
 * What the bench commands share: the monotonic clock, a latency
 * histogram, JSON-like payloads and the RESULT line of the peer
 * benchmarks. The commands are in cmd_bench.c and bench_latency.c.
 */
#ifndef TP_TOOLS_BENCH_H
#define TP_TOOLS_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "tools/cmd.h"

/*
 * Latency histogram in microseconds: exact below 2^BENCH_SUB_BITS, then
 * 2^(BENCH_SUB_BITS - 1) buckets per power of two, so a percentile is
 * off by at most 1/2^BENCH_SUB_BITS of its value.
 */
#define BENCH_SUB_BITS		8
#define BENCH_SUB		(1 << BENCH_SUB_BITS)
#define BENCH_HALF		(BENCH_SUB / 2)
#define BENCH_BUCKETS		(BENCH_SUB + (64 - BENCH_SUB_BITS) * BENCH_HALF)

struct bench_hist {
	uint64_t	n;
	uint64_t	count[BENCH_BUCKETS];	/* by bench_bucket(us) */
	int64_t		max_ns;			/* the largest sample */
};

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t	bench_now_ns(void);
/* Count one sample of ns nanoseconds (below 0: 0). */
void	bench_hist_add(struct bench_hist *, int64_t);
/* Add the samples of the second histogram to the first. */
void	bench_hist_merge(struct bench_hist *, const struct bench_hist *);
/* The q quantile in microseconds, as the peer benchmarks take it. */
double	bench_hist_us(const struct bench_hist *, double);
/* The q quantile in milliseconds. */
double	bench_hist_ms(const struct bench_hist *, double);
/*
 * *npool JSON-like payloads of size bytes, one after the other, freed
 * with free(); NULL: no memory.
 */
char	*bench_pool_new(size_t, size_t *);
/*
 * Check --result's label (no white space, no '|': it is one token of
 * the line and the raw files use '|'); CMD_CONTINUE or CMD_USAGE.
 */
int	bench_label(const struct cmd_ctx *, const char *);
/*
 * Print the line "RESULT label=LABEL <fields> client_cpu_s=S": fields are
 * key=value pairs, S the user and system time of this process so far.
 */
void	bench_result(const char *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

/* tupelo bench latency, in bench_latency.c. */
int	bench_latency_exec(struct cmd_ctx *, int, char **);

#endif
