/*
 * Function triggers from the client side: the settings sent in
 * TriggerCreate and TriggerUpdate (only those named in "fields", by
 * their TriggerConfig names), the administration requests, and
 * tp_request, the sync model, which waits for the trigger's result
 * longer than an ordinary request. Each call is one synchronous request
 * on the caller's connection.
 *
 * A struct tp_trigger_info comes back in one block: the structs, then
 * the filter pointer arrays, then the strings, so that one free() frees
 * an info or a whole list, and sorting a list moves no string.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/conn.h"
#include "client/producer.h"
#include "proto/error.h"
#include "proto/frame.h"
#include "proto/validate.h"

/* The flag of each setting and its TriggerConfig field name. */
static const struct {
	uint64_t	 flag;
	const char	*name;
} trigger_fields[] = {
	{ TP_TSET_TARGET, "target" },
	{ TP_TSET_COMMAND, "command" },
	{ TP_TSET_URL, "url" },
	{ TP_TSET_FUNCTION, "function" },
	{ TP_TSET_START, "start" },
	{ TP_TSET_BATCH_SIZE, "batch_size" },
	{ TP_TSET_BATCH_WINDOW_MS, "batch_window_ms" },
	{ TP_TSET_BATCH_MAX_BYTES, "batch_max_bytes" },
	{ TP_TSET_MODE, "mode" },
	{ TP_TSET_ORDERING_KEY, "ordering_key" },
	{ TP_TSET_CONCURRENCY, "concurrency" },
	{ TP_TSET_TIMEOUT_MS, "timeout_ms" },
	{ TP_TSET_MAX_RETRIES, "max_retries" },
	{ TP_TSET_BACKOFF_INITIAL_MS, "backoff_initial_ms" },
	{ TP_TSET_BACKOFF_MAX_MS, "backoff_max_ms" },
	{ TP_TSET_MAX_AGE_S, "max_age_s" },
	{ TP_TSET_ITEM_FAILURES, "item_failures" },
	{ TP_TSET_BISECT_ON_ERROR, "bisect_on_error" },
	{ TP_TSET_FILTERS, "filters" },
	{ TP_TSET_ON_FAILURE, "on_failure" },
	{ TP_TSET_ON_SUCCESS, "on_success" },
	{ TP_TSET_ENABLED, "enabled" },
};
#define TRIGGER_NFIELDS	(sizeof trigger_fields / sizeof trigger_fields[0])

const char *
tp_trigger_field_name(uint64_t flag)
{
	size_t	i;

	for (i = 0; i < TRIGGER_NFIELDS; i++) {
		if (trigger_fields[i].flag == flag)
			return (trigger_fields[i].name);
	}
	return (NULL);
}

/* A string to send: NULL goes out as "". */
static char *
trigger_str(const char *s)
{
	return ((char *)(s != NULL ? s : ""));
}

/* A string received: absent is "". */
static const char *
trigger_in(const char *s)
{
	return (s != NULL ? s : "");
}

static int
trigger_name(const char *name, struct tp_err *err)
{
	int	code;

	if ((code = validate_name("trigger", name, err)) != TP_OK)
		return (code);
	if (strlen(name) > VALIDATE_TRIGGER_NAME_MAX)
		return (error_set(err, TP_EBADNAME, "trigger name longer than "
		    "%d bytes", VALIDATE_TRIGGER_NAME_MAX));
	return (TP_OK);
}

/*
 * Check cfg and point c at its settings (borrowed from cfg), and names
 * (TRIGGER_NFIELDS slots) at the field names of those given.
 */
static int
trigger_config(const struct tp_trigger_config *cfg, int create,
    Tupelo__TriggerConfig *c, char **names, size_t *n, struct tp_err *err)
{
	size_t	i;
	int	code;

	*n = 0;
	if (cfg == NULL)
		return (error_set(err, TP_EINVAL, "trigger %s without settings",
		    create ? "create" : "update"));
	if ((code = trigger_name(cfg->name, err)) != TP_OK)
		return (code);
	if (create &&
	    (code = validate_name("station", cfg->station, err)) != TP_OK)
		return (code);
	if (cfg->set & ~(uint64_t)TP_TSET_ALL)
		return (error_set(err, TP_EINVAL, "unknown trigger settings "
		    "0x%llx", (unsigned long long)(cfg->set &
		    ~(uint64_t)TP_TSET_ALL)));
	if (!create && cfg->set == 0)
		return (error_set(err, TP_EINVAL, "nothing to update"));
	if (!create && (cfg->set & TP_TSET_START))
		return (error_set(err, TP_EINVAL, "the start position applies "
		    "at creation only"));
	if ((cfg->set & TP_TSET_TARGET) && (cfg->target < TP_TRIGGER_EXEC ||
	    cfg->target > TP_TRIGGER_LAMBDA))
		return (error_set(err, TP_EINVAL, "unknown trigger target %d",
		    cfg->target));
	if ((cfg->set & TP_TSET_MODE) && cfg->mode != TP_MODE_STREAM &&
	    cfg->mode != TP_MODE_ASYNC)
		return (error_set(err, TP_EINVAL, "unknown trigger mode %d",
		    cfg->mode));
	if ((cfg->set & TP_TSET_FILTERS) && cfg->nfilters > 0) {
		if (cfg->filters == NULL)
			return (error_set(err, TP_EINVAL, "%zu filters without "
			    "the filters", cfg->nfilters));
		for (i = 0; i < cfg->nfilters; i++) {
			if (cfg->filters[i] == NULL)
				return (error_set(err, TP_EINVAL, "filter %zu "
				    "is NULL", i));
		}
	}

	tupelo__trigger_config__init(c);
	c->name = (char *)cfg->name;
	if (create)
		c->station = (char *)cfg->station;
	c->target = (uint32_t)cfg->target;
	c->command = trigger_str(cfg->command);
	c->url = trigger_str(cfg->url);
	c->function = trigger_str(cfg->function);
	c->start = trigger_str(cfg->start);
	c->batch_size = cfg->batch_size;
	c->batch_window_ms = cfg->batch_window_ms;
	c->batch_max_bytes = cfg->batch_max_bytes;
	c->mode = (uint32_t)cfg->mode;
	c->ordering_key = trigger_str(cfg->ordering_key);
	c->concurrency = cfg->concurrency;
	c->timeout_ms = cfg->timeout_ms;
	c->max_retries = cfg->max_retries;
	c->backoff_initial_ms = cfg->backoff_initial_ms;
	c->backoff_max_ms = cfg->backoff_max_ms;
	c->max_age_s = cfg->max_age_s;
	c->item_failures = cfg->item_failures != 0;
	c->bisect_on_error = cfg->bisect_on_error != 0;
	if (cfg->set & TP_TSET_FILTERS) {
		c->filters = (char **)cfg->filters;
		c->n_filters = cfg->nfilters;
	}
	c->on_failure = trigger_str(cfg->on_failure);
	c->on_success = trigger_str(cfg->on_success);
	c->enabled = cfg->enabled != 0;
	for (i = 0; i < TRIGGER_NFIELDS; i++) {
		if (cfg->set & trigger_fields[i].flag)
			names[(*n)++] = (char *)trigger_fields[i].name;
	}
	return (TP_OK);
}

int
tp_trigger_create(struct tp_conn *conn, const struct tp_trigger_config *cfg,
    struct tp_err *err)
{
	Tupelo__Frame		f = TUPELO__FRAME__INIT;
	Tupelo__TriggerCreate	tc = TUPELO__TRIGGER_CREATE__INIT;
	Tupelo__TriggerConfig	c;
	char			*names[TRIGGER_NFIELDS];
	size_t			 n;
	int			 code;

	if ((code = trigger_config(cfg, 1, &c, names, &n, err)) != TP_OK)
		return (code);
	tc.config = &c;
	tc.fields = names;
	tc.n_fields = n;
	f.body_case = TUPELO__FRAME__BODY_TRIGGER_CREATE;
	f.trigger_create = &tc;
	return (conn_request_ok(conn, &f, err));
}

int
tp_trigger_update(struct tp_conn *conn, const struct tp_trigger_config *cfg,
    struct tp_err *err)
{
	Tupelo__Frame		f = TUPELO__FRAME__INIT;
	Tupelo__TriggerUpdate	tu = TUPELO__TRIGGER_UPDATE__INIT;
	Tupelo__TriggerConfig	c;
	char			*names[TRIGGER_NFIELDS];
	size_t			 n;
	int			 code;

	if ((code = trigger_config(cfg, 0, &c, names, &n, err)) != TP_OK)
		return (code);
	tu.config = &c;
	tu.fields = names;
	tu.n_fields = n;
	f.body_case = TUPELO__FRAME__BODY_TRIGGER_UPDATE;
	f.trigger_update = &tu;
	return (conn_request_ok(conn, &f, err));
}

int
tp_trigger_delete(struct tp_conn *conn, const char *name, struct tp_err *err)
{
	Tupelo__Frame		f = TUPELO__FRAME__INIT;
	Tupelo__TriggerDelete	td = TUPELO__TRIGGER_DELETE__INIT;
	int			code;

	if ((code = trigger_name(name, err)) != TP_OK)
		return (code);
	td.name = (char *)name;
	f.body_case = TUPELO__FRAME__BODY_TRIGGER_DELETE;
	f.trigger_delete = &td;
	return (conn_request_ok(conn, &f, err));
}

/* Pause or resume: an update of "enabled" alone. */
static int
trigger_enable(struct tp_conn *conn, const char *name, int enabled,
    struct tp_err *err)
{
	struct tp_trigger_config	cfg;

	memset(&cfg, 0, sizeof cfg);
	cfg.set = TP_TSET_ENABLED;
	cfg.name = name;
	cfg.enabled = enabled;
	return (tp_trigger_update(conn, &cfg, err));
}

int
tp_trigger_pause(struct tp_conn *conn, const char *name, struct tp_err *err)
{
	return (trigger_enable(conn, name, 0, err));
}

int
tp_trigger_resume(struct tp_conn *conn, const char *name, struct tp_err *err)
{
	return (trigger_enable(conn, name, 1, err));
}

/* Bytes of the strings of ti, and the filter pointers (*nptrs). */
static size_t
trigger_strings_size(const Tupelo__TriggerInfo *ti, size_t *nptrs)
{
	const Tupelo__TriggerConfig	*c = ti->config;
	const char			*s[] = {
		c->name, c->station, c->command, c->url, c->function, c->start,
		c->ordering_key, c->on_failure, c->on_success, ti->last_error
	};
	size_t				 i, size = 0;

	for (i = 0; i < sizeof s / sizeof s[0]; i++)
		size += strlen(trigger_in(s[i])) + 1;
	for (i = 0; i < c->n_filters; i++)
		size += strlen(trigger_in(c->filters[i])) + 1;
	*nptrs = c->n_filters;
	return (size);
}

/* Copy s to *sp, advancing it; the copy. */
static const char *
trigger_copy_str(char **sp, const char *s)
{
	char	*out = *sp;
	size_t	 len = strlen(trigger_in(s)) + 1;

	memcpy(out, trigger_in(s), len);
	*sp += len;
	return (out);
}

/*
 * Fill out from ti, its filter pointers at *pp and strings at *sp (each
 * advanced past what it used).
 */
static void
trigger_copy(const Tupelo__TriggerInfo *ti, struct tp_trigger_info *out,
    const char ***pp, char **sp)
{
	const Tupelo__TriggerConfig	*c = ti->config;
	struct tp_trigger_config	*cfg = &out->config;
	size_t				 i;

	memset(out, 0, sizeof *out);
	cfg->set = TP_TSET_ALL & ~(uint64_t)TP_TSET_START;
	cfg->name = trigger_copy_str(sp, c->name);
	cfg->station = trigger_copy_str(sp, c->station);
	cfg->target = (int)c->target;
	cfg->command = trigger_copy_str(sp, c->command);
	cfg->url = trigger_copy_str(sp, c->url);
	cfg->function = trigger_copy_str(sp, c->function);
	cfg->start = trigger_copy_str(sp, c->start);
	cfg->batch_size = c->batch_size;
	cfg->batch_window_ms = c->batch_window_ms;
	cfg->batch_max_bytes = c->batch_max_bytes;
	cfg->mode = (int)c->mode;
	cfg->ordering_key = trigger_copy_str(sp, c->ordering_key);
	cfg->concurrency = c->concurrency;
	cfg->timeout_ms = c->timeout_ms;
	cfg->max_retries = c->max_retries;
	cfg->backoff_initial_ms = c->backoff_initial_ms;
	cfg->backoff_max_ms = c->backoff_max_ms;
	cfg->max_age_s = c->max_age_s;
	cfg->item_failures = c->item_failures ? 1 : 0;
	cfg->bisect_on_error = c->bisect_on_error ? 1 : 0;
	if (c->n_filters > 0) {
		for (i = 0; i < c->n_filters; i++)
			(*pp)[i] = trigger_copy_str(sp, c->filters[i]);
		cfg->filters = *pp;
		cfg->nfilters = c->n_filters;
		*pp += c->n_filters;
	}
	cfg->on_failure = trigger_copy_str(sp, c->on_failure);
	cfg->on_success = trigger_copy_str(sp, c->on_success);
	cfg->enabled = c->enabled ? 1 : 0;
	out->created_ns = c->created_ns;
	out->position = ti->position;
	out->lag = ti->lag;
	out->in_flight = ti->in_flight;
	out->queued = ti->queued;
	out->invocations = ti->invocations;
	out->successes = ti->successes;
	out->failures = ti->failures;
	out->retries = ti->retries;
	out->dead_lettered = ti->dead_lettered;
	out->filtered = ti->filtered;
	out->messages = ti->messages;
	out->p50_us = ti->p50_us;
	out->p99_us = ti->p99_us;
	out->last_error = trigger_copy_str(sp, ti->last_error);
	out->last_error_ns = ti->last_error_ns;
}

/* Copy n infos from the wire into one block; *out NULL when n is 0. */
static int
trigger_infos(Tupelo__TriggerInfo *const *tis, size_t n,
    struct tp_trigger_info **out, struct tp_err *err)
{
	struct tp_trigger_info	 *v;
	const char		**pp;
	char			 *sp;
	size_t			  i, nptrs, size, ptrs = 0, strs = 0;

	*out = NULL;
	if (n == 0)
		return (TP_OK);
	for (i = 0; i < n; i++) {
		if (tis[i] == NULL || tis[i]->config == NULL)
			return (error_set(err, TP_EPROTO, "broker sent a "
			    "trigger without its settings"));
		strs += trigger_strings_size(tis[i], &nptrs);
		ptrs += nptrs;
	}
	size = n * sizeof *v + ptrs * sizeof *pp + strs;
	if ((v = malloc(size)) == NULL)
		return (error_set(err, TP_ENOMEM, "no memory for %zu triggers",
		    n));
	pp = (const char **)(v + n);
	sp = (char *)(pp + ptrs);
	for (i = 0; i < n; i++)
		trigger_copy(tis[i], &v[i], &pp, &sp);
	*out = v;
	return (TP_OK);
}

int
tp_trigger_info(struct tp_conn *conn, const char *name,
    struct tp_trigger_info **out, struct tp_err *err)
{
	Tupelo__Frame		 f = TUPELO__FRAME__INIT, *reply = NULL;
	Tupelo__TriggerGet	 tg = TUPELO__TRIGGER_GET__INIT;
	int			 code;

	*out = NULL;
	if ((code = trigger_name(name, err)) != TP_OK)
		return (code);
	tg.name = (char *)name;
	f.body_case = TUPELO__FRAME__BODY_TRIGGER_GET;
	f.trigger_get = &tg;
	if ((code = conn_request(conn, &f, &reply, err)) != TP_OK)
		return (code);
	if (reply->body_case != TUPELO__FRAME__BODY_TRIGGER_INFO ||
	    reply->trigger_info == NULL)
		code = conn_unexpected(reply, err);
	else
		code = trigger_infos(&reply->trigger_info, 1, out, err);
	frame_free(reply);
	return (code);
}

void
tp_trigger_info_free(struct tp_trigger_info *info)
{
	free(info);
}

static int
trigger_cmp(const void *a, const void *b)
{
	const struct tp_trigger_info	*x = a, *y = b;

	return (strcmp(x->config.name, y->config.name));
}

int
tp_trigger_list(struct tp_conn *conn, const char *station,
    struct tp_trigger_info **out, size_t *n, struct tp_err *err)
{
	Tupelo__Frame			 f = TUPELO__FRAME__INIT, *reply = NULL;
	Tupelo__TriggerList		 tl = TUPELO__TRIGGER_LIST__INIT;
	Tupelo__TriggerListReply	*lr;
	int				 code;

	*out = NULL;
	*n = 0;
	if (station != NULL &&
	    (code = validate_name("station", station, err)) != TP_OK)
		return (code);
	tl.station = trigger_str(station);
	f.body_case = TUPELO__FRAME__BODY_TRIGGER_LIST;
	f.trigger_list = &tl;
	if ((code = conn_request(conn, &f, &reply, err)) != TP_OK)
		return (code);
	if (reply->body_case != TUPELO__FRAME__BODY_TRIGGER_LIST_REPLY ||
	    (lr = reply->trigger_list_reply) == NULL) {
		code = conn_unexpected(reply, err);
		goto out;
	}
	if ((code = trigger_infos(lr->triggers, lr->n_triggers, out, err)) !=
	    TP_OK)
		goto out;
	qsort(*out, lr->n_triggers, sizeof **out, trigger_cmp);
	*n = lr->n_triggers;
out:
	frame_free(reply);
	return (code);
}

void
tp_trigger_list_free(struct tp_trigger_info *v, size_t n)
{
	(void)n;
	free(v);
}

int
tp_request(struct tp_conn *conn, const char *station,
    const struct tp_message *msg, uint32_t timeout_ms, void **out,
    size_t *outlen, struct tp_err *err)
{
	Tupelo__Frame		 f = TUPELO__FRAME__INIT, *reply = NULL;
	Tupelo__Request		 rq = TUPELO__REQUEST__INIT;
	Tupelo__RequestReply	*rr;
	Tupelo__Message		 m;
	Tupelo__Header		*h = NULL, **hp = NULL;
	uint8_t			*buf = NULL;
	int64_t			 wait_ms;
	int			 code;

	if (out != NULL)
		*out = NULL;
	if (outlen != NULL)
		*outlen = 0;
	if ((code = validate_name("station", station, err)) != TP_OK)
		return (code);
	if (msg == NULL)
		return (error_set(err, TP_EINVAL, "request without a message"));
	if (timeout_ms > VALIDATE_DELAY_MAX)
		return (error_set(err, TP_EINVAL, "request timeout of %u ms, "
		    "at most %d", timeout_ms, VALIDATE_DELAY_MAX));
	if (msg->nheaders > VALIDATE_HEADERS_MAX)
		return (error_set(err, TP_EINVAL, "%zu headers on one message, "
		    "at most %d", msg->nheaders, VALIDATE_HEADERS_MAX));
	if (msg->nheaders > 0 && msg->headers == NULL)
		return (error_set(err, TP_EINVAL, "message without headers"));
	if ((h = calloc(msg->nheaders + 1, sizeof *h)) == NULL ||
	    (hp = calloc(msg->nheaders + 1, sizeof *hp)) == NULL) {
		code = error_set(err, TP_ENOMEM, "no memory for a request");
		goto out;
	}
	if ((code = producer_fill(&m, hp, h, msg, err)) != TP_OK)
		goto out;
	rq.station = (char *)station;
	rq.message = &m;
	rq.timeout_ms = timeout_ms;
	f.body_case = TUPELO__FRAME__BODY_REQUEST;
	f.request = &rq;

	/* The broker answers within its wait; the reply then travels. */
	wait_ms = -1;
	if (conn_timeout(conn) >= 0) {
		wait_ms = (int64_t)(timeout_ms != 0 ? timeout_ms : 30000) +
		    conn_timeout(conn);
		if (wait_ms > INT32_MAX)
			wait_ms = INT32_MAX;
	}
	if ((code = conn_request_wait(conn, &f, (int)wait_ms, &reply, err)) !=
	    TP_OK)
		goto out;
	if (reply->body_case != TUPELO__FRAME__BODY_REQUEST_REPLY ||
	    (rr = reply->request_reply) == NULL) {
		code = conn_unexpected(reply, err);
		goto out;
	}
	if (out != NULL && rr->output.len > 0) {
		if ((buf = malloc(rr->output.len + 1)) == NULL) {
			code = error_set(err, TP_ENOMEM, "no memory for an "
			    "output of %zu bytes", rr->output.len);
			goto out;
		}
		memcpy(buf, rr->output.data, rr->output.len);
		buf[rr->output.len] = '\0';
		*out = buf;
		if (outlen != NULL)
			*outlen = rr->output.len;
	}
	if (!rr->ok) {
		if (rr->error == NULL || *rr->error == '\0')
			code = error_set(err, TP_EFUNCTION, NULL);
		else
			code = error_set(err, TP_EFUNCTION, "%s", rr->error);
	}
out:
	frame_free(reply);
	free(h);
	free(hp);
	return (code);
}
