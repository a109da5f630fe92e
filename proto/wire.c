/*
 * Protobuf wire-format primitives (varints and field headers). No state.
 */
#include "proto/wire.h"

size_t
wire_varint_size(uint64_t v)
{
	size_t	n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return (n);
}

size_t
wire_varint_put(uint8_t *p, uint64_t v)
{
	size_t	n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return (n);
}

size_t
wire_varint_get(const uint8_t *p, size_t len, uint64_t *v)
{
	uint64_t	r = 0;
	size_t		i;

	for (i = 0; i < len && i < WIRE_VARINT_MAX; i++) {
		r |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if ((p[i] & 0x80) == 0) {
			*v = r;
			return (i + 1);
		}
	}
	return (0);
}

size_t
wire_len_field_size(uint32_t field, size_t len)
{
	return (wire_varint_size((uint64_t)field << 3) +
	    wire_varint_size(len) + len);
}

size_t
wire_varint_field_size(uint32_t field, uint64_t v)
{
	return (wire_varint_size((uint64_t)field << 3) + wire_varint_size(v));
}

size_t
wire_len_field_put(uint8_t *p, uint32_t field, size_t len)
{
	size_t	n;

	n = wire_varint_put(p, ((uint64_t)field << 3) | WIRE_LEN);
	return (n + wire_varint_put(p + n, len));
}

size_t
wire_varint_field_put(uint8_t *p, uint32_t field, uint64_t v)
{
	size_t	n;

	n = wire_varint_put(p, ((uint64_t)field << 3) | WIRE_VARINT);
	return (n + wire_varint_put(p + n, v));
}
