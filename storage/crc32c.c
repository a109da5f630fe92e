/*
 * CRC-32C (Castagnoli): the SSE 4.2 instruction where the CPU has it,
 * tables eight bytes at a time elsewhere.
 */
#include "storage/crc32c.h"

#include <pthread.h>
#include <string.h>

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

uint32_t
crc32c(uint32_t crc, const void *buf, size_t n)
{
	const uint8_t	*p = buf;

	pthread_once(&crc_once, crc_setup);
	crc = ~crc;
#if defined(__x86_64__)
	if (crc_hw)
		return (~crc32c_hw(crc, p, n));
#endif
	return (~crc32c_sw(crc, p, n));
}
