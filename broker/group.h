/*
 * Durable consumer groups: per group an ack floor and the window of
 * delivered, waiting, dead-lettering and acked messages above it; members
 * (subscriptions) that share its messages within their credit; ack-wait
 * redelivery, nacks, terms and dead letters after max deliveries.
 * broker/group owns delivery and the window; broker/gstate owns what is
 * stored, creation from a start position, and the admin requests. The
 * structures below are shared by those two files only.
 */
#ifndef TP_BROKER_GROUP_H
#define TP_BROKER_GROUP_H

#include <stddef.h>
#include <stdint.h>

#include <event2/util.h>

#include "proto/compat.h"
#include "proto/tupelo.pb-c.h"
#include "client/tupelo/tupelo.h"

struct conn;
struct event;
struct event_base;
struct station;

#define PEND_DELIVERED	0	/* with a member until at_ms */
#define PEND_WAITING	1	/* to deliver again, not before at_ms */
#define PEND_DEAD	2	/* on its way to the dead-letter station */
#define PEND_ACKED	3	/* done, not yet below the floor */

struct pend {
	uint64_t	 seq;
	struct sub	*sub;		/* borrowed, DELIVERED only */
	int64_t		 at_ms;		/* monotonic ms */
	uint32_t	 deliveries;
	int		 state;		/* PEND_* */
};

struct conn_rec;
struct dls_why;

/*
 * An internal member (a trigger's invoker) takes records through these
 * instead of a connection. Its deliveries have no ack wait: they stay
 * with it until it acks or dead-letters them, or leaves.
 */
struct group_sink {
	int	(*ready)(void *);	/* room for more records? */
	/* n records; their bytes are borrowed for the call only. */
	void	(*deliver)(void *, const struct conn_rec *, size_t);
	void	(*gone)(void *);	/* the group was deleted */
};

/* The outcome of group_sink_dead(): TP_OK once stored. */
typedef void (*group_dead_cb)(void *, int);

struct sub {
	uint64_t		 id;
	struct group		*g;		/* borrowed, outlives sub */
	struct conn		*conn;		/* borrowed; NULL for a sink */
	const struct group_sink	*sink;		/* internal member, or NULL */
	void			*sink_arg;
	uint32_t		 max_unacked;
	uint32_t		 unacked;
	uint64_t		 left;		/* deliveries it may still
						   have; UINT64_MAX: any */
	char			 name[64];	/* consumer name, escaped */
	TAILQ_ENTRY(sub)	 entry;
};
TAILQ_HEAD(sub_list, sub);

struct group_waiter {
	struct conn	*conn;		/* referenced */
	uint64_t	 id;		/* request to answer once stored */
};

struct group {
	char			 name[TP_NAME_MAX + 1];
	struct station		*st;		/* borrowed, owns the group */
	int			 ephemeral;	/* never stored */
	Tupelo__GroupConfig	 cfg;		/* as set; 0: default */
	uint32_t		*backoff;	/* owned, nbackoff ms */
	size_t			 nbackoff;
	uint64_t		 floor;		/* all <= floor acked */
	uint64_t		 next_seq;	/* first never delivered */
	struct pend		*win;		/* owned: win[head..head+len) */
	size_t			 head, len, cap;
	size_t			 npending;	/* entries not acked */
	/* From the stored state, consumed as delivery passes them. */
	uint64_t		 delivered_upto;
	uint64_t		*skip;		/* owned: acked, sorted */
	size_t			 nskip, skip_head;
	uint64_t		*counted;	/* owned: seqs, sorted */
	uint32_t		*counts;	/* owned: their deliveries */
	size_t			 ncounted, icounted;
	uint64_t		 redelivered;	/* counters, stored */
	uint64_t		 dead_lettered;
	uint64_t		 skipped;	/* removed before delivery */
	int64_t			 created_ns;
	struct sub_list		 subs;
	struct event		*timer;		/* owned */
	int64_t			 timer_at;	/* ms it is set for, 0: none */
	int			 dirty;		/* changed since stored */
	int			 saving;	/* a save is at the writer */
	int			 deferred;	/* on gstate's list to save */
	TAILQ_ENTRY(group)	 dentry;	/* on that list */
	int			 refs;		/* storage ops in flight */
	int			 freed;		/* deleted: free when refs 0 */
	struct group_waiter	*waiters;	/* owned: to confirm */
	size_t			 nwaiters, waiters_cap;
};

void	group_start(struct event_base *);
int64_t	group_now_ms(void);
struct group *group_new(struct station *, const char *, int);
/* Delete: end the subscriptions; freed when no operation holds it. */
void	group_free(struct group *);
void	group_unref(struct group *);
const char *group_name(struct group *);
/* Settings in force (defaults filled in), and setting non-zero ones. */
void	group_config_get(struct group *, Tupelo__GroupConfig *);
int	group_config_set(struct group *, const Tupelo__GroupConfig *);
struct pend *group_win_find(struct group *, uint64_t);
/* New durable messages on the station: deliver what credit allows. */
void	group_wake(struct group *);
void	group_timer_cb(evutil_socket_t, short, void *);

/* Requests; each replies on conn. */
void	group_subscribe(struct conn *, uint64_t, struct station *,
	    const Tupelo__Subscribe *, uint32_t);
void	group_ack(struct conn *, uint64_t, const Tupelo__Ack *);
void	group_nack(struct conn *, uint64_t, const Tupelo__Nack *);
void	group_in_progress(struct conn *, uint64_t, const Tupelo__InProgress *);
void	group_term(struct conn *, uint64_t, const Tupelo__Term *);
void	group_unsubscribe(struct conn *, uint64_t, const Tupelo__Unsubscribe *);

uint64_t group_sub_id(struct sub *);
/* The connection is closing: the sub leaves, its deliveries go back. */
void	group_sub_close(struct sub *);
/* The connection's output drained: deliver more. */
void	group_sub_writable(struct sub *);

/* Internal members (broker/tflow). */
struct sub *group_sink_join(struct group *, const struct group_sink *, void *,
	    uint32_t, const char *);
/* Leave: what the member holds waits for the group's next member. */
void	group_sink_leave(struct sub *);
void	group_sink_credit(struct sub *, uint32_t);
/* The member has room again. */
void	group_sink_ready(struct sub *);
/* Acknowledge n seqs the member holds. */
void	group_sink_ack(struct sub *, const uint64_t *, size_t);
/*
 * Move n held seqs to a dead-letter station for why (its group is
 * filled in). done runs once they are stored or could not be (at once
 * when the member held none of them); when they could not, the seqs are
 * the member's again. TP_OK or TP_ENOMEM.
 */
int	group_sink_dead(struct sub *, const uint64_t *, size_t,
	    const struct dls_why *, group_dead_cb, void *);

#endif
