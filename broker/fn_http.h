/*
 * The http and lambda targets: POST requests through libcurl's multi
 * interface driven by the libevent loop (keep-alive connection reuse,
 * per-request timeouts, TLS for https URLs). The outcome is classified
 * once, here: 2xx is success (for lambda, unless the response has
 * X-Amz-Function-Error); network errors, timeouts, 404, 409, 429 and 5xx
 * are failures worth retrying (Retry-After, in seconds or as an HTTP
 * date, is reported); any other status is a failure not to retry.
 */
#ifndef TP_BROKER_FN_HTTP_H
#define TP_BROKER_FN_HTTP_H

#include <stddef.h>

#include "broker/fn.h"

struct event_base;
struct fn_http;
struct tp_err;

struct fn_http_req {
	const char		*url;
	const char		*content_type;
	const char *const	*headers;	/* "Name: value", NULL-ended */
	void			*body;		/* malloc'd: taken */
	size_t			 len;
	int			 timeout_ms;	/* > 0 */
	int			 lambda;	/* X-Amz-Function-Error fails */
	size_t			 output_max;	/* response body kept */
};

/* Set up libcurl on base; TP_OK or why not. */
int	fn_http_start(struct event_base *, struct tp_err *);
/* Abandon every request without callbacks and clean up libcurl. */
void	fn_http_stop(void);
/*
 * Send req (strings copied, body taken and freed in every case). done
 * runs once, later, on the loop. On TP_OK *out names the request for
 * fn_http_cancel().
 */
int	fn_http_post(const struct fn_http_req *, fn_done_cb, void *,
	    struct fn_http **, struct tp_err *);
/* Abandon a request; done is not called. */
void	fn_http_cancel(struct fn_http *);
/* Requests in flight now. */
size_t	fn_http_running(void);

#endif
