/*
 * Broker logging: levels, stderr or a file (with timestamps), escaping of
 * client-supplied strings, and libevent's own messages routed here.
 */
#ifndef TP_BROKER_LOG_H
#define TP_BROKER_LOG_H

#include <stddef.h>

#include "proto/compat.h"

#define LOG_LEVEL_ERROR	0
#define LOG_LEVEL_WARN	1
#define LOG_LEVEL_INFO	2
#define LOG_LEVEL_DEBUG	3

/* Open the log: level, and a file to append to (NULL: stderr). */
int	log_open(int, const char *);
void	log_close(void);
int	log_level(void);
void	log_error(const char *, ...) TP_PRINTF(1, 2);
void	log_warn(const char *, ...) TP_PRINTF(1, 2);
void	log_info(const char *, ...) TP_PRINTF(1, 2);
void	log_debug(const char *, ...) TP_PRINTF(1, 2);
/* Escape len bytes of s into buf (size bytes, NUL-terminated), capped. */
const char *log_escape(const char *, size_t, char *, size_t);

#endif
