/*
 * Framing: a 4-byte big-endian length, then one protobuf Frame. Works on
 * byte buffers only. A length is checked against the limit before anything
 * is allocated for the frame.
 */
#ifndef TP_PROTO_FRAME_H
#define TP_PROTO_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "proto/tupelo.pb-c.h"

struct tp_err;

#define FRAME_HEADER		4
#define FRAME_MAX_DEFAULT	(8U * 1024 * 1024)

/* Result of frame_peek(). */
#define FRAME_NEED	0	/* fewer bytes than the frame: read more */
#define FRAME_READY	1	/* a whole frame is buffered */

/*
 * Look at the avail bytes at buf: FRAME_NEED, FRAME_READY with the body
 * length in *body_len, or TP_ETOOBIG (a negative answer: -TP_ETOOBIG) when
 * the announced length exceeds max.
 */
int	frame_peek(const uint8_t *, size_t, uint32_t, uint32_t *);
/* Decode a body into *out (free with frame_free); TP_EPROTO if invalid. */
int	frame_unpack(const uint8_t *, size_t, Tupelo__Frame **,
	    struct tp_err *);
void	frame_free(Tupelo__Frame *);
/*
 * The same into an arena: no allocation per field, and everything of
 * the frame released at once by frame_arena_reset(). For a thread that
 * decodes one frame at a time (the broker's loop). A Produce is decoded
 * by hand and its payloads point into buf: keep buf until the reset.
 * What a frame may take is bounded: a body of n bytes gets at most
 * FRAME_DECODE_FACTOR * n + FRAME_DECODE_SLACK bytes of arena, and one
 * that needs more (a few bytes can ask protobuf-c for a large struct,
 * a repeated one for millions) is refused with TP_ETOOBIG; a Produce of
 * more than VALIDATE_BATCH_MAX messages with TP_EINVAL before any of
 * them is decoded. Valid requests within validate.h's limits fit.
 */
#define FRAME_DECODE_FACTOR	16
#define FRAME_DECODE_SLACK	(1U << 20)
struct frame_arena;
int	frame_arena_new(struct frame_arena **);
void	frame_arena_free(struct frame_arena *);
int	frame_unpack_arena(struct frame_arena *, const uint8_t *, size_t,
	    Tupelo__Frame **, struct tp_err *);
void	frame_arena_reset(struct frame_arena *);
/*
 * The id of a frame body that did not decode, so that the error can
 * answer its request: 0 if even its top-level fields are malformed.
 */
uint64_t frame_id(const uint8_t *, size_t);
/* Bytes frame_pack() writes for f: header plus body. */
size_t	frame_size(const Tupelo__Frame *);
/* Write header and body at out (frame_size() bytes); returns bytes. */
size_t	frame_pack(const Tupelo__Frame *, uint8_t *);
/* Write / read a 4-byte big-endian length. */
void	frame_put_len(uint8_t *, uint32_t);
uint32_t frame_get_len(const uint8_t *);

#endif
