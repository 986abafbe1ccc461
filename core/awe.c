/*
 * core/awe.c — Address Windowing Extensions on Linux (winmem/awe.h).
 *
 * Frames: pages of one memfd per process. Frame number = FRAME_BASE + the
 * page's index in the memfd. Every held frame is locked through a "pool"
 * mapping of the memfd (chunks of CHUNK_PAGES), so it stays in RAM whether
 * or not it is mapped in a window. Mapping = mmap(MAP_SHARED|MAP_FIXED) of
 * the frame's page into the window; unmapping = an anonymous PROT_NONE
 * mapping over it again (the window is an inaccessible reservation).
 *
 * Error codes follow the Windows kernel's NtMapUserPhysicalPages & co.:
 * bad count → INVALID_PARAMETER, address outside a MEM_PHYSICAL window or no
 * frame ever allocated → INVALID_PARAMETER, a frame not held →
 * CONFLICTING_ADDRESSES (ERROR_INVALID_ADDRESS), a frame already mapped or
 * listed twice → INVALID_PARAMETER. Validation happens before anything
 * changes, so a failed map changes nothing.
 *
 * One mutex guards everything; it is never held while caller memory is read
 * or written (copies go through process_vm_readv/writev, which report a bad
 * pointer as EFAULT instead of faulting).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"
#include "registry.h"
#include "awe_internal.h"
#include "winmem/awe.h"

/* Windows never hands out frames below 16 MiB (0x1000 4 KiB frames); doing
 * the same keeps small integers (and 0, "unmap" in Scatter) invalid. */
#define FRAME_BASE  0x1000ULL
#define CHUNK_PAGES 512          /* frames per locked pool mapping (2 MiB) */
#define MAX_FRAMES  (1ULL << 31) /* keeps every index in a uint32_t */
#define STACK_COPY  1024         /* entries copied on the stack, not malloc'd */
#define PENDING     1ULL         /* va[] marker while a map call validates */

/* A MEM_PHYSICAL window seen by the map calls: which frame is at each page. */
typedef struct window {
    uint64_t base, size;
    uint32_t *slot;              /* per page: frame index + 1, or 0 */
} window;

static struct {
    pthread_mutex_t lock;
    int fd;                      /* the memfd; -1 until the first allocation */
    uint64_t ino;                /* its inode, to recognise our mappings */
    size_t pg;
    unsigned shift;              /* log2(pg): no divisions on the hot paths */
    uint64_t nframes;            /* frames ever created (memfd pages in use) */
    uint64_t cap;                /* capacity of va[] and held[] */
    uint64_t *va;                /* frame → page it is mapped at, 0 if none */
    uint8_t *held;               /* frame → 1 while the program holds it */
    uint32_t *freelist;          /* indexes of frames freed, for reuse */
    uint64_t nfree;
    char **chunk;                /* pool mappings, CHUNK_PAGES frames each */
    uint64_t nchunks;
    window *win;
    size_t nwin, capwin;
} S = { .lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1 };

/* Other families own these; weak so core/awe.c links on its own. */
#pragma weak wm_handle_is_self
#pragma weak wm_handle_get
#pragma weak wm_space_put

/* ---- caller memory ---- */

/* Copies len bytes from the caller's src without faulting on a bad pointer.
 * Falls back to memcpy only if the system call itself is unavailable. */
static bool copy_in(void *dst, const void *src, size_t len)
{
    if (!len)
        return true;
    struct iovec l = { dst, len }, r = { (void *)src, len };
    ssize_t n = process_vm_readv(getpid(), &l, 1, &r, 1, 0);
    if (n == (ssize_t)len)
        return true;
    if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
        memcpy(dst, src, len);
        return true;
    }
    return false;
}

static bool copy_out(void *dst, const void *src, size_t len)
{
    if (!len)
        return true;
    struct iovec l = { (void *)src, len }, r = { dst, len };
    ssize_t n = process_vm_writev(getpid(), &l, 1, &r, 1, 0);
    if (n == (ssize_t)len)
        return true;
    if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
        memcpy(dst, src, len);
        return true;
    }
    return false;
}

static NTSTATUS check_process(HANDLE h)
{
    if (h == (HANDLE)(intptr_t)-1)
        return STATUS_SUCCESS;
    if (wm_handle_is_self && wm_handle_is_self(h))
        return STATUS_SUCCESS;
    if (wm_handle_get) {
        NTSTATUS st = STATUS_INVALID_HANDLE;
        wm_space *sp = wm_handle_get(h, &st);
        if (sp) {
            wm_space_put(sp);
            return STATUS_NOT_SUPPORTED;   /* frames live in this process only */
        }
    }
    return STATUS_INVALID_HANDLE;
}

/* ---- privilege: SeLockMemoryPrivilege ≈ CAP_IPC_LOCK or RLIMIT_MEMLOCK ---- */

static bool have_cap_ipc_lock(void)
{
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &hdr, data) != 0)
        return false;
    return data[CAP_IPC_LOCK / 32].effective & (1u << (CAP_IPC_LOCK % 32));
}

/* Bytes this process has locked (VmLck), which RLIMIT_MEMLOCK counts. */
static uint64_t locked_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    unsigned long long kb = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmLck: %llu kB", &kb) == 1)
            break;
    fclose(f);
    return kb * 1024;
}

/* How many more frames this process may lock: *budget, or a failure. */
static NTSTATUS lock_budget(uint64_t *budget)
{
    struct rlimit rl;
    *budget = UINT64_MAX;
    if (have_cap_ipc_lock())
        return STATUS_SUCCESS;
    if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return STATUS_SUCCESS;
    if (rl.rlim_cur < S.pg)
        return STATUS_PRIVILEGE_NOT_HELD;
    uint64_t used = locked_bytes();
    *budget = used >= rl.rlim_cur ? 0 : (rl.rlim_cur - used) / S.pg;
    return STATUS_SUCCESS;
}

/* ---- the frame pool (S.lock held) ---- */

/* Raw system calls: AddressSanitizer turns mlock()/munlock() into no-ops,
 * and the sanitizer build of the tests must lock for real. */
static int lock_pages(void *p, size_t len) { return (int)syscall(SYS_mlock, p, len); }
static int unlock_pages(void *p, size_t len) { return (int)syscall(SYS_munlock, p, len); }

static char *frame_addr(uint64_t idx)
{
    return S.chunk[idx / CHUNK_PAGES] + (idx % CHUNK_PAGES) * S.pg;
}

static bool pool_open(void)
{
    if (S.fd >= 0)
        return true;
    S.pg = (size_t)sysconf(_SC_PAGESIZE);
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
    uint64_t need = (n + CHUNK_PAGES - 1) / CHUNK_PAGES;
    if (need <= S.nchunks)
        return true;
    char **c = realloc(S.chunk, need * sizeof *c);
    if (!c)
        return false;
    S.chunk = c;
    if (ftruncate(S.fd, (off_t)(need * CHUNK_PAGES * S.pg)) != 0)
        return false;
    while (S.nchunks < need) {
        void *p = mmap(NULL, CHUNK_PAGES * S.pg, PROT_READ | PROT_WRITE, MAP_SHARED,
                       S.fd, (off_t)(S.nchunks * CHUNK_PAGES * S.pg));
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
        uint64_t i = idx + done, k = CHUNK_PAGES - i % CHUNK_PAGES;
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
static uint64_t take_frames(uint64_t want, uint32_t *out)
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
    if (S.nframes + k > MAX_FRAMES)
        k = MAX_FRAMES - S.nframes;
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

static void give_back(uint32_t idx)
{
    S.held[idx] = 0;
    frame_release(idx);
    S.freelist[S.nfree++] = idx;
}

/* ---- windows (S.lock held) ---- */

/* Drops every record of frames mapped in [base, base+size). */
static void forget_range(uint64_t base, uint64_t size)
{
    for (size_t i = 0; i < S.nwin; i++) {
        window *w = &S.win[i];
        if (w->base < base + size && base < w->base + w->size) {
            uint64_t pages = w->size >> S.shift;
            for (uint64_t p = 0; p < pages; p++)
                if (w->slot[p])
                    S.va[w->slot[p] - 1] = 0;
            free(w->slot);
            *w = S.win[--S.nwin];
            i--;
        }
    }
}

/* The window that holds [va, va+len), found through the registry, or NULL.
 * A record whose base or size no longer matches the registry is stale (the
 * window was released and another reserved) and is rebuilt. */
static window *find_window(uint64_t va, uint64_t len)
{
    wm_region r;
    if (!wm_registry_query(va, &r) || r.kind != WM_KIND_PHYSICAL)
        return NULL;
    if (len > r.alloc_base + r.alloc_size - va)
        return NULL;
    for (size_t i = 0; i < S.nwin; i++)
        if (S.win[i].base == r.alloc_base && S.win[i].size == r.alloc_size)
            return &S.win[i];
    forget_range(r.alloc_base, r.alloc_size);
    if (S.nwin == S.capwin) {
        size_t cap = S.capwin ? S.capwin * 2 : 8;
        window *w = realloc(S.win, cap * sizeof *w);
        if (!w)
            return NULL;
        S.win = w;
        S.capwin = cap;
    }
    uint32_t *slot = calloc(r.alloc_size / S.pg, sizeof *slot);
    if (!slot)
        return NULL;
    S.win[S.nwin] = (window){ r.alloc_base, r.alloc_size, slot };
    return &S.win[S.nwin++];
}

static uint32_t *slot_of(window *w, uint64_t va)
{
    return &w->slot[(va - w->base) >> S.shift];
}

/* Makes pages [va, va+len) of a window inaccessible again. */
static bool unmap_pages(uint64_t va, uint64_t len)
{
    void *p = mmap((void *)va, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return false;
    wm_registry_set_pages(va, len, MEM_RESERVE, 0);
    return true;
}

static bool map_run(uint64_t va, uint32_t idx, uint64_t n)
{
    void *p = mmap((void *)va, n * S.pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
                   S.fd, (off_t)((uint64_t)idx * S.pg));
    if (p == MAP_FAILED)
        return false;
    wm_registry_set_pages(va, n * S.pg, MEM_COMMIT, PAGE_READWRITE);
    return true;
}

/* Unmaps whatever frame is at page va of w (records only + the mapping). */
static void clear_page(window *w, uint64_t va)
{
    uint32_t *s = slot_of(w, va);
    if (*s) {
        S.va[*s - 1] = 0;
        *s = 0;
    }
}

/* Is frame idx really still mapped where we recorded it? Not when its
 * window was released (VirtualFree unmaps the range without telling us) and
 * the address reused since. Asks the kernel which file page is there. Only
 * called when a frame looks mapped, so the common paths make no syscall. */
static bool mapped_for_real(uint32_t idx)
{
    uint64_t at = S.va[idx];
    wm_vma v;
    if (wm_vma_find(wm_space_self(), at, &v, NULL, 0) != 0 || v.start > at)
        return false;
    return v.inode == S.ino && v.offset + (at - v.start) == (uint64_t)idx * S.pg;
}

/* Clears S.va[idx] if its record is stale, with every record of the
 * window it was in (they are all stale then). */
static void check_stale(uint32_t idx)
{
    if (S.va[idx] && S.va[idx] != PENDING && !mapped_for_real(idx)) {
        forget_range(S.va[idx], S.pg);
        S.va[idx] = 0;
    }
}

/* Checks frame number f for mapping; marks it PENDING so a second use in
 * the same call is caught. May drop stale window records: callers look
 * their windows up again afterwards. */
static NTSTATUS claim(ULONG_PTR f, uint32_t *idx)
{
    if (f < FRAME_BASE || f - FRAME_BASE >= S.nframes || !S.held[f - FRAME_BASE])
        return STATUS_CONFLICTING_ADDRESSES;
    *idx = (uint32_t)(f - FRAME_BASE);
    check_stale(*idx);
    if (S.va[*idx])
        return STATUS_INVALID_PARAMETER;   /* mapped elsewhere, or listed twice */
    S.va[*idx] = PENDING;
    return STATUS_SUCCESS;
}

/* ---- the API ---- */

bool wm_awe_pool_exists(void)
{
    pthread_mutex_lock(&S.lock);
    bool r = S.nframes != 0;
    pthread_mutex_unlock(&S.lock);
    return r;
}

void wm_awe_forget_window(uint64_t base, uint64_t size)
{
    pthread_mutex_lock(&S.lock);
    if (S.fd >= 0)
        forget_range(base, size);
    pthread_mutex_unlock(&S.lock);
}

NTSTATUS wm_awe_allocate(HANDLE process, ULONG_PTR *count, ULONG_PTR *frames)
{
    ULONG_PTR want;
    if (!count || !copy_in(&want, count, sizeof want))
        return STATUS_ACCESS_VIOLATION;
    NTSTATUS st = check_process(process);
    if (st)
        return st;
    if (want == 0)
        return STATUS_SUCCESS;          /* Windows: no privilege check either */
    if (want > UINTPTR_MAX / sizeof(ULONG_PTR) || !frames)
        return want > UINTPTR_MAX / sizeof(ULONG_PTR) ? STATUS_INVALID_PARAMETER : STATUS_ACCESS_VIOLATION;

    pthread_mutex_lock(&S.lock);
    if (!pool_open()) {
        pthread_mutex_unlock(&S.lock);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    uint64_t budget;
    st = lock_budget(&budget);
    pthread_mutex_unlock(&S.lock);
    if (st)
        return st;
    if (want > budget)
        want = budget;
    if (want > MAX_FRAMES)
        want = MAX_FRAMES;
    if (want == 0)
        return STATUS_INSUFFICIENT_RESOURCES;

    uint32_t *idx = malloc(want * sizeof *idx);
    ULONG_PTR *out = malloc(want * sizeof *out);
    if (!idx || !out) {
        free(idx);
        free(out);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    pthread_mutex_lock(&S.lock);
    uint64_t got = take_frames(want, idx);
    pthread_mutex_unlock(&S.lock);
    for (uint64_t i = 0; i < got; i++)
        out[i] = FRAME_BASE + idx[i];

    st = STATUS_SUCCESS;
    if (got == 0)
        st = STATUS_INSUFFICIENT_RESOURCES;
    else if (!copy_out(frames, out, got * sizeof *out) || !copy_out(count, &got, sizeof got))
        st = STATUS_ACCESS_VIOLATION;
    if (st && got) {                    /* failure: no frame stays allocated */
        pthread_mutex_lock(&S.lock);
        for (uint64_t i = 0; i < got; i++)
            give_back(idx[i]);
        pthread_mutex_unlock(&S.lock);
    }
    free(idx);
    free(out);
    return st;
}

/* Copies n caller entries to a stack buffer or a malloc'd one. */
static NTSTATUS capture(const void *src, ULONG_PTR n, ULONG_PTR *stackbuf, ULONG_PTR **out)
{
    *out = stackbuf;
    if (n > STACK_COPY && !(*out = malloc(n * sizeof(ULONG_PTR))))
        return STATUS_INSUFFICIENT_RESOURCES;
    if (!copy_in(*out, src, n * sizeof(ULONG_PTR))) {
        if (*out != stackbuf)
            free(*out);
        return STATUS_ACCESS_VIOLATION;
    }
    return STATUS_SUCCESS;
}

NTSTATUS wm_awe_map(void *addr, ULONG_PTR n, const ULONG_PTR *frames)
{
    ULONG_PTR stackbuf[STACK_COPY], *list = NULL;
    uint32_t idxbuf[STACK_COPY], *idx = idxbuf;
    uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
    uint64_t va = (uint64_t)(uintptr_t)addr & ~(pg - 1);
    if (n == 0 || n > UINTPTR_MAX / pg || va + n * pg < va)
        return STATUS_INVALID_PARAMETER;
    if (frames) {
        NTSTATUS st = capture(frames, n, stackbuf, &list);
        if (st)
            return st;
        if (n > STACK_COPY && !(idx = malloc(n * sizeof *idx))) {
            if (list != stackbuf)
                free(list);
            return STATUS_INSUFFICIENT_RESOURCES;
        }
    }

    NTSTATUS st = STATUS_SUCCESS;
    uint64_t i = 0;
    pthread_mutex_lock(&S.lock);
    window *w = S.nframes ? find_window(va, n * pg) : NULL;
    if (!w) {
        st = STATUS_INVALID_PARAMETER;
        goto out;
    }
    if (!list) {                        /* NULL array: unmap the range */
        for (i = 0; i < n; i++)
            clear_page(w, va + i * pg);
        if (!unmap_pages(va, n * pg))
            st = STATUS_INSUFFICIENT_RESOURCES;
        goto out;
    }
    for (i = 0; i < n; i++) {
        uint32_t k;
        if ((st = claim(list[i], &k)))
            break;
        idx[i] = k;
    }
    if (st) {                           /* undo the PENDING marks */
        while (i--)
            S.va[idx[i]] = 0;
        goto out;
    }
    if (!(w = find_window(va, n * pg))) {   /* claim may have dropped records */
        for (i = 0; i < n; i++)
            S.va[idx[i]] = 0;
        st = STATUS_INSUFFICIENT_RESOURCES;
        goto out;
    }
    for (i = 0; i < n; i++)
        clear_page(w, va + i * pg);
    for (i = 0; i < n;) {
        uint64_t run = 1;
        while (i + run < n && idx[i + run] == idx[i] + run)
            run++;
        if (!map_run(va + i * pg, idx[i], run)) {
            /* Out of kernel mappings: leave the whole range unmapped and
             * say so, rather than half of it mapped. */
            for (uint64_t j = 0; j < n; j++)
                S.va[idx[j]] = 0;
            for (uint64_t j = 0; j < n; j++)
                *slot_of(w, va + j * pg) = 0;
            unmap_pages(va, n * pg);
            st = STATUS_INSUFFICIENT_RESOURCES;
            goto out;
        }
        for (uint64_t j = i; j < i + run; j++) {
            S.va[idx[j]] = va + j * pg;
            *slot_of(w, va + j * pg) = idx[j] + 1;
        }
        i += run;
    }
out:
    pthread_mutex_unlock(&S.lock);
    if (list && list != stackbuf)
        free(list);
    if (idx != idxbuf)
        free(idx);
    return st;
}

NTSTATUS wm_awe_map_scatter(void **vas, ULONG_PTR n, const ULONG_PTR *frames)
{
    ULONG_PTR vbuf[STACK_COPY], fbuf[STACK_COPY], *va = NULL, *list = NULL;
    uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
    if (n > UINTPTR_MAX / pg)
        return STATUS_INVALID_PARAMETER;
    NTSTATUS st = capture(vas, n, vbuf, &va);
    if (st)
        return st;
    if (n == 0)
        return STATUS_SUCCESS;
    if (frames && (st = capture(frames, n, fbuf, &list))) {
        if (va != vbuf)
            free(va);
        return st;
    }
    window **w = malloc(n * sizeof *w);
    uint32_t *idx = malloc(n * sizeof *idx);
    uint64_t i = 0;
    pthread_mutex_lock(&S.lock);
    if (!w || !idx) {
        st = STATUS_INSUFFICIENT_RESOURCES;
        goto out;
    }
    for (i = 0; i < n; i++) {
        va[i] &= ~(pg - 1);
        if (!S.nframes || !(w[i] = find_window(va[i], pg))) {
            st = STATUS_INVALID_PARAMETER;
            goto out;
        }
    }
    for (i = 0; i < n && list; i++) {
        idx[i] = UINT32_MAX;
        if (list[i] && (st = claim(list[i], &idx[i])))
            break;
    }
    if (st) {
        while (i--)
            if (idx[i] != UINT32_MAX)
                S.va[idx[i]] = 0;
        goto out;
    }
    /* find_window and claim may have moved or dropped records: look the
     * windows up again (they exist: the registry said so above). */
    for (i = 0; i < n; i++)
        if (!(w[i] = find_window(va[i], pg))) {
            for (uint64_t j = 0; j < n && list; j++)
                if (list[j])
                    S.va[idx[j]] = 0;
            st = STATUS_INSUFFICIENT_RESOURCES;
            goto out;
        }
    for (i = 0; i < n; i++) {
        clear_page(w[i], va[i]);
        bool ok = (list && list[i]) ? map_run(va[i], idx[i], 1) : unmap_pages(va[i], pg);
        if (!ok) {
            st = STATUS_INSUFFICIENT_RESOURCES;   /* earlier entries stay done */
            for (uint64_t j = i; j < n; j++)
                if (list && list[j])
                    S.va[idx[j]] = 0;
            break;
        }
        if (list && list[i]) {
            S.va[idx[i]] = va[i];
            *slot_of(w[i], va[i]) = idx[i] + 1;
        }
    }
out:
    pthread_mutex_unlock(&S.lock);
    free(w);
    free(idx);
    if (va != vbuf)
        free(va);
    if (list && list != fbuf)
        free(list);
    return st;
}

NTSTATUS wm_awe_free(HANDLE process, ULONG_PTR *count, const ULONG_PTR *frames)
{
    ULONG_PTR n, zero = 0, stackbuf[STACK_COPY], *list;
    if (!count || !copy_in(&n, count, sizeof n) || !copy_out(count, &zero, sizeof zero))
        return STATUS_ACCESS_VIOLATION;
    NTSTATUS st = check_process(process);
    if (st)
        return st;
    if (n == 0 || n > UINTPTR_MAX / sizeof(ULONG_PTR))
        return STATUS_INVALID_PARAMETER;
    if ((st = capture(frames, n, stackbuf, &list)))
        return st;

    uint64_t done = 0;
    pthread_mutex_lock(&S.lock);
    if (!S.nframes)
        st = STATUS_INVALID_PARAMETER;
    for (; !st && done < n; done++) {
        ULONG_PTR f = list[done];
        if (f < FRAME_BASE || f - FRAME_BASE >= S.nframes || !S.held[f - FRAME_BASE]) {
            st = STATUS_CONFLICTING_ADDRESSES;
            break;
        }
        uint32_t idx = (uint32_t)(f - FRAME_BASE);
        check_stale(idx);               /* never unmap what is no longer ours */
        if (S.va[idx]) {                /* freed while mapped: unmap first */
            uint64_t at = S.va[idx];
            window *w = find_window(at, S.pg);
            if (w)
                clear_page(w, at);
            S.va[idx] = 0;
            unmap_pages(at, S.pg);
        }
        give_back(idx);
    }
    pthread_mutex_unlock(&S.lock);
    copy_out(count, &done, sizeof done);
    if (list != stackbuf)
        free(list);
    return st;
}

/* ---- Win32 ---- */

static BOOL result(NTSTATUS st)
{
    if (st) {
        wm_fail_status(st);
        return FALSE;
    }
    return TRUE;
}

WM_EXPORT BOOL WINMEM_API AllocateUserPhysicalPages(HANDLE hProcess, PULONG_PTR NumberOfPages,
                                                    PULONG_PTR PageArray)
{
    return result(wm_awe_allocate(hProcess, NumberOfPages, PageArray));
}

WM_EXPORT BOOL WINMEM_API AllocateUserPhysicalPagesNuma(HANDLE hProcess, PULONG_PTR NumberOfPages,
                                                        PULONG_PTR PageArray, DWORD nndPreferred)
{
    return result(wm_awe_allocate(hProcess, NumberOfPages, PageArray));
}

WM_EXPORT BOOL WINMEM_API MapUserPhysicalPages(PVOID VirtualAddress, ULONG_PTR NumberOfPages,
                                               PULONG_PTR PageArray)
{
    return result(wm_awe_map(VirtualAddress, NumberOfPages, PageArray));
}

WM_EXPORT BOOL WINMEM_API MapUserPhysicalPagesScatter(PVOID *VirtualAddresses, ULONG_PTR NumberOfPages,
                                                      PULONG_PTR PageArray)
{
    return result(wm_awe_map_scatter(VirtualAddresses, NumberOfPages, PageArray));
}

WM_EXPORT BOOL WINMEM_API FreeUserPhysicalPages(HANDLE hProcess, PULONG_PTR NumberOfPages,
                                                PULONG_PTR PageArray)
{
    return result(wm_awe_free(hProcess, NumberOfPages, PageArray));
}
