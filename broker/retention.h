/*
 * Retention: removing the oldest records of a station beyond its limits
 * (count, bytes, age) or once every durable group acked them. Trims run in
 * the writer in bounded chunks, one chunk per station at a time, so a
 * million-record trim never holds producers back for long.
 */
#ifndef TP_BROKER_RETENTION_H
#define TP_BROKER_RETENTION_H

struct event_base;
struct station;

/* Start the timer that checks age and ack-based limits every second. */
int	retention_start(struct event_base *);
void	retention_stop(void);
/* Trim st now if its limits may be exceeded (after appends, updates). */
void	retention_check(struct station *);

#endif
