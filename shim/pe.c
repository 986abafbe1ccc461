/*
 * shim/pe.c — the PE images Wine has mapped: where each lies, its .pdata
 * table (for the unwinder, shim/pe_unwind.c) and its MODULE record.
 *
 * Images are learned from Wine itself: the real NtQueryVirtualMemory (class
 * 0 for MEM_IMAGE regions, class 2 for the file name), at the first stack
 * and after each NtMapViewOfSection; an unknown pc triggers one query.
 * Readers never lock: the table is double-buffered, and a reader that saw
 * seq change while it copied an entry drops what it read.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "common/names.h"
#include "common/pe.h"
#include "shim.h"
#include "wine_abi.h"

#define MAX_PE 512

struct pe_mod {
    uint64_t start, end;
    uint32_t id;
    int emitted;
    uint32_t pdata, npdata;     /* RVA and count of RUNTIME_FUNCTIONs */
    bool elf;                   /* a builtin ELF object (winelib .so): its frames are ELF frames */
    char path[200];
};

static struct pe_mod tabs[2][MAX_PE];
static int ntab[2];
static int cur;
static unsigned seq;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int scanned;
static unsigned misses;



/* Headers of a mapped image, checked before use. */
static bool read_image(uint64_t base, uint64_t *size, uint32_t *pdata, uint32_t *npdata)
{
    struct wm_mbi m;
    if (!wm_wine_query_self(base, 0, &m, sizeof m) || m.state != WM_MEM_COMMIT || m.type != WM_MEM_IMAGE)
        return false;
    wm_pe pe;
    uint32_t rva, sz;
    if (!wm_pe_read((const uint8_t *)base, m.size, &pe) || pe.magic != WM_PE32PLUS)   /* PE32+ only */
        return false;
    *size = pe.size_of_image;
    *pdata = *npdata = 0;
    if (wm_pe_dir(&pe, WM_PE_DIR_EXCEPTION, &rva, &sz) && rva && (uint64_t)rva + sz <= *size)
        *pdata = rva, *npdata = sz / 12;
    return true;
}

static void image_name(uint64_t base, char *out, size_t outsz)
{
    /* MEMORY_SECTION_NAME: UNICODE_STRING then the characters. */
    uint64_t buf[(16 + 1024) / 8];
    out[0] = 0;
    if (!wm_wine_query_self(base, 2, buf, sizeof buf))
        return;
    uint16_t len = (uint16_t)(buf[0] & 0xffff);
    const uint16_t *w = (const uint16_t *)(uintptr_t)buf[1];
    if ((uintptr_t)w < (uintptr_t)buf || (uintptr_t)w + len > (uintptr_t)buf + sizeof buf)
        return;
    wm_utf16_to_utf8(w, len / 2u, out, outsz);
}

static int by_start(const void *a, const void *b)
{
    const struct pe_mod *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* Pre: lock held. Adds the image at base unless known. */
static void add_locked(uint64_t base)
{
    struct pe_mod *t = tabs[cur];
    for (int i = 0; i < ntab[cur]; i++)
        if (t[i].start == base)
            return;
    if (ntab[cur] >= MAX_PE)
        return;
    struct pe_mod m = { .start = base };
    uint64_t size;
    if (!read_image(base, &size, &m.pdata, &m.npdata))
        return;
    m.end = base + size;
    /* A winelib program's "image" is a PE header inside its .so, placed
     * where the loader's alignment puts it: offsets from it move between
     * runs, offsets in the .so do not, and only the .so has the symbols. */
    m.elf = wm_elf_covers(base);
    image_name(base, m.path, sizeof m.path);
    m.id = wm_next_module_id();
    int next = !cur;
    memcpy(tabs[next], tabs[cur], sizeof(struct pe_mod) * (size_t)ntab[cur]);
    /* Drop images that no longer exist where the new one is (unmapped). */
    int n = 0;
    for (int i = 0; i < ntab[cur]; i++)
        if (tabs[next][i].end <= m.start || tabs[next][i].start >= m.end)
            tabs[next][n++] = tabs[next][i];
    tabs[next][n++] = m;
    qsort(tabs[next], (size_t)n, sizeof m, by_start);
    ntab[next] = n;
    __atomic_fetch_add(&seq, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&cur, next, __ATOMIC_RELEASE);
    __atomic_fetch_add(&seq, 1, __ATOMIC_RELEASE);
}

void wm_pe_note_image(uint64_t addr)
{
    struct wm_mbi m;
    if (!wm_wine_query_self(addr, 0, &m, sizeof m) || m.type != WM_MEM_IMAGE)
        return;
    pthread_mutex_lock(&lock);
    add_locked(m.alloc_base);
    pthread_mutex_unlock(&lock);
}

void wm_pe_scan(void)
{
    if (__atomic_load_n(&scanned, __ATOMIC_ACQUIRE) || __atomic_exchange_n(&scanned, 1, __ATOMIC_ACQ_REL))
        return;
    uint64_t a = 0x10000;
    struct wm_mbi m;
    pthread_mutex_lock(&lock);
    for (int guard = 0; guard < 100000 && a < 0x7fffffff0000ULL; guard++) {
        if (!wm_wine_query_self(a, 0, &m, sizeof m) || !m.size)
            break;
        if (m.type == WM_MEM_IMAGE && m.base == m.alloc_base)
            add_locked(m.base);
        a = m.base + m.size;
    }
    pthread_mutex_unlock(&lock);
}

static void emit_pe(struct pe_mod *m)
{
    unsigned char buf[sizeof(struct wmt_module) + 208] = {0};
    struct wmt_module *r = (struct wmt_module *)buf;
    size_t pl = strnlen(m->path, sizeof m->path - 1);
    r->kind = WMT_MOD_PE;
    r->id = m->id;
    r->base = r->start = m->start;
    r->end = m->end;
    r->path_len = (uint16_t)pl;
    memcpy(r + 1, m->path, pl);
    r->h.type = WMT_REC_MODULE;
    r->h.size = (uint16_t)((sizeof *r + pl + 7) & ~(size_t)7);
    wm_write_meta(buf, r->h.size);
}

static struct pe_mod *lookup(uint64_t addr, unsigned *s0)
{
    *s0 = __atomic_load_n(&seq, __ATOMIC_ACQUIRE);
    int t = __atomic_load_n(&cur, __ATOMIC_ACQUIRE);
    int lo = 0, hi = ntab[t] - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        struct pe_mod *m = &tabs[t][mid];
        if (addr < m->start) hi = mid - 1;
        else if (addr >= m->end) lo = mid + 1;
        else return m;
    }
    return NULL;
}

uint32_t wm_pe_module_of(uint64_t addr, uint64_t *start)
{
    unsigned s0;
    struct pe_mod *m = lookup(addr, &s0);
    if (!m || m->elf || __atomic_load_n(&seq, __ATOMIC_ACQUIRE) != s0)
        return 0;
    if (!__atomic_load_n(&m->emitted, __ATOMIC_ACQUIRE) && !__atomic_exchange_n(&m->emitted, 1, __ATOMIC_ACQ_REL))
        emit_pe(m);
    *start = m->start;
    return m->id;
}

bool wm_pe_span_of(uint64_t addr, bool learn, struct wm_pe_span *sp, unsigned *seq_out)
{
    unsigned s0;
    struct pe_mod *m = lookup(addr, &s0);
    if (!m && learn && __atomic_fetch_add(&misses, 1, __ATOMIC_RELAXED) < 4096) {
        wm_pe_note_image(addr);                 /* an image mapped by the unix side */
        m = lookup(addr, &s0);
    }
    if (!m)
        return false;
    *sp = (struct wm_pe_span){ m->start, m->end, m->pdata, m->npdata };
    *seq_out = s0;
    return __atomic_load_n(&seq, __ATOMIC_ACQUIRE) == s0;
}

unsigned wm_pe_seq(void) { return __atomic_load_n(&seq, __ATOMIC_ACQUIRE); }

void wm_pe_forget_emitted(void)
{
    pthread_mutex_init(&lock, NULL);   /* fork child: a holder thread is gone */
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < ntab[t]; i++)
            tabs[t][i].emitted = 0;
}
