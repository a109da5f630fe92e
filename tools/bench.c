/*
 * Helpers of the bench commands: the clock, the latency histogram, the
 * payload pool and the RESULT line. No state of their own; a histogram
 * belongs to one thread at a time.
 */
#include "tools/bench.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define BENCH_POOL		64	/* distinct payloads, used in turn */
#define BENCH_POOL_BYTES	(16 * 1024 * 1024)	/* at most */

static const char *const bench_status[] = {
	"shipped", "pending", "delivered", "cancelled", "returned"
};

int64_t
bench_now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
}

static size_t
bench_bucket(uint64_t us)
{
	unsigned int	msb, shift;

	if (us < BENCH_SUB)
		return ((size_t)us);
	msb = 63 - (unsigned int)__builtin_clzll(us);
	shift = msb - (BENCH_SUB_BITS - 1);
	return (BENCH_SUB + (msb - BENCH_SUB_BITS) * BENCH_HALF +
	    (size_t)((us >> shift) - BENCH_HALF));
}

/* The middle of bucket i, in microseconds. */
static double
bench_bucket_us(size_t i)
{
	size_t		k;
	unsigned int	shift;
	uint64_t	low;

	if (i < BENCH_SUB)
		return ((double)i);
	k = i - BENCH_SUB;
	shift = (unsigned int)(k / BENCH_HALF) + 1;
	low = (uint64_t)(BENCH_HALF + k % BENCH_HALF) << shift;
	return ((double)low + (double)((1ULL << shift) - 1) / 2);
}

void
bench_hist_add(struct bench_hist *h, int64_t ns)
{
	if (ns < 0)
		ns = 0;
	h->count[bench_bucket((uint64_t)ns / 1000)]++;
	if (ns > h->max_ns)
		h->max_ns = ns;
	h->n++;
}

void
bench_hist_merge(struct bench_hist *to, const struct bench_hist *from)
{
	size_t	i;

	for (i = 0; i < BENCH_BUCKETS; i++)
		to->count[i] += from->count[i];
	to->n += from->n;
	if (from->max_ns > to->max_ns)
		to->max_ns = from->max_ns;
}

/*
 * The sample of rank q * (n - 1) in ascending order, as the peer
 * benchmarks take it; the largest is exact.
 */
double
bench_hist_us(const struct bench_hist *h, double q)
{
	uint64_t	rank, seen = 0;
	size_t		i;

	if (h->n == 0)
		return (0);
	rank = (uint64_t)(q * (double)(h->n - 1));
	if (rank >= h->n - 1)
		return ((double)h->max_ns / 1000);
	for (i = 0; i < BENCH_BUCKETS; i++) {
		seen += h->count[i];
		if (seen > rank)
			break;
	}
	return (bench_bucket_us(i));
}

double
bench_hist_ms(const struct bench_hist *h, double q)
{
	return (bench_hist_us(h, q) / 1000);
}

/*
 * Fill size bytes at buf with a JSON array of order records, each with
 * its own id and a status and total drawn from *x (xorshift), padded
 * with spaces before the closing bracket.
 */
static void
bench_payload(char *buf, size_t size, uint64_t *id, uint32_t *x)
{
	char	rec[128];
	size_t	off = 0;
	int	n;

	if (size < 2) {
		memset(buf, ' ', size);
		return;
	}
	buf[off++] = '[';
	for (;;) {
		*x ^= *x << 13;
		*x ^= *x >> 17;
		*x ^= *x << 5;
		n = snprintf(rec, sizeof rec, "%s{\"id\":%" PRIu64
		    ",\"status\":\"%s\",\"total\":%u.%02u}",
		    off > 1 ? "," : "", *id, bench_status[*x % 5],
		    (*x >> 3) % 1000, (*x >> 13) % 100);
		if (n < 0 || off + (size_t)n + 1 > size)
			break;
		memcpy(buf + off, rec, (size_t)n);
		off += (size_t)n;
		(*id)++;
	}
	memset(buf + off, ' ', size - 1 - off);
	buf[size - 1] = ']';
}

char *
bench_pool_new(size_t size, size_t *npool)
{
	char		*pool;
	uint64_t	 id = 100000;
	uint32_t	 x = 2463534242U;
	size_t		 i, n;

	n = BENCH_POOL_BYTES / size;
	if (n > BENCH_POOL)
		n = BENCH_POOL;
	if (n == 0)
		n = 1;
	if ((pool = malloc(n * size)) == NULL)
		return (NULL);
	for (i = 0; i < n; i++)
		bench_payload(pool + i * size, size, &id, &x);
	*npool = n;
	return (pool);
}

int
bench_label(const struct cmd_ctx *ctx, const char *label)
{
	if (*label == '\0' || strpbrk(label, " \t\n\r\v\f|") != NULL)
		return (cmd_usage(ctx, "bad --result '%s': want a label "
		    "without white space or '|'", label));
	return (CMD_CONTINUE);
}

void
bench_result(const char *label, const char *fmt, ...)
{
	struct rusage	ru;
	va_list		ap;
	double		cpu = 0;

	if (getrusage(RUSAGE_SELF, &ru) == 0)
		cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
		    ((double)ru.ru_utime.tv_usec +
		    (double)ru.ru_stime.tv_usec) / 1e6;
	printf("RESULT label=%s ", label);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" client_cpu_s=%.3f\n", cpu);
}
