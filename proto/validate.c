/*
 * Request validation: everything that can be judged from the frame alone.
 * What needs broker state (does the station exist, its size limit) is the
 * broker's to check.
 */
#include "proto/validate.h"

#include <string.h>

#include "proto/error.h"

int
validate_name(const char *what, const char *name, struct tp_err *err)
{
	size_t	i, len;

	if (name == NULL || *name == '\0')
		return (error_set(err, TP_EBADNAME, "%s name is empty", what));
	len = strlen(name);
	if (len > TP_NAME_MAX)
		return (error_set(err, TP_EBADNAME,
		    "%s name is longer than %d bytes", what, TP_NAME_MAX));
	for (i = 0; i < len; i++) {
		char	c = name[i];

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			continue;
		if (i > 0 && (c == '.' || c == '_' || c == '-'))
			continue;
		return (error_set(err, TP_EBADNAME, "invalid %s name: use "
		    "a-z, 0-9 and (not first) . _ -, up to %d bytes", what,
		    TP_NAME_MAX));
	}
	return (TP_OK);
}

int
validate_message(const Tupelo__Message *m, struct tp_err *err)
{
	size_t	i;

	if (m->n_headers > VALIDATE_HEADERS_MAX)
		return (error_set(err, TP_EINVAL, "%zu headers on one message, "
		    "at most %d", m->n_headers, VALIDATE_HEADERS_MAX));
	for (i = 0; i < m->n_headers; i++) {
		const Tupelo__Header	*h = m->headers[i];

		if (h->key == NULL || *h->key == '\0')
			return (error_set(err, TP_EINVAL, "empty header key"));
		if (strlen(h->key) > VALIDATE_KEY_MAX)
			return (error_set(err, TP_EINVAL, "header key longer "
			    "than %d bytes", VALIDATE_KEY_MAX));
		if (h->value != NULL && strlen(h->value) > VALIDATE_VALUE_MAX)
			return (error_set(err, TP_EINVAL, "header value longer "
			    "than %d bytes", VALIDATE_VALUE_MAX));
	}
	if (m->msg_id != NULL && strlen(m->msg_id) > VALIDATE_MSGID_MAX)
		return (error_set(err, TP_EINVAL, "message id longer than %d "
		    "bytes", VALIDATE_MSGID_MAX));
	return (TP_OK);
}

static int
validate_seqs(const char *what, size_t n, struct tp_err *err)
{
	if (n > VALIDATE_BATCH_MAX)
		return (error_set(err, TP_EINVAL, "%zu %s in one frame, at "
		    "most %d", n, what, VALIDATE_BATCH_MAX));
	return (TP_OK);
}

static int
validate_pair(const char *station, const char *group, struct tp_err *err)
{
	int	code;

	if ((code = validate_name("station", station, err)) != TP_OK)
		return (code);
	return (validate_name("group", group, err));
}

int
validate_group_config(const Tupelo__GroupConfig *c, struct tp_err *err)
{
	size_t	i;

	if (c == NULL)
		return (TP_OK);
	if (c->n_backoff_ms > VALIDATE_BACKOFF_MAX)
		return (error_set(err, TP_EINVAL, "%zu backoff delays, at most "
		    "%d", c->n_backoff_ms, VALIDATE_BACKOFF_MAX));
	for (i = 0; i < c->n_backoff_ms; i++) {
		if (c->backoff_ms[i] == 0 ||
		    c->backoff_ms[i] > VALIDATE_DELAY_MAX)
			return (error_set(err, TP_EINVAL, "backoff delays are "
			    "1..%d ms", VALIDATE_DELAY_MAX));
	}
	if (c->ack_wait_ms > VALIDATE_DELAY_MAX)
		return (error_set(err, TP_EINVAL, "ack wait over %d ms",
		    VALIDATE_DELAY_MAX));
	if (c->max_deliveries < -1)
		return (error_set(err, TP_EINVAL, "max deliveries is -1 (no "
		    "limit), 0 (default) or more"));
	return (TP_OK);
}

/* The frame-level checks of a trigger create or update; the settings'
 * ranges are the broker's (broker/trigger), which knows the defaults. */
static int
validate_trigger(const Tupelo__TriggerConfig *c, size_t nfields, int create,
    struct tp_err *err)
{
	int	code;

	if (c == NULL)
		return (error_set(err, TP_EINVAL, "trigger %s without a config",
		    create ? "create" : "update"));
	if (nfields > VALIDATE_FIELDS_MAX)
		return (error_set(err, TP_EINVAL, "more than %d fields",
		    VALIDATE_FIELDS_MAX));
	if ((code = validate_name("trigger", c->name, err)) != TP_OK)
		return (code);
	if (strlen(c->name) > VALIDATE_TRIGGER_NAME_MAX)
		return (error_set(err, TP_EBADNAME, "trigger name longer than "
		    "%d bytes", VALIDATE_TRIGGER_NAME_MAX));
	if (create)
		return (validate_name("station", c->station, err));
	return (TP_OK);
}

static int
validate_produce(const Tupelo__Produce *p, struct tp_err *err)
{
	size_t	i;
	int	code;

	if ((code = validate_name("station", p->station, err)) != TP_OK)
		return (code);
	if (p->n_messages == 0)
		return (error_set(err, TP_EINVAL, "produce with no messages"));
	if (p->n_messages > VALIDATE_BATCH_MAX)
		return (error_set(err, TP_EINVAL, "%zu messages in one batch, "
		    "at most %d", p->n_messages, VALIDATE_BATCH_MAX));
	for (i = 0; i < p->n_messages; i++) {
		if ((code = validate_message(p->messages[i], err)) != TP_OK)
			return (code);
	}
	return (TP_OK);
}

int
validate_request(const Tupelo__Frame *f, struct tp_err *err)
{
	int	code;

	if (f->id == 0)
		return (error_set(err, TP_EPROTO, "request id 0 is reserved"));
	switch (f->body_case) {
	case TUPELO__FRAME__BODY_HELLO:
	case TUPELO__FRAME__BODY_DICT_GET:
	case TUPELO__FRAME__BODY_STATION_LIST:
		return (TP_OK);
	case TUPELO__FRAME__BODY_UNSUBSCRIBE:
		return (validate_seqs("unread seqs",
		    f->unsubscribe->n_unread, err));
	case TUPELO__FRAME__BODY_STATION_CREATE:
		if (f->station_create->config == NULL)
			return (error_set(err, TP_EINVAL,
			    "station create without a config"));
		return (validate_name("station",
		    f->station_create->config->name, err));
	case TUPELO__FRAME__BODY_STATION_DELETE:
		return (validate_name("station", f->station_delete->name,
		    err));
	case TUPELO__FRAME__BODY_STATION_GET:
		return (validate_name("station", f->station_get->name, err));
	case TUPELO__FRAME__BODY_PRODUCE:
		return (validate_produce(f->produce, err));
	case TUPELO__FRAME__BODY_SUBSCRIBE:
		code = validate_name("station", f->subscribe->station, err);
		if (code == TP_OK)
			code = validate_group_config(f->subscribe->config, err);
		if (code != TP_OK || f->subscribe->ephemeral)
			return (code);
		return (validate_name("group", f->subscribe->group, err));
	case TUPELO__FRAME__BODY_ACK:
		return (validate_seqs("acks", f->ack->n_seqs, err));
	case TUPELO__FRAME__BODY_NACK:
		if (f->nack->delay_ms > VALIDATE_DELAY_MAX)
			return (error_set(err, TP_EINVAL, "nack delay over %d "
			    "ms", VALIDATE_DELAY_MAX));
		return (validate_seqs("nacks", f->nack->n_seqs, err));
	case TUPELO__FRAME__BODY_IN_PROGRESS:
		return (validate_seqs("seqs", f->in_progress->n_seqs, err));
	case TUPELO__FRAME__BODY_TERM:
		if (f->term->reason != NULL &&
		    strlen(f->term->reason) > VALIDATE_VALUE_MAX)
			return (error_set(err, TP_EINVAL, "term reason longer "
			    "than %d bytes", VALIDATE_VALUE_MAX));
		return (validate_seqs("terms", f->term->n_seqs, err));
	case TUPELO__FRAME__BODY_GROUP_CREATE:
		code = validate_pair(f->group_create->station,
		    f->group_create->group, err);
		if (code != TP_OK)
			return (code);
		return (validate_group_config(f->group_create->config, err));
	case TUPELO__FRAME__BODY_GROUP_DELETE:
		return (validate_pair(f->group_delete->station,
		    f->group_delete->group, err));
	case TUPELO__FRAME__BODY_GROUP_GET:
		return (validate_pair(f->group_get->station,
		    f->group_get->group, err));
	case TUPELO__FRAME__BODY_GROUP_LIST:
		return (validate_name("station", f->group_list->station, err));
	case TUPELO__FRAME__BODY_STATION_UPDATE:
		if (f->station_update->config == NULL)
			return (error_set(err, TP_EINVAL,
			    "station update without a config"));
		if (f->station_update->n_fields > 16)
			return (error_set(err, TP_EINVAL, "too many fields"));
		return (validate_name("station",
		    f->station_update->config->name, err));
	case TUPELO__FRAME__BODY_STATION_PURGE:
		return (validate_name("station", f->station_purge->name,
		    err));
	case TUPELO__FRAME__BODY_DLS_REPLAY:
		code = validate_name("station", f->dls_replay->station, err);
		if (code == TP_OK && f->dls_replay->to != NULL &&
		    *f->dls_replay->to != '\0')
			code = validate_name("station", f->dls_replay->to,
			    err);
		if (code != TP_OK)
			return (code);
		return (validate_seqs("seqs", f->dls_replay->n_seqs, err));
	case TUPELO__FRAME__BODY_READ:
		if (f->read->max_count > VALIDATE_READ_MAX)
			return (error_set(err, TP_EINVAL, "read of %u records, "
			    "at most %d", f->read->max_count,
			    VALIDATE_READ_MAX));
		return (validate_name("station", f->read->station, err));
	case TUPELO__FRAME__BODY_TRIGGER_CREATE:
		return (validate_trigger(f->trigger_create->config,
		    f->trigger_create->n_fields, 1, err));
	case TUPELO__FRAME__BODY_TRIGGER_UPDATE:
		return (validate_trigger(f->trigger_update->config,
		    f->trigger_update->n_fields, 0, err));
	case TUPELO__FRAME__BODY_TRIGGER_DELETE:
		return (validate_name("trigger", f->trigger_delete->name, err));
	case TUPELO__FRAME__BODY_TRIGGER_GET:
		return (validate_name("trigger", f->trigger_get->name, err));
	case TUPELO__FRAME__BODY_TRIGGER_LIST:
		if (f->trigger_list->station == NULL ||
		    *f->trigger_list->station == '\0')
			return (TP_OK);
		return (validate_name("station", f->trigger_list->station,
		    err));
	case TUPELO__FRAME__BODY_REQUEST:
		if (f->request->message == NULL)
			return (error_set(err, TP_EINVAL,
			    "request without a message"));
		if (f->request->timeout_ms > VALIDATE_DELAY_MAX)
			return (error_set(err, TP_EINVAL, "request timeout "
			    "over %d ms", VALIDATE_DELAY_MAX));
		code = validate_name("station", f->request->station, err);
		if (code != TP_OK)
			return (code);
		return (validate_message(f->request->message, err));
	case TUPELO__FRAME__BODY__NOT_SET:
		return (error_set(err, TP_EUNSUPPORTED,
		    "frame without a known body"));
	default:
		return (error_set(err, TP_EUNSUPPORTED,
		    "frame body %d is not a request", (int)f->body_case));
	}
}
