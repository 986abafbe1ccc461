/*
 * core/awe_pool.c — AWE frames: the privilege check, the memfd and its
 * locked pool mappings (see awe_pool.h). A frame's memory is locked while
 * held and handed back with FALLOC_FL_PUNCH_HOLE when freed, so a reused
 * frame starts zeroed, as Windows hands out zeroed pages.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "awe_pool.h"

#define S wm_awe_S
wm_awe_state wm_awe_S = { .lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1 };

/* ---- privilege: SeLockMemoryPrivilege ≈ CAP_IPC_LOCK or RLIMIT_MEMLOCK ---- */

/* How many more frames this process may lock: *budget, or a failure. */
NTSTATUS wm_awe_lock_budget(uint64_t *budget)
{
    uint64_t ram = wm_mem_available();
    *budget = ram == UINT64_MAX ? UINT64_MAX : ram / 8 * 7 / S.pg;
    if (wm_can_lock_any())
        return STATUS_SUCCESS;
    uint64_t limit = wm_memlock_limit();
    if (limit == UINT64_MAX)
        return STATUS_SUCCESS;
    if (limit < S.pg)
        return STATUS_PRIVILEGE_NOT_HELD;
    uint64_t used = wm_self_locked();
    uint64_t left = used >= limit ? 0 : (limit - used) / S.pg;
    if (left < *budget)
        *budget = left;
    return STATUS_SUCCESS;
}

/* ---- the pool (S.lock held) ---- */

/* Raw system calls: AddressSanitizer turns mlock()/munlock() into no-ops,
 * and the sanitizer build of the tests must lock for real. */
static int lock_pages(void *p, size_t len) { return (int)syscall(SYS_mlock, p, len); }
static int unlock_pages(void *p, size_t len) { return (int)syscall(SYS_munlock, p, len); }

static char *frame_addr(uint64_t idx)
{
    return S.chunk[idx / WM_AWE_CHUNK_PAGES] + (idx % WM_AWE_CHUNK_PAGES) * S.pg;
}

bool wm_awe_pool_open(void)
{
    if (S.fd >= 0)
        return true;
    S.pg = wm_page_size();
    S.shift = (unsigned)__builtin_ctzl(S.pg);
    S.fd = memfd_create("winmem-awe", MFD_CLOEXEC);
    struct stat st;
    if (S.fd >= 0 && fstat(S.fd, &st) == 0)
        S.ino = st.st_ino;
    return S.fd >= 0;
}

static bool grow_arrays(uint64_t need)
{
    if (need <= S.cap)
        return true;
    uint64_t cap = S.cap ? S.cap : 1024;
    while (cap < need)
        cap *= 2;
    uint64_t *va = realloc(S.va, cap * sizeof *va);
    if (!va)
        return false;
    S.va = va;
    uint8_t *held = realloc(S.held, cap);
    if (!held)
        return false;
    S.held = held;
    uint32_t *fl = realloc(S.freelist, cap * sizeof *fl);
    if (!fl)
        return false;
    S.freelist = fl;
    memset(S.va + S.cap, 0, (cap - S.cap) * sizeof *va);
    memset(S.held + S.cap, 0, cap - S.cap);
    S.cap = cap;
    return true;
}

/* Makes sure frames [0, n) have pool mappings. */
static bool map_chunks(uint64_t n)
{
    uint64_t need = (n + WM_AWE_CHUNK_PAGES - 1) / WM_AWE_CHUNK_PAGES;
    if (need <= S.nchunks)
        return true;
    char **c = realloc(S.chunk, need * sizeof *c);
    if (!c)
        return false;
    S.chunk = c;
    if (ftruncate(S.fd, (off_t)(need * WM_AWE_CHUNK_PAGES * S.pg)) != 0)
        return false;
    while (S.nchunks < need) {
        void *p = mmap(NULL, WM_AWE_CHUNK_PAGES * S.pg, PROT_READ | PROT_WRITE, MAP_SHARED,
                       S.fd, (off_t)(S.nchunks * WM_AWE_CHUNK_PAGES * S.pg));
        if (p == MAP_FAILED)
            return false;
        S.chunk[S.nchunks++] = p;
    }
    return true;
}

/* Gives frame idx's memory back to the system: unlocked, contents dropped
 * (a reused frame starts zeroed, as Windows hands out zeroed pages). */
static void frame_release(uint64_t idx)
{
    unlock_pages(frame_addr(idx), S.pg);
    fallocate(S.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(idx * S.pg), (off_t)S.pg);
}

/* Locks frames [idx, idx+n) in RAM; on failure nothing stays locked. */
static bool frame_lock(uint64_t idx, uint64_t n)
{
    /* One chunk at a time: pool mappings are separate. */
    uint64_t done = 0;
    while (done < n) {
        uint64_t i = idx + done, k = WM_AWE_CHUNK_PAGES - i % WM_AWE_CHUNK_PAGES;
        if (k > n - done)
            k = n - done;
        if (lock_pages(frame_addr(i), k * S.pg) != 0) {
            for (uint64_t j = 0; j < done + k; j++)
                frame_release(idx + j);
            return false;
        }
        done += k;
    }
    return true;
}

/* Takes up to want frames into out[] (indexes); returns how many. */
uint64_t wm_awe_take_frames(uint64_t want, uint32_t *out)
{
    uint64_t got = 0;
    while (got < want && S.nfree) {
        uint32_t idx = S.freelist[S.nfree - 1];
        if (!frame_lock(idx, 1))
            return got;
        S.nfree--;
        S.held[idx] = 1;
        out[got++] = idx;
    }
    /* New frames at the end of the memfd: one lock call per chunk. When the
     * kernel refuses (RAM, RLIMIT_MEMLOCK), halve and retry: the caller gets
     * fewer pages, as Windows allows. */
    uint64_t k = want - got;
    if (S.nframes + k > WM_AWE_MAX_FRAMES)
        k = WM_AWE_MAX_FRAMES - S.nframes;
    while (k) {
        if (grow_arrays(S.nframes + k) && map_chunks(S.nframes + k) && frame_lock(S.nframes, k))
            break;
        k /= 2;
    }
    for (uint64_t i = 0; i < k; i++) {
        S.held[S.nframes] = 1;
        out[got++] = (uint32_t)S.nframes++;
    }
    return got;
}

void wm_awe_give_back(uint32_t idx)
{
    S.held[idx] = 0;
    frame_release(idx);
    S.freelist[S.nfree++] = idx;
}
