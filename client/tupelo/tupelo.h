/*
 * libtupelo: the client library of the Tupelo message broker.
 *
 * A service connects to tupelod with tp_connect(), manages stations, produces
 * messages (synchronously with tp_produce(), or batched in the background
 * with a tp_producer) and consumes them through durable consumer groups with
 * a tp_consumer.
 *
 * Errors: every fallible call returns 0 (TP_OK) or a TP_E* code, and fills
 * the optional struct tp_err (NULL allowed) with the code and a message.
 *
 * Threads: a struct tp_conn, and the consumers opened on it, may be used by
 * one thread at a time (different connections from different threads
 * freely). A struct tp_producer is thread-safe: tp_producer_send() and
 * tp_producer_flush() may be called from any thread; its callback runs on the
 * producer's own I/O thread. tp_strerror() and the tp_msg getters are
 * thread-safe.
 *
 * Memory: strings and buffers passed in are borrowed for the call and copied
 * if kept. Objects the library returns are freed with the matching _free or
 * _close call.
 */
#ifndef TP_CLIENT_TUPELO_H
#define TP_CLIENT_TUPELO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TP_VERSION_MAJOR	0
#define TP_VERSION_MINOR	1
#define TP_VERSION_PATCH	0
#define TP_VERSION_STRING	"0.1.0"
#define TP_PROTOCOL_VERSION	1

#define TP_DEFAULT_PORT		6666
#define TP_DEFAULT_URL		"tupelo://127.0.0.1:6666"
#define TP_NAME_MAX		128	/* longest station or group name */

/*
 * Error codes. They cross the wire: values are fixed, append only.
 * 1..19 are caused by the client, 20..29 by the broker or its storage,
 * 30.. are detected by the library itself.
 */
enum tp_code {
	TP_OK = 0,
	TP_EINVAL = 1,		/* bad argument */
	TP_EPROTO = 2,		/* malformed frame */
	TP_ETOOBIG = 3,		/* frame or message larger than allowed */
	TP_ENOSTATION = 4,	/* no such station */
	TP_EEXIST = 5,		/* station already exists */
	TP_EBADNAME = 6,	/* invalid station or group name */
	TP_EPERM = 7,		/* not permitted */
	TP_EUNSUPPORTED = 8,	/* unknown request type */
	TP_ENOSUB = 9,		/* no such subscription */
	TP_EVERSION = 10,	/* protocol version not supported */
	TP_ENOTRIGGER = 11,	/* no such trigger */
	TP_ENOSPC = 20,		/* storage full */
	TP_EIO = 21,		/* storage I/O error; writes refused */
	TP_ENOMEM = 22,		/* out of memory */
	TP_EINTERNAL = 23,	/* internal error */
	TP_EBUSY = 24,		/* connection or resource limit reached */
	TP_ESHUTDOWN = 25,	/* broker shutting down */
	TP_ECONN = 30,		/* cannot connect, or connection lost */
	TP_ETIMEDOUT = 31,	/* no answer or message within the timeout */
	TP_EDONE = 32,		/* the consumer had its max_messages */
	TP_EFUNCTION = 40,	/* the function failed (tp_request) */
};

/* An error's code and a message for people. Filled, never allocated. */
struct tp_err {
	int	code;
	char	message[256];
};

/* Static text for a code; never NULL. */
const char *tp_strerror(int code);
/* 1 if the code means the request was at fault, 0 otherwise. */
int	tp_error_is_client(int code);

/* ---- connection ---- */

struct tp_conn;

/*
 * Connect to a broker. url is "tupelo://[user:pass@]host[:port]", or
 * "tupelos://..." for TLS; NULL means the TUPELO_URL environment variable,
 * or else TP_DEFAULT_URL. Over TLS the broker's certificate must be
 * signed by an authority of the system's store, or of the PEM file named
 * by the TUPELO_CA environment variable when set, and name the host (or
 * the IP address) of the URL; if not, TP_ECONN with a message starting
 * "certificate verify failed: " and OpenSSL's reason.
 * client_name (NULL allowed) is shown in the broker's logs.
 * On success *out is a connection to free with tp_close().
 * Returns TP_OK, TP_EINVAL (bad URL, unreadable TUPELO_CA), TP_ECONN,
 * TP_ETIMEDOUT, TP_EVERSION, TP_ENOMEM.
 */
int	tp_connect(const char *url, const char *client_name,
	    struct tp_conn **out, struct tp_err *err);
/* Close a connection and free it, its consumers must be freed first. */
void	tp_close(struct tp_conn *conn);
/*
 * Set how long connecting, a write, or a request waiting for its reply may
 * take (default 30000 ms; -1: no limit). A producer started from conn
 * inherits it.
 */
void	tp_set_timeout(struct tp_conn *conn, int timeout_ms);
/* The broker's greeting, e.g. "tupelod 0.1.0"; borrowed from conn. */
const char *tp_server(struct tp_conn *conn);

/* ---- stations ---- */

enum tp_durability {
	TP_DURABILITY_DEFAULT = 0,	/* the broker's default */
	TP_DURABILITY_SYNC = 1,		/* ack after fsync */
	TP_DURABILITY_INTERVAL = 2,	/* ack after commit, fsync on a timer */
};

/* Station options; zero means "no limit" or "broker default". */
struct tp_station_opts {
	uint64_t	retention_age_s;	/* seconds */
	uint64_t	retention_messages;
	uint64_t	retention_bytes;
	int		retention_ack;		/* 1: drop when all acked */
	int		durability;		/* enum tp_durability */
	uint32_t	max_message_size;	/* bytes of payload */
	uint64_t	dedup_window_s;		/* message id window, 120 */
	int		compression;		/* enum tp_compression */
	int		compression_level;	/* zstd level, 0: 3 */
};

enum tp_compression {
	TP_COMPRESSION_NONE = 0,
	TP_COMPRESSION_ZSTD = 1,	/* payloads stored zstd-compressed */
};

/* Which settings tp_station_update() changes (or them together). */
#define TP_SET_RETENTION_AGE		0x0001
#define TP_SET_RETENTION_MESSAGES	0x0002
#define TP_SET_RETENTION_BYTES		0x0004
#define TP_SET_RETENTION_ACK		0x0008
#define TP_SET_DURABILITY		0x0010
#define TP_SET_MAX_MESSAGE_SIZE		0x0020
#define TP_SET_DEDUP_WINDOW		0x0040
#define TP_SET_COMPRESSION		0x0080	/* and its level */

struct tp_station_info {
	char			name[TP_NAME_MAX + 1];
	struct tp_station_opts	opts;
	uint64_t		messages;	/* messages kept */
	uint64_t		first_seq;	/* 0 when empty */
	uint64_t		last_seq;	/* last assigned, 0: none */
	uint64_t		bytes;		/* stored bytes */
	uint32_t		groups;		/* consumer groups */
	int64_t			created_ns;	/* ns since the epoch */
	uint64_t		removed;	/* by retention or purge */
	uint64_t		logical_bytes;	/* before compression */
};

/*
 * Create a station. opts NULL means all defaults.
 * Returns TP_OK, TP_EBADNAME, TP_EEXIST, TP_EINVAL, TP_ENOSPC, TP_EIO, or a
 * connection error.
 */
int	tp_station_create(struct tp_conn *conn, const char *name,
	    const struct tp_station_opts *opts, struct tp_err *err);
/*
 * Change the settings of a live station named by fields (TP_SET_*) to
 * their values in opts; the others stay. Retention changes apply at once.
 * Returns TP_OK, TP_ENOSTATION, TP_EINVAL, or a storage or connection
 * error.
 */
int	tp_station_update(struct tp_conn *conn, const char *name,
	    const struct tp_station_opts *opts, unsigned int fields,
	    struct tp_err *err);
/* Delete a station and all its messages and groups. TP_ENOSTATION if none. */
int	tp_station_delete(struct tp_conn *conn, const char *name,
	    struct tp_err *err);
/* Fill *out with a station's configuration and counters. */
int	tp_station_info(struct tp_conn *conn, const char *name,
	    struct tp_station_info *out, struct tp_err *err);
/*
 * List stations, sorted by name. On success *out is an array of *n entries
 * (NULL when *n is 0) that the caller frees with free().
 */
int	tp_station_list(struct tp_conn *conn, struct tp_station_info **out,
	    size_t *n, struct tp_err *err);

/* ---- producing ---- */

struct tp_header {
	const char	*key;		/* NUL-terminated */
	const char	*value;		/* NUL-terminated */
};

/* One message to produce; every pointer is borrowed for the call. */
struct tp_message {
	const void		*payload;	/* may be NULL when len is 0 */
	size_t			 len;
	const struct tp_header	*headers;	/* nheaders entries */
	size_t			 nheaders;
	const char		*msg_id;	/* NULL: none */
};

/*
 * Produce n messages (n >= 1) as one batch and wait until the broker has
 * stored them durably. first_seq and last_seq (NULL allowed) receive the
 * sequence numbers of the first and the last message: the range given to
 * the batch. A message whose msg_id repeats one produced to the station
 * within its dedup window is not stored again and counts with its
 * original seq (so a batch with duplicates may not be one range; use
 * tp_produce_seqs() to see each).
 * Returns TP_OK, TP_ENOSTATION, TP_ETOOBIG, TP_EINVAL, TP_ENOSPC, TP_EIO,
 * TP_ESHUTDOWN, or a connection error; on error nothing of the batch is
 * acknowledged (it may or may not be stored if the connection was lost).
 * A batch larger than the broker's frame limit, or than 10000 messages, is
 * sent as several requests in order, each waited for before the next: the
 * range then may include other producers' messages, and an error may come
 * after a first part was stored. The broker checks payload sizes against
 * the station's limit (TP_ETOOBIG); a message that fits in no frame fails
 * here with TP_ETOOBIG.
 */
int	tp_produce(struct tp_conn *conn, const char *station,
	    const struct tp_message *msgs, size_t n, uint64_t *first_seq,
	    uint64_t *last_seq, struct tp_err *err);
/*
 * Like tp_produce(), filling seqs[i] (n entries, not NULL) with the seq of
 * msgs[i] (for a duplicate message id, the original seq), and *duplicates
 * (NULL allowed) with how many were duplicates and not stored.
 */
int	tp_produce_seqs(struct tp_conn *conn, const char *station,
	    const struct tp_message *msgs, size_t n, uint64_t *seqs,
	    size_t *duplicates, struct tp_err *err);

/*
 * An asynchronous producer: messages are copied, gathered into batches
 * (sent when batch_size messages or batch_bytes are waiting, or linger_ms
 * after the first), pipelined on a connection of its own, and each
 * message's outcome is reported to the callback.
 */
struct tp_producer;

/*
 * linger_ms for a producer that sends each message as soon as it is
 * handed over; messages still share a request while PRODUCER_INFLIGHT (8)
 * requests are waiting for their acks.
 */
#define TP_LINGER_NONE	UINT32_MAX

/* Zero in a field means its default. */
struct tp_producer_opts {
	uint32_t	batch_size;	/* messages per batch, default 500,
					   at most 10000 */
	uint32_t	batch_bytes;	/* payload bytes per batch, 512 KiB */
	uint32_t	linger_ms;	/* wait to fill a batch, default 2;
					   TP_LINGER_NONE: send at once */
	uint32_t	max_pending;	/* messages not yet acknowledged before
					   tp_producer_send() blocks, 50000 */
};

/*
 * Outcome of one message: code TP_OK with its sequence number, or an error
 * code with seq 0. opaque is what was given to tp_producer_send(). Runs on
 * the producer's thread; must not call tp_producer_flush() or
 * tp_producer_free(), nor tp_producer_send() on the same producer (it may
 * block for good).
 */
typedef void (*tp_produce_cb)(void *arg, int code, uint64_t seq,
    void *opaque);

/*
 * Start a producer for one station, on a new connection to the same broker
 * as conn (conn is only borrowed for its URL and timeout). It looks the
 * station up first, to learn its message size limit. opts NULL means
 * defaults; cb may be NULL. Returns TP_OK, TP_EINVAL, TP_EBADNAME,
 * TP_ENOSTATION, TP_ENOMEM, or a connection error.
 */
int	tp_producer_new(struct tp_conn *conn, const char *station,
	    const struct tp_producer_opts *opts, tp_produce_cb cb, void *arg,
	    struct tp_producer **out, struct tp_err *err);
/*
 * Queue a copy of one message. Blocks while max_pending messages are
 * unacknowledged. Returns TP_OK, TP_ETOOBIG (payload above the station's
 * limit), TP_EINVAL, TP_ENOMEM, or the error that stopped the producer (a
 * lost connection). The callback runs only for messages queued with TP_OK.
 */
int	tp_producer_send(struct tp_producer *p, const struct tp_message *msg,
	    void *opaque);
/*
 * Send what is queued and wait until every message sent so far has its
 * outcome reported, or timeout_ms passed (-1: no limit). Returns TP_OK,
 * TP_ETIMEDOUT, or the first error any message got since the last flush.
 */
int	tp_producer_flush(struct tp_producer *p, int timeout_ms);
/* Flush (no limit), stop the thread, close the connection, free. */
/*
 * The first failure the producer reported to its callback, as the broker
 * or the connection worded it: its code (TP_OK if none), and in err (NULL
 * allowed) the code and message. Kept across flushes.
 */
int	tp_producer_error(struct tp_producer *p, struct tp_err *err);
void	tp_producer_free(struct tp_producer *p);

/* ---- messages ---- */

/* A received message; owned by the caller, freed with tp_msg_free(). */
struct tp_msg;

uint64_t	 tp_msg_seq(const struct tp_msg *m);
int64_t		 tp_msg_time_ns(const struct tp_msg *m);
/* Payload bytes, valid until tp_msg_free(); *len gets the length. */
const void	*tp_msg_payload(const struct tp_msg *m, size_t *len);
/* Producer message id, "" if none. */
const char	*tp_msg_id(const struct tp_msg *m);
/* Times delivered to this group (1 on first delivery, 0 from tp_read). */
uint32_t	 tp_msg_deliveries(const struct tp_msg *m);
size_t		 tp_msg_nheaders(const struct tp_msg *m);
/* Header i (0 <= i < nheaders): key and value, borrowed from m. */
void		 tp_msg_header_at(const struct tp_msg *m, size_t i,
		    const char **key, const char **value);
/* First value of header key, or NULL. */
const char	*tp_msg_header(const struct tp_msg *m, const char *key);
void		 tp_msg_free(struct tp_msg *m);

/*
 * Read up to max messages (1..10000) from seq from_seq on (or the first
 * kept), without a group. *out is an array of *n messages, each freed with
 * tp_msg_free(), the array with free(). *n is 0 past the end.
 */
int	tp_read(struct tp_conn *conn, const char *station, uint64_t from_seq,
	    size_t max, struct tp_msg ***out, size_t *n, struct tp_err *err);

/* ---- consuming ---- */

/*
 * A member of a durable consumer group. The group is created on first use
 * and starts at the station's first message; it remembers what its
 * members acked across broker restarts: an acked message is not delivered
 * to the group again; an unacked one is delivered again.
 */
struct tp_consumer;

/* Settings of a consumer group; zero or NULL means the default. */
struct tp_group_opts {
	/* Where a new group starts: "all" (default), "new", "seq:N",
	   "time:T" (RFC 3339 or Unix seconds), "last:N". */
	const char	*start;
	uint32_t	 ack_wait_ms;	/* redeliver after, default 30000 */
	int32_t		 max_deliveries; /* then dead-letter; 5; -1: none */
	const uint32_t	*backoff_ms;	/* delays before redelivery n+1 */
	size_t		 nbackoff;	/* entries; the last repeats */
	uint32_t	 max_ack_pending; /* unacked per group, 10000 */
};

struct tp_consumer_opts {
	uint32_t	 max_unacked;	/* deliveries in flight, default 1000 */
	const char	*name;		/* consumer name, NULL: none */
	/* Group settings: start applies when the group is created, the
	   non-zero others also update an existing group. NULL: none. */
	const struct tp_group_opts *group;
	int		 ephemeral;	/* 1: a group of this consumer only,
					   not stored, gone when it is */
	/* Messages to receive in all, redeliveries included: the broker
	   sends no more, then tp_consume() returns TP_EDONE. 0: no
	   limit. A consumer that wants n messages sets n, so that none
	   is delivered to it only to wait unread. */
	uint64_t	 max_messages;
};

/*
 * Join group on station through conn (borrowed until tp_consumer_free()).
 * For an ephemeral consumer group may be NULL or "" (it is not checked
 * then). opts NULL means defaults. Returns TP_OK, TP_ENOSTATION,
 * TP_EBADNAME, TP_EINVAL, or a connection error.
 */
int	tp_consumer_new(struct tp_conn *conn, const char *station,
	    const char *group, const struct tp_consumer_opts *opts,
	    struct tp_consumer **out, struct tp_err *err);
/*
 * Wait up to timeout_ms (-1: forever, 0: poll) for the next message.
 * The broker sends up to max_unacked messages ahead; they wait in c until
 * taken here. Returns TP_OK with *out set (free with tp_msg_free()),
 * TP_ETIMEDOUT if none came, TP_EDONE once max_messages were handed out,
 * TP_EPROTO or TP_ETOOBIG for a message whose payload cannot be decoded
 * (it is skipped: unacked, the group delivers it again), TP_ENOMEM, or a
 * connection error.
 */
int	tp_consume(struct tp_consumer *c, int timeout_ms, struct tp_msg **out,
	    struct tp_err *err);
/*
 * Acknowledge a message received from c. Acks are sent in batches: when
 * 256 are gathered, when tp_consume() has no queued message left and waits
 * on the network, and by tp_consumer_commit(). The broker saves the
 * first two kinds within about 10 ms, without a flush of their own; the
 * message may still be delivered again until tp_consumer_commit()
 * returned TP_OK. Returns TP_OK, TP_EINVAL (m NULL), or the connection's
 * error.
 */
int	tp_ack(struct tp_consumer *c, const struct tp_msg *m,
	    struct tp_err *err);
/*
 * Negative acknowledgement: deliver m again after delay_ms (0: at once),
 * or send it to the dead-letter station if it was delivered the group's
 * max_deliveries times. Sent like acks.
 */
int	tp_nack(struct tp_consumer *c, const struct tp_msg *m,
	    uint32_t delay_ms, struct tp_err *err);
/* Still working on m: restart its ack wait. Sent like acks. */
int	tp_in_progress(struct tp_consumer *c, const struct tp_msg *m,
	    struct tp_err *err);
/*
 * Give up on m: the broker moves it to the dead-letter station at once,
 * with reason (NULL allowed) in its headers. Sent like acks.
 */
int	tp_term(struct tp_consumer *c, const struct tp_msg *m,
	    const char *reason, struct tp_err *err);
/*
 * Send pending acks and wait until the broker has made them durable.
 * Returns TP_OK, TP_ETIMEDOUT, or the broker's or connection's error.
 */
int	tp_consumer_commit(struct tp_consumer *c, int timeout_ms,
	    struct tp_err *err);
/*
 * Commit pending acks (waiting up to the connection timeout), leave the
 * group and free c. Unacked messages go back to the group; those sent
 * ahead that tp_consume() never handed out go back uncounted, as if never
 * delivered (so they do not draw nearer the dead-letter station).
 */
void	tp_consumer_free(struct tp_consumer *c);

/* ---- group and dead-letter administration ---- */

/*
 * A dead letter is stored in "<station>.dls" with the original payload
 * and headers, plus these headers.
 */
#define TP_DLS_SUFFIX		".dls"
#define TP_HDR_ORIGIN_STATION	"tp-origin-station"	/* where it was */
#define TP_HDR_ORIGIN_SEQ	"tp-origin-seq"		/* its seq there */
#define TP_HDR_GROUP		"tp-group"		/* whose it was */
#define TP_HDR_DELIVERIES	"tp-deliveries"		/* times delivered */
#define TP_HDR_REASON		"tp-reason"	/* "max-deliveries", "term" */
#define TP_HDR_ERROR		"tp-error"	/* last error, term reason */
#define TP_HDR_TRIGGER		"tp-trigger"	/* the trigger that gave up */
#define TP_HDR_ATTEMPTS		"tp-attempts"	/* its invocations */

struct tp_group_info {
	char		station[TP_NAME_MAX + 1];
	char		group[TP_NAME_MAX + 1];
	uint32_t	ack_wait_ms;
	int32_t		max_deliveries;	/* -1: no limit */
	uint32_t	max_ack_pending;
	uint64_t	ack_floor;	/* every seq <= it is acked */
	uint64_t	delivered_seq;	/* highest seq delivered */
	uint32_t	pending;	/* delivered, not yet acked */
	uint32_t	members;	/* consumers connected */
	uint64_t	lag;		/* stored messages not yet acked */
	uint64_t	redelivered;	/* redeliveries since created */
	uint64_t	dead_lettered;	/* moved to the dead-letter station */
	uint64_t	skipped;	/* removed by retention, undelivered */
	int64_t		created_ns;
};

/*
 * Create a consumer group before any consumer joins it; it holds its
 * position from then on. opts NULL: defaults. Returns TP_OK, TP_EEXIST,
 * TP_ENOSTATION, TP_EBADNAME, TP_EINVAL (bad start), or a storage or
 * connection error.
 */
int	tp_group_create(struct tp_conn *conn, const char *station,
	    const char *group, const struct tp_group_opts *opts,
	    struct tp_err *err);
/* Delete a group; its consumers are disconnected from it. */
int	tp_group_delete(struct tp_conn *conn, const char *station,
	    const char *group, struct tp_err *err);
/* Fill *out with a group's settings and position. TP_ENOSTATION if the
   station or the group does not exist. */
int	tp_group_info(struct tp_conn *conn, const char *station,
	    const char *group, struct tp_group_info *out, struct tp_err *err);
/*
 * The names of a group's connected consumers ("" for one without a name),
 * as the broker lists them. *names is an array of *n strings in one
 * block, freed with free() (NULL when *n is 0).
 */
int	tp_group_members(struct tp_conn *conn, const char *station,
	    const char *group, char ***names, size_t *n, struct tp_err *err);
/* A station's groups, by name; *out is freed with free(). */
int	tp_group_list(struct tp_conn *conn, const char *station,
	    struct tp_group_info **out, size_t *n, struct tp_err *err);
/*
 * Produce dead letters of station (from "<station>.dls") again to "to"
 * (NULL: the station each came from), without the dead-letter headers,
 * and remove them from the dead-letter station once stored. seqs (n
 * entries; n 0: all) are seqs in the dead-letter station. *count (NULL
 * allowed) receives how many were replayed.
 */
int	tp_dls_replay(struct tp_conn *conn, const char *station,
	    const char *to, const uint64_t *seqs, size_t n, uint32_t *count,
	    struct tp_err *err);
/* Remove every message of a station; its seqs keep counting up. */
int	tp_station_purge(struct tp_conn *conn, const char *name,
	    struct tp_err *err);

/* ---- function triggers ---- */

/*
 * A trigger invokes a function with the messages of a station as they are
 * stored, in batches, and settles them by its outcome: done on success
 * (the output produced to the on-success station, if any), retried with
 * backoff on failure, and sent to the on-failure station (by default the
 * dead-letter station) once the retries or the maximum age are spent. It
 * is a consumer group of the broker ("_trigger.<name>"), so its position
 * survives restarts. Trigger names are like station names, at most 119
 * characters. Each call below is one request on conn, which one thread at
 * a time may use; the broker answers once a change is stored.
 */
#define TP_TRIGGER_EXEC		1	/* a command, through /bin/sh -c */
#define TP_TRIGGER_HTTP		2	/* a webhook: POST to a URL */
#define TP_TRIGGER_LAMBDA	3	/* the Lambda Invoke API at a URL */

#define TP_MODE_STREAM		1	/* in order: one batch at a time,
					   per station or ordering key */
#define TP_MODE_ASYNC		2	/* batches concurrently, any order */

/* Which fields of a struct tp_trigger_config are given (or them). */
#define TP_TSET_TARGET			0x000001
#define TP_TSET_COMMAND			0x000002
#define TP_TSET_URL			0x000004
#define TP_TSET_FUNCTION		0x000008
#define TP_TSET_START			0x000010	/* create only */
#define TP_TSET_BATCH_SIZE		0x000020
#define TP_TSET_BATCH_WINDOW_MS		0x000040
#define TP_TSET_BATCH_MAX_BYTES		0x000080
#define TP_TSET_MODE			0x000100
#define TP_TSET_ORDERING_KEY		0x000200
#define TP_TSET_CONCURRENCY		0x000400
#define TP_TSET_TIMEOUT_MS		0x000800
#define TP_TSET_MAX_RETRIES		0x001000
#define TP_TSET_BACKOFF_INITIAL_MS	0x002000
#define TP_TSET_BACKOFF_MAX_MS		0x004000
#define TP_TSET_MAX_AGE_S		0x008000
#define TP_TSET_ITEM_FAILURES		0x010000
#define TP_TSET_BISECT_ON_ERROR		0x020000
#define TP_TSET_FILTERS			0x040000
#define TP_TSET_ON_FAILURE		0x080000
#define TP_TSET_ON_SUCCESS		0x100000
#define TP_TSET_ENABLED			0x200000
#define TP_TSET_ALL			0x3fffff

/*
 * The name of one TP_TSET_* setting as the protocol and the CLI's --json
 * output spell it ("batch_size"); NULL for anything but a single flag.
 * Any thread.
 */
const char *tp_trigger_field_name(uint64_t flag);

/*
 * A trigger's settings. Only the fields whose TP_TSET_* flag is in set
 * are sent: at creation the broker gives the others their default (shown
 * after each field), in an update they stay as they are. name is always
 * needed, station at creation only (it cannot change). Every pointer is
 * borrowed for the call; NULL strings are sent as "".
 */
struct tp_trigger_config {
	uint64_t		 set;		/* TP_TSET_* given */
	const char		*name;
	const char		*station;	/* create only */
	int			 target;	/* TP_TRIGGER_*, needed */
	const char		*command;	/* exec: run by /bin/sh -c */
	const char		*url;		/* http: webhook; lambda:
						   endpoint; http(s):// */
	const char		*function;	/* lambda: function name */
	const char		*start;		/* "new", "all", "seq:N",
						   "time:T", "last:N"; new */
	uint32_t		 batch_size;	/* messages, 1..10000; 10 */
	uint32_t		 batch_window_ms; /* wait to fill; 0 */
	uint32_t		 batch_max_bytes; /* payload; 6 MiB */
	int			 mode;		/* TP_MODE_*; stream */
	const char		*ordering_key;	/* header: order per its
						   value (stream); "" none */
	uint32_t		 concurrency;	/* invocations at once;
						   1 stream, 10 async */
	uint32_t		 timeout_ms;	/* of an invocation; 30000 */
	int32_t			 max_retries;	/* 2; -1: until max_age_s */
	uint32_t		 backoff_initial_ms; /* first retry; 1000 */
	uint32_t		 backoff_max_ms; /* doubling up to; 300000 */
	uint32_t		 max_age_s;	/* give up after; 0: never */
	int			 item_failures;	/* 1: retry only the items
						   a batch reply names; 0 */
	int			 bisect_on_error; /* 1: split failed batches;
						   0 */
	const char *const	*filters;	/* nfilters expressions that
						   must all match; none */
	size_t			 nfilters;
	const char		*on_failure;	/* station; "": the DLS */
	const char		*on_success;	/* station for the output;
						   "": none */
	int			 enabled;	/* 0: paused; 1 */
};

/*
 * A trigger as the broker reports it: its complete settings (config.set
 * is TP_TSET_ALL but TP_TSET_START, so config may be given as it is to
 * tp_trigger_update() or, renamed, to tp_trigger_create()) and figures.
 * Every string and the filter list are owned by the struct.
 */
struct tp_trigger_info {
	struct tp_trigger_config config;
	int64_t			 created_ns;	/* ns since the epoch */
	uint64_t		 position;	/* every seq <= it is done */
	uint64_t		 lag;		/* stored, not yet done */
	uint32_t		 in_flight;	/* invocations running now */
	uint32_t		 queued;	/* messages held, not invoked */
	/* Since the broker started: */
	uint64_t		 invocations;
	uint64_t		 successes;
	uint64_t		 failures;
	uint64_t		 retries;
	uint64_t		 dead_lettered;	/* messages given up on */
	uint64_t		 filtered;	/* messages filtered out */
	uint64_t		 messages;	/* messages done by a success */
	uint32_t		 p50_us;	/* invocation time, median */
	uint32_t		 p99_us;	/* 99th percentile */
	const char		*last_error;	/* "" if none */
	int64_t			 last_error_ns;	/* ns since the epoch, 0 */
};

/*
 * Create trigger cfg->name on cfg->station; it starts invoking at once
 * unless created disabled. Returns TP_OK, TP_EEXIST, TP_ENOSTATION,
 * TP_EBADNAME, TP_EINVAL (no or a bad target, a setting out of range, a
 * bad filter), TP_EBUSY (the broker's limit of triggers), a storage
 * error, or a connection error.
 */
int	tp_trigger_create(struct tp_conn *conn,
	    const struct tp_trigger_config *cfg, struct tp_err *err);
/*
 * Change the settings of trigger cfg->name given in cfg->set (not
 * TP_TSET_START); the others and its position stay. Returns TP_OK,
 * TP_ENOTRIGGER, TP_EBADNAME, TP_EINVAL (cfg->set 0, or a setting that
 * is bad, or bad together with those kept), a storage or connection
 * error.
 */
int	tp_trigger_update(struct tp_conn *conn,
	    const struct tp_trigger_config *cfg, struct tp_err *err);
/*
 * Delete a trigger and its position; invocations running are stopped.
 * Returns TP_OK, TP_ENOTRIGGER, TP_EBADNAME, a storage or connection
 * error.
 */
int	tp_trigger_delete(struct tp_conn *conn, const char *name,
	    struct tp_err *err);
/*
 * Stop invoking (what is not done waits) or start again from where it
 * stopped: an update of "enabled". Returns as tp_trigger_update().
 */
int	tp_trigger_pause(struct tp_conn *conn, const char *name,
	    struct tp_err *err);
int	tp_trigger_resume(struct tp_conn *conn, const char *name,
	    struct tp_err *err);
/*
 * On TP_OK, *out is a trigger's settings and figures, freed with
 * tp_trigger_info_free(). Returns TP_OK, TP_ENOTRIGGER, TP_EBADNAME,
 * TP_ENOMEM, or a connection error; *out is NULL on error.
 */
int	tp_trigger_info(struct tp_conn *conn, const char *name,
	    struct tp_trigger_info **out, struct tp_err *err);
void	tp_trigger_info_free(struct tp_trigger_info *info);
/*
 * The triggers of station, or of all stations if station is NULL, sorted
 * by name: *out is an array of *n entries (NULL when *n is 0) freed with
 * tp_trigger_list_free(*out, *n). Returns TP_OK, TP_EBADNAME, TP_ENOMEM,
 * or a connection error; a station without triggers, or none, gives 0.
 */
int	tp_trigger_list(struct tp_conn *conn, const char *station,
	    struct tp_trigger_info **out, size_t *n, struct tp_err *err);
void	tp_trigger_list_free(struct tp_trigger_info *v, size_t n);

/*
 * The sync model: store msg on station and wait for the result of the
 * station's trigger on it (its first enabled trigger by name). The broker
 * waits timeout_ms (0: 30000; at most 86400000) for the result, the
 * library that plus the connection's timeout for the reply. *out and
 * *outlen receive the function's output, which the caller frees with
 * free(): NULL and 0 when it gave none, else followed by a NUL not
 * counted in *outlen; out NULL drops it. Returns TP_OK (the function
 * succeeded), TP_EFUNCTION (it failed for good: err's message is its
 * error, truncated; any output is still returned), TP_ENOTRIGGER (the
 * station has no enabled trigger), TP_ENOSTATION, TP_ETIMEDOUT (no
 * result in time: the message is stored and still processed), TP_EINVAL,
 * TP_ETOOBIG, TP_ENOMEM, a storage or a connection error.
 */
int	tp_request(struct tp_conn *conn, const char *station,
	    const struct tp_message *msg, uint32_t timeout_ms, void **out,
	    size_t *outlen, struct tp_err *err);

#ifdef __cplusplus
}
#endif

#endif
