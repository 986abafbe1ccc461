/*
 * shim/pe_core.c — native mode: tell winmem's core which PE images Wine has
 * mapped, and recognise a real handle that names this process.
 *
 * The core learns images from the dynamic loader, which knows nothing of
 * the PE images Wine maps itself (the .exe, ntdll.dll, kernelbase.dll...):
 * to the kernel they are a header page mapped from the file and sections
 * in file-backed or anonymous mappings. wm_image_register (core/prim.h)
 * lets whoever knows an image's span hand it over; registered spans then
 * answer like ELF images (MEM_IMAGE, AllocationBase = module base,
 * AllocationProtect PAGE_EXECUTE_WRITECOPY, each section with the
 * protection of its mapping, the file name).
 *
 * Where the spans come from: Wine itself. A walk of the address space with
 * Wine's real NtQueryVirtualMemory lists every MEM_IMAGE allocation (the
 * unix side maps the .exe and ntdll.dll without a system call we see). It
 * runs before the first native-mode query, and again before the next one
 * after anything may have changed the set of images: a successful
 * NtMapViewOfSection(Ex) or NtUnmapViewOfSection(Ex) of an image, or a
 * change of the PEB's loader list (its head's two links, read without the
 * loader lock: only a hint that something changed, never followed). The
 * walk costs one Wine query per region (~0.1 ms in all for a small
 * program), so a query pays it only after a DLL was loaded or unloaded.
 *
 * Only in native mode: trace and check mode never call into here.
 */
#include <pthread.h>
#include <string.h>
#include "shim.h"
#include "wine_abi.h"
#include "model.h"
#include "prim.h"

#define MEM_IMAGE_T 0x1000000u
#define MAX_IMG 512


struct mbi { uint64_t base, alloc_base; uint32_t alloc_prot, pad; uint64_t size; uint32_t state, prot, type, pad2; };

/* What the core was told (under lock). */
static uint64_t reg_start[MAX_IMG], reg_end[MAX_IMG];
static int nreg;
/* The walk's result (static: Wine's syscall stack is not ours to spend). */
static uint64_t new_start[MAX_IMG], new_end[MAX_IMG];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int dirty = 1;                 /* walk before the next query */
static int walking;                   /* a walk is under way: wait for it */
static uint64_t ldr_seen[2];
static uint64_t ldr_checked;          /* the Ldr address Wine last said is readable */

void *wm_nt_query_process;            /* Wine's NtQueryInformationProcess (shim/wine.c) */

/* The loader list's head links (TEB+0x60 → PEB, PEB+0x18 → Ldr, the
 * in-load-order list head at Ldr+0x10). Both change when a module is added
 * at the end or removed; {0,0} before the loader set the list up. The Ldr
 * pointer is program memory: a new value is read through only after Wine
 * says its 32 bytes are committed and readable (one query per change). */
static void ldr_mark(uint64_t out[2])
{
    out[0] = out[1] = 0;
    uint64_t teb = wm_teb(), peb, ldr;
    if (!teb || !(peb = *(const uint64_t *)(teb + WM_TEB_PEB)) || (peb & 7))
        return;
    if (!(ldr = *(const uint64_t *)(peb + WM_PEB_LDR)) || (ldr & 7))
        return;
    if (ldr != __atomic_load_n(&ldr_checked, __ATOMIC_RELAXED)) {
        struct mbi m;
        if (!wm_wine_query_self(ldr, 0, &m, sizeof m) || m.state != 0x1000 || !(m.prot & 0xee) || (m.prot & 0x100) ||
            ldr + 0x20 > m.base + m.size) {
            out[0] = ldr;             /* unreadable: its address is the mark */
            return;
        }
        __atomic_store_n(&ldr_checked, ldr, __ATOMIC_RELAXED);
    }
    out[0] = __atomic_load_n((const uint64_t *)(ldr + WM_LDR_LOAD_ORDER), __ATOMIC_RELAXED);
    out[1] = __atomic_load_n((const uint64_t *)(ldr + WM_LDR_LOAD_ORDER + 8), __ATOMIC_RELAXED);
}

/* The Linux file behind the image's header page (Wine maps it from the file
 * at offset 0), so the name query gives a host path as it does for ELF. */
static void register_one(uint64_t start, uint64_t end)
{
    char name[512];
    const char *path = "";
    wm_vma v;
    if (wm_vma_find(wm_space_self(), start, &v, name, sizeof name) == 0 && v.start == start &&
        v.inode && v.offset == 0 && name[0] == '/') {
        size_t n = strlen(name), k = sizeof " (deleted)" - 1;
        if (n > k && !memcmp(name + n - k, " (deleted)", k))
            name[n - k] = 0;
        if (n < sizeof name - 1)      /* not truncated */
            path = name;
    }
    wm_image_register(start, end, path);
}

/* Pre: lock held. Lists Wine's MEM_IMAGE allocations and brings the core's
 * registrations in line: gone ones unregistered, new or resized ones
 * registered. */
static void walk_locked(void)
{
    int n = 0;
    uint64_t a = 0x10000;
    struct mbi m;
    for (int guard = 0; guard < 200000 && a < 0x7fffffff0000ULL; guard++) {
        if (!wm_wine_query_self(a, 0, &m, sizeof m) || !m.size || m.base + m.size <= a)
            break;
        if (m.type == MEM_IMAGE_T) {
            if (n && new_start[n - 1] == m.alloc_base && new_end[n - 1] == m.base)
                new_end[n - 1] = m.base + m.size;          /* the same image, next section */
            else if (m.base == m.alloc_base && n < MAX_IMG)
                new_start[n] = m.base, new_end[n] = m.base + m.size, n++;
        }
        a = m.base + m.size;
    }
    for (int i = 0; i < nreg; i++) {
        int j = 0;
        while (j < n && new_start[j] != reg_start[i])
            j++;
        if (j == n)
            wm_image_unregister(reg_start[i]);
    }
    for (int j = 0; j < n; j++) {
        int i = 0;
        while (i < nreg && (reg_start[i] != new_start[j] || reg_end[i] != new_end[j]))
            i++;
        if (i == nreg)
            register_one(new_start[j], new_end[j]);
    }
    memcpy(reg_start, new_start, sizeof(uint64_t) * (size_t)n);
    memcpy(reg_end, new_end, sizeof(uint64_t) * (size_t)n);
    nreg = n;
}

void wm_pe_core_sync(void)
{
    uint64_t mark[2];
    ldr_mark(mark);
    /* A thread that finds nothing changed but a walk under way waits for
     * it: the change it may depend on (its own LoadLibrary) is being
     * registered. */
    if (!__atomic_load_n(&dirty, __ATOMIC_SEQ_CST) && !__atomic_load_n(&walking, __ATOMIC_SEQ_CST) &&
        mark[0] == __atomic_load_n(&ldr_seen[0], __ATOMIC_RELAXED) &&
        mark[1] == __atomic_load_n(&ldr_seen[1], __ATOMIC_RELAXED))
        return;
    pthread_mutex_lock(&lock);
    if (__atomic_load_n(&dirty, __ATOMIC_SEQ_CST) || mark[0] != ldr_seen[0] || mark[1] != ldr_seen[1]) {
        /* dirty is cleared before the walk: a change during it marks
         * dirty again, and the next query walks once more. */
        __atomic_store_n(&walking, 1, __ATOMIC_SEQ_CST);
        __atomic_store_n(&dirty, 0, __ATOMIC_SEQ_CST);
        __atomic_store_n(&ldr_seen[0], mark[0], __ATOMIC_RELAXED);
        __atomic_store_n(&ldr_seen[1], mark[1], __ATOMIC_RELAXED);
        walk_locked();
        __atomic_store_n(&walking, 0, __ATOMIC_SEQ_CST);
    }
    pthread_mutex_unlock(&lock);
}

/* In a fork child only the forking thread exists: a walk another thread
 * had under way will never finish, so its lock and flag are reset and the
 * next query walks afresh. */
void wm_pe_core_after_fork(void)
{
    pthread_mutex_init(&lock, NULL);
    __atomic_store_n(&walking, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&dirty, 1, __ATOMIC_SEQ_CST);
    wm_model_after_fork();
}

/* Only views that are images matter: data views (MapViewOfFile in a loop)
 * must not make every following query pay for a walk. One Wine query. A
 * real handle may name this process: assume it concerns us. */
bool wm_pe_core_view_is_image(void *process, uint64_t addr)
{
    struct mbi m;
    if (process != (void *)(intptr_t)-1)
        return true;
    return !wm_wine_query_self(addr, 0, &m, sizeof m) || m.type == MEM_IMAGE_T;
}

void wm_pe_core_changed(void)
{
    __atomic_store_n(&dirty, 1, __ATOMIC_RELEASE);
}

/* Does a real process handle name this process? Wine's own
 * NtQueryInformationProcess(ProcessBasicInformation) gives the process id
 * behind the handle; this process's is TEB ClientId.UniqueProcess
 * (TEB+0x40). Asked on every call (a wineserver round trip): a handle value
 * can be closed and reused for another process without a call we see, so
 * a cache could answer for the wrong process. A handle without query
 * access, or anything unexpected, says no (Wine then answers). */
bool wm_wine_handle_is_self(void *handle)
{
    void *f = wm_nt_query_process;
    uint64_t teb = wm_teb();
    if (!f || !teb || !handle)
        return false;
    uint64_t pbi[6] = {0};            /* PROCESS_BASIC_INFORMATION, 48 bytes */
    uint32_t ret = 0;
    if (wm_nt_call(f, (uintptr_t)handle, 0, (uintptr_t)pbi, sizeof pbi, (uintptr_t)&ret, 0) != 0)
        return false;
    uint64_t self = *(const uint64_t *)(teb + WM_TEB_CLIENT_PID);
    return self && pbi[4] == self;
}
