/*
 * shim/wine_calls.c — the Wine door's wrappers: what goes into ntdll.so's
 * system-call array in place of each hooked Nt call.
 *
 * One table (door[] below, one line per call) says how each call is
 * recorded; one body, door_call(), does what every call does: enter the
 * guard, take the stack and the clock, reserve the CALL record, call Wine,
 * decode the outputs, complete the record, leave. The wrappers themselves
 * are generated twice from WM_NT_CALLS (shim.h), once per calling
 * convention Wine's dispatcher may use:
 *  - ms_abi (Wine 8.0): the dispatcher does not restore xmm6–15 after the
 *    call, so the wrapper must be ms_abi itself (the compiler then saves
 *    them) — a System V wrapper would silently corrupt the caller's xmm.
 *  - System V (Wine 10.0): the dispatcher passes the arguments in the Unix
 *    registers and restores xmm6–15 from its frame afterwards.
 * shim/wine.c reads the dispatcher's code and installs the matching set.
 *
 * Each call is recorded BEFORE calling through (PENDING), because a fault
 * on a bad user pointer makes Wine abort the whole system call: our
 * epilogue never runs, and the pending record is all that remains. Values
 * behind the caller's in/out pointers are read at entry exactly where Wine
 * itself reads them, so a bad pointer faults the same way with or without
 * the shim (Wine then returns STATUS_ACCESS_VIOLATION to the caller).
 */
#include <string.h>
#include "door.h"
#include "model.h"
#include "native_status.h"
#include "winmem/memory.h"

typedef void *H;
#define SELF ((H)(intptr_t)-1)

typedef wm_u64 U;

/* ---- calling Wine's functions in the recognised convention ---- */
static long call_real(void *fn, const U *a)
{
    return wm_wine_conv == WM_CONV_MS ? wm_call_ms(fn, a) : wm_call_sysv(fn, a);
}

long wm_nt_call(void *fn, U a0, U a1, U a2, U a3, U a4, U a5)
{
    const U a[10] = { a0, a1, a2, a3, a4, a5 };
    return call_real(fn, a);
}

bool wm_wine_query_self(uint64_t addr, int cls, void *buf, size_t len)
{
    void *q = wm_nt_real[WM_NT_QUERY];
    size_t ret = 0;
    return q && wm_wine_conv != WM_CONV_NONE &&
           wm_nt_call(q, (uint64_t)-1, addr, (uint32_t)cls, (uintptr_t)buf, len, (uintptr_t)&ret) == 0;
}

/* ---- what every call shares ---- */
struct door_call {
    int idx;
    const U *a;         /* the wrapper's arguments (read where they are: a copy
                           stalled on store forwarding, ~5 ns a call, measured) */
    long st;
    bool served;        /* answered by winmem's core (native mode) */
    bool image;         /* unmap: the view was an image (native mode) */
    bool poll_awe;      /* after leaving: try the AWE redirection */
    struct wmt_call c;
};

/* How each call's trace slots are filled: wm_door_fill's specs (door.h).
 * Inputs are read at entry; outputs (out[]) after a successful call. */
/* Per-call rules before / after Wine's function (NULL: none). */
typedef void door_hook(struct door_call *);
static door_hook before_query, after_query, after_alloc, after_alloc_ex, after_free,
                 after_protect, after_map, before_unmap, after_unmap, after_lock, before_unlock, after_unlock;

enum ok_rule { OK_ZERO, OK_NONNEG, OK_READ };   /* which statuses have outputs */
static const struct door_entry {
    uint16_t api;
    uint8_t process;        /* which argument is the process handle */
    uint8_t ok;             /* enum ok_rule */
    const char *args, *outs;
    door_hook *before, *after;
} door[WM_NT_COUNT] = {
    [WM_NT_QUERY]    = { WMT_API_NtQueryVirtualMemory, 0, OK_ZERO, "A0A1I2A3A4A5", "", before_query, after_query },
    [WM_NT_ALLOC]    = { WMT_API_NtAllocateVirtualMemory, 0, OK_ZERO, "A0D1A2D3I4I5A1A3", "D1D3", NULL, after_alloc },
    [WM_NT_ALLOC_EX] = { WMT_API_NtAllocateVirtualMemoryEx, 0, OK_ZERO, "A0D1D2I3I4A5I6A1A2", "D1D2", NULL, after_alloc_ex },
    [WM_NT_FREE]     = { WMT_API_NtFreeVirtualMemory, 0, OK_ZERO, "A0D1D2I3A1A2", "D1D2", NULL, after_free },
    [WM_NT_PROTECT]  = { WMT_API_NtProtectVirtualMemory, 0, OK_ZERO, "A0D1D2I3A4A1A2", "D1D2L4", NULL, after_protect },
    [WM_NT_MAP]      = { WMT_API_NtMapViewOfSection, 1, OK_NONNEG, "A0A1D2A3A4O5D6I7I8I9", "D2D6", NULL, after_map },
    [WM_NT_MAP_EX]   = { WMT_API_NtMapViewOfSectionEx, 1, OK_NONNEG, "A0A1D2O3D4I5I6A7I8", "D2D4", NULL, after_map },
    [WM_NT_UNMAP]    = { WMT_API_NtUnmapViewOfSection, 0, OK_ZERO, "A0A1", "", before_unmap, after_unmap },
    [WM_NT_UNMAP_EX] = { WMT_API_NtUnmapViewOfSectionEx, 0, OK_ZERO, "A0A1I2", "", before_unmap, after_unmap },
    [WM_NT_READ]     = { WMT_API_NtReadVirtualMemory, 0, OK_READ, "A0A1A2A3A4", "O4", NULL, NULL },
    [WM_NT_WRITE]    = { WMT_API_NtWriteVirtualMemory, 0, OK_READ, "A0A1A2A3A4", "O4", NULL, NULL },
    [WM_NT_LOCK]     = { WMT_API_NtLockVirtualMemory, 0, OK_ZERO, "A0D1D2I3A1A2", "D1D2", NULL, after_lock },
    [WM_NT_UNLOCK]   = { WMT_API_NtUnlockVirtualMemory, 0, OK_ZERO, "A0D1D2I3A1A2", "D1D2", before_unlock, after_unlock },
    [WM_NT_FLUSH]    = { WMT_API_NtFlushVirtualMemory, 0, OK_ZERO, "A0D1D2I3A1A2", "D1D2", NULL, NULL },
};

static bool has_outputs(const struct door_entry *e, long st)
{
    switch (e->ok) {
    case OK_NONNEG: return st >= 0;   /* STATUS_IMAGE_NOT_AT_BASE is a success */
    case OK_READ:   return st == 0 || st == STATUS_PARTIAL_COPY;
    default:        return st == 0;
    }
}

/* Inlined into every wrapper (28 copies, 28 KiB): each knows its table line. */
static inline __attribute__((always_inline)) long door_call(int idx, const U *args)
{
    void *real = wm_nt_real[idx];
    const struct door_entry *e = &door[idx];
    if (!wm_enter((uintptr_t)__builtin_frame_address(0), true))
        return call_real(real, args);
    wm_wine_note_process();
    struct door_call dc;
    dc.idx = idx;
    dc.st = 0;
    dc.served = dc.image = dc.poll_awe = false;
    dc.a = args;
    struct wmt_call *c = &dc.c;
    wm_call_clear(c);
    c->api = e->api;
    c->flags = WMT_DOOR_WINE | ((H)(uintptr_t)args[e->process] != SELF ? WMT_CF_REMOTE : 0);
    c->stack = wm_self.cur_stack = wm_stack_capture(true);
    c->start_ns = wm_now_ns();
    wm_door_fill(c->arg, e->args, args);
    wm_call_begin(c);
    if (e->before)
        e->before(&dc);
    if (!dc.served)
        dc.st = (long)(int32_t)call_real(real, args);
    if (has_outputs(e, dc.st))
        wm_door_fill(c->out, e->outs, args);
    if (e->after)
        e->after(&dc);
    c->dur_ns = wm_dur_ns(c->start_ns);
    c->ret = (uint64_t)(int64_t)dc.st;
    c->status = (uint32_t)dc.st;
    wm_call_end(c);
    if (wm_cfg.mode != WMT_MODE_TRACE)
        wm_model_apply(c);   /* native and check modes: what Windows would now record */
    wm_leave();
    if (dc.poll_awe)
        wm_awe_poll();
    return dc.st;
}

/* ---- the wrappers: one per call and convention, from WM_NT_CALLS ---- */
#define P2 U a0, U a1
#define P3 P2, U a2
#define P4 P3, U a3
#define P5 P4, U a4
#define P6 P5, U a5
#define P7 P6, U a6
#define P9 P7, U a7, U a8
#define P10 P9, U a9
#define V2 a0, a1
#define V3 V2, a2
#define V4 V3, a3
#define V5 V4, a4
#define V6 V5, a5
#define V7 V6, a6
#define V9 V7, a7, a8
#define V10 V9, a9
#define WRAPPERS_(idx, name, n)                                                        \
    static long WM_MSABI ms_##name(P##n) { const U a[10] = { V##n }; return door_call(WM_NT_##idx, a); } \
    static long sv_##name(P##n) { const U a[10] = { V##n }; return door_call(WM_NT_##idx, a); }
WM_NT_CALLS(WRAPPERS_)

void *wm_nt_wrapper(enum wm_conv conv, int idx)
{
#define MS_(idx, name, n) (void *)ms_##name,
#define SV_(idx, name, n) (void *)sv_##name,
    static void *const ms[WM_NT_COUNT] = { WM_NT_CALLS(MS_) };
    static void *const sv[WM_NT_COUNT] = { WM_NT_CALLS(SV_) };
    return conv == WM_CONV_MS ? ms[idx] : sv[idx];
}

/* ---- per-call rules ---- */
static int awe_done;
void wm_awe_poll(void)
{
    if (!awe_done && wm_awe_wine_try_install)
        awe_done = wm_awe_wine_try_install() != 0;
}

/* Native mode: winmem answers about this process, named by the
 * pseudo-handle or by a real handle (the core is asked with the
 * pseudo-handle: it knows no Wine handles). It first learns the PE images
 * Wine mapped since the last query. Wine-private classes (>= 1000) are
 * always Wine's. */
static void before_query(struct door_call *dc)
{
    H process = (H)(uintptr_t)dc->a[0];
    int cls = (int)dc->a[2];
    if (cls >= 1000)
        dc->c.flags |= WMT_CF_INTERNAL;
    if (wm_cfg.mode != WMT_MODE_NATIVE || cls >= 1000 || !(process == SELF || wm_wine_handle_is_self(process)))
        return;
    wm_pe_core_sync();
    dc->st = wm_core_query(SELF, (const void *)(uintptr_t)dc->a[1], cls, (void *)(uintptr_t)dc->a[3],
                           (size_t)dc->a[4], (size_t *)(uintptr_t)dc->a[5]);
    dc->served = dc->st != STATUS_NOT_IMPLEMENTED;   /* else no core linked */
    if (dc->served)
        dc->c.flags |= WMT_CF_SERVED;
}

/* Decodes a successful query's answer into out[] (trace.h lists slots). */
static void after_query(struct door_call *dc)
{
    int cls = (int)dc->a[2];
    const void *buf = (const void *)(uintptr_t)dc->a[3];
    if (dc->st != 0)
        return;
    dc->poll_awe = true;
    wm_door_decode_query(dc->c.out, cls, buf, (size_t)dc->a[4], (const size_t *)(uintptr_t)dc->a[5], 40);
    if (cls == 0 && wm_cfg.mode == WMT_MODE_CHECK && (H)(uintptr_t)dc->a[0] == SELF && !dc->served)
        wm_check_basic(WMT_API_NtQueryVirtualMemory, dc->c.seq, dc->a[1], buf);
}

/* Check mode knows the write-watched reservations (see shim/check.c). */
static void after_alloc(struct door_call *dc)
{
    if (dc->st == 0 && (H)(uintptr_t)dc->a[0] == SELF)
        wm_check_note_alloc(dc->c.out[0], dc->c.out[1], (uint32_t)dc->a[4]);
    dc->poll_awe = dc->st == 0;
}

static void after_alloc_ex(struct door_call *dc)
{
    if (dc->st == 0 && (H)(uintptr_t)dc->a[0] == SELF)
        wm_check_note_alloc(dc->c.out[0], dc->c.out[1], (uint32_t)dc->a[3]);
}

static bool own_process(H h) { return h == SELF || wm_wine_handle_is_self(h); }

/* Native mode corrects Wine 8's status for memory that is not allocated. */
static void after_free(struct door_call *dc)
{
    if (!own_process((H)(uintptr_t)dc->a[0]))
        return;
    if (dc->st == 0) {
        wm_check_note_free(dc->c.out[0], (uint32_t)dc->a[3]);
        wm_native_lock_forget(dc->c.out[0], dc->c.out[1]);
        return;
    }
    long st = wm_native_free_status(dc->st, dc->c.arg[1], (uint32_t)dc->a[3]);
    if (st != dc->st)
        dc->st = st, dc->c.flags |= WMT_CF_SERVED;
}

/* Native mode keeps the locks: Windows refuses to unlock what is not locked. */
static void after_lock(struct door_call *dc)
{
    if (dc->st == 0 && own_process((H)(uintptr_t)dc->a[0]))
        wm_native_locked(dc->c.out[0], dc->c.out[1]);
}

static void before_unlock(struct door_call *dc)
{
    if (own_process((H)(uintptr_t)dc->a[0]) && wm_native_unlock_refused(dc->c.arg[1], dc->c.arg[2])) {
        dc->st = (long)STATUS_NOT_LOCKED;
        dc->served = true;
        dc->c.flags |= WMT_CF_SERVED;
    }
}

static void after_unlock(struct door_call *dc)
{
    if (dc->st == 0 && !dc->served && own_process((H)(uintptr_t)dc->a[0]))
        wm_native_unlocked(dc->c.out[0], dc->c.out[1]);
}

/* Native mode: the old protection is the one the model's query gave (a
 * written copy-on-write page is PAGE_READWRITE on Windows, where Wine 8
 * still says PAGE_WRITECOPY), so the program never sees two truths. Wine
 * itself just wrote the value to the same place inside this system call,
 * and a fault here ends the call as a fault in Wine's write would. */
static void after_protect(struct door_call *dc)
{
    if (dc->st != 0 || wm_cfg.mode != WMT_MODE_NATIVE || !own_process((H)(uintptr_t)dc->a[0]) || !dc->a[4])
        return;
    uint32_t old = wm_model_windows_old(&dc->c);
    if (old == (uint32_t)dc->c.out[2])
        return;
    *(volatile uint32_t *)(uintptr_t)dc->a[4] = old;
    dc->c.out[2] = old;
    dc->c.flags |= WMT_CF_SERVED;
}

/* A DLL being loaded: learn it for stacks, and for winmem's core before
 * its next answer in native mode. */
static void after_map(struct door_call *dc)
{
    H process = (H)(uintptr_t)dc->a[1];
    if (dc->st < 0)
        return;
    if (process == SELF)
        wm_pe_note_image(dc->c.out[0]);
    if (wm_cfg.mode == WMT_MODE_NATIVE && wm_pe_core_view_is_image(process, dc->c.out[0]))
        wm_pe_core_changed();
}

static void before_unmap(struct door_call *dc)
{
    dc->image = wm_cfg.mode == WMT_MODE_NATIVE &&
                wm_pe_core_view_is_image((H)(uintptr_t)dc->a[0], dc->a[1]);
}

static void after_unmap(struct door_call *dc)
{
    if (dc->st == 0 && dc->image)
        wm_pe_core_changed();         /* an image is gone */
}
