/*
 * The sync model: a Request stores a message on a station and waits for
 * the result of the station's trigger on it (broker/tflow reports it),
 * or for its timeout. The message is an ordinary message of the station:
 * a caller that gives up does not stop it from being processed.
 */
#ifndef TP_BROKER_INVOKE_H
#define TP_BROKER_INVOKE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/tupelo.pb-c.h"

struct conn;
struct event_base;
struct station;

void	invoke_start(struct event_base *);
/* Answer every waiting request with TP_ESHUTDOWN. */
void	invoke_stop(void);
/* Handle a Request; replies on conn. */
void	invoke_request(struct conn *, uint64_t, const Tupelo__Request *);
/* Does a request wait for seq of station? Cheap when none waits. */
int	invoke_waiting(struct station *, uint64_t);
/* The outcome for seq: output (ok) or error; answers its request. */
void	invoke_result(struct station *, uint64_t, int, const char *, size_t,
	    const char *, const char *);

#endif
