/*
 * Semantic checks of decoded frames, shared by broker and client: names,
 * counts and sizes against limits. Each failure is a TP_E* code and a
 * message for the peer.
 */
#ifndef TP_PROTO_VALIDATE_H
#define TP_PROTO_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/tupelo.pb-c.h"

struct tp_err;

#define VALIDATE_BATCH_MAX	10000	/* messages in one Produce */
#define VALIDATE_HEADERS_MAX	64	/* headers on one message */
#define VALIDATE_KEY_MAX	256	/* bytes of a header key */
#define VALIDATE_VALUE_MAX	4096	/* bytes of a header value */
#define VALIDATE_MSGID_MAX	256	/* bytes of a producer message id */
#define VALIDATE_READ_MAX	10000	/* records in one Read */
#define VALIDATE_BACKOFF_MAX	32	/* redelivery delays of a group */
#define VALIDATE_FIELDS_MAX	64	/* fields named in an update */
#define VALIDATE_TRIGGER_NAME_MAX 119	/* "_trigger." + name is a group */
#define VALIDATE_DELAY_MAX	86400000 /* ms: ack wait, nack delay */

/* Station and group names: [a-z0-9][a-z0-9._-]{0,127}. */
int	validate_name(const char *, const char *, struct tp_err *);
/* Headers and message id of one message (payload size is the caller's). */
int	validate_message(const Tupelo__Message *, struct tp_err *);
/* A group's settings (NULL allowed). */
int	validate_group_config(const Tupelo__GroupConfig *, struct tp_err *);
/* A request frame as received by the broker: id, body, names, counts. */
int	validate_request(const Tupelo__Frame *, struct tp_err *);

#endif
