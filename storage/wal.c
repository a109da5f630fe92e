/*
 * The write-ahead log. File layout: two header slots, then the ring.
 *
 *   slot (at 0 and WAL_SLOT): magic, version, gen, epoch, lsn, ring,
 *   psize, crc32c, then a copy of LMDB's meta pages 0 and 1 at
 *   WAL_HDR_BYTES. The valid slot with the highest gen is the checkpoint:
 *   LMDB as those meta pages describe it, then the frames from lsn on.
 *
 *   frame (at WAL_RING_OFF + lsn % ring, 512-byte aligned): magic, type,
 *   payload length, crc32c, lsn, epoch, then entries. A frame is valid
 *   only with its own lsn and the checkpoint's epoch, so neither an older
 *   lap of the ring nor what a previous run left beyond the end of the
 *   log can pass for the next frame. The epoch grows at every start.
 *
 * Entries (little-endian lengths): PUT db key value, DEL db key, APPEND
 * db first n (len record)*n.
 */
#include "storage/wal.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto/error.h"
#include "storage/slog.h"

#define WAL_MAGIC_SLOT	0x48575054U	/* "TPWH" */
#define WAL_MAGIC_FRAME	0x46575054U	/* "TPWF" */
#define WAL_VERSION	1
#define WAL_BLOCK	512		/* frames start on a sector */
#define WAL_HDR_BYTES	4096		/* slot fields, then meta pages */
#define WAL_PSIZE_MAX	65536U
#define WAL_SLOT	(WAL_HDR_BYTES + 2 * WAL_PSIZE_MAX)
#define WAL_RING_OFF	(2 * (uint64_t)WAL_SLOT)
#define WAL_FRAME_HDR	32
#define WAL_SLOT_FIELDS	48
#define WAL_CKPT_MS	100		/* checkpoint this often at most */
#define WAL_CKPT_GROWTH	(64ULL << 20)	/* or once LMDB grew this much */
#define WAL_BUF_KEEP	(4U << 20)	/* larger frame buffers are freed */
#define WAL_REPLAY_TXN	(64U << 20)	/* replayed bytes per transaction */

enum { WAL_DATA = 1, WAL_WRAP = 2 };
enum { WAL_PUT = 1, WAL_DEL = 2, WAL_APPEND = 3 };

struct wal_buf {
	uint8_t		*p;
	size_t		 len;
	size_t		 cap;
	size_t		 max;		/* largest frame: a quarter ring */
	int		 over;		/* did not fit: not a full record */
};

struct wal {
	int		 fd;
	char		*dir;
	uint64_t	 ring;		/* bytes of ring in the file */
	uint64_t	 want_ring;	/* configured; the file is remade */
	unsigned	 psize;		/* LMDB page size */
	uint64_t	 epoch;
	uint64_t	 head;		/* lsn of the next frame; writer */
	uint64_t	 replayed;	/* frames applied by wal_recover() */
	struct wal_buf	 buf;		/* the frame being recorded */

	/* Read at open: the checkpoint to return to. */
	int		 have_slot;
	uint64_t	 slot_lsn;
	uint64_t	 slot_epoch;
	uint8_t		*slot_meta;	/* 2 * psize */

	pthread_mutex_t	 lock;		/* guards what follows */
	pthread_cond_t	 cond;		/* a checkpoint finished */
	uint64_t	 gen;		/* checkpoints written */
	uint64_t	 tail;		/* lsn of the durable checkpoint */
	uint64_t	 written;	/* lsn after the last frame written */
	uint64_t	 synced;	/* of which surely on disk */
	MDB_txn		*pin;		/* pins the durable checkpoint */
	int		 busy;		/* a checkpoint is in progress */
	uint64_t	 ck_lsn;	/* ... at this lsn */
	MDB_txn		*ck_pin;	/* ... pinning its commit */
	uint8_t		*ck_meta;	/* ... whose meta pages these are */
	int64_t		 ck_ms;		/* when the last one began */
	uint64_t	 ck_pages;	/* LMDB's last page then */
};

static _Thread_local struct wal_buf	*wal_rec;

/* CRC-32C (Castagnoli), reflected, table-driven eight bytes at a time. */
static uint32_t		crc_table[8][256];
static pthread_once_t	crc_once = PTHREAD_ONCE_INIT;

static void
crc_init(void)
{
	uint32_t	c;
	int		i, j;

	for (i = 0; i < 256; i++) {
		c = (uint32_t)i;
		for (j = 0; j < 8; j++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78U : c >> 1;
		crc_table[0][i] = c;
	}
	for (i = 0; i < 256; i++)
		for (j = 1; j < 8; j++)
			crc_table[j][i] = (crc_table[j - 1][i] >> 8) ^
			    crc_table[0][crc_table[j - 1][i] & 0xff];
}

static uint32_t
crc32c_sw(uint32_t crc, const uint8_t *p, size_t n)
{
	uint64_t	v;

	while (n >= 8) {
		memcpy(&v, p, 8);
		v ^= crc;
		crc = crc_table[7][v & 0xff] ^
		    crc_table[6][(v >> 8) & 0xff] ^
		    crc_table[5][(v >> 16) & 0xff] ^
		    crc_table[4][(v >> 24) & 0xff] ^
		    crc_table[3][(v >> 32) & 0xff] ^
		    crc_table[2][(v >> 40) & 0xff] ^
		    crc_table[1][(v >> 48) & 0xff] ^
		    crc_table[0][v >> 56];
		p += 8;
		n -= 8;
	}
	while (n-- > 0)
		crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return (crc);
}

#if defined(__x86_64__)
/* The SSE 4.2 instruction computes the same polynomial, 8 bytes a go. */
__attribute__((target("sse4.2"))) static uint32_t
crc32c_hw(uint32_t crc, const uint8_t *p, size_t n)
{
	uint64_t	v, c = crc;

	while (n >= 8) {
		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
		p += 8;
		n -= 8;
	}
	crc = (uint32_t)c;
	while (n-- > 0)
		crc = __builtin_ia32_crc32qi(crc, *p++);
	return (crc);
}
#endif

static int	crc_hw;

static void
crc_setup(void)
{
	crc_init();
#if defined(__x86_64__)
	crc_hw = __builtin_cpu_supports("sse4.2");
#endif
}

static uint32_t
crc32c(uint32_t crc, const uint8_t *p, size_t n)
{
	pthread_once(&crc_once, crc_setup);
	crc = ~crc;
#if defined(__x86_64__)
	if (crc_hw)
		return (~crc32c_hw(crc, p, n));
#endif
	return (~crc32c_sw(crc, p, n));
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void
put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t
get32(const uint8_t *p)
{
	return ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24);
}

static uint64_t
get64(const uint8_t *p)
{
	return ((uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32);
}

static int64_t
wal_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static int
pread_full(int fd, void *buf, size_t n, uint64_t off)
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

static int
pwrite_full(int fd, const void *buf, size_t n, uint64_t off)
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

static int
wal_path(char *buf, size_t len, const char *dir, const char *name)
{
	return ((size_t)snprintf(buf, len, "%s/%s", dir, name) < len ? 0 : -1);
}

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
	int		 fd, dfd, code = TP_OK;

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
		if (pwrite_full(fd, zero, n, off) != 0)
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
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		(void)fsync(dfd);
		close(dfd);
	}
	return (TP_OK);
}

/* Read a slot; 0 and its fields if valid. */
static int
wal_slot_read(struct wal *w, int i, uint64_t *gen, uint8_t **meta)
{
	uint8_t		 h[WAL_SLOT_FIELDS], *m;
	uint64_t	 off = (uint64_t)i * WAL_SLOT;
	unsigned	 psize;
	uint32_t	 crc;

	if (pread_full(w->fd, h, sizeof h, off) != 0 ||
	    get32(h) != WAL_MAGIC_SLOT || get32(h + 4) != WAL_VERSION)
		return (-1);
	psize = get32(h + 40);
	if (psize < 512 || psize > WAL_PSIZE_MAX)
		return (-1);
	if ((m = malloc(2 * (size_t)psize)) == NULL)
		return (-1);
	if (pread_full(w->fd, m, 2 * (size_t)psize, off + WAL_HDR_BYTES)) {
		free(m);
		return (-1);
	}
	crc = crc32c(0, h, 44);
	crc = crc32c(crc, m, 2 * (size_t)psize);
	if (crc != get32(h + 44)) {
		free(m);
		return (-1);
	}
	*gen = get64(h + 8);
	*meta = m;
	w->slot_epoch = get64(h + 16);
	w->slot_lsn = get64(h + 24);
	w->ring = get64(h + 32);
	w->psize = psize;
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
	if (pwrite_full(fd, w->slot_meta, 2 * (size_t)w->psize, 0) != 0) {
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
wal_open_file(struct wal *w, struct tp_err *err)
{
	char		 path[4096];
	struct stat	 sb;
	uint64_t	 gen[2] = { 0, 0 };
	uint8_t		*meta[2] = { NULL, NULL };
	int		 ok[2], i;

	if (wal_path(path, sizeof path, w->dir, WAL_NAME) != 0)
		return (error_set(err, TP_EINVAL, "data directory path too "
		    "long"));
	if ((w->fd = open(path, O_RDWR | O_CLOEXEC)) == -1)
		return (error_set(err, TP_EIO, "cannot open %s: %s", path,
		    strerror(errno)));
	if (fstat(w->fd, &sb) != 0)
		return (error_set(err, TP_EIO, "cannot stat %s: %s", path,
		    strerror(errno)));
	for (i = 0; i < 2; i++)
		ok[i] = wal_slot_read(w, i, &gen[i], &meta[i]) == 0;
	/* The newer valid slot wins; its fields are read again. */
	i = ok[0] && ok[1] ? gen[1] > gen[0] : ok[1];
	free(meta[0]);
	free(meta[1]);
	w->ring = (uint64_t)sb.st_size > WAL_RING_OFF ?
	    (uint64_t)sb.st_size - WAL_RING_OFF : 0;
	w->ring -= w->ring % WAL_BLOCK;
	if ((ok[0] || ok[1]) &&
	    wal_slot_read(w, i, &w->gen, &w->slot_meta) == 0) {
		if (w->ring < WAL_SIZE_MIN ||
		    (uint64_t)sb.st_size < WAL_RING_OFF + w->ring)
			return (error_set(err, TP_EIO, "%s is shorter than "
			    "its header says", path));
		w->have_slot = 1;
	}
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
	if ((code = wal_open_file(w, err)) != TP_OK)
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

/* Replay the entries of one frame inside txn. */
static int
wal_apply(MDB_txn *txn, const uint8_t *p, size_t len)
{
	const uint8_t	*end = p + len;
	MDB_dbi		 dbi;
	MDB_val		 k, v;
	uint8_t		 key[8];
	uint64_t	 first;
	uint32_t	 n, i, dl, kl, vl;
	int		 type, rc;

#define NEED(x)	do { if ((size_t)(end - p) < (size_t)(x)) \
		return (MDB_CORRUPTED); } while (0)
	while (p < end) {
		NEED(3);
		type = p[0];
		dl = (uint32_t)p[1] | (uint32_t)p[2] << 8;
		p += 3;
		NEED(dl);
		if ((rc = wal_dbi(txn, p, dl, &dbi)) != 0)
			return (rc);
		p += dl;
		switch (type) {
		case WAL_PUT:
		case WAL_DEL:
			NEED(2);
			kl = (uint32_t)p[0] | (uint32_t)p[1] << 8;
			p += 2;
			NEED(kl);
			k.mv_data = (void *)p;
			k.mv_size = kl;
			p += kl;
			if (type == WAL_DEL) {
				rc = mdb_del(txn, dbi, &k, NULL);
				if (rc != 0 && rc != MDB_NOTFOUND)
					return (rc);
				break;
			}
			NEED(4);
			vl = get32(p);
			p += 4;
			NEED(vl);
			v.mv_data = (void *)p;
			v.mv_size = vl;
			p += vl;
			if ((rc = mdb_put(txn, dbi, &k, &v, 0)) != 0)
				return (rc);
			break;
		case WAL_APPEND:
			NEED(12);
			first = get64(p);
			n = get32(p + 8);
			p += 12;
			for (i = 0; i < n; i++) {
				NEED(4);
				vl = get32(p);
				p += 4;
				NEED(vl);
				slog_key_put(key, first + i);
				k.mv_data = key;
				k.mv_size = sizeof key;
				v.mv_data = (void *)p;
				v.mv_size = vl;
				p += vl;
				if ((rc = mdb_put(txn, dbi, &k, &v, 0)) != 0)
					return (rc);
			}
			break;
		default:
			return (MDB_CORRUPTED);
		}
	}
#undef NEED
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
	    pread_full(w->fd, h, sizeof h, WAL_RING_OFF + off) != 0)
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
	if (pread_full(w->fd, *buf, *len, WAL_RING_OFF + off +
	    WAL_FRAME_HDR) != 0)
		return (0);
	crc = get32(h + 12);
	memset(h + 12, 0, 4);
	return (crc32c(crc32c(0, h, sizeof h), *buf, *len) == crc);
}

static uint64_t
wal_align(uint64_t n)
{
	return ((n + WAL_BLOCK - 1) / WAL_BLOCK * WAL_BLOCK);
}

/* Apply the frames from the checkpoint on; *end: the lsn after them. */
static int
wal_replay(struct wal *w, MDB_env *env, uint64_t *end, struct tp_err *err)
{
	MDB_txn		*txn = NULL;
	uint8_t		*buf = NULL;
	uint64_t	 lsn = w->slot_lsn, in_txn = 0, frames = 0;
	size_t		 cap = 0, len;
	int		 type, rc = 0;

	while (lsn - w->slot_lsn < w->ring &&
	    wal_frame_read(w, lsn, &buf, &cap, &type, &len)) {
		if (type == WAL_WRAP) {
			lsn += w->ring - lsn % w->ring;
			continue;
		}
		if (txn == NULL && (rc = mdb_txn_begin(env, NULL, 0, &txn)))
			break;
		if ((rc = wal_apply(txn, buf, len)) != 0)
			break;
		frames++;
		lsn += wal_align(WAL_FRAME_HDR + len);
		if ((in_txn += len) >= WAL_REPLAY_TXN) {
			rc = mdb_txn_commit(txn);
			txn = NULL;
			in_txn = 0;
			if (rc != 0)
				break;
		}
	}
	if (rc == 0 && txn != NULL) {
		rc = mdb_txn_commit(txn);
		txn = NULL;
	}
	if (txn != NULL)
		mdb_txn_abort(txn);
	free(buf);
	*end = lsn;
	if (rc != 0)
		return (error_set(err, rc == MDB_MAP_FULL ? TP_ENOSPC :
		    TP_EIO, "cannot replay the write-ahead log: %s",
		    mdb_strerror(rc)));
	w->replayed = frames;
	return (TP_OK);
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
		    (code = wal_open_file(w, err)) != TP_OK)
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
wal_write(struct wal *w)
{
	struct wal_buf	*b = &w->buf;
	uint8_t		 wrap[WAL_FRAME_HDR];
	uint64_t	 off, n, skip = 0, room;

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
		if (pwrite_full(w->fd, wrap, sizeof wrap,
		    WAL_RING_OFF + off) != 0)
			return (TP_EIO);
		w->head += skip;
		off = 0;
	}
	wal_frame_head(w, b->p, WAL_DATA, b->p + WAL_FRAME_HDR,
	    b->len - WAL_FRAME_HDR, w->head);
	memset(b->p + b->len, 0, (size_t)n - b->len);
	if (pwrite_full(w->fd, b->p, (size_t)n, WAL_RING_OFF + off) != 0)
		return (TP_EIO);
	w->head += n;
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

	pthread_mutex_lock(&w->lock);
	upto = w->written;
	if (upto == w->synced) {
		pthread_mutex_unlock(&w->lock);
		return (TP_OK);
	}
	pthread_mutex_unlock(&w->lock);
	if (fdatasync(w->fd) != 0)
		return (TP_EIO);
	pthread_mutex_lock(&w->lock);
	if (upto > w->synced)
		w->synced = upto;
	pthread_mutex_unlock(&w->lock);
	return (TP_OK);
}

int
wal_unsynced(struct wal *w)
{
	int	r;

	pthread_mutex_lock(&w->lock);
	r = w->written != w->synced;
	pthread_mutex_unlock(&w->lock);
	return (r);
}

uint64_t
wal_replayed(struct wal *w)
{
	return (w->replayed);
}

uint64_t
wal_written(struct wal *w)
{
	uint64_t	v;

	pthread_mutex_lock(&w->lock);
	v = w->written;
	pthread_mutex_unlock(&w->lock);
	return (v);
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
	    wal_now_ms() - w->ck_ms >= WAL_CKPT_MS);
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
	    pread_full(fd, w->ck_meta, 2 * (size_t)w->psize, 0) != 0 ||
	    mdb_env_info(env, &info) != 0 ||
	    mdb_txn_begin(env, NULL, MDB_RDONLY, &w->ck_pin) != 0)
		return (0);
	pthread_mutex_lock(&w->lock);
	w->ck_lsn = w->head;
	w->ck_ms = wal_now_ms();
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
		if (pwrite_full(w->fd, slot, n, (gen & 1) * WAL_SLOT) != 0 ||
		    fdatasync(w->fd) != 0)
			code = TP_EIO;
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
