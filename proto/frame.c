/*
 * Length-prefixed protobuf frames over byte buffers. The length is checked
 * against the caller's limit first, so a prefix claiming a gigabyte costs
 * nothing but its four bytes.
 */
#include "proto/frame.h"

#include <stdlib.h>

#include "proto/error.h"

#define FRAME_ARENA_CHUNK	(64 * 1024)	/* first and smallest chunk */
#define FRAME_ARENA_ALIGN	16

struct frame_chunk {
	struct frame_chunk	*next;
	size_t			 size;
	size_t			 used;
	unsigned char		 data[] __attribute__((aligned(FRAME_ARENA_ALIGN)));
};

struct frame_arena {
	struct frame_chunk	*chunks;	/* newest first; the last is kept */
	ProtobufCAllocator	 pa;
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

	size = (size + FRAME_ARENA_ALIGN - 1) & ~(size_t)(FRAME_ARENA_ALIGN - 1);
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

int
frame_unpack_arena(struct frame_arena *a, const uint8_t *buf, size_t len,
    Tupelo__Frame **out, struct tp_err *err)
{
	*out = tupelo__frame__unpack(&a->pa, len, buf);
	if (*out == NULL) {
		frame_arena_reset(a);
		return (error_set(err, TP_EPROTO,
		    "malformed frame: %zu bytes are not a valid Frame", len));
	}
	return (TP_OK);
}
