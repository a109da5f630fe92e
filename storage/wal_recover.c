/*
 * Opening the write-ahead log: making it, reading its checkpoint, putting
 * LMDB's meta pages back, and applying the frames after the checkpoint.
 */
#include "storage/wal.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/error.h"
#include "storage/crc32c.h"
#include "storage/slog.h"
#include "storage/wal_priv.h"

/*
 * Write a new log of ring bytes, all zeros (so that later writes rewrite
 * allocated blocks and an fdatasync carries no metadata), and put it in
 * place with a rename. No slot is valid yet: LMDB alone is the truth.
 */
static int
wal_create(const char *dir, uint64_t ring, struct tp_err *err)
{
	char		 path[4096], tmp[4096];
	uint8_t		*zero;
	uint64_t	 off, total = WAL_RING_OFF + ring;
	size_t		 n;
	int		 fd, code = TP_OK;

	if (wal_path(path, sizeof path, dir, WAL_NAME) != 0 ||
	    wal_path(tmp, sizeof tmp, dir, WAL_NAME ".new") != 0)
		return (error_set(err, TP_EINVAL, "data directory path too "
		    "long"));
	if ((zero = calloc(1, 1U << 20)) == NULL)
		return (error_set(err, TP_ENOMEM, "out of memory"));
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd == -1) {
		code = error_set(err, TP_EIO, "cannot create %s: %s", tmp,
		    strerror(errno));
		free(zero);
		return (code);
	}
	for (off = 0; off < total && code == TP_OK; off += n) {
		n = total - off < (1U << 20) ? (size_t)(total - off) : 1U << 20;
		if (wal_pwrite_full(fd, zero, n, off) != 0)
			code = TP_EIO;
	}
	if (code == TP_OK && fdatasync(fd) != 0)
		code = TP_EIO;
	if (code != TP_OK) {
		code = error_set(err, errno == ENOSPC ? TP_ENOSPC : TP_EIO,
		    "cannot write the write-ahead log %s (%llu bytes): %s; "
		    "see wal-size", tmp, (unsigned long long)total,
		    strerror(errno));
		close(fd);
		unlink(tmp);
		free(zero);
		return (code);
	}
	close(fd);
	free(zero);
	if (rename(tmp, path) != 0)
		return (error_set(err, TP_EIO, "cannot rename %s: %s", tmp,
		    strerror(errno)));
	/* The log's name is durable before anything relies on the log. */
	if (wal_sync_dir(dir) != 0)
		return (error_set(err, TP_EIO, "cannot sync directory %s: %s",
		    dir, strerror(errno)));
	return (TP_OK);
}

/* A header slot as read from the file. */
struct wal_slot {
	uint64_t	 gen;
	uint64_t	 epoch;
	uint64_t	 lsn;
	uint64_t	 ring;
	unsigned	 psize;
	uint8_t		*meta;		/* malloc'd: 2 * psize */
};

/* Read slot i of fd into *s; 0 if it is valid. */
static int
wal_slot_read(int fd, int i, struct wal_slot *s)
{
	uint8_t		 h[WAL_SLOT_FIELDS];
	uint64_t	 off = (uint64_t)i * WAL_SLOT;
	uint32_t	 crc;

	memset(s, 0, sizeof *s);
	if (wal_pread_full(fd, h, sizeof h, off) != 0 ||
	    get32(h) != WAL_MAGIC_SLOT || get32(h + 4) != WAL_VERSION)
		return (-1);
	s->psize = get32(h + 40);
	if (s->psize < 512 || s->psize > WAL_PSIZE_MAX ||
	    (s->meta = malloc(2 * (size_t)s->psize)) == NULL)
		return (-1);
	crc = crc32c(0, h, 44);
	if (wal_pread_full(fd, s->meta, 2 * (size_t)s->psize,
	    off + WAL_HDR_BYTES) != 0 ||
	    crc32c(crc, s->meta, 2 * (size_t)s->psize) != get32(h + 44)) {
		free(s->meta);
		s->meta = NULL;
		return (-1);
	}
	s->gen = get64(h + 8);
	s->epoch = get64(h + 16);
	s->lsn = get64(h + 24);
	s->ring = get64(h + 32);
	return (0);
}

/* Put the checkpoint's meta pages back into data.mdb. */
static int
wal_restore(struct wal *w, struct tp_err *err)
{
	char	path[4096];
	int	fd;

	if (wal_path(path, sizeof path, w->dir, "data.mdb") != 0)
		return (error_set(err, TP_EINVAL, "data directory path too "
		    "long"));
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) == -1)
		return (error_set(err, TP_EIO, "cannot open %s: %s (the "
		    "write-ahead log holds a checkpoint of it)", path,
		    strerror(errno)));
	if (wal_pwrite_full(fd, w->slot_meta, 2 * (size_t)w->psize, 0) != 0) {
		close(fd);
		return (error_set(err, TP_EIO, "cannot write %s: %s", path,
		    strerror(errno)));
	}
	close(fd);
	/* The lock file remembers the last commit; LMDB remakes it. */
	if (wal_path(path, sizeof path, w->dir, "lock.mdb") == 0 &&
	    unlink(path) != 0 && errno != ENOENT)
		return (error_set(err, TP_EIO, "cannot remove %s: %s", path,
		    strerror(errno)));
	return (TP_OK);
}

static int
wal_open_file(struct wal *w, int flags, struct tp_err *err)
{
	char		 path[4096];
	struct stat	 sb;
	struct wal_slot	 slot[2], *best;
	int		 ok[2], i;

	if (wal_path(path, sizeof path, w->dir, WAL_NAME) != 0)
		return (error_set(err, TP_EINVAL, "data directory path too "
		    "long"));
	if ((w->fd = open(path, flags | O_CLOEXEC)) == -1)
		return (error_set(err, TP_EIO, "cannot open %s: %s", path,
		    strerror(errno)));
	if (fstat(w->fd, &sb) != 0)
		return (error_set(err, TP_EIO, "cannot stat %s: %s", path,
		    strerror(errno)));
	for (i = 0; i < 2; i++)
		ok[i] = wal_slot_read(w->fd, i, &slot[i]) == 0;
	/* The newer valid slot is the checkpoint. */
	best = ok[0] && ok[1] ? &slot[slot[1].gen > slot[0].gen] :
	    ok[0] ? &slot[0] : ok[1] ? &slot[1] : NULL;
	w->ring = (uint64_t)sb.st_size > WAL_RING_OFF ?
	    (uint64_t)sb.st_size - WAL_RING_OFF : 0;
	w->ring -= w->ring % WAL_BLOCK;
	if (best != NULL) {
		w->have_slot = 1;
		w->gen = best->gen;
		w->slot_epoch = best->epoch;
		w->slot_lsn = best->lsn;
		w->ring = best->ring;
		w->psize = best->psize;
		free(w->slot_meta);
		w->slot_meta = best->meta;
		best->meta = NULL;
	}
	free(slot[0].meta);
	free(slot[1].meta);
	if (best != NULL && (w->ring < WAL_SIZE_MIN ||
	    (uint64_t)sb.st_size < WAL_RING_OFF + w->ring))
		return (error_set(err, TP_EIO, "%s is shorter than its "
		    "header says", path));
	return (TP_OK);
}

int
wal_open(const char *dir, uint64_t size, struct wal **out,
    struct tp_err *err)
{
	struct wal	*w;
	char		 path[4096];
	int		 code;

	*out = NULL;
	size -= size % WAL_BLOCK;
	if (size < WAL_SIZE_MIN)
		return (error_set(err, TP_EINVAL, "wal-size below %u bytes",
		    WAL_SIZE_MIN));
	if ((w = calloc(1, sizeof *w)) == NULL ||
	    (w->dir = strdup(dir)) == NULL) {
		free(w);
		return (error_set(err, TP_ENOMEM, "out of memory"));
	}
	w->fd = -1;
	w->want_ring = size;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	if (wal_path(path, sizeof path, dir, WAL_NAME) != 0) {
		code = error_set(err, TP_EINVAL, "data directory path too "
		    "long");
		goto fail;
	}
	if (access(path, F_OK) != 0 &&
	    (code = wal_create(dir, size, err)) != TP_OK)
		goto fail;
	if ((code = wal_open_file(w, O_RDWR, err)) != TP_OK)
		goto fail;
	if (w->have_slot && (code = wal_restore(w, err)) != TP_OK)
		goto fail;
	*out = w;
	return (TP_OK);
fail:
	wal_close(w);
	return (code);
}

/* Replay: the database handle of a name, opened in txn. */
static int
wal_dbi(MDB_txn *txn, const uint8_t *name, size_t len, MDB_dbi *dbi)
{
	char	buf[512];

	if (len == 0 || len >= sizeof buf)
		return (MDB_CORRUPTED);
	memcpy(buf, name, len);
	buf[len] = '\0';
	return (mdb_dbi_open(txn, buf, 0, dbi));
}

/*
 * Take a length of lb bytes (2 or 4, little-endian) and as many bytes
 * after it from *pp, no further than end; -1 if they are not all there.
 */
static int
wal_take(const uint8_t **pp, const uint8_t *end, size_t lb, MDB_val *v)
{
	const uint8_t	*p = *pp;
	uint32_t	 len;

	if ((size_t)(end - p) < lb)
		return (-1);
	len = lb == 2 ? (uint32_t)p[0] | (uint32_t)p[1] << 8 : get32(p);
	p += lb;
	if ((size_t)(end - p) < len)
		return (-1);
	v->mv_data = (void *)p;
	v->mv_size = len;
	*pp = p + len;
	return (0);
}

/* Replay the entries of one frame inside txn. */
static int
wal_apply(MDB_txn *txn, const uint8_t *p, size_t len)
{
	const uint8_t	*end = p + len;
	MDB_dbi		 dbi;
	MDB_val		 name, k, v;
	uint8_t		 key[8];
	uint64_t	 first;
	uint32_t	 n, i;
	int		 type, rc;

	while (p < end) {
		type = *p++;
		if (wal_take(&p, end, 2, &name) != 0)
			return (MDB_CORRUPTED);
		if ((rc = wal_dbi(txn, name.mv_data, name.mv_size, &dbi)) != 0)
			return (rc);
		switch (type) {
		case WAL_PUT:
		case WAL_DEL:
			if (wal_take(&p, end, 2, &k) != 0)
				return (MDB_CORRUPTED);
			if (type == WAL_DEL) {
				rc = mdb_del(txn, dbi, &k, NULL);
				if (rc != 0 && rc != MDB_NOTFOUND)
					return (rc);
				break;
			}
			if (wal_take(&p, end, 4, &v) != 0)
				return (MDB_CORRUPTED);
			if ((rc = mdb_put(txn, dbi, &k, &v, 0)) != 0)
				return (rc);
			break;
		case WAL_APPEND:
			if ((size_t)(end - p) < 12)
				return (MDB_CORRUPTED);
			first = get64(p);
			n = get32(p + 8);
			p += 12;
			k.mv_data = key;
			k.mv_size = sizeof key;
			for (i = 0; i < n; i++) {
				if (wal_take(&p, end, 4, &v) != 0)
					return (MDB_CORRUPTED);
				slog_key_put(key, first + i);
				if ((rc = mdb_put(txn, dbi, &k, &v, 0)) != 0)
					return (rc);
			}
			break;
		default:
			return (MDB_CORRUPTED);
		}
	}
	return (0);
}

/*
 * Read the frame at lsn: 1 and its payload in *buf (type in *type, size
 * in *len), or 0 where the log ends.
 */
static int
wal_frame_read(struct wal *w, uint64_t lsn, uint8_t **buf, size_t *cap,
    int *type, size_t *len)
{
	uint8_t		 h[WAL_FRAME_HDR], *p;
	uint64_t	 off = lsn % w->ring;
	uint32_t	 crc;

	if (off + WAL_FRAME_HDR > w->ring ||
	    wal_pread_full(w->fd, h, sizeof h, WAL_RING_OFF + off) != 0)
		return (0);
	if (get32(h) != WAL_MAGIC_FRAME || get64(h + 16) != lsn ||
	    get64(h + 24) != w->slot_epoch)
		return (0);
	*type = get32(h + 4);
	*len = get32(h + 8);
	if (off + WAL_FRAME_HDR + *len > w->ring)
		return (0);
	if (*len > *cap) {
		if ((p = realloc(*buf, *len)) == NULL)
			return (0);
		*buf = p;
		*cap = *len;
	}
	if (wal_pread_full(w->fd, *buf, *len, WAL_RING_OFF + off +
	    WAL_FRAME_HDR) != 0)
		return (0);
	crc = get32(h + 12);
	memset(h + 12, 0, 4);
	return (crc32c(crc32c(0, h, sizeof h), *buf, *len) == crc);
}

/* Called with each frame's payload in order; non-zero stops the walk. */
typedef int (*wal_frame_fn)(void *, const uint8_t *, size_t);

/* Visit the frames after the checkpoint; *end: the lsn after them. */
static int
wal_walk(struct wal *w, wal_frame_fn fn, void *arg, uint64_t *end)
{
	uint8_t		*buf = NULL;
	uint64_t	 lsn = w->slot_lsn;
	size_t		 cap = 0, len;
	int		 type, rc = 0;

	while (lsn - w->slot_lsn < w->ring &&
	    wal_frame_read(w, lsn, &buf, &cap, &type, &len)) {
		if (type == WAL_WRAP) {
			lsn += w->ring - lsn % w->ring;
			continue;
		}
		if ((rc = fn(arg, buf, len)) != 0)
			break;
		lsn += wal_align(WAL_FRAME_HDR + len);
	}
	free(buf);
	*end = lsn;
	return (rc);
}

struct wal_replaying {
	MDB_env		*env;
	MDB_txn		*txn;		/* open, or NULL */
	uint64_t	 in_txn;	/* bytes applied in it */
	uint64_t	 frames;
};

/* Apply one frame, committing every WAL_REPLAY_TXN bytes; an LMDB code. */
static int
wal_replay_cb(void *arg, const uint8_t *p, size_t len)
{
	struct wal_replaying	*r = arg;
	int			 rc;

	if (r->txn == NULL &&
	    (rc = mdb_txn_begin(r->env, NULL, 0, &r->txn)) != 0)
		return (rc);
	if ((rc = wal_apply(r->txn, p, len)) != 0)
		return (rc);
	r->frames++;
	if ((r->in_txn += len) >= WAL_REPLAY_TXN) {
		rc = mdb_txn_commit(r->txn);
		r->txn = NULL;
		r->in_txn = 0;
	}
	return (rc);
}

/* Apply the frames from the checkpoint on; *end: the lsn after them. */
static int
wal_replay(struct wal *w, MDB_env *env, uint64_t *end, struct tp_err *err)
{
	struct wal_replaying	r;
	int			rc;

	memset(&r, 0, sizeof r);
	r.env = env;
	rc = wal_walk(w, wal_replay_cb, &r, end);
	if (rc == 0 && r.txn != NULL) {
		rc = mdb_txn_commit(r.txn);
		r.txn = NULL;
	}
	if (r.txn != NULL)
		mdb_txn_abort(r.txn);
	if (rc != 0)
		return (error_set(err, rc == MDB_MAP_FULL ? TP_ENOSPC :
		    TP_EIO, "cannot replay the write-ahead log: %s",
		    mdb_strerror(rc)));
	w->replayed = r.frames;
	return (TP_OK);
}

/* Count a frame a start would replay. */
static int
wal_view_cb(void *arg, const uint8_t *p, size_t len)
{
	struct wal_view	*v = arg;

	(void)p;
	v->frames++;
	v->bytes += len;
	return (0);
}

int
wal_view_read(const char *dir, struct wal_view *v, struct tp_err *err)
{
	struct wal	*w;
	char		 path[4096];
	uint64_t	 end;
	int		 code = TP_OK;

	memset(v, 0, sizeof *v);
	if (wal_path(path, sizeof path, dir, WAL_NAME) != 0)
		return (error_set(err, TP_EINVAL, "data directory path too "
		    "long"));
	/* No log: LMDB alone is the truth, as at a start. */
	if (access(path, F_OK) != 0 && errno == ENOENT)
		return (TP_OK);
	if ((w = calloc(1, sizeof *w)) == NULL ||
	    (w->dir = strdup(dir)) == NULL) {
		free(w);
		return (error_set(err, TP_ENOMEM, "out of memory"));
	}
	w->fd = -1;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	if ((code = wal_open_file(w, O_RDONLY, err)) == TP_OK &&
	    w->have_slot) {
		v->checkpoint = 1;
		v->psize = w->psize;
		v->meta = w->slot_meta;
		w->slot_meta = NULL;
		(void)wal_walk(w, wal_view_cb, v, &end);
	}
	wal_close(w);
	return (code);
}

void
wal_view_free(struct wal_view *v)
{
	free(v->meta);
	memset(v, 0, sizeof *v);
}

int
wal_recover(struct wal *w, MDB_env *env, int *lmdb_rc, struct tp_err *err)
{
	MDB_stat	 ms;
	uint64_t	 end = 0;
	int		 rc, code;

	*lmdb_rc = 0;
	if ((rc = mdb_env_stat(env, &ms)) != 0)
		goto lmdb;
	if (ms.ms_psize > WAL_PSIZE_MAX || (w->have_slot &&
	    ms.ms_psize != w->psize))
		return (error_set(err, TP_EIO, "LMDB page size %u does not "
		    "match the write-ahead log", ms.ms_psize));
	w->psize = ms.ms_psize;
	/* Replay may free the checkpoint's pages: keep them until done. */
	if (w->pin == NULL &&
	    (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &w->pin)) != 0)
		goto lmdb;
	if (w->have_slot) {
		code = wal_replay(w, env, &end, err);
		if (code == TP_ENOSPC)
			*lmdb_rc = MDB_MAP_FULL;
		if (code != TP_OK)
			return (code);
	}
	/* Frames of this run are told apart from any left beyond end. */
	w->epoch = (w->have_slot ? w->slot_epoch : 0) + 1;
	w->head = w->tail = w->written = w->synced = end;
	if (w->ring != w->want_ring) {
		/* A fresh file of the configured size, after a checkpoint. */
		if ((code = wal_checkpoint(w, env)) != TP_OK)
			return (error_set(err, code, "cannot checkpoint "
			    "the data directory"));
		close(w->fd);
		w->fd = -1;
		w->have_slot = 0;
		if ((code = wal_create(w->dir, w->want_ring, err)) != TP_OK ||
		    (code = wal_open_file(w, O_RDWR, err)) != TP_OK)
			return (code);
		w->head = w->tail = w->written = w->synced = 0;
	}
	w->buf.max = w->ring / 4;
	if ((code = wal_checkpoint(w, env)) != TP_OK)
		return (error_set(err, code, "cannot checkpoint the data "
		    "directory"));
	return (TP_OK);
lmdb:
	*lmdb_rc = rc;
	return (error_set(err, TP_EIO, "cannot open LMDB: %s",
	    mdb_strerror(rc)));
}
