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
 * What is hooked is recognised from the code found, never from a version
 * number alone: the dispatcher's call through the array says the calling
 * convention (Wine 8.0 ms_abi, Wine 10.0 System V); the stubs of the PE
 * ntdll.dll say which slot each call has and how long the array is; the
 * array must hold, in exactly those slots, the functions ntdll.so exports.
 * The version string is the second check: the dispatcher found must be one
 * seen in that Wine version. Anything else (another build, a 32-bit ntdll)
 * → one line on stderr, nothing written, the program runs as it would
 * without the shim. docs/shim.md lists what is checked.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "shim.h"

const char *const wm_nt_names[WM_NT_COUNT] = {
#define WM_NT_NAME_(idx, name, n) #name,
    WM_NT_CALLS(WM_NT_NAME_)
#undef WM_NT_NAME_
};
void *wm_nt_real[WM_NT_COUNT];
bool wm_wine_hooked;
enum wm_conv wm_wine_conv;
char wm_wine_version[64];
static void *ntdll_handle;

struct seg { uint64_t start, end; };
struct ntdll_layout {
    struct seg text, rw[4], ro[4];
    int nrw, nro;
    uint64_t probe;
    bool found;
};

static int find_ntdll(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct ntdll_layout *l = arg;
    bool mine = false;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *p = &info->dlpi_phdr[i];
        uint64_t s = info->dlpi_addr + p->p_vaddr;
        if (p->p_type == PT_LOAD && (p->p_flags & PF_X) && l->probe >= s && l->probe < s + p->p_memsz)
            mine = true;
    }
    if (!mine)
        return 0;
    l->found = true;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *p = &info->dlpi_phdr[i];
        struct seg sg = { info->dlpi_addr + p->p_vaddr, info->dlpi_addr + p->p_vaddr + p->p_memsz };
        if (p->p_type != PT_LOAD)
            continue;
        if (p->p_flags & PF_X)
            l->text = sg;
        else if ((p->p_flags & PF_W) && l->nrw < 4)
            l->rw[l->nrw++] = sg;
        else if (!(p->p_flags & PF_W) && l->nro < 4)
            l->ro[l->nro++] = sg;
    }
    return 1;
}

/* The one line an unrecognised build gets; it names the build when ntdll.so
 * says which it is. */
static void refuse(const char *why)
{
    char what[160];
    snprintf(what, sizeof what, "unrecognised Wine ntdll.so%s%s (", wm_wine_version[0] ? " of " : "",
             wm_wine_version);
    wm_note(what, why, "): Wine calls are not traced, nothing was changed");
}

/* ---- the dispatcher: how it calls the array's entries ----
 * Every build the shim knows ends the dispatch with `mov (%rbx),%r10;
 * call *(%r10,%rax,8)` (the table's ServiceTable, the call by index). What
 * stands right before it is the argument set-up, which is the calling
 * convention; and a `sub $N,%rcx` shortly before turns the argument table's
 * byte count into stack arguments: N = the bytes passed in registers (4 or 6
 * arguments), which pins where the wrappers find arguments 5+ / 7+. */
static const uint8_t call_site[] = { 0x4c, 0x8b, 0x13, 0x41, 0xff, 0x14, 0xc2 };
static const uint8_t ms_setup[] = { 0x4c, 0x89, 0xd1,          /* mov %r10,%rcx */
                                    0x48, 0x83, 0xec, 0x20 };  /* sub $0x20,%rsp */
static const uint8_t sysv_setup[] = { 0x4c, 0x89, 0xd7, 0x4c, 0x89, 0xde,  /* r10→rdi, r11→rsi */
                                      0x4c, 0x89, 0xc2, 0x4c, 0x89, 0xc9,  /* r8→rdx, r9→rcx */
                                      0x4d, 0x89, 0xe0, 0x4d, 0x89, 0xe9 }; /* r12→r8, r13→r9 */
static const struct dispatcher {
    enum wm_conv conv;
    const uint8_t *setup;
    size_t nsetup;
    uint8_t reg_bytes;       /* the N of `sub $N,%rcx` */
    const char *majors;      /* Wine versions this code was verified in, ' '-separated */
} dispatchers[] = {
    { WM_CONV_MS, ms_setup, sizeof ms_setup, 0x20, "8" },
    { WM_CONV_SYSV, sysv_setup, sizeof sysv_setup, 0x30, "10" },
};

static const uint8_t *find_bytes(const uint8_t *p, size_t n, const uint8_t *w, size_t wn)
{
    for (size_t i = 0; i + wn <= n; i++)
        if (!memcmp(p + i, w, wn))
            return p + i;
    return NULL;
}

/* The dispatcher's entry symbol (its name differs between builds), the one
 * call through the array within its first 1 KiB, and what sets it up. */
static const struct dispatcher *recognise_dispatcher(void *handle, const struct ntdll_layout *l)
{
    static const char *const entry[] = { "__wine_syscall_dispatcher", "__wine_syscall_dispatcher_prolog_end" };
    const uint8_t *d = NULL;
    for (size_t i = 0; i < sizeof entry / sizeof *entry && !d; i++)
        d = dlsym(handle, entry[i]);
    if (!d || (uint64_t)(uintptr_t)d < l->text.start || (uint64_t)(uintptr_t)d >= l->text.end)
        return NULL;
    size_t n = l->text.end - (uint64_t)(uintptr_t)d;
    n = n > 1024 ? 1024 : n;
    const uint8_t *c = find_bytes(d, n, call_site, sizeof call_site);
    if (!c || find_bytes(c + 1, n - (size_t)(c + 1 - d), call_site, sizeof call_site))
        return NULL;                  /* none, or more than one: not a build we know */
    for (size_t k = 0; k < sizeof dispatchers / sizeof *dispatchers; k++) {
        const struct dispatcher *w = &dispatchers[k];
        if ((size_t)(c - d) < w->nsetup + 64 || memcmp(c - w->nsetup, w->setup, w->nsetup))
            continue;
        const uint8_t sub[4] = { 0x48, 0x83, 0xe9, w->reg_bytes };   /* sub $N,%rcx */
        if (find_bytes(c - w->nsetup - 64, 64, sub, sizeof sub))
            return w;
    }
    return NULL;
}

/* "wine-10.0 (Debian 10.0~repack-6)" from ntdll.so's read-only data. */
static void read_version(const struct ntdll_layout *l)
{
    wm_wine_version[0] = 0;
    for (int s = 0; s < l->nro && !wm_wine_version[0]; s++) {
        const char *p = (const char *)(uintptr_t)l->ro[s].start;
        size_t n = l->ro[s].end - l->ro[s].start;
        for (const char *q = p; (q = memmem(q, n - (size_t)(q - p), "wine-", 5)); q++) {
            if ((size_t)(p + n - q) < 8 || q[5] < '1' || q[5] > '9' || (q > p && q[-1]))
                continue;
            size_t k = 0;
            while (k < sizeof wm_wine_version - 1 && q + k < p + n && q[k] >= ' ' && q[k] < 0x7f)
                k++;
            if (q + k < p + n && !q[k]) {       /* a whole NUL-terminated string */
                memcpy(wm_wine_version, q, k);
                wm_wine_version[k] = 0;
                break;
            }
        }
    }
}

/* The version string's major number is one this dispatcher was seen in. */
static bool version_matches(const struct dispatcher *w)
{
    const char *v = wm_wine_version + 5;
    size_t n = 0;
    while (v[n] >= '0' && v[n] <= '9')
        n++;
    if (!wm_wine_version[0] || !n || v[n] != '.')
        return false;
    for (const char *m = w->majors; *m;) {
        size_t k = strcspn(m, " ");
        if (k == n && !memcmp(m, v, n))
            return true;
        m += k + (m[k] == ' ');
    }
    return false;
}

/* The array: where NtQueryVirtualMemory's slot (by its stub id) holds its
 * address, every hooked call's slot holds that call, and all `len` slots
 * point into ntdll.so's code. Exactly one such place, or none. */
static uint64_t *find_array(const struct ntdll_layout *l, const int *ids, int len)
{
    uint64_t *found = NULL;
    uint64_t want = (uint64_t)(uintptr_t)wm_nt_real[WM_NT_QUERY];
    for (int s = 0; s < l->nrw; s++) {
        uint64_t *lo = (uint64_t *)((l->rw[s].start + 7) & ~7ULL), *hi = (uint64_t *)(l->rw[s].end & ~7ULL);
        for (uint64_t *p = lo; p < hi; p++) {
            if (*p != want || p - lo < ids[WM_NT_QUERY] || hi - (p - ids[WM_NT_QUERY]) < len)
                continue;
            uint64_t *t = p - ids[WM_NT_QUERY];
            bool ok = true;
            for (int i = 0; i < WM_NT_COUNT && ok; i++)
                ok = t[ids[i]] == (uint64_t)(uintptr_t)wm_nt_real[i];
            for (int k = 0; k < len && ok; k++)
                ok = t[k] >= l->text.start && t[k] < l->text.end;
            if (ok && found)
                return NULL;          /* ambiguous */
            if (ok)
                found = t;
        }
    }
    return found;
}

static void install(void *handle, const char *path)
{
    for (int i = 0; i < WM_NT_COUNT; i++) {
        wm_nt_real[i] = dlsym(handle, wm_nt_names[i]);
        if (!wm_nt_real[i]) {
            refuse(wm_nt_names[i]);
            memset(wm_nt_real, 0, sizeof wm_nt_real);
            return;
        }
    }
    struct ntdll_layout l = { .probe = (uint64_t)(uintptr_t)wm_nt_real[WM_NT_QUERY] };
    dl_iterate_phdr(find_ntdll, &l);
    read_version(&l);
    if (!l.found || !l.text.start || !l.nrw) {
        refuse("no text or writable segment");
        goto fail;
    }
    const struct dispatcher *w = recognise_dispatcher(handle, &l);
    if (!w) {
        refuse("its system-call dispatcher is not one the shim knows");
        goto fail;
    }
    if (!version_matches(w)) {
        refuse(wm_wine_version[0] ? "its dispatcher was never verified on this Wine version" : "no version string");
        goto fail;
    }
    /* Slot numbers from ntdll.dll's stubs; NtQueryInformationProcess is
     * looked up too (native mode asks it which process a handle names). */
    const char *names[WM_NT_COUNT + 1];
    int ids[WM_NT_COUNT + 1];
    memcpy(names, wm_nt_names, sizeof wm_nt_names);
    names[WM_NT_COUNT] = "NtQueryInformationProcess";
    int len = wm_wine_syscall_ids(path, names, WM_NT_COUNT + 1, ids);
    bool ok = len > 0 && len <= 4096 && !wm_cfg.test_hook;
    for (int i = 0; i < WM_NT_COUNT && ok; i++)
        ok = ids[i] >= 0;
    uint64_t *tab = ok ? find_array(&l, ids, len) : NULL;
    if (!tab) {
        refuse(wm_cfg.test_hook ? "WINMEM_TEST_CORRUPT_NTDLL" :
               len <= 0 ? "no PE ntdll.dll with system-call stubs beside it" :
                          "the system-call array does not match ntdll.dll's stubs");
        goto fail;
    }
    uint64_t pg = (uint64_t)(uintptr_t)tab & ~0xfffULL;
    uint64_t pend = ((uint64_t)(uintptr_t)(tab + len) + 0xfff) & ~0xfffULL;
    /* Raw syscalls: the shim's own mprotect hook must not see this. */
    if (syscall(SYS_mprotect, pg, pend - pg, PROT_READ | PROT_WRITE)) {
        refuse("array page cannot be made writable");
        goto fail;
    }
    wm_wine_conv = w->conv;
    /* Native mode serves a real handle to this process too; Wine's
     * NtQueryInformationProcess tells which process a handle names. Used
     * only if its slot holds it (what Windows code would reach). */
    void *qip = dlsym(handle, "NtQueryInformationProcess");
    if (wm_cfg.mode == WMT_MODE_NATIVE && qip && ids[WM_NT_COUNT] >= 0 && ids[WM_NT_COUNT] < len &&
        tab[ids[WM_NT_COUNT]] == (uint64_t)(uintptr_t)qip)
        wm_nt_query_process = qip;
    for (int i = 0; i < WM_NT_COUNT; i++)
        tab[ids[i]] = (uint64_t)(uintptr_t)wm_nt_wrapper(w->conv, i);
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
    } else {
        install(handle, path);
    }
    __atomic_store_n(&wm_nt_forward, wm_nt_real[WM_NT_QUERY], __ATOMIC_RELEASE);
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
