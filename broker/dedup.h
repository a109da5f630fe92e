/*
 * The idempotency window of one station: producer message ids seen in the
 * last dedup-window seconds, with the seq each was stored under. A repeat
 * inside the window is acknowledged with that seq and not stored again.
 * Rebuilt at start-up from the tail of the log, so it survives restarts.
 */
#ifndef TP_BROKER_DEDUP_H
#define TP_BROKER_DEDUP_H

#include <stddef.h>
#include <stdint.h>

struct dedup;

int	dedup_new(struct dedup **);
void	dedup_free(struct dedup *);
/* The seq of id if it was added at or after since_ns, else 0. */
uint64_t dedup_find(struct dedup *, const char *, size_t, int64_t);
/* Remember id (len bytes) as stored under seq at time_ns. */
int	dedup_add(struct dedup *, const char *, size_t, uint64_t, int64_t);
/* Forget id if it maps to seq (its produce failed). */
void	dedup_remove(struct dedup *, const char *, size_t, uint64_t);
/* Drop entries older than before_ns. */
void	dedup_expire(struct dedup *, int64_t);
size_t	dedup_count(struct dedup *);

#endif
