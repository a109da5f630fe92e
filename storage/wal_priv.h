/*
 * The write-ahead log's insides, shared by wal.c (recording, frames,
 * syncs, checkpoints) and wal_recover.c (opening, replay). File layout:
 * two header slots, then the ring.
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
#ifndef TP_STORAGE_WAL_PRIV_H
#define TP_STORAGE_WAL_PRIV_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

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
	int		 broken;	/* a sync failed: no more are trusted */
	MDB_txn		*pin;		/* pins the durable checkpoint */
	int		 busy;		/* a checkpoint is in progress */
	uint64_t	 ck_lsn;	/* ... at this lsn */
	MDB_txn		*ck_pin;	/* ... pinning its commit */
	uint8_t		*ck_meta;	/* ... whose meta pages these are */
	int64_t		 ck_ms;		/* when the last one began */
	uint64_t	 ck_pages;	/* LMDB's last page then */
};

/* Little-endian fields. */
static inline void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void
put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static inline uint32_t
get32(const uint8_t *p)
{
	return ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24);
}

static inline uint64_t
get64(const uint8_t *p)
{
	return ((uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32);
}

static inline uint64_t
wal_align(uint64_t n)
{
	return ((n + WAL_BLOCK - 1) / WAL_BLOCK * WAL_BLOCK);
}

/* Whole reads and writes at an offset; 0 or -1 (errno set). */
int	wal_pread_full(int, void *, size_t, uint64_t);
int	wal_pwrite_full(int, const void *, size_t, uint64_t);
/* dir/name into buf; -1 if too long. */
int	wal_path(char *, size_t, const char *, const char *);

#endif
