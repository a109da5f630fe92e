/*
 * The options table. Each row: name, type, bounds, default (as text, the
 * same parser reads it), help. Precedence: defaults < config file <
 * command line. Config errors are all reported with file:line, then
 * tupelod exits 2.
 */
#include "broker/config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "client/tupelo/tupelo.h"

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
	const char		*help;
};

static const char *const config_levels[] = {
	"error", "warn", "info", "debug", NULL
};
static const char *const config_durabilities[] = { "sync", "interval", NULL };

#define OFF(f)	offsetof(struct config, f)
#define MIB	(1024ULL * 1024)

/* getopt_long value of --check: no short option, not in the table. */
#define CONFIG_OPT_CHECK	256

static const struct config_option config_table[] = {
	{ "data-dir", CONFIG_STRING, 'd', 0, 0, "./tupelo-data", NULL,
	  OFF(data_dir), "data directory (created if missing)" },
	{ "listen", CONFIG_STRING, 'l', 0, 0, "127.0.0.1:6666", NULL,
	  OFF(listen), "address and port of the protocol (port 0: any)" },
	{ "log-file", CONFIG_STRING, 0, 0, 0, "", NULL, OFF(log_file),
	  "append the log to this file, with timestamps (\"\": stderr)" },
	{ "log-level", CONFIG_CHOICE, 0, 0, 0, "info", config_levels,
	  OFF(log_level), "error, warn, info or debug; each -v is one more" },
	{ "max-message-size", CONFIG_SIZE, 0, 1, 64 * MIB, "1M", NULL,
	  OFF(max_message_size), "largest payload a station accepts" },
	{ "max-frame-size", CONFIG_SIZE, 0, 64 * 1024, 256 * MIB, "8M", NULL,
	  OFF(max_frame_size), "largest protocol frame accepted" },
	{ "max-connections", CONFIG_NUMBER, 0, 1, 1000000, "1024", NULL,
	  OFF(max_connections), "client connections served at once" },
	{ "durability", CONFIG_CHOICE, 0, 0, 0, "sync", config_durabilities,
	  OFF(durability), "default for stations: sync (fsync before ack) or "
	  "interval" },
	{ "flush-interval", CONFIG_NUMBER, 0, 1, 60000, "100", NULL,
	  OFF(flush_interval_ms), "ms between flushes of interval stations" },
	{ "map-size", CONFIG_SIZE, 0, MIB, 1ULL << 40, "256M", NULL,
	  OFF(map_size), "initial LMDB map size; grows when full" },
	{ "max-data-size", CONFIG_SIZE, 0, 0, 1ULL << 50, "0", NULL,
	  OFF(max_data_size), "cap on the data file, 0: none" },
	{ "wal-size", CONFIG_SIZE, 0, MIB, 1ULL << 40, "64M", NULL,
	  OFF(wal_size), "size of the write-ahead log, written out in full "
	  "when made; a change remakes it at the next start" },
	{ "max-stations", CONFIG_NUMBER, 0, 1, 32000, "1024", NULL,
	  OFF(max_stations), "stations in one data directory" },
	{ "conn-buffer", CONFIG_SIZE, 0, 64 * 1024, 1ULL << 30, "4M", NULL,
	  OFF(conn_buffer), "output a connection may queue before the broker "
	  "stops reading from it" },
	{ "conn-inflight", CONFIG_SIZE, 0, 64 * 1024, 1ULL << 30, "16M", NULL,
	  OFF(conn_inflight), "produce bytes a connection may have waiting for "
	  "storage" },
	{ "max-unacked", CONFIG_NUMBER, 0, 1, 1000000, "1000", NULL,
	  OFF(max_unacked), "deliveries in flight per consumer by default" },
	{ "dedup-window", CONFIG_NUMBER, 0, 0, 86400, "120", NULL,
	  OFF(dedup_window_s), "seconds a producer message id is remembered "
	  "by default" },
	{ "ack-wait", CONFIG_NUMBER, 0, 1, 86400000, "30000", NULL,
	  OFF(ack_wait_ms), "ms before an unacked delivery is redelivered, "
	  "by default" },
	{ "max-deliveries", CONFIG_NUMBER, 0, 0, 1000000, "5", NULL,
	  OFF(max_deliveries), "deliveries before a message is dead-lettered, "
	  "by default (0: no limit)" },
	{ "max-ack-pending", CONFIG_NUMBER, 0, 1, 1000000, "10000", NULL,
	  OFF(max_ack_pending), "unacked deliveries per group, by default" },
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

/* Read "name = value" lines; returns the number of errors reported. */
static int
config_read_file(struct config *cfg, const char *path)
{
	const struct config_option	*o;
	FILE				*f;
	char				 line[4096], why[512], *p, *eq, *end;
	int				 lineno = 0, errors = 0;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "tupelod: %s: %s\n", path, strerror(errno));
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
			fprintf(stderr, "tupelod: %s:%d: expected name = "
			    "value\n", path, lineno);
			errors++;
			continue;
		}
		end = eq;
		while (end > p && isspace((unsigned char)end[-1]))
			end--;
		*end = '\0';
		eq++;
		eq += strspn(eq, " \t");
		if ((o = config_find(p)) == NULL) {
			fprintf(stderr, "tupelod: %s:%d: unknown option %s\n",
			    path, lineno, p);
			errors++;
		} else if (config_set(cfg, o, eq, why, sizeof why) != 0) {
			fprintf(stderr, "tupelod: %s:%d: %s\n", path, lineno,
			    why);
			errors++;
		}
	}
	fclose(f);
	return (errors);
}

void
config_usage(FILE *f)
{
	fprintf(f, "usage: tupelod [-hvV] [-c file] [-d data_dir] "
	    "[-l addr:port]\n"
	    "               [--option value ...]\n"
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

static void
config_help(const struct config *cfg)
{
	const struct config_option	*o;
	char				 value[256];
	size_t				 i, j;

	config_usage(stdout);
	printf("\nThe Tupelo message broker.\n\n"
	    "  -c, --config FILE  read settings from FILE (tupelod.conf(5))\n"
	    "  -v, --verbose      log one level more (repeatable)\n"
	    "  -h, --help         show this help\n"
	    "  -V, --version      show the version\n"
	    "      --check DIR    check the data directory DIR, change "
	    "nothing, and exit:\n"
	    "                     0 sound, 1 problems found (listed on "
	    "stdout)\n\n"
	    "Options (in the config file: name = value); the values shown\n"
	    "are those in force, after the config file:\n");
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
		printf(" [%s]\n      %s\n", value, o->help);
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
			fprintf(stderr, "tupelod: default %s\n", why);
			return (-1);
		}
	}
	return (0);
}

int
config_load(struct config *cfg, int argc, char **argv)
{
	static struct option	 longopts[CONFIG_N + 6];
	const struct config_option *o;
	char			 why[512];
	int			 ch, idx, verbose = 0, errors = 0, help = 0;
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
	longopts[n] = (struct option){ NULL, 0, NULL, 0 };

	/* First pass: only -c, -h, -V, so the file comes before argv. */
	opterr = 0;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "c:d:hl:vV", longopts,
	    &idx)) != -1) {
		if (ch == 'c' && config_set(cfg, &(struct config_option){
		    "config", CONFIG_STRING, 'c', 0, 0, "", NULL,
		    OFF(config_file), "" }, optarg, why, sizeof why) != 0)
			return (2);
		if (ch == 'h')
			help = 1;
		if (ch == 'V') {
			printf("tupelod %s\n", TP_VERSION_STRING);
			return (1);
		}
	}
	if (cfg->config_file != NULL && config_read_file(cfg,
	    cfg->config_file) != 0)
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
				fprintf(stderr, "tupelod: out of memory\n");
				errors++;
			}
			break;
		default:
			config_usage(stderr);
			return (2);
		}
		if (o != NULL && config_set(cfg, o, optarg, why,
		    sizeof why) != 0) {
			fprintf(stderr, "tupelod: %s\n", why);
			errors++;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tupelod: unexpected argument: %s\n",
		    argv[optind]);
		config_usage(stderr);
		return (2);
	}
	cfg->log_level += (uint64_t)verbose;
	if (cfg->log_level > 3)
		cfg->log_level = 3;
	if (cfg->max_frame_size < cfg->max_message_size + 64 * 1024) {
		fprintf(stderr, "tupelod: max-frame-size must be at least "
		    "max-message-size + 64K\n");
		errors++;
	}
	return (errors != 0 ? 2 : 0);
}

void
config_free(struct config *cfg)
{
	free(cfg->config_file);
	free(cfg->check_dir);
	free(cfg->data_dir);
	free(cfg->listen);
	free(cfg->log_file);
	memset(cfg, 0, sizeof *cfg);
}

const char *
config_durability_name(uint64_t d)
{
	return (d == CONFIG_DURABILITY_INTERVAL ? "interval" : "sync");
}
