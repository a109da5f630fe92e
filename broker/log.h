/*
 * Broker logging: levels, stderr or a file (with timestamps, but none on
 * stderr when it is the systemd journal), escaping of client-supplied
 * strings, and libevent's own messages routed here.
 */
#ifndef TP_BROKER_LOG_H
#define TP_BROKER_LOG_H

#include <stddef.h>

#include "proto/compat.h"

#define LOG_LEVEL_ERROR	0
#define LOG_LEVEL_WARN	1
#define LOG_LEVEL_INFO	2
#define LOG_LEVEL_DEBUG	3

/*
 * Open the log: level, and a file to append to (NULL or "": stderr).
 * Again (SIGHUP) it reopens or switches; if the file cannot be opened it
 * returns -1 with errno set and the log stays where it was.
 */
int	log_open(int, const char *);
void	log_close(void);
int	log_level(void);
/* Change the level only (a reload whose log file cannot be opened). */
void	log_set_level(int);
void	log_error(const char *, ...) TP_PRINTF(1, 2);
void	log_warn(const char *, ...) TP_PRINTF(1, 2);
void	log_info(const char *, ...) TP_PRINTF(1, 2);
void	log_debug(const char *, ...) TP_PRINTF(1, 2);
/* Escape len bytes of s into buf (size bytes, NUL-terminated), capped. */
const char *log_escape(const char *, size_t, char *, size_t);

#endif
