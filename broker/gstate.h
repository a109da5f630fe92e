/*
 * Consumer group storage and administration: the stored state (save and
 * load), creating a group from a start position, acks waiting for a save,
 * and the group requests (create, delete, info, list).
 */
#ifndef TP_BROKER_GSTATE_H
#define TP_BROKER_GSTATE_H

#include <stdint.h>

#include "proto/tupelo.pb-c.h"

struct conn;
struct event_base;
struct group;
struct station;
struct tp_err;

/* Recreate a group from its stored state (start-up). */
int	gstate_load(struct station *, const char *, const Tupelo__GroupState *);
/* Make a group starting at start ("all", "new", "seq:N", ...). */
int	gstate_create(struct station *, const char *, const char *,
	    const Tupelo__GroupConfig *, int, struct group **,
	    struct tp_err *);
/* Deferred saves run on a timer of base. */
void	gstate_start(struct event_base *);
/* Save every deferred group now; from then on no save is deferred. */
void	gstate_stop(void);
/*
 * Store the group's state unless a save is in flight (its completion
 * saves again): at once if an ack waits for it, otherwise within
 * GSTATE_SAVE_MS, with whatever else changes meanwhile in one save.
 */
void	gstate_save(struct group *);
/* Store the group's state now, unless a save is in flight. */
void	gstate_save_now(struct group *);
/* Remove a group from its station and storage; Ok on conn (NULL: no
 * reply) once durable. */
void	gstate_delete(struct group *, struct conn *, uint64_t);
/* Answer request id on conn with Ok once the next save is durable. */
int	gstate_waiter_add(struct group *, struct conn *, uint64_t);

void	gstate_request_create(struct conn *, uint64_t,
	    const Tupelo__GroupCreate *);
void	gstate_request_delete(struct conn *, uint64_t,
	    const Tupelo__GroupDelete *);
void	gstate_request_get(struct conn *, uint64_t, const Tupelo__GroupGet *);
void	gstate_request_list(struct conn *, uint64_t, const Tupelo__GroupList *);

#endif
