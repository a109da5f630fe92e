/*
 * The write-ahead log at run time: recording a transaction's changes,
 * writing them as a frame, syncing, and checkpoints (storage/wal_priv.h
 * has the file's layout; wal_recover.c opens it).
 */
#include "storage/wal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto/compat.h"
#include "proto/error.h"
#include "storage/crc32c.h"
#include "storage/wal_priv.h"

static _Thread_local struct wal_buf	*wal_rec;

int
wal_pread_full(int fd, void *buf, size_t n, uint64_t off)
{
	ssize_t	r;
	size_t	done = 0;

	while (done < n) {
		r = pread(fd, (uint8_t *)buf + done, n - done,
		    (off_t)(off + done));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return (-1);
		done += (size_t)r;
	}
	return (0);
}

int
wal_pwrite_full(int fd, const void *buf, size_t n, uint64_t off)
{
	ssize_t	r;
	size_t	done = 0;

	while (done < n) {
		r = pwrite(fd, (const uint8_t *)buf + done, n - done,
		    (off_t)(off + done));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return (-1);
		done += (size_t)r;
	}
	return (0);
}

int
wal_path(char *buf, size_t len, const char *dir, const char *name)
{
	return ((size_t)snprintf(buf, len, "%s/%s", dir, name) < len ? 0 : -1);
}

int
wal_sync_dir(const char *dir)
{
	int	fd, rc, saved;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return (-1);
	rc = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return (rc);
}


void
wal_close(struct wal *w)
{
	if (w == NULL)
		return;
	if (w->ck_pin != NULL)
		mdb_txn_abort(w->ck_pin);
	if (w->pin != NULL)
		mdb_txn_abort(w->pin);
	if (w->fd != -1)
		close(w->fd);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w->buf.p);
	free(w->ck_meta);
	free(w->slot_meta);
	free(w->dir);
	free(w);
}

/* Make room for n more bytes in the frame; marks it over on failure. */
static int
wal_reserve(struct wal_buf *b, size_t n)
{
	uint8_t	*p;
	size_t	 cap;

	if (b->over)
		return (-1);
	if (b->len + n <= b->cap)
		return (0);
	if (b->len + n + WAL_BLOCK > b->max) {
		b->over = 1;
		return (-1);
	}
	cap = b->cap != 0 ? b->cap : 64 * 1024;
	while (cap < b->len + n + WAL_BLOCK)
		cap *= 2;
	if ((p = realloc(b->p, cap)) == NULL) {
		b->over = 1;
		return (-1);
	}
	b->p = p;
	b->cap = cap;
	return (0);
}

void
wal_record_begin(struct wal *w)
{
	w->buf.over = 0;
	w->buf.len = 0;
	if (wal_reserve(&w->buf, WAL_FRAME_HDR) == 0)
		w->buf.len = WAL_FRAME_HDR;
	wal_rec = &w->buf;
}

int
wal_record_end(struct wal *w)
{
	wal_rec = NULL;
	return (w->buf.over ? TP_ETOOBIG : TP_OK);
}

/* Entry head: type, db name. */
static int
wal_note_head(struct wal_buf *b, int type, const char *db, size_t more)
{
	size_t	dl = strlen(db);

	if (dl > 0xffff || wal_reserve(b, 3 + dl + more) != 0) {
		b->over = 1;
		return (-1);
	}
	b->p[b->len] = (uint8_t)type;
	b->p[b->len + 1] = (uint8_t)dl;
	b->p[b->len + 2] = (uint8_t)(dl >> 8);
	memcpy(b->p + b->len + 3, db, dl);
	b->len += 3 + dl;
	return (0);
}

static void
wal_note_key(struct wal_buf *b, const void *key, size_t klen)
{
	b->p[b->len] = (uint8_t)klen;
	b->p[b->len + 1] = (uint8_t)(klen >> 8);
	memcpy(b->p + b->len + 2, key, klen);
	b->len += 2 + klen;
}

void
wal_note_put(const char *db, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	struct wal_buf	*b = wal_rec;

	if (b == NULL)
		return;
	if (klen > 0xffff || vlen > UINT32_MAX ||
	    wal_note_head(b, WAL_PUT, db, 2 + klen + 4 + vlen) != 0) {
		b->over = 1;
		return;
	}
	wal_note_key(b, key, klen);
	put32(b->p + b->len, (uint32_t)vlen);
	memcpy(b->p + b->len + 4, val, vlen);
	b->len += 4 + vlen;
}

void
wal_note_del(const char *db, const void *key, size_t klen)
{
	struct wal_buf	*b = wal_rec;

	if (b == NULL)
		return;
	if (klen > 0xffff || wal_note_head(b, WAL_DEL, db, 2 + klen) != 0) {
		b->over = 1;
		return;
	}
	wal_note_key(b, key, klen);
}

void
wal_note_append(const char *db, uint64_t first, const uint8_t *buf,
    const uint32_t *lens, size_t n)
{
	struct wal_buf	*b = wal_rec;
	size_t		 i, bytes = 12;

	if (b == NULL)
		return;
	for (i = 0; i < n; i++)
		bytes += 4 + (size_t)lens[i];
	if (n > UINT32_MAX || wal_note_head(b, WAL_APPEND, db, bytes) != 0) {
		b->over = 1;
		return;
	}
	put64(b->p + b->len, first);
	put32(b->p + b->len + 8, (uint32_t)n);
	b->len += 12;
	for (i = 0; i < n; buf += lens[i], i++) {
		put32(b->p + b->len, lens[i]);
		memcpy(b->p + b->len + 4, buf, lens[i]);
		b->len += 4 + (size_t)lens[i];
	}
}

/* Fill a frame header at h for a payload p of len bytes at lsn. */
static void
wal_frame_head(struct wal *w, uint8_t *h, int type, const uint8_t *p,
    size_t len, uint64_t lsn)
{
	memset(h, 0, WAL_FRAME_HDR);
	put32(h, WAL_MAGIC_FRAME);
	put32(h + 4, (uint32_t)type);
	put32(h + 8, (uint32_t)len);
	put64(h + 16, lsn);
	put64(h + 24, w->epoch);
	put32(h + 12, crc32c(crc32c(0, h, WAL_FRAME_HDR), p, len));
}

int
wal_write(struct wal *w, uint64_t *written)
{
	struct wal_buf	*b = &w->buf;
	uint8_t		 wrap[WAL_FRAME_HDR];
	uint64_t	 off, n, skip = 0, room;

	*written = w->head;
	if (b->over)
		return (TP_ETOOBIG);
	if (b->len <= WAL_FRAME_HDR)
		return (TP_OK);		/* nothing changed */
	n = wal_align(b->len);
	off = w->head % w->ring;
	if (off + n > w->ring)
		skip = w->ring - off;
	pthread_mutex_lock(&w->lock);
	room = w->tail + w->ring - w->head;
	pthread_mutex_unlock(&w->lock);
	if (skip + n > room)
		return (TP_ETOOBIG);
	if (skip != 0) {
		wal_frame_head(w, wrap, WAL_WRAP, NULL, 0, w->head);
		if (wal_pwrite_full(w->fd, wrap, sizeof wrap,
		    WAL_RING_OFF + off) != 0)
			return (TP_EIO);
		w->head += skip;
		off = 0;
	}
	wal_frame_head(w, b->p, WAL_DATA, b->p + WAL_FRAME_HDR,
	    b->len - WAL_FRAME_HDR, w->head);
	memset(b->p + b->len, 0, (size_t)n - b->len);
	if (wal_pwrite_full(w->fd, b->p, (size_t)n, WAL_RING_OFF + off) != 0)
		return (TP_EIO);
	w->head += n;
	*written = w->head;
	pthread_mutex_lock(&w->lock);
	w->written = w->head;
	pthread_mutex_unlock(&w->lock);
	if (b->cap > WAL_BUF_KEEP) {
		free(b->p);
		b->p = NULL;
		b->cap = 0;
	}
	return (TP_OK);
}

int
wal_sync(struct wal *w)
{
	uint64_t	upto;
	int		rc;

	pthread_mutex_lock(&w->lock);
	upto = w->written;
	if (w->broken || upto == w->synced) {
		rc = w->broken ? TP_EIO : TP_OK;
		pthread_mutex_unlock(&w->lock);
		return (rc);
	}
	pthread_mutex_unlock(&w->lock);
	rc = fdatasync(w->fd);
	pthread_mutex_lock(&w->lock);
	/*
	 * After a failed sync the kernel may have dropped the pages it
	 * could not write and report the next sync as a success: none
	 * is trusted again.
	 */
	if (rc != 0)
		w->broken = 1;
	else if (!w->broken && upto > w->synced)
		w->synced = upto;
	rc = w->broken ? TP_EIO : TP_OK;
	pthread_mutex_unlock(&w->lock);
	return (rc);
}

uint64_t
wal_replayed(struct wal *w)
{
	return (w->replayed);
}

uint64_t
wal_synced(struct wal *w)
{
	uint64_t	v;

	pthread_mutex_lock(&w->lock);
	v = w->synced;
	pthread_mutex_unlock(&w->lock);
	return (v);
}

int
wal_checkpoint_due(struct wal *w, MDB_env *env)
{
	MDB_envinfo	info;
	int		due;

	pthread_mutex_lock(&w->lock);
	due = !w->busy && w->head != w->tail &&
	    (w->head - w->tail > w->ring / 2 ||
	    tp_now_ms() - w->ck_ms >= WAL_CKPT_MS);
	if (!w->busy && !due && w->head != w->tail &&
	    mdb_env_info(env, &info) == 0)
		due = ((uint64_t)info.me_last_pgno - w->ck_pages) *
		    w->psize >= WAL_CKPT_GROWTH;
	pthread_mutex_unlock(&w->lock);
	return (due);
}

int
wal_checkpoint_begin(struct wal *w, MDB_env *env)
{
	MDB_envinfo	 info;
	mdb_filehandle_t fd;

	pthread_mutex_lock(&w->lock);
	if (w->busy) {
		pthread_mutex_unlock(&w->lock);
		return (0);
	}
	pthread_mutex_unlock(&w->lock);
	if (w->ck_meta == NULL &&
	    (w->ck_meta = malloc(2 * (size_t)w->psize)) == NULL)
		return (0);
	/* The meta pages of the last commit, from the page cache. */
	if (mdb_env_get_fd(env, &fd) != 0 ||
	    wal_pread_full(fd, w->ck_meta, 2 * (size_t)w->psize, 0) != 0 ||
	    mdb_env_info(env, &info) != 0 ||
	    mdb_txn_begin(env, NULL, MDB_RDONLY, &w->ck_pin) != 0)
		return (0);
	pthread_mutex_lock(&w->lock);
	w->ck_lsn = w->head;
	w->ck_ms = tp_now_ms();
	w->ck_pages = info.me_last_pgno;
	w->busy = 1;
	pthread_mutex_unlock(&w->lock);
	return (1);
}

int
wal_checkpoint_end(struct wal *w, MDB_env *env)
{
	uint8_t		*slot;
	MDB_txn		*old;
	size_t		 n = WAL_HDR_BYTES + 2 * (size_t)w->psize;
	uint64_t	 gen;
	int		 code = TP_OK;

	pthread_mutex_lock(&w->lock);
	if (!w->busy) {
		pthread_mutex_unlock(&w->lock);
		return (TP_OK);
	}
	gen = w->gen + 1;
	pthread_mutex_unlock(&w->lock);
	if ((slot = calloc(1, n)) == NULL)
		code = TP_ENOMEM;
	else if (mdb_env_sync(env, 1) != 0)
		code = TP_EIO;
	if (code == TP_OK) {
		put32(slot, WAL_MAGIC_SLOT);
		put32(slot + 4, WAL_VERSION);
		put64(slot + 8, gen);
		put64(slot + 16, w->epoch);
		put64(slot + 24, w->ck_lsn);
		put64(slot + 32, w->ring);
		put32(slot + 40, w->psize);
		memcpy(slot + WAL_HDR_BYTES, w->ck_meta, 2 * (size_t)w->psize);
		put32(slot + 44, crc32c(crc32c(0, slot, 44),
		    slot + WAL_HDR_BYTES, 2 * (size_t)w->psize));
		if (wal_pwrite_full(w->fd, slot, n,
		    (gen & 1) * WAL_SLOT) != 0 || fdatasync(w->fd) != 0)
			code = TP_EIO;
	}
	if (code == TP_EIO) {
		pthread_mutex_lock(&w->lock);
		w->broken = 1;
		pthread_mutex_unlock(&w->lock);
	}
	free(slot);
	pthread_mutex_lock(&w->lock);
	if (code == TP_OK) {
		w->gen = gen;
		w->tail = w->ck_lsn;
		old = w->pin;
		w->pin = w->ck_pin;
	} else
		old = w->ck_pin;
	w->ck_pin = NULL;
	w->busy = 0;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	if (old != NULL)
		mdb_txn_abort(old);
	return (code);
}

int
wal_checkpoint(struct wal *w, MDB_env *env)
{
	pthread_mutex_lock(&w->lock);
	while (w->busy)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
	if (!wal_checkpoint_begin(w, env))
		return (TP_EIO);
	return (wal_checkpoint_end(w, env));
}
