/*
 * The options table. Each row: name, type, bounds, default (as text, the
 * same parser reads it), whether SIGHUP may change it, help. Precedence:
 * defaults < config file < command line, at start and on reload. Config
 * errors are all reported with file:line; at start tupelod then exits 2,
 * on reload nothing changes.
 *
 * An option is reloadable when everything that uses it reads it from the
 * one struct config at the time of use, on the loop thread, and a new
 * value is valid for what already exists: limits checked per accept, per
 * write or per subscribe, and defaults of stations and groups. Sizes the
 * storage was opened with, the listener, the writer thread's period and
 * the frame limits clients learned in their hello need a restart.
 */
#include "broker/config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "client/tupelo/tupelo.h"
#include "proto/compat.h"

/* The file read without -c; a missing one is no error. */
#ifndef CONFIG_FILE_DEFAULT
#define CONFIG_FILE_DEFAULT	SYSCONFDIR "/tupelod.conf"
#endif

enum config_type {
	CONFIG_STRING,
	CONFIG_NUMBER,		/* plain integer */
	CONFIG_SIZE,		/* integer with optional K, M, G suffix */
	CONFIG_CHOICE,		/* one word of choices, stored as index+1 */
};

struct config_option {
	const char		*name;
	enum config_type	 type;
	int			 flag;		/* short option or 0 */
	uint64_t		 min, max;
	const char		*def;
	const char		*const *choices;
	size_t			 offset;
	int			 reload;	/* CONFIG_RELOAD or _RESTART */
	const char		*help;
};

#define CONFIG_RESTART	0	/* a change needs a restart */
#define CONFIG_RELOAD	1	/* SIGHUP applies a change */

static const char *const config_levels[] = {
	"error", "warn", "info", "debug", NULL
};
static const char *const config_durabilities[] = { "sync", "interval", NULL };
static const char *const config_exec_modes[] = { "off", "named", "any", NULL };

#define OFF(f)	offsetof(struct config, f)
#define MIB	(1024ULL * 1024)

/* getopt_long values of the modes: no short option, not in the table. */
#define CONFIG_OPT_CHECK	256
#define CONFIG_OPT_DUMP		257

static config_report_cb	config_report_fn;	/* NULL: stderr */

static const struct config_option config_table[] = {
	{ "data-dir", CONFIG_STRING, 'd', 0, 0, "./tupelo-data", NULL,
	  OFF(data_dir), CONFIG_RESTART,
	  "data directory (created if missing)" },
	{ "listen", CONFIG_STRING, 'l', 0, 0, "127.0.0.1:6666", NULL,
	  OFF(listen), CONFIG_RESTART,
	  "HOST:PORT of the protocol, on every address of HOST (port 0: "
	  "any)" },
	{ "tls-listen", CONFIG_STRING, 0, 0, 0, "", NULL,
	  OFF(tls_listen), CONFIG_RESTART,
	  "HOST:PORT of the protocol over TLS (\"\": none); needs tls-cert "
	  "and tls-key" },
	{ "tls-cert", CONFIG_STRING, 0, 0, 0, "", NULL,
	  OFF(tls_cert), CONFIG_RELOAD,
	  "PEM file of the TLS certificate (and its chain); SIGHUP reads it "
	  "again" },
	{ "tls-key", CONFIG_STRING, 0, 0, 0, "", NULL,
	  OFF(tls_key), CONFIG_RELOAD,
	  "PEM file of the private key of tls-cert; SIGHUP reads it again" },
	{ "tls-ca", CONFIG_STRING, 0, 0, 0, "", NULL,
	  OFF(tls_ca), CONFIG_RELOAD,
	  "PEM file of CAs: TLS clients must present a certificate signed "
	  "by one (\"\": no client certificates)" },
	{ "log-file", CONFIG_STRING, 0, 0, 0, "", NULL,
	  OFF(log_file), CONFIG_RELOAD,
	  "append the log to this file (\"\": stderr); SIGHUP reopens it" },
	{ "log-level", CONFIG_CHOICE, 0, 0, 0, "info", config_levels,
	  OFF(log_level), CONFIG_RELOAD,
	  "error, warn, info or debug; each -v is one more" },
	{ "max-message-size", CONFIG_SIZE, 0, 1, 64 * MIB, "1M", NULL,
	  OFF(max_message_size), CONFIG_RESTART,
	  "largest payload a station accepts" },
	{ "max-frame-size", CONFIG_SIZE, 0, 64 * 1024, 256 * MIB, "8M", NULL,
	  OFF(max_frame_size), CONFIG_RESTART,
	  "largest protocol frame accepted" },
	{ "max-connections", CONFIG_NUMBER, 0, 1, 1000000, "1024", NULL,
	  OFF(max_connections), CONFIG_RELOAD,
	  "client connections served at once" },
	{ "durability", CONFIG_CHOICE, 0, 0, 0, "sync", config_durabilities,
	  OFF(durability), CONFIG_RELOAD,
	  "default for stations: sync (fsync before ack) or interval" },
	{ "flush-interval", CONFIG_NUMBER, 0, 1, 60000, "100", NULL,
	  OFF(flush_interval_ms), CONFIG_RESTART,
	  "ms between flushes of interval stations" },
	{ "map-size", CONFIG_SIZE, 0, MIB, 1ULL << 40, "256M", NULL,
	  OFF(map_size), CONFIG_RESTART,
	  "initial LMDB map size; grows when full" },
	{ "max-data-size", CONFIG_SIZE, 0, 0, 1ULL << 50, "0", NULL,
	  OFF(max_data_size), CONFIG_RESTART,
	  "cap on the data file, 0: none" },
	{ "wal-size", CONFIG_SIZE, 0, MIB, 1ULL << 40, "64M", NULL,
	  OFF(wal_size), CONFIG_RESTART,
	  "size of the write-ahead log, written out in full when made; a "
	  "change remakes it at the next start" },
	{ "max-stations", CONFIG_NUMBER, 0, 1, 32000, "1024", NULL,
	  OFF(max_stations), CONFIG_RESTART,
	  "stations in one data directory" },
	{ "conn-buffer", CONFIG_SIZE, 0, 64 * 1024, 1ULL << 30, "4M", NULL,
	  OFF(conn_buffer), CONFIG_RELOAD,
	  "output a connection may queue before the broker stops reading "
	  "from it" },
	{ "conn-inflight", CONFIG_SIZE, 0, 64 * 1024, 1ULL << 30, "16M", NULL,
	  OFF(conn_inflight), CONFIG_RELOAD,
	  "produce bytes a connection may have waiting for storage" },
	{ "max-unacked", CONFIG_NUMBER, 0, 1, 1000000, "1000", NULL,
	  OFF(max_unacked), CONFIG_RELOAD,
	  "deliveries in flight per consumer by default" },
	{ "dedup-window", CONFIG_NUMBER, 0, 0, 86400, "120", NULL,
	  OFF(dedup_window_s), CONFIG_RELOAD,
	  "seconds a producer message id is remembered by default" },
	{ "ack-wait", CONFIG_NUMBER, 0, 1, 86400000, "30000", NULL,
	  OFF(ack_wait_ms), CONFIG_RELOAD,
	  "ms before an unacked delivery is redelivered, by default" },
	{ "max-deliveries", CONFIG_NUMBER, 0, 0, 1000000, "5", NULL,
	  OFF(max_deliveries), CONFIG_RELOAD,
	  "deliveries before a message is dead-lettered, by default (0: no "
	  "limit)" },
	{ "max-ack-pending", CONFIG_NUMBER, 0, 1, 1000000, "10000", NULL,
	  OFF(max_ack_pending), CONFIG_RELOAD,
	  "unacked deliveries per group, by default" },
	{ "exec-triggers", CONFIG_CHOICE, 0, 0, 0, "named", config_exec_modes,
	  OFF(exec_triggers), CONFIG_RESTART,
	  "off; named: exec triggers run executables of functions-dir by "
	  "name; any: also command strings, through /bin/sh -c (one trusted "
	  "user only)" },
	{ "functions-dir", CONFIG_STRING, 0, 0, 0, "./functions", NULL,
	  OFF(functions_dir), CONFIG_RELOAD,
	  "directory of the executables exec triggers may name" },
	{ "exec-env", CONFIG_STRING, 0, 0, 0, "", NULL,
	  OFF(exec_env), CONFIG_RELOAD,
	  "names of tupelod's environment variables that exec functions "
	  "get, separated by commas (they get no others but TUPELO_* and "
	  "PATH)" },
};
#define CONFIG_N	(sizeof config_table / sizeof config_table[0])

static int
config_parse_number(const char *s, int size, uint64_t *out)
{
	unsigned long long	 v;
	char			*end;
	uint64_t		 mult = 1;

	if (!isdigit((unsigned char)*s))
		return (-1);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return (-1);
	if (size && *end != '\0' && end[1] == '\0') {
		switch (toupper((unsigned char)*end)) {
		case 'K':
			mult = 1024;
			break;
		case 'M':
			mult = MIB;
			break;
		case 'G':
			mult = 1024 * MIB;
			break;
		default:
			return (-1);
		}
		end++;
	}
	if (*end != '\0' || (v != 0 && UINT64_MAX / mult < v))
		return (-1);
	*out = v * mult;
	return (0);
}

/* Set one option from text; on error, fill why and return -1. */
static int
config_set(struct config *cfg, const struct config_option *o,
    const char *value, char *why, size_t len)
{
	void		*field = (char *)cfg + o->offset;
	uint64_t	 v;
	char		*copy;
	size_t		 i;

	switch (o->type) {
	case CONFIG_STRING:
		if ((copy = strdup(value)) == NULL) {
			snprintf(why, len, "out of memory");
			return (-1);
		}
		free(*(char **)field);
		*(char **)field = copy;
		return (0);
	case CONFIG_CHOICE:
		for (i = 0; o->choices[i] != NULL; i++) {
			if (strcmp(o->choices[i], value) == 0) {
				/* log-level stores the index, others i+1 */
				*(uint64_t *)field = o->offset ==
				    OFF(log_level) ? i : i + 1;
				return (0);
			}
		}
		snprintf(why, len, "%s: \"%s\" is not one of the choices",
		    o->name, value);
		return (-1);
	case CONFIG_NUMBER:
	case CONFIG_SIZE:
		if (config_parse_number(value, o->type == CONFIG_SIZE,
		    &v) != 0) {
			snprintf(why, len, "%s: \"%s\" is not a %s", o->name,
			    value, o->type == CONFIG_SIZE ?
			    "size (number, optional K, M or G)" : "number");
			return (-1);
		}
		if (v < o->min || v > o->max) {
			snprintf(why, len, "%s: %s is out of range %llu..%llu",
			    o->name, value, (unsigned long long)o->min,
			    (unsigned long long)o->max);
			return (-1);
		}
		*(uint64_t *)field = v;
		return (0);
	}
	return (-1);
}

static const struct config_option *
config_find(const char *name)
{
	size_t	i;

	for (i = 0; i < CONFIG_N; i++) {
		if (strcmp(config_table[i].name, name) == 0)
			return (&config_table[i]);
	}
	return (NULL);
}

void
config_set_report(config_report_cb cb)
{
	config_report_fn = cb;
}

static void TP_PRINTF(2, 3)
config_report(int level, const char *fmt, ...)
{
	char	line[1024];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (config_report_fn != NULL)
		config_report_fn(level, line);
	else
		fprintf(stderr, "tupelod: %s\n", line);
}

/*
 * Read "name = value" lines; returns the number of errors reported. The
 * default file (optional) may be missing: cfg->config_missing says so.
 */
static int
config_read_file(struct config *cfg, const char *path, int optional)
{
	const struct config_option	*o;
	FILE				*f;
	char				 line[4096], why[512], *p, *eq, *end;
	int				 lineno = 0, errors = 0;

	cfg->config_missing = 0;
	if ((f = fopen(path, "r")) == NULL) {
		if (optional && errno == ENOENT) {
			cfg->config_missing = 1;
			return (0);
		}
		config_report(CONFIG_REPORT_ERROR, "%s: %s", path,
		    strerror(errno));
		return (1);
	}
	while (fgets(line, sizeof line, f) != NULL) {
		lineno++;
		p = line + strspn(line, " \t");
		p[strcspn(p, "#\r\n")] = '\0';
		end = p + strlen(p);
		while (end > p && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (*p == '\0')
			continue;
		if ((eq = strchr(p, '=')) == NULL) {
			config_report(CONFIG_REPORT_ERROR, "%s:%d: expected "
			    "name = value", path, lineno);
			errors++;
			continue;
		}
		end = eq;
		while (end > p && isspace((unsigned char)end[-1]))
			end--;
		*end = '\0';
		eq++;
		eq += strspn(eq, " \t");
		/* "" is the empty string, as --dump-config writes it. */
		if (strcmp(eq, "\"\"") == 0)
			*eq = '\0';
		if ((o = config_find(p)) == NULL) {
			config_report(CONFIG_REPORT_ERROR, "%s:%d: unknown "
			    "option %s", path, lineno, p);
			errors++;
		} else if (config_set(cfg, o, eq, why, sizeof why) != 0) {
			config_report(CONFIG_REPORT_ERROR, "%s:%d: %s", path,
			    lineno, why);
			errors++;
		}
	}
	if (ferror(f)) {
		config_report(CONFIG_REPORT_ERROR, "%s: %s", path,
		    strerror(errno));
		errors++;
	}
	fclose(f);
	return (errors);
}

void
config_usage(FILE *f)
{
	fprintf(f, "usage: tupelod [-hvV] [-c file] [-d data_dir] "
	    "[-l addr:port]\n"
	    "               [--option value ...] [--dump-config]\n"
	    "       tupelod --check data_dir\n");
}

/* The current value of an option, as the config file would write it. */
static void
config_value(const struct config *cfg, const struct config_option *o,
    char *buf, size_t len)
{
	const void	*field = (const char *)cfg + o->offset;
	uint64_t	 v;

	switch (o->type) {
	case CONFIG_STRING:
		snprintf(buf, len, "%s", *(char *const *)field != NULL &&
		    **(char *const *)field != '\0' ? *(char *const *)field :
		    "\"\"");
		return;
	case CONFIG_CHOICE:
		v = *(const uint64_t *)field;
		if (o->offset != OFF(log_level))
			v--;
		snprintf(buf, len, "%s", o->choices[v]);
		return;
	case CONFIG_SIZE:
		v = *(const uint64_t *)field;
		if (v != 0 && v % (1024 * MIB) == 0)
			snprintf(buf, len, "%lluG", (unsigned long long)(v /
			    (1024 * MIB)));
		else if (v != 0 && v % MIB == 0)
			snprintf(buf, len, "%lluM", (unsigned long long)(v /
			    MIB));
		else if (v != 0 && v % 1024 == 0)
			snprintf(buf, len, "%lluK", (unsigned long long)(v /
			    1024));
		else
			snprintf(buf, len, "%llu", (unsigned long long)v);
		return;
	case CONFIG_NUMBER:
		snprintf(buf, len, "%llu",
		    (unsigned long long)*(const uint64_t *)field);
		return;
	}
}

/* Do a and b hold the same value of option o? */
static int
config_equal(const struct config *a, const struct config *b,
    const struct config_option *o)
{
	const void	*fa = (const char *)a + o->offset;
	const void	*fb = (const char *)b + o->offset;
	const char	*sa, *sb;

	if (o->type != CONFIG_STRING)
		return (*(const uint64_t *)fa == *(const uint64_t *)fb);
	sa = *(char *const *)fa;
	sb = *(char *const *)fb;
	return (strcmp(sa != NULL ? sa : "", sb != NULL ? sb : "") == 0);
}

static void
config_help(const struct config *cfg)
{
	const struct config_option	*o;
	char				 value[256];
	size_t				 i, j;

	config_usage(stdout);
	printf("\nThe Tupelo message broker.\n\n"
	    "  -c, --config FILE  read settings from FILE (tupelod.conf(5));\n"
	    "                     without -c, from %s if it exists\n"
	    "  -v, --verbose      log one level more (repeatable)\n"
	    "  -h, --help         show this help\n"
	    "  -V, --version      show the version\n"
	    "      --dump-config  print the settings in force in the form of "
	    "a config file\n"
	    "                     (those at their default commented out), "
	    "and exit\n"
	    "      --check DIR    check the data directory DIR, change "
	    "nothing, and exit:\n"
	    "                     0 sound, 1 problems found (listed on "
	    "stdout)\n\n"
	    "Options (in the config file: name = value); the values shown\n"
	    "are those in force, after the config file; SIGHUP applies a\n"
	    "change of those marked (reloadable):\n", CONFIG_FILE_DEFAULT);
	for (i = 0; i < CONFIG_N; i++) {
		o = &config_table[i];
		if (o->flag != 0)
			printf("  -%c, --%s", o->flag, o->name);
		else
			printf("  --%s", o->name);
		if (o->type == CONFIG_CHOICE) {
			printf(" ");
			for (j = 0; o->choices[j] != NULL; j++)
				printf("%s%s", j ? "|" : "", o->choices[j]);
		} else
			printf(" %s", o->type == CONFIG_STRING ? "TEXT" :
			    o->type == CONFIG_SIZE ? "SIZE" : "N");
		config_value(cfg, o, value, sizeof value);
		printf(" [%s]%s\n      %s\n", value, o->reload ==
		    CONFIG_RELOAD ? " (reloadable)" : "", o->help);
	}
}

static int
config_defaults(struct config *cfg)
{
	char	why[512];
	size_t	i;

	memset(cfg, 0, sizeof *cfg);
	for (i = 0; i < CONFIG_N; i++) {
		if (config_set(cfg, &config_table[i], config_table[i].def,
		    why, sizeof why) != 0) {
			config_report(CONFIG_REPORT_ERROR, "default %s", why);
			return (-1);
		}
	}
	return (0);
}

/*
 * --dump-config: every option as a config file line, with its help above
 * it; an option at its default is commented out. With -c /dev/null this is
 * the example config the build installs.
 */
static int
config_dump(const struct config *cfg)
{
	const struct config_option	*o;
	struct config			 def;
	char				 value[256];
	size_t				 i;

	if (config_defaults(&def) != 0)
		return (-1);
	printf("# tupelod.conf: settings of tupelod(8); the format is in "
	    "tupelod.conf(5).\n"
	    "# Each line is \"name = value\"; the command line "
	    "(--name value) wins over it.\n"
	    "# Lines commented out show the built-in defaults. SIGHUP "
	    "applies a change\n"
	    "# of the options marked (reloadable); the others need a "
	    "restart.\n");
	for (i = 0; i < CONFIG_N; i++) {
		o = &config_table[i];
		config_value(cfg, o, value, sizeof value);
		printf("\n# %s%s\n%s%s = %s\n", o->help, o->reload ==
		    CONFIG_RELOAD ? " (reloadable)" : "",
		    config_equal(cfg, &def, o) ? "#" : "", o->name, value);
	}
	config_free(&def);
	return (0);
}

int
config_load(struct config *cfg, int argc, char **argv)
{
	static struct option	 longopts[CONFIG_N + 7];
	const struct config_option *o;
	char			 why[512];
	int			 ch, idx, verbose = 0, errors = 0, help = 0;
	int			 dump = 0;
	size_t			 i, n = 0;

	if (config_defaults(cfg) != 0)
		return (2);
	longopts[n++] = (struct option){ "config", required_argument, NULL,
	    'c' };
	longopts[n++] = (struct option){ "verbose", no_argument, NULL, 'v' };
	longopts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[n++] = (struct option){ "version", no_argument, NULL, 'V' };
	for (i = 0; i < CONFIG_N; i++)
		longopts[n++] = (struct option){ config_table[i].name,
		    required_argument, NULL, 0 };
	longopts[n++] = (struct option){ "check", required_argument, NULL,
	    CONFIG_OPT_CHECK };
	longopts[n++] = (struct option){ "dump-config", no_argument, NULL,
	    CONFIG_OPT_DUMP };
	longopts[n] = (struct option){ NULL, 0, NULL, 0 };

	/* First pass: only -c, -h, -V, so the file comes before argv. */
	opterr = 0;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "c:d:hl:vV", longopts,
	    &idx)) != -1) {
		if (ch == 'c' && config_set(cfg, &(struct config_option){
		    "config", CONFIG_STRING, 'c', 0, 0, "", NULL,
		    OFF(config_file), CONFIG_RESTART, "" }, optarg, why,
		    sizeof why) != 0)
			return (2);
		if (ch == 'h')
			help = 1;
		if (ch == 'V') {
			printf("tupelod %s\n", TP_VERSION_STRING);
			return (1);
		}
	}
	if (cfg->config_file == NULL) {
		if ((cfg->config_file = strdup(CONFIG_FILE_DEFAULT)) == NULL) {
			config_report(CONFIG_REPORT_ERROR, "out of memory");
			return (2);
		}
		cfg->config_optional = 1;
	}
	if (config_read_file(cfg, cfg->config_file,
	    cfg->config_optional) != 0)
		return (2);
	if (help) {
		config_help(cfg);
		return (1);
	}

	opterr = 1;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "c:d:hl:vV", longopts,
	    &idx)) != -1) {
		o = NULL;
		switch (ch) {
		case 0:
			o = &config_table[idx - 4];
			break;
		case 'd':
			o = config_find("data-dir");
			break;
		case 'l':
			o = config_find("listen");
			break;
		case 'v':
			verbose++;
			break;
		case 'c':
			break;
		case CONFIG_OPT_CHECK:
			free(cfg->check_dir);
			if ((cfg->check_dir = strdup(optarg)) == NULL) {
				config_report(CONFIG_REPORT_ERROR,
				    "out of memory");
				errors++;
			}
			break;
		case CONFIG_OPT_DUMP:
			dump = 1;
			break;
		default:
			config_usage(stderr);
			return (2);
		}
		if (o != NULL && config_set(cfg, o, optarg, why,
		    sizeof why) != 0) {
			config_report(CONFIG_REPORT_ERROR, "%s", why);
			errors++;
		}
	}
	if (optind < argc) {
		config_report(CONFIG_REPORT_ERROR, "unexpected argument: %s",
		    argv[optind]);
		config_usage(stderr);
		return (2);
	}
	cfg->log_level += (uint64_t)verbose;
	if (cfg->log_level > 3)
		cfg->log_level = 3;
	if (cfg->max_frame_size < cfg->max_message_size + 64 * 1024) {
		config_report(CONFIG_REPORT_ERROR, "max-frame-size must be at "
		    "least max-message-size + 64K");
		errors++;
	}
	if (errors != 0)
		return (2);
	if (dump)
		return (config_dump(cfg) == 0 ? 1 : 2);
	return (0);
}

int
config_reload(struct config *cfg, int argc, char **argv, int *applied)
{
	const struct config_option	*o;
	struct config			 nc;
	char				 was[256], now[256], *tmp, **a, **b;
	uint64_t			*u;
	size_t				 i;

	*applied = 0;
	if (config_load(&nc, argc, argv) != 0) {
		config_free(&nc);
		config_report(CONFIG_REPORT_ERROR, "%s not reloaded: the "
		    "settings in force stay", cfg->config_file);
		return (2);
	}
	cfg->config_missing = nc.config_missing;
	for (i = 0; i < CONFIG_N; i++) {
		o = &config_table[i];
		if (config_equal(cfg, &nc, o))
			continue;
		config_value(cfg, o, was, sizeof was);
		config_value(&nc, o, now, sizeof now);
		if (o->reload != CONFIG_RELOAD) {
			config_report(CONFIG_REPORT_WARN, "%s changed from %s "
			    "to %s: that needs a restart; %s stays in force",
			    o->name, was, now, was);
			continue;
		}
		if (o->type == CONFIG_STRING) {
			a = (char **)((char *)cfg + o->offset);
			b = (char **)((char *)&nc + o->offset);
			tmp = *a;
			*a = *b;
			*b = tmp;
		} else {
			u = (uint64_t *)((char *)cfg + o->offset);
			*u = *(uint64_t *)((char *)&nc + o->offset);
		}
		config_report(CONFIG_REPORT_INFO, "%s changed from %s to %s",
		    o->name, was, now);
		(*applied)++;
	}
	config_free(&nc);
	return (0);
}

void
config_free(struct config *cfg)
{
	free(cfg->config_file);
	free(cfg->check_dir);
	free(cfg->data_dir);
	free(cfg->listen);
	free(cfg->tls_listen);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	free(cfg->tls_ca);
	free(cfg->log_file);
	memset(cfg, 0, sizeof *cfg);
}

const char *
config_durability_name(uint64_t d)
{
	return (d == CONFIG_DURABILITY_INTERVAL ? "interval" : "sync");
}
