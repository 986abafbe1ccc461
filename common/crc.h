/*
 * common/crc.h — CRC-32 as zlib's crc32() computes it, fast (common/crc.c).
 */
#ifndef WINMEM_COMMON_CRC_H
#define WINMEM_COMMON_CRC_H

#include <stddef.h>
#include <stdint.h>

/* Picks the method once (folding with PCLMUL when it agrees with zlib on
 * test data, else zlib); call before wm_crc32. Not thread-safe itself. */
void wm_crc_init(void);
/* CRC-32 of n bytes at p, a chunk's checksum (include/winmem/trace.h). */
uint32_t wm_crc32(const void *p, size_t n);

#endif
