/*
 * shim/wine.c — the Wine door: catch ntdll.so being loaded, find its
 * system-call array, check it is what we expect, and swap in our wrappers.
 *
 * Why this way (wine8-hook.md): PE code never calls ELF symbols, and
 * ntdll.so binds its own references (DT_SYMBOLIC), so interposing Nt*
 * names does nothing. Every Windows system call goes through one array of
 * function pointers in ntdll.so's RELRO; `wine` dlopen()s ntdll.so through
 * the PLT before any Windows code runs, so patching that array right after
 * the real dlopen returns sees every call and races with no thread.
 *
 * Validation is strict: anything unexpected (another Wine build, a 32-bit
 * ntdll) → one line on stderr, nothing written, the program runs as it
 * would without the shim.
 */
#include <dlfcn.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "shim.h"

const char *const wm_nt_names[WM_NT_COUNT] = {
    "NtQueryVirtualMemory", "NtAllocateVirtualMemory", "NtAllocateVirtualMemoryEx",
    "NtFreeVirtualMemory", "NtProtectVirtualMemory", "NtMapViewOfSection",
    "NtMapViewOfSectionEx", "NtUnmapViewOfSection", "NtUnmapViewOfSectionEx",
    "NtReadVirtualMemory", "NtWriteVirtualMemory", "NtLockVirtualMemory",
    "NtUnlockVirtualMemory", "NtFlushVirtualMemory",
};
void *wm_nt_real[WM_NT_COUNT];
bool wm_wine_hooked;
static void *ntdll_handle;

struct seg { uint64_t start, end; };
struct ntdll_layout { struct seg text, rw[4]; int nrw; uint64_t base; bool found; };

static int find_ntdll(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct ntdll_layout *l = arg;
    uint64_t probe = (uint64_t)(uintptr_t)wm_nt_real[WM_NT_QUERY];
    bool mine = false;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *p = &info->dlpi_phdr[i];
        uint64_t s = info->dlpi_addr + p->p_vaddr;
        if (p->p_type == PT_LOAD && (p->p_flags & PF_X) && probe >= s && probe < s + p->p_memsz)
            mine = true;
    }
    if (!mine)
        return 0;
    l->found = true;
    l->base = info->dlpi_addr;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *p = &info->dlpi_phdr[i];
        uint64_t s = info->dlpi_addr + p->p_vaddr, e = s + p->p_memsz;
        if (p->p_type != PT_LOAD)
            continue;
        if (p->p_flags & PF_X)
            l->text = (struct seg){ s, e };
        else if ((p->p_flags & PF_W) && l->nrw < 4)
            l->rw[l->nrw++] = (struct seg){ s, e };
    }
    return 1;
}

static void refuse(const char *why)
{
    wm_note("unrecognised Wine ntdll.so (", why, "): Wine calls are not traced, nothing was changed");
}

static void install(void *handle)
{
    for (int i = 0; i < WM_NT_COUNT; i++) {
        wm_nt_real[i] = dlsym(handle, wm_nt_names[i]);
        if (!wm_nt_real[i]) {
            refuse(wm_nt_names[i]);
            memset(wm_nt_real, 0, sizeof wm_nt_real);
            return;
        }
    }
    struct ntdll_layout l = {0};
    dl_iterate_phdr(find_ntdll, &l);
    if (!l.found || !l.text.start || !l.nrw) {
        refuse("no text or writable segment");
        goto fail;
    }
    /* The array holds the address of NtQueryVirtualMemory; find it by value
     * in the writable segment and grow the run of text pointers both ways. */
    uint64_t want = (uint64_t)(uintptr_t)wm_nt_real[WM_NT_QUERY];
    uint64_t *tab = NULL;
    size_t ntab = 0;
    for (int s = 0; s < l.nrw && !tab; s++) {
        uint64_t *p = (uint64_t *)((l.rw[s].start + 7) & ~7ULL), *e = (uint64_t *)(l.rw[s].end & ~7ULL);
        for (; p < e; p++) {
            if (*p != want)
                continue;
            uint64_t *a = p, *b = p;
            while (a > (uint64_t *)l.rw[s].start && a[-1] >= l.text.start && a[-1] < l.text.end)
                a--;
            while (b + 1 < e && b[1] >= l.text.start && b[1] < l.text.end)
                b++;
            size_t n = (size_t)(b - a + 1);
            if (n > ntab)
                tab = a, ntab = n;
        }
    }
    if (!tab || ntab < 100 || ntab > 1000) {
        refuse("system call array not found");
        goto fail;
    }
    /* Each call we hook must be in the run exactly once, and
     * NtAllocateVirtualMemoryEx must follow NtAllocateVirtualMemory (the
     * array is sorted by name in every Wine 8 build). */
    int idx[WM_NT_COUNT];
    for (int i = 0; i < WM_NT_COUNT; i++) {
        idx[i] = -1;
        for (size_t k = 0; k < ntab; k++)
            if (tab[k] == (uint64_t)(uintptr_t)wm_nt_real[i]) {
                if (idx[i] >= 0) { idx[i] = -2; break; }
                idx[i] = (int)k;
            }
    }
    bool ok = idx[WM_NT_ALLOC_EX] == idx[WM_NT_ALLOC] + 1 && !wm_cfg.test_hook;
    for (int i = 0; i < WM_NT_COUNT; i++)
        ok = ok && idx[i] >= 0;
    if (!ok) {
        refuse(wm_cfg.test_hook ? "WINMEM_TEST_CORRUPT_NTDLL" : "hooked calls missing from the array");
        goto fail;
    }
    uint64_t pg = (uint64_t)(uintptr_t)tab & ~0xfffULL;
    uint64_t pend = ((uint64_t)(uintptr_t)(tab + ntab) + 0xfff) & ~0xfffULL;
    /* Raw syscalls: the shim's own mprotect hook must not see this. */
    if (syscall(SYS_mprotect, pg, pend - pg, PROT_READ | PROT_WRITE)) {
        refuse("array page cannot be made writable");
        goto fail;
    }
    /* Native mode serves a real handle to this process too; Wine's
     * NtQueryInformationProcess tells which process a handle names. Used
     * only if it is the array's entry (what Windows code would reach). */
    if (wm_cfg.mode == WMT_MODE_NATIVE) {
        void *qip = dlsym(handle, "NtQueryInformationProcess");
        for (size_t k = 0; qip && k < ntab; k++)
            if (tab[k] == (uint64_t)(uintptr_t)qip) {
                wm_nt_query_process = qip;
                break;
            }
    }
    for (int i = 0; i < WM_NT_COUNT; i++)
        tab[idx[i]] = (uint64_t)(uintptr_t)wm_nt_wrap[i];
    syscall(SYS_mprotect, pg, pend - pg, PROT_READ);
    wm_wine_hooked = true;
    wm_set_header_flag(WMT_HF_WINE | WMT_HF_WINE_HOOKED);
    return;
fail:
    /* Keep the real pointers: the exported Nt* of the native door forward
     * to them in a Wine process. */
    wm_set_header_flag(WMT_HF_WINE);
}

void wm_wine_ntdll_loaded(void *handle, const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    if (strcmp(b, "ntdll.so") || ntdll_handle)
        return;
    ntdll_handle = handle;
    if (!wm_cfg.active) {
        /* Not the program the user meant: leave Wine alone entirely, but
         * know Wine's functions for the exported Nt* forwarders. */
        for (int i = 0; i < WM_NT_COUNT; i++)
            wm_nt_real[i] = dlsym(handle, wm_nt_names[i]);
        return;
    }
    install(handle);
}

/* dlopen is interposed: this is how the shim learns of ntdll.so.
 *
 * glibc resolves a bare library name with the RUNPATH of the library that
 * called dlopen, found from dlopen's return address. A C wrapper calling
 * the real dlopen would make the shim the caller, and a program relying on
 * its own RUNPATH would stop finding its plugins. So the entry is assembly:
 * it asks wm_dlopen_pre() whether this is Wine's ntdll.so (always loaded by
 * absolute path), and otherwise JUMPS to the real dlopen, which then sees
 * the program's own return address. */
static void *(*real_dlopen)(const char *, int);
static int (*real_dlclose)(void *);
void *wm_dlopen_real WM_HIDDEN;

int wm_dlopen_pre(const char *file) WM_HIDDEN;
int wm_dlopen_pre(const char *file)
{
    if (!real_dlopen) {
        real_dlopen = (void *(*)(const char *, int))dlsym(RTLD_NEXT, "dlopen");
        wm_dlopen_real = (void *)real_dlopen;
    }
    if (wm_cfg.active)
        wm_modules_stale();            /* re-read the module list before the next stack */
    if (!file || ntdll_handle || !(wm_cfg.active || wm_cfg.wine))
        return 0;
    const char *b = strrchr(file, '/');
    return !strcmp(b ? b + 1 : file, "ntdll.so");
}

void *wm_dlopen_wrapped(const char *file, int mode) WM_HIDDEN;
void *wm_dlopen_wrapped(const char *file, int mode)
{
    void *h = real_dlopen(file, mode);
    if (h)
        wm_wine_ntdll_loaded(h, file);
    return h;
}

__asm__(".text\n.globl dlopen\n.type dlopen,@function\n.p2align 4\ndlopen:\n"
        ".cfi_startproc\n"
        "push %rdi\n.cfi_adjust_cfa_offset 8\npush %rsi\n.cfi_adjust_cfa_offset 8\n"
        "sub $8,%rsp\n.cfi_adjust_cfa_offset 8\n"
        "call wm_dlopen_pre\n"
        "add $8,%rsp\n.cfi_adjust_cfa_offset -8\n"
        "pop %rsi\n.cfi_adjust_cfa_offset -8\npop %rdi\n.cfi_adjust_cfa_offset -8\n"
        "test %eax,%eax\n"
        "jnz wm_dlopen_wrapped\n"
        "jmp *wm_dlopen_real(%rip)\n"
        ".cfi_endproc\n.size dlopen,.-dlopen\n");

/* dlclose: the module list may shrink; not caller-dependent, plain C. */
WM_EXPORTED int dlclose(void *h)
{
    if (!real_dlclose)
        real_dlclose = (int (*)(void *))dlsym(RTLD_NEXT, "dlclose");
    int r = real_dlclose(h);
    if (wm_cfg.active)
        wm_modules_stale();
    return r;
}
