/*
 * tupelod's settings: one options table drives the defaults, the config
 * file (tupelod.conf(5)), the command line, --help, --dump-config and what
 * SIGHUP reloads.
 */
#ifndef TP_BROKER_CONFIG_H
#define TP_BROKER_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#define CONFIG_DURABILITY_SYNC		1
#define CONFIG_DURABILITY_INTERVAL	2

/* Levels of reported lines: those of broker/log. */
#define CONFIG_REPORT_ERROR	0
#define CONFIG_REPORT_WARN	1
#define CONFIG_REPORT_INFO	2

/* Every setting, filled from the table; strings are owned. */
struct config {
	char		*config_file;	/* -c, or CONFIG_FILE_DEFAULT */
	int		 config_optional; /* the default: may be missing */
	int		 config_missing;  /* it was, at the last load */
	char		*check_dir;	/* --check, NULL: serve */
	char		*data_dir;	/* -d */
	char		*listen;	/* -l, HOST:PORT */
	char		*tls_listen;	/* HOST:PORT, "": no TLS */
	char		*tls_cert;	/* PEM certificate chain */
	char		*tls_key;	/* PEM private key */
	char		*tls_ca;	/* PEM CAs of clients, "": none */
	char		*log_file;	/* NULL or "": stderr */
	uint64_t	 log_level;	/* LOG_LEVEL_*, plus -v */
	uint64_t	 max_message_size;	/* bytes of payload */
	uint64_t	 max_frame_size;	/* bytes of one frame */
	uint64_t	 max_connections;
	uint64_t	 durability;		/* CONFIG_DURABILITY_* */
	uint64_t	 flush_interval_ms;
	uint64_t	 map_size;		/* initial LMDB map, bytes */
	uint64_t	 max_data_size;		/* map cap, 0: none */
	uint64_t	 wal_size;		/* write-ahead log ring */
	uint64_t	 max_stations;
	uint64_t	 conn_buffer;		/* output bytes per conn */
	uint64_t	 conn_inflight;		/* unacked produce bytes/conn */
	uint64_t	 max_unacked;		/* default consumer credit */
	uint64_t	 dedup_window_s;	/* default message id window */
	uint64_t	 ack_wait_ms;		/* default group ack wait */
	uint64_t	 max_deliveries;	/* default, 0: no limit */
	uint64_t	 max_ack_pending;	/* default per group */
	uint64_t	 exec_triggers;		/* FN_DIR_OFF, _NAMED, _ANY */
	char		*functions_dir;		/* exec functions live here */
	char		*exec_env;		/* names passed to them */
};

/*
 * Where config_load() and config_reload() report: a CONFIG_REPORT_* level
 * and one line without a newline. NULL (the default): "tupelod: LINE" on
 * stderr.
 */
typedef void (*config_report_cb)(int, const char *);
void	config_set_report(config_report_cb);

/*
 * Fill cfg from defaults, the config file and argv. Returns 0 to run (or,
 * with check_dir set, to check), 1 when --help, --version or --dump-config
 * was printed (exit 0), 2 on usage or config errors, already reported.
 */
int	config_load(struct config *, int, char **);
/*
 * SIGHUP: read the same config file and argv again. On errors (reported
 * with file:line) cfg is unchanged and 2 is returned. Otherwise each
 * reloadable option that changed is copied into cfg and reported, each
 * other one that changed is reported as needing a restart and kept, and
 * *applied counts the options copied; returns 0.
 */
int	config_reload(struct config *, int, char **, int *);
void	config_free(struct config *);
/* Print the usage lines (the man page SYNOPSIS) to f. */
void	config_usage(FILE *);
/* Name of a durability value. */
const char *config_durability_name(uint64_t);

#endif
