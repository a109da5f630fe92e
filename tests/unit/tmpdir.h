/*
 * Temporary directories for unit tests: made under $TMPDIR (or /tmp),
 * removed with everything in them.
 */
#ifndef TP_TESTS_TMPDIR_H
#define TP_TESTS_TMPDIR_H

#include <stddef.h>

/* Make a new directory; its path goes in buf (len bytes). 0 or -1. */
int	tmpdir_make(char *, size_t);
/* Remove path and, for a directory, everything below it. */
void	tmpdir_remove(const char *);

#endif
