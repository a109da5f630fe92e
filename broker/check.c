/*
 * The data directory checker. It opens the LMDB environment read-only
 * (MDB_RDONLY, creating nothing), so it can run beside the tupelod that
 * serves the directory, and reads everything in one read transaction: a
 * consistent snapshot even while the broker writes.
 *
 * When no tupelod serves the directory (the checker then holds its lock,
 * so none starts meanwhile), it looks at it as the next start will: from
 * the write-ahead log's checkpoint. After a power cut LMDB's newest meta
 * pages may describe pages that never reached the disk; a start puts the
 * checkpoint's meta pages back and applies the log's frames. The checker
 * maps the checkpoint's copies over the first two pages of its private,
 * read-only view of data.mdb, so it reads the checkpoint's snapshot, and
 * says "needs recovery" when a start would change anything.
 *
 * Each problem is one line "check: <what>: <problem>"; names taken from
 * the data are escaped, since a damaged file may hold any byte.
 * Single-threaded; nothing is kept after check_run() returns.
 */
#include "broker/check.h"

#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/trigger.h"
#include "proto/error.h"
#include "proto/tupelo.pb-c.h"
#include "proto/validate.h"
#include "storage/record.h"
#include "storage/slog.h"
#include "storage/store.h"
#include "storage/wal.h"

#define CHECK_PATH_MAX		4096
#define CHECK_SHOWN_MAX		256	/* bytes of an escaped name shown */
#define CHECK_WHAT_MAX		(2 * CHECK_SHOWN_MAX + 64)
#define CHECK_LOG_SHOWN		10	/* problems printed per log */
#define CHECK_DBS_MIN		64	/* named databases of a first open */
#define CHECK_OPEN_TRIES	4	/* reopen while stations are added */
#define TPLEN			(sizeof TRIGGER_GROUP_PREFIX - 1)

/* A station config found under "station/<name>". */
struct check_station {
	char		*name;		/* owned: the key's name, no NUL */
	char		*shown;		/* owned: name, escaped */
	int		 has_stats;	/* a stats record, unpacked */
	int		 bad_stats;	/* a stats record, not unpacked */
	int		 has_log;
	uint64_t	 last_seq;	/* from its stats */
	uint64_t	 bytes;		/* from its stats */
};

struct check {
	const char		*dir;		/* borrowed from the caller */
	FILE			*out;		/* borrowed from the caller */
	int			 lock_fd;	/* tupelod.lock, held; or -1 */
	int			 offline;	/* no tupelod serves dir */
	struct wal_view		 view;		/* owned: the checkpoint */
	const char		*recover;	/* why a start changes it */
	int			 unreadable;	/* as it is, before that */
	MDB_env			*env;		/* owned */
	MDB_txn			*txn;		/* owned, read-only */
	MDB_dbi			 main;		/* the unnamed database */
	MDB_dbi			 meta;
	struct check_station	*stations;	/* owned, sorted by name */
	size_t			 nstations;
	size_t			 cap;
	uint64_t		 problems;
	uint64_t		 messages;
	uint64_t		 groups;
	uint64_t		 triggers;
};

/* One log being scanned. */
struct check_log {
	struct check_station	*st;		/* borrowed from the check */
	uint64_t		 last;		/* largest seq seen */
	int64_t			 time_ns;	/* time of the last record */
	uint64_t		 count;		/* records */
	uint64_t		 bytes;		/* of their values */
	uint64_t		 hidden;	/* problems not printed */
	unsigned		 shown;		/* problems printed */
};

typedef int (*check_scan_cb)(struct check *, const char *, size_t,
    const MDB_val *);

static void	check_vproblem(struct check *, int, const char *,
		    const char *, va_list) TP_PRINTF(4, 0);
static void	check_problem(struct check *, const char *, const char *,
		    ...) TP_PRINTF(3, 4);
static void	check_log_problem(struct check *, struct check_log *,
		    const char *, const char *, ...) TP_PRINTF(4, 5);

/* Escape len bytes at p into buf: printable ASCII as is, others \xNN. */
static const char *
check_vis(const void *p, size_t len, char *buf, size_t size)
{
	const unsigned char	*s = p;
	size_t			 i, n = 0;

	for (i = 0; i < len; i++) {
		if (n + 8 >= size) {
			memcpy(buf + n, "...", 3);
			n += 3;
			break;
		}
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\')
			buf[n++] = (char)s[i];
		else
			n += (size_t)snprintf(buf + n, size - n, "\\x%02x",
			    s[i]);
	}
	buf[n] = '\0';
	return (buf);
}

static void
check_vproblem(struct check *c, int print, const char *what, const char *fmt,
    va_list ap)
{
	c->problems++;
	if (!print)
		return;
	fprintf(c->out, "check: %s: ", what);
	vfprintf(c->out, fmt, ap);
	fputc('\n', c->out);
}

/* Report one problem with what it concerns. */
static void
check_problem(struct check *c, const char *what, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	check_vproblem(c, 1, what, fmt, ap);
	va_end(ap);
}

static int
check_station_cmp(const void *a, const void *b)
{
	const struct check_station	*x = a, *y = b;

	return (strcmp(x->name, y->name));
}

/* Order a name of len bytes against a station's, as strcmp() would. */
static int
check_name_cmp(const char *name, size_t len, const char *other)
{
	size_t	olen = strlen(other);
	int	r;

	if ((r = memcmp(name, other, len < olen ? len : olen)) != 0)
		return (r);
	return (len < olen ? -1 : len > olen);
}

/* The station of this name (len bytes at name), or NULL. */
static struct check_station *
check_find(struct check *c, const char *name, size_t len)
{
	size_t	lo = 0, hi = c->nstations, mid;
	int	r;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		r = check_name_cmp(name, len, c->stations[mid].name);
		if (r == 0)
			return (&c->stations[mid]);
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return (NULL);
}

/*
 * Is a tupelod serving the directory? If not, hold its lock for the
 * check, so that none starts (and recovers) while it reads.
 */
static void
check_lock(struct check *c)
{
	char	path[CHECK_PATH_MAX];

	snprintf(path, sizeof path, "%s/tupelod.lock", c->dir);
	if ((c->lock_fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		/* Unreadable: maybe served; read the live snapshot. */
		c->offline = errno == ENOENT;
		return;
	}
	if (flock(c->lock_fd, LOCK_EX | LOCK_NB) == 0) {
		c->offline = 1;
		return;
	}
	close(c->lock_fd);
	c->lock_fd = -1;
}

/*
 * Offline: read the log's checkpoint, and say why a start would change
 * the directory (c->recover), if it would. -1 on a problem.
 */
static int
check_view(struct check *c)
{
	struct tp_err	 err;
	char		 path[CHECK_PATH_MAX];
	uint8_t		*meta = NULL;
	size_t		 len;
	int		 fd, same = 0;

	if (wal_view_read(c->dir, &c->view, &err) != TP_OK) {
		check_problem(c, c->dir, "write-ahead log: %s", err.message);
		return (-1);
	}
	if (!c->view.checkpoint)
		return (0);
	len = 2 * (size_t)c->view.psize;
	snprintf(path, sizeof path, "%s/data.mdb", c->dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1 &&
	    (meta = malloc(len)) != NULL &&
	    pread(fd, meta, len, 0) == (ssize_t)len)
		same = memcmp(meta, c->view.meta, len) == 0;
	free(meta);
	if (fd != -1)
		close(fd);
	if (!same)
		c->recover = "data.mdb was written after the write-ahead "
		    "log's last checkpoint (as after a crash)";
	else if (c->view.frames > 0)
		c->recover = "the write-ahead log holds changes after its "
		    "last checkpoint";
	return (0);
}

/*
 * Where LMDB mapped data.mdb (its API does not say): the mapping of the
 * file's inode at offset 0 in /proc/self/maps. NULL if not found.
 */
static void *
check_map_base(struct check *c)
{
	struct stat	 sb;
	FILE		*f;
	char		 line[CHECK_PATH_MAX + 128];
	unsigned long	 start, off, ino;
	mdb_filehandle_t fd;
	void		*base = NULL;

	if (mdb_env_get_fd(c->env, &fd) != 0 || fstat(fd, &sb) != 0 ||
	    (f = fopen("/proc/self/maps", "r")) == NULL)
		return (NULL);
	while (base == NULL && fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, "%lx-%*x %*s %lx %*s %lu", &start, &off,
		    &ino) == 3 && off == 0 && ino == (unsigned long)sb.st_ino)
			base = (void *)start;
	}
	fclose(f);
	return (base);
}

/*
 * Make LMDB read the checkpoint: its meta pages over the first two pages
 * of the map, privately (data.mdb is not written). Again after a remap.
 */
static int
check_overlay(struct check *c)
{
	MDB_stat	 ms;
	size_t		 len = 2 * (size_t)c->view.psize;
	long		 page = sysconf(_SC_PAGESIZE);
	void		*base, *p;

	if (!c->offline || !c->view.checkpoint)
		return (0);
	if (mdb_env_stat(c->env, &ms) != 0 || ms.ms_psize != c->view.psize) {
		check_problem(c, c->dir, "LMDB page size does not match the "
		    "write-ahead log");
		return (-1);
	}
	if (page <= 0 || len % (size_t)page != 0 ||
	    (base = check_map_base(c)) == NULL) {
		check_problem(c, c->dir, "cannot read the write-ahead log's "
		    "checkpoint: data.mdb's map not found");
		return (-1);
	}
	p = mmap(base, len, PROT_READ | PROT_WRITE,
	    MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		check_problem(c, c->dir, "cannot map the checkpoint: %s",
		    strerror(errno));
		return (-1);
	}
	memcpy(p, c->view.meta, len);
	mprotect(p, len, PROT_READ);
	return (0);
}

/*
 * Open the environment read-only and begin the read transaction. The
 * handle table is sized from the unnamed database, which lists every named
 * one; if the broker added stations in between, open again.
 */
static int
check_open(struct check *c)
{
	char		 path[CHECK_PATH_MAX];
	struct stat	 sb;
	MDB_stat	 ms;
	unsigned int	 flags = MDB_RDONLY | MDB_NOTLS;
	size_t		 maxdbs = CHECK_DBS_MIN;
	int		 rc, tries;

	if (stat(c->dir, &sb) == -1) {
		check_problem(c, c->dir, "cannot open the data directory: %s",
		    strerror(errno));
		return (-1);
	}
	if (!S_ISDIR(sb.st_mode)) {
		check_problem(c, c->dir, "not a directory");
		return (-1);
	}
	check_lock(c);
	if (c->offline && check_view(c) != 0)
		return (-1);
	snprintf(path, sizeof path, "%s/data.mdb", c->dir);
	if (stat(path, &sb) == -1) {
		check_problem(c, c->dir, "%s: data.mdb: %s",
		    c->view.checkpoint ? "the write-ahead log holds a "
		    "checkpoint of a lost database" : "not a tupelod data "
		    "directory", strerror(errno));
		return (-1);
	}
	if (!S_ISREG(sb.st_mode)) {
		check_problem(c, c->dir, "data.mdb is not a regular file");
		return (-1);
	}
	/*
	 * Offline, LMDB's lock file is stale (a start removes it); without
	 * one, nobody has the environment open, and LMDB would create one.
	 */
	snprintf(path, sizeof path, "%s/lock.mdb", c->dir);
	if (c->offline || (stat(path, &sb) == -1 && errno == ENOENT))
		flags |= MDB_NOLOCK;

	for (tries = 0;; tries++) {
		if ((rc = mdb_env_create(&c->env)) != 0 ||
		    (rc = mdb_env_set_maxdbs(c->env, (MDB_dbi)maxdbs)) != 0)
			goto fail;
		if ((rc = mdb_env_open(c->env, c->dir, flags, 0)) != 0 &&
		    c->recover != NULL) {
			/* A torn meta page: a start puts back the log's. */
			c->unreadable = 1;
			fprintf(c->out, "check: %s: LMDB cannot open data.mdb "
			    "as it is (%s); not checked further\n", c->dir,
			    mdb_strerror(rc));
			return (-1);
		}
		if (rc != 0)
			goto fail;
		if (check_overlay(c) != 0)
			return (-1);
		rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &c->txn);
		if (rc == MDB_MAP_RESIZED &&
		    (rc = mdb_env_set_mapsize(c->env, 0)) == 0) {
			if (check_overlay(c) != 0)
				return (-1);
			rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &c->txn);
		}
		if (rc != 0 ||
		    (rc = mdb_dbi_open(c->txn, NULL, 0, &c->main)) != 0 ||
		    (rc = mdb_stat(c->txn, c->main, &ms)) != 0)
			goto fail;
		if (ms.ms_entries <= maxdbs || tries == CHECK_OPEN_TRIES)
			break;
		maxdbs = ms.ms_entries + CHECK_DBS_MIN;
		mdb_txn_abort(c->txn);
		c->txn = NULL;
		mdb_env_close(c->env);
		c->env = NULL;
	}
	rc = mdb_dbi_open(c->txn, STORE_META_NAME, 0, &c->meta);
	if (rc == MDB_NOTFOUND) {
		check_problem(c, c->dir, "no \"meta\" database: not a tupelod "
		    "data directory");
		return (-1);
	}
	if (rc != 0) {
		check_problem(c, c->dir, "cannot open the \"meta\" database: "
		    "%s", mdb_strerror(rc));
		return (-1);
	}
	return (0);

fail:
	check_problem(c, c->dir, "cannot open the LMDB environment: %s",
	    mdb_strerror(rc));
	return (-1);
}

/*
 * Visit the keys of dbi starting with prefix (all keys if ""); cb gets the
 * rest of the key and returns non-zero to stop on a fatal error.
 */
static int
check_scan(struct check *c, MDB_dbi dbi, const char *what,
    const char *prefix, check_scan_cb cb)
{
	MDB_cursor	*cur;
	MDB_val		 k, v;
	size_t		 plen = strlen(prefix);
	int		 rc, r = 0;

	if ((rc = mdb_cursor_open(c->txn, dbi, &cur)) != 0) {
		check_problem(c, what, "cannot read: %s", mdb_strerror(rc));
		return (0);
	}
	k.mv_data = (void *)prefix;
	k.mv_size = plen;
	rc = mdb_cursor_get(cur, &k, &v, plen != 0 ? MDB_SET_RANGE :
	    MDB_FIRST);
	while (rc == 0) {
		if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
			break;
		if ((r = cb(c, (const char *)k.mv_data + plen,
		    k.mv_size - plen, &v)) != 0)
			break;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		check_problem(c, what, "cannot read: %s", mdb_strerror(rc));
	return (r);
}

/* Is the name at p (len bytes) valid? If not, say why in why. */
static int
check_name_valid(const char *what, const char *p, size_t len, char *why,
    size_t size)
{
	struct tp_err	err;
	char		buf[TP_NAME_MAX + 2];

	if (memchr(p, '\0', len) != NULL) {
		snprintf(why, size, "%s name contains a NUL byte", what);
		return (0);
	}
	if (len >= sizeof buf) {
		snprintf(why, size, "%s name is longer than %d bytes", what,
		    TP_NAME_MAX);
		return (0);
	}
	memcpy(buf, p, len);
	buf[len] = '\0';
	if (validate_name(what, buf, &err) != TP_OK) {
		snprintf(why, size, "%s", err.message);
		return (0);
	}
	return (1);
}

/* "station/<name>": a StationConfig naming its key. */
static int
check_config_cb(struct check *c, const char *rest, size_t len,
    const MDB_val *v)
{
	Tupelo__StationConfig	*cfg;
	struct check_station	*st;
	char			 shown[CHECK_SHOWN_MAX], what[CHECK_WHAT_MAX];
	char			 why[256], other[CHECK_SHOWN_MAX];
	size_t			 cap;

	check_vis(rest, len, shown, sizeof shown);
	snprintf(what, sizeof what, "station %s", shown);
	if (!check_name_valid("station", rest, len, why, sizeof why))
		check_problem(c, what, "%s", why);
	cfg = tupelo__station_config__unpack(NULL, v->mv_size, v->mv_data);
	if (cfg == NULL)
		check_problem(c, what, "config does not unpack");
	else if (cfg->name == NULL || strlen(cfg->name) != len ||
	    memcmp(cfg->name, rest, len) != 0)
		check_problem(c, what, "config names the station \"%s\"",
		    check_vis(cfg->name != NULL ? cfg->name : "",
		    cfg->name != NULL ? strlen(cfg->name) : 0, other,
		    sizeof other));
	if (cfg != NULL)
		tupelo__station_config__free_unpacked(cfg, NULL);
	if (memchr(rest, '\0', len) != NULL)
		return (0);

	if (c->nstations == c->cap) {
		cap = c->cap != 0 ? c->cap * 2 : 64;
		st = reallocarray(c->stations, cap, sizeof *st);
		if (st == NULL)
			goto nomem;
		c->stations = st;
		c->cap = cap;
	}
	st = &c->stations[c->nstations];
	memset(st, 0, sizeof *st);
	if ((st->name = strndup(rest, len)) == NULL ||
	    (st->shown = strdup(shown)) == NULL) {
		free(st->name);
		goto nomem;
	}
	c->nstations++;
	return (0);

nomem:
	check_problem(c, c->dir, "out of memory");
	return (-1);
}

/* "stats/<name>": the counters of an existing station. */
static int
check_stats_cb(struct check *c, const char *rest, size_t len,
    const MDB_val *v)
{
	Tupelo__StationStats	*s;
	struct check_station	*st;
	char			 shown[CHECK_SHOWN_MAX], what[CHECK_WHAT_MAX];

	check_vis(rest, len, shown, sizeof shown);
	snprintf(what, sizeof what, "stats %s", shown);
	if ((st = check_find(c, rest, len)) == NULL) {
		check_problem(c, what, "no station %s", shown);
		return (0);
	}
	s = tupelo__station_stats__unpack(NULL, v->mv_size, v->mv_data);
	if (s == NULL) {
		st->bad_stats = 1;
		check_problem(c, what, "record does not unpack");
		return (0);
	}
	st->has_stats = 1;
	st->last_seq = s->last_seq;
	st->bytes = s->bytes;
	tupelo__station_stats__free_unpacked(s, NULL);
	return (0);
}

/* A key of the unnamed database: "meta" or "log/<station>". */
static int
check_db_cb(struct check *c, const char *name, size_t len, const MDB_val *v)
{
	struct check_station	*st;
	char			 shown[CHECK_SHOWN_MAX], what[CHECK_WHAT_MAX];

	if (len == strlen(STORE_META_NAME) &&
	    memcmp(name, STORE_META_NAME, len) == 0)
		return (0);
	check_vis(name, len, shown, sizeof shown);
	snprintf(what, sizeof what, "database %s", shown);
	if (len < 4 || memcmp(name, "log/", 4) != 0) {
		check_problem(c, what, "unknown database");
		return (0);
	}
	if ((st = check_find(c, name + 4, len - 4)) == NULL) {
		check_problem(c, what, "log database without a station config");
		return (0);
	}
	st->has_log = 1;
	return (0);
}

/* A problem in a log: the first few are printed, the rest counted. */
static void
check_log_problem(struct check *c, struct check_log *l, const char *what,
    const char *fmt, ...)
{
	va_list	ap;
	int	print = l->shown < CHECK_LOG_SHOWN;

	if (print)
		l->shown++;
	else
		l->hidden++;
	va_start(ap, fmt);
	check_vproblem(c, print, what, fmt, ap);
	va_end(ap);
}

/* One record of a log: its key, its bytes, its time. */
static void
check_record(struct check *c, struct check_log *l, const MDB_val *k,
    const MDB_val *v)
{
	struct record_view	rv;
	char			what[CHECK_WHAT_MAX], key[64];
	uint64_t		seq;

	l->count++;
	l->bytes += v->mv_size;
	if (k->mv_size != 8) {
		snprintf(what, sizeof what, "log %s key %s", l->st->shown,
		    check_vis(k->mv_data, k->mv_size, key, sizeof key));
		check_log_problem(c, l, what, "key of %zu bytes, not 8",
		    k->mv_size);
		return;
	}
	seq = slog_key_get(k);
	snprintf(what, sizeof what, "log %s seq %llu", l->st->shown,
	    (unsigned long long)seq);
	if (seq == 0)
		check_log_problem(c, l, what, "sequence numbers start at 1");
	else if (seq <= l->last)
		check_log_problem(c, l, what, "does not follow seq %llu",
		    (unsigned long long)l->last);
	if (seq > l->last)
		l->last = seq;
	if (record_decode(v->mv_data, v->mv_size, &rv) != TP_OK) {
		check_log_problem(c, l, what, "record of %zu bytes does not "
		    "decode", v->mv_size);
		return;
	}
	if (rv.time_ns < l->time_ns)
		check_log_problem(c, l, what, "time %lld is before the "
		    "previous record's %lld", (long long)rv.time_ns,
		    (long long)l->time_ns);
	l->time_ns = rv.time_ns;
}

/* The log of st: every record, then its totals against the stats. */
static void
check_log(struct check *c, struct check_station *st)
{
	struct check_log	 l;
	MDB_cursor		*cur = NULL;
	MDB_dbi			 dbi;
	MDB_val			 k, v;
	char			 what[CHECK_WHAT_MAX];
	int			 rc;

	memset(&l, 0, sizeof l);
	l.st = st;
	l.time_ns = INT64_MIN;
	snprintf(what, sizeof what, "log %s", st->shown);
	if ((rc = slog_open(c->txn, st->name, 0, &dbi)) != 0) {
		check_problem(c, what, "cannot open: %s", mdb_strerror(rc));
		return;
	}
	if ((rc = mdb_cursor_open(c->txn, dbi, &cur)) != 0)
		goto out;
	rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	while (rc == 0) {
		check_record(c, &l, &k, &v);
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		check_problem(c, what, "cannot read: %s", mdb_strerror(rc));
	if (l.hidden != 0)
		fprintf(c->out, "check: %s: %llu more problem%s not shown\n",
		    what, (unsigned long long)l.hidden,
		    l.hidden == 1 ? "" : "s");
	c->messages += l.count;
	if (!st->has_stats)
		return;
	if (l.last > st->last_seq)
		check_problem(c, what, "largest seq %llu is above the stats' "
		    "last_seq %llu", (unsigned long long)l.last,
		    (unsigned long long)st->last_seq);
	if (l.bytes != st->bytes)
		check_problem(c, what, "records hold %llu bytes, the stats say "
		    "%llu", (unsigned long long)l.bytes,
		    (unsigned long long)st->bytes);
}

/* Each station: its DLS, its stats, its log. */
static void
check_stations(struct check *c)
{
	struct check_station	*st;
	char			 what[CHECK_WHAT_MAX];
	char			 dls[TP_NAME_MAX + 16];
	size_t			 i, len, slen = strlen(TP_DLS_SUFFIX);

	for (i = 0; i < c->nstations; i++) {
		st = &c->stations[i];
		snprintf(what, sizeof what, "station %s", st->shown);
		len = strlen(st->name);
		if ((len <= slen || strcmp(st->name + len - slen,
		    TP_DLS_SUFFIX) != 0) && len + slen < sizeof dls) {
			snprintf(dls, sizeof dls, "%s%s", st->name,
			    TP_DLS_SUFFIX);
			if (check_find(c, dls, strlen(dls)) == NULL)
				check_problem(c, what, "no dead-letter station "
				    "%s%s", st->shown, TP_DLS_SUFFIX);
		}
		if (!st->has_stats && !st->bad_stats)
			check_problem(c, what, "no stats record");
		if (!st->has_log)
			check_problem(c, what, "no log database");
		else
			check_log(c, st);
	}
}

/* The fields of a group's state. */
static void
check_group_state(struct check *c, const char *what,
    const struct check_station *st, const Tupelo__GroupState *g)
{
	size_t	i;

	/* The floor may be ahead (a group that starts at a future seq);
	   what was delivered may not. */
	if (st != NULL && st->has_stats && g->delivered_seq > st->last_seq)
		check_problem(c, what, "delivered_seq %llu is above the "
		    "station's last_seq %llu",
		    (unsigned long long)g->delivered_seq,
		    (unsigned long long)st->last_seq);
	for (i = 0; i < g->n_acked; i++) {
		if (g->acked[i] <= g->ack_floor) {
			check_problem(c, what, "acked seq %llu is not above "
			    "ack_floor %llu", (unsigned long long)g->acked[i],
			    (unsigned long long)g->ack_floor);
			break;
		}
	}
	for (i = 1; i < g->n_acked; i++) {
		if (g->acked[i] <= g->acked[i - 1]) {
			check_problem(c, what, "acked seqs do not increase: "
			    "%llu after %llu", (unsigned long long)g->acked[i],
			    (unsigned long long)g->acked[i - 1]);
			break;
		}
	}
	if (g->n_counted_seqs != g->n_counts)
		check_problem(c, what, "%zu counted_seqs but %zu counts",
		    g->n_counted_seqs, g->n_counts);
}

/* "group/<station>/<group>": a group of an existing station. */
static int
check_group(struct check *c, const char *rest, size_t len, const MDB_val *v)
{
	Tupelo__GroupState	*g;
	struct check_station	*st;
	const char		*slash;
	char			 shown[CHECK_SHOWN_MAX], what[CHECK_WHAT_MAX];
	char			 why[256];
	const char		*gname;
	size_t			 slen, glen;

	c->groups++;
	check_vis(rest, len, shown, sizeof shown);
	snprintf(what, sizeof what, "group %s", shown);
	if ((slash = memchr(rest, '/', len)) == NULL) {
		check_problem(c, what, "key is not group/<station>/<group>");
		return (0);
	}
	slen = (size_t)(slash - rest);
	if ((st = check_find(c, rest, slen)) == NULL)
		check_problem(c, what, "no station %s",
		    check_vis(rest, slen, shown, sizeof shown));
	/* A trigger's group: the prefix, then the trigger's name. */
	gname = slash + 1;
	glen = len - slen - 1;
	if (glen > TPLEN && memcmp(gname, TRIGGER_GROUP_PREFIX, TPLEN) == 0) {
		gname += TPLEN;
		glen -= TPLEN;
	}
	if (!check_name_valid("group", gname, glen, why, sizeof why))
		check_problem(c, what, "%s", why);
	g = tupelo__group_state__unpack(NULL, v->mv_size, v->mv_data);
	if (g == NULL) {
		check_problem(c, what, "state does not unpack");
		return (0);
	}
	check_group_state(c, what, st, g);
	tupelo__group_state__free_unpacked(g, NULL);
	return (0);
}

/* "trigger/<name>": a trigger of an existing station, with its group. */
static int
check_trigger(struct check *c, const char *rest, size_t len, const MDB_val *v)
{
	Tupelo__TriggerConfig	*t;
	char			 shown[CHECK_SHOWN_MAX], what[CHECK_WHAT_MAX];
	char			 key[3 * TP_NAME_MAX];
	MDB_val			 k, gv;

	c->triggers++;
	snprintf(what, sizeof what, "trigger %s",
	    check_vis(rest, len, shown, sizeof shown));
	t = tupelo__trigger_config__unpack(NULL, v->mv_size, v->mv_data);
	if (t == NULL) {
		check_problem(c, what, "config does not unpack");
		return (0);
	}
	if (strlen(t->name) != len || memcmp(t->name, rest, len) != 0)
		check_problem(c, what, "config names trigger %s", t->name);
	if (check_find(c, t->station, strlen(t->station)) == NULL)
		check_problem(c, what, "no station %s", t->station);
	else {
		snprintf(key, sizeof key, "group/%s/%s%s", t->station,
		    TRIGGER_GROUP_PREFIX, t->name);
		k.mv_data = key;
		k.mv_size = strlen(key);
		if (mdb_get(c->txn, c->meta, &k, &gv) != 0)
			check_problem(c, what, "no group %s%s on station %s",
			    TRIGGER_GROUP_PREFIX, t->name, t->station);
	}
	if (t->target < 1 || t->target > 3)
		check_problem(c, what, "unknown target %u", t->target);
	tupelo__trigger_config__free_unpacked(t, NULL);
	return (0);
}

/* Every other key of the meta database: groups, and nothing unknown. */
static int
check_meta_cb(struct check *c, const char *key, size_t len, const MDB_val *v)
{
	static const char *const	 known[] = {
	    "station/", "stats/", "writer/", "dict/"
	};
	char				 shown[CHECK_SHOWN_MAX];
	char				 what[CHECK_WHAT_MAX];
	size_t				 i, n;

	if (len >= 6 && memcmp(key, "group/", 6) == 0)
		return (check_group(c, key + 6, len - 6, v));
	if (len >= 8 && memcmp(key, "trigger/", 8) == 0)
		return (check_trigger(c, key + 8, len - 8, v));
	for (i = 0; i < sizeof known / sizeof known[0]; i++) {
		n = strlen(known[i]);
		if (len >= n && memcmp(key, known[i], n) == 0)
			return (0);
	}
	snprintf(what, sizeof what, "meta key %s",
	    check_vis(key, len, shown, sizeof shown));
	check_problem(c, what, "unknown key");
	return (0);
}

int
check_run(const char *dir, FILE *out)
{
	struct check	c;
	size_t		i;

	memset(&c, 0, sizeof c);
	c.dir = dir;
	c.out = out;
	c.lock_fd = -1;
	if (check_open(&c) != 0)
		goto out;
	if (check_scan(&c, c.meta, "meta", "station/", check_config_cb) != 0)
		goto out;
	if (c.nstations != 0)
		qsort(c.stations, c.nstations, sizeof *c.stations,
		    check_station_cmp);
	check_scan(&c, c.meta, "meta", "stats/", check_stats_cb);
	check_scan(&c, c.main, "databases", "", check_db_cb);
	check_stations(&c);
	check_scan(&c, c.meta, "meta", "", check_meta_cb);

out:
	if (c.problems == 0 && !c.unreadable)
		fprintf(out, "check: %zu station%s, %llu message%s, "
		    "%llu group%s, %llu trigger%s%s: ok\n", c.nstations,
		    c.nstations == 1 ? "" : "s",
		    (unsigned long long)c.messages,
		    c.messages == 1 ? "" : "s",
		    (unsigned long long)c.groups, c.groups == 1 ? "" : "s",
		    (unsigned long long)c.triggers,
		    c.triggers == 1 ? "" : "s", c.recover != NULL ?
		    " as of the write-ahead log's checkpoint" : "");
	else if (c.problems != 0)
		fprintf(out, "check: %llu problem%s\n",
		    (unsigned long long)c.problems, c.problems == 1 ? "" : "s");
	if (c.problems == 0 && c.recover != NULL)
		fprintf(out, "check: needs recovery: %s; tupelod repairs "
		    "this on start%s\n", c.recover, c.unreadable ? ", then "
		    "check again" : "");
	fflush(out);
	for (i = 0; i < c.nstations; i++) {
		free(c.stations[i].name);
		free(c.stations[i].shown);
	}
	free(c.stations);
	if (c.txn != NULL)
		mdb_txn_abort(c.txn);
	if (c.env != NULL)
		mdb_env_close(c.env);
	wal_view_free(&c.view);
	if (c.lock_fd != -1)
		close(c.lock_fd);
	if (c.problems != 0)
		return (CHECK_CORRUPT);
	return (c.recover != NULL ? CHECK_RECOVER : CHECK_SOUND);
}
