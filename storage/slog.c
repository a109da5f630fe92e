/*
 * Station log on LMDB. Keys are big-endian so byte order is seq order;
 * appends use MDB_APPEND, which is both the fast path and a check that
 * sequence numbers only grow.
 */
#include "storage/slog.h"

#include <stdio.h>
#include <string.h>

#include "client/tupelo/tupelo.h"
#include "storage/wal.h"

void
slog_key_put(uint8_t *p, uint64_t seq)
{
	int	i;

	for (i = 7; i >= 0; i--) {
		p[i] = (uint8_t)seq;
		seq >>= 8;
	}
}

uint64_t
slog_key_get(const MDB_val *k)
{
	const uint8_t	*p = k->mv_data;
	uint64_t	 seq = 0;
	size_t		 i;

	if (k->mv_size != 8)
		return (0);
	for (i = 0; i < 8; i++)
		seq = seq << 8 | p[i];
	return (seq);
}

void
slog_name(char *buf, size_t len, const char *station)
{
	snprintf(buf, len, "log/%s", station);
}

int
slog_open(MDB_txn *txn, const char *station, int create, MDB_dbi *dbi)
{
	char	name[SLOG_NAME_MAX];

	slog_name(name, sizeof name, station);
	return (mdb_dbi_open(txn, name, create ? MDB_CREATE : 0, dbi));
}

int
slog_drop(MDB_txn *txn, MDB_dbi dbi)
{
	return (mdb_drop(txn, dbi, 1));
}

int
slog_append(MDB_txn *txn, MDB_dbi dbi, const char *station, uint64_t first,
    const uint8_t *buf, const uint32_t *lens, size_t n)
{
	MDB_cursor	*cur;
	MDB_val		 k, v;
	char		 name[SLOG_NAME_MAX];
	uint8_t		 key[8];
	size_t		 i;
	int		 rc;

	slog_name(name, sizeof name, station);
	wal_note_append(name, first, buf, lens, n);
	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
		return (rc);
	for (i = 0; i < n; i++) {
		slog_key_put(key, first + i);
		k.mv_data = key;
		k.mv_size = sizeof key;
		v.mv_data = (void *)buf;
		v.mv_size = lens[i];
		if ((rc = mdb_cursor_put(cur, &k, &v, MDB_APPEND)) != 0)
			break;
		buf += lens[i];
	}
	mdb_cursor_close(cur);
	return (rc);
}

int
slog_delete(MDB_txn *txn, MDB_dbi dbi, const char *station, uint64_t seq)
{
	MDB_val	k;
	char	name[SLOG_NAME_MAX];
	uint8_t	key[8];

	slog_key_put(key, seq);
	k.mv_data = key;
	k.mv_size = sizeof key;
	slog_name(name, sizeof name, station);
	wal_note_del(name, k.mv_data, k.mv_size);
	return (mdb_del(txn, dbi, &k, NULL));
}

int
slog_cursor_delete(MDB_cursor *cur, const char *station, const MDB_val *k)
{
	char	name[SLOG_NAME_MAX];

	slog_name(name, sizeof name, station);
	wal_note_del(name, k->mv_data, k->mv_size);
	return (mdb_cursor_del(cur, 0));
}

int
slog_scan(MDB_txn *txn, MDB_dbi dbi, uint64_t from, slog_scan_cb cb,
    void *arg)
{
	MDB_cursor	*cur;
	MDB_val		 k, v;
	uint8_t		 key[8];
	int		 rc;

	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
		return (rc);
	slog_key_put(key, from);
	k.mv_data = key;
	k.mv_size = sizeof key;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0) {
		if (cb(arg, slog_key_get(&k), &v) != 0)
			break;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return (rc == MDB_NOTFOUND ? 0 : rc);
}

int
slog_bounds(MDB_txn *txn, MDB_dbi dbi, uint64_t *first, uint64_t *last,
    uint64_t *count)
{
	MDB_cursor	*cur;
	MDB_stat	 ms;
	MDB_val		 k, v;
	int		 rc;

	*first = *last = *count = 0;
	if ((rc = mdb_stat(txn, dbi, &ms)) != 0)
		return (rc);
	*count = ms.ms_entries;
	if (ms.ms_entries == 0)
		return (0);
	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
		return (rc);
	if ((rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0)
		*first = slog_key_get(&k);
	if (rc == 0 && (rc = mdb_cursor_get(cur, &k, &v, MDB_LAST)) == 0)
		*last = slog_key_get(&k);
	mdb_cursor_close(cur);
	return (rc);
}
