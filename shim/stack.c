/*
 * shim/stack.c — call stacks: capture (libunwind for ELF code, shim/pe.c
 * for Windows code), the ELF module table, and per-thread interning.
 *
 * libunwind is dlopen'ed RTLD_LOCAL: linked normally it would export
 * `backtrace` and `_Unwind_*` into the global scope and could take C++
 * exception unwinding away from libgcc_s in the host program.
 * Only unw_backtrace is used (~100 ns for 16 frames); unw_step costs µs.
 * unw_backtrace keeps a 256 KiB frame cache per thread (all of it touched
 * when made, freed when the thread ends): 1,000 threads cost 256 MB. So at
 * most UNW_THREADS live threads use it; the others take glibc's
 * backtrace() (libgcc's unwinder, ~1.4 µs, no memory per thread).
 *
 * Frames are stored as module id + offset so runs with ASLR compare. The
 * MODULE record of a module is written (in its own chunk) the first time a
 * stack names it, which also covers fork children (flags reset there).
 */
#include <dlfcn.h>
#include <elf.h>
#include <execinfo.h>
#include <link.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "shim.h"
#include "record.h"

#define MAX_MODS 1024

struct elf_mod {
    uint64_t start, end, base;
    uint32_t id;
    int emitted;
    const ElfW(Phdr) *phdr;
    int phnum;
    char path[256];
};

/* Two tables; the refresher fills the idle one and flips `cur` under a
 * sequence counter so lock-free readers can notice a flip and give up
 * (frame recorded as absolute) instead of reading a half-built table. */
static struct elf_mod mods[2][MAX_MODS];
static int nmods[2];
static int cur;
static unsigned mods_seq;
static pthread_mutex_t refresh_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t next_module_id = 1;
static uint64_t shim_start, shim_end;     /* the shim's own code: skipped in stacks */

int (*wm_unw_backtrace)(void **, int);
#define UNW_THREADS 64
static int unw_live;                      /* threads holding libunwind's cache */
static WM_TLS int unw_mine;               /* 0 undecided, 1 libunwind, -1 glibc */
static int mods_stale;

void wm_modules_stale(void) { __atomic_store_n(&mods_stale, 1, __ATOMIC_RELEASE); }
static uint32_t next_stack_id = 1;

uint32_t wm_next_module_id(void) { return __atomic_fetch_add(&next_module_id, 1, __ATOMIC_RELAXED); }

struct collect { struct elf_mod *out; int n; };

static int collect_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct collect *c = arg;
    if (c->n >= MAX_MODS)
        return 1;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *p = &info->dlpi_phdr[i];
        if (p->p_type != PT_LOAD)
            continue;
        uint64_t s = info->dlpi_addr + p->p_vaddr, e = s + p->p_memsz;
        if (s < lo) lo = s;
        if (e > hi) hi = e;
    }
    if (hi <= lo)
        return 0;
    struct elf_mod *m = &c->out[c->n++];
    memset(m, 0, sizeof *m);
    m->start = lo & ~0xfffULL;
    m->end = hi;
    m->base = info->dlpi_addr;
    m->phdr = info->dlpi_phdr;
    m->phnum = info->dlpi_phnum;
    const char *name = info->dlpi_name;
    if (!name || !*name)
        name = c->n == 1 ? wm_cfg.exe : "";
    size_t nl = strnlen(name, sizeof m->path - 1);
    memcpy(m->path, name, nl);
    m->path[nl] = 0;
    return 0;
}

static int by_start(const void *a, const void *b)
{
    const struct elf_mod *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

void wm_modules_refresh(void)
{
    pthread_mutex_lock(&refresh_lock);
    int next = !cur;
    struct collect c = { mods[next], 0 };
    dl_iterate_phdr(collect_cb, &c);
    qsort(mods[next], (size_t)c.n, sizeof mods[next][0], by_start);
    /* Keep ids (and "already written") of modules that stayed. */
    struct elf_mod *old = mods[cur];
    for (int i = 0; i < c.n; i++) {
        struct elf_mod *m = &mods[next][i];
        for (int j = 0; j < nmods[cur]; j++)
            if (old[j].start == m->start && !strcmp(old[j].path, m->path)) {
                m->id = old[j].id;
                m->emitted = old[j].emitted;
                break;
            }
        if (!m->id)
            m->id = wm_next_module_id();
    }
    nmods[next] = c.n;
    __atomic_fetch_add(&mods_seq, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&cur, next, __ATOMIC_RELEASE);
    __atomic_fetch_add(&mods_seq, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&refresh_lock);
}

static void emit_elf_module(struct elf_mod *m)
{
    unsigned char buf[sizeof(struct wmt_module) + 16 * sizeof(struct wmt_segment) + 256 + 8] = {0};
    struct wmt_module *r = (struct wmt_module *)buf;
    struct wmt_segment *seg = (struct wmt_segment *)(r + 1);
    r->kind = WMT_MOD_ELF;
    r->id = m->id;
    r->base = m->base;
    r->start = m->start;
    r->end = m->end;
    for (int i = 0; i < m->phnum; i++) {
        const ElfW(Phdr) *p = &m->phdr[i];
        if (p->p_type == PT_LOAD && r->nseg < 16) {
            seg[r->nseg].vaddr = p->p_vaddr;
            seg[r->nseg].memsz = p->p_memsz;
            seg[r->nseg].flags = p->p_flags;
            r->nseg++;
        } else if (p->p_type == PT_NOTE) {
            /* NT_GNU_BUILD_ID: the reader finds debug info by it. */
            const unsigned char *n = (const unsigned char *)(m->base + p->p_vaddr);
            const unsigned char *e = n + p->p_memsz;
            while (n + 12 <= e) {
                const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)n;
                size_t nsz = (nh->n_namesz + 3) & ~3u, dsz = (nh->n_descsz + 3) & ~3u;
                if (nh->n_type == NT_GNU_BUILD_ID && nh->n_descsz <= 32 && n + 12 + nsz + dsz <= e) {
                    r->build_id_len = (uint8_t)nh->n_descsz;
                    memcpy(r->build_id, n + 12 + nsz, nh->n_descsz);
                    break;
                }
                n += 12 + nsz + dsz;
            }
        }
    }
    size_t pl = strnlen(m->path, 255);
    r->path_len = (uint16_t)pl;
    unsigned char *path = (unsigned char *)(seg + r->nseg);
    memcpy(path, m->path, pl);
    size_t size = ((size_t)(path + pl - buf) + 7) & ~(size_t)7;
    r->h.type = WMT_REC_MODULE;
    r->h.size = (uint16_t)size;
    wm_write_meta(buf, size);
}

bool wm_in_shim(uint64_t pc) { return pc >= shim_start && pc < shim_end; }

/* The ELF module holding addr in the current table, NULL if none; *s0:
 * the table's sequence number, to check after reading the entry. */
static struct elf_mod *elf_lookup(uint64_t addr, unsigned *s0)
{
    *s0 = __atomic_load_n(&mods_seq, __ATOMIC_ACQUIRE);
    int t = __atomic_load_n(&cur, __ATOMIC_ACQUIRE);
    int lo = 0, hi = nmods[t] - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        struct elf_mod *m = &mods[t][mid];
        if (addr < m->start) hi = mid - 1;
        else if (addr >= m->end) lo = mid + 1;
        else return m;
    }
    return NULL;
}

bool wm_elf_covers(uint64_t addr)
{
    unsigned s0;
    if (elf_lookup(addr, &s0))
        return true;
    wm_modules_refresh();
    return elf_lookup(addr, &s0) != NULL;
}

uint32_t wm_module_of(uint64_t addr, uint64_t *start, bool *pe)
{
    uint32_t id = wm_pe_module_of(addr, start);
    if (id) {
        *pe = true;
        return id;
    }
    *pe = false;
    unsigned s0;
    struct elf_mod *hit = elf_lookup(addr, &s0);
    if (!hit || __atomic_load_n(&mods_seq, __ATOMIC_ACQUIRE) != s0)
        return 0;
    if (!__atomic_load_n(&hit->emitted, __ATOMIC_ACQUIRE) &&
        !__atomic_exchange_n(&hit->emitted, 1, __ATOMIC_ACQ_REL))
        emit_elf_module(hit);
    *start = hit->start;
    return hit->id;
}

/* Called in a fork child: its new file must get the MODULE records again,
 * and a refresh another thread was doing at the fork never finishes here. */
void wm_modules_forget_emitted(void)
{
    pthread_mutex_init(&refresh_lock, NULL);
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < nmods[t]; i++)
            mods[t][i].emitted = 0;
}

static int find_self(struct dl_phdr_info *info, size_t size, void *arg)
{
    uint64_t me = (uint64_t)(uintptr_t)&wm_stack_init;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *p = &info->dlpi_phdr[i];
        uint64_t s = info->dlpi_addr + p->p_vaddr;
        if (p->p_type == PT_LOAD && (p->p_flags & PF_X) && me >= s && me < s + p->p_memsz) {
            shim_start = s, shim_end = s + p->p_memsz;
            return 1;
        }
    }
    return 0;
}

void wm_stack_init(void)
{
    dl_iterate_phdr(find_self, NULL);
    wm_modules_refresh();
    if (!wm_cfg.stack_depth)
        return;
    /* libunwind makes its pipe while it loads: shim/fd.c moves it out of
     * the program's range of descriptors. */
    wm_fd_moving(true);
    void *h = dlopen("libunwind.so.8", RTLD_LAZY | RTLD_LOCAL);
    wm_fd_moving(false);
    if (h)
        wm_unw_backtrace = (int (*)(void **, int))dlsym(h, "unw_backtrace");
    if (!wm_unw_backtrace)
        wm_note("libunwind.so.8 not found: ELF stacks are not recorded", NULL, NULL);
    void *warm[2];
    backtrace(warm, 2);               /* glibc loads libgcc_s at its first use: now, not in a call */
}

int wm_stack_unwinder(void)
{
    if (!wm_unw_backtrace)
        return 0;
    if (__atomic_load_n(&mods_stale, __ATOMIC_ACQUIRE) && __atomic_exchange_n(&mods_stale, 0, __ATOMIC_ACQ_REL))
        wm_modules_refresh();
    if (!unw_mine) {
        unw_mine = __atomic_add_fetch(&unw_live, 1, __ATOMIC_RELAXED) <= UNW_THREADS ? 1 : -1;
        if (unw_mine < 0)
            __atomic_sub_fetch(&unw_live, 1, __ATOMIC_RELAXED);
    }
    return unw_mine;
}

void wm_stack_thread_gone(void)
{
    if (unw_mine > 0)
        __atomic_sub_fetch(&unw_live, 1, __ATOMIC_RELAXED);
    unw_mine = 0;
}

void wm_stack_after_fork(void) { unw_live = unw_mine > 0; }

/* ---- interning ---- */

#define SLOTS 512
struct slot_hdr { uint64_t hash; uint32_t id; uint16_t n; uint16_t flags; uint64_t pad; };

static inline size_t slot_size(void) { return sizeof(struct slot_hdr) + 8 * (size_t)wm_cfg.stack_depth; }

static uint32_t emit_stack(const uint64_t *pcs, int n, uint16_t sflags, uint32_t fflags)
{
    unsigned char buf[sizeof(struct wmt_stack) + 64 * sizeof(struct wmt_frame)];
    struct wmt_stack *s = (struct wmt_stack *)buf;
    struct wmt_frame *f = (struct wmt_frame *)(s + 1);
    s->h.type = WMT_REC_STACK;
    s->h.size = (uint16_t)(sizeof *s + (size_t)n * sizeof *f);
    s->id = __atomic_fetch_add(&next_stack_id, 1, __ATOMIC_RELAXED);
    s->nframes = (uint16_t)n;
    s->flags = sflags;
    s->reserved = 0;
    for (int i = 0; i < n; i++) {
        uint64_t start = 0;
        bool pe;
        f[i].module = wm_module_of(pcs[i], &start, &pe);
        f[i].flags = fflags;
        f[i].addr = f[i].module ? pcs[i] - start : pcs[i];
    }
    return wm_append(buf, s->h.size) ? s->id : 0;
}

/* A loop, not memcmp: a stack is a few frames, fewer than the call costs. */
static bool same_pcs(const uint64_t *a, const uint64_t *b, int n)
{
    uint64_t diff = 0;
    for (int i = 0; i < n; i++)
        diff |= a[i] ^ b[i];
    return !diff;
}

static uint32_t intern(const uint64_t *pcs, int n, uint16_t sflags, uint32_t fflags)
{
    unsigned char *tab = wm_self.stacks ? wm_self.stacks : wm_thread_stacks();
    if (!tab || n <= 0)
        return 0;
    /* Each frame's product is independent of the others (a chain of
     * multiplies, FNV's, took ~4 cycles a frame in a row, measured). */
    uint64_t h = sflags;
    for (int i = 0; i < n; i++)
        h += (pcs[i] ^ ((uint64_t)i * 0x9e3779b97f4a7c15ULL)) * 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 31;
    h |= 1;                               /* 0 marks an empty slot */
    size_t ss = slot_size();
    for (int probe = 0; probe < 8; probe++) {
        struct slot_hdr *e = (struct slot_hdr *)(tab + ((h + probe) % SLOTS) * ss);
        uint64_t *ep = (uint64_t *)(e + 1);
        if (e->hash == h && e->n == n && e->flags == sflags && same_pcs(ep, pcs, n))
            return e->id;
        if (!e->hash) {
            uint32_t id = emit_stack(pcs, n, sflags, fflags);
            if (id) {
                e->hash = h, e->n = (uint16_t)n, e->flags = sflags, e->id = id;
                memcpy(ep, pcs, 8 * (size_t)n);
            }
            return id;
        }
    }
    /* Neighbourhood full: start over (the stacks are re-emitted when used
     * again, with new ids; old ids stay valid in the file). */
    memset(tab, 0, SLOTS * ss);
    return emit_stack(pcs, n, sflags, fflags);
}

uint32_t wm_stack_capture(bool wine_ctx)
{
    int depth = wm_cfg.stack_depth;
    if (!depth || wm_self.muted)
        return 0;
    uint64_t pcs[64 + 8];
    int n = 0;
    uint16_t sflags = 0;
    if (wine_ctx) {
        n = wm_pe_unwind(pcs, depth + 1);
        sflags = WMT_SF_WINE_CTX;
        if (n > depth) n = depth, sflags |= WMT_SF_TRUNCATED;
        return intern(pcs, n, sflags, WMT_FR_PE);
    }
    return wm_stack_capture_elf();
}

uint32_t wm_stack_elf(void *const *raw, int got)
{
    int depth = wm_cfg.stack_depth, n = 0;
    uint64_t pcs[64 + 8];
    uint16_t sflags = 0;
    for (int i = 0; i < got && n < depth + 1; i++) {
        uint64_t pc = (uint64_t)(uintptr_t)raw[i];
        if (pc >= shim_start && pc < shim_end)
            continue;                     /* the shim's own frames */
        pcs[n++] = pc;
    }
    if (n > depth) n = depth, sflags |= WMT_SF_TRUNCATED;
    return intern(pcs, n, sflags, WMT_FR_ELF);
}
