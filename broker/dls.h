/*
 * Dead letters: copies of messages a group gave up on, appended to the
 * station's dead-letter station "<station>.dls" with headers naming the
 * origin, the group, the delivery count, the reason and the last error;
 * and replay, which produces them again without those headers and removes
 * them from the dead-letter station in the same transaction.
 */
#ifndef TP_BROKER_DLS_H
#define TP_BROKER_DLS_H

#include <stddef.h>
#include <stdint.h>

#include "broker/produce.h"
#include "proto/tupelo.pb-c.h"

struct conn;
struct station;

/* Most records one replay request moves; repeat for more. */
#define DLS_REPLAY_MAX	10000

/* Why messages are dead-lettered, and where they go. */
struct dls_why {
	const char	*group;		/* whose they were */
	const char	*reason;	/* "max-deliveries", "term", ... */
	const char	*error;		/* the last error; NULL: "" */
	const char	*trigger;	/* NULL: no tp-trigger header */
	uint32_t	 attempts;	/* 0: no tp-attempts header */
	struct station	*to;		/* NULL: the station's own DLS */
};

/*
 * Dead-letter n seqs of st, delivered deliveries[i] times, for why. done
 * runs once the dead letters are durable. Returns TP_OK or why nothing
 * was queued (TP_ENOSTATION: no dead-letter station).
 */
int	dls_send(struct station *, const struct dls_why *, const uint64_t *,
	    const uint32_t *, size_t, produce_done_cb, void *);
/* Handle a DlsReplay request; replies on conn. */
void	dls_replay(struct conn *, uint64_t, const Tupelo__DlsReplay *);

#endif
