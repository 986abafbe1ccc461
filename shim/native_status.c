/*
 * shim/native_status.c — see native_status.h.
 *
 * Why here and not in Wine: Wine 8.0 answers a second MEM_RELEASE with
 * STATUS_INVALID_PARAMETER where Windows says STATUS_MEMORY_NOT_ALLOCATED,
 * and lets VirtualUnlock of pages never locked succeed where Windows
 * fails with STATUS_NOT_LOCKED (VirtualUnlock's documentation). Native
 * mode promises Windows' answers, so the door corrects both.
 *
 * Which pages are locked Linux does not say, so the locks the program made
 * through the door are kept: sorted, disjoint page intervals in a fixed
 * table (no malloc in the recording path). When the table overflows the
 * shim no longer knows for sure and stops refusing unlocks: Wine answers.
 */
#include <pthread.h>
#include <string.h>
#include "native_status.h"
#include "shim.h"
#include "wine_abi.h"
#include "winmem/memory.h"

#define MAX_LOCKS 256
#define PAGE 0x1000ull

struct span { uint64_t s, e; };
static struct span locks[MAX_LOCKS];
static int nlocks;
static bool overflowed;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static bool native(void) { return wm_cfg.mode == WMT_MODE_NATIVE; }

long wm_native_free_status(long st, uint64_t base, uint32_t type)
{
    struct wm_mbi m;
    if (!native() || st != (long)STATUS_INVALID_PARAMETER || !(type & MEM_RELEASE) || !base)
        return st;
    if (wm_wine_query_self(base, 0, &m, sizeof m) && m.state == MEM_FREE)
        return (long)STATUS_MEMORY_NOT_ALLOCATED;
    return st;
}

/* Pre: mu held. Removes [s, e) from the table, splitting an interval that
 * holds it; false when a split would not fit. */
static bool cut(uint64_t s, uint64_t e)
{
    for (int i = 0; i < nlocks; i++) {
        struct span *x = &locks[i];
        if (x->e <= s || x->s >= e)
            continue;
        if (x->s < s && x->e > e) {                 /* a hole in the middle */
            if (nlocks == MAX_LOCKS)
                return false;
            memmove(&locks[i + 2], &locks[i + 1], sizeof *locks * (size_t)(nlocks - i - 1));
            locks[i + 1] = (struct span){ e, x->e };
            x->e = s;
            nlocks++;
            return true;
        }
        if (x->s < s) { x->e = s; continue; }
        if (x->e > e) { x->s = e; continue; }
        memmove(x, x + 1, sizeof *locks * (size_t)(nlocks - i - 1));
        nlocks--, i--;
    }
    return true;
}

void wm_native_locked(uint64_t base, uint64_t size)
{
    if (!native() || !size)
        return;
    uint64_t s = base & ~(PAGE - 1), e = (base + size + PAGE - 1) & ~(PAGE - 1);
    pthread_mutex_lock(&mu);
    /* Merge with every interval it touches, then insert in order. */
    for (int i = 0; i < nlocks; i++)
        if (locks[i].s <= e && locks[i].e >= s) {
            s = locks[i].s < s ? locks[i].s : s;
            e = locks[i].e > e ? locks[i].e : e;
            memmove(&locks[i], &locks[i + 1], sizeof *locks * (size_t)(nlocks - i - 1));
            nlocks--, i--;
        }
    if (nlocks == MAX_LOCKS) {
        overflowed = true;
    } else {
        int at = 0;
        while (at < nlocks && locks[at].s < s)
            at++;
        memmove(&locks[at + 1], &locks[at], sizeof *locks * (size_t)(nlocks - at));
        locks[at] = (struct span){ s, e };
        nlocks++;
    }
    pthread_mutex_unlock(&mu);
}

void wm_native_lock_forget(uint64_t base, uint64_t size)
{
    if (!native() || !size)
        return;
    uint64_t s = base & ~(PAGE - 1), e = (base + size + PAGE - 1) & ~(PAGE - 1);
    pthread_mutex_lock(&mu);
    if (!cut(s, e))
        overflowed = true;
    pthread_mutex_unlock(&mu);
}

void wm_native_unlocked(uint64_t base, uint64_t size) { wm_native_lock_forget(base, size); }

bool wm_native_unlock_refused(uint64_t base, uint64_t size)
{
    if (!native())
        return false;
    uint64_t s = base & ~(PAGE - 1), e = (base + (size ? size : 1) + PAGE - 1) & ~(PAGE - 1);
    pthread_mutex_lock(&mu);
    bool covered = false;
    for (int i = 0; i < nlocks && !covered; i++)
        covered = locks[i].s <= s && locks[i].e >= e;   /* intervals are merged: one must hold it all */
    bool refuse = !covered && !overflowed;
    pthread_mutex_unlock(&mu);
    return refuse;
}

void wm_native_status_after_fork(void)
{
    pthread_mutex_init(&mu, NULL);
    nlocks = 0;
    overflowed = false;
}
