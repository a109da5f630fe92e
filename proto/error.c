/*
 * The error table: one row per TP_E* code with its name, its message and
 * whether the client or the server caused it. Shared by broker and client.
 */
#include "proto/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct error_entry {
	int		 code;
	const char	*name;
	const char	*message;
	int		 client;	/* 1: caused by the request */
};

static const struct error_entry error_table[] = {
	{ TP_OK, "TP_OK", "success", 0 },
	{ TP_EINVAL, "TP_EINVAL", "invalid argument", 1 },
	{ TP_EPROTO, "TP_EPROTO", "malformed frame", 1 },
	{ TP_ETOOBIG, "TP_ETOOBIG", "frame or message too large", 1 },
	{ TP_ENOSTATION, "TP_ENOSTATION", "no such station", 1 },
	{ TP_EEXIST, "TP_EEXIST", "station already exists", 1 },
	{ TP_EBADNAME, "TP_EBADNAME", "invalid name", 1 },
	{ TP_EPERM, "TP_EPERM", "not permitted", 1 },
	{ TP_EUNSUPPORTED, "TP_EUNSUPPORTED", "unsupported request", 1 },
	{ TP_ENOSUB, "TP_ENOSUB", "no such subscription", 1 },
	{ TP_EVERSION, "TP_EVERSION", "protocol version not supported", 1 },
	{ TP_ENOTRIGGER, "TP_ENOTRIGGER", "no such trigger", 1 },
	{ TP_ENOSPC, "TP_ENOSPC", "storage full", 0 },
	{ TP_EIO, "TP_EIO", "storage I/O error", 0 },
	{ TP_ENOMEM, "TP_ENOMEM", "out of memory", 0 },
	{ TP_EINTERNAL, "TP_EINTERNAL", "internal error", 0 },
	{ TP_EBUSY, "TP_EBUSY", "limit reached, try again later", 0 },
	{ TP_ESHUTDOWN, "TP_ESHUTDOWN", "broker shutting down", 0 },
	{ TP_ECONN, "TP_ECONN", "connection failed or lost", 0 },
	{ TP_ETIMEDOUT, "TP_ETIMEDOUT", "timed out", 0 },
	{ TP_EDONE, "TP_EDONE", "consumer had its max_messages", 0 },
	{ TP_EFUNCTION, "TP_EFUNCTION", "the function failed", 0 },
};

static const struct error_entry *
error_find(int code)
{
	size_t	i;

	for (i = 0; i < sizeof error_table / sizeof error_table[0]; i++) {
		if (error_table[i].code == code)
			return (&error_table[i]);
	}
	return (NULL);
}

const char *
tp_strerror(int code)
{
	const struct error_entry	*e = error_find(code);

	return (e != NULL ? e->message : "unknown error");
}

int
tp_error_is_client(int code)
{
	const struct error_entry	*e = error_find(code);

	return (e != NULL ? e->client : 0);
}

const char *
error_name(int code)
{
	const struct error_entry	*e = error_find(code);

	return (e != NULL ? e->name : "TP_E?");
}

int
error_known(int code)
{
	return (error_find(code) != NULL);
}

int
error_set(struct tp_err *err, int code, const char *fmt, ...)
{
	va_list	ap;

	if (err == NULL)
		return (code);
	err->code = code;
	if (fmt == NULL) {
		snprintf(err->message, sizeof err->message, "%s",
		    tp_strerror(code));
		return (code);
	}
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof err->message, fmt, ap);
	va_end(ap);
	return (code);
}
