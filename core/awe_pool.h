/*
 * core/awe_pool.h — the state behind core/awe.c, and the frame pool
 * (core/awe_pool.c): a memfd whose pages are the frames, locked in RAM
 * through "pool" mappings of the memfd. Private to the two files.
 *
 * Frame number = WM_AWE_FRAME_BASE + the page's index in the memfd.
 * Everything here is guarded by wm_awe_S.lock, which is never held while
 * caller memory is touched.
 */
#ifndef WINMEM_CORE_AWE_POOL_H
#define WINMEM_CORE_AWE_POOL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "winmem/wintypes.h"

/* Windows never hands out frames below 16 MiB (0x1000 4 KiB frames); doing
 * the same keeps small integers (and 0, "unmap" in Scatter) invalid. */
#define WM_AWE_FRAME_BASE  0x1000ULL
/* Frames per pool mapping (64 MiB): few VMAs even for large pools; only the
 * pages of held frames use memory. */
#define WM_AWE_CHUNK_PAGES 16384
#define WM_AWE_MAX_FRAMES  (1ULL << 31)   /* every index fits a uint32_t */

/* A MEM_PHYSICAL window seen by the map calls: which frame is at each page. */
typedef struct wm_awe_window {
    uint64_t base, size;
    uint32_t *slot;              /* per page: frame index + 1, or 0 */
} wm_awe_window;

typedef struct wm_awe_state {
    pthread_mutex_t lock;
    int fd;                      /* the memfd; -1 until the first allocation */
    uint64_t ino;                /* its inode, to recognise our mappings */
    size_t pg;
    unsigned shift;              /* log2(pg): no divisions on the hot paths */
    uint64_t nframes;            /* frames ever created (memfd pages in use) */
    uint64_t cap;                /* capacity of va[], held[], freelist[] */
    uint64_t *va;                /* frame → page it is mapped at, 0 if none */
    uint8_t *held;               /* frame → 1 while the program holds it */
    uint32_t *freelist;          /* indexes of frames freed, for reuse */
    uint64_t nfree;
    char **chunk;                /* pool mappings, WM_AWE_CHUNK_PAGES frames each */
    uint64_t nchunks;
    wm_awe_window *win;          /* windows (core/awe.c) */
    size_t nwin, capwin;
} wm_awe_state;

extern wm_awe_state wm_awe_S;

/* Opens the memfd on first use. */
bool wm_awe_pool_open(void);

/* SeLockMemoryPrivilege ≈ CAP_IPC_LOCK or RLIMIT_MEMLOCK ≥ one page.
 * STATUS_PRIVILEGE_NOT_HELD without either; else *budget = how many more
 * frames may be locked (RLIMIT_MEMLOCK minus VmLck, and never more than 7/8
 * of MemAvailable, so a huge request gets fewer pages, not the OOM killer). */
NTSTATUS wm_awe_lock_budget(uint64_t *budget);

/* Takes up to want frames (locked, zeroed) into out[] as indexes; returns
 * how many. Fewer when the kernel refuses to lock more. */
uint64_t wm_awe_take_frames(uint64_t want, uint32_t *out);

/* Gives a held frame back: unlocked, its memory returned to the system. */
void wm_awe_give_back(uint32_t idx);

#endif
