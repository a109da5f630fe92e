/*
 * Running a trigger's batches and settling them, on the loop thread: the
 * event document and the call of the target (exec, http, lambda), then
 * the outcome. Success acks the batch, after producing the function's
 * output to the on-success station when there is one, so a crash in
 * between invokes the function again rather than losing the output.
 * Failure puts the messages back into the trigger's queue with their
 * attempts, last error and the time before which they may not run again
 * (the backoff, or the target's Retry-After), split in two when
 * bisecting, or sends them on to the on-failure station once their
 * retries or their age are spent. broker/tflow forms the batches.
 */
#include "broker/trigger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/dls.h"
#include "broker/fn_dir.h"
#include "broker/fn_exec.h"
#include "broker/fn_http.h"
#include "broker/group.h"
#include "broker/invoke.h"
#include "broker/log.h"
#include "broker/produce.h"
#include "broker/station.h"
#include "broker/tevent.h"
#include "proto/error.h"
#include "storage/record.h"

#define TRUN_OUTPUT_MAX		(6 * 1024 * 1024)	/* function output */
#define TRUN_DEAD_CHUNK		1024			/* per group call */

static void	trun_failed(struct trigger *, struct tmsg *, size_t, int,
		    int64_t, const char *);

/* Decode m for an event document; payload replaced when compressed. */
static int
trun_view(const struct tmsg *m, struct tevent_msg *v,
    struct tevent_header *h, size_t hcap)
{
	int	code;

	if ((code = tevent_decode(m->rec, m->len, v, h, hcap)) != TP_OK)
		return (code);
	v->seq = m->seq;
	v->deliveries = m->deliveries;
	if (m->plain != NULL || v->codec != RECORD_CODEC_NONE) {
		v->payload = m->plain;
		v->payload_len = m->plen;
		v->codec = RECORD_CODEC_NONE;
	}
	return (TP_OK);
}

/* ---- dead letters ---- */

static void
trun_dead_done(void *arg, int code)
{
	struct tbatch	*b = arg;
	struct trigger	*t = b->t;
	int64_t		 now = group_now_ms();
	size_t		 i;

	if (t->deleted || t->sub == NULL) {
		tflow_msgs_free(b->m, b->n);
	} else if (code == TP_OK) {
		t->dead_lettered += b->n;
		for (i = 0; i < b->n; i++) {
			if (invoke_waiting(t, b->m[i].seq))
				invoke_result(t, b->m[i].seq, 0, b->m[i].out,
				    b->m[i].outlen, b->m[i].error != NULL ?
				    b->m[i].error : "dead-lettered");
		}
		tflow_msgs_free(b->m, b->n);
	} else {
		/* Not stored: they are ours again; try later. */
		log_warn("trigger=%s: cannot store %zu dead letters: %s",
		    t->cfg->name, b->n, tp_strerror(code));
		for (i = 0; i < b->n; i++)
			b->m[i].not_before_ms = now +
			    t->cfg->backoff_initial_ms;
		tflow_requeue(t, b->m, b->n);
	}
	b->m = NULL;
	b->n = 0;
	tflow_batch_end(b);
}

/* Move n messages (taken) to the on-failure station. */
void
trun_dead(struct trigger *t, struct tmsg *m, size_t n, const char *reason)
{
	struct dls_why	 why;
	struct tbatch	*b;
	struct tmsg	*part;
	uint64_t	 seqs[TRUN_DEAD_CHUNK];
	size_t		 i, k, at;
	const char	*to = t->cfg->on_failure;

	for (at = 0; at < n; at += k) {
		k = n - at < TRUN_DEAD_CHUNK ? n - at : TRUN_DEAD_CHUNK;
		if ((part = calloc(k, sizeof *part)) == NULL ||
		    (b = tflow_batch_new(t, part, k)) == NULL) {
			free(part);
			log_error("trigger=%s: out of memory for dead letters",
			    t->cfg->name);
			for (i = at; i < n; i++)
				tflow_msg_free(&m[i]);
			break;
		}
		memset(&why, 0, sizeof why);
		why.reason = reason;
		why.trigger = t->cfg->name;
		for (i = 0; i < k; i++) {
			part[i] = m[at + i];
			seqs[i] = part[i].seq;
			if (part[i].attempts > why.attempts)
				why.attempts = part[i].attempts;
		}
		why.error = part[0].error != NULL ? part[0].error : "";
		if (to != NULL && *to != '\0' &&
		    (why.to = station_find(to)) == NULL)
			log_warn("trigger=%s: no on-failure station %s; "
			    "using %s%s", t->cfg->name, to,
			    station_name(t->st), TP_DLS_SUFFIX);
		log_info("trigger=%s: %zu message%s to the dead letters (%s): "
		    "%s", t->cfg->name, k, k == 1 ? "" : "s", reason,
		    why.error);
		if (t->sub == NULL || group_sink_dead(t->sub, seqs, k, &why,
		    trun_dead_done, b) != TP_OK)
			trun_dead_done(b, TP_ENOMEM);
	}
	free(m);
}

/* ---- outcomes ---- */

static void
trun_answer(struct trigger *t, struct tmsg *m, size_t n, const char *out,
    size_t len)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (invoke_waiting(t, m[i].seq))
			invoke_result(t, m[i].seq, 1, out, len, NULL);
	}
}

/* The batch's messages are done: ack them. */
static void
trun_ack(struct tbatch *b)
{
	struct trigger	*t = b->t;
	uint64_t	*seqs;
	size_t		 i;

	if (t->sub != NULL && !t->deleted &&
	    (seqs = calloc(b->n + 1, sizeof *seqs)) != NULL) {
		for (i = 0; i < b->n; i++)
			seqs[i] = b->m[i].seq;
		t->messages += b->n;
		trun_answer(t, b->m, b->n, b->out, b->outlen);
		group_sink_ack(t->sub, seqs, b->n);
		free(seqs);
	}
	tflow_msgs_free(b->m, b->n);
	b->m = NULL;
	b->n = 0;
	tflow_batch_end(b);
}

static void
trun_output_done(void *arg, int code, uint64_t first)
{
	struct tbatch	*b = arg;
	struct trigger	*t = b->t;
	struct tmsg	*m;
	char		 msg[128];

	(void)first;
	if (code == TP_OK || t->deleted || t->sub == NULL) {
		trun_ack(b);
		return;
	}
	snprintf(msg, sizeof msg, "cannot store the output in %s: %s",
	    t->cfg->on_success, tp_strerror(code));
	m = b->m;
	b->m = NULL;
	trun_failed(t, m, b->n, 1, -1, msg);
	b->n = 0;
	tflow_batch_end(b);
}

/* Success: produce the output to the on-success station, then ack. */
static void
trun_succeeded(struct tbatch *b, const char *out, size_t len)
{
	struct trigger		*t = b->t;
	struct station		*to;
	Tupelo__Message		 msg = TUPELO__MESSAGE__INIT;
	Tupelo__Header		 h[3], *hp[3];
	uint8_t			*buf;
	uint32_t		*lens;
	struct tmsg		*m;
	char			 id[TP_NAME_MAX + 64], seqs[48], err[256];
	size_t			 i, size;
	int64_t			 now;
	int			 code;

	if (len > 0 && (b->out = malloc(len)) != NULL) {
		memcpy(b->out, out, len);
		b->outlen = len;
	}
	if (t->cfg->on_success == NULL || *t->cfg->on_success == '\0' ||
	    len == 0) {
		trun_ack(b);
		return;
	}
	if ((to = station_find(t->cfg->on_success)) == NULL) {
		snprintf(err, sizeof err, "no on-success station %s",
		    t->cfg->on_success);
		code = 1;
	} else if (len > station_max_message(to)) {
		snprintf(err, sizeof err, "output of %zu bytes is over "
		    "station %s's max message size", len, station_name(to));
		code = 0;
	} else
		code = -1;
	if (code != -1) {
		tflow_set_error(t, err);
		m = b->m;
		b->m = NULL;
		trun_failed(t, m, b->n, code, -1, err);
		b->n = 0;
		tflow_batch_end(b);
		return;
	}
	snprintf(seqs, sizeof seqs, "%llu-%llu",
	    (unsigned long long)b->m[0].seq,
	    (unsigned long long)b->m[b->n - 1].seq);
	snprintf(id, sizeof id, "%s/%s", t->cfg->name, seqs);
	for (i = 0; i < 3; i++) {
		tupelo__header__init(&h[i]);
		hp[i] = &h[i];
	}
	h[0].key = TP_HDR_TRIGGER;
	h[0].value = t->cfg->name;
	h[1].key = TP_HDR_ORIGIN_STATION;
	h[1].value = (char *)station_name(t->st);
	h[2].key = TP_HDR_ORIGIN_SEQ;
	h[2].value = seqs;
	msg.n_headers = 3;
	msg.headers = hp;
	msg.msg_id = id;
	msg.payload.data = (uint8_t *)out;
	msg.payload.len = len;
	now = station_now(to);
	size = record_size(&msg, now);
	buf = malloc(size + 1);
	lens = calloc(1, sizeof *lens);
	if (buf == NULL || lens == NULL) {
		free(buf);
		free(lens);
		code = TP_ENOMEM;
	} else {
		record_encode(&msg, now, buf);
		lens[0] = (uint32_t)size;
		code = produce_records(to, buf, lens, 1, trun_output_done,
		    b);
	}
	if (code != TP_OK)
		trun_output_done(b, code, 0);
}

static int64_t
trun_backoff_ms(struct trigger *t, uint32_t attempts)
{
	int64_t	d = t->cfg->backoff_initial_ms;
	int64_t	jitter;

	while (attempts-- > 1 && d < (int64_t)t->cfg->backoff_max_ms)
		d *= 2;
	if (d > (int64_t)t->cfg->backoff_max_ms)
		d = t->cfg->backoff_max_ms;
	/* +-10%, so that retries of many batches spread out. */
	jitter = d / 10;
	if (jitter > 0)
		d += (int64_t)(random() % (2 * jitter + 1)) - jitter;
	return (d > 0 ? d : 1);
}

int
trun_too_old(struct trigger *t, const struct tmsg *m)
{
	return (t->cfg->max_age_s != 0 && m->time_ns != 0 &&
	    tflow_wall_ns() - m->time_ns > (int64_t)t->cfg->max_age_s *
	    1000000000);
}

/*
 * n messages (taken) failed: back to the queue for another attempt, or
 * on to the dead letters: those whose retries are spent, those too old.
 */
static void
trun_failed(struct trigger *t, struct tmsg *m, size_t n, int retry,
    int64_t retry_after_ms, const char *error)
{
	struct tmsg	*old, *spent, *young;
	size_t		 i, nold = 0, nspent = 0, nyoung = 0;
	int64_t		 delay, now = group_now_ms();
	uint32_t	 half = (uint32_t)((n + 1) / 2), most = 0;
	int		 bisect;

	for (i = 0; i < n; i++) {
		free(m[i].error);
		m[i].error = strdup(error != NULL ? error : "");
		m[i].attempts++;
	}
	if (t->deleted || t->sub == NULL) {
		tflow_msgs_free(m, n);
		return;
	}
	if (!retry) {
		trun_dead(t, m, n, "rejected");
		return;
	}
	bisect = t->cfg->bisect_on_error && n > 1;
	old = calloc(n, sizeof *old);
	spent = calloc(n, sizeof *spent);
	young = calloc(n, sizeof *young);
	if (old == NULL || spent == NULL || young == NULL) {
		free(old);
		free(spent);
		free(young);
		tflow_requeue(t, m, n);
		return;
	}
	for (i = 0; i < n; i++) {
		if (trun_too_old(t, &m[i]))
			old[nold++] = m[i];
		else if (!bisect && t->cfg->max_retries >= 0 &&
		    m[i].attempts > (uint32_t)t->cfg->max_retries)
			spent[nspent++] = m[i];
		else
			young[nyoung++] = m[i];
	}
	free(m);
	if (nold > 0)
		trun_dead(t, old, nold, "max-age");
	else
		free(old);
	if (nspent > 0)
		trun_dead(t, spent, nspent, "max-retries");
	else
		free(spent);
	if (bisect) {
		/* Split: retry each half at once; not an attempt. */
		for (i = 0; i < nyoung; i++) {
			young[i].attempts--;
			young[i].max_batch = half;
			young[i].not_before_ms = 0;
		}
	} else {
		for (i = 0; i < nyoung; i++) {
			if (young[i].attempts > most)
				most = young[i].attempts;
		}
		/* Retry-After is honoured up to the backoff maximum. */
		delay = retry_after_ms >= 0 ? retry_after_ms :
		    trun_backoff_ms(t, most);
		if (delay > (int64_t)t->cfg->backoff_max_ms)
			delay = t->cfg->backoff_max_ms;
		for (i = 0; i < nyoung; i++)
			young[i].not_before_ms = now + delay;
	}
	if (nyoung > 0)
		t->retries++;
	tflow_requeue(t, young, nyoung);
	tflow_kick(t);
}

static int
trun_in_batch(const struct tbatch *b, uint64_t seq)
{
	size_t	lo = 0, hi = b->n, mid;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (b->m[mid].seq == seq)
			return (1);
		if (b->m[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (0);
}

/* A request waits for this message: keep what the function printed. */
static void
trun_keep_output(struct trigger *t, struct tbatch *b,
    const struct fn_result *r)
{
	struct tmsg	*m;
	size_t		 i;

	for (i = 0; i < b->n; i++) {
		m = &b->m[i];
		if (!invoke_waiting(t, m->seq))
			continue;
		free(m->out);
		m->out = NULL;
		m->outlen = 0;
		if (r->output_len > 0 && (m->out = malloc(r->output_len)) !=
		    NULL) {
			memcpy(m->out, r->output, r->output_len);
			m->outlen = r->output_len;
		}
	}
}

static void
trun_done_cb(void *arg, const struct fn_result *r)
{
	struct tbatch	*b = arg;
	struct trigger	*t = b->t;
	struct tmsg	*failed, *kept, *m;
	uint64_t	*ids = NULL;
	size_t		 nids = 0, i, j, nf, nk;
	char		 err[FN_ERROR_MAX + 64];
	int		 code;

	b->running = 0;
	b->ex = NULL;
	b->hr = NULL;
	t->nrunning--;
	t->invocations++;
	tflow_record_time(t, tflow_now_us() - b->started_us);
	if (r->ok && t->cfg->item_failures) {
		code = tevent_item_failures(r->output, r->output_len, &ids,
		    &nids);
		for (i = 0; code == TP_OK && i < nids; i++) {
			if (!trun_in_batch(b, ids[i]))
				code = TP_EPROTO;
		}
		if (code != TP_OK) {
			free(ids);
			t->failures++;
			snprintf(err, sizeof err, "the function's "
			    "batchItemFailures is not valid for this batch");
			tflow_set_error(t, err);
			m = b->m;
			b->m = NULL;
			trun_failed(t, m, b->n, 1, -1, err);
			b->n = 0;
			tflow_batch_end(b);
			return;
		}
	}
	if (!r->ok) {
		t->failures++;
		tflow_set_error(t, r->error[0] != '\0' ? r->error :
		    "failed");
		log_info("trigger=%s: attempt %u of %zu message%s failed: %s",
		    t->cfg->name, b->attempt, b->n, b->n == 1 ? "" : "s",
		    r->error);
		trun_keep_output(t, b, r);
		m = b->m;
		b->m = NULL;
		trun_failed(t, m, b->n, r->retry, r->retry_after_ms,
		    r->error[0] != '\0' ? r->error : "failed");
		b->n = 0;
		tflow_batch_end(b);
		return;
	}
	t->successes++;
	if (nids > 0) {
		/* Some items failed: they retry, the rest succeeded. */
		failed = calloc(nids, sizeof *failed);
		kept = calloc(b->n, sizeof *kept);
		if (failed == NULL || kept == NULL) {
			free(failed);
			free(kept);
			free(ids);
			m = b->m;
			b->m = NULL;
			trun_failed(t, m, b->n, 1, -1, "out of memory");
			b->n = 0;
			tflow_batch_end(b);
			return;
		}
		for (i = 0, nf = 0, nk = 0; i < b->n; i++) {
			for (j = 0; j < nids; j++) {
				if (ids[j] == b->m[i].seq)
					break;
			}
			if (j < nids && nf < nids)
				failed[nf++] = b->m[i];
			else
				kept[nk++] = b->m[i];
		}
		free(ids);
		free(b->m);
		b->m = kept;
		b->n = nk;
		snprintf(err, sizeof err, "reported failed in "
		    "batchItemFailures");
		tflow_set_error(t, err);
		trun_failed(t, failed, nf, 1, -1, err);
		if (nk == 0) {
			free(b->m);
			b->m = NULL;
			tflow_batch_end(b);
			return;
		}
	}
	trun_succeeded(b, r->output, r->output_len);
}

/* ---- invoking ---- */

static char *
trun_env(const char *name, const char *fmt, unsigned long long v)
{
	char	*s;

	if (asprintf(&s, "%s=%s", name, fmt) < 0)
		return (NULL);
	if (v != (unsigned long long)-1) {
		free(s);
		if (asprintf(&s, "%s=%llu", name, v) < 0)
			return (NULL);
	}
	return (s);
}

static int
trun_exec(struct tbatch *b, const struct tevent_ctx *ctx,
    const struct tevent_msg *v, struct tp_err *err)
{
	struct trigger		*t = b->t;
	struct fn_dir_prog	 prog;
	char			*env[7], *doc;
	size_t			 len, i;
	int			 code;

	if ((doc = tevent_records_json(ctx, v, b->n, &len)) == NULL)
		return (error_set(err, TP_ENOMEM, "out of memory"));
	env[0] = trun_env("TUPELO_STATION", station_name(t->st), -1);
	env[1] = trun_env("TUPELO_TRIGGER", t->cfg->name, -1);
	env[2] = trun_env("TUPELO_BATCH_SIZE", "", b->n);
	env[3] = trun_env("TUPELO_ATTEMPT", "", b->attempt);
	env[4] = trun_env("TUPELO_FIRST_SEQ", "", b->m[0].seq);
	env[5] = trun_env("TUPELO_LAST_SEQ", "", b->m[b->n - 1].seq);
	env[6] = NULL;
	for (i = 0; i < 6; i++) {
		if (env[i] == NULL)
			break;
	}
	if (i < 6) {
		free(doc);
		code = error_set(err, TP_ENOMEM, "out of memory");
	} else if ((code = fn_dir_prepare(t->cfg->command, env, 6, &prog,
	    err)) != TP_OK)
		free(doc);
	else {
		code = fn_exec_run(prog.argv, prog.env, doc, len,
		    (int)t->cfg->timeout_ms, TRUN_OUTPUT_MAX, trun_done_cb, b,
		    &b->ex, err);
		fn_dir_release(&prog);
	}
	for (i = 0; i < 6; i++)
		free(env[i]);
	return (code);
}

static int
trun_http(struct tbatch *b, const struct tevent_ctx *ctx,
    const struct tevent_msg *v, struct tp_err *err)
{
	struct trigger		*t = b->t;
	struct fn_http_req	 req;
	char			**lines = NULL, *url = NULL, *body;
	const char		*extra[2] = { NULL, NULL };
	size_t			 len;
	int			 code;

	memset(&req, 0, sizeof req);
	req.timeout_ms = (int)t->cfg->timeout_ms;
	req.output_max = TRUN_OUTPUT_MAX;
	if (t->cfg->target == TRIGGER_LAMBDA) {
		len = strlen(t->cfg->url);
		while (len > 0 && t->cfg->url[len - 1] == '/')
			len--;
		if (asprintf(&url, "%.*s/2015-03-31/functions/%s/invocations",
		    (int)len, t->cfg->url, t->cfg->function) < 0)
			return (error_set(err, TP_ENOMEM, "out of memory"));
		body = tevent_records_json(ctx, v, b->n, &len);
		req.url = url;
		req.content_type = "application/json";
		extra[0] = "X-Amz-Invocation-Type: RequestResponse";
		req.headers = extra;
		req.lambda = 1;
	} else if (t->cfg->batch_size == 1) {
		/* CloudEvents binary mode: the payload is the body. */
		if ((lines = tevent_binary_headers(ctx, &v[0])) == NULL)
			return (error_set(err, TP_ENOMEM, "out of memory"));
		/* Its Content-Type line replaces fn_http's default. */
		len = v[0].payload_len;
		if ((body = malloc(len + 1)) != NULL && len > 0)
			memcpy(body, v[0].payload, len);
		req.url = t->cfg->url;
		req.headers = (const char *const *)lines;
	} else {
		body = tevent_cloudevents_batch(ctx, v, b->n, &len);
		req.url = t->cfg->url;
		req.content_type = "application/cloudevents-batch+json";
	}
	if (body == NULL) {
		free(url);
		tevent_lines_free(lines);
		return (error_set(err, TP_ENOMEM, "out of memory"));
	}
	req.body = body;
	req.len = len;
	code = fn_http_post(&req, trun_done_cb, b, &b->hr, err);
	free(url);
	tevent_lines_free(lines);
	return (code);
}

/* Start b's invocation; a failure to start is a failed attempt. */
void
trun_start(struct tbatch *b)
{
	struct trigger		*t = b->t;
	struct tevent_ctx	 ctx;
	struct tevent_header	*h = NULL;
	struct tevent_msg	*v = NULL;
	struct fn_result	 r;
	struct tp_err		 err;
	size_t			 i, nh = 0;
	int			 code = TP_ENOMEM;

	b->attempt = 1;
	for (i = 0; i < b->n; i++) {
		if (b->m[i].attempts + 1 > b->attempt)
			b->attempt = b->m[i].attempts + 1;
	}
	ctx.station = station_name(t->st);
	ctx.trigger = t->cfg->name;
	ctx.attempt = b->attempt;
	error_set(&err, TP_ENOMEM, "out of memory");
	v = calloc(b->n, sizeof *v);
	h = calloc(b->n * TRIGGER_HEADERS_MAX, sizeof *h);
	if (v != NULL && h != NULL) {
		for (i = 0; i < b->n; i++) {
			code = trun_view(&b->m[i], &v[i], h + nh,
			    TRIGGER_HEADERS_MAX);
			if (code != TP_OK)
				break;
			nh += v[i].nheaders;
		}
		if (code != TP_OK)
			error_set(&err, code, "cannot decode message %llu",
			    (unsigned long long)b->m[i].seq);
	}
	b->started_us = tflow_now_us();
	b->running = 1;
	t->nrunning++;
	if (code == TP_OK) {
		if (t->cfg->target == TRIGGER_EXEC)
			code = trun_exec(b, &ctx, v, &err);
		else
			code = trun_http(b, &ctx, v, &err);
	}
	free(v);
	free(h);
	if (code == TP_OK)
		return;
	memset(&r, 0, sizeof r);
	r.retry = 1;
	r.retry_after_ms = -1;
	r.status = -1;
	snprintf(r.error, sizeof r.error, "cannot invoke: %s", err.message);
	trun_done_cb(b, &r);
}
