/*
 * Requests waiting for a trigger's result, in a list: there are few at a
 * time (each is a caller blocked on one message), and the common case,
 * none, costs one comparison per message.
 */
#include "broker/invoke.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/conn.h"
#include "broker/log.h"
#include "broker/produce.h"
#include "broker/station.h"
#include "broker/trigger.h"
#include "proto/compat.h"
#include "proto/error.h"
#include "storage/record.h"

#define INVOKE_WAITERS_MAX	10000
#define INVOKE_TIMEOUT_DEF	30000	/* ms */

struct invoke_waiter {
	struct conn			*conn;		/* referenced */
	uint64_t			 id;
	struct station			*st;		/* referenced */
	uint64_t			 seq;		/* the message's */
	char				 trigger[TP_NAME_MAX + 1]; /* whose */
	int				 stored;	/* its append ended */
	uint32_t			 timeout_ms;
	struct event			*timer;		/* owned */
	int				 answered;
	TAILQ_ENTRY(invoke_waiter)	 entry;
};
TAILQ_HEAD(invoke_list, invoke_waiter);

static struct event_base	*invoke_base;
static struct invoke_list	 invoke_all =
				    TAILQ_HEAD_INITIALIZER(invoke_all);
static size_t			 invoke_count;

void
invoke_start(struct event_base *base)
{
	invoke_base = base;
}

static void
invoke_free(struct invoke_waiter *w)
{
	TAILQ_REMOVE(&invoke_all, w, entry);
	invoke_count--;
	if (w->timer != NULL)
		event_free(w->timer);
	conn_unref(w->conn);
	station_unref(w->st);
	free(w);
}

/* Answered: free now, or once the append ends. */
static void
invoke_answered(struct invoke_waiter *w)
{
	w->answered = 1;
	evtimer_del(w->timer);
	if (w->stored)
		invoke_free(w);
}

static void
invoke_timeout_cb(evutil_socket_t fd, short events, void *arg)
{
	struct invoke_waiter	*w = arg;
	char			 msg[200];

	(void)fd;
	(void)events;
	if (w->stored)
		snprintf(msg, sizeof msg, "no result within %u ms; the "
		    "message is stored as seq %llu and will still be "
		    "processed", w->timeout_ms, (unsigned long long)w->seq);
	else
		snprintf(msg, sizeof msg, "not stored within %u ms",
		    w->timeout_ms);
	conn_send_error(w->conn, w->id, TP_ETIMEDOUT, msg);
	invoke_answered(w);
}

/*
 * The append ended. A waiter is freed by whichever comes last: this, or
 * its answer (result or timeout), which only marks it until then.
 */
static void
invoke_stored_cb(void *arg, int code, uint64_t first)
{
	struct invoke_waiter	*w = arg;

	w->stored = 1;
	if (!w->answered && code != TP_OK) {
		conn_send_error(w->conn, w->id, code, "cannot store the "
		    "message");
		w->answered = 1;
	}
	if (w->answered) {
		invoke_free(w);
		return;
	}
	w->seq = first;
}

void
invoke_request(struct conn *c, uint64_t id, const Tupelo__Request *req)
{
	struct invoke_waiter	*w;
	struct station		*st;
	struct trigger		*t;
	struct timeval		 tv;
	uint8_t			*buf = NULL;
	uint32_t		*lens = NULL;
	size_t			 size;
	int64_t			 now;
	int			 code;
	char			 msg[256];

	if ((st = station_find(req->station)) == NULL) {
		snprintf(msg, sizeof msg, "no station named %s", req->station);
		conn_send_error(c, id, TP_ENOSTATION, msg);
		return;
	}
	if ((t = trigger_of_station(st)) == NULL) {
		snprintf(msg, sizeof msg, "station %s has no enabled trigger",
		    req->station);
		conn_send_error(c, id, TP_ENOTRIGGER, msg);
		return;
	}
	if (req->message->payload.len > station_max_message(st)) {
		snprintf(msg, sizeof msg, "message of %zu bytes, station %s "
		    "takes at most %llu", req->message->payload.len,
		    req->station,
		    (unsigned long long)station_max_message(st));
		conn_send_error(c, id, TP_ETOOBIG, msg);
		return;
	}
	if (invoke_count >= INVOKE_WAITERS_MAX) {
		conn_send_error(c, id, TP_EBUSY, "too many requests waiting");
		return;
	}
	if ((w = calloc(1, sizeof *w)) == NULL ||
	    (w->timer = evtimer_new(invoke_base, invoke_timeout_cb, w)) ==
	    NULL) {
		free(w);
		conn_send_error(c, id, TP_ENOMEM, NULL);
		return;
	}
	w->conn = c;
	conn_ref(c);
	w->id = id;
	w->st = st;
	station_hold(st);
	snprintf(w->trigger, sizeof w->trigger, "%s", t->cfg->name);
	w->timeout_ms = req->timeout_ms != 0 ? req->timeout_ms :
	    INVOKE_TIMEOUT_DEF;
	TAILQ_INSERT_TAIL(&invoke_all, w, entry);
	invoke_count++;
	tv.tv_sec = w->timeout_ms / 1000;
	tv.tv_usec = (w->timeout_ms % 1000) * 1000;
	evtimer_add(w->timer, &tv);

	now = station_now(st);
	size = record_size(req->message, now);
	if ((buf = malloc(size + 1)) == NULL ||
	    (lens = calloc(1, sizeof *lens)) == NULL) {
		free(buf);
		conn_send_error(c, id, TP_ENOMEM, NULL);
		invoke_free(w);
		return;
	}
	record_encode(req->message, now, buf);
	lens[0] = (uint32_t)size;
	/*
	 * The seq it gets is known now: the trigger may take the message
	 * (and a filter drop it) before the append's own callback runs.
	 */
	w->seq = station_next_seq(st);
	if ((code = produce_records(st, buf, lens, 1, invoke_stored_cb, w)) !=
	    TP_OK) {
		conn_send_error(c, id, code, "cannot store the message");
		invoke_free(w);
	}
}

static int
invoke_match(struct invoke_waiter *w, struct trigger *t, uint64_t seq)
{
	return (w->st == t->st && w->seq == seq && !w->answered &&
	    strcmp(w->trigger, t->cfg->name) == 0);
}

int
invoke_waiting(struct trigger *t, uint64_t seq)
{
	struct invoke_waiter	*w;

	if (invoke_count == 0)
		return (0);
	TAILQ_FOREACH(w, &invoke_all, entry) {
		if (invoke_match(w, t, seq))
			return (1);
	}
	return (0);
}

void
invoke_result(struct trigger *t, uint64_t seq, int ok, const char *out,
    size_t len, const char *error)
{
	Tupelo__Frame		 f = TUPELO__FRAME__INIT;
	Tupelo__RequestReply	 reply = TUPELO__REQUEST_REPLY__INIT;
	struct invoke_waiter	*w, *next;

	for (w = TAILQ_FIRST(&invoke_all); w != NULL; w = next) {
		next = TAILQ_NEXT(w, entry);
		if (!invoke_match(w, t, seq))
			continue;
		reply.seq = seq;
		reply.ok = ok;
		reply.output.data = (uint8_t *)out;
		reply.output.len = out != NULL ? len : 0;
		reply.error = (char *)(error != NULL ? error : "");
		reply.trigger = t->cfg->name;
		f.id = w->id;
		f.body_case = TUPELO__FRAME__BODY_REQUEST_REPLY;
		f.request_reply = &reply;
		conn_send(w->conn, &f);
		invoke_answered(w);
	}
}

void
invoke_stop(void)
{
	struct invoke_waiter	*w, *next;

	for (w = TAILQ_FIRST(&invoke_all); w != NULL; w = next) {
		next = TAILQ_NEXT(w, entry);
		if (w->answered)
			continue;
		conn_send_error(w->conn, w->id, TP_ESHUTDOWN, NULL);
		invoke_answered(w);
	}
}
