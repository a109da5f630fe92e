/*
 * Received messages: a struct tp_msg is one allocation holding a record's
 * numbers, message id, headers and (decompressed) payload.
 */
#ifndef TP_CLIENT_MSG_H
#define TP_CLIENT_MSG_H

#include "proto/tupelo.pb-c.h"
#include "tupelo/tupelo.h"

/* Largest payload accepted after decompression. */
#define MSG_PAYLOAD_MAX		(64U * 1024 * 1024)

/*
 * Copy a received record into a new message, decompressing its payload
 * (with a dictionary fetched through conn if it needs one; conn may be
 * NULL, then such a payload is refused).
 */
int	msg_from_record(struct tp_conn *, const Tupelo__Record *,
	    struct tp_msg **, struct tp_err *);

#endif
