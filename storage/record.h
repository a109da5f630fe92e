/*
 * The stored record: the protobuf encoding of Record fields 2..6 (time,
 * headers, message id, payload, codec). Those bytes go to consumers as they
 * are, with seq and delivery count prepended, so nothing is decoded and
 * encoded again on the way out.
 */
#ifndef TP_STORAGE_RECORD_H
#define TP_STORAGE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "proto/tupelo.pb-c.h"

#define RECORD_CODEC_NONE	0
#define RECORD_CODEC_ZSTD	1

/* What record_decode() finds in stored bytes; pointers borrow them. */
struct record_view {
	int64_t		 time_ns;
	const char	*msg_id;	/* not NUL-terminated */
	size_t		 msg_id_len;
	const uint8_t	*payload;
	size_t		 payload_len;
	uint32_t	 codec;
	size_t		 nheaders;
};

/* Bytes of the record for message m stored at time_ns. */
size_t	record_size(const Tupelo__Message *, int64_t);
/* Encode it at out (record_size() bytes); returns bytes written. */
size_t	record_encode(const Tupelo__Message *, int64_t, uint8_t *);
/* Parse stored bytes without allocating; TP_EPROTO if malformed. */
int	record_decode(const uint8_t *, size_t, struct record_view *);

#endif
