/*
 * shim/wine_calls.c — the wrappers that go into ntdll.so's system-call
 * array, one per hooked Nt* call.
 *
 * They must be ms_abi: Wine's dispatcher calls the array's entries with the
 * Windows convention and does not restore xmm6–15 afterwards, so a sysv
 * wrapper would silently corrupt the caller's xmm registers.
 *
 * Each records the call BEFORE calling through (PENDING), because a fault
 * on a bad user pointer makes Wine abort the whole system call: our
 * epilogue never runs, and the pending record is all that remains. Values
 * behind the caller's in/out pointers are read at entry exactly where Wine
 * itself reads them, so a bad pointer faults the same way with or without
 * the shim (Wine then returns STATUS_ACCESS_VIOLATION to the caller).
 */
#include <string.h>
#include "shim.h"
#include "model.h"

typedef void *H;
typedef long WM_MSABI (*query_fn)(H, const void *, int, void *, size_t, size_t *);
typedef long WM_MSABI (*alloc_fn)(H, void **, uintptr_t, size_t *, uint32_t, uint32_t);
typedef long WM_MSABI (*alloc_ex_fn)(H, void **, size_t *, uint32_t, uint32_t, void *, uint32_t);
typedef long WM_MSABI (*free_fn)(H, void **, size_t *, uint32_t);
typedef long WM_MSABI (*protect_fn)(H, void **, size_t *, uint32_t, uint32_t *);
typedef long WM_MSABI (*map_fn)(H, H, void **, uintptr_t, size_t, const int64_t *, size_t *, uint32_t, uint32_t, uint32_t);
typedef long WM_MSABI (*map_ex_fn)(H, H, void **, const int64_t *, size_t *, uint32_t, uint32_t, void *, uint32_t);
typedef long WM_MSABI (*unmap_fn)(H, void *);
typedef long WM_MSABI (*unmap_ex_fn)(H, void *, uint32_t);
typedef long WM_MSABI (*rw_fn)(H, void *, void *, size_t, size_t *);
typedef long WM_MSABI (*lock_fn)(H, void **, size_t *, uint32_t);

#define SELF ((H)(intptr_t)-1)
#define REAL(idx, type) ((type)wm_nt_real[idx])
#define SP() ((uintptr_t)__builtin_frame_address(0))


static void start(struct wmt_call *c, uint16_t api, H process)
{
    memset(c, 0, sizeof *c);
    c->api = api;
    c->flags = WMT_DOOR_WINE | (process != SELF ? WMT_CF_REMOTE : 0);
    c->stack = wm_self.cur_stack = wm_stack_capture(true);
    c->start_ns = wm_now_ns();
}

static void finish(struct wmt_call *c, long st)
{
    c->dur_ns = wm_now_ns() - c->start_ns;
    c->ret = (uint64_t)(int64_t)(int32_t)st;
    c->status = (uint32_t)st;
    wm_call_end(c);
    if (wm_cfg.mode != WMT_MODE_TRACE)
        wm_model_apply(c);
}

static int awe_done;
void wm_awe_poll(void)
{
    if (!awe_done && wm_awe_wine_try_install)
        awe_done = wm_awe_wine_try_install() != 0;
}

/* Decodes a successful query's answer into out[] (trace.h lists slots). */
static void decode_query(struct wmt_call *c, int cls, const void *buf, size_t len, const size_t *ret)
{
    const uint64_t *q = buf;
    if (cls == 0 && len >= 48) {
        c->out[0] = q[0], c->out[1] = q[1], c->out[2] = (uint32_t)q[2], c->out[3] = q[3];
        c->out[4] = (uint32_t)q[4], c->out[5] = (uint32_t)(q[4] >> 32), c->out[6] = (uint32_t)q[5];
    } else if (cls == 2 && len >= 16) {
        c->out[0] = q[0] & 0xffff;
    } else if (cls == 3 && len >= 40) {
        c->out[0] = q[0], c->out[1] = (uint32_t)q[1], c->out[2] = (uint32_t)(q[1] >> 32);
        c->out[3] = q[2], c->out[4] = q[3];
    } else if (cls == 4 && len >= 16) {
        c->out[0] = q[0], c->out[1] = q[1], c->out[2] = len / 16;
    }
    c->out[7] = ret ? *ret : 0;
}

static long WM_MSABI w_query(H process, const void *addr, int cls, void *buf, size_t len, size_t *retlen)
{
    query_fn real = REAL(WM_NT_QUERY, query_fn);
    if (!wm_enter(SP(), true))
        return real(process, addr, cls, buf, len, retlen);
    struct wmt_call c;
    start(&c, WMT_API_NtQueryVirtualMemory, process);
    c.arg[0] = (uintptr_t)process, c.arg[1] = (uintptr_t)addr, c.arg[2] = (uint32_t)cls;
    c.arg[3] = (uintptr_t)buf, c.arg[4] = len, c.arg[5] = (uintptr_t)retlen;
    if (cls >= 1000)
        c.flags |= WMT_CF_INTERNAL;    /* Wine-private: always Wine's answer */
    bool served = false;
    long st = 0;
    wm_call_begin(&c);
    /* Native mode: winmem answers about this process, named by the
     * pseudo-handle or by a real handle (the core is asked with the
     * pseudo-handle: it knows no Wine handles). It first learns the PE
     * images Wine mapped since the last query. */
    if (wm_cfg.mode == WMT_MODE_NATIVE && cls < 1000 &&
        (process == SELF || wm_wine_handle_is_self(process))) {
        wm_pe_core_sync();
        st = wm_core_query(SELF, addr, cls, buf, len, retlen);
        served = st != (long)0xC0000002; /* NOT_IMPLEMENTED: no core linked */
    }
    if (!served)
        st = real(process, addr, cls, buf, len, retlen);
    if (served)
        c.flags |= WMT_CF_SERVED;
    if (st == 0)
        decode_query(&c, cls, buf, len, retlen);
    finish(&c, st);
    if (st == 0 && cls == 0 && wm_cfg.mode == WMT_MODE_CHECK && process == SELF && !served)
        wm_check_basic(WMT_API_NtQueryVirtualMemory, c.seq, (uintptr_t)addr, buf);
    wm_leave();
    if (st == 0)
        wm_awe_poll();
    return st;
}

static long WM_MSABI w_alloc(H process, void **base, uintptr_t zero_bits, size_t *size, uint32_t type, uint32_t prot)
{
    alloc_fn real = REAL(WM_NT_ALLOC, alloc_fn);
    if (!wm_enter(SP(), true))
        return real(process, base, zero_bits, size, type, prot);
    struct wmt_call c;
    start(&c, WMT_API_NtAllocateVirtualMemory, process);
    c.arg[0] = (uintptr_t)process, c.arg[1] = (uintptr_t)*base, c.arg[2] = zero_bits;
    c.arg[3] = *size, c.arg[4] = type, c.arg[5] = prot, c.arg[6] = (uintptr_t)base, c.arg[7] = (uintptr_t)size;
    wm_call_begin(&c);
    long st = real(process, base, zero_bits, size, type, prot);
    if (st == 0) {
        c.out[0] = (uintptr_t)*base, c.out[1] = *size;
        if (process == SELF)
            wm_check_note_alloc((uintptr_t)*base, *size, type);
    }
    finish(&c, st);
    wm_leave();
    if (st == 0)
        wm_awe_poll();
    return st;
}

static long WM_MSABI w_alloc_ex(H process, void **base, size_t *size, uint32_t type, uint32_t prot, void *params, uint32_t count)
{
    alloc_ex_fn real = REAL(WM_NT_ALLOC_EX, alloc_ex_fn);
    if (!wm_enter(SP(), true))
        return real(process, base, size, type, prot, params, count);
    struct wmt_call c;
    start(&c, WMT_API_NtAllocateVirtualMemoryEx, process);
    c.arg[0] = (uintptr_t)process, c.arg[1] = (uintptr_t)*base, c.arg[2] = *size, c.arg[3] = type;
    c.arg[4] = prot, c.arg[5] = (uintptr_t)params, c.arg[6] = count, c.arg[7] = (uintptr_t)base, c.arg[8] = (uintptr_t)size;
    wm_call_begin(&c);
    long st = real(process, base, size, type, prot, params, count);
    if (st == 0) {
        c.out[0] = (uintptr_t)*base, c.out[1] = *size;
        if (process == SELF)
            wm_check_note_alloc((uintptr_t)*base, *size, type);
    }
    finish(&c, st);
    wm_leave();
    return st;
}

/* NtFreeVirtualMemory, NtLock/Unlock/FlushVirtualMemory share one shape. */
static long base_size_call(int idx, uint16_t api, H process, void **base, size_t *size, uint32_t x)
{
    free_fn real = REAL(idx, free_fn);
    struct wmt_call c;
    start(&c, api, process);
    c.arg[0] = (uintptr_t)process, c.arg[1] = (uintptr_t)*base, c.arg[2] = *size, c.arg[3] = x;
    c.arg[4] = (uintptr_t)base, c.arg[5] = (uintptr_t)size;
    wm_call_begin(&c);
    long st = real(process, base, size, x);
    if (st == 0) {
        c.out[0] = (uintptr_t)*base, c.out[1] = *size;
        if (api == WMT_API_NtFreeVirtualMemory && process == SELF)
            wm_check_note_free((uintptr_t)*base, x);
    }
    finish(&c, st);
    wm_leave();
    return st;
}

#define BASE_SIZE_WRAPPER(name, idx, api)                                             \
    static long WM_MSABI name(H process, void **base, size_t *size, uint32_t x)       \
    {                                                                                 \
        if (!wm_enter(SP(), true))                                                    \
            return REAL(idx, free_fn)(process, base, size, x);                        \
        return base_size_call(idx, api, process, base, size, x);                      \
    }
BASE_SIZE_WRAPPER(w_free, WM_NT_FREE, WMT_API_NtFreeVirtualMemory)
BASE_SIZE_WRAPPER(w_lock, WM_NT_LOCK, WMT_API_NtLockVirtualMemory)
BASE_SIZE_WRAPPER(w_unlock, WM_NT_UNLOCK, WMT_API_NtUnlockVirtualMemory)
BASE_SIZE_WRAPPER(w_flush, WM_NT_FLUSH, WMT_API_NtFlushVirtualMemory)

static long WM_MSABI w_protect(H process, void **base, size_t *size, uint32_t prot, uint32_t *old)
{
    protect_fn real = REAL(WM_NT_PROTECT, protect_fn);
    if (!wm_enter(SP(), true))
        return real(process, base, size, prot, old);
    struct wmt_call c;
    start(&c, WMT_API_NtProtectVirtualMemory, process);
    c.arg[0] = (uintptr_t)process, c.arg[1] = (uintptr_t)*base, c.arg[2] = *size, c.arg[3] = prot;
    c.arg[4] = (uintptr_t)old, c.arg[5] = (uintptr_t)base, c.arg[6] = (uintptr_t)size;
    wm_call_begin(&c);
    long st = real(process, base, size, prot, old);
    if (st == 0)
        c.out[0] = (uintptr_t)*base, c.out[1] = *size, c.out[2] = *old;
    finish(&c, st);
    wm_leave();
    return st;
}

static long WM_MSABI w_map(H section, H process, void **base, uintptr_t zero_bits, size_t commit,
                           const int64_t *offset, size_t *size, uint32_t inherit, uint32_t type, uint32_t prot)
{
    map_fn real = REAL(WM_NT_MAP, map_fn);
    if (!wm_enter(SP(), true))
        return real(section, process, base, zero_bits, commit, offset, size, inherit, type, prot);
    struct wmt_call c;
    start(&c, WMT_API_NtMapViewOfSection, process);
    c.arg[0] = (uintptr_t)section, c.arg[1] = (uintptr_t)process, c.arg[2] = (uintptr_t)*base;
    c.arg[3] = zero_bits, c.arg[4] = commit, c.arg[5] = offset ? (uint64_t)*offset : 0;
    c.arg[6] = *size, c.arg[7] = inherit, c.arg[8] = type, c.arg[9] = prot;
    wm_call_begin(&c);
    long st = real(section, process, base, zero_bits, commit, offset, size, inherit, type, prot);
    bool ok = st >= 0;                 /* STATUS_IMAGE_NOT_AT_BASE is a success */
    if (ok)
        c.out[0] = (uintptr_t)*base, c.out[1] = *size;
    finish(&c, st);
    if (ok && process == SELF)
        wm_pe_note_image(c.out[0]);   /* a DLL being loaded: learn it for stacks */
    if (ok && wm_cfg.mode == WMT_MODE_NATIVE && wm_pe_core_view_is_image(process, c.out[0]))
        wm_pe_core_changed();         /* and winmem's core, before its next answer */
    wm_leave();
    return st;
}

static long WM_MSABI w_map_ex(H section, H process, void **base, const int64_t *offset, size_t *size,
                              uint32_t type, uint32_t prot, void *params, uint32_t count)
{
    map_ex_fn real = REAL(WM_NT_MAP_EX, map_ex_fn);
    if (!wm_enter(SP(), true))
        return real(section, process, base, offset, size, type, prot, params, count);
    struct wmt_call c;
    start(&c, WMT_API_NtMapViewOfSectionEx, process);
    c.arg[0] = (uintptr_t)section, c.arg[1] = (uintptr_t)process, c.arg[2] = (uintptr_t)*base;
    c.arg[3] = offset ? (uint64_t)*offset : 0, c.arg[4] = *size, c.arg[5] = type, c.arg[6] = prot;
    c.arg[7] = (uintptr_t)params, c.arg[8] = count;
    wm_call_begin(&c);
    long st = real(section, process, base, offset, size, type, prot, params, count);
    bool ok = st >= 0;
    if (ok)
        c.out[0] = (uintptr_t)*base, c.out[1] = *size;
    finish(&c, st);
    if (ok && process == SELF)
        wm_pe_note_image(c.out[0]);
    if (ok && wm_cfg.mode == WMT_MODE_NATIVE && wm_pe_core_view_is_image(process, c.out[0]))
        wm_pe_core_changed();
    wm_leave();
    return st;
}

static long WM_MSABI w_unmap(H process, void *addr)
{
    unmap_fn real = REAL(WM_NT_UNMAP, unmap_fn);
    if (!wm_enter(SP(), true))
        return real(process, addr);
    struct wmt_call c;
    start(&c, WMT_API_NtUnmapViewOfSection, process);
    c.arg[0] = (uintptr_t)process, c.arg[1] = (uintptr_t)addr;
    wm_call_begin(&c);
    bool img = wm_cfg.mode == WMT_MODE_NATIVE && wm_pe_core_view_is_image(process, (uintptr_t)addr);
    long st = real(process, addr);
    if (st == 0 && img)
        wm_pe_core_changed();         /* an image is gone */
    finish(&c, st);
    wm_leave();
    return st;
}

static long WM_MSABI w_unmap_ex(H process, void *addr, uint32_t flags)
{
    unmap_ex_fn real = REAL(WM_NT_UNMAP_EX, unmap_ex_fn);
    if (!wm_enter(SP(), true))
        return real(process, addr, flags);
    struct wmt_call c;
    start(&c, WMT_API_NtUnmapViewOfSectionEx, process);
    c.arg[0] = (uintptr_t)process, c.arg[1] = (uintptr_t)addr, c.arg[2] = flags;
    wm_call_begin(&c);
    bool img = wm_cfg.mode == WMT_MODE_NATIVE && wm_pe_core_view_is_image(process, (uintptr_t)addr);
    long st = real(process, addr, flags);
    if (st == 0 && img)
        wm_pe_core_changed();         /* an image is gone */
    finish(&c, st);
    wm_leave();
    return st;
}

static long rw_call(int idx, uint16_t api, H process, void *addr, void *buf, size_t size, size_t *done)
{
    rw_fn real = REAL(idx, rw_fn);
    struct wmt_call c;
    start(&c, api, process);
    c.arg[0] = (uintptr_t)process, c.arg[1] = (uintptr_t)addr, c.arg[2] = (uintptr_t)buf;
    c.arg[3] = size, c.arg[4] = (uintptr_t)done;
    wm_call_begin(&c);
    long st = real(process, addr, buf, size, done);
    if (done && (st == 0 || st == (long)0x8000000D /* PARTIAL_COPY */))
        c.out[0] = *done;
    finish(&c, st);
    wm_leave();
    return st;
}

static long WM_MSABI w_read(H process, void *addr, void *buf, size_t size, size_t *done)
{
    if (!wm_enter(SP(), true))
        return REAL(WM_NT_READ, rw_fn)(process, addr, buf, size, done);
    return rw_call(WM_NT_READ, WMT_API_NtReadVirtualMemory, process, addr, buf, size, done);
}

static long WM_MSABI w_write(H process, void *addr, void *buf, size_t size, size_t *done)
{
    if (!wm_enter(SP(), true))
        return REAL(WM_NT_WRITE, rw_fn)(process, addr, buf, size, done);
    return rw_call(WM_NT_WRITE, WMT_API_NtWriteVirtualMemory, process, addr, buf, size, done);
}

void *const wm_nt_wrap[WM_NT_COUNT] = {
    [WM_NT_QUERY] = (void *)w_query,     [WM_NT_ALLOC] = (void *)w_alloc,
    [WM_NT_ALLOC_EX] = (void *)w_alloc_ex, [WM_NT_FREE] = (void *)w_free,
    [WM_NT_PROTECT] = (void *)w_protect, [WM_NT_MAP] = (void *)w_map,
    [WM_NT_MAP_EX] = (void *)w_map_ex,   [WM_NT_UNMAP] = (void *)w_unmap,
    [WM_NT_UNMAP_EX] = (void *)w_unmap_ex, [WM_NT_READ] = (void *)w_read,
    [WM_NT_WRITE] = (void *)w_write,     [WM_NT_LOCK] = (void *)w_lock,
    [WM_NT_UNLOCK] = (void *)w_unlock,   [WM_NT_FLUSH] = (void *)w_flush,
};
