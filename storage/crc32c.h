/*
 * CRC-32C (Castagnoli), as iSCSI and ext4 use it: crc32c(0, p, n) of
 * "123456789" is 0xe3069283; pass the result back in to continue.
 * Thread-safe.
 */
#ifndef TP_STORAGE_CRC32C_H
#define TP_STORAGE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t	crc32c(uint32_t, const void *, size_t);

#endif
