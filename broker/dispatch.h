/*
 * Request dispatch: the table of request types, each with the verb a
 * caller needs, whether it writes, and the module that handles it (the
 * station, group and trigger modules); hello and errors are answered
 * here. Validation without state comes first (proto/validate).
 */
#ifndef TP_BROKER_DISPATCH_H
#define TP_BROKER_DISPATCH_H

#include <stdint.h>

#include "proto/tupelo.pb-c.h"

struct config;
struct conn;

/* What a request needs the caller to be allowed (issue 16's grants). */
enum dispatch_verb {
	VERB_NONE,		/* hello: comes before any identity */
	VERB_PRODUCE,
	VERB_CONSUME,
	VERB_BROWSE,
	VERB_ADMIN,
	VERB_TRIGGER,
	VERB_USERS
};
#define DISPATCH_WRITES	0x1	/* changes what is stored: refused while
				   shutting down */

void	dispatch_start(const struct config *);
/* Shutting down: new writes get TP_ESHUTDOWN. */
void	dispatch_shutdown(void);
/* Handle one request frame from conn (f borrowed for the call). */
void	dispatch_frame(struct conn *, const Tupelo__Frame *);
/* The verb and flags of request type body; -1 if it is not a request. */
int	dispatch_verb(int, enum dispatch_verb *, int *);
/* 1 if body is a frame only the broker sends. */
int	dispatch_is_reply(int);

#endif
