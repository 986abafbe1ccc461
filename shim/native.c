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
 * own function unrecorded (wm_nt_forward): Wine's unix libraries may bind
 * to our export (we are preloaded), and they must keep getting Wine's
 * answers.
 *
 * Why the entry points are assembly: they are ms_abi (WINAPI), and the
 * compiler's ms_abi prologue saves xmm6–15 with CFI that libunwind cannot
 * step through, so a stack taken inside would end at the shim. The thunk
 * saves xmm6–15 itself with CFI only for rbp/rsi/rdi, converts to sysv and
 * calls a C body; libunwind then walks from the body into the caller.
 * A call made while the thread is already inside the shim (the core's
 * VirtualQuery calling VirtualQueryEx, which the program's libwinmem.so
 * binds to our export) is never recorded: the thunk jumps straight to the
 * real function, saving the two conversions and the body (~10 ns a hop).
 */
#include <dlfcn.h>
#include <stddef.h>
#include <string.h>
#include "door.h"
#include "model.h"
#include "winmem/memory.h"

/* The exported API, one line each: name, what it returns, which argument
 * is the process handle (-1: none, this process), how its arguments are
 * recorded (wm_door_fill's spec, shim/door.h) and what decodes its outputs.
 * The thunks, the forwarding, the bodies and the table come from here.
 * All take at most 6 integer arguments. GetLastError/SetLastError are
 * forwarded unrecorded (api 0). */
#define NATIVE_APIS(X) \
    X(VirtualQuery,          R_SIZE, -1, "A0A1A2",       dec_mbi1) \
    X(VirtualQueryEx,        R_SIZE, 0,  "A0A1A2A3",     dec_mbi2) \
    X(NtQueryVirtualMemory,  R_NT,   0,  "A0A1I2A3A4A5", dec_ntq) \
    X(ZwQueryVirtualMemory,  R_NT,   0,  "A0A1I2A3A4A5", dec_ntq) \
    X(QueryVirtualMemoryInformation, R_BOOL, 0, "A0A1I2A3A4A5", dec_region) \
    X(QueryWorkingSetEx,     R_BOOL, 0,  "A0A1I2",       dec_ws) \
    X(K32QueryWorkingSetEx,  R_BOOL, 0,  "A0A1I2",       dec_ws) \
    X(VirtualAlloc,          R_PTR,  -1, "A0A1I2I3",     NULL) \
    X(VirtualAllocEx,        R_PTR,  0,  "A0A1A2I3I4",   NULL) \
    X(VirtualFree,           R_BOOL, -1, "A0A1I2",       NULL) \
    X(VirtualFreeEx,         R_BOOL, 0,  "A0A1A2I3",     NULL) \
    X(VirtualProtect,        R_BOOL, -1, "A0A1I2A3",     dec_old3) \
    X(VirtualProtectEx,      R_BOOL, 0,  "A0A1A2I3A4",   dec_old4) \
    X(VirtualLock,           R_BOOL, -1, "A0A1",         NULL) \
    X(VirtualUnlock,         R_BOOL, -1, "A0A1",         NULL) \
    X(AllocateUserPhysicalPages, R_BOOL, 0, "A0A1A2D1",  dec_count) \
    X(MapUserPhysicalPages,  R_BOOL, -1, "A0A1A2",       NULL) \
    X(FreeUserPhysicalPages, R_BOOL, 0,  "A0A1A2D1",     dec_count) \
    X(GetLastError,          R_BOOL, -1, "",             NULL) \
    X(SetLastError,          R_BOOL, -1, "",             NULL)

/* In a Wine process the exported Nt/ZwQueryVirtualMemory are for Wine's
 * unix libraries, which call them in Wine's own convention (ms_abi in 8.0,
 * System V in 10.0): the thunk jumps to Wine's function before touching a
 * register, so either convention arrives intact. */
void *wm_nt_forward WM_HIDDEN;
#define FORWARD_JUMP "mov wm_nt_forward(%rip),%rax\ntest %rax,%rax\njz 1f\njmp *%rax\n1:\n"
#define FORWARD_NtQueryVirtualMemory FORWARD_JUMP
#define FORWARD_ZwQueryVirtualMemory FORWARD_JUMP
#define FORWARD_VirtualQuery ""
#define FORWARD_VirtualQueryEx ""
#define FORWARD_QueryVirtualMemoryInformation ""
#define FORWARD_QueryWorkingSetEx ""
#define FORWARD_K32QueryWorkingSetEx ""
#define FORWARD_VirtualAlloc ""
#define FORWARD_VirtualAllocEx ""
#define FORWARD_VirtualFree ""
#define FORWARD_VirtualFreeEx ""
#define FORWARD_VirtualProtect ""
#define FORWARD_VirtualProtectEx ""
#define FORWARD_VirtualLock ""
#define FORWARD_VirtualUnlock ""
#define FORWARD_AllocateUserPhysicalPages ""
#define FORWARD_MapUserPhysicalPages ""
#define FORWARD_FreeUserPhysicalPages ""
#define FORWARD_GetLastError ""
#define FORWARD_SetLastError ""

/* The real function of each export, once resolved (wm_native_init); the
 * thunks read it to pass a nested call straight on. */
#define TARGET_DEF(name, ...) void *wm_t_##name WM_HIDDEN;
NATIVE_APIS(TARGET_DEF)
_Static_assert(offsetof(struct wm_thread, busy) == 8, "the thunks read wm_self.busy at offset 8");
#define NESTED_JUMP(name)                                                                  \
    "mov wm_self@gottpoff(%rip),%rax\ncmpl $0,%fs:8(%rax)\nje 2f\n"                     \
    "mov wm_t_" #name "(%rip),%rax\ntest %rax,%rax\njz 2f\njmp *%rax\n2:\n"

#define THUNK(name, ...)                                                                   \
    __asm__(".text\n.globl " #name "\n.type " #name ",@function\n.p2align 4\n" #name ":\n" \
            ".cfi_startproc\n" FORWARD_##name NESTED_JUMP(name) "push %rbp\n.cfi_def_cfa_offset 16\n.cfi_offset %rbp,-16\n"  \
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
#define CORE_DECL(name, ...) extern char wmcore_##name[] __attribute__((weak));
NATIVE_APIS(CORE_DECL)

enum {
#define IDX(name, ...) T_##name,
    NATIVE_APIS(IDX)
#undef IDX
    T_COUNT
};
static const char *const names[T_COUNT] = {
#define NAME(name, ...) #name,
    NATIVE_APIS(NAME)
#undef NAME
};
static void *const internal[T_COUNT] = {
#define INT(name, ...) (void *)wmcore_##name,
    NATIVE_APIS(INT)
#undef INT
};
static void **const target[T_COUNT] = {
#define TGT(name, ...) &wm_t_##name,
    NATIVE_APIS(TGT)
#undef TGT
};

/* Resolved in the constructor (dlsym may allocate: never on a hot path),
 * again at first use if a port dlopen'ed libwinmem later. */
void wm_native_init(void)
{
    for (int i = 0; i < T_COUNT; i++) {
        void *p = dlsym(RTLD_NEXT, names[i]);
        __atomic_store_n(target[i], p ? p : internal[i], __ATOMIC_RELEASE);
    }
    wm_model_init();
}

static void *get(int i)
{
    if (!*target[i])
        wm_native_init();
    return *target[i];
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

/* ---- the one body every exported call runs ---- */
typedef wm_u64 U;
#define SELF ((U)(intptr_t)-1)

struct native_api;
typedef void native_decode(struct wmt_call *c, const U *a, U ret, bool ok);
static native_decode dec_mbi1, dec_mbi2, dec_ntq, dec_region, dec_ws, dec_old3, dec_old4, dec_count;
enum result { R_NT, R_BOOL, R_SIZE, R_PTR };
static const struct native_api {
    uint16_t api;           /* WMT_API_*; 0: forwarded unrecorded */
    uint8_t result;         /* enum result */
    int8_t handle;          /* the process handle's argument, -1: none */
    const char *args;
    native_decode *decode;
} apis[T_COUNT] = {
#define API_(name, res, h, spec, dec) [T_##name] = { WMT_API_##name, res, h, spec, dec },
#define WMT_API_GetLastError 0
#define WMT_API_SetLastError 0
    NATIVE_APIS(API_)
#undef API_
};

/* rax narrowed to what the function returns: NTSTATUS and BOOL are 32-bit
 * (sign-extended, as the record always stored them), sizes and pointers 64. */
static U result_of(const struct native_api *e, long rax)
{
    return e->result == R_NT || e->result == R_BOOL ? (U)(int64_t)(int32_t)rax : (U)rax;
}

/* Inlined into each body: one frame fewer for every stack it unwinds
 * (wm_stack_capture_elf), ~7 ns a call with a stack (measured). */
static inline __attribute__((always_inline)) U native_call(int i, const U *a)
{
    const struct native_api *e = &apis[i];
    void *f = get(i);
    if (!f)
        return e->result == R_NT ? (U)(int64_t)(int32_t)0xC0000002 : 0;  /* NOT_IMPLEMENTED / FALSE */
    /* In a Wine process only Wine's unix libraries can reach the Nt query
     * here before ntdll.so is loaded: never recorded. */
    if (!e->api || (e->result == R_NT && wm_cfg.wine) || !wm_enter((uintptr_t)__builtin_frame_address(0), false))
        return result_of(e, wm_call_ms(f, a));
    struct wmt_call c;
    wm_call_clear(&c);
    c.api = e->api;
    c.flags = WMT_DOOR_NATIVE | WMT_CF_SERVED | (e->handle >= 0 && a[e->handle] != SELF ? WMT_CF_REMOTE : 0);
    c.stack = wm_stack_capture_elf();
    c.start_ns = wm_now_ns();
    wm_door_fill(c.arg, e->args, a);
    wm_call_begin(&c);
    U r = result_of(e, wm_call_ms(f, a));
    if (e->decode)
        e->decode(&c, a, r, e->result == R_NT ? r == 0 : r != 0);
    c.dur_ns = wm_dur_ns(c.start_ns);
    c.ret = r;
    if (e->result == R_NT)
        c.status = (uint32_t)r;
    else
        c.error = last_error();
    wm_call_end(&c);
    wm_leave();
    return r;
}

/* The C bodies the thunks call, with the six argument registers. */
#define BODY_(name, ...)                                                    \
    U wm_n_##name(U a0, U a1, U a2, U a3, U a4, U a5) WM_HIDDEN;            \
    U wm_n_##name(U a0, U a1, U a2, U a3, U a4, U a5)                       \
    {                                                                       \
        const U a[10] = { a0, a1, a2, a3, a4, a5 };                         \
        return native_call(T_##name, a);                                    \
    }
NATIVE_APIS(BODY_)

/* ---- output decoders (slots: include/winmem/trace.h) ---- */
static void mbi_from(struct wmt_call *c, U buf, U ret)
{
    wm_door_decode_query(c->out, 0, (const void *)(uintptr_t)buf, (size_t)ret, NULL, 40);
}
static void dec_mbi1(struct wmt_call *c, const U *a, U r, bool ok) { if (r >= 48) mbi_from(c, a[1], r); }
static void dec_mbi2(struct wmt_call *c, const U *a, U r, bool ok) { if (r >= 48) mbi_from(c, a[2], r); }

static void dec_ntq(struct wmt_call *c, const U *a, U r, bool ok)
{
    if (ok)
        wm_door_decode_query(c->out, (int)a[2], (const void *)(uintptr_t)a[3], (size_t)a[4],
                             (const size_t *)(uintptr_t)a[5], 40);
}

/* QueryVirtualMemoryInformation: WIN32_MEMORY_REGION_INFORMATION (32 bytes). */
static void dec_region(struct wmt_call *c, const U *a, U r, bool ok)
{
    if (ok)
        wm_door_decode_query(c->out, 3, (const void *)(uintptr_t)a[3], (size_t)a[4],
                             (const size_t *)(uintptr_t)a[5], 32);
}

static void dec_ws(struct wmt_call *c, const U *a, U r, bool ok)
{
    if (ok)
        wm_door_decode_query(c->out, 4, (const void *)(uintptr_t)a[1], (uint32_t)a[2], NULL, 40);
}

static void dec_old3(struct wmt_call *c, const U *a, U r, bool ok) { if (ok) wm_door_fill(c->out, "----L3", a); }
static void dec_old4(struct wmt_call *c, const U *a, U r, bool ok) { if (ok) wm_door_fill(c->out, "----L4", a); }

/* AWE: the page count is in/out, read back whatever the result. */
static void dec_count(struct wmt_call *c, const U *a, U r, bool ok) { wm_door_fill(c->out, "D1", a); }
