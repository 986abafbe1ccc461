/*
 * shim/native.c — the native door: the shim exports winmem's Windows API
 * (VirtualQuery, VirtualAlloc, ...), records each call with its ELF stack,
 * and serves it from winmem's core.
 *
 * Which core: the "next" definition (RTLD_NEXT: the libwinmem.so the
 * program links), so the program and the shim share one registry and one
 * last-error; if the program has none, the copy of the core linked into the
 * shim (its API symbols renamed wmcore_* at build time, all hidden).
 * In a Wine process the exported Nt/ZwQueryVirtualMemory forward to Wine's
 * own function unrecorded: Wine's unix libraries may bind to our export
 * (we are preloaded), and they must keep getting Wine's answers.
 *
 * Why the entry points are assembly: they are ms_abi (WINAPI), and the
 * compiler's ms_abi prologue saves xmm6–15 with CFI that libunwind cannot
 * step through, so a stack taken inside would end at the shim. The thunk
 * saves xmm6–15 itself with CFI only for rbp/rsi/rdi, converts to sysv and
 * calls a C body; libunwind then walks from the body into the caller.
 */
#include <dlfcn.h>
#include <string.h>
#include "shim.h"
#include "model.h"
#include "winmem/memory.h"

/* name, argument count (all ≤ 6 integer arguments) */
#define NATIVE_APIS(X) \
    X(VirtualQuery) X(VirtualQueryEx) X(NtQueryVirtualMemory) X(ZwQueryVirtualMemory) \
    X(QueryVirtualMemoryInformation) X(QueryWorkingSetEx) X(K32QueryWorkingSetEx) \
    X(VirtualAlloc) X(VirtualAllocEx) X(VirtualFree) X(VirtualFreeEx) X(VirtualProtect) \
    X(VirtualProtectEx) X(VirtualLock) X(VirtualUnlock) X(AllocateUserPhysicalPages) \
    X(MapUserPhysicalPages) X(FreeUserPhysicalPages) X(GetLastError) X(SetLastError)

#define THUNK(name)                                                                     \
    __asm__(".text\n.globl " #name "\n.type " #name ",@function\n.p2align 4\n" #name ":\n" \
            ".cfi_startproc\npush %rbp\n.cfi_def_cfa_offset 16\n.cfi_offset %rbp,-16\n"  \
            "mov %rsp,%rbp\n.cfi_def_cfa_register %rbp\n"                               \
            "push %rsi\n.cfi_offset %rsi,-24\npush %rdi\n.cfi_offset %rdi,-32\n"        \
            "sub $176,%rsp\n"                                                           \
            "movaps %xmm6,0(%rsp)\nmovaps %xmm7,16(%rsp)\nmovaps %xmm8,32(%rsp)\n"      \
            "movaps %xmm9,48(%rsp)\nmovaps %xmm10,64(%rsp)\nmovaps %xmm11,80(%rsp)\n"   \
            "movaps %xmm12,96(%rsp)\nmovaps %xmm13,112(%rsp)\nmovaps %xmm14,128(%rsp)\n" \
            "movaps %xmm15,144(%rsp)\n"                                                 \
            "mov %rcx,%rdi\nmov %rdx,%rsi\nmov %r8,%rdx\nmov %r9,%rcx\n"                \
            "mov 48(%rbp),%r8\nmov 56(%rbp),%r9\n"                                      \
            "call wm_n_" #name "\n"                                                     \
            "movaps 0(%rsp),%xmm6\nmovaps 16(%rsp),%xmm7\nmovaps 32(%rsp),%xmm8\n"      \
            "movaps 48(%rsp),%xmm9\nmovaps 64(%rsp),%xmm10\nmovaps 80(%rsp),%xmm11\n"   \
            "movaps 96(%rsp),%xmm12\nmovaps 112(%rsp),%xmm13\nmovaps 128(%rsp),%xmm14\n" \
            "movaps 144(%rsp),%xmm15\n"                                                 \
            "add $176,%rsp\npop %rdi\npop %rsi\npop %rbp\n.cfi_def_cfa %rsp,8\nret\n"   \
            ".cfi_endproc\n.size " #name ",.-" #name "\n");
NATIVE_APIS(THUNK)

/* The core linked into the shim, renamed by shim/module.mk. */
#define CORE_DECL(name) extern char wmcore_##name[] __attribute__((weak));
NATIVE_APIS(CORE_DECL)

enum {
#define IDX(name) T_##name,
    NATIVE_APIS(IDX)
#undef IDX
    T_COUNT
};
static const char *const names[T_COUNT] = {
#define NAME(name) #name,
    NATIVE_APIS(NAME)
#undef NAME
};
static void *const internal[T_COUNT] = {
#define INT(name) (void *)wmcore_##name,
    NATIVE_APIS(INT)
#undef INT
};
static void *target[T_COUNT];

/* Resolved in the constructor (dlsym may allocate: never on a hot path),
 * again at first use if a port dlopen'ed libwinmem later. */
void wm_native_init(void)
{
    for (int i = 0; i < T_COUNT; i++) {
        void *p = dlsym(RTLD_NEXT, names[i]);
        target[i] = p ? p : internal[i];
    }
    wm_model_init();
}

static void *get(int i)
{
    if ((i == T_NtQueryVirtualMemory || i == T_ZwQueryVirtualMemory) && wm_cfg.wine && wm_nt_real[WM_NT_QUERY])
        return wm_nt_real[WM_NT_QUERY];
    if (!target[i])
        wm_native_init();
    return target[i];
}

/* Core functions for Wine's native and check modes (always the shim's own
 * copy: libwinmem.so is not loaded in a Wine process). */
long wm_core_query(void *process, const void *addr, int cls, void *buf, size_t len, size_t *ret)
{
    typedef NTSTATUS WINMEM_API (*fn)(HANDLE, LPCVOID, MEMORY_INFORMATION_CLASS, PVOID, SIZE_T, SIZE_T *);
    fn f = (fn)internal[T_NtQueryVirtualMemory];
    return f ? f(process, addr, cls, buf, len, ret) : (long)0xC0000002;
}

static DWORD last_error(void)
{
    typedef DWORD WINMEM_API (*fn)(void);
    fn f = (fn)get(T_GetLastError);
    return f ? f() : 0;
}

#define SP() ((uintptr_t)__builtin_frame_address(0))
#define FN(i, type) ((type)get(i))
#define MISSING 120 /* ERROR_CALL_NOT_IMPLEMENTED */

static void start(struct wmt_call *c, uint16_t api, HANDLE process)
{
    memset(c, 0, sizeof *c);
    c->api = api;
    c->flags = WMT_DOOR_NATIVE | WMT_CF_SERVED |
               (process != (HANDLE)(intptr_t)-1 ? WMT_CF_REMOTE : 0);
    c->stack = wm_stack_capture(false);
    c->start_ns = wm_now_ns();
    wm_call_begin(c);
}

static void finish(struct wmt_call *c, uint64_t ret, bool nt)
{
    c->dur_ns = wm_now_ns() - c->start_ns;
    c->ret = ret;
    if (nt)
        c->status = (uint32_t)ret;
    else
        c->error = last_error();
    wm_call_end(c);
    wm_leave();
}

static void mbi_out(struct wmt_call *c, const MEMORY_BASIC_INFORMATION *m)
{
    c->out[0] = (uintptr_t)m->BaseAddress, c->out[1] = (uintptr_t)m->AllocationBase;
    c->out[2] = m->AllocationProtect, c->out[3] = m->RegionSize, c->out[4] = m->State;
    c->out[5] = m->Protect, c->out[6] = m->Type;
}

/* ---- queries ---- */
typedef SIZE_T WINMEM_API (*vq_fn)(LPCVOID, PMEMORY_BASIC_INFORMATION, SIZE_T);
SIZE_T wm_n_VirtualQuery(LPCVOID a, PMEMORY_BASIC_INFORMATION b, SIZE_T l) WM_HIDDEN;
SIZE_T wm_n_VirtualQuery(LPCVOID a, PMEMORY_BASIC_INFORMATION b, SIZE_T l)
{
    vq_fn f = FN(T_VirtualQuery, vq_fn);
    if (!f) return 0;
    if (!wm_enter(SP(), false)) return f(a, b, l);
    struct wmt_call c;
    start(&c, WMT_API_VirtualQuery, (HANDLE)(intptr_t)-1);
    c.arg[0] = (uintptr_t)a, c.arg[1] = (uintptr_t)b, c.arg[2] = l;
    SIZE_T r = f(a, b, l);
    if (r >= sizeof *b) mbi_out(&c, b);
    finish(&c, r, false);
    return r;
}

typedef SIZE_T WINMEM_API (*vqex_fn)(HANDLE, LPCVOID, PMEMORY_BASIC_INFORMATION, SIZE_T);
SIZE_T wm_n_VirtualQueryEx(HANDLE h, LPCVOID a, PMEMORY_BASIC_INFORMATION b, SIZE_T l) WM_HIDDEN;
SIZE_T wm_n_VirtualQueryEx(HANDLE h, LPCVOID a, PMEMORY_BASIC_INFORMATION b, SIZE_T l)
{
    vqex_fn f = FN(T_VirtualQueryEx, vqex_fn);
    if (!f) return 0;
    if (!wm_enter(SP(), false)) return f(h, a, b, l);
    struct wmt_call c;
    start(&c, WMT_API_VirtualQueryEx, h);
    c.arg[0] = (uintptr_t)h, c.arg[1] = (uintptr_t)a, c.arg[2] = (uintptr_t)b, c.arg[3] = l;
    SIZE_T r = f(h, a, b, l);
    if (r >= sizeof *b) mbi_out(&c, b);
    finish(&c, r, false);
    return r;
}

typedef NTSTATUS WINMEM_API (*ntq_fn)(HANDLE, LPCVOID, int, PVOID, SIZE_T, SIZE_T *);
static NTSTATUS nt_query(int idx, uint16_t api, HANDLE h, LPCVOID a, int cls, PVOID b, SIZE_T l, SIZE_T *rl)
{
    ntq_fn f = FN(idx, ntq_fn);
    if (!f) return (NTSTATUS)0xC0000002;
    if (wm_cfg.wine || !wm_enter(SP(), false)) return f(h, a, cls, b, l, rl);
    struct wmt_call c;
    start(&c, api, h);
    c.arg[0] = (uintptr_t)h, c.arg[1] = (uintptr_t)a, c.arg[2] = (uint32_t)cls;
    c.arg[3] = (uintptr_t)b, c.arg[4] = l, c.arg[5] = (uintptr_t)rl;
    NTSTATUS st = f(h, a, cls, b, l, rl);
    if (st == 0 && cls == 0 && l >= sizeof(MEMORY_BASIC_INFORMATION))
        mbi_out(&c, b);
    if (st == 0 && rl) c.out[7] = *rl;
    finish(&c, (uint64_t)(int64_t)st, true);
    return st;
}
NTSTATUS wm_n_NtQueryVirtualMemory(HANDLE h, LPCVOID a, int cls, PVOID b, SIZE_T l, SIZE_T *rl) WM_HIDDEN;
NTSTATUS wm_n_NtQueryVirtualMemory(HANDLE h, LPCVOID a, int cls, PVOID b, SIZE_T l, SIZE_T *rl)
{ return nt_query(T_NtQueryVirtualMemory, WMT_API_NtQueryVirtualMemory, h, a, cls, b, l, rl); }
NTSTATUS wm_n_ZwQueryVirtualMemory(HANDLE h, LPCVOID a, int cls, PVOID b, SIZE_T l, SIZE_T *rl) WM_HIDDEN;
NTSTATUS wm_n_ZwQueryVirtualMemory(HANDLE h, LPCVOID a, int cls, PVOID b, SIZE_T l, SIZE_T *rl)
{ return nt_query(T_ZwQueryVirtualMemory, WMT_API_ZwQueryVirtualMemory, h, a, cls, b, l, rl); }

typedef BOOL WINMEM_API (*qvmi_fn)(HANDLE, const void *, int, PVOID, SIZE_T, PSIZE_T);
BOOL wm_n_QueryVirtualMemoryInformation(HANDLE h, const void *a, int cls, PVOID b, SIZE_T l, PSIZE_T rl) WM_HIDDEN;
BOOL wm_n_QueryVirtualMemoryInformation(HANDLE h, const void *a, int cls, PVOID b, SIZE_T l, PSIZE_T rl)
{
    qvmi_fn f = FN(T_QueryVirtualMemoryInformation, qvmi_fn);
    if (!f) return FALSE;
    if (!wm_enter(SP(), false)) return f(h, a, cls, b, l, rl);
    struct wmt_call c;
    start(&c, WMT_API_QueryVirtualMemoryInformation, h);
    c.arg[0] = (uintptr_t)h, c.arg[1] = (uintptr_t)a, c.arg[2] = (uint32_t)cls;
    c.arg[3] = (uintptr_t)b, c.arg[4] = l, c.arg[5] = (uintptr_t)rl;
    BOOL r = f(h, a, cls, b, l, rl);
    if (r && l >= sizeof(WIN32_MEMORY_REGION_INFORMATION)) {
        const WIN32_MEMORY_REGION_INFORMATION *w = b;
        c.out[0] = (uintptr_t)w->AllocationBase, c.out[1] = w->AllocationProtect;
        c.out[2] = w->Flags, c.out[3] = w->RegionSize, c.out[4] = w->CommitSize;
    }
    if (r && rl) c.out[7] = *rl;
    finish(&c, (uint64_t)r, false);
    return r;
}

typedef BOOL WINMEM_API (*qws_fn)(HANDLE, PVOID, DWORD);
static BOOL qws(int idx, uint16_t api, HANDLE h, PVOID pv, DWORD cb)
{
    qws_fn f = FN(idx, qws_fn);
    if (!f) return FALSE;
    if (!wm_enter(SP(), false)) return f(h, pv, cb);
    struct wmt_call c;
    start(&c, api, h);
    c.arg[0] = (uintptr_t)h, c.arg[1] = (uintptr_t)pv, c.arg[2] = cb;
    BOOL r = f(h, pv, cb);
    if (r && cb >= 16)
        c.out[0] = ((uint64_t *)pv)[0], c.out[1] = ((uint64_t *)pv)[1], c.out[2] = cb / 16;
    finish(&c, (uint64_t)r, false);
    return r;
}
BOOL wm_n_QueryWorkingSetEx(HANDLE h, PVOID pv, DWORD cb) WM_HIDDEN;
BOOL wm_n_QueryWorkingSetEx(HANDLE h, PVOID pv, DWORD cb) { return qws(T_QueryWorkingSetEx, WMT_API_QueryWorkingSetEx, h, pv, cb); }
BOOL wm_n_K32QueryWorkingSetEx(HANDLE h, PVOID pv, DWORD cb) WM_HIDDEN;
BOOL wm_n_K32QueryWorkingSetEx(HANDLE h, PVOID pv, DWORD cb) { return qws(T_K32QueryWorkingSetEx, WMT_API_K32QueryWorkingSetEx, h, pv, cb); }

/* ---- allocation ---- */
typedef LPVOID WINMEM_API (*va_fn)(LPVOID, SIZE_T, DWORD, DWORD);
LPVOID wm_n_VirtualAlloc(LPVOID a, SIZE_T s, DWORD t, DWORD p) WM_HIDDEN;
LPVOID wm_n_VirtualAlloc(LPVOID a, SIZE_T s, DWORD t, DWORD p)
{
    va_fn f = FN(T_VirtualAlloc, va_fn);
    if (!f) return NULL;
    if (!wm_enter(SP(), false)) return f(a, s, t, p);
    struct wmt_call c;
    start(&c, WMT_API_VirtualAlloc, (HANDLE)(intptr_t)-1);
    c.arg[0] = (uintptr_t)a, c.arg[1] = s, c.arg[2] = t, c.arg[3] = p;
    LPVOID r = f(a, s, t, p);
    finish(&c, (uintptr_t)r, false);
    return r;
}

typedef LPVOID WINMEM_API (*vaex_fn)(HANDLE, LPVOID, SIZE_T, DWORD, DWORD);
LPVOID wm_n_VirtualAllocEx(HANDLE h, LPVOID a, SIZE_T s, DWORD t, DWORD p) WM_HIDDEN;
LPVOID wm_n_VirtualAllocEx(HANDLE h, LPVOID a, SIZE_T s, DWORD t, DWORD p)
{
    vaex_fn f = FN(T_VirtualAllocEx, vaex_fn);
    if (!f) return NULL;
    if (!wm_enter(SP(), false)) return f(h, a, s, t, p);
    struct wmt_call c;
    start(&c, WMT_API_VirtualAllocEx, h);
    c.arg[0] = (uintptr_t)h, c.arg[1] = (uintptr_t)a, c.arg[2] = s, c.arg[3] = t, c.arg[4] = p;
    LPVOID r = f(h, a, s, t, p);
    finish(&c, (uintptr_t)r, false);
    return r;
}

typedef BOOL WINMEM_API (*vf_fn)(LPVOID, SIZE_T, DWORD);
BOOL wm_n_VirtualFree(LPVOID a, SIZE_T s, DWORD t) WM_HIDDEN;
BOOL wm_n_VirtualFree(LPVOID a, SIZE_T s, DWORD t)
{
    vf_fn f = FN(T_VirtualFree, vf_fn);
    if (!f) return FALSE;
    if (!wm_enter(SP(), false)) return f(a, s, t);
    struct wmt_call c;
    start(&c, WMT_API_VirtualFree, (HANDLE)(intptr_t)-1);
    c.arg[0] = (uintptr_t)a, c.arg[1] = s, c.arg[2] = t;
    BOOL r = f(a, s, t);
    finish(&c, (uint64_t)r, false);
    return r;
}

typedef BOOL WINMEM_API (*vfex_fn)(HANDLE, LPVOID, SIZE_T, DWORD);
BOOL wm_n_VirtualFreeEx(HANDLE h, LPVOID a, SIZE_T s, DWORD t) WM_HIDDEN;
BOOL wm_n_VirtualFreeEx(HANDLE h, LPVOID a, SIZE_T s, DWORD t)
{
    vfex_fn f = FN(T_VirtualFreeEx, vfex_fn);
    if (!f) return FALSE;
    if (!wm_enter(SP(), false)) return f(h, a, s, t);
    struct wmt_call c;
    start(&c, WMT_API_VirtualFreeEx, h);
    c.arg[0] = (uintptr_t)h, c.arg[1] = (uintptr_t)a, c.arg[2] = s, c.arg[3] = t;
    BOOL r = f(h, a, s, t);
    finish(&c, (uint64_t)r, false);
    return r;
}

typedef BOOL WINMEM_API (*vp_fn)(LPVOID, SIZE_T, DWORD, PDWORD);
BOOL wm_n_VirtualProtect(LPVOID a, SIZE_T s, DWORD p, PDWORD old) WM_HIDDEN;
BOOL wm_n_VirtualProtect(LPVOID a, SIZE_T s, DWORD p, PDWORD old)
{
    vp_fn f = FN(T_VirtualProtect, vp_fn);
    if (!f) return FALSE;
    if (!wm_enter(SP(), false)) return f(a, s, p, old);
    struct wmt_call c;
    start(&c, WMT_API_VirtualProtect, (HANDLE)(intptr_t)-1);
    c.arg[0] = (uintptr_t)a, c.arg[1] = s, c.arg[2] = p, c.arg[3] = (uintptr_t)old;
    BOOL r = f(a, s, p, old);
    if (r && old) c.out[2] = *old;
    finish(&c, (uint64_t)r, false);
    return r;
}

typedef BOOL WINMEM_API (*vpex_fn)(HANDLE, LPVOID, SIZE_T, DWORD, PDWORD);
BOOL wm_n_VirtualProtectEx(HANDLE h, LPVOID a, SIZE_T s, DWORD p, PDWORD old) WM_HIDDEN;
BOOL wm_n_VirtualProtectEx(HANDLE h, LPVOID a, SIZE_T s, DWORD p, PDWORD old)
{
    vpex_fn f = FN(T_VirtualProtectEx, vpex_fn);
    if (!f) return FALSE;
    if (!wm_enter(SP(), false)) return f(h, a, s, p, old);
    struct wmt_call c;
    start(&c, WMT_API_VirtualProtectEx, h);
    c.arg[0] = (uintptr_t)h, c.arg[1] = (uintptr_t)a, c.arg[2] = s, c.arg[3] = p, c.arg[4] = (uintptr_t)old;
    BOOL r = f(h, a, s, p, old);
    if (r && old) c.out[2] = *old;
    finish(&c, (uint64_t)r, false);
    return r;
}

typedef BOOL WINMEM_API (*vl_fn)(LPVOID, SIZE_T);
static BOOL lock_call(int idx, uint16_t api, LPVOID a, SIZE_T s)
{
    vl_fn f = FN(idx, vl_fn);
    if (!f) return FALSE;
    if (!wm_enter(SP(), false)) return f(a, s);
    struct wmt_call c;
    start(&c, api, (HANDLE)(intptr_t)-1);
    c.arg[0] = (uintptr_t)a, c.arg[1] = s;
    BOOL r = f(a, s);
    finish(&c, (uint64_t)r, false);
    return r;
}
BOOL wm_n_VirtualLock(LPVOID a, SIZE_T s) WM_HIDDEN;
BOOL wm_n_VirtualLock(LPVOID a, SIZE_T s) { return lock_call(T_VirtualLock, WMT_API_VirtualLock, a, s); }
BOOL wm_n_VirtualUnlock(LPVOID a, SIZE_T s) WM_HIDDEN;
BOOL wm_n_VirtualUnlock(LPVOID a, SIZE_T s) { return lock_call(T_VirtualUnlock, WMT_API_VirtualUnlock, a, s); }

/* ---- AWE ---- */
typedef BOOL WINMEM_API (*awe_fn)(HANDLE, PULONG_PTR, PULONG_PTR);
static BOOL awe_call(int idx, uint16_t api, HANDLE h, PULONG_PTR n, PULONG_PTR pfns)
{
    awe_fn f = FN(idx, awe_fn);
    if (!f) return FALSE;
    if (!wm_enter(SP(), false)) return f(h, n, pfns);
    struct wmt_call c;
    start(&c, api, h);
    c.arg[0] = (uintptr_t)h, c.arg[1] = (uintptr_t)n, c.arg[2] = (uintptr_t)pfns;
    c.arg[3] = *n;                      /* read where the core reads it */
    BOOL r = f(h, n, pfns);
    c.out[0] = *n;
    finish(&c, (uint64_t)r, false);
    return r;
}
BOOL wm_n_AllocateUserPhysicalPages(HANDLE h, PULONG_PTR n, PULONG_PTR p) WM_HIDDEN;
BOOL wm_n_AllocateUserPhysicalPages(HANDLE h, PULONG_PTR n, PULONG_PTR p)
{ return awe_call(T_AllocateUserPhysicalPages, WMT_API_AllocateUserPhysicalPages, h, n, p); }
BOOL wm_n_FreeUserPhysicalPages(HANDLE h, PULONG_PTR n, PULONG_PTR p) WM_HIDDEN;
BOOL wm_n_FreeUserPhysicalPages(HANDLE h, PULONG_PTR n, PULONG_PTR p)
{ return awe_call(T_FreeUserPhysicalPages, WMT_API_FreeUserPhysicalPages, h, n, p); }

typedef BOOL WINMEM_API (*map_fn)(PVOID, ULONG_PTR, PULONG_PTR);
BOOL wm_n_MapUserPhysicalPages(PVOID a, ULONG_PTR n, PULONG_PTR p) WM_HIDDEN;
BOOL wm_n_MapUserPhysicalPages(PVOID a, ULONG_PTR n, PULONG_PTR p)
{
    map_fn f = FN(T_MapUserPhysicalPages, map_fn);
    if (!f) return FALSE;
    if (!wm_enter(SP(), false)) return f(a, n, p);
    struct wmt_call c;
    start(&c, WMT_API_MapUserPhysicalPages, (HANDLE)(intptr_t)-1);
    c.arg[0] = (uintptr_t)a, c.arg[1] = n, c.arg[2] = (uintptr_t)p;
    BOOL r = f(a, n, p);
    finish(&c, (uint64_t)r, false);
    return r;
}

/* ---- last error: forwarded unrecorded, to the same core as the calls ---- */
DWORD wm_n_GetLastError(void) WM_HIDDEN;
DWORD wm_n_GetLastError(void) { return last_error(); }
void wm_n_SetLastError(DWORD e) WM_HIDDEN;
void wm_n_SetLastError(DWORD e)
{
    typedef void WINMEM_API (*fn)(DWORD);
    fn f = (fn)get(T_SetLastError);
    if (f) f(e);
}
