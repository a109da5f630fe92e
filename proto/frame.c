/*
 * Length-prefixed protobuf frames over byte buffers. The length is checked
 * against the caller's limit first, so a prefix claiming a gigabyte costs
 * nothing but its four bytes.
 */
#include "proto/frame.h"

#include <stdlib.h>
#include <string.h>

#include "proto/error.h"
#include "proto/validate.h"
#include "proto/wire.h"

#define FRAME_ARENA_CHUNK	(64 * 1024)	/* first and smallest chunk */
#define FRAME_ARENA_ALIGN	16

struct frame_chunk {
	struct frame_chunk	*next;
	size_t			 size;
	size_t			 used;
	unsigned char		 data[]
	    __attribute__((aligned(FRAME_ARENA_ALIGN)));
};

struct frame_arena {
	struct frame_chunk	*chunks;	/* newest first; last kept */
	ProtobufCAllocator	 pa;
	size_t			 used;		/* handed out for this frame */
	size_t			 budget;	/* its most; 0: no limit */
	int			 over;		/* an allocation was refused */
};

void
frame_put_len(uint8_t *p, uint32_t len)
{
	p[0] = (uint8_t)(len >> 24);
	p[1] = (uint8_t)(len >> 16);
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
}

uint32_t
frame_get_len(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3]);
}

int
frame_peek(const uint8_t *buf, size_t avail, uint32_t max, uint32_t *body_len)
{
	uint32_t	len;

	if (avail < FRAME_HEADER)
		return (FRAME_NEED);
	len = frame_get_len(buf);
	if (len > max)
		return (-TP_ETOOBIG);
	*body_len = len;
	if (avail - FRAME_HEADER < len)
		return (FRAME_NEED);
	return (FRAME_READY);
}

int
frame_unpack(const uint8_t *buf, size_t len, Tupelo__Frame **out,
    struct tp_err *err)
{
	*out = tupelo__frame__unpack(NULL, len, buf);
	if (*out == NULL)
		return (error_set(err, TP_EPROTO,
		    "malformed frame: %zu bytes are not a valid Frame", len));
	return (TP_OK);
}

void
frame_free(Tupelo__Frame *f)
{
	if (f != NULL)
		tupelo__frame__free_unpacked(f, NULL);
}

size_t
frame_size(const Tupelo__Frame *f)
{
	return (FRAME_HEADER + tupelo__frame__get_packed_size(f));
}

size_t
frame_pack(const Tupelo__Frame *f, uint8_t *out)
{
	size_t	len;

	len = tupelo__frame__pack(f, out + FRAME_HEADER);
	frame_put_len(out, (uint32_t)len);
	return (FRAME_HEADER + len);
}

/* ---- decoding into an arena ---- */

static void *
frame_arena_alloc(void *arg, size_t size)
{
	struct frame_arena	*a = arg;
	struct frame_chunk	*c = a->chunks;
	size_t			 n;
	void			*p;

	size = (size + FRAME_ARENA_ALIGN - 1) &
	    ~(size_t)(FRAME_ARENA_ALIGN - 1);
	if (a->budget != 0 && size > a->budget - a->used) {
		a->over = 1;
		return (NULL);
	}
	a->used += size;
	if (c == NULL || c->size - c->used < size) {
		n = size > FRAME_ARENA_CHUNK ? size : FRAME_ARENA_CHUNK;
		if ((c = malloc(sizeof *c + n)) == NULL)
			return (NULL);
		c->size = n;
		c->used = 0;
		c->next = a->chunks;
		a->chunks = c;
	}
	p = c->data + c->used;
	c->used += size;
	return (p);
}

static void
frame_arena_release(void *arg, void *p)
{
	(void)arg;
	(void)p;	/* all of it goes at frame_arena_reset() */
}

int
frame_arena_new(struct frame_arena **out)
{
	struct frame_arena	*a;

	if ((a = calloc(1, sizeof *a)) == NULL)
		return (TP_ENOMEM);
	a->pa.alloc = frame_arena_alloc;
	a->pa.free = frame_arena_release;
	a->pa.allocator_data = a;
	*out = a;
	return (TP_OK);
}

void
frame_arena_reset(struct frame_arena *a)
{
	struct frame_chunk	*c;

	/* Keep the oldest chunk, the smallest: big frames give theirs back. */
	while ((c = a->chunks) != NULL && c->next != NULL) {
		a->chunks = c->next;
		free(c);
	}
	if (c != NULL)
		c->used = 0;
	a->used = 0;
	a->over = 0;
}

void
frame_arena_free(struct frame_arena *a)
{
	if (a == NULL)
		return;
	frame_arena_reset(a);
	free(a->chunks);
	free(a);
}

/* ---- Produce without protobuf-c ---- */

/*
 * A field of the protobuf message at p..end: its number, wire type and
 * (length-delimited) bytes or (varint) value; a fixed-size field's bytes
 * come as data with their length in *v. 0 at the end, -1 if bad.
 */
static inline size_t
frame_varint(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
	if (p < end && *p < 0x80) {
		*v = *p;
		return (1);
	}
	return (wire_varint_get(p, (size_t)(end - p), v));
}

static inline int
frame_field(const uint8_t **p, const uint8_t *end, uint32_t *num, int *type,
    const uint8_t **data, uint64_t *v)
{
	uint64_t	tag;
	size_t		n;

	if (*p == end)
		return (0);
	/* A tag as protobuf-c reads one: at most 5 bytes. */
	if ((n = frame_varint(*p, end, &tag)) == 0 || n > 5 || tag >> 3 == 0)
		return (-1);
	*p += n;
	*num = (uint32_t)(tag >> 3);
	*type = (int)(tag & 7);
	switch (*type) {
	case WIRE_VARINT:
		if ((n = frame_varint(*p, end, v)) == 0)
			return (-1);
		*p += n;
		return (1);
	case WIRE_LEN:
		if ((n = frame_varint(*p, end, v)) == 0)
			return (-1);
		*p += n;
		break;
	case WIRE_I64:
		*v = 8;
		break;
	case WIRE_I32:
		*v = 4;
		break;
	default:
		return (-1);	/* groups: protobuf-c decides */
	}
	if (*v > (uint64_t)(end - *p))
		return (-1);
	*data = *p;
	*p += *v;
	return (1);
}

/*
 * Whether message type d has a field num. One it does not know (from a
 * newer client) is skipped, as protobuf-c would; one it knows and the
 * decoder below does not handle leaves the frame to protobuf-c. Callers
 * ask only past the field numbers they handle.
 */
static int
frame_known(const ProtobufCMessageDescriptor *d, uint32_t num)
{
	return (protobuf_c_message_descriptor_get_field(d, num) != NULL);
}

/* A NUL-terminated copy of a string field in the arena. */
static char *
frame_str(struct frame_arena *a, const uint8_t *data, uint64_t len)
{
	char	*s;

	if (memchr(data, '\0', len) != NULL ||
	    (s = frame_arena_alloc(a, len + 1)) == NULL)
		return (NULL);
	memcpy(s, data, len);
	s[len] = '\0';
	return (s);
}

static int
frame_header(struct frame_arena *a, const uint8_t *p, const uint8_t *end,
    Tupelo__Header **out)
{
	Tupelo__Header	*h;
	const uint8_t	*data;
	uint64_t	 v;
	uint32_t	 num;
	int		 type, r;

	if ((h = frame_arena_alloc(a, sizeof *h)) == NULL)
		return (-1);
	tupelo__header__init(h);
	while ((r = frame_field(&p, end, &num, &type, &data, &v)) == 1) {
		if (num > 2 && !frame_known(&tupelo__header__descriptor, num))
			continue;
		if (type != WIRE_LEN)
			return (-1);
		if (num == 1 && (h->key = frame_str(a, data, v)) == NULL)
			return (-1);
		if (num == 2 && (h->value = frame_str(a, data, v)) == NULL)
			return (-1);
	}
	*out = h;
	return (r);
}

#define FRAME_HEADERS_FAST	64	/* more: leave it to protobuf-c */

static int
frame_message(struct frame_arena *a, const uint8_t *p, const uint8_t *end,
    Tupelo__Message **out)
{
	Tupelo__Message	*m;
	Tupelo__Header	*hs[FRAME_HEADERS_FAST];
	const uint8_t	*data;
	uint64_t	 v;
	uint32_t	 num;
	size_t		 nh = 0;
	int		 type, r;

	if ((m = frame_arena_alloc(a, sizeof *m)) == NULL)
		return (-1);
	tupelo__message__init(m);
	while ((r = frame_field(&p, end, &num, &type, &data, &v)) == 1) {
		if (num > 3 && !frame_known(&tupelo__message__descriptor, num))
			continue;
		if (type != WIRE_LEN)
			return (-1);
		switch (num) {
		case 1:
			if (nh == FRAME_HEADERS_FAST ||
			    frame_header(a, data, data + v, &hs[nh++]) != 0)
				return (-1);
			break;
		case 2:
			if ((m->msg_id = frame_str(a, data, v)) == NULL)
				return (-1);
			break;
		case 3:
			/* The payload stays in the caller's buffer. */
			m->payload.data = (uint8_t *)data;
			m->payload.len = v;
			break;
		default:
			return (-1);
		}
	}
	if (nh != 0) {
		if ((m->headers = frame_arena_alloc(a, nh * sizeof *hs)) ==
		    NULL)
			return (-1);
		memcpy(m->headers, hs, nh * sizeof *hs);
		m->n_headers = nh;
	}
	*out = m;
	return (r);
}

/*
 * A Frame with an id and a Produce body and nothing else, decoded into
 * the arena without copying payloads: 1 done, 0 not that shape (let
 * protobuf-c decide), -1 out of memory or malformed, -2 more messages
 * than a Produce may carry (*count says how many).
 */
static int
frame_produce(struct frame_arena *a, const uint8_t *buf, size_t len,
    Tupelo__Frame **out, size_t *count)
{
	Tupelo__Frame	*f;
	Tupelo__Produce	*pr;
	const uint8_t	*p = buf, *end = buf + len, *body = NULL, *q;
	const uint8_t	*data = NULL;
	uint64_t	 v, id = 0, blen = 0;
	uint32_t	 num;
	size_t		 nm = 0;
	int		 type, r;

	while ((r = frame_field(&p, end, &num, &type, &data, &v)) == 1) {
		if (num == 1 && type == WIRE_VARINT)
			id = v;
		else if (num == 30 && type == WIRE_LEN && body == NULL) {
			body = data;
			blen = v;
		} else if (frame_known(&tupelo__frame__descriptor, num))
			return (0);
	}
	if (r != 0 || body == NULL)
		return (0);
	for (q = body; (r = frame_field(&q, body + blen, &num, &type, &data,
	    &v)) == 1;) {
		if (num > 2 && !frame_known(&tupelo__produce__descriptor, num))
			continue;
		if (type != WIRE_LEN)
			return (0);
		nm += num == 2;
	}
	if (r != 0)
		return (0);
	if ((*count = nm) > VALIDATE_BATCH_MAX)
		return (-2);
	if ((f = frame_arena_alloc(a, sizeof *f)) == NULL ||
	    (pr = frame_arena_alloc(a, sizeof *pr)) == NULL)
		return (-1);
	tupelo__frame__init(f);
	tupelo__produce__init(pr);
	if (nm != 0 && (pr->messages = frame_arena_alloc(a,
	    nm * sizeof *pr->messages)) == NULL)
		return (-1);
	f->id = id;
	f->body_case = TUPELO__FRAME__BODY_PRODUCE;
	f->produce = pr;
	for (q = body; frame_field(&q, body + blen, &num, &type, &data,
	    &v) == 1;) {
		if (num == 1 && (pr->station = frame_str(a, data, v)) == NULL)
			return (-1);
		if (num == 2 && frame_message(a, data, data + v,
		    &pr->messages[pr->n_messages++]) != 0)
			return (-1);
	}
	*out = f;
	return (1);
}

uint64_t
frame_id(const uint8_t *buf, size_t len)
{
	const uint8_t	*p = buf, *data;
	uint64_t	 v, id = 0;
	uint32_t	 num;
	int		 type, r;

	while ((r = frame_field(&p, buf + len, &num, &type, &data, &v)) == 1)
		if (num == 1 && type == WIRE_VARINT)
			id = v;
	return (r == 0 ? id : 0);
}

int
frame_unpack_arena(struct frame_arena *a, const uint8_t *buf, size_t len,
    Tupelo__Frame **out, struct tp_err *err)
{
	size_t	count = 0, budget;
	int	r;

	budget = len > (SIZE_MAX - FRAME_DECODE_SLACK) / FRAME_DECODE_FACTOR ?
	    SIZE_MAX : len * FRAME_DECODE_FACTOR + FRAME_DECODE_SLACK;
	frame_arena_reset(a);
	a->budget = budget;
	if ((r = frame_produce(a, buf, len, out, &count)) == 1)
		return (TP_OK);
	*out = NULL;
	if (r == -2)
		return (error_set(err, TP_EINVAL, "%zu messages in one batch, "
		    "at most %d", count, VALIDATE_BATCH_MAX));
	if (!a->over) {
		frame_arena_reset(a);
		*out = tupelo__frame__unpack(&a->pa, len, buf);
	}
	if (*out == NULL) {
		r = a->over;
		frame_arena_reset(a);
		if (r)
			return (error_set(err, TP_ETOOBIG, "frame too large "
			    "to decode: its %zu bytes would take more than %zu "
			    "of memory", len, budget));
		return (error_set(err, TP_EPROTO,
		    "malformed frame: %zu bytes are not a valid Frame", len));
	}
	return (TP_OK);
}
