/*
 * tupelod: read the settings, open the data directory, load stations,
 * start the writer thread and the listener, run the loop. On SIGINT or
 * SIGTERM: stop accepting and reading, let the writer finish what it has
 * (so every accepted produce is acknowledged or refused), flush replies,
 * exit 0. On SIGHUP: reopen the log file, reload the reloadable
 * settings and the TLS certificate and key. SIGUSR1, SIGUSR2 and SIGALRM
 * are logged and ignored, so that a stray kill does not end the broker.
 * With --check, check a data directory instead and exit.
 */
#include <sys/eventfd.h>

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/check.h"
#include "broker/compress.h"
#include "broker/config.h"
#include "broker/conn.h"
#include "broker/dispatch.h"
#include "broker/fn_dir.h"
#include "broker/fn_exec.h"
#include "broker/fn_http.h"
#include "broker/group.h"
#include "broker/gstate.h"
#include "broker/invoke.h"
#include "broker/listener.h"
#include "broker/log.h"
#include "broker/retention.h"
#include "broker/station.h"
#include "broker/tls.h"
#include "broker/trigger.h"
#include "proto/error.h"
#include "storage/store.h"
#include "storage/wal.h"
#include "storage/writer.h"

#define MAIN_DRAIN_MS		20	/* shutdown check period */
#define MAIN_DRAIN_LIMIT_MS	10000	/* give up flushing after */

static struct event_base	*main_base;
static struct writer		*main_writer;
static struct event		*main_drain_ev;
static int			 main_notify_fd = -1;
static int			 main_drain_ms;
static int			 main_argc;	/* for SIGHUP's reload */
static char			**main_argv;

/* Signals a daemon is sent by mistake: logged, otherwise ignored. */
static const int		 main_ignored[] = { SIGUSR1, SIGUSR2, SIGALRM };
#define MAIN_NIGNORED	(sizeof main_ignored / sizeof main_ignored[0])

/* Writer thread: completions are ready. */
static void
main_notify(void *arg)
{
	uint64_t	one = 1;
	ssize_t		n;

	n = write(main_notify_fd, &one, sizeof one);
	(void)n;
}

/* Any thread: the store latched; every later write is refused. */
static void
main_store_failed(void *arg, int code, const char *why)
{
	(void)arg;
	log_error("storage failed (%s): %s; writes are refused until "
	    "tupelod is restarted", why, tp_strerror(code));
}

static void
main_completions_cb(evutil_socket_t fd, short events, void *arg)
{
	uint64_t	v;
	ssize_t		n;

	n = read(fd, &v, sizeof v);
	(void)n;
	writer_drain(main_writer);
}

static void
main_drain_cb(evutil_socket_t fd, short events, void *arg)
{
	struct timeval	tv = { 0, MAIN_DRAIN_MS * 1000 };

	writer_drain(main_writer);
	main_drain_ms += MAIN_DRAIN_MS;
	if ((writer_pending(main_writer) == 0 && conn_output_bytes() == 0) ||
	    main_drain_ms >= MAIN_DRAIN_LIMIT_MS) {
		event_base_loopexit(main_base, NULL);
		return;
	}
	evtimer_add(main_drain_ev, &tv);
}

static void
main_signal_cb(evutil_socket_t sig, short events, void *arg)
{
	struct timeval	tv = { 0, 0 };

	if (main_drain_ev != NULL) {
		log_info("second signal: exiting now");
		event_base_loopexit(main_base, NULL);
		return;
	}
	log_info("%s: finishing pending writes, then exiting",
	    sig == SIGINT ? "SIGINT" : "SIGTERM");
	listener_stop();
	dispatch_shutdown();
	conn_stop_all();
	main_drain_ev = evtimer_new(main_base, main_drain_cb, NULL);
	if (main_drain_ev == NULL)
		event_base_loopexit(main_base, NULL);
	else
		evtimer_add(main_drain_ev, &tv);
}

/* Lines config_reload() reports go to the log. */
static void
main_config_report(int level, const char *line)
{
	switch (level) {
	case CONFIG_REPORT_ERROR:
		log_error("%s", line);
		break;
	case CONFIG_REPORT_WARN:
		log_warn("%s", line);
		break;
	default:
		log_info("%s", line);
		break;
	}
}

/*
 * SIGHUP: first reopen the log file at its path (logrotate has renamed
 * it), so that what the reload says lands in the new file; then read the
 * config file and the command line again. Options marked reloadable take
 * effect; a changed log-file or log-level is applied here, the others are
 * read where they are used. A file with errors changes nothing.
 */
static void
main_hup_cb(evutil_socket_t sig, short events, void *arg)
{
	struct config	*cfg = arg;
	char		*old_file;
	int		 old_level = (int)cfg->log_level, applied;

	log_info("SIGHUP: reopening the log, reloading %s",
	    cfg->config_file);
	if (log_open(old_level, cfg->log_file) != 0)
		log_error("cannot reopen the log file %s: %s; logging on to "
		    "the file already open", cfg->log_file, strerror(errno));
	if ((old_file = strdup(cfg->log_file)) == NULL) {
		log_error("out of memory: configuration not reloaded");
		return;
	}
	if (config_reload(cfg, main_argc, main_argv, &applied) != 0)
		goto out;
	if (strcmp(old_file, cfg->log_file) != 0 &&
	    log_open((int)cfg->log_level, cfg->log_file) != 0) {
		log_error("cannot open the log file %s: %s; logging on to "
		    "%s", cfg->log_file, strerror(errno),
		    *old_file != '\0' ? old_file : "stderr");
		free(cfg->log_file);
		cfg->log_file = old_file;
		old_file = NULL;
	}
	log_set_level((int)cfg->log_level);
	/* The files may be new even where their names are not. */
	tls_reload(cfg);
	log_info("configuration reloaded%s: %d change%s applied",
	    cfg->config_missing ? " (no config file)" : "", applied,
	    applied == 1 ? "" : "s");
out:
	free(old_file);
}

static void
main_ignore_cb(evutil_socket_t sig, short events, void *arg)
{
	log_info("%s ignored (tupelod acts on SIGHUP, SIGINT and SIGTERM)",
	    sig == SIGUSR1 ? "SIGUSR1" : sig == SIGUSR2 ? "SIGUSR2" :
	    "SIGALRM");
}

int
main(int argc, char **argv)
{
	struct config		 cfg;
	struct store_opts	 sopts;
	struct store		*store = NULL;
	struct event		*ev_int, *ev_term, *ev_hup, *ev_notify;
	struct event		*ev_ignored[MAIN_NIGNORED];
	struct tp_err		 err;
	size_t			 i;
	int			 r;

	if ((r = config_load(&cfg, argc, argv)) != 0) {
		config_free(&cfg);
		return (r == 1 ? 0 : 2);
	}
	if (cfg.check_dir != NULL) {
		r = check_run(cfg.check_dir, stdout);
		config_free(&cfg);
		return (r);
	}
	main_argc = argc;
	main_argv = argv;
	signal(SIGPIPE, SIG_IGN);
	/* Until the loop's signal events exist, a reload waits for none. */
	signal(SIGHUP, SIG_IGN);
	for (i = 0; i < MAIN_NIGNORED; i++)
		signal(main_ignored[i], SIG_IGN);
	if (log_open((int)cfg.log_level, cfg.log_file) != 0) {
		fprintf(stderr, "tupelod: cannot open log file %s: %s\n",
		    cfg.log_file, strerror(errno));
		return (1);
	}
	config_set_report(main_config_report);
	if ((main_base = event_base_new()) == NULL) {
		log_error("cannot create the event loop");
		return (1);
	}
	memset(&sopts, 0, sizeof sopts);
	sopts.map_size = cfg.map_size;
	sopts.map_max = cfg.max_data_size;
	sopts.max_stations = (unsigned)cfg.max_stations;
	sopts.wal_size = cfg.wal_size;
	if (sopts.map_max != 0 && sopts.map_size > sopts.map_max)
		sopts.map_size = sopts.map_max;
	if (store_open(cfg.data_dir, &sopts, &store, &err) != TP_OK) {
		log_error("%s", err.message);
		return (1);
	}
	store_on_fail(store, main_store_failed, NULL);
	if (wal_replayed(store_wal(store)) != 0)
		log_info("replayed %llu frame%s of the write-ahead log",
		    (unsigned long long)wal_replayed(store_wal(store)),
		    wal_replayed(store_wal(store)) == 1 ? "" : "s");
	main_notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (main_notify_fd == -1) {
		log_error("eventfd: %s", strerror(errno));
		return (1);
	}
	if (writer_open(store, (unsigned)cfg.flush_interval_ms, main_notify,
	    NULL, &main_writer, &err) != TP_OK) {
		log_error("%s", err.message);
		return (1);
	}
	group_start(main_base);
	gstate_start(main_base);
	if (station_start(store, main_writer, &cfg, &err) != TP_OK) {
		log_error("%s", err.message);
		return (1);
	}
	ev_notify = event_new(main_base, main_notify_fd, EV_READ | EV_PERSIST,
	    main_completions_cb, NULL);
	ev_int = evsignal_new(main_base, SIGINT, main_signal_cb, NULL);
	ev_term = evsignal_new(main_base, SIGTERM, main_signal_cb, NULL);
	ev_hup = evsignal_new(main_base, SIGHUP, main_hup_cb, &cfg);
	if (ev_notify == NULL || ev_int == NULL || ev_term == NULL ||
	    ev_hup == NULL) {
		log_error("cannot register events");
		return (1);
	}
	event_add(ev_notify, NULL);
	event_add(ev_int, NULL);
	event_add(ev_term, NULL);
	event_add(ev_hup, NULL);
	for (i = 0; i < MAIN_NIGNORED; i++) {
		ev_ignored[i] = evsignal_new(main_base, main_ignored[i],
		    main_ignore_cb, NULL);
		if (ev_ignored[i] == NULL) {
			log_error("cannot register events");
			return (1);
		}
		event_add(ev_ignored[i], NULL);
	}
	if (conn_start(main_base, &cfg) != TP_OK) {
		log_error("out of memory");
		return (1);
	}
	dispatch_start(&cfg);
	fn_dir_start(&cfg);
	invoke_start(main_base);
	if (fn_exec_start(main_base, &err) != TP_OK ||
	    fn_http_start(main_base, &err) != TP_OK ||
	    trigger_start(main_base, store, main_writer, &err) != TP_OK) {
		log_error("%s", err.message);
		return (1);
	}
	if (retention_start(main_base) != TP_OK) {
		log_error("cannot start the retention timer");
		return (1);
	}
	/*
	 * The TLS listener first: whoever waits for the log's "listening
	 * on" lines then knows both ports once the plain one is there.
	 */
	if (tls_start(&cfg, &err) != TP_OK ||
	    (*cfg.tls_listen != '\0' && listener_start(main_base,
	    cfg.tls_listen, 1, &err) != TP_OK) ||
	    listener_start(main_base, cfg.listen, 0, &err) != TP_OK) {
		log_error("%s", err.message);
		return (1);
	}
	log_info("tupelod %s data_dir=%s durability=%s config=%s",
	    TP_VERSION_STRING, cfg.data_dir,
	    config_durability_name(cfg.durability), cfg.config_missing ?
	    "none" : cfg.config_file);

	event_base_dispatch(main_base);

	/*
	 * Connections first: closing them may still queue group saves.
	 * The writer then finishes everything and runs the completions
	 * while stations and groups exist; only then are they freed.
	 */
	listener_stop();
	retention_stop();
	/* Running functions are killed; what they held stays unacked. */
	trigger_stop();
	invoke_stop();
	fn_exec_stop();
	fn_http_stop();
	conn_close_all();
	tls_stop();
	/* The deferred saves of groups, before the writer finishes. */
	gstate_stop();
	event_del(ev_notify);
	writer_close(main_writer);
	/* Run the deferred frees of the closed connections. */
	event_base_loop(main_base, EVLOOP_NONBLOCK);
	station_stop();
	compress_stop();
	store_close(store);
	event_free(ev_notify);
	event_free(ev_int);
	event_free(ev_term);
	event_free(ev_hup);
	for (i = 0; i < MAIN_NIGNORED; i++)
		event_free(ev_ignored[i]);
	if (main_drain_ev != NULL)
		event_free(main_drain_ev);
	event_base_free(main_base);
	close(main_notify_fd);
	log_info("stopped");
	log_close();
	config_free(&cfg);
	return (0);
}
