/*
 * Read-only requests on stations: info, list, and plain reads of a range
 * of records without a group.
 */
#ifndef TP_BROKER_BROWSE_H
#define TP_BROKER_BROWSE_H

#include <stdint.h>

#include "proto/tupelo.pb-c.h"

struct conn;

void	browse_station(struct conn *, uint64_t, const char *);
void	browse_list(struct conn *, uint64_t);
void	browse_read(struct conn *, uint64_t, const Tupelo__Read *);

#endif
