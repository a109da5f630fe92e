/*
 * One station log: a named LMDB database "log/<station>" whose keys are
 * big-endian u64 sequence numbers (so LMDB order is seq order and appends
 * use MDB_APPEND) and whose values are stored records. Functions return an
 * LMDB code (0, MDB_*, or an errno value); store_code() maps it.
 */
#ifndef TP_STORAGE_SLOG_H
#define TP_STORAGE_SLOG_H

#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "client/tupelo/tupelo.h"

/* Called per record by slog_scan(); return non-zero to stop. */
typedef int (*slog_scan_cb)(void *, uint64_t, const MDB_val *);

#define SLOG_NAME_MAX	(TP_NAME_MAX + 8)	/* "log/" and a station name */

/* The database name of a station's log: "log/<station>". */
void	slog_name(char *, size_t, const char *);
/* Open (with create, making) the log database of a station. */
int	slog_open(MDB_txn *, const char *, int, MDB_dbi *);
/* Delete the log database and close its handle (on commit). */
int	slog_drop(MDB_txn *, MDB_dbi);
/*
 * Append n records to the log of a station, seqs first..first+n-1, at buf
 * with lengths lens (noted for the write-ahead log).
 */
int	slog_append(MDB_txn *, MDB_dbi, const char *, uint64_t,
	    const uint8_t *, const uint32_t *, size_t);
/*
 * Delete the record at seq from the log of a station, or the one under
 * cur whose key is k (cur then stands on the next); both noted for the
 * write-ahead log. MDB_NOTFOUND if there is none.
 */
int	slog_delete(MDB_txn *, MDB_dbi, const char *, uint64_t);
int	slog_cursor_delete(MDB_cursor *, const char *, const MDB_val *);
/* Visit records from seq from on, in order, until cb returns non-zero. */
int	slog_scan(MDB_txn *, MDB_dbi, uint64_t, slog_scan_cb, void *);
/* First and last kept seq (0, 0 when empty) and the number kept. */
int	slog_bounds(MDB_txn *, MDB_dbi, uint64_t *, uint64_t *, uint64_t *);
/* Encode / decode a seq key (8 bytes, big-endian). */
void	slog_key_put(uint8_t *, uint64_t);
uint64_t slog_key_get(const MDB_val *);

#endif
