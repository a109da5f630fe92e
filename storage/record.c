/*
 * Record codec, by hand on the protobuf wire format so the hot path
 * allocates nothing. Field numbers are those of Record in tupelo.proto;
 * tests check that protobuf-c reads what this writes.
 */
#include "storage/record.h"

#include <string.h>

#include <zstd.h>

#include "proto/error.h"
#include "proto/wire.h"

#define RECORD_F_TIME		2
#define RECORD_F_HEADERS	3
#define RECORD_F_MSGID		4
#define RECORD_F_PAYLOAD	5
#define RECORD_F_CODEC		6
#define HEADER_F_KEY		1
#define HEADER_F_VALUE		2

static size_t
record_header_size(const Tupelo__Header *h)
{
	size_t	n = 0, vlen;

	n += wire_len_field_size(HEADER_F_KEY, strlen(h->key));
	vlen = h->value != NULL ? strlen(h->value) : 0;
	if (vlen != 0)
		n += wire_len_field_size(HEADER_F_VALUE, vlen);
	return (n);
}

size_t
record_size_with(const Tupelo__Message *m, int64_t time_ns,
    const struct record_payload *pl)
{
	size_t	n = 0, i, len;

	if (time_ns != 0)
		n += wire_varint_field_size(RECORD_F_TIME, (uint64_t)time_ns);
	for (i = 0; i < m->n_headers; i++) {
		len = record_header_size(m->headers[i]);
		n += wire_len_field_size(RECORD_F_HEADERS, len);
	}
	if (m->msg_id != NULL && (len = strlen(m->msg_id)) != 0)
		n += wire_len_field_size(RECORD_F_MSGID, len);
	len = pl != NULL ? pl->len : m->payload.len;
	if (len != 0)
		n += wire_len_field_size(RECORD_F_PAYLOAD, len);
	if (pl != NULL && pl->codec != RECORD_CODEC_NONE)
		n += wire_varint_field_size(RECORD_F_CODEC, pl->codec);
	return (n);
}

size_t
record_size(const Tupelo__Message *m, int64_t time_ns)
{
	return (record_size_with(m, time_ns, NULL));
}

static size_t
record_put_bytes(uint8_t *p, uint32_t field, const void *data, size_t len)
{
	size_t	n;

	n = wire_len_field_put(p, field, len);
	memcpy(p + n, data, len);
	return (n + len);
}

size_t
record_encode_with(const Tupelo__Message *m, int64_t time_ns,
    const struct record_payload *pl, uint8_t *out)
{
	const Tupelo__Header	*h;
	const void		*data = pl != NULL ? pl->data : m->payload.data;
	uint8_t			*p = out;
	size_t			 i, len;

	if (time_ns != 0)
		p += wire_varint_field_put(p, RECORD_F_TIME, (uint64_t)time_ns);
	for (i = 0; i < m->n_headers; i++) {
		h = m->headers[i];
		p += wire_len_field_put(p, RECORD_F_HEADERS,
		    record_header_size(h));
		p += record_put_bytes(p, HEADER_F_KEY, h->key, strlen(h->key));
		if (h->value != NULL && (len = strlen(h->value)) != 0)
			p += record_put_bytes(p, HEADER_F_VALUE, h->value, len);
	}
	if (m->msg_id != NULL && (len = strlen(m->msg_id)) != 0)
		p += record_put_bytes(p, RECORD_F_MSGID, m->msg_id, len);
	len = pl != NULL ? pl->len : m->payload.len;
	if (len != 0)
		p += record_put_bytes(p, RECORD_F_PAYLOAD, data, len);
	if (pl != NULL && pl->codec != RECORD_CODEC_NONE)
		p += wire_varint_field_put(p, RECORD_F_CODEC, pl->codec);
	return ((size_t)(p - out));
}

size_t
record_encode(const Tupelo__Message *m, int64_t time_ns, uint8_t *out)
{
	return (record_encode_with(m, time_ns, NULL, out));
}

size_t
record_logical_size(const uint8_t *buf, size_t len)
{
	struct record_view	v;
	unsigned long long	n;

	if (record_decode(buf, len, &v) != TP_OK ||
	    v.codec != RECORD_CODEC_ZSTD)
		return (len);
	n = ZSTD_getFrameContentSize(v.payload, v.payload_len);
	if (n == ZSTD_CONTENTSIZE_UNKNOWN || n == ZSTD_CONTENTSIZE_ERROR)
		return (len);
	/* The same record with the raw payload and no codec field. */
	return (len - wire_len_field_size(RECORD_F_PAYLOAD, v.payload_len) -
	    wire_varint_field_size(RECORD_F_CODEC, v.codec) +
	    (n != 0 ? wire_len_field_size(RECORD_F_PAYLOAD, (size_t)n) : 0));
}

int
record_decode(const uint8_t *buf, size_t len, struct record_view *v)
{
	const uint8_t	*p = buf, *end = buf + len;
	uint64_t	 key, val;
	size_t		 n;

	memset(v, 0, sizeof *v);
	while (p < end) {
		if ((n = wire_varint_get(p, (size_t)(end - p), &key)) == 0)
			return (TP_EPROTO);
		p += n;
		if ((n = wire_varint_get(p, (size_t)(end - p), &val)) == 0)
			return (TP_EPROTO);
		p += n;
		if ((key & 7) == WIRE_VARINT) {
			if ((key >> 3) == RECORD_F_TIME)
				v->time_ns = (int64_t)val;
			else if ((key >> 3) == RECORD_F_CODEC)
				v->codec = (uint32_t)val;
			continue;
		}
		if ((key & 7) != WIRE_LEN || val > (uint64_t)(end - p))
			return (TP_EPROTO);
		switch (key >> 3) {
		case RECORD_F_HEADERS:
			v->nheaders++;
			break;
		case RECORD_F_MSGID:
			v->msg_id = (const char *)p;
			v->msg_id_len = (size_t)val;
			break;
		case RECORD_F_PAYLOAD:
			v->payload = p;
			v->payload_len = (size_t)val;
			break;
		}
		p += val;
	}
	return (TP_OK);
}
