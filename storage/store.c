/*
 * LMDB environment. The loop thread reads through store_read_begin(); the
 * writer thread is the only one that writes. Map growth needs no reader
 * inside the old mapping, so readers hold a read lock and store_grow() takes
 * the write lock: growth is rare and brief, reads are never blocked
 * otherwise.
 */
#include "storage/store.h"

#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proto/error.h"
#include "storage/wal.h"

/* Less free space than this on a failed write means the disk is full. */
#define STORE_FULL_BYTES	(4U * 1024 * 1024)

struct store {
	MDB_env			*env;		/* owned */
	MDB_dbi			 meta;		/* the "meta" database */
	uint64_t		 map_size;	/* bytes, writer thread */
	uint64_t		 map_max;	/* bytes, 0: no cap */
	pthread_rwlock_t	 lock;		/* readers vs growth */
	MDB_txn			*rtxn;		/* cached reset read txn */
	struct wal		*wal;		/* owned */
	int			 opened;	/* the log was recovered */
	int			 lock_fd;	/* flock'd: one owner per dir */
	char			*dir;		/* owned: the data directory */
	atomic_int		 failed;	/* TP_E* latch, 0: healthy */
	pthread_mutex_t		 why_lock;
	char			 why[256];	/* what latched it */
	store_fail_cb		 fail_cb;	/* set before any writer */
	void			*fail_arg;
};

int
store_code(int rc)
{
	switch (rc) {
	case 0:
		return (TP_OK);
	case MDB_MAP_FULL:
	case ENOSPC:
	case EDQUOT:
		return (TP_ENOSPC);
	case ENOMEM:
		return (TP_ENOMEM);
	case MDB_NOTFOUND:
		return (TP_ENOSTATION);
	case MDB_DBS_FULL:
		return (TP_EBUSY);
	default:
		return (TP_EIO);
	}
}

/*
 * One process per data directory: sequence numbers and group positions
 * live in the owner's memory, so a second writer would corrupt them.
 */
static int
store_lock(struct store *st, const char *dir, struct tp_err *err)
{
	char	path[4096], pid[32];
	int	n;

	snprintf(path, sizeof path, "%s/tupelod.lock", dir);
	st->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (st->lock_fd == -1)
		return (error_set(err, store_code(errno), "cannot open %s: %s",
		    path, strerror(errno)));
	if (flock(st->lock_fd, LOCK_EX | LOCK_NB) == -1) {
		n = (int)read(st->lock_fd, pid, sizeof pid - 1);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		return (error_set(err, TP_EBUSY, "data directory %s is in use "
		    "by another process (pid %s)", dir, *pid ? pid : "?"));
	}
	n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(st->lock_fd, 0) == 0 &&
	    pwrite(st->lock_fd, pid, (size_t)n, 0) != n)
		return (error_set(err, TP_EIO, "cannot write %s", path));
	return (TP_OK);
}

/* fsync the directory that holds dir. */
static int
store_sync_parent(const char *dir, struct tp_err *err)
{
	char	parent[4096], *slash;

	if ((size_t)snprintf(parent, sizeof parent, "%s", dir) >=
	    sizeof parent)
		return (error_set(err, TP_EINVAL, "data directory path too "
		    "long"));
	while ((slash = strrchr(parent, '/')) != NULL && slash[1] == '\0' &&
	    slash != parent)
		*slash = '\0';
	if ((slash = strrchr(parent, '/')) == NULL)
		snprintf(parent, sizeof parent, ".");
	else if (slash == parent)
		parent[1] = '\0';
	else
		*slash = '\0';
	if (wal_sync_dir(parent) != 0)
		return (error_set(err, TP_EIO, "cannot sync directory %s: %s",
		    parent, strerror(errno)));
	return (TP_OK);
}

int
store_open(const char *dir, const struct store_opts *opts, struct store **out,
    struct tp_err *err)
{
	struct store	*st;
	MDB_txn		*txn = NULL;
	MDB_envinfo	 info;
	int		 rc, code, wrc;

	*out = NULL;
	if ((st = calloc(1, sizeof *st)) == NULL)
		return (error_set(err, TP_ENOMEM, "out of memory"));
	pthread_rwlock_init(&st->lock, NULL);
	pthread_mutex_init(&st->why_lock, NULL);
	st->lock_fd = -1;
	st->map_max = opts->map_max;
	if ((st->dir = strdup(dir)) == NULL) {
		code = error_set(err, TP_ENOMEM, "out of memory");
		goto fail;
	}
	if (mkdir(dir, 0750) == 0) {
		/* A new directory's name, durable before anything in it. */
		if ((code = store_sync_parent(dir, err)) != TP_OK)
			goto fail;
	} else if (errno != EEXIST) {
		code = error_set(err, store_code(errno),
		    "cannot create data directory %s: %s", dir,
		    strerror(errno));
		goto fail;
	}
	if ((code = store_lock(st, dir, err)) != TP_OK)
		goto fail;
	/* Before LMDB reads its meta pages: they may be put back. */
	if ((code = wal_open(dir, opts->wal_size != 0 ? opts->wal_size :
	    STORE_WAL_SIZE, &st->wal, err)) != TP_OK)
		goto fail;
	if ((rc = mdb_env_create(&st->env)) != 0)
		goto lmdb_fail;
	if ((rc = mdb_env_set_maxdbs(st->env, opts->max_stations + 1)) != 0)
		goto lmdb_fail;
	if ((rc = mdb_env_set_mapsize(st->env, opts->map_size)) != 0)
		goto lmdb_fail;
	/*
	 * NOTLS: read transactions belong to the txn object, not the thread.
	 * NORDAHEAD: random reads of a log larger than memory.
	 * NOSYNC: durability comes from the write-ahead log and checkpoints.
	 */
	rc = mdb_env_open(st->env, dir, MDB_NOTLS | MDB_NORDAHEAD |
	    MDB_NOSYNC, 0640);
	if (rc != 0)
		goto lmdb_fail;
	/*
	 * LMDB may have just created data.mdb: its name must be durable
	 * before a checkpoint in the log refers to it, or a power cut
	 * leaves a log whose database is gone.
	 */
	if (wal_sync_dir(dir) != 0) {
		code = error_set(err, TP_EIO, "cannot sync data directory "
		    "%s: %s", dir, strerror(errno));
		goto fail;
	}
	mdb_env_info(st->env, &info);
	st->map_size = info.me_mapsize;
	while ((code = wal_recover(st->wal, st->env, &wrc, err)) != TP_OK) {
		if (wrc != MDB_MAP_FULL ||
		    (code = store_grow(st, err)) != TP_OK)
			goto fail;
	}
	st->opened = 1;
	if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0)
		goto lmdb_fail;
	if ((rc = mdb_dbi_open(txn, STORE_META_NAME, MDB_CREATE,
	    &st->meta)) != 0)
		goto lmdb_fail;
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc != 0)
		goto lmdb_fail;
	*out = st;
	return (TP_OK);

lmdb_fail:
	code = error_set(err, store_code(rc), "cannot open data directory "
	    "%s: %s", dir, mdb_strerror(rc));
fail:
	if (txn != NULL)
		mdb_txn_abort(txn);
	store_close(st);
	return (code);
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	if (st->rtxn != NULL)
		mdb_txn_abort(st->rtxn);
	/*
	 * The last checkpoint, so that a clean start replays nothing (and
	 * what was committed outside the writer is durable too); if it
	 * fails, the log still holds what the writer completed.
	 */
	if (st->opened && store_failed(st) == TP_OK)
		(void)wal_checkpoint(st->wal, st->env);
	wal_close(st->wal);
	if (st->env != NULL)
		mdb_env_close(st->env);
	if (st->lock_fd != -1)
		close(st->lock_fd);
	free(st->dir);
	pthread_rwlock_destroy(&st->lock);
	pthread_mutex_destroy(&st->why_lock);
	free(st);
}

MDB_env *
store_env(struct store *st)
{
	return (st->env);
}

struct wal *
store_wal(struct store *st)
{
	return (st->wal);
}

MDB_dbi
store_meta(struct store *st)
{
	return (st->meta);
}

uint64_t
store_map_size(struct store *st)
{
	return (st->map_size);
}

int
store_grow(struct store *st, struct tp_err *err)
{
	uint64_t	size;
	int		rc;

	size = st->map_size * 2;
	if (st->map_max != 0 && size > st->map_max)
		size = st->map_max;
	if (size <= st->map_size)
		return (error_set(err, TP_ENOSPC, "storage full: data reached "
		    "max-data-size (%llu bytes)",
		    (unsigned long long)st->map_max));
	pthread_rwlock_wrlock(&st->lock);
	rc = mdb_env_set_mapsize(st->env, size);
	pthread_rwlock_unlock(&st->lock);
	if (rc != 0)
		return (error_set(err, store_code(rc), "cannot grow the map "
		    "to %llu bytes: %s", (unsigned long long)size,
		    mdb_strerror(rc)));
	st->map_size = size;
	return (TP_OK);
}

int
store_read_begin(struct store *st, MDB_txn **txn, struct tp_err *err)
{
	int	rc;

	pthread_rwlock_rdlock(&st->lock);
	if (st->rtxn != NULL) {
		rc = mdb_txn_renew(st->rtxn);
		if (rc == 0) {
			*txn = st->rtxn;
			st->rtxn = NULL;
			return (TP_OK);
		}
		mdb_txn_abort(st->rtxn);
		st->rtxn = NULL;
	}
	rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, txn);
	if (rc != 0) {
		pthread_rwlock_unlock(&st->lock);
		return (error_set(err, store_code(rc), "cannot begin a read "
		    "transaction: %s", mdb_strerror(rc)));
	}
	return (TP_OK);
}

void
store_read_end(struct store *st, MDB_txn *txn)
{
	if (st->rtxn == NULL) {
		mdb_txn_reset(txn);
		st->rtxn = txn;
	} else
		mdb_txn_abort(txn);
	pthread_rwlock_unlock(&st->lock);
}

void
store_writeback(struct store *st)
{
	mdb_filehandle_t	fd;

	if (mdb_env_get_fd(st->env, &fd) == 0)
		(void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}

int
store_disk_full(struct store *st)
{
	struct statvfs	sv;

	if (statvfs(st->dir, &sv) != 0)
		return (0);
	return ((uint64_t)sv.f_bavail * sv.f_frsize < STORE_FULL_BYTES);
}

int
store_failed(struct store *st)
{
	return (atomic_load(&st->failed));
}

void
store_fail(struct store *st, int code, const char *why)
{
	char	copy[sizeof st->why];
	int	expected = 0, e = errno, first;

	pthread_mutex_lock(&st->why_lock);
	first = atomic_compare_exchange_strong(&st->failed, &expected, code);
	if (first && why != NULL)
		snprintf(st->why, sizeof st->why, "%s%s%s", why,
		    e != 0 ? ": " : "", e != 0 ? strerror(e) : "");
	memcpy(copy, st->why, sizeof copy);
	pthread_mutex_unlock(&st->why_lock);
	if (first && st->fail_cb != NULL)
		st->fail_cb(st->fail_arg, code, copy[0] != '\0' ? copy :
		    "no reason recorded");
}

void
store_on_fail(struct store *st, store_fail_cb cb, void *arg)
{
	st->fail_cb = cb;
	st->fail_arg = arg;
}

const char *
store_fail_why(struct store *st)
{
	const char	*why;

	pthread_mutex_lock(&st->why_lock);
	why = st->why[0] != '\0' ? st->why : "no reason recorded";
	pthread_mutex_unlock(&st->why_lock);
	return (why);
}
