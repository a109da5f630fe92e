/*
 * Log lines go to stderr, or with --log-file to a file, each with a UTC
 * timestamp in front; except on stderr connected to the systemd journal,
 * which stamps lines itself. Each line is one write, so lines from the
 * loop and from libevent never interleave mid-line. SIGHUP reopens the
 * file (log_open again): logrotate renames it, the next line goes to a
 * new one.
 */
#include "broker/log.h"

#include <sys/stat.h>
#include <sys/time.h>

#include <event2/event.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int	 log_lvl = LOG_LEVEL_INFO;
static FILE	*log_file;	/* owned, NULL: stderr */
static int	 log_stamp = 1;	/* timestamps on stderr lines */

/*
 * Is stderr the systemd journal? systemd sets JOURNAL_STREAM to the
 * "device:inode" of the stream it connects; a match (not just the
 * variable, which children of such services inherit) means it is.
 */
static int
log_to_journal(void)
{
	const char	*env = getenv("JOURNAL_STREAM");
	uintmax_t	 dev, ino;
	struct stat	 sb;
	int		 end = 0;

	if (env == NULL || sscanf(env, "%ju:%ju%n", &dev, &ino, &end) != 2 ||
	    env[end] != '\0')
		return (0);
	if (fstat(STDERR_FILENO, &sb) != 0)
		return (0);
	return ((uintmax_t)sb.st_dev == dev && (uintmax_t)sb.st_ino == ino);
}

static void
log_vwrite(int level, const char *fmt, va_list ap)
{
	static const char	*names[] = { "error", "warn", "info", "debug" };
	char			 line[2048];
	struct timeval		 tv;
	struct tm		 tm;
	size_t			 n = 0;
	int			 r;

	if (level > log_lvl)
		return;
	if (log_file != NULL || log_stamp) {
		gettimeofday(&tv, NULL);
		gmtime_r(&tv.tv_sec, &tm);
		n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
		r = snprintf(line + n, sizeof line - n, ".%03ldZ ",
		    (long)tv.tv_usec / 1000);
		n += r > 0 ? (size_t)r : 0;
	}
	r = snprintf(line + n, sizeof line - n, "tupelod: %s: ", names[level]);
	n += r > 0 ? (size_t)r : 0;
	if (n < sizeof line) {
		r = vsnprintf(line + n, sizeof line - n, fmt, ap);
		n += r > 0 ? (size_t)r : 0;
	}
	if (n > sizeof line - 2)
		n = sizeof line - 2;
	line[n++] = '\n';
	if (log_file != NULL) {
		fwrite(line, 1, n, log_file);
		fflush(log_file);
	} else {
		r = (int)write(STDERR_FILENO, line, n);
		(void)r;
	}
}

static void
log_event_cb(int severity, const char *msg)
{
	switch (severity) {
	case EVENT_LOG_ERR:
		log_error("libevent: %s", msg);
		break;
	case EVENT_LOG_WARN:
		log_warn("libevent: %s", msg);
		break;
	default:
		log_debug("libevent: %s", msg);
		break;
	}
}

int
log_open(int level, const char *path)
{
	FILE	*f = NULL;

	if (path != NULL && *path != '\0') {
		if ((f = fopen(path, "a")) == NULL)
			return (-1);
	}
	log_close();
	log_file = f;
	log_lvl = level;
	log_stamp = !log_to_journal();
	event_set_log_callback(log_event_cb);
	return (0);
}

void
log_set_level(int level)
{
	log_lvl = level;
}

void
log_close(void)
{
	if (log_file != NULL)
		fclose(log_file);
	log_file = NULL;
}

int
log_level(void)
{
	return (log_lvl);
}

#define LOG_FN(name, level)						\
void									\
name(const char *fmt, ...)						\
{									\
	va_list	ap;							\
									\
	va_start(ap, fmt);						\
	log_vwrite(level, fmt, ap);					\
	va_end(ap);							\
}
LOG_FN(log_error, LOG_LEVEL_ERROR)
LOG_FN(log_warn, LOG_LEVEL_WARN)
LOG_FN(log_info, LOG_LEVEL_INFO)
LOG_FN(log_debug, LOG_LEVEL_DEBUG)

const char *
log_escape(const char *s, size_t len, char *buf, size_t size)
{
	static const char	hex[] = "0123456789abcdef";
	size_t			i, n = 0, total = 0, need, room;
	unsigned char		c;

	if (size == 0)
		return (buf);
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		total += (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') ?
		    1 : 4;
	}
	/* When it does not all fit, keep room for "..." to say so. */
	room = total < size ? size - 1 : (size > 4 ? size - 4 : 0);
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		need = (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') ?
		    1 : 4;
		if (n + need > room)
			break;
		if (need == 1) {
			buf[n++] = (char)c;
			continue;
		}
		buf[n++] = '\\';
		buf[n++] = 'x';
		buf[n++] = hex[c >> 4];
		buf[n++] = hex[c & 15];
	}
	if (i < len && size > 4) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return (buf);
}
