/*
 * The TP_E* table: each code's name, message and class (client-caused or
 * server-caused), and error_set() to fill a struct tp_err without
 * allocating. The codes themselves live in <tupelo/tupelo.h>.
 */
#ifndef TP_PROTO_ERROR_H
#define TP_PROTO_ERROR_H

#include "client/tupelo/tupelo.h"
#include "proto/compat.h"

/* Fill err (may be NULL) with code and a formatted message; returns code. */
int	error_set(struct tp_err *, int, const char *, ...) TP_PRINTF(3, 4);
/* The symbolic name of a code ("TP_ENOSTATION"), or "TP_E?" if unknown. */
const char *error_name(int);
/* Is the code known to this build? */
int	error_known(int);

#endif
