/*
 * Request dispatch: validate a decoded frame and hand it to the module
 * that owns it (station, group), or answer hello and errors here.
 */
#ifndef TP_BROKER_DISPATCH_H
#define TP_BROKER_DISPATCH_H

#include <stdint.h>

#include "proto/tupelo.pb-c.h"

struct config;
struct conn;

void	dispatch_start(const struct config *);
/* Shutting down: new writes get TP_ESHUTDOWN. */
void	dispatch_shutdown(void);
/* Handle one request frame from conn (f borrowed for the call). */
void	dispatch_frame(struct conn *, const Tupelo__Frame *);

#endif
