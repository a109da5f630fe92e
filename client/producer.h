/*
 * Producing (tp_produce, tp_producer): also the conversion of a
 * struct tp_message into the wire's Message, which tp_request shares.
 */
#ifndef TP_CLIENT_PRODUCER_H
#define TP_CLIENT_PRODUCER_H

#include "proto/tupelo.pb-c.h"
#include "tupelo/tupelo.h"

/*
 * Point m at msg's data (borrowed), with room for msg->nheaders headers
 * at hp and h, and check it: TP_OK or TP_EINVAL.
 */
int	producer_fill(Tupelo__Message *, Tupelo__Header **, Tupelo__Header *,
	    const struct tp_message *, struct tp_err *);

#endif
