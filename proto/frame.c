/*
 * Length-prefixed protobuf frames over byte buffers. The length is checked
 * against the caller's limit first, so a prefix claiming a gigabyte costs
 * nothing but its four bytes.
 */
#include "proto/frame.h"

#include "proto/error.h"

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
