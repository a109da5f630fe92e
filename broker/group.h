/*
 * Durable consumer groups: per group an ack floor and the window of
 * delivered, acked and to-be-redelivered messages above it; members
 * (subscriptions) that share its messages within their credit; acks made
 * durable through the writer before they are confirmed. On restart a group
 * continues from its floor, skipping what it acked above it.
 */
#ifndef TP_BROKER_GROUP_H
#define TP_BROKER_GROUP_H

#include <stdint.h>

#include "proto/tupelo.pb-c.h"

struct conn;
struct station;
struct group;
struct sub;

/* Recreate a group from its stored state (start-up). */
int	group_load(struct station *, const char *, const Tupelo__GroupState *);
/* Free a group and end its subscriptions (station deleted, shutdown). */
void	group_free(struct group *);
/* New durable messages on the station: deliver what credit allows. */
void	group_wake(struct group *);
const char *group_name(struct group *);

/* Requests; each replies on conn. */
void	group_subscribe(struct conn *, uint64_t, struct station *,
	    const Tupelo__Subscribe *, uint32_t);
void	group_ack(struct conn *, uint64_t, const Tupelo__Ack *);
void	group_unsubscribe(struct conn *, uint64_t, uint64_t);

uint64_t group_sub_id(struct sub *);
/* The connection is closing: the sub leaves, its deliveries go back. */
void	group_sub_close(struct sub *);
/* The connection's output drained: deliver more. */
void	group_sub_writable(struct sub *);

#endif
