/*
 * Small portability pieces shared by every part of Tupelo: the <sys/queue.h>
 * _SAFE iterators glibc lacks, a printf-format attribute, and the
 * monotonic clock in milliseconds.
 */
#ifndef TP_PROTO_COMPAT_H
#define TP_PROTO_COMPAT_H

#include <sys/queue.h>

#include <stdint.h>
#include <time.h>

#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif

#ifndef LIST_FOREACH_SAFE
#define LIST_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = LIST_FIRST(head);					\
	    (var) != NULL && ((tvar) = LIST_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif

#define TP_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Milliseconds of CLOCK_MONOTONIC: for timeouts and intervals. */
static inline int64_t
tp_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

#endif
