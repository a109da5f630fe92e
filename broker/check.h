/*
 * tupelod --check: verify a data directory without changing it, even while
 * a tupelod serves it. Owns nothing past the call.
 */
#ifndef TP_BROKER_CHECK_H
#define TP_BROKER_CHECK_H

#include <stdio.h>

/* Exit statuses of tupelod --check. */
#define CHECK_SOUND	0
#define CHECK_CORRUPT	1	/* problems a start does not repair */
#define CHECK_RECOVER	3	/* sound once a start has recovered it */

/*
 * Check data directory dir, each problem one line on out, then a summary.
 * Returns the exit status, CHECK_*.
 */
int	check_run(const char *, FILE *);

#endif
