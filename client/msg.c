/*
 * struct tp_msg and tp_read. A message is built in one allocation: the
 * fixed part, the header table, then every string and the payload, so one
 * free() releases it and getters never allocate. Payloads stored with zstd
 * are decompressed here, refusing more than MSG_PAYLOAD_MAX bytes.
 */
#include "client/msg.h"

#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "client/conn.h"
#include "proto/error.h"
#include "proto/frame.h"
#include "proto/validate.h"

#define MSG_CODEC_NONE	0
#define MSG_CODEC_ZSTD	1

struct msg_header {
	const char	*key;		/* borrowed from the same allocation */
	const char	*value;		/* likewise */
};

struct tp_msg {
	uint64_t		 seq;
	int64_t			 time_ns;	/* ns since the epoch */
	uint32_t		 deliveries;
	const char		*msg_id;	/* in this block; "" if none */
	const uint8_t		*payload;	/* in this allocation */
	size_t			 len;		/* payload bytes */
	size_t			 nheaders;
	struct msg_header	 headers[];	/* then strings, then payload */
};

static const char *
msg_str(const char *s)
{
	return (s != NULL ? s : "");
}

/* The payload size a record will have once decoded. */
static int
msg_payload_size(const Tupelo__Record *r, size_t *size, struct tp_err *err)
{
	unsigned long long	n;

	if (r->codec == MSG_CODEC_NONE) {
		*size = r->payload.len;
		return (TP_OK);
	}
	if (r->codec != MSG_CODEC_ZSTD)
		return (error_set(err, TP_EPROTO, "message %llu has unknown "
		    "codec %u", (unsigned long long)r->seq, r->codec));
	n = ZSTD_getFrameContentSize(r->payload.data, r->payload.len);
	if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN)
		return (error_set(err, TP_EPROTO, "message %llu has a bad zstd "
		    "payload", (unsigned long long)r->seq));
	if (n > MSG_PAYLOAD_MAX)
		return (error_set(err, TP_ETOOBIG, "message %llu decompresses "
		    "to %llu bytes, more than %u", (unsigned long long)r->seq,
		    n, MSG_PAYLOAD_MAX));
	*size = (size_t)n;
	return (TP_OK);
}

int
msg_from_record(struct tp_conn *conn, const Tupelo__Record *r,
    struct tp_msg **out, struct tp_err *err)
{
	struct tp_msg	*m;
	size_t		 i, size, plen = 0, n;
	char		*p;
	unsigned int	 dict;
	int		 code;

	*out = NULL;
	if ((code = msg_payload_size(r, &plen, err)) != TP_OK)
		return (code);
	size = sizeof *m + r->n_headers * sizeof m->headers[0];
	size += strlen(msg_str(r->msg_id)) + 1 + plen;
	for (i = 0; i < r->n_headers; i++) {
		size += strlen(msg_str(r->headers[i]->key)) + 1;
		size += strlen(msg_str(r->headers[i]->value)) + 1;
	}
	if ((m = malloc(size)) == NULL)
		return (error_set(err, TP_ENOMEM, "no memory for a message of "
		    "%zu bytes", size));
	m->seq = r->seq;
	m->time_ns = r->time_ns;
	m->deliveries = r->deliveries;
	m->nheaders = r->n_headers;
	m->len = plen;
	p = (char *)&m->headers[r->n_headers];
	for (i = 0; i < r->n_headers; i++) {
		n = strlen(msg_str(r->headers[i]->key)) + 1;
		m->headers[i].key = memcpy(p, msg_str(r->headers[i]->key), n);
		p += n;
		n = strlen(msg_str(r->headers[i]->value)) + 1;
		m->headers[i].value = memcpy(p, msg_str(r->headers[i]->value),
		    n);
		p += n;
	}
	n = strlen(msg_str(r->msg_id)) + 1;
	m->msg_id = memcpy(p, msg_str(r->msg_id), n);
	p += n;
	m->payload = (uint8_t *)p;
	if (r->codec == MSG_CODEC_NONE) {
		if (plen != 0)
			memcpy(p, r->payload.data, plen);
	} else {
		dict = ZSTD_getDictID_fromFrame(r->payload.data,
		    r->payload.len);
		if (dict != 0 && conn == NULL) {
			free(m);
			return (error_set(err, TP_EPROTO, "message %llu needs "
			    "zstd dictionary %u", (unsigned long long)r->seq,
			    dict));
		}
		if (dict != 0) {
			code = conn_decompress(conn, dict, p, plen,
			    r->payload.data, r->payload.len, &n, err);
			if (code != TP_OK) {
				free(m);
				return (code);
			}
		} else
			n = ZSTD_decompress(p, plen, r->payload.data,
			    r->payload.len);
		if (ZSTD_isError(n) || n != plen) {
			free(m);
			return (error_set(err, TP_EPROTO, "message %llu: zstd: "
			    "%s", (unsigned long long)r->seq, ZSTD_isError(n) ?
			    ZSTD_getErrorName(n) : "wrong size"));
		}
	}
	*out = m;
	return (TP_OK);
}

uint64_t
tp_msg_seq(const struct tp_msg *m)
{
	return (m->seq);
}

int64_t
tp_msg_time_ns(const struct tp_msg *m)
{
	return (m->time_ns);
}

const void *
tp_msg_payload(const struct tp_msg *m, size_t *len)
{
	if (len != NULL)
		*len = m->len;
	return (m->payload);
}

const char *
tp_msg_id(const struct tp_msg *m)
{
	return (m->msg_id);
}

uint32_t
tp_msg_deliveries(const struct tp_msg *m)
{
	return (m->deliveries);
}

size_t
tp_msg_nheaders(const struct tp_msg *m)
{
	return (m->nheaders);
}

void
tp_msg_header_at(const struct tp_msg *m, size_t i, const char **key,
    const char **value)
{
	const char	*k = NULL, *v = NULL;

	if (i < m->nheaders) {
		k = m->headers[i].key;
		v = m->headers[i].value;
	}
	if (key != NULL)
		*key = k;
	if (value != NULL)
		*value = v;
}

const char *
tp_msg_header(const struct tp_msg *m, const char *key)
{
	size_t	i;

	for (i = 0; i < m->nheaders; i++) {
		if (strcmp(m->headers[i].key, key) == 0)
			return (m->headers[i].value);
	}
	return (NULL);
}

void
tp_msg_free(struct tp_msg *m)
{
	free(m);
}

int
tp_read(struct tp_conn *conn, const char *station, uint64_t from_seq,
    size_t max, struct tp_msg ***out, size_t *n, struct tp_err *err)
{
	Tupelo__Frame		 f = TUPELO__FRAME__INIT, *reply = NULL;
	Tupelo__Read		 rd = TUPELO__READ__INIT;
	Tupelo__ReadReply	*rr;
	struct tp_msg		**msgs = NULL;
	size_t			 i = 0;
	int			 code;

	*out = NULL;
	*n = 0;
	if ((code = validate_name("station", station, err)) != TP_OK)
		return (code);
	if (max < 1 || max > VALIDATE_READ_MAX)
		return (error_set(err, TP_EINVAL, "read of %zu messages, want "
		    "1 to %d", max, VALIDATE_READ_MAX));
	rd.station = (char *)station;
	rd.from_seq = from_seq;
	rd.max_count = (uint32_t)max;
	f.body_case = TUPELO__FRAME__BODY_READ;
	f.read = &rd;
	if ((code = conn_request(conn, &f, &reply, err)) != TP_OK)
		return (code);
	if (reply->body_case != TUPELO__FRAME__BODY_READ_REPLY ||
	    (rr = reply->read_reply) == NULL) {
		code = conn_unexpected(reply, err);
		goto out;
	}
	if (rr->n_records > max) {
		code = error_set(err, TP_EPROTO, "broker sent %zu messages for "
		    "a read of %zu", rr->n_records, max);
		goto out;
	}
	if (rr->n_records == 0)
		goto out;
	if ((msgs = calloc(rr->n_records, sizeof *msgs)) == NULL) {
		code = error_set(err, TP_ENOMEM, "no memory for %zu messages",
		    rr->n_records);
		goto out;
	}
	for (i = 0; i < rr->n_records; i++) {
		code = msg_from_record(conn, rr->records[i], &msgs[i], err);
		if (code != TP_OK)
			goto out;
	}
	*out = msgs;
	*n = i;
	msgs = NULL;
out:
	if (msgs != NULL) {
		while (i > 0)
			free(msgs[--i]);
		free(msgs);
	}
	frame_free(reply);
	return (code);
}
