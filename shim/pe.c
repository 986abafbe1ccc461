/*
 * shim/pe.c — the Windows side of a Wine call's stack: PE images Wine has
 * mapped, and an unwinder for their .pdata tables.
 *
 * Why our own unwinder: libunwind cannot step ms_abi frames, and calling
 * ntdll.dll's RtlVirtualUnwind from the unix side would run PE code that
 * faults on a bad stack. Here every read is bounds-checked first (stack
 * reads against the TEB's stack limits, table reads against the image), so
 * a corrupt or unusual stack ends the walk instead of faulting — a fault
 * inside a syscall would make Wine abort the program's call.
 *
 * Where the caller's context is (Wine 8.0 x86_64, wine8-hook.md): the TEB
 * is at %gs:0x30, Wine's syscall frame pointer at TEB+0x328: rbx +0x08,
 * rsi +0x20, rdi +0x28, r12..r15 +0x50..+0x68, rip +0x70, rsp +0x88, rbp +0x98.
 *
 * Images are learned from Wine itself: the real NtQueryVirtualMemory (class
 * 0 for MEM_IMAGE regions, class 2 for the file name), at the first stack
 * and after each NtMapViewOfSection; an unknown pc triggers one query.
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
    if (__atomic_exchange_n(&scanned, 1, __ATOMIC_ACQ_REL))
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

void wm_pe_forget_emitted(void)
{
    pthread_mutex_init(&lock, NULL);   /* fork child: a holder thread is gone */
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < ntab[t]; i++)
            tabs[t][i].emitted = 0;
}

/* ---- the unwinder ---- */

struct ctx {
    uint64_t rip, rsp;
    uint64_t reg[16];           /* rax rcx rdx rbx rsp rbp rsi rdi r8..r15 (Windows numbering) */
    uint64_t lo, hi;            /* the thread's stack: [StackLimit, StackBase) */
};

static bool stk(const struct ctx *c, uint64_t a, uint64_t *v)
{
    if (a < c->lo || a + 8 > c->hi || (a & 7))
        return false;
    *v = *(const uint64_t *)a;
    return true;
}

/* The RUNTIME_FUNCTION (.pdata entry: begin, end, unwind info RVAs) that
 * covers rva, or NULL (a leaf function, or code without unwind data). */
static const uint32_t *runtime_function(const struct pe_mod *m, uint64_t rva)
{
    const uint32_t *tab = (const uint32_t *)(m->start + m->pdata);
    uint32_t lo = 0, hi = m->npdata;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (rva < tab[mid * 3]) hi = mid;
        else if (rva >= tab[mid * 3 + 1]) lo = mid + 1;
        else return &tab[mid * 3];
    }
    return NULL;
}

enum undo { UNDO_ON, UNDO_STOP, UNDO_FRAME_DONE };

/* Undoes one UNWIND_INFO's prolog codes on c (the x64 unwind format:
 * push, alloc, set-frame, save-register, machine-frame codes); ops not yet
 * executed at offset off into the function are skipped, unless this is a
 * chained entry (its prolog ran entirely). UNDO_FRAME_DONE: a machine frame
 * gave rip and rsp outright. */
static enum undo undo_prolog(struct ctx *c, const uint16_t *code, unsigned count, uint64_t frame, uint8_t freg,
                             uint8_t foff, uint64_t off, bool chained)
{
    for (unsigned i = 0; i < count;) {
        uint8_t at = code[i] & 0xff, op = (code[i] >> 8) & 15, info = code[i] >> 12;
        int slots = op == 1 ? (info ? 3 : 2) : (op == 4 || op == 8) ? 2 : (op == 5 || op == 9) ? 3 : 1;
        bool done = chained || off >= at;       /* prolog op already executed? */
        uint64_t v;
        if (done) switch (op) {
        case 0: if (!stk(c, c->rsp, &v)) return UNDO_STOP; c->reg[info] = v; c->rsp += 8; break;
        case 1: c->rsp += info ? *(const uint32_t *)&code[i + 1] : code[i + 1] * 8ULL; break;
        case 2: c->rsp += info * 8ULL + 8; break;
        case 3: c->rsp = c->reg[freg] - foff * 16ULL; break;
        case 4: if (!stk(c, frame + code[i + 1] * 8ULL, &v)) return UNDO_STOP; c->reg[info] = v; break;
        case 5: if (!stk(c, frame + *(const uint32_t *)&code[i + 1], &v)) return UNDO_STOP; c->reg[info] = v; break;
        case 10: {              /* machine frame: an interrupt/exception entry */
            uint64_t b = c->rsp + (info ? 8 : 0), r, s;
            if (!stk(c, b, &r) || !stk(c, b + 24, &s)) return UNDO_STOP;
            c->rip = r, c->rsp = s;
            return UNDO_FRAME_DONE;
        }
        default: break;         /* xmm saves, epilog markers: nothing we track */
        }
        i += (unsigned)slots;
    }
    return UNDO_ON;
}

/* One PE frame. Returns false when the walk must stop. */
static bool step(struct ctx *c, const struct pe_mod *m)
{
    uint64_t rva = c->rip - m->start, size = m->end - m->start;
    const uint32_t *rf = runtime_function(m, rva);
    uint64_t off = rf ? rva - rf[0] : 0;
    for (int chain = 0; rf && chain < 32; chain++) {
        uint32_t ui = rf[2];
        if (ui + 4 > size)
            return false;
        const uint8_t *u = (const uint8_t *)(m->start + ui);
        uint8_t flags = u[0] >> 3, prolog = u[1], count = u[2];
        uint8_t freg = u[3] & 15, foff = u[3] >> 4;
        if (ui + 4 + 2 * (uint64_t)count + 12 > size)
            return false;
        uint64_t frame = freg && (off >= prolog || chain) ? c->reg[freg] - foff * 16ULL : c->rsp;
        enum undo r = undo_prolog(c, (const uint16_t *)(u + 4), count, frame, freg, foff, off, chain > 0);
        if (r != UNDO_ON)
            return r == UNDO_FRAME_DONE;
        if (!(flags & 4))          /* UNW_FLAG_CHAININFO */
            break;
        rf = (const uint32_t *)(m->start + ui + 4 + 2 * (((uint64_t)count + 1) & ~1ULL));
    }
    uint64_t ret;                   /* leaf or after the prolog: return address */
    if (!stk(c, c->rsp, &ret))
        return false;
    c->rip = ret;
    c->rsp += 8;
    return true;
}

/* Does the image's own unwind data (.pdata) cover pc? */
static bool has_unwind(const struct pe_mod *m, uint64_t pc)
{
    return runtime_function(m, pc - m->start) != NULL;
}

/* A return address: inside a known image past its headers, right after a
 * call instruction (E8 rel32, or FF /2 in its 2-, 3-, 6- and 7-byte forms). */
static bool return_address(uint64_t ret)
{
    unsigned s0;
    struct pe_mod *m = lookup(ret, &s0);
    if (!m)
        return false;
    uint64_t start = m->start, end = m->end;
    if (__atomic_load_n(&seq, __ATOMIC_ACQUIRE) != s0 || ret < start + 0x1000 + 8 || ret >= end)
        return false;
    const uint8_t *p = (const uint8_t *)ret;
    return p[-5] == 0xe8 || (p[-2] == 0xff && (p[-1] & 0x38) == 0x10) || (p[-3] == 0xff && (p[-2] & 0x38) == 0x10) ||
           (p[-6] == 0xff && (p[-5] & 0x38) == 0x10) || (p[-7] == 0xff && (p[-6] & 0x38) == 0x10);
}

/* A frame without unwind data that is not the innermost one (it made a
 * call, so it is no leaf and [rsp] is not its return address): go on only
 * by a frame-pointer chain that checks out. */
static bool frame_chain(struct ctx *c)
{
    uint64_t rbp = c->reg[5], up, ret;
    if (rbp < c->rsp || !stk(c, rbp, &up) || !stk(c, rbp + 8, &ret) || (up && up <= rbp) || !return_address(ret))
        return false;
    c->rsp = rbp + 16, c->rip = ret, c->reg[5] = up;
    return true;
}

int wm_pe_unwind(uint64_t *pcs, int max)
{
    uint64_t teb = wm_teb(), frame;
    if (!teb)
        return 0;
    frame = *(const uint64_t *)(teb + WM_TEB_WINE_FRAME);
    if (!frame || (frame & 7))
        return 0;
    if (!__atomic_load_n(&scanned, __ATOMIC_ACQUIRE))
        wm_pe_scan();
    const uint64_t *f = (const uint64_t *)frame;
    struct ctx c = { .rip = f[WM_FRAME_RIP / 8], .rsp = f[WM_FRAME_RSP / 8] };
    c.reg[3] = f[WM_FRAME_RBX / 8];
    c.reg[5] = f[WM_FRAME_RBP / 8];
    c.reg[6] = f[WM_FRAME_RSI / 8];
    c.reg[7] = f[WM_FRAME_RDI / 8];
    for (int r = 12; r <= 15; r++)
        c.reg[r] = f[(WM_FRAME_R12 + (r - 12) * 8) / 8];
    c.hi = *(const uint64_t *)(teb + WM_TEB_STACK_BASE);
    c.lo = *(const uint64_t *)(teb + WM_TEB_STACK_LIMIT);
    int n = 0;
    for (int hops = 0; n < max && c.rip && hops < 256; hops++) {
        if (wm_in_shim(c.rip)) {
            /* The shim's own ms_abi code between PE frames (shim/awe_wine.c
             * redirects kernelbase's imports through it). It is built with
             * frame pointers: step by rbp, and leave it out of the stack. */
            uint64_t rbp = c.reg[5], up, ret;
            if (rbp < c.rsp || !stk(&c, rbp, &up) || !stk(&c, rbp + 8, &ret))
                break;
            c.rsp = rbp + 16, c.rip = ret, c.reg[5] = up;
            continue;
        }
        pcs[n++] = c.rip;
        unsigned s0;
        struct pe_mod *m = lookup(c.rip, &s0);
        if (!m && __atomic_fetch_add(&misses, 1, __ATOMIC_RELAXED) < 4096) {
            wm_pe_note_image(c.rip);           /* an image mapped by the unix side */
            m = lookup(c.rip, &s0);
        }
        if (!m)
            break;                              /* not PE code (winelib ELF, JIT): stop */
        struct pe_mod copy = *m;                /* the table may flip under us */
        if (__atomic_load_n(&seq, __ATOMIC_ACQUIRE) != s0)
            break;
        uint64_t old_sp = c.rsp;
        c.reg[4] = c.rsp;
        /* Only the innermost frame may be a leaf without unwind data (the
         * syscall stub); past it the walk ends at the last frame the image's
         * data or a checked frame chain vouches for, never at a guess. */
        if (n > 1 && !has_unwind(&copy, c.rip)) {
            if (!frame_chain(&c))
                break;
            continue;
        }
        if (!step(&c, &copy) || c.rsp <= old_sp)
            break;
    }
    return n;
}
