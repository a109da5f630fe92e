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
struct trigger;

void	invoke_start(struct event_base *);
/* Answer every waiting request with TP_ESHUTDOWN. */
void	invoke_stop(void);
/* Handle a Request; replies on conn. */
void	invoke_request(struct conn *, uint64_t, const Tupelo__Request *);
/* Does a request wait for this trigger's result on seq? Cheap when none
 * waits. A request waits for the trigger chosen when it came. */
int	invoke_waiting(struct trigger *, uint64_t);
/* The trigger's outcome for seq: output (ok) or error; answers it. */
void	invoke_result(struct trigger *, uint64_t, int, const char *, size_t,
	    const char *);

#endif
