/*
 * Hand encoding of the protobuf wire format, for the two places where bytes
 * are assembled without protobuf-c: the stored record codec and the
 * Deliver/ReadReply frames built around stored records. Pure functions on
 * byte buffers.
 */
#ifndef TP_PROTO_WIRE_H
#define TP_PROTO_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_VARINT	0
#define WIRE_I64	1
#define WIRE_LEN	2
#define WIRE_I32	5
#define WIRE_VARINT_MAX	10

/* Bytes needed for v as a varint. */
size_t	wire_varint_size(uint64_t);
/* Write v as a varint at p (room for WIRE_VARINT_MAX); returns bytes. */
size_t	wire_varint_put(uint8_t *, uint64_t);
/* Read a varint from p..p+len into *v; returns bytes used, 0 if bad. */
size_t	wire_varint_get(const uint8_t *, size_t, uint64_t *);
/* Bytes of a length-delimited field (tag + length + len bytes). */
size_t	wire_len_field_size(uint32_t, size_t);
/* Bytes of a varint field (tag + value). */
size_t	wire_varint_field_size(uint32_t, uint64_t);
/* Write tag + length of a length-delimited field; returns bytes. */
size_t	wire_len_field_put(uint8_t *, uint32_t, size_t);
/* Write a varint field; returns bytes. */
size_t	wire_varint_field_put(uint8_t *, uint32_t, uint64_t);

#endif
