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

/* A payload as stored when it is not the message's own (compressed). */
struct record_payload {
	const void	*data;
	size_t		 len;
	uint32_t	 codec;		/* RECORD_CODEC_* */
};

/* Bytes of the record for message m stored at time_ns. */
size_t	record_size(const Tupelo__Message *, int64_t);
/* Encode it at out (record_size() bytes); returns bytes written. */
size_t	record_encode(const Tupelo__Message *, int64_t, uint8_t *);
/* The same with the payload replaced by p (NULL: the message's). */
size_t	record_size_with(const Tupelo__Message *, int64_t,
	    const struct record_payload *);
size_t	record_encode_with(const Tupelo__Message *, int64_t,
	    const struct record_payload *, uint8_t *);
/* Bytes the stored record would take with its payload uncompressed. */
size_t	record_logical_size(const uint8_t *, size_t);
/* Parse stored bytes without allocating; TP_EPROTO if malformed. */
int	record_decode(const uint8_t *, size_t, struct record_view *);

#endif
