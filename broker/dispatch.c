/*
 * The request table: for each request type of the protocol, the verb a
 * caller needs for it (the permission table of issue 16), whether it
 * writes, and its handler. Nothing is dispatched without an entry; every
 * other member of Frame's oneof is a reply, which only the broker sends
 * (dispatch_is_reply), and a test checks that the two lists cover the
 * protocol. Validation that needs no state happens here (proto/validate);
 * handlers check what needs the broker.
 */
#include "broker/dispatch.h"

#include "broker/config.h"
#include "broker/compress.h"
#include "broker/conn.h"
#include "broker/browse.h"
#include "broker/dls.h"
#include "broker/group.h"
#include "broker/invoke.h"
#include "broker/gstate.h"
#include "broker/produce.h"
#include "broker/log.h"
#include "broker/station.h"
#include "broker/trigger.h"
#include "proto/error.h"
#include "proto/validate.h"

typedef void (*dispatch_fn)(struct conn *, const Tupelo__Frame *);

struct dispatch_entry {
	Tupelo__Frame__BodyCase	 body;
	const char		*name;		/* for logs */
	enum dispatch_verb	 verb;
	int			 flags;		/* DISPATCH_* */
	dispatch_fn		 fn;
};

static const struct config	*dispatch_cfg;
static int			 dispatch_stopping;

void
dispatch_start(const struct config *cfg)
{
	dispatch_cfg = cfg;
}

void
dispatch_shutdown(void)
{
	dispatch_stopping = 1;
}

static void
dispatch_hello(struct conn *c, const Tupelo__Frame *f)
{
	Tupelo__Frame	 r = TUPELO__FRAME__INIT;
	Tupelo__HelloOk	 ok = TUPELO__HELLO_OK__INIT;
	const Tupelo__Hello *h = f->hello;
	char		 server[64];

	if (h->version != TP_PROTOCOL_VERSION) {
		conn_send_error(c, f->id, TP_EVERSION, "protocol version not "
		    "supported: this broker speaks version 1");
		return;
	}
	if (h->client_name != NULL)
		conn_set_name(c, h->client_name);
	snprintf(server, sizeof server, "tupelod %s", TP_VERSION_STRING);
	ok.version = TP_PROTOCOL_VERSION;
	ok.server = server;
	ok.max_frame = (uint32_t)dispatch_cfg->max_frame_size;
	ok.max_message = (uint32_t)dispatch_cfg->max_message_size;
	r.id = f->id;
	r.body_case = TUPELO__FRAME__BODY_HELLO_OK;
	r.hello_ok = &ok;
	conn_send(c, &r);
}

static void
dispatch_subscribe(struct conn *c, const Tupelo__Frame *f)
{
	struct station	*st;
	struct tp_err	 err;

	if ((st = station_find(f->subscribe->station)) == NULL) {
		error_set(&err, TP_ENOSTATION, "no station named %s",
		    f->subscribe->station);
		conn_send_error(c, f->id, err.code, err.message);
		return;
	}
	group_subscribe(c, f->id, st, f->subscribe,
	    (uint32_t)dispatch_cfg->max_unacked);
}

/* A handler that passes the request's id and its body to fn. */
#define DISPATCH_PASS(name, fn, arg)					\
static void								\
dispatch_##name(struct conn *c, const Tupelo__Frame *f)		\
{									\
	fn(c, f->id, arg);						\
}
DISPATCH_PASS(station_create, station_create, f->station_create->config)
DISPATCH_PASS(station_delete, station_delete, f->station_delete->name)
DISPATCH_PASS(station_update, station_update, f->station_update)
DISPATCH_PASS(station_purge, station_purge, f->station_purge->name)
DISPATCH_PASS(station_get, browse_station, f->station_get->name)
DISPATCH_PASS(produce, produce_request, f->produce)
DISPATCH_PASS(read, browse_read, f->read)
DISPATCH_PASS(unsubscribe, group_unsubscribe, f->unsubscribe)
DISPATCH_PASS(ack, group_ack, f->ack)
DISPATCH_PASS(nack, group_nack, f->nack)
DISPATCH_PASS(in_progress, group_in_progress, f->in_progress)
DISPATCH_PASS(term, group_term, f->term)
DISPATCH_PASS(group_create, gstate_request_create, f->group_create)
DISPATCH_PASS(group_delete, gstate_request_delete, f->group_delete)
DISPATCH_PASS(group_get, gstate_request_get, f->group_get)
DISPATCH_PASS(group_list, gstate_request_list, f->group_list)
DISPATCH_PASS(dict_get, compress_request_dict, f->dict_get)
DISPATCH_PASS(dls_replay, dls_replay, f->dls_replay)
DISPATCH_PASS(trigger_create, trigger_request_create, f->trigger_create)
DISPATCH_PASS(trigger_update, trigger_request_update, f->trigger_update)
DISPATCH_PASS(trigger_delete, trigger_request_delete, f->trigger_delete)
DISPATCH_PASS(trigger_get, trigger_request_get, f->trigger_get)
DISPATCH_PASS(trigger_list, trigger_request_list, f->trigger_list)
DISPATCH_PASS(request, invoke_request, f->request)

static void
dispatch_station_list(struct conn *c, const Tupelo__Frame *f)
{
	browse_list(c, f->id);
}

#define W	DISPATCH_WRITES
#define B(x)	TUPELO__FRAME__BODY_##x

static const struct dispatch_entry dispatch_table[] = {
	{ B(HELLO), "hello", VERB_NONE, 0, dispatch_hello },
	{ B(STATION_CREATE), "station create", VERB_ADMIN, W,
	  dispatch_station_create },
	{ B(STATION_DELETE), "station delete", VERB_ADMIN, W,
	  dispatch_station_delete },
	{ B(STATION_UPDATE), "station update", VERB_ADMIN, W,
	  dispatch_station_update },
	{ B(STATION_PURGE), "station purge", VERB_ADMIN, W,
	  dispatch_station_purge },
	{ B(STATION_LIST), "station list", VERB_BROWSE, 0,
	  dispatch_station_list },
	{ B(STATION_GET), "station get", VERB_BROWSE, 0,
	  dispatch_station_get },
	{ B(PRODUCE), "produce", VERB_PRODUCE, W, dispatch_produce },
	{ B(READ), "read", VERB_BROWSE, 0, dispatch_read },
	{ B(SUBSCRIBE), "subscribe", VERB_CONSUME, 0, dispatch_subscribe },
	{ B(UNSUBSCRIBE), "unsubscribe", VERB_CONSUME, 0,
	  dispatch_unsubscribe },
	{ B(ACK), "ack", VERB_CONSUME, 0, dispatch_ack },
	{ B(NACK), "nack", VERB_CONSUME, 0, dispatch_nack },
	{ B(IN_PROGRESS), "in progress", VERB_CONSUME, 0,
	  dispatch_in_progress },
	{ B(TERM), "term", VERB_CONSUME, 0, dispatch_term },
	{ B(GROUP_CREATE), "group create", VERB_CONSUME, W,
	  dispatch_group_create },
	{ B(GROUP_DELETE), "group delete", VERB_ADMIN, W,
	  dispatch_group_delete },
	{ B(GROUP_GET), "group get", VERB_BROWSE, 0, dispatch_group_get },
	{ B(GROUP_LIST), "group list", VERB_BROWSE, 0, dispatch_group_list },
	{ B(DICT_GET), "dictionary get", VERB_CONSUME, 0,
	  dispatch_dict_get },
	{ B(DLS_REPLAY), "dead-letter replay", VERB_ADMIN, W,
	  dispatch_dls_replay },
	{ B(TRIGGER_CREATE), "trigger create", VERB_TRIGGER, W,
	  dispatch_trigger_create },
	{ B(TRIGGER_UPDATE), "trigger update", VERB_TRIGGER, W,
	  dispatch_trigger_update },
	{ B(TRIGGER_DELETE), "trigger delete", VERB_TRIGGER, W,
	  dispatch_trigger_delete },
	{ B(TRIGGER_GET), "trigger get", VERB_BROWSE, 0,
	  dispatch_trigger_get },
	{ B(TRIGGER_LIST), "trigger list", VERB_BROWSE, 0,
	  dispatch_trigger_list },
	{ B(REQUEST), "invoke", VERB_PRODUCE, W, dispatch_request },
};

/* What only the broker sends: a client sending one gets TP_EUNSUPPORTED. */
static const Tupelo__Frame__BodyCase dispatch_replies[] = {
	B(ERROR), B(OK), B(HELLO_OK), B(STATION_LIST_REPLY), B(STATION_INFO),
	B(PRODUCE_ACK), B(SUBSCRIBE_OK), B(DELIVER), B(READ_REPLY),
	B(GROUP_INFO), B(GROUP_LIST_REPLY), B(DLS_REPLAY_REPLY),
	B(DICT_REPLY), B(TRIGGER_INFO), B(TRIGGER_LIST_REPLY),
	B(REQUEST_REPLY),
};

#undef W
#undef B

#define DISPATCH_NTABLE	(sizeof dispatch_table / sizeof dispatch_table[0])
#define DISPATCH_BODIES	128	/* above every body field number */

static const struct dispatch_entry *
dispatch_entry(int body)
{
	static const struct dispatch_entry	*index[DISPATCH_BODIES];
	static int				 built;
	size_t					 i;

	/* Rows by body field number: a frame costs one look-up. */
	if (!built) {
		/* A row past the index is never served: test_dispatch. */
		for (i = 0; i < DISPATCH_NTABLE; i++)
			if (dispatch_table[i].body < DISPATCH_BODIES)
				index[dispatch_table[i].body] =
				    &dispatch_table[i];
		built = 1;
	}
	if (body < 0 || body >= DISPATCH_BODIES)
		return (NULL);
	return (index[body]);
}

int
dispatch_verb(int body, enum dispatch_verb *verb, int *flags)
{
	const struct dispatch_entry	*e;

	if ((e = dispatch_entry(body)) == NULL)
		return (-1);
	*verb = e->verb;
	*flags = e->flags;
	return (0);
}

int
dispatch_is_reply(int body)
{
	size_t	i;

	for (i = 0; i < sizeof dispatch_replies / sizeof dispatch_replies[0];
	    i++) {
		if ((int)dispatch_replies[i] == body)
			return (1);
	}
	return (0);
}

void
dispatch_frame(struct conn *c, const Tupelo__Frame *f)
{
	const struct dispatch_entry	*e;
	struct tp_err			 err;
	int				 code;

	if ((code = validate_request(f, &err)) != TP_OK) {
		conn_send_error(c, f->id, code, err.message);
		return;
	}
	/* Nothing is served without an entry. */
	if ((e = dispatch_entry(f->body_case)) == NULL) {
		conn_send_error(c, f->id, TP_EUNSUPPORTED, NULL);
		return;
	}
	if (dispatch_stopping && (e->flags & DISPATCH_WRITES)) {
		conn_send_error(c, f->id, TP_ESHUTDOWN, NULL);
		return;
	}
	e->fn(c, f);
}
