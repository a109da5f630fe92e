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

/*
 * Dead-letter n seqs of st, delivered deliveries[i] times to group, for
 * reason with the last error (NULL allowed). done runs once the dead
 * letters are durable. Returns TP_OK or why nothing was queued.
 */
int	dls_send(struct station *, const char *, const uint64_t *,
	    const uint32_t *, size_t, const char *, const char *,
	    produce_done_cb, void *);
/* Handle a DlsReplay request; replies on conn. */
void	dls_replay(struct conn *, uint64_t, const Tupelo__DlsReplay *);

#endif
