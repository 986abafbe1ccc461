/*
 * shim/shim.h — what the parts of libwinmem-shim.so share. Not installed.
 *
 * The shim lives inside other people's programs, so every part follows the
 * same rules: no malloc and no stdio on the hot path (memory comes from raw
 * mmap, output from write()), no lock held while caller memory is touched,
 * and a per-thread guard so the shim never records itself.
 */
#ifndef WINMEM_SHIM_H
#define WINMEM_SHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <execinfo.h>
#include <stdint.h>
#include <sys/types.h>
#include "winmem/trace.h"

#define WM_HIDDEN  __attribute__((visibility("hidden")))
#define WM_EXPORTED __attribute__((visibility("default")))
#define WM_TLS __thread __attribute__((tls_model("initial-exec")))
#define WM_MSABI __attribute__((ms_abi))

/* ---- configuration (shim/config.c) ---- */
struct wm_config {
    char output[512];       /* WINMEM_OUTPUT pattern */
    int mode;               /* WMT_MODE_* */
    int stack_depth;        /* 0..64 */
    bool unix_layer;        /* WINMEM_UNIX=1 */
    bool quiet;             /* WINMEM_QUIET=1 */
    bool active;            /* this process is recorded */
    bool wine;              /* this process is a Wine loader image */
    bool wine_pre_exec;     /* Wine's first image, which re-executes itself */
    char program[128];      /* what the filter matched (".exe" basename under Wine) */
    char exe[256];          /* /proc/self/exe */
    int test_hook;          /* WINMEM_TEST_CORRUPT_NTDLL=1: pretend validation fails */
    uint64_t max_size;      /* WINMEM_MAX_SIZE bytes, 0: no limit */
    char run_dir[512];      /* `winmem run`'s directory (config, manifest), "" if none */
};
extern struct wm_config wm_cfg WM_HIDDEN;
void wm_config_init(void) WM_HIDDEN;
/* One line "winmem-shim: ..." on stderr unless WINMEM_QUIET; write() only. */
void wm_note(const char *a, const char *b, const char *c) WM_HIDDEN;
/* Tells `winmem run` (its manifest, when there is one) a file was created. */
void wm_manifest_note(const char *path) WM_HIDDEN;

/* ---- per-thread state and the re-entrancy guard (shim/writer.c) ---- */
struct wm_tbuf;
struct wm_thread {
    struct wm_tbuf *buf;    /* lazily mapped */
    int busy;               /* > 0 while inside the shim (re-entrancy guard) */
    uintptr_t busy_sp;      /* stack pointer when the guarded call began */
    uint32_t pending_off;   /* offset of this thread's PENDING CALL in buf, 0 = none */
    uint64_t pending_gen;   /* chunk sequence when it was reserved */
    bool wine_call;         /* the guarded call came through Wine's syscall table */
    bool in_real;           /* the guarded call is inside the real function now */
    bool dead;              /* could not get a buffer: never record on this thread */
    void *stacks;           /* this thread's stack intern table (shim/stack.c) */
    uint32_t cur_stack;     /* stack id of the Wine call in progress (unix layer reuses it) */
    bool muted;             /* recording has stopped: the guard is held (so calls nested in
                             * this one are not counted again) but nothing is recorded */
};
extern WM_TLS struct wm_thread wm_self;

/* Enter the shim on this thread. false: do not record (re-entrant, inactive,
 * or tracing stopped). sp: the caller's stack pointer, used to notice a call
 * that never returned (Wine aborted the syscall after a fault). */
bool wm_enter(uintptr_t sp, bool wine_call) WM_HIDDEN;
void wm_leave(void) WM_HIDDEN;
/* The shim's own work inside a call it is recording (the unix layer's
 * stack capture): nothing in it is recorded. Returns what to restore. */
uint32_t wm_guard_hold(void) WM_HIDDEN;
void wm_guard_restore(uint32_t was) WM_HIDDEN;

/* ---- the clock (shim/clock.c) ---- */
/* CLOCK_MONOTONIC in ns, from the TSC where that is the kernel's own
 * clock (monotonic across threads and CPUs), else clock_gettime's. */
uint64_t wm_now_ns(void) WM_HIDDEN;
/* Nanoseconds since start (a wm_now_ns value of this thread), never
 * negative: a call's duration, read at its end. */
uint64_t wm_dur_ns(uint64_t start) WM_HIDDEN;
void wm_clock_init(void) WM_HIDDEN;

/* ---- trace writer (shim/writer.c) ---- */
/* A zeroed CALL record, in 16-byte stores: GCC's generic tuning makes a
 * memset of this size a `rep stos`, whose start-up cost (~8 ns here) would
 * be paid on every recorded call. */
static inline void wm_call_clear(struct wmt_call *c)
{
    _Static_assert(sizeof *c % 8 == 0, "CALL is a whole number of 8-byte words");
    typedef long long v2 __attribute__((vector_size(16), aligned(1)));
    v2 *p = (v2 *)(void *)c;
#pragma GCC unroll 16
    for (size_t i = 0; i < sizeof *c / 16; i++) {
        p[i] = (v2){ 0, 0 };
        __asm__("" : : "r"(p));   /* keeps GCC from making the loop a memset again */
    }
    if (sizeof *c % 16)
        *(uint64_t *)((char *)c + sizeof *c - 8) = 0;
}
/* Reserve a CALL in this thread's buffer, PENDING; c is copied. Returns false
 * when the record was lost. */
bool wm_call_begin(struct wmt_call *c) WM_HIDDEN;
/* Complete it: patched in place if still buffered, else appended again. */
void wm_call_end(struct wmt_call *c) WM_HIDDEN;
/* A complete CALL (unix layer): seq assigned, appended. */
void wm_call_append(struct wmt_call *c) WM_HIDDEN;
/* Append any record to this thread's buffer (STACK, DIVERGENCE...). */
bool wm_append(const void *rec, size_t size) WM_HIDDEN;
/* Write a record in a chunk of its own right now (MODULE). */
void wm_write_meta(const void *rec, size_t size) WM_HIDDEN;
void wm_writer_flush_self(void) WM_HIDDEN;
/* This thread's stack intern table (attaches the thread's buffer first). */
void *wm_thread_stacks(void) WM_HIDDEN;
void wm_writer_end(uint32_t reason) WM_HIDDEN;  /* exit / exec: flush all, END */
uint32_t wm_gettid(void) WM_HIDDEN;
void wm_set_header_flag(uint32_t f) WM_HIDDEN;
void *wm_raw_mmap(size_t len) WM_HIDDEN;        /* never recorded, never malloc */

/* ---- start-up of each part (called by shim/init.c, in this order) ---- */
void wm_writer_init(void) WM_HIDDEN;
void wm_native_init(void) WM_HIDDEN;
void wm_unix_init(void) WM_HIDDEN;
/* In a fork child: its new file must get its MODULE records again, and locks
 * a vanished thread held at the fork are reset (else the child could hang). */
void wm_modules_forget_emitted(void) WM_HIDDEN;
void wm_pe_forget_emitted(void) WM_HIDDEN;
void wm_pe_core_after_fork(void) WM_HIDDEN;
uint32_t wm_next_module_id(void) WM_HIDDEN;


/* ---- stacks (shim/stack.c, shim/pe.c) ---- */
void wm_stack_init(void) WM_HIDDEN;
void wm_modules_refresh(void) WM_HIDDEN;
/* After dlopen/dlclose: the ELF module list is re-read before the next stack. */
void wm_modules_stale(void) WM_HIDDEN;
/* Captures and interns the stack; returns its id (0: none). wine_ctx: start
 * from Wine's syscall frame (Wine door) instead of the ELF stack. */
uint32_t wm_stack_capture(bool wine_ctx) WM_HIDDEN;
/* The pieces of an ELF stack, for wm_stack_capture_elf below: which
 * unwinder this thread uses (1 libunwind, -1 glibc's backtrace, 0 none;
 * re-reads the module list after a dlopen), and interning what it found. */
int wm_stack_unwinder(void) WM_HIDDEN;
extern int (*wm_unw_backtrace)(void **, int) WM_HIDDEN;
uint32_t wm_stack_elf(void *const *raw, int got) WM_HIDDEN;
void wm_fd_moving(bool on) WM_HIDDEN;   /* shim/fd.c: libunwind may remake its pipe */

/* The ELF stack, unwound in the caller's own frame: every frame of the
 * shim's own the unwinder walks costs ~7 ns (measured), so the native door
 * unwinds from its C body rather than from a function below it. */
static inline __attribute__((always_inline)) uint32_t wm_stack_capture_elf(void)
{
    if (!wm_cfg.stack_depth || wm_self.muted)
        return 0;
    void *raw[64 + 8];
    int n = wm_cfg.stack_depth + 8, got, how = wm_stack_unwinder();
    if (!how)
        return 0;
    if (how > 0) {
        wm_fd_moving(true);
        got = wm_unw_backtrace(raw, n);
        wm_fd_moving(false);
    } else
        got = backtrace(raw, n);
    return wm_stack_elf(raw, got);
}
/* Module id for an address (ELF or PE), 0 if unknown; *start = module start. */
bool wm_in_shim(uint64_t pc) WM_HIDDEN;    /* pc is the shim's own code */
uint32_t wm_module_of(uint64_t addr, uint64_t *start, bool *pe) WM_HIDDEN;
/* PE side: unwinds Windows frames from Wine's syscall frame into pcs. */
int wm_pe_unwind(uint64_t *pcs, int max) WM_HIDDEN;
/* A PE image appeared (NtMapViewOfSection) or may have: note it. */
void wm_pe_note_image(uint64_t base) WM_HIDDEN;
void wm_pe_scan(void) WM_HIDDEN;              /* walk the space for images */
/* What unwinding a frame needs of its PE image: a copy, since the table
 * may change under a reader. */
struct wm_pe_span { uint64_t start, end; uint32_t pdata, npdata; };
/* The image holding addr, and the table's seq it was read under (valid
 * while wm_pe_seq() is the same); false if none. learn: an unknown addr
 * triggers one query of Wine (at most 4096 per process). */
bool wm_pe_span_of(uint64_t addr, bool learn, struct wm_pe_span *sp, unsigned *seq) WM_HIDDEN;
unsigned wm_pe_seq(void) WM_HIDDEN;
/* The PE module at addr, 0 if none — or if the image is a builtin ELF
 * object (a winelib program's .so): its frames are the ELF module's. */
uint32_t wm_pe_module_of(uint64_t addr, uint64_t *start) WM_HIDDEN;
/* addr lies in an ELF object the dynamic linker loaded (re-reads the list
 * once when it does not). Not for the hot path: it may take the loader's lock. */
bool wm_elf_covers(uint64_t addr) WM_HIDDEN;

/* ---- Wine door (shim/wine.c, shim/wine_ids.c, shim/wine_calls.c) ----
 * The Nt calls the door hooks: index, name, argument count. This one list
 * makes the index enum, the names the shim looks up, and both calling
 * conventions' wrappers; how each call is recorded is its line in
 * shim/wine_calls.c's door[] table. */
#define WM_NT_CALLS(X) \
    X(QUERY, NtQueryVirtualMemory, 6)      X(ALLOC, NtAllocateVirtualMemory, 6) \
    X(ALLOC_EX, NtAllocateVirtualMemoryEx, 7) X(FREE, NtFreeVirtualMemory, 4) \
    X(PROTECT, NtProtectVirtualMemory, 5)  X(MAP, NtMapViewOfSection, 10) \
    X(MAP_EX, NtMapViewOfSectionEx, 9)     X(UNMAP, NtUnmapViewOfSection, 2) \
    X(UNMAP_EX, NtUnmapViewOfSectionEx, 3) X(READ, NtReadVirtualMemory, 5) \
    X(WRITE, NtWriteVirtualMemory, 5)      X(LOCK, NtLockVirtualMemory, 4) \
    X(UNLOCK, NtUnlockVirtualMemory, 4)    X(FLUSH, NtFlushVirtualMemory, 4)
enum wm_nt_idx {
#define WM_NT_ENUM_(idx, name, n) WM_NT_##idx,
    WM_NT_CALLS(WM_NT_ENUM_)
#undef WM_NT_ENUM_
    WM_NT_COUNT
};
extern void *wm_nt_real[WM_NT_COUNT] WM_HIDDEN;   /* Wine's functions */
extern const char *const wm_nt_names[WM_NT_COUNT] WM_HIDDEN;
extern bool wm_wine_hooked WM_HIDDEN;

/* How Wine's dispatcher calls the system-call array's entries, as read from
 * its code (shim/wine.c): Wine 8.0 ms_abi, Wine 10.0 System V. NONE until
 * a dispatcher was recognised; then every call the shim makes to Wine's
 * unix-side functions goes through wm_nt_call(). */
enum wm_conv { WM_CONV_NONE, WM_CONV_MS, WM_CONV_SYSV };
extern enum wm_conv wm_wine_conv WM_HIDDEN;
/* The door's wrappers for one convention (shim/wine_calls.c). */
void *wm_nt_wrapper(enum wm_conv conv, int idx) WM_HIDDEN;
/* Calls a Wine unix-side Nt function with up to 6 arguments in the
 * recognised convention. Precondition: wm_wine_conv != WM_CONV_NONE. */
long wm_nt_call(void *fn, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5) WM_HIDDEN;
/* Wine's own NtQueryVirtualMemory on this process, class cls, unrecorded:
 * true when it succeeded. false before a dispatcher was recognised. */
bool wm_wine_query_self(uint64_t addr, int cls, void *buf, size_t len) WM_HIDDEN;
/* Writes the PROCESS record (the image the PEB names) once per trace file;
 * called at each door call, cheap after the first. Pre: inside a door call.
 * The after-fork hook makes a fork child's new file get it again. */
void wm_wine_note_process(void) WM_HIDDEN;
void wm_wine_process_after_fork(void) WM_HIDDEN;
/* The build's version label ("wine-10.0 (Debian 10.0~repack-6)") once
 * ntdll.so was seen, "" before or when it has none. */
extern char wm_wine_version[64] WM_HIDDEN;
/* Wine's NtQueryVirtualMemory once ntdll.so is loaded: the native door's
 * exported Nt/ZwQueryVirtualMemory jump there (shim/native.c). */
extern void *wm_nt_forward WM_HIDDEN;

/* System-call ids of the named ntdll.dll exports (the `mov $id,%eax` of
 * their PE stubs), read from the file next to ntdll.so. ids[i] = -1 for a
 * name without such a stub. Returns the array length the stubs imply (the
 * highest id + 1), or -1 when the file is not a PE ntdll.dll. No malloc:
 * the file is mapped with a raw system call. */
int wm_wine_syscall_ids(const char *ntdll_so_path, const char *const names[], int n, int ids[]) WM_HIDDEN;
void wm_wine_ntdll_loaded(void *handle, const char *path) WM_HIDDEN;

/* Native mode (shim/pe_core.c): before winmem's core answers a query about
 * this process, make it know every PE image Wine has mapped (a walk with
 * Wine's own query, only after something changed); the map/unmap wrappers
 * say when something may have. */
void wm_pe_core_sync(void) WM_HIDDEN;
void wm_pe_core_changed(void) WM_HIDDEN;
bool wm_pe_core_view_is_image(void *process, uint64_t addr) WM_HIDDEN;
/* Wine's NtQueryInformationProcess (the syscall array's entry), set when
 * native mode hooks Wine; true when a real handle names this process. */
extern void *wm_nt_query_process WM_HIDDEN;
bool wm_wine_handle_is_self(void *handle) WM_HIDDEN;

/* winmem's own NtQueryVirtualMemory (the core linked into the shim), for
 * native and check modes; STATUS_NOT_IMPLEMENTED when it is not there. */
long wm_core_query(void *process, const void *addr, int cls, void *buf, size_t len, size_t *ret) WM_HIDDEN;

/* ---- check mode (shim/check.c) ---- */
/* After Wine answered a basic query for this process: compare with the
 * kernel (and winmem's core when linked) and record a DIVERGENCE. */
void wm_check_basic(uint16_t api, uint64_t seq, uint64_t addr, const void *mbi) WM_HIDDEN;
/* Wine arms write watching by removing write access while it reports
 * PAGE_READWRITE; check mode must know those reservations to stay quiet
 * there. Called after a successful allocation / free of this process. */
void wm_check_note_alloc(uint64_t base, uint64_t size, uint32_t type) WM_HIDDEN;
void wm_check_note_free(uint64_t base, uint32_t type) WM_HIDDEN;

/* ---- AWE hook point: shim/awe_wine.c (another engineer) defines it ----
 * Called from the NtAllocateVirtualMemory / NtQueryVirtualMemory wrappers
 * after they succeed, until it returns nonzero (then never again). It may
 * redirect kernelbase's AWE stubs to winmem once kernelbase.dll is loaded. */
int wm_awe_wine_try_install(void) __attribute__((weak));
void wm_awe_poll(void) WM_HIDDEN;

#endif
