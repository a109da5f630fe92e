/*
 * Trigger event documents, built from stored records: one document for
 * exec and lambda ({"Records":[...]}, the shape an AWS Lambda handler for
 * SQS reads), CloudEvents 1.0 for http (binary mode headers for one
 * message, a JSON batch for several); payloads that are not valid UTF-8
 * travel base64-encoded with "isBase64Encoded": true. Also the trigger
 * filters (conditions on headers and on top-level JSON payload fields)
 * and the "batchItemFailures" answer of a function.
 */
#ifndef TP_BROKER_TEVENT_H
#define TP_BROKER_TEVENT_H

#include <stddef.h>
#include <stdint.h>

struct tp_err;
struct tevent_filter;

struct tevent_header {
	const char	*key;		/* not NUL-terminated */
	size_t		 klen;
	const char	*value;		/* not NUL-terminated */
	size_t		 vlen;
};

/* One message as a function sees it; pointers borrow the stored bytes. */
struct tevent_msg {
	uint64_t			 seq;
	uint32_t			 deliveries;
	int64_t				 time_ns;
	const char			*msg_id;	/* NULL: none */
	size_t				 msg_id_len;
	const uint8_t			*payload;	/* as stored */
	size_t				 payload_len;
	uint32_t			 codec;		/* RECORD_CODEC_* */
	const struct tevent_header	*headers;
	size_t				 nheaders;
};

/* Who is invoking: names copied into the documents. */
struct tevent_ctx {
	const char	*station;
	const char	*trigger;
	uint32_t	 attempt;	/* 1 for the first */
};

/*
 * Decode stored record bytes into m, its headers into hbuf (hcap
 * entries; the last time field wins). seq and deliveries are left for the
 * caller. TP_EPROTO if malformed, TP_ETOOBIG if more than hcap headers.
 */
int	tevent_decode(const uint8_t *, size_t, struct tevent_msg *,
	    struct tevent_header *, size_t);

/* {"Records":[...]} for n messages; malloc'd, NUL-terminated, *len set.
 * NULL if out of memory. */
char	*tevent_records_json(const struct tevent_ctx *,
	    const struct tevent_msg *, size_t, size_t *);
/* A CloudEvents JSON batch (application/cloudevents-batch+json). */
char	*tevent_cloudevents_batch(const struct tevent_ctx *,
	    const struct tevent_msg *, size_t, size_t *);
/*
 * CloudEvents binary mode for one message: a NULL-terminated array of
 * malloc'd "Name: value" lines (ce-specversion, ce-id, ce-source,
 * ce-type, ce-time, ce-<header> extensions, Content-Type), to free with
 * tevent_lines_free(). The body is the payload. NULL if out of memory.
 */
char	**tevent_binary_headers(const struct tevent_ctx *,
	    const struct tevent_msg *);
void	tevent_lines_free(char **);

/*
 * Parse a function's output for {"batchItemFailures":[{"itemIdentifier":
 * "<seq>"}, ...]}. Empty output, "null", or a JSON value without that key
 * is TP_OK with *n = 0 (all succeeded). *seqs is malloc'd (NULL when *n
 * is 0). TP_EPROTO when the key is there but not that shape, or an
 * identifier is not a seq; then the whole batch counts as failed.
 */
int	tevent_item_failures(const char *, size_t, uint64_t **, size_t *);

/*
 * Filters. An expression names a header, or a top-level field of a JSON
 * payload as "$.field", and a condition:
 *   NAME=VALUE   equals          NAME^=PREFIX  starts with
 *   NAME!=VALUE  present, not equal (anything-but)
 *   NAME?        present
 * JSON fields compare as their text: strings without quotes, numbers,
 * true, false and null as written. A message passes when every filter
 * of a trigger matches.
 */
int	tevent_filter_parse(const char *, struct tevent_filter **,
	    struct tp_err *);
void	tevent_filter_free(struct tevent_filter *);
/* 1 if m (uncompressed payload) passes all n filters (n 0: passes). */
int	tevent_filter_match(struct tevent_filter *const *, size_t,
	    const struct tevent_msg *);

#endif
