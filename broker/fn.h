/*
 * What every function target reports when one invocation ends: success,
 * or a failure and whether it is worth retrying, the function's output
 * and the last error. Shared by broker/fn_exec (local commands) and
 * broker/fn_http (webhooks and the Lambda Invoke API).
 */
#ifndef TP_BROKER_FN_H
#define TP_BROKER_FN_H

#include <stddef.h>
#include <stdint.h>

#define FN_ERROR_MAX	512	/* bytes of the last error kept */

struct fn_result {
	int		 ok;		/* 1: the function succeeded */
	int		 retry;		/* failure: 1 worth retrying, 0 not */
	int64_t		 retry_after_ms; /* delay the target asked, -1: none */
	int		 status;	/* exit or HTTP status, -1: none */
	int		 signal;	/* exec: the signal that ended it, 0 */
	int		 timed_out;	/* killed or abandoned at the timeout */
	const char	*output;	/* stdout or response body; borrowed */
	size_t		 output_len;	/* for the callback's duration */
	int		 output_truncated; /* more than output_max came */
	char		 error[FN_ERROR_MAX]; /* "" on success */
};

/* Runs once per invocation on the loop thread, never from inside the call
 * that started it. */
typedef void (*fn_done_cb)(void *, const struct fn_result *);

#endif
