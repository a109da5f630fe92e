/*
 * The trigger registry: settings with their defaults and checks, stored
 * as "trigger/<name>" in the metadata, loaded at start-up next to their
 * groups, and the create, update, delete, get and list requests.
 *
 * A create makes the group "_trigger.<name>" from the start position,
 * queues its state and then the trigger's config to the writer (applied
 * in that order), and answers once both are durable. Settings change in
 * memory at once and are answered once stored. A delete removes the
 * trigger's group and config the same way.
 */
#include "broker/trigger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/conn.h"
#include "broker/fn_dir.h"
#include "broker/group.h"
#include "broker/gstate.h"
#include "broker/log.h"
#include "broker/netguard.h"
#include "broker/station.h"
#include "broker/tevent.h"
#include "proto/error.h"
#include "proto/validate.h"
#include "storage/meta.h"
#include "storage/store.h"
#include "storage/writer.h"

#define TRIGGER_MAX		4096		/* triggers in a broker */
#define TRIGGER_FILTERS_MAX	32
#define TRIGGER_BATCH_MAX	10000
#define TRIGGER_WINDOW_MAX	300000		/* ms */
#define TRIGGER_BYTES_DEF	(6 * 1024 * 1024)
#define TRIGGER_BYTES_MAX	(64 * 1024 * 1024)
#define TRIGGER_CONC_MAX	1000
#define TRIGGER_TIMEOUT_MAX	900000		/* ms: 15 minutes */
#define TRIGGER_STR_MAX		4096		/* command, URL */

TAILQ_HEAD(trigger_list, trigger);

static struct trigger_list	 trigger_all =
				    TAILQ_HEAD_INITIALIZER(trigger_all);
static size_t			 trigger_count;
static struct writer		*trigger_writer;
static struct store		*trigger_st;

/* A config on its way to storage (or a removal). */
struct trigger_op {
	struct conn	*conn;		/* referenced, or NULL */
	uint64_t	 id;
	MDB_dbi		 meta;
	char		 name[TP_NAME_MAX + 1];
	uint8_t		*packed;	/* owned; NULL: remove */
	size_t		 len;
};

static struct trigger *
trigger_find(const char *name)
{
	struct trigger	*t;

	TAILQ_FOREACH(t, &trigger_all, entry) {
		if (strcmp(t->cfg->name, name) == 0)
			return (t);
	}
	return (NULL);
}

struct trigger *
trigger_of_station(struct station *st)
{
	struct trigger	*t, *best = NULL;

	TAILQ_FOREACH(t, &trigger_all, entry) {
		if (t->st != st || !t->cfg->enabled || t->sub == NULL)
			continue;
		if (best == NULL || strcmp(t->cfg->name, best->cfg->name) < 0)
			best = t;
	}
	return (best);
}

/* ---- settings ---- */

static Tupelo__TriggerConfig *
trigger_cfg_copy(const Tupelo__TriggerConfig *c)
{
	Tupelo__TriggerConfig	*out;
	uint8_t			*buf;
	size_t			 len;

	len = tupelo__trigger_config__get_packed_size(c);
	if ((buf = malloc(len + 1)) == NULL)
		return (NULL);
	tupelo__trigger_config__pack(c, buf);
	out = tupelo__trigger_config__unpack(NULL, len, buf);
	free(buf);
	return (out);
}

static void
trigger_defaults(Tupelo__TriggerConfig *c)
{
	c->start = "new";
	c->batch_size = 10;
	c->batch_max_bytes = TRIGGER_BYTES_DEF;
	c->mode = TRIGGER_STREAM;
	c->concurrency = 0;	/* by mode, once the mode is known */
	c->timeout_ms = 30000;
	c->max_retries = 2;
	c->backoff_initial_ms = 1000;
	c->backoff_max_ms = 300000;
	c->enabled = 1;
}

static int
trigger_named(const char *const *fields, size_t n, const char *name)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (strcmp(fields[i], name) == 0)
			return (1);
	}
	return (0);
}

static const char *const trigger_fields[] = {
	"target", "command", "url", "function", "start", "batch_size",
	"batch_window_ms", "batch_max_bytes", "mode", "ordering_key",
	"concurrency", "timeout_ms", "max_retries", "backoff_initial_ms",
	"backoff_max_ms", "max_age_s", "item_failures", "bisect_on_error",
	"filters", "on_failure", "on_success", "enabled", NULL
};

/*
 * Set the named fields of src in dst (strings and the filter list are
 * borrowed from src until dst is copied).
 */
static int
trigger_apply(Tupelo__TriggerConfig *dst, const Tupelo__TriggerConfig *src,
    char *const *fields, size_t n, int create, struct tp_err *err)
{
	const char *const	*f = (const char *const *)fields;
	size_t			 i;

	for (i = 0; i < n; i++) {
		size_t	j;

		for (j = 0; trigger_fields[j] != NULL; j++) {
			if (strcmp(fields[i], trigger_fields[j]) == 0)
				break;
		}
		if (trigger_fields[j] == NULL)
			return (error_set(err, TP_EINVAL, "unknown trigger "
			    "setting \"%.64s\"", fields[i]));
	}
#define APPLY(x) do {						\
	if (trigger_named(f, n, #x))				\
		dst->x = src->x;				\
} while (0)
	APPLY(target);
	APPLY(command);
	APPLY(url);
	APPLY(function);
	APPLY(batch_size);
	APPLY(batch_window_ms);
	APPLY(batch_max_bytes);
	APPLY(mode);
	APPLY(ordering_key);
	APPLY(concurrency);
	APPLY(timeout_ms);
	APPLY(max_retries);
	APPLY(backoff_initial_ms);
	APPLY(backoff_max_ms);
	APPLY(max_age_s);
	APPLY(item_failures);
	APPLY(bisect_on_error);
	APPLY(on_failure);
	APPLY(on_success);
	APPLY(enabled);
#undef APPLY
	if (trigger_named(f, n, "start")) {
		if (!create)
			return (error_set(err, TP_EINVAL, "the start position "
			    "applies at creation only"));
		dst->start = src->start;
	}
	if (trigger_named(f, n, "filters")) {
		dst->n_filters = src->n_filters;
		dst->filters = src->filters;
	}
	return (TP_OK);
}

static int
trigger_str_ok(const char *s)
{
	return (s != NULL && *s != '\0' && strlen(s) <= TRIGGER_STR_MAX);
}

/* Check a complete config; fills the mode-dependent default. */
static int
trigger_check(Tupelo__TriggerConfig *c, struct station *st,
    struct tp_err *err)
{
	struct tevent_filter	*flt;
	size_t			 i;
	int			 code;

	switch (c->target) {
	case TRIGGER_EXEC:
		if (!trigger_str_ok(c->command))
			return (error_set(err, TP_EINVAL, "an exec trigger "
			    "needs a function name (up to %d bytes)",
			    TRIGGER_STR_MAX));
		if ((code = fn_dir_check(c->command, err)) != TP_OK)
			return (code);
		break;
	case TRIGGER_LAMBDA:
		if (c->function == NULL || *c->function == '\0' ||
		    strlen(c->function) > 140 ||
		    strspn(c->function, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_:.") !=
		    strlen(c->function))
			return (error_set(err, TP_EINVAL, "a lambda trigger "
			    "needs a function name (letters, digits, - _ : ."
			    ")"));
		/* FALLTHROUGH */
	case TRIGGER_HTTP:
		if (!trigger_str_ok(c->url) || (strncmp(c->url, "http://",
		    7) != 0 && strncmp(c->url, "https://", 8) != 0))
			return (error_set(err, TP_EINVAL, "an %s trigger needs "
			    "an http:// or https:// URL", c->target ==
			    TRIGGER_HTTP ? "http" : "lambda"));
		if (netguard_url_refused(c->url))
			return (error_set(err, TP_EPERM, "%s is a link-local "
			    "or cloud metadata address, where cloud machines "
			    "keep their credentials: no trigger may reach it",
			    c->url));
		break;
	default:
		return (error_set(err, TP_EINVAL, "a trigger needs a target: "
		    "exec, http or lambda"));
	}
	if (c->batch_size < 1 || c->batch_size > TRIGGER_BATCH_MAX)
		return (error_set(err, TP_EINVAL, "batch size is 1..%d",
		    TRIGGER_BATCH_MAX));
	if (c->batch_window_ms > TRIGGER_WINDOW_MAX)
		return (error_set(err, TP_EINVAL, "batch window is 0..%d ms",
		    TRIGGER_WINDOW_MAX));
	if (c->batch_max_bytes < 1024 || c->batch_max_bytes >
	    TRIGGER_BYTES_MAX)
		return (error_set(err, TP_EINVAL, "batch max bytes is "
		    "1024..%d", TRIGGER_BYTES_MAX));
	if (c->mode != TRIGGER_STREAM && c->mode != TRIGGER_ASYNC)
		return (error_set(err, TP_EINVAL, "mode is stream or async"));
	if (c->ordering_key != NULL && *c->ordering_key != '\0') {
		if (c->mode != TRIGGER_STREAM)
			return (error_set(err, TP_EINVAL, "an ordering key "
			    "needs stream mode"));
		if (strlen(c->ordering_key) > VALIDATE_KEY_MAX)
			return (error_set(err, TP_EINVAL, "ordering key longer "
			    "than %d bytes", VALIDATE_KEY_MAX));
	}
	if (c->concurrency == 0)
		c->concurrency = c->mode == TRIGGER_STREAM ? 1 : 10;
	if (c->concurrency > TRIGGER_CONC_MAX)
		return (error_set(err, TP_EINVAL, "concurrency is 1..%d",
		    TRIGGER_CONC_MAX));
	if (c->timeout_ms < 1 || c->timeout_ms > TRIGGER_TIMEOUT_MAX)
		return (error_set(err, TP_EINVAL, "timeout is 1..%d ms",
		    TRIGGER_TIMEOUT_MAX));
	if (c->max_retries < -1 || c->max_retries > 10000)
		return (error_set(err, TP_EINVAL, "max retries is -1 (until "
		    "max age) or 0..10000"));
	if (c->backoff_initial_ms < 1 || c->backoff_initial_ms >
	    VALIDATE_DELAY_MAX || c->backoff_max_ms < c->backoff_initial_ms ||
	    c->backoff_max_ms > VALIDATE_DELAY_MAX)
		return (error_set(err, TP_EINVAL, "backoff is INITIAL_MS"
		    "[:MAX_MS], 1 <= initial <= max <= %d",
		    VALIDATE_DELAY_MAX));
	if (c->n_filters > TRIGGER_FILTERS_MAX)
		return (error_set(err, TP_EINVAL, "at most %d filters",
		    TRIGGER_FILTERS_MAX));
	for (i = 0; i < c->n_filters; i++) {
		if ((code = tevent_filter_parse(c->filters[i], &flt, err)) !=
		    TP_OK)
			return (code);
		tevent_filter_free(flt);
	}
	if (c->on_failure != NULL && *c->on_failure != '\0' &&
	    (code = validate_name("on-failure station", c->on_failure,
	    err)) != TP_OK)
		return (code);
	if (c->on_success != NULL && *c->on_success != '\0') {
		if ((code = validate_name("on-success station", c->on_success,
		    err)) != TP_OK)
			return (code);
		if (strcmp(c->on_success, station_name(st)) == 0)
			return (error_set(err, TP_EINVAL, "the on-success "
			    "station cannot be the trigger's own station"));
	}
	return (TP_OK);
}

static int
trigger_compile(struct trigger *t, struct tp_err *err)
{
	struct tevent_filter	**fs = NULL;
	size_t			  i;
	int			  code;

	if (t->cfg->n_filters != 0 &&
	    (fs = calloc(t->cfg->n_filters, sizeof *fs)) == NULL)
		return (error_set(err, TP_ENOMEM, "out of memory"));
	for (i = 0; i < t->cfg->n_filters; i++) {
		if ((code = tevent_filter_parse(t->cfg->filters[i], &fs[i],
		    err)) != TP_OK) {
			while (i-- > 0)
				tevent_filter_free(fs[i]);
			free(fs);
			return (code);
		}
	}
	t->filters = fs;
	return (TP_OK);
}

static void
trigger_filters_free(struct tevent_filter **fs, size_t n)
{
	size_t	i;

	for (i = 0; fs != NULL && i < n; i++)
		tevent_filter_free(fs[i]);
	free(fs);
}

/* ---- lifetime ---- */

static struct trigger *
trigger_new(struct station *st, Tupelo__TriggerConfig *cfg)
{
	struct trigger	*t;

	if ((t = calloc(1, sizeof *t)) == NULL)
		return (NULL);
	t->cfg = cfg;
	t->st = st;
	station_hold(st);
	snprintf(t->gname, sizeof t->gname, "%s%s", TRIGGER_GROUP_PREFIX,
	    cfg->name);
	TAILQ_INIT(&t->batches);
	return (t);
}

void
trigger_release(struct trigger *t)
{
	if (!t->deleted || t->refs > 0)
		return;
	trigger_filters_free(t->filters, t->cfg->n_filters);
	tupelo__trigger_config__free_unpacked(t->cfg, NULL);
	station_unref(t->st);
	free(t->q);
	free(t);
}

/* Out of the registry; freed once nothing refers to it. */
static void
trigger_forget(struct trigger *t)
{
	tflow_close(t);
	TAILQ_REMOVE(&trigger_all, t, entry);
	trigger_count--;
	t->deleted = 1;
	trigger_release(t);
}

/* ---- storage ---- */

static int
trigger_op_apply(MDB_txn *txn, void *arg)
{
	struct trigger_op	*op = arg;
	Tupelo__TriggerConfig	*c;
	int			 rc;

	if (op->packed == NULL)
		return (meta_trigger_del(txn, op->meta, op->name));
	c = tupelo__trigger_config__unpack(NULL, op->len, op->packed);
	if (c == NULL)
		return (MDB_CORRUPTED);
	rc = meta_trigger_put(txn, op->meta, c);
	tupelo__trigger_config__free_unpacked(c, NULL);
	return (rc);
}

static void
trigger_op_done(void *arg, int code)
{
	struct trigger_op	*op = arg;

	if (op->conn != NULL) {
		if (code == TP_OK)
			conn_send_ok(op->conn, op->id);
		else
			conn_send_error(op->conn, op->id, code,
			    "cannot store the trigger");
		conn_unref(op->conn);
	}
	if (code != TP_OK)
		log_error("trigger=%s: cannot store: %s", op->name,
		    tp_strerror(code));
	free(op->packed);
	free(op);
}

static const struct writer_op trigger_wop = { trigger_op_apply,
    trigger_op_done, WRITER_CHECKPOINT };

/* Store t's config (or its removal when t is NULL); answer on c. */
static void
trigger_store(struct trigger *t, const char *name, struct conn *c,
    uint64_t id)
{
	struct trigger_op	*op;
	int			 code = TP_ENOMEM;

	if ((op = calloc(1, sizeof *op)) == NULL)
		goto fail;
	snprintf(op->name, sizeof op->name, "%s", name);
	op->meta = store_meta(trigger_st);
	if (t != NULL) {
		op->len = tupelo__trigger_config__get_packed_size(t->cfg);
		if ((op->packed = malloc(op->len + 1)) == NULL) {
			free(op);
			goto fail;
		}
		tupelo__trigger_config__pack(t->cfg, op->packed);
	}
	op->conn = c;
	op->id = id;
	if (c != NULL)
		conn_ref(c);
	if ((code = writer_submit(trigger_writer, &trigger_wop, op,
	    op->len + 64, WRITER_SYNC)) != TP_OK)
		trigger_op_done(op, code);
	return;
fail:
	if (c != NULL)
		conn_send_error(c, id, code, NULL);
}

/* ---- start and stop ---- */

struct trigger_load {
	int	failed;
};

static int
trigger_load_cb(void *arg, const Tupelo__TriggerConfig *stored)
{
	struct trigger_load	*tl = arg;
	Tupelo__TriggerConfig	*cfg;
	struct station		*st;
	struct trigger		*t;
	struct tp_err		 err;

	if ((st = station_find(stored->station)) == NULL) {
		log_warn("trigger=%s: station %s is gone; trigger ignored",
		    stored->name, stored->station);
		return (0);
	}
	if ((cfg = trigger_cfg_copy(stored)) == NULL ||
	    (t = trigger_new(st, cfg)) == NULL) {
		tl->failed = 1;
		return (1);
	}
	if (trigger_compile(t, &err) != TP_OK)
		log_warn("trigger=%s: %s; its filters are ignored", cfg->name,
		    err.message);
	TAILQ_INSERT_TAIL(&trigger_all, t, entry);
	trigger_count++;
	return (0);
}

int
trigger_start(struct event_base *base, struct store *store, struct writer *w,
    struct tp_err *err)
{
	struct trigger_load	 tl = { 0 };
	struct trigger		*t;
	struct tp_err		 gerr;
	Tupelo__GroupConfig	 gcfg;
	struct group		*g;
	MDB_txn			*txn;
	int			 rc, code;

	trigger_writer = w;
	trigger_st = store;
	tflow_start(base);
	if ((code = store_read_begin(store, &txn, err)) != TP_OK)
		return (code);
	rc = meta_trigger_load(txn, store_meta(store), trigger_load_cb, &tl);
	store_read_end(store, txn);
	if (rc != 0 || tl.failed)
		return (error_set(err, rc != 0 ? store_code(rc) : TP_ENOMEM,
		    "cannot load the triggers: %s", rc != 0 ?
		    mdb_strerror(rc) : "out of memory"));
	TAILQ_FOREACH(t, &trigger_all, entry) {
		if ((g = station_group_find(t->st, t->gname)) == NULL) {
			log_warn("trigger=%s: its group is missing; starting "
			    "at %s", t->cfg->name, t->cfg->start);
			tupelo__group_config__init(&gcfg);
			gcfg.max_deliveries = -1;
			if (gstate_create(t->st, t->gname, t->cfg->start, &gcfg,
			    0, &g, &gerr) != TP_OK) {
				log_error("trigger=%s: %s", t->cfg->name,
				    gerr.message);
				continue;
			}
		}
		t->g = g;
		if (t->cfg->target == TRIGGER_EXEC && t->cfg->enabled &&
		    fn_dir_check(t->cfg->command, &gerr) != TP_OK) {
			/* Made before exec-triggers allowed less: held. */
			t->cfg->enabled = 0;
			tflow_set_error(t, gerr.message);
			log_warn("trigger=%s paused: %s", t->cfg->name,
			    gerr.message);
		}
		/* The credit may have changed with the settings. */
		g->cfg.max_ack_pending = tflow_credit(t->cfg);
		if (tflow_open(t) != TP_OK)
			return (error_set(err, TP_ENOMEM, "out of memory"));
	}
	if (trigger_count > 0)
		log_info("%zu trigger%s loaded", trigger_count,
		    trigger_count == 1 ? "" : "s");
	return (TP_OK);
}

void
trigger_stop(void)
{
	struct trigger	*t;

	while ((t = TAILQ_FIRST(&trigger_all)) != NULL)
		trigger_forget(t);
}

void
trigger_group_gone(struct trigger *t)
{
	log_info("trigger=%s removed with station %s", t->cfg->name,
	    station_name(t->st));
	t->g = NULL;
	t->sub = NULL;
	trigger_store(NULL, t->cfg->name, NULL, 0);
	trigger_forget(t);
}

/* ---- requests ---- */

static struct trigger *
trigger_get(struct conn *c, uint64_t id, const char *name)
{
	struct trigger	*t;
	char		 msg[256];

	if ((t = trigger_find(name)) == NULL) {
		snprintf(msg, sizeof msg, "no trigger named %s", name);
		conn_send_error(c, id, TP_ENOTRIGGER, msg);
	}
	return (t);
}

void
trigger_request_create(struct conn *c, uint64_t id,
    const Tupelo__TriggerCreate *req)
{
	Tupelo__TriggerConfig	 cfg = TUPELO__TRIGGER_CONFIG__INIT, *copy;
	Tupelo__GroupConfig	 gcfg;
	struct station		*st;
	struct trigger		*t;
	struct group		*g;
	struct tp_err		 err;
	struct timespec		 ts;

	if (trigger_find(req->config->name) != NULL) {
		error_set(&err, TP_EEXIST, "trigger %s already exists",
		    req->config->name);
		goto fail;
	}
	if ((st = station_find(req->config->station)) == NULL) {
		error_set(&err, TP_ENOSTATION, "no station named %s",
		    req->config->station);
		goto fail;
	}
	if (trigger_count >= TRIGGER_MAX) {
		error_set(&err, TP_EBUSY, "%d triggers, the most a broker "
		    "has", TRIGGER_MAX);
		goto fail;
	}
	trigger_defaults(&cfg);
	cfg.name = req->config->name;
	cfg.station = (char *)station_name(st);
	if (trigger_apply(&cfg, req->config, req->fields, req->n_fields, 1,
	    &err) != TP_OK || trigger_check(&cfg, st, &err) != TP_OK)
		goto fail;
	clock_gettime(CLOCK_REALTIME, &ts);
	cfg.created_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	if ((copy = trigger_cfg_copy(&cfg)) == NULL ||
	    (t = trigger_new(st, copy)) == NULL) {
		if (copy != NULL)
			tupelo__trigger_config__free_unpacked(copy, NULL);
		error_set(&err, TP_ENOMEM, "out of memory");
		goto fail;
	}
	if (station_group_find(st, t->gname) != NULL) {
		error_set(&err, TP_EEXIST, "station %s still has the group %s "
		    "of an earlier trigger", station_name(st), t->gname);
		goto fail_free;
	}
	if (trigger_compile(t, &err) != TP_OK)
		goto fail_free;
	tupelo__group_config__init(&gcfg);
	gcfg.max_deliveries = -1;
	gcfg.max_ack_pending = tflow_credit(t->cfg);
	if (gstate_create(st, t->gname, cfg.start, &gcfg, 0, &g, &err) !=
	    TP_OK)
		goto fail_free;
	t->g = g;
	gstate_save_now(g);
	TAILQ_INSERT_TAIL(&trigger_all, t, entry);
	trigger_count++;
	log_info("trigger created name=%s station=%s", t->cfg->name,
	    station_name(st));
	/* Applied after the group's state: answered once both are stored. */
	trigger_store(t, t->cfg->name, c, id);
	if (tflow_open(t) != TP_OK)
		log_error("trigger=%s: out of memory", t->cfg->name);
	return;
fail_free:
	t->deleted = 1;
	trigger_release(t);
fail:
	conn_send_error(c, id, err.code, err.message);
}

void
trigger_request_update(struct conn *c, uint64_t id,
    const Tupelo__TriggerUpdate *req)
{
	Tupelo__TriggerConfig	 cfg, *copy;
	struct tevent_filter	**old_filters;
	size_t			  old_n;
	struct trigger		 *t;
	struct tp_err		  err;

	if ((t = trigger_get(c, id, req->config->name)) == NULL)
		return;
	cfg = *t->cfg;
	if (trigger_apply(&cfg, req->config, req->fields, req->n_fields, 0,
	    &err) != TP_OK || trigger_check(&cfg, t->st, &err) != TP_OK) {
		conn_send_error(c, id, err.code, err.message);
		return;
	}
	if ((copy = trigger_cfg_copy(&cfg)) == NULL) {
		conn_send_error(c, id, TP_ENOMEM, NULL);
		return;
	}
	old_filters = t->filters;
	old_n = t->cfg->n_filters;
	t->filters = NULL;
	tupelo__trigger_config__free_unpacked(t->cfg, NULL);
	t->cfg = copy;
	if (trigger_compile(t, &err) != TP_OK) {
		/* Checked above: only memory can fail here. */
		t->filters = old_filters;
		conn_send_error(c, id, err.code, err.message);
		return;
	}
	trigger_filters_free(old_filters, old_n);
	log_info("trigger updated name=%s", t->cfg->name);
	tflow_reconfigure(t);
	trigger_store(t, t->cfg->name, c, id);
}

void
trigger_request_delete(struct conn *c, uint64_t id,
    const Tupelo__TriggerDelete *req)
{
	struct trigger	*t;
	struct group	*g;

	if ((t = trigger_get(c, id, req->name)) == NULL)
		return;
	g = t->g;
	log_info("trigger deleted name=%s", t->cfg->name);
	trigger_store(NULL, req->name, c, id);
	trigger_forget(t);
	if (g != NULL)
		gstate_delete(g, NULL, 0);
}

/* Fill info (pointing into t) with the trigger's figures. */
static void
trigger_info(struct trigger *t, Tupelo__TriggerInfo *info)
{
	uint64_t	committed = station_committed(t->st);

	tupelo__trigger_info__init(info);
	info->config = t->cfg;
	if (t->g != NULL) {
		info->position = t->g->floor;
		info->lag = committed > t->g->floor ? committed -
		    t->g->floor : 0;
	}
	info->in_flight = (uint32_t)t->nrunning;
	info->queued = (uint32_t)t->qlen;
	info->invocations = t->invocations;
	info->successes = t->successes;
	info->failures = t->failures;
	info->retries = t->retries;
	info->dead_lettered = t->dead_lettered;
	info->filtered = t->filtered;
	info->messages = t->messages;
	info->p50_us = tflow_percentile(t, 50);
	info->p99_us = tflow_percentile(t, 99);
	info->last_error = t->last_error;
	info->last_error_ns = t->last_error_ns;
}

void
trigger_request_get(struct conn *c, uint64_t id, const Tupelo__TriggerGet *req)
{
	Tupelo__Frame		 f = TUPELO__FRAME__INIT;
	Tupelo__TriggerInfo	 info;
	struct trigger		*t;

	if ((t = trigger_get(c, id, req->name)) == NULL)
		return;
	trigger_info(t, &info);
	f.id = id;
	f.body_case = TUPELO__FRAME__BODY_TRIGGER_INFO;
	f.trigger_info = &info;
	conn_send(c, &f);
}

static int
trigger_cmp(const void *a, const void *b)
{
	const Tupelo__TriggerInfo	*x = *(Tupelo__TriggerInfo *const *)a;
	const Tupelo__TriggerInfo	*y = *(Tupelo__TriggerInfo *const *)b;

	return (strcmp(x->config->name, y->config->name));
}

void
trigger_request_list(struct conn *c, uint64_t id,
    const Tupelo__TriggerList *req)
{
	Tupelo__Frame		  f = TUPELO__FRAME__INIT;
	Tupelo__TriggerListReply  reply = TUPELO__TRIGGER_LIST_REPLY__INIT;
	Tupelo__TriggerInfo	 *infos, **ptrs;
	struct trigger		 *t;
	size_t			  n = 0;
	int			  all;

	all = req->station == NULL || *req->station == '\0';
	infos = calloc(trigger_count + 1, sizeof *infos);
	ptrs = calloc(trigger_count + 1, sizeof *ptrs);
	if (infos == NULL || ptrs == NULL) {
		conn_send_error(c, id, TP_ENOMEM, NULL);
		goto out;
	}
	TAILQ_FOREACH(t, &trigger_all, entry) {
		if (!all && strcmp(station_name(t->st), req->station) != 0)
			continue;
		trigger_info(t, &infos[n]);
		ptrs[n] = &infos[n];
		n++;
	}
	qsort(ptrs, n, sizeof *ptrs, trigger_cmp);
	reply.n_triggers = n;
	reply.triggers = ptrs;
	f.id = id;
	f.body_case = TUPELO__FRAME__BODY_TRIGGER_LIST_REPLY;
	f.trigger_list_reply = &reply;
	conn_send(c, &f);
out:
	free(infos);
	free(ptrs);
}
