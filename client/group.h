/*
 * Consumer groups seen from the client: the wire settings made from a
 * struct tp_group_opts (for Subscribe and GroupCreate), and the requests
 * that administer groups and their dead letters.
 */
#ifndef TP_CLIENT_GROUP_H
#define TP_CLIENT_GROUP_H

#include "proto/tupelo.pb-c.h"
#include "tupelo/tupelo.h"

/*
 * Check opts (NULL: defaults) and point cfg and *start at its settings,
 * borrowed from opts for as long as it lives; *start is NULL if unset.
 */
int	group_config(const struct tp_group_opts *, Tupelo__GroupConfig *,
	    const char **, struct tp_err *);

#endif
