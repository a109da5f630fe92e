/*
 * Consumer groups from the client side. group_config turns the public
 * settings into a GroupConfig for Subscribe and GroupCreate, borrowing
 * the caller's strings and arrays; a start position is checked only for
 * its form, the broker judges its value. The administration calls are
 * one synchronous request each on the caller's connection.
 */
#include "client/group.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/conn.h"
#include "proto/error.h"
#include "proto/frame.h"
#include "proto/validate.h"

/* Is s a start position: a keyword, or a prefix with a value? */
static int
group_start_valid(const char *s)
{
	static const char *const	 prefixes[] = {
		"seq:", "time:", "last:"
	};
	size_t				 i, len;

	if (strcmp(s, "all") == 0 || strcmp(s, "new") == 0)
		return (1);
	for (i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
		len = strlen(prefixes[i]);
		if (strncmp(s, prefixes[i], len) == 0 && s[len] != '\0')
			return (1);
	}
	return (0);
}

int
group_config(const struct tp_group_opts *opts, Tupelo__GroupConfig *cfg,
    const char **start, struct tp_err *err)
{
	tupelo__group_config__init(cfg);
	*start = NULL;
	if (opts == NULL)
		return (TP_OK);
	if (opts->start != NULL && *opts->start != '\0') {
		if (!group_start_valid(opts->start))
			return (error_set(err, TP_EINVAL, "bad start '%.64s': "
			    "want all, new, seq:N, time:T or last:N",
			    opts->start));
		*start = opts->start;
	}
	if (opts->max_deliveries < -1)
		return (error_set(err, TP_EINVAL, "max_deliveries %d: want -1 "
		    "(no limit), 0 (the default) or more",
		    (int)opts->max_deliveries));
	if (opts->nbackoff > 0 && opts->backoff_ms == NULL)
		return (error_set(err, TP_EINVAL, "backoff of %zu delays "
		    "without the delays", opts->nbackoff));
	cfg->ack_wait_ms = opts->ack_wait_ms;
	cfg->max_deliveries = opts->max_deliveries;
	cfg->backoff_ms = (uint32_t *)opts->backoff_ms;
	cfg->n_backoff_ms = opts->nbackoff;
	cfg->max_ack_pending = opts->max_ack_pending;
	return (TP_OK);
}

/* Copy a GroupInfo from the wire into the public struct. */
static void
group_copy(const Tupelo__GroupInfo *gi, struct tp_group_info *out)
{
	memset(out, 0, sizeof *out);
	snprintf(out->station, sizeof out->station, "%s",
	    gi->station != NULL ? gi->station : "");
	snprintf(out->group, sizeof out->group, "%s",
	    gi->group != NULL ? gi->group : "");
	if (gi->config != NULL) {
		out->ack_wait_ms = gi->config->ack_wait_ms;
		out->max_deliveries = gi->config->max_deliveries;
		out->max_ack_pending = gi->config->max_ack_pending;
	}
	out->ack_floor = gi->ack_floor;
	out->delivered_seq = gi->delivered_seq;
	out->pending = gi->pending;
	out->members = gi->members;
	out->lag = gi->lag;
	out->redelivered = gi->redelivered;
	out->dead_lettered = gi->dead_lettered;
	out->skipped = gi->skipped;
	out->created_ns = gi->created_ns;
}

int
tp_group_create(struct tp_conn *conn, const char *station, const char *group,
    const struct tp_group_opts *opts, struct tp_err *err)
{
	Tupelo__Frame		f = TUPELO__FRAME__INIT;
	Tupelo__GroupCreate	gc = TUPELO__GROUP_CREATE__INIT;
	Tupelo__GroupConfig	cfg;
	const char		*start;
	int			code;

	if ((code = validate_name("station", station, err)) != TP_OK ||
	    (code = validate_name("group", group, err)) != TP_OK ||
	    (code = group_config(opts, &cfg, &start, err)) != TP_OK)
		return (code);
	gc.station = (char *)station;
	gc.group = (char *)group;
	if (start != NULL)
		gc.start = (char *)start;
	gc.config = &cfg;
	f.body_case = TUPELO__FRAME__BODY_GROUP_CREATE;
	f.group_create = &gc;
	return (conn_request_ok(conn, &f, err));
}

int
tp_group_delete(struct tp_conn *conn, const char *station, const char *group,
    struct tp_err *err)
{
	Tupelo__Frame		f = TUPELO__FRAME__INIT;
	Tupelo__GroupDelete	gd = TUPELO__GROUP_DELETE__INIT;
	int			code;

	if ((code = validate_name("station", station, err)) != TP_OK ||
	    (code = validate_name("group", group, err)) != TP_OK)
		return (code);
	gd.station = (char *)station;
	gd.group = (char *)group;
	f.body_case = TUPELO__FRAME__BODY_GROUP_DELETE;
	f.group_delete = &gd;
	return (conn_request_ok(conn, &f, err));
}

/* Ask for one group; on TP_OK *gi points into *reply, the caller's. */
static int
group_get(struct tp_conn *conn, const char *station, const char *group,
    Tupelo__Frame **reply, Tupelo__GroupInfo **gi, struct tp_err *err)
{
	Tupelo__Frame		f = TUPELO__FRAME__INIT;
	Tupelo__GroupGet	gg = TUPELO__GROUP_GET__INIT;
	int			code;

	*reply = NULL;
	*gi = NULL;
	if ((code = validate_name("station", station, err)) != TP_OK ||
	    (code = validate_name("group", group, err)) != TP_OK)
		return (code);
	gg.station = (char *)station;
	gg.group = (char *)group;
	f.body_case = TUPELO__FRAME__BODY_GROUP_GET;
	f.group_get = &gg;
	if ((code = conn_request(conn, &f, reply, err)) != TP_OK)
		return (code);
	if ((*reply)->body_case != TUPELO__FRAME__BODY_GROUP_INFO ||
	    (*reply)->group_info == NULL) {
		code = conn_unexpected(*reply, err);
		frame_free(*reply);
		*reply = NULL;
		return (code);
	}
	*gi = (*reply)->group_info;
	return (TP_OK);
}

int
tp_group_info(struct tp_conn *conn, const char *station, const char *group,
    struct tp_group_info *out, struct tp_err *err)
{
	Tupelo__Frame		*reply;
	Tupelo__GroupInfo	*gi;
	int			 code;

	if ((code = group_get(conn, station, group, &reply, &gi, err)) !=
	    TP_OK)
		return (code);
	group_copy(gi, out);
	frame_free(reply);
	return (TP_OK);
}

int
tp_group_members(struct tp_conn *conn, const char *station,
    const char *group, char ***names, size_t *n, struct tp_err *err)
{
	Tupelo__Frame		 *reply;
	Tupelo__GroupInfo	 *gi;
	char			**v = NULL, *p;
	const char		 *name;
	size_t			  i, size, len;
	int			  code;

	*names = NULL;
	*n = 0;
	if ((code = group_get(conn, station, group, &reply, &gi, err)) !=
	    TP_OK)
		return (code);
	if (gi->n_consumers == 0)
		goto out;
	/* One block: the pointers, then the strings. */
	size = gi->n_consumers * sizeof *v;
	for (i = 0; i < gi->n_consumers; i++) {
		name = gi->consumers[i] != NULL ? gi->consumers[i] : "";
		size += strlen(name) + 1;
	}
	if ((v = malloc(size)) == NULL) {
		code = error_set(err, TP_ENOMEM, "no memory for %zu consumer "
		    "names", gi->n_consumers);
		goto out;
	}
	p = (char *)(v + gi->n_consumers);
	for (i = 0; i < gi->n_consumers; i++) {
		name = gi->consumers[i] != NULL ? gi->consumers[i] : "";
		len = strlen(name) + 1;
		v[i] = memcpy(p, name, len);
		p += len;
	}
	*names = v;
	*n = gi->n_consumers;
out:
	frame_free(reply);
	return (code);
}

static int
group_cmp(const void *a, const void *b)
{
	const struct tp_group_info	*ga = a, *gb = b;

	return (strcmp(ga->group, gb->group));
}

int
tp_group_list(struct tp_conn *conn, const char *station,
    struct tp_group_info **out, size_t *n, struct tp_err *err)
{
	Tupelo__Frame		 f = TUPELO__FRAME__INIT, *reply = NULL;
	Tupelo__GroupList	 gl = TUPELO__GROUP_LIST__INIT;
	Tupelo__GroupListReply	*lr;
	struct tp_group_info	*v = NULL;
	size_t			 i;
	int			 code;

	*out = NULL;
	*n = 0;
	if ((code = validate_name("station", station, err)) != TP_OK)
		return (code);
	gl.station = (char *)station;
	f.body_case = TUPELO__FRAME__BODY_GROUP_LIST;
	f.group_list = &gl;
	if ((code = conn_request(conn, &f, &reply, err)) != TP_OK)
		return (code);
	if (reply->body_case != TUPELO__FRAME__BODY_GROUP_LIST_REPLY ||
	    (lr = reply->group_list_reply) == NULL) {
		code = conn_unexpected(reply, err);
		goto out;
	}
	if (lr->n_groups == 0)
		goto out;
	if ((v = calloc(lr->n_groups, sizeof *v)) == NULL) {
		code = error_set(err, TP_ENOMEM, "no memory for %zu groups",
		    lr->n_groups);
		goto out;
	}
	for (i = 0; i < lr->n_groups; i++)
		group_copy(lr->groups[i], &v[i]);
	qsort(v, lr->n_groups, sizeof *v, group_cmp);
	*out = v;
	*n = lr->n_groups;
out:
	frame_free(reply);
	return (code);
}

int
tp_dls_replay(struct tp_conn *conn, const char *station, const char *to,
    const uint64_t *seqs, size_t n, uint32_t *count, struct tp_err *err)
{
	Tupelo__Frame		 f = TUPELO__FRAME__INIT, *reply = NULL;
	Tupelo__DlsReplay	 dr = TUPELO__DLS_REPLAY__INIT;
	int			 code;

	if (count != NULL)
		*count = 0;
	if ((code = validate_name("station", station, err)) != TP_OK)
		return (code);
	if (to != NULL && (code = validate_name("station", to, err)) != TP_OK)
		return (code);
	if (n > 0 && seqs == NULL)
		return (error_set(err, TP_EINVAL, "replay of %zu seqs without "
		    "the seqs", n));
	dr.station = (char *)station;
	if (to != NULL)
		dr.to = (char *)to;
	dr.seqs = (uint64_t *)seqs;
	dr.n_seqs = n;
	f.body_case = TUPELO__FRAME__BODY_DLS_REPLAY;
	f.dls_replay = &dr;
	if ((code = conn_request(conn, &f, &reply, err)) != TP_OK)
		return (code);
	if (reply->body_case != TUPELO__FRAME__BODY_DLS_REPLAY_REPLY ||
	    reply->dls_replay_reply == NULL)
		code = conn_unexpected(reply, err);
	else if (count != NULL)
		*count = reply->dls_replay_reply->count;
	frame_free(reply);
	return (code);
}
