/*
 * Function triggers: a function registered on a station, invoked as its
 * messages arrive. A trigger is a consumer group ("_trigger.<name>")
 * whose only member is the trigger's invoker, so the position, delivery
 * after a restart and dead letters are the group's mechanisms.
 * broker/trigger owns the registry, the settings (defaults, checks,
 * storage) and the trigger requests; broker/tflow the messages held and
 * the batches formed; broker/trun invocation and outcomes. The
 * structures below are shared by those three files only.
 */
#ifndef TP_BROKER_TRIGGER_H
#define TP_BROKER_TRIGGER_H

#include <stddef.h>
#include <stdint.h>

#include "broker/fn.h"
#include "proto/compat.h"
#include "proto/tupelo.pb-c.h"

struct conn;
struct event;
struct event_base;
struct group;
struct station;
struct store;
struct sub;
struct tbatch;
struct tevent_filter;
struct tp_err;
struct writer;

#define TRIGGER_GROUP_PREFIX	"_trigger."
#define TRIGGER_DURATIONS	1024	/* invocation times kept */
#define TRIGGER_HEADERS_MAX	128	/* headers of a message decoded */

#define TRIGGER_EXEC		1
#define TRIGGER_HTTP		2
#define TRIGGER_LAMBDA		3
#define TRIGGER_STREAM		1
#define TRIGGER_ASYNC		2

/* A message the trigger holds: a copy of its stored record. */
struct tmsg {
	uint64_t	 seq;
	uint32_t	 deliveries;	/* by the group, this one included */
	uint32_t	 attempts;	/* failed invocations so far */
	int64_t		 arrived_ms;	/* monotonic */
	int64_t		 not_before_ms;	/* retry not before; 0: now */
	uint32_t	 max_batch;	/* bisecting: batch at most; 0: any */
	int64_t		 time_ns;	/* stored time */
	uint64_t	 key;		/* ordering key hash */
	uint8_t		*rec;		/* owned: stored bytes */
	size_t		 len;
	uint8_t		*plain;		/* owned: payload uncompressed, or */
	size_t		 plen;		/* NULL when stored plain */
	char		*error;		/* owned: last error, or NULL */
	int		 bad;		/* cannot be decoded: dead-letter */
	char		*out;		/* owned: the last failed attempt's */
	size_t		 outlen;	/* output, kept for a request */
};

/* A batch: being invoked, or settling (output or dead letters stored). */
struct tbatch {
	struct trigger		*t;
	struct tmsg		*m;		/* owned, n */
	size_t			 n;
	uint32_t		 attempt;
	int64_t			 started_us;
	struct fn_exec		*ex;
	struct fn_http		*hr;
	int			 running;
	char			*out;		/* owned: output to answer */
	size_t			 outlen;
	TAILQ_ENTRY(tbatch)	 entry;
};
TAILQ_HEAD(tbatch_list, tbatch);

struct trigger {
	Tupelo__TriggerConfig	*cfg;		/* owned, unpacked */
	char			 gname[160];	/* its group's name */
	struct station		*st;		/* referenced */
	struct group		*g;		/* borrowed while sub */
	struct sub		*sub;		/* membership; NULL: closed */
	struct tevent_filter	**filters;	/* owned, cfg->n_filters */
	/* Held, not in a batch, in seq order: q[qhead..qhead+qlen). */
	struct tmsg		*q;
	size_t			 qhead, qlen, qcap;
	size_t			 qbytes;
	struct tbatch_list	 batches;	/* running or settling */
	size_t			 nrunning;	/* invocations running */
	size_t			 nbatches;
	struct event		*timer;		/* batch window, retries */
	int64_t			 timer_at;	/* monotonic ms, 0: none */
	struct event		*kick;		/* pump on the next turn */
	uint64_t		*acks;		/* owned: to ack on the kick */
	size_t			 nacks, acks_cap;
	int			 deleted;	/* freed when refs drop to 0 */
	int			 refs;
	/* Figures since start-up. */
	uint64_t		 invocations, successes, failures, retries;
	uint64_t		 dead_lettered, filtered, messages;
	uint32_t		 durs[TRIGGER_DURATIONS]; /* us */
	size_t			 ndurs;
	char			 last_error[FN_ERROR_MAX + 64];
	int64_t			 last_error_ns;
	TAILQ_ENTRY(trigger)	 entry;
};

/* broker/trigger */
int	trigger_start(struct event_base *, struct store *, struct writer *,
	    struct tp_err *);
/* Stop invoking: running functions are killed, held messages stay
 * unacked in their groups (delivered again at the next start). */
void	trigger_stop(void);
/* The first enabled trigger of a station by name, or NULL. */
struct trigger *trigger_of_station(struct station *);
/* The trigger's group went away with its station: forget the trigger. */
void	trigger_group_gone(struct trigger *);
void	trigger_release(struct trigger *);
void	trigger_request_create(struct conn *, uint64_t,
	    const Tupelo__TriggerCreate *);
void	trigger_request_update(struct conn *, uint64_t,
	    const Tupelo__TriggerUpdate *);
void	trigger_request_delete(struct conn *, uint64_t,
	    const Tupelo__TriggerDelete *);
void	trigger_request_get(struct conn *, uint64_t,
	    const Tupelo__TriggerGet *);
void	trigger_request_list(struct conn *, uint64_t,
	    const Tupelo__TriggerList *);

/* broker/tflow */
void	tflow_start(struct event_base *);
/* Join the trigger's group and start invoking. */
int	tflow_open(struct trigger *);
/* Stop: kill running functions; what is held goes back to the group. */
void	tflow_close(struct trigger *);
/* The settings changed (credit, enabled, batching). */
void	tflow_reconfigure(struct trigger *);
/* Group credit for the settings in force. */
uint32_t tflow_credit(const Tupelo__TriggerConfig *);
/* Invocation time percentile (0..100) in us, 0 when none. */
uint32_t tflow_percentile(struct trigger *, int);
/* For broker/trun. */
int64_t	tflow_now_us(void);
int64_t	tflow_wall_ns(void);
void	tflow_msg_free(struct tmsg *);
void	tflow_msgs_free(struct tmsg *, size_t);
/* Pump the trigger on the loop's next turn. */
void	tflow_kick(struct trigger *);
void	tflow_set_error(struct trigger *, const char *);
/* Put n messages (the array taken) back into the queue, in seq order. */
void	tflow_requeue(struct trigger *, struct tmsg *, size_t);
struct tbatch *tflow_batch_new(struct trigger *, struct tmsg *, size_t);
/* Done with a batch whose messages were moved or freed. */
void	tflow_batch_end(struct tbatch *);
void	tflow_record_time(struct trigger *, int64_t);

/* broker/trun */
/* Invoke b's target; a failure to start counts as a failed attempt. */
void	trun_start(struct tbatch *);
/* Move n messages (the array taken) to the on-failure station. */
void	trun_dead(struct trigger *, struct tmsg *, size_t, const char *);
/* Older than the trigger's max age? */
int	trun_too_old(struct trigger *, const struct tmsg *);

#endif
