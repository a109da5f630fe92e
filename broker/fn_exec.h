/*
 * The exec target: run a program (broker/fn_dir says which, and with what
 * environment) in a process group of its own, write the event document to
 * its standard input, collect its standard output (the result) and
 * standard error (kept as the last error), and kill the whole group at
 * the timeout. Exit 0 is success;
 * any other exit, a signal or the timeout is a failure worth retrying.
 * Children are reaped from a SIGCHLD event on the loop.
 */
#ifndef TP_BROKER_FN_EXEC_H
#define TP_BROKER_FN_EXEC_H

#include <stddef.h>

#include "broker/fn.h"

struct event_base;
struct fn_exec;
struct tp_err;

/* Start reaping children on base; TP_OK or why not. */
int	fn_exec_start(struct event_base *, struct tp_err *);
/* Kill every running command and free them without callbacks. */
void	fn_exec_stop(void);
/*
 * Run argv[0] with argv (NULL-terminated) and exactly the environment env
 * (NULL-terminated "NAME=value" strings; NULL: none), both borrowed for
 * the call. input (malloc'd, inlen bytes) is taken and freed in every
 * case. Output beyond output_max bytes
 * is dropped (and the result says so); timeout_ms > 0. done runs once,
 * later, on the loop. On TP_OK *out names the run for fn_exec_cancel().
 */
int	fn_exec_run(char *const *, char *const *, void *, size_t, int,
	    size_t, fn_done_cb, void *, struct fn_exec **, struct tp_err *);
/* Kill a running command's group; done is not called. */
void	fn_exec_cancel(struct fn_exec *);
/* Commands running now. */
size_t	fn_exec_running(void);

#endif
