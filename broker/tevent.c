/*
 * Trigger event documents. A stored record is walked once without
 * allocating (tevent_decode); the documents are built with jansson and
 * dumped compact. Text that must be Unicode (names, header keys and
 * values, the message id) has each byte that is not part of a valid UTF-8
 * sequence replaced by U+FFFD; a payload that is not valid UTF-8 travels
 * base64-encoded instead. No state: any thread may call.
 */
#include "broker/tevent.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "proto/error.h"
#include "proto/wire.h"

#define TEVENT_F_TIME		2
#define TEVENT_F_HEADERS	3
#define TEVENT_F_MSGID		4
#define TEVENT_F_PAYLOAD	5
#define TEVENT_F_CODEC		6
#define TEVENT_F_MAX		0x1fffffff	/* protobuf field numbers */
#define TEVENT_WIRE_FIXED64	1
#define TEVENT_WIRE_FIXED32	5

#define TEVENT_TYPE		"io.tupelo.message"
#define TEVENT_CT_BINARY	"application/octet-stream"
#define TEVENT_CT_TEXT		"text/plain; charset=utf-8"
#define TEVENT_CT_JSON		"application/json"
/* Longer extension names are dropped: CloudEvents asks for <= 20. */
#define TEVENT_CE_NAME_MAX	64
/* A longer Content-Type header is not passed on in binary mode. */
#define TEVENT_CT_MAX		256
#define TEVENT_FILTER_SHOW	64	/* bytes of an expression in errors */

enum tevent_op {
	TEVENT_EQ,
	TEVENT_PREFIX,
	TEVENT_NE,
	TEVENT_PRESENT
};

struct tevent_filter {
	enum tevent_op	 op;
	int		 json;		/* name is a top-level payload field */
	char		*name;		/* owned: header key or field name */
	size_t		 nlen;
	char		*value;		/* owned, NUL-terminated */
	size_t		 vlen;
};

/* One protobuf field as read by tevent_field_get(). */
struct tevent_field {
	uint32_t	 num;
	int		 type;		/* WIRE_* */
	uint64_t	 v;		/* WIRE_VARINT: the value */
	const uint8_t	*data;		/* WIRE_LEN: borrowed from the input */
	size_t		 len;
};

/*
 * CloudEvents attributes a header may not take over, and "contenttype":
 * the content-type header is datacontenttype already.
 */
static const char *const tevent_ce_reserved[] = {
	"specversion", "id", "source", "type", "subject", "time",
	"datacontenttype", "dataschema", "data", "tupeloseq",
	"tupelodeliveries", "tupeloattempt", "tupelotrigger", "contenttype",
	NULL
};

static char	*tevent_fmt(const char *, ...) TP_PRINTF(1, 2);

/* ---- stored records ---- */

/* Read the field at *p and move past it; -1 if malformed. */
static int
tevent_field_get(const uint8_t **p, const uint8_t *end,
    struct tevent_field *f)
{
	uint64_t	key;
	size_t		n, left = (size_t)(end - *p);

	if ((n = wire_varint_get(*p, left, &key)) == 0 || (key >> 3) == 0 ||
	    (key >> 3) > TEVENT_F_MAX)
		return (-1);
	*p += n;
	left -= n;
	f->num = (uint32_t)(key >> 3);
	f->type = (int)(key & 7);
	switch (f->type) {
	case WIRE_VARINT:
		if ((n = wire_varint_get(*p, left, &f->v)) == 0)
			return (-1);
		break;
	case WIRE_LEN:
		if ((n = wire_varint_get(*p, left, &f->v)) == 0 ||
		    f->v > left - n)
			return (-1);
		f->data = *p + n;
		f->len = (size_t)f->v;
		n += f->len;
		break;
	case TEVENT_WIRE_FIXED64:
	case TEVENT_WIRE_FIXED32:
		n = f->type == TEVENT_WIRE_FIXED64 ? 8 : 4;
		if (left < n)
			return (-1);
		break;
	default:
		return (-1);	/* groups: deprecated, never ours */
	}
	*p += n;
	return (0);
}

static int
tevent_decode_header(const uint8_t *p, size_t len, struct tevent_header *h)
{
	const uint8_t		*end = p + len;
	struct tevent_field	 f;

	h->key = h->value = (const char *)p;
	h->klen = h->vlen = 0;
	while (p < end) {
		if (tevent_field_get(&p, end, &f) != 0)
			return (TP_EPROTO);
		if (f.num != 1 && f.num != 2)
			continue;
		if (f.type != WIRE_LEN)
			return (TP_EPROTO);
		if (f.num == 1) {
			h->key = (const char *)f.data;
			h->klen = f.len;
		} else {
			h->value = (const char *)f.data;
			h->vlen = f.len;
		}
	}
	return (TP_OK);
}

/*
 * Decode stored record bytes. A repeated scalar keeps its last value (a
 * dead letter appends a second time); unknown fields are skipped. Too
 * many headers is reported only once the whole record has parsed.
 */
int
tevent_decode(const uint8_t *buf, size_t len, struct tevent_msg *m,
    struct tevent_header *hbuf, size_t hcap)
{
	const uint8_t		*p = buf, *end = buf + len;
	struct tevent_field	 f;
	struct tevent_header	 h;
	size_t			 n = 0;

	m->time_ns = 0;
	m->msg_id = NULL;
	m->msg_id_len = 0;
	m->payload = NULL;
	m->payload_len = 0;
	m->codec = 0;
	m->headers = hbuf;
	m->nheaders = 0;
	while (p < end) {
		if (tevent_field_get(&p, end, &f) != 0)
			return (TP_EPROTO);
		switch (f.num) {
		case TEVENT_F_TIME:
		case TEVENT_F_CODEC:
			if (f.type != WIRE_VARINT)
				return (TP_EPROTO);
			if (f.num == TEVENT_F_TIME)
				m->time_ns = (int64_t)f.v;
			else
				m->codec = (uint32_t)f.v;
			break;
		case TEVENT_F_HEADERS:
			if (f.type != WIRE_LEN ||
			    tevent_decode_header(f.data, f.len, &h) != TP_OK)
				return (TP_EPROTO);
			if (n < hcap)
				hbuf[n] = h;
			n++;
			break;
		case TEVENT_F_MSGID:
		case TEVENT_F_PAYLOAD:
			if (f.type != WIRE_LEN)
				return (TP_EPROTO);
			if (f.num == TEVENT_F_PAYLOAD) {
				m->payload = f.data;
				m->payload_len = f.len;
				break;
			}
			m->msg_id = f.len != 0 ? (const char *)f.data : NULL;
			m->msg_id_len = f.len;
			break;
		}
	}
	m->nheaders = n > hcap ? hcap : n;
	return (n > hcap ? TP_ETOOBIG : TP_OK);
}

/* ---- text helpers ---- */

static char *
tevent_fmt(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (s = malloc((size_t)n + 1)) == NULL)
		return (NULL);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return (s);
}

/* Bytes of the valid UTF-8 sequence starting at p, 0 if there is none. */
static size_t
tevent_utf8_seq(const uint8_t *p, size_t len)
{
	uint32_t	c;
	size_t		n, i;

	if (p[0] < 0x80)
		return (1);
	if (p[0] < 0xc2 || p[0] > 0xf4)
		return (0);
	n = p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : 4;
	if (len < n)
		return (0);
	c = p[0] & (0x7f >> n);
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return (0);
		c = (c << 6) | (p[i] & 0x3f);
	}
	/* Overlong forms, surrogates, beyond U+10FFFF. */
	if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
	    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return (0);
	return (n);
}

static int
tevent_utf8_valid(const void *data, size_t len)
{
	const uint8_t	*p = data;
	size_t		 n;

	while (len > 0) {
		if ((n = tevent_utf8_seq(p, len)) == 0)
			return (0);
		p += n;
		len -= n;
	}
	return (1);
}

/* A NUL-terminated copy, each stray byte replaced by U+FFFD; malloc'd. */
static char *
tevent_utf8_fix(const void *data, size_t len, size_t *outlen)
{
	const uint8_t	*p = data;
	char		*out, *o;
	size_t		 n;

	if (len > (SIZE_MAX - 1) / 3 || (out = malloc(len * 3 + 1)) == NULL)
		return (NULL);
	for (o = out; len > 0; p += n, len -= n) {
		if ((n = tevent_utf8_seq(p, len)) == 0) {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			n = 1;
		} else {
			memcpy(o, p, n);
			o += n;
		}
	}
	*o = '\0';
	*outlen = (size_t)(o - out);
	return (out);
}

/* A JSON string of the bytes, repaired if need be; NULL if no memory. */
static json_t *
tevent_jstr(const void *data, size_t len)
{
	json_t	*j;
	char	*fixed;
	size_t	 flen;

	if (len == 0)
		return (json_string(""));
	if (tevent_utf8_valid(data, len))
		return (json_stringn_nocheck(data, len));
	if ((fixed = tevent_utf8_fix(data, len, &flen)) == NULL)
		return (NULL);
	j = json_stringn_nocheck(fixed, flen);
	free(fixed);
	return (j);
}

/* The same for a + b + c (C strings, NULL taken as ""). */
static json_t *
tevent_jcat(const char *a, const char *b, const char *c)
{
	json_t	*j;
	char	*s;

	if ((s = tevent_fmt("%s%s%s", a != NULL ? a : "", b != NULL ? b : "",
	    c != NULL ? c : "")) == NULL)
		return (NULL);
	j = tevent_jstr(s, strlen(s));
	free(s);
	return (j);
}

static json_t *
tevent_jbase64(const uint8_t *p, size_t len)
{
	static const char	 b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	json_t			*j;
	char			*out, *o;
	uint32_t		 v;
	size_t			 i;

	if (len / 3 >= SIZE_MAX / 4 - 1 ||
	    (out = malloc((len + 2) / 3 * 4 + 1)) == NULL)
		return (NULL);
	o = out;
	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = b64[(v >> 6) & 63];
		*o++ = b64[v & 63];
	}
	if (i < len) {
		v = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = i + 1 < len ? b64[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	j = json_stringn_nocheck(out, (size_t)(o - out));
	free(out);
	return (j);
}

/* A seq as a JSON number (a string past the range of a JSON integer). */
static json_t *
tevent_jseq(uint64_t seq)
{
	char	txt[24];

	if (seq <= (uint64_t)LLONG_MAX)
		return (json_integer((json_int_t)seq));
	snprintf(txt, sizeof txt, "%llu", (unsigned long long)seq);
	return (json_string(txt));
}

/* Set o[key] (key repaired to UTF-8); steals v, -1 if v is NULL. */
static int
tevent_jset(json_t *o, const char *key, size_t klen, json_t *v)
{
	char	*fixed;
	size_t	 flen;
	int	 rc;

	if (klen == 0)
		return (json_object_set_new(o, "", v));
	if (tevent_utf8_valid(key, klen))
		return (json_object_setn_new_nocheck(o, key, klen, v));
	if ((fixed = tevent_utf8_fix(key, klen, &flen)) == NULL) {
		json_decref(v);
		return (-1);
	}
	rc = json_object_setn_new_nocheck(o, fixed, flen, v);
	free(fixed);
	return (rc);
}

/* Milliseconds since the epoch, rounded down. */
static int64_t
tevent_ms(int64_t ns)
{
	return (ns / 1000000 - (ns % 1000000 < 0));
}

/* RFC 3339 UTC with milliseconds: "2026-11-27T07:30:00.123Z". */
static void
tevent_time(int64_t ns, char *buf, size_t size)
{
	struct tm	tm;
	int64_t		ms = tevent_ms(ns), s, r;
	time_t		t;

	s = ms / 1000;
	if ((r = ms % 1000) < 0) {
		r += 1000;
		s--;
	}
	t = (time_t)s;
	if (gmtime_r(&t, &tm) == NULL) {
		memset(&tm, 0, sizeof tm);
		tm.tm_year = 70;
		tm.tm_mday = 1;
	}
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)r);
}

static int
tevent_lower(int c)
{
	return (c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
}

/* The last header named key (ASCII case ignored if icase), or NULL. */
static const struct tevent_header *
tevent_header_find(const struct tevent_msg *m, const char *key,
    size_t klen, int icase)
{
	const struct tevent_header	*h;
	size_t				 i, j;

	for (i = m->nheaders; i > 0; i--) {
		h = &m->headers[i - 1];
		if (h->klen != klen)
			continue;
		for (j = 0; j < klen; j++) {
			if (h->key[j] != key[j] && (!icase ||
			    tevent_lower((unsigned char)h->key[j]) !=
			    tevent_lower((unsigned char)key[j])))
				break;
		}
		if (j == klen)
			return (h);
	}
	return (NULL);
}

static const struct tevent_header *
tevent_content_type(const struct tevent_msg *m)
{
	return (tevent_header_find(m, "content-type", 12, 1));
}

/* ---- {"Records":[...]} ---- */

static json_t *
tevent_record(const struct tevent_ctx *ctx, const struct tevent_msg *m)
{
	const struct tevent_header	*h;
	json_t				*r, *a = NULL, *hs = NULL;
	char				 seq[24], del[16], att[16], sent[24];
	char				 tm[64];
	size_t				 i;

	snprintf(seq, sizeof seq, "%llu", (unsigned long long)m->seq);
	snprintf(del, sizeof del, "%u", m->deliveries);
	snprintf(att, sizeof att, "%u", ctx->attempt);
	snprintf(sent, sizeof sent, "%lld", (long long)tevent_ms(m->time_ns));
	tevent_time(m->time_ns, tm, sizeof tm);

	r = json_pack("{s:s, s:s}", "messageId", seq, "sequenceNumber", seq);
	if (r == NULL)
		return (NULL);
	if (tevent_utf8_valid(m->payload, m->payload_len)) {
		if (json_object_set_new(r, "body",
		    tevent_jstr(m->payload, m->payload_len)) != 0)
			goto fail;
	} else if (json_object_set_new(r, "body",
	    tevent_jbase64(m->payload, m->payload_len)) != 0 ||
	    json_object_set_new(r, "isBase64Encoded", json_true()) != 0)
		goto fail;
	a = json_pack("{s:s, s:s, s:s}", "ApproximateReceiveCount", del,
	    "SentTimestamp", sent, "attempt", att);
	if (json_object_set_new(r, "attributes", a) != 0 ||
	    json_object_set_new(r, "messageAttributes", json_object()) != 0 ||
	    json_object_set_new(r, "eventSource", json_string("tupelo")) != 0 ||
	    json_object_set_new(r, "eventSourceARN",
	    tevent_jcat("tupelo:station:", ctx->station, NULL)) != 0 ||
	    json_object_set_new(r, "station",
	    tevent_jcat(ctx->station, NULL, NULL)) != 0 ||
	    json_object_set_new(r, "trigger",
	    tevent_jcat(ctx->trigger, NULL, NULL)) != 0 ||
	    json_object_set_new(r, "time", json_string(tm)) != 0)
		goto fail;
	if (m->msg_id != NULL && m->msg_id_len != 0 &&
	    json_object_set_new(r, "msgId",
	    tevent_jstr(m->msg_id, m->msg_id_len)) != 0)
		goto fail;
	if ((hs = json_object()) == NULL)
		goto fail;
	for (i = 0; i < m->nheaders; i++) {
		h = &m->headers[i];
		if (tevent_jset(hs, h->key, h->klen,
		    tevent_jstr(h->value, h->vlen)) != 0)
			goto fail;
	}
	if (json_object_set_new(r, "headers", hs) == 0)
		return (r);
	hs = NULL;
fail:
	json_decref(hs);
	json_decref(r);
	return (NULL);
}

static char *
tevent_dump(json_t *j, size_t *len)
{
	char	*s;

	if (j == NULL)
		return (NULL);
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (s != NULL && len != NULL)
		*len = strlen(s);
	return (s);
}

/* {"Records":[...]}, one SQS-shaped record per message. */
char *
tevent_records_json(const struct tevent_ctx *ctx,
    const struct tevent_msg *msgs, size_t n, size_t *len)
{
	json_t	*root, *list;
	size_t	 i;

	if ((root = json_object()) == NULL)
		return (NULL);
	if (json_object_set_new(root, "Records", list = json_array()) != 0)
		goto fail;
	for (i = 0; i < n; i++) {
		if (json_array_append_new(list,
		    tevent_record(ctx, &msgs[i])) != 0)
			goto fail;
	}
	return (tevent_dump(root, len));
fail:
	json_decref(root);
	return (NULL);
}

/* ---- CloudEvents ---- */

/* Header h's key as an attribute name in name; 0: it has none. */
static size_t
tevent_ce_map(const struct tevent_header *h, char *name)
{
	size_t	i, n = 0;
	int	c;

	for (i = 0; i < h->klen; i++) {
		c = tevent_lower((unsigned char)h->key[i]);
		if ((c < 'a' || c > 'z') && (c < '0' || c > '9'))
			continue;
		if (n == TEVENT_CE_NAME_MAX)
			return (0);
		name[n++] = (char)c;
	}
	name[n] = '\0';
	for (i = 0; n != 0 && tevent_ce_reserved[i] != NULL; i++) {
		if (strcmp(name, tevent_ce_reserved[i]) == 0)
			return (0);
	}
	return (n);
}

/* The name of header i as an extension; 0 if none or a later one has it. */
static size_t
tevent_ce_name(const struct tevent_msg *m, size_t i, char *name)
{
	char	other[TEVENT_CE_NAME_MAX + 1];
	size_t	n, j;

	if ((n = tevent_ce_map(&m->headers[i], name)) == 0)
		return (0);
	for (j = i + 1; j < m->nheaders; j++) {
		if (tevent_ce_map(&m->headers[j], other) == n &&
		    memcmp(name, other, n) == 0)
			return (0);
	}
	return (n);
}

/* Is this media type JSON ("application/json", "...+json")? */
static int
tevent_ct_json(const struct tevent_header *ct)
{
	const char	*p = ct->value, *slash;
	size_t		 len = ct->vlen, i;
	char		 sub[5];

	while (len > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		len--;
	}
	for (i = 0; i < len && p[i] != ';' && p[i] != ' ' && p[i] != '\t';)
		i++;
	if ((slash = memchr(p, '/', i)) == NULL || (size_t)(p + i - slash) < 5)
		return (0);
	for (len = 0; len < 4; len++)
		sub[len] = (char)tevent_lower((unsigned char)p[i - 4 + len]);
	sub[4] = '\0';
	if (strcmp(sub, "json") != 0)
		return (0);
	return (p + i - slash == 5 || p[i - 5] == '+');
}

static json_t *
tevent_ce_event(const struct tevent_ctx *ctx, const struct tevent_msg *m)
{
	const struct tevent_header	*ct = tevent_content_type(m), *h;
	const char			*dtype, *dkey = "data";
	json_t				*e, *data = NULL;
	char				 seq[24], tm[64];
	char				 name[TEVENT_CE_NAME_MAX + 1];
	size_t				 i;
	int				 utf8, rc;

	snprintf(seq, sizeof seq, "%llu", (unsigned long long)m->seq);
	tevent_time(m->time_ns, tm, sizeof tm);
	e = json_pack("{s:s}", "specversion", "1.0");
	if (e == NULL || json_object_set_new(e, "id",
	    tevent_jcat(ctx->station, "/", seq)) != 0 ||
	    json_object_set_new(e, "source",
	    tevent_jcat("tupelo://station/", ctx->station, NULL)) != 0 ||
	    json_object_set_new(e, "type", json_string(TEVENT_TYPE)) != 0 ||
	    json_object_set_new(e, "time", json_string(tm)) != 0 ||
	    json_object_set_new(e, "subject", json_string(seq)) != 0)
		goto fail;

	/*
	 * JSON travels as itself when no content type says otherwise; a
	 * payload a JSON content type claims but that does not parse goes
	 * base64, since "data" would then claim it too.
	 */
	utf8 = tevent_utf8_valid(m->payload, m->payload_len);
	if (utf8 && m->payload_len != 0 && (ct == NULL || tevent_ct_json(ct)))
		data = json_loadb((const char *)m->payload, m->payload_len,
		    JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (data != NULL)
		dtype = TEVENT_CT_JSON;
	else if (utf8 && (ct == NULL || !tevent_ct_json(ct))) {
		dtype = TEVENT_CT_TEXT;
		data = tevent_jstr(m->payload, m->payload_len);
	} else {
		dtype = TEVENT_CT_BINARY;
		dkey = "data_base64";
		data = tevent_jbase64(m->payload, m->payload_len);
	}
	if (data == NULL || json_object_set_new(e, "datacontenttype",
	    ct != NULL ? tevent_jstr(ct->value, ct->vlen) :
	    json_string(dtype)) != 0)
		goto fail;
	rc = json_object_set_new(e, dkey, data);
	data = NULL;
	if (rc != 0 ||
	    json_object_set_new(e, "tupeloseq", tevent_jseq(m->seq)) != 0 ||
	    json_object_set_new(e, "tupelodeliveries",
	    json_integer(m->deliveries)) != 0 ||
	    json_object_set_new(e, "tupeloattempt",
	    json_integer(ctx->attempt)) != 0 ||
	    json_object_set_new(e, "tupelotrigger",
	    tevent_jcat(ctx->trigger, NULL, NULL)) != 0)
		goto fail;
	for (i = 0; i < m->nheaders; i++) {
		h = &m->headers[i];
		if (tevent_ce_name(m, i, name) != 0 && json_object_set_new(e,
		    name, tevent_jstr(h->value, h->vlen)) != 0)
			goto fail;
	}
	return (e);
fail:
	json_decref(data);
	json_decref(e);
	return (NULL);
}

/* A JSON array of CloudEvents, one per message. */
char *
tevent_cloudevents_batch(const struct tevent_ctx *ctx,
    const struct tevent_msg *msgs, size_t n, size_t *len)
{
	json_t	*list;
	size_t	 i;

	if ((list = json_array()) == NULL)
		return (NULL);
	for (i = 0; i < n; i++) {
		if (json_array_append_new(list,
		    tevent_ce_event(ctx, &msgs[i])) != 0) {
			json_decref(list);
			return (NULL);
		}
	}
	return (tevent_dump(list, len));
}

/*
 * Append "name: value" to lines at *n, the value percent-encoded as the
 * CloudEvents HTTP binding asks (1.0.2 encodes the space too).
 */
static int
tevent_line(char **lines, size_t *n, const char *name, const void *value,
    size_t vlen)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const uint8_t		*p = value;
	char			*fixed = NULL, *s, *o;
	size_t			 i, nlen = strlen(name);

	if (!tevent_utf8_valid(value, vlen)) {
		if ((fixed = tevent_utf8_fix(value, vlen, &vlen)) == NULL)
			return (-1);
		p = (const uint8_t *)fixed;
	}
	if (vlen > (SIZE_MAX - nlen - 3) / 3 ||
	    (s = malloc(nlen + 2 + vlen * 3 + 1)) == NULL) {
		free(fixed);
		return (-1);
	}
	memcpy(s, name, nlen);
	memcpy(s + nlen, ": ", 2);
	o = s + nlen + 2;
	for (i = 0; i < vlen; i++) {
		if (p[i] > 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '%')
			*o++ = (char)p[i];
		else {
			*o++ = '%';
			*o++ = hex[p[i] >> 4];
			*o++ = hex[p[i] & 15];
		}
	}
	*o = '\0';
	free(fixed);
	lines[(*n)++] = s;
	return (0);
}

/* May this header value go out as Content-Type unchanged? */
static int
tevent_ct_safe(const struct tevent_header *ct)
{
	const unsigned char	*p;
	size_t			 i;

	if (ct == NULL || ct->vlen == 0 || ct->vlen > TEVENT_CT_MAX)
		return (0);
	p = (const unsigned char *)ct->value;
	for (i = 0; i < ct->vlen; i++) {
		if (p[i] < 0x20 || p[i] > 0x7e)
			return (0);
	}
	return (1);
}

/* CloudEvents binary mode headers for one message. */
char **
tevent_binary_headers(const struct tevent_ctx *ctx,
    const struct tevent_msg *m)
{
	const struct tevent_header	*ct = tevent_content_type(m);
	char				**lines, *id = NULL, *src = NULL;
	char				  seq[24], del[16], att[16], tm[64];
	char				  name[TEVENT_CE_NAME_MAX + 4];
	const char			 *trigger;
	size_t				  n = 0, i;

	if ((lines = calloc(m->nheaders + 12, sizeof *lines)) == NULL)
		return (NULL);
	snprintf(seq, sizeof seq, "%llu", (unsigned long long)m->seq);
	snprintf(del, sizeof del, "%u", m->deliveries);
	snprintf(att, sizeof att, "%u", ctx->attempt);
	tevent_time(m->time_ns, tm, sizeof tm);
	trigger = ctx->trigger != NULL ? ctx->trigger : "";
	id = tevent_fmt("%s/%s", ctx->station != NULL ? ctx->station : "",
	    seq);
	src = tevent_fmt("tupelo://station/%s", ctx->station != NULL ?
	    ctx->station : "");
	if (id == NULL || src == NULL ||
	    tevent_line(lines, &n, "ce-specversion", "1.0", 3) != 0 ||
	    tevent_line(lines, &n, "ce-id", id, strlen(id)) != 0 ||
	    tevent_line(lines, &n, "ce-source", src, strlen(src)) != 0 ||
	    tevent_line(lines, &n, "ce-type", TEVENT_TYPE,
	    strlen(TEVENT_TYPE)) != 0 ||
	    tevent_line(lines, &n, "ce-time", tm, strlen(tm)) != 0 ||
	    tevent_line(lines, &n, "ce-subject", seq, strlen(seq)) != 0 ||
	    tevent_line(lines, &n, "ce-tupeloseq", seq, strlen(seq)) != 0 ||
	    tevent_line(lines, &n, "ce-tupelodeliveries", del,
	    strlen(del)) != 0 ||
	    tevent_line(lines, &n, "ce-tupeloattempt", att, strlen(att)) != 0 ||
	    tevent_line(lines, &n, "ce-tupelotrigger", trigger,
	    strlen(trigger)) != 0)
		goto fail;
	for (i = 0; i < m->nheaders; i++) {
		memcpy(name, "ce-", 3);
		if (tevent_ce_name(m, i, name + 3) != 0 &&
		    tevent_line(lines, &n, name, m->headers[i].value,
		    m->headers[i].vlen) != 0)
			goto fail;
	}
	/* Content-Type is not percent-encoded: an unsafe value is dropped. */
	if (tevent_ct_safe(ct))
		lines[n] = tevent_fmt("Content-Type: %.*s", (int)ct->vlen,
		    ct->value);
	else
		lines[n] = tevent_fmt("Content-Type: %s", TEVENT_CT_BINARY);
	if (lines[n] == NULL)
		goto fail;
	free(id);
	free(src);
	return (lines);
fail:
	free(id);
	free(src);
	tevent_lines_free(lines);
	return (NULL);
}

/* Free what tevent_binary_headers() returned; NULL is a no-op. */
void
tevent_lines_free(char **lines)
{
	size_t	i;

	if (lines == NULL)
		return;
	for (i = 0; lines[i] != NULL; i++)
		free(lines[i]);
	free(lines);
}

/* ---- batchItemFailures ---- */

/* An itemIdentifier: a JSON integer or a string of digits. */
static int
tevent_item_seq(const json_t *id, uint64_t *seq)
{
	const char	*s;
	uint64_t	 v = 0, d;
	size_t		 i, len;

	if (json_is_integer(id)) {
		if (json_integer_value(id) < 0)
			return (-1);
		*seq = (uint64_t)json_integer_value(id);
		return (0);
	}
	if (!json_is_string(id))
		return (-1);
	s = json_string_value(id);
	if ((len = json_string_length(id)) == 0)
		return (-1);
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		d = (uint64_t)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return (-1);
		v = v * 10 + d;
	}
	*seq = v;
	return (0);
}

/*
 * Output that is not JSON is text a function printed: no failures. A
 * null list is all succeeded too, as Lambda reads it.
 */
int
tevent_item_failures(const char *out, size_t len, uint64_t **seqs,
    size_t *n)
{
	json_error_t	 jerr;
	json_t		*root, *list, *item;
	uint64_t	*s = NULL;
	size_t		 i;
	int		 code = TP_OK;

	*seqs = NULL;
	*n = 0;
	while (len > 0 && (out[len - 1] == ' ' || out[len - 1] == '\t' ||
	    out[len - 1] == '\r' || out[len - 1] == '\n'))
		len--;
	if (len == 0)
		return (TP_OK);
	root = json_loadb(out, len, JSON_DECODE_ANY, &jerr);
	if (root == NULL)
		return (json_error_code(&jerr) == json_error_out_of_memory ?
		    TP_ENOMEM : TP_OK);
	list = json_is_object(root) ?
	    json_object_get(root, "batchItemFailures") : NULL;
	if (list == NULL || json_is_null(list) ||
	    (json_is_array(list) && json_array_size(list) == 0))
		goto out;
	if (!json_is_array(list)) {
		code = TP_EPROTO;
		goto out;
	}
	if ((s = calloc(json_array_size(list), sizeof *s)) == NULL) {
		code = TP_ENOMEM;
		goto out;
	}
	json_array_foreach(list, i, item) {
		if (tevent_item_seq(json_object_get(item, "itemIdentifier"),
		    &s[i]) != 0) {
			code = TP_EPROTO;
			goto out;
		}
	}
	*seqs = s;
	*n = json_array_size(list);
	s = NULL;
out:
	free(s);
	json_decref(root);
	return (code);
}

/* ---- filters ---- */

/* Parse one filter expression; *f is freed with tevent_filter_free(). */
int
tevent_filter_parse(const char *expr, struct tevent_filter **fp,
    struct tp_err *err)
{
	struct tevent_filter	*f;
	enum tevent_op		 op = TEVENT_PRESENT;
	const char		*value = "";
	size_t			 i, len, nlen;

	*fp = NULL;
	if (expr == NULL)
		return (error_set(err, TP_EINVAL, "filter: none given"));
	len = strlen(expr);
	for (i = 0; i < len; i++) {
		if (expr[i] == '=' ||
		    ((expr[i] == '^' || expr[i] == '!') && expr[i + 1] == '='))
			break;
	}
	if (i < len) {
		op = expr[i] == '^' ? TEVENT_PREFIX : expr[i] == '!' ?
		    TEVENT_NE : TEVENT_EQ;
		value = expr + i + (op == TEVENT_EQ ? 1 : 2);
		nlen = i;
	} else if (len != 0 && expr[len - 1] == '?')
		nlen = len - 1;
	else {
		return (error_set(err, TP_EINVAL, "filter \"%.*s\": no "
		    "condition (NAME=VALUE, NAME^=PREFIX, NAME!=VALUE or "
		    "NAME?)", TEVENT_FILTER_SHOW, expr));
	}
	if (nlen == 0) {
		return (error_set(err, TP_EINVAL, "filter \"%.*s\": no header "
		    "or $.field name", TEVENT_FILTER_SHOW, expr));
	}
	if (nlen == 2 && strncmp(expr, "$.", 2) == 0) {
		return (error_set(err, TP_EINVAL, "filter \"%.*s\": no field "
		    "name after $.", TEVENT_FILTER_SHOW, expr));
	}
	if ((f = calloc(1, sizeof *f)) == NULL)
		return (error_set(err, TP_ENOMEM, NULL));
	f->op = op;
	f->json = nlen > 2 && strncmp(expr, "$.", 2) == 0;
	f->nlen = f->json ? nlen - 2 : nlen;
	f->vlen = strlen(value);
	f->name = strndup(expr + (f->json ? 2 : 0), f->nlen);
	f->value = strdup(value);
	if (f->name == NULL || f->value == NULL) {
		tevent_filter_free(f);
		return (error_set(err, TP_ENOMEM, NULL));
	}
	*fp = f;
	return (TP_OK);
}

/* Free a filter; NULL is a no-op. */
void
tevent_filter_free(struct tevent_filter *f)
{
	if (f == NULL)
		return;
	free(f->name);
	free(f->value);
	free(f);
}

/* The payload as a JSON object, or NULL. */
static json_t *
tevent_filter_doc(const struct tevent_msg *m)
{
	json_t	*doc;

	if (m->payload_len == 0)
		return (NULL);
	doc = json_loadb((const char *)m->payload, m->payload_len,
	    JSON_ALLOW_NUL, NULL);
	if (doc != NULL && !json_is_object(doc)) {
		json_decref(doc);
		doc = NULL;
	}
	return (doc);
}

static int
tevent_filter_one(const struct tevent_filter *f,
    const struct tevent_msg *m, const json_t *doc)
{
	const struct tevent_header	*h;
	const json_t			*v;
	const char			*text = NULL;
	char				*dump = NULL;
	size_t				 tlen = 0;
	int				 ok;

	if (!f->json) {
		if ((h = tevent_header_find(m, f->name, f->nlen, 0)) == NULL)
			return (0);
		text = h->value;
		tlen = h->vlen;
	} else {
		if (doc == NULL ||
		    (v = json_object_getn(doc, f->name, f->nlen)) == NULL)
			return (0);
		if (json_is_string(v)) {
			text = json_string_value(v);
			tlen = json_string_length(v);
		} else if (f->op != TEVENT_PRESENT) {
			dump = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
			if (dump == NULL)
				return (0);
			text = dump;
			tlen = strlen(dump);
		}
	}
	switch (f->op) {
	case TEVENT_EQ:
	case TEVENT_NE:
		ok = tlen == f->vlen && memcmp(text, f->value, tlen) == 0;
		if (f->op == TEVENT_NE)
			ok = !ok;
		break;
	case TEVENT_PREFIX:
		ok = tlen >= f->vlen && memcmp(text, f->value, f->vlen) == 0;
		break;
	default:
		ok = 1;
		break;
	}
	free(dump);
	return (ok);
}

/*
 * Header filters run first, so a message they reject never has its
 * payload parsed; the payload is parsed once, for all $.field filters.
 */
int
tevent_filter_match(struct tevent_filter *const *fs, size_t n,
    const struct tevent_msg *m)
{
	json_t	*doc = NULL;
	size_t	 i;
	int	 ok = 1, parsed = 0;

	for (i = 0; ok && i < n; i++) {
		if (!fs[i]->json)
			ok = tevent_filter_one(fs[i], m, NULL);
	}
	for (i = 0; ok && i < n; i++) {
		if (!fs[i]->json)
			continue;
		if (!parsed) {
			doc = tevent_filter_doc(m);
			parsed = 1;
		}
		ok = tevent_filter_one(fs[i], m, doc);
	}
	json_decref(doc);
	return (ok);
}
