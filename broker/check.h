/*
 * tupelod --check: verify a data directory without changing it, even while
 * a tupelod serves it. Owns nothing past the call.
 */
#ifndef TP_BROKER_CHECK_H
#define TP_BROKER_CHECK_H

#include <stdio.h>

/*
 * Check data directory dir, each problem one line on out, then a summary.
 * Returns the exit status: 0 sound, 1 problems found.
 */
int	check_run(const char *, FILE *);

#endif
