/*
 * Station administration: create, delete, info, list and purge, each one
 * synchronous request on the caller's connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/conn.h"
#include "proto/error.h"
#include "proto/frame.h"
#include "proto/validate.h"

/* Copy a StationInfo from the wire into the public struct. */
static void
admin_info(const Tupelo__StationInfo *si, struct tp_station_info *out)
{
	const Tupelo__StationConfig	*cfg = si->config;

	memset(out, 0, sizeof *out);
	if (cfg != NULL) {
		snprintf(out->name, sizeof out->name, "%s",
		    cfg->name != NULL ? cfg->name : "");
		out->opts.retention_age_s = cfg->retention_age_s;
		out->opts.retention_messages = cfg->retention_messages;
		out->opts.retention_bytes = cfg->retention_bytes;
		out->opts.retention_ack = cfg->retention_ack ? 1 : 0;
		out->opts.durability = (int)cfg->durability;
		out->opts.max_message_size = cfg->max_message_size;
		out->opts.dedup_window_s = cfg->dedup_window_s;
		out->opts.compression = (int)cfg->compression;
		out->opts.compression_level = cfg->compression_level;
		out->created_ns = cfg->created_ns;
	}
	out->removed = si->removed;
	out->logical_bytes = si->logical_bytes;
	out->messages = si->messages;
	out->first_seq = si->first_seq;
	out->last_seq = si->last_seq;
	out->bytes = si->bytes;
	out->groups = si->groups;
}

/* The wire form of station settings; TP_EINVAL for a bad mode. */
static int
admin_config(const struct tp_station_opts *opts, Tupelo__StationConfig *cfg,
    struct tp_err *err)
{
	if (opts->durability < TP_DURABILITY_DEFAULT ||
	    opts->durability > TP_DURABILITY_INTERVAL)
		return (error_set(err, TP_EINVAL, "unknown durability mode %d",
		    opts->durability));
	if (opts->compression < TP_COMPRESSION_NONE ||
	    opts->compression > TP_COMPRESSION_ZSTD)
		return (error_set(err, TP_EINVAL, "unknown compression %d",
		    opts->compression));
	cfg->retention_age_s = opts->retention_age_s;
	cfg->retention_messages = opts->retention_messages;
	cfg->retention_bytes = opts->retention_bytes;
	cfg->retention_ack = opts->retention_ack != 0;
	cfg->durability = (uint32_t)opts->durability;
	cfg->max_message_size = opts->max_message_size;
	cfg->dedup_window_s = opts->dedup_window_s;
	cfg->compression = (uint32_t)opts->compression;
	cfg->compression_level = opts->compression_level;
	return (TP_OK);
}

int
tp_station_update(struct tp_conn *conn, const char *name,
    const struct tp_station_opts *opts, unsigned int fields,
    struct tp_err *err)
{
	static const struct {
		unsigned int	 flag;
		const char	*name;
	} names[] = {
		{ TP_SET_RETENTION_AGE, "retention_age_s" },
		{ TP_SET_RETENTION_MESSAGES, "retention_messages" },
		{ TP_SET_RETENTION_BYTES, "retention_bytes" },
		{ TP_SET_RETENTION_ACK, "retention_ack" },
		{ TP_SET_DURABILITY, "durability" },
		{ TP_SET_MAX_MESSAGE_SIZE, "max_message_size" },
		{ TP_SET_DEDUP_WINDOW, "dedup_window_s" },
		{ TP_SET_COMPRESSION, "compression" },
		{ TP_SET_COMPRESSION, "compression_level" },
	};
	Tupelo__Frame		 f = TUPELO__FRAME__INIT;
	Tupelo__StationUpdate	 su = TUPELO__STATION_UPDATE__INIT;
	Tupelo__StationConfig	 cfg = TUPELO__STATION_CONFIG__INIT;
	char			*list[sizeof names / sizeof names[0]];
	size_t			 i, n = 0;
	int			 code;

	if ((code = validate_name("station", name, err)) != TP_OK)
		return (code);
	if (opts == NULL || fields == 0)
		return (error_set(err, TP_EINVAL, "nothing to update"));
	if ((code = admin_config(opts, &cfg, err)) != TP_OK)
		return (code);
	cfg.name = (char *)name;
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (fields & names[i].flag)
			list[n++] = (char *)names[i].name;
	}
	su.config = &cfg;
	su.n_fields = n;
	su.fields = list;
	f.body_case = TUPELO__FRAME__BODY_STATION_UPDATE;
	f.station_update = &su;
	return (conn_request_ok(conn, &f, err));
}

int
tp_station_create(struct tp_conn *conn, const char *name,
    const struct tp_station_opts *opts, struct tp_err *err)
{
	Tupelo__Frame		f = TUPELO__FRAME__INIT;
	Tupelo__StationCreate	sc = TUPELO__STATION_CREATE__INIT;
	Tupelo__StationConfig	cfg = TUPELO__STATION_CONFIG__INIT;
	int			code;

	if ((code = validate_name("station", name, err)) != TP_OK)
		return (code);
	cfg.name = (char *)name;
	if (opts != NULL && (code = admin_config(opts, &cfg, err)) != TP_OK)
		return (code);
	sc.config = &cfg;
	f.body_case = TUPELO__FRAME__BODY_STATION_CREATE;
	f.station_create = &sc;
	return (conn_request_ok(conn, &f, err));
}

int
tp_station_delete(struct tp_conn *conn, const char *name, struct tp_err *err)
{
	Tupelo__Frame		f = TUPELO__FRAME__INIT;
	Tupelo__StationDelete	sd = TUPELO__STATION_DELETE__INIT;
	int			code;

	if ((code = validate_name("station", name, err)) != TP_OK)
		return (code);
	sd.name = (char *)name;
	f.body_case = TUPELO__FRAME__BODY_STATION_DELETE;
	f.station_delete = &sd;
	return (conn_request_ok(conn, &f, err));
}

int
tp_station_info(struct tp_conn *conn, const char *name,
    struct tp_station_info *out, struct tp_err *err)
{
	Tupelo__Frame		f = TUPELO__FRAME__INIT, *reply = NULL;
	Tupelo__StationGet	sg = TUPELO__STATION_GET__INIT;
	int			code;

	if ((code = validate_name("station", name, err)) != TP_OK)
		return (code);
	sg.name = (char *)name;
	f.body_case = TUPELO__FRAME__BODY_STATION_GET;
	f.station_get = &sg;
	if ((code = conn_request(conn, &f, &reply, err)) != TP_OK)
		return (code);
	if (reply->body_case != TUPELO__FRAME__BODY_STATION_INFO ||
	    reply->station_info == NULL)
		code = conn_unexpected(reply, err);
	else
		admin_info(reply->station_info, out);
	frame_free(reply);
	return (code);
}

static int
admin_cmp(const void *a, const void *b)
{
	const struct tp_station_info	*sa = a, *sb = b;

	return (strcmp(sa->name, sb->name));
}

int
tp_station_list(struct tp_conn *conn, struct tp_station_info **out,
    size_t *n, struct tp_err *err)
{
	Tupelo__Frame			 f = TUPELO__FRAME__INIT;
	Tupelo__Frame			*reply = NULL;
	Tupelo__StationList		 sl = TUPELO__STATION_LIST__INIT;
	Tupelo__StationListReply	*lr;
	struct tp_station_info		*v = NULL;
	size_t				 i;
	int				 code;

	*out = NULL;
	*n = 0;
	f.body_case = TUPELO__FRAME__BODY_STATION_LIST;
	f.station_list = &sl;
	if ((code = conn_request(conn, &f, &reply, err)) != TP_OK)
		return (code);
	if (reply->body_case != TUPELO__FRAME__BODY_STATION_LIST_REPLY ||
	    (lr = reply->station_list_reply) == NULL) {
		code = conn_unexpected(reply, err);
		goto out;
	}
	if (lr->n_stations == 0)
		goto out;
	if ((v = calloc(lr->n_stations, sizeof *v)) == NULL) {
		code = error_set(err, TP_ENOMEM, "no memory for %zu stations",
		    lr->n_stations);
		goto out;
	}
	for (i = 0; i < lr->n_stations; i++)
		admin_info(lr->stations[i], &v[i]);
	qsort(v, lr->n_stations, sizeof *v, admin_cmp);
	*out = v;
	*n = lr->n_stations;
out:
	frame_free(reply);
	return (code);
}

int
tp_station_purge(struct tp_conn *conn, const char *name, struct tp_err *err)
{
	Tupelo__Frame		f = TUPELO__FRAME__INIT;
	Tupelo__StationPurge	sp = TUPELO__STATION_PURGE__INIT;
	int			code;

	if ((code = validate_name("station", name, err)) != TP_OK)
		return (code);
	sp.name = (char *)name;
	f.body_case = TUPELO__FRAME__BODY_STATION_PURGE;
	f.station_purge = &sp;
	return (conn_request_ok(conn, &f, err));
}
