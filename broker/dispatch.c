/*
 * One switch from frame body to handler. Validation that needs no state
 * happens here (proto/validate); handlers check what needs the broker.
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
dispatch_hello(struct conn *c, uint64_t id, const Tupelo__Hello *h)
{
	Tupelo__Frame	f = TUPELO__FRAME__INIT;
	Tupelo__HelloOk	ok = TUPELO__HELLO_OK__INIT;
	char		server[64];

	if (h->version != TP_PROTOCOL_VERSION) {
		conn_send_error(c, id, TP_EVERSION, "protocol version not "
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
	f.id = id;
	f.body_case = TUPELO__FRAME__BODY_HELLO_OK;
	f.hello_ok = &ok;
	conn_send(c, &f);
}

void
dispatch_frame(struct conn *c, const Tupelo__Frame *f)
{
	struct station	*st;
	struct tp_err	 err;
	int		 code;

	if ((code = validate_request(f, &err)) != TP_OK) {
		conn_send_error(c, f->id, code, err.message);
		return;
	}
	if (dispatch_stopping && (f->body_case ==
	    TUPELO__FRAME__BODY_PRODUCE || f->body_case ==
	    TUPELO__FRAME__BODY_STATION_CREATE || f->body_case ==
	    TUPELO__FRAME__BODY_STATION_DELETE || f->body_case ==
	    TUPELO__FRAME__BODY_STATION_PURGE || f->body_case ==
	    TUPELO__FRAME__BODY_STATION_UPDATE || f->body_case ==
	    TUPELO__FRAME__BODY_DLS_REPLAY || f->body_case ==
	    TUPELO__FRAME__BODY_GROUP_CREATE || f->body_case ==
	    TUPELO__FRAME__BODY_GROUP_DELETE || f->body_case ==
	    TUPELO__FRAME__BODY_TRIGGER_CREATE || f->body_case ==
	    TUPELO__FRAME__BODY_TRIGGER_UPDATE || f->body_case ==
	    TUPELO__FRAME__BODY_TRIGGER_DELETE || f->body_case ==
	    TUPELO__FRAME__BODY_REQUEST)) {
		conn_send_error(c, f->id, TP_ESHUTDOWN, NULL);
		return;
	}
	switch (f->body_case) {
	case TUPELO__FRAME__BODY_HELLO:
		dispatch_hello(c, f->id, f->hello);
		break;
	case TUPELO__FRAME__BODY_STATION_CREATE:
		station_create(c, f->id, f->station_create->config);
		break;
	case TUPELO__FRAME__BODY_STATION_DELETE:
		station_delete(c, f->id, f->station_delete->name);
		break;
	case TUPELO__FRAME__BODY_STATION_UPDATE:
		station_update(c, f->id, f->station_update);
		break;
	case TUPELO__FRAME__BODY_STATION_PURGE:
		station_purge(c, f->id, f->station_purge->name);
		break;
	case TUPELO__FRAME__BODY_STATION_LIST:
		browse_list(c, f->id);
		break;
	case TUPELO__FRAME__BODY_STATION_GET:
		browse_station(c, f->id, f->station_get->name);
		break;
	case TUPELO__FRAME__BODY_PRODUCE:
		produce_request(c, f->id, f->produce);
		break;
	case TUPELO__FRAME__BODY_READ:
		browse_read(c, f->id, f->read);
		break;
	case TUPELO__FRAME__BODY_SUBSCRIBE:
		if ((st = station_find(f->subscribe->station)) == NULL) {
			error_set(&err, TP_ENOSTATION, "no station named %s",
			    f->subscribe->station);
			conn_send_error(c, f->id, err.code, err.message);
			break;
		}
		group_subscribe(c, f->id, st, f->subscribe,
		    (uint32_t)dispatch_cfg->max_unacked);
		break;
	case TUPELO__FRAME__BODY_ACK:
		group_ack(c, f->id, f->ack);
		break;
	case TUPELO__FRAME__BODY_NACK:
		group_nack(c, f->id, f->nack);
		break;
	case TUPELO__FRAME__BODY_IN_PROGRESS:
		group_in_progress(c, f->id, f->in_progress);
		break;
	case TUPELO__FRAME__BODY_TERM:
		group_term(c, f->id, f->term);
		break;
	case TUPELO__FRAME__BODY_GROUP_CREATE:
		gstate_request_create(c, f->id, f->group_create);
		break;
	case TUPELO__FRAME__BODY_GROUP_DELETE:
		gstate_request_delete(c, f->id, f->group_delete);
		break;
	case TUPELO__FRAME__BODY_GROUP_GET:
		gstate_request_get(c, f->id, f->group_get);
		break;
	case TUPELO__FRAME__BODY_GROUP_LIST:
		gstate_request_list(c, f->id, f->group_list);
		break;
	case TUPELO__FRAME__BODY_DICT_GET:
		compress_request_dict(c, f->id, f->dict_get);
		break;
	case TUPELO__FRAME__BODY_DLS_REPLAY:
		dls_replay(c, f->id, f->dls_replay);
		break;
	case TUPELO__FRAME__BODY_TRIGGER_CREATE:
		trigger_request_create(c, f->id, f->trigger_create);
		break;
	case TUPELO__FRAME__BODY_TRIGGER_UPDATE:
		trigger_request_update(c, f->id, f->trigger_update);
		break;
	case TUPELO__FRAME__BODY_TRIGGER_DELETE:
		trigger_request_delete(c, f->id, f->trigger_delete);
		break;
	case TUPELO__FRAME__BODY_TRIGGER_GET:
		trigger_request_get(c, f->id, f->trigger_get);
		break;
	case TUPELO__FRAME__BODY_TRIGGER_LIST:
		trigger_request_list(c, f->id, f->trigger_list);
		break;
	case TUPELO__FRAME__BODY_REQUEST:
		invoke_request(c, f->id, f->request);
		break;
	case TUPELO__FRAME__BODY_UNSUBSCRIBE:
		group_unsubscribe(c, f->id, f->unsubscribe);
		break;
	default:
		conn_send_error(c, f->id, TP_EUNSUPPORTED, NULL);
		break;
	}
}
