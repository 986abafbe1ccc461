/*
 * shim/pe_unwind.c — the Windows side of a Wine call's stack: an unwinder
 * for the PE images' .pdata tables (the images: shim/pe.c).
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
 * Speed: a recorded call's 8-16 frames cost two binary searches and a
 * decode of the unwind codes each; a per-thread cache keyed by return
 * address keeps all three (a program calls the API from few sites). On
 * the 16-frame bench this took the Windows stack from +420 to +260 ns.
 */
#include <string.h>
#include "shim.h"
#include "wine_abi.h"

/* A frame's unwinding at one return address, decoded once: the prolog
 * ops already executed at that offset, in the order undo_prolog applies
 * them (only for a single UNWIND_INFO without chaining or machine frame). */
enum { R_POP, R_ADD, R_SETFP, R_LOAD };
#define RECIPE_OPS 10
struct recipe {
    uint8_t n;                  /* ops; 0xff: not decoded, use step() */
    uint8_t freg, foff;         /* frame register and its offset (x16) */
    bool fp_frame;              /* saves are relative to the frame register, not rsp */
    struct { uint8_t kind, reg; uint32_t v; } op[RECIPE_OPS];
};

/* Per thread, what the return addresses its last walks met need: the
 * image, the RUNTIME_FUNCTION and the decoded unwinding. A program calls
 * the API from a few sites, so most frames are found here instead of by
 * two binary searches (modules, then .pdata) and a decode of the unwind
 * codes. Valid while the module table's seq is the one the entries were
 * made under. 32 sets of 2 (a new entry goes first, the older one second:
 * two hot return addresses that hash alike do not evict each other), 128
 * bytes each: 8 KiB of static TLS. */
#define FCACHE_BITS 5
#define FCACHE (1 << FCACHE_BITS)
struct fc_entry { uint64_t rip; const uint32_t *rf; struct wm_pe_span sp; struct recipe rc; };
static WM_TLS struct fc_entry fcache[FCACHE][2];
static WM_TLS unsigned fcache_seq;

static struct fc_entry *fc_set(uint64_t rip) { return fcache[(rip * 0x9e3779b97f4a7c15ULL) >> (64 - FCACHE_BITS)]; }

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
static const uint32_t *runtime_function(const struct wm_pe_span *m, uint64_t rva)
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

/* How many 16-bit slots an unwind code takes (its op and op info). */
static int op_slots(uint8_t op, uint8_t info)
{
    return op == 1 ? (info ? 3 : 2) : (op == 4 || op == 8) ? 2 : (op == 5 || op == 9) ? 3 : 1;
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
        int slots = op_slots(op, info);
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

/* One PE frame; rf: the RUNTIME_FUNCTION covering c->rip (NULL: a leaf).
 * Returns false when the walk must stop. */
static bool step(struct ctx *c, const struct wm_pe_span *m, const uint32_t *rf)
{
    uint64_t rva = c->rip - m->start, size = m->end - m->start;
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

/* A return address: inside a known image past its headers, right after a
 * call instruction (E8 rel32, or FF /2 in its 2-, 3-, 6- and 7-byte forms). */
static bool return_address(uint64_t ret)
{
    struct wm_pe_span sp;
    unsigned s0;
    if (!wm_pe_span_of(ret, false, &sp, &s0) || ret < sp.start + 0x1000 + 8 || ret >= sp.end)
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

/* Decodes rf's unwinding at rip into r, as step() would apply it; r->n is
 * 0xff when it cannot be (chained entries, a machine frame, too many ops,
 * data outside the image). */
static void recipe_make(struct recipe *r, const struct wm_pe_span *m, const uint32_t *rf, uint64_t rip)
{
    r->n = 0xff;
    uint64_t size = m->end - m->start, off = rf ? rip - m->start - rf[0] : 0;
    if (!rf) {
        r->n = 0, r->fp_frame = false;          /* a leaf: [rsp] is the return address */
        return;
    }
    uint32_t ui = rf[2];
    if (ui + 4 > size)
        return;
    const uint8_t *u = (const uint8_t *)(m->start + ui);
    uint8_t flags = u[0] >> 3, prolog = u[1], count = u[2];
    if ((flags & 4) || ui + 4 + 2 * (uint64_t)count + 12 > size)
        return;
    const uint16_t *code = (const uint16_t *)(u + 4);
    struct recipe t = { .freg = u[3] & 15, .foff = u[3] >> 4 };
    t.fp_frame = t.freg && off >= prolog;
    for (unsigned i = 0; i < count;) {
        uint8_t at = code[i] & 0xff, op = (code[i] >> 8) & 15, info = code[i] >> 12;
        int slots = op_slots(op, info);
        if (off >= at && op <= 5) {
            if (t.n == RECIPE_OPS)
                return;
            uint8_t k = op == 0 ? R_POP : op <= 2 ? R_ADD : op == 3 ? R_SETFP : R_LOAD;
            uint32_t v = op == 1 ? (info ? *(const uint32_t *)&code[i + 1] : code[i + 1] * 8u)
                       : op == 2 ? info * 8u + 8 : op == 4 ? code[i + 1] * 8u
                       : op == 5 ? *(const uint32_t *)&code[i + 1] : 0;
            t.op[t.n].kind = k, t.op[t.n].reg = info, t.op[t.n].v = v;
            t.n++;
        } else if (off >= at && op == 10) {
            return;                             /* machine frame: step() */
        }
        i += (unsigned)slots;
    }
    *r = t;
}

/* step() by a decoded recipe. */
static bool recipe_step(struct ctx *c, const struct recipe *r)
{
    uint64_t frame = r->fp_frame ? c->reg[r->freg] - r->foff * 16ULL : c->rsp, v;
    for (unsigned i = 0; i < r->n; i++) {
        switch (r->op[i].kind) {
        case R_POP: if (!stk(c, c->rsp, &v)) return false; c->reg[r->op[i].reg] = v; c->rsp += 8; break;
        case R_ADD: c->rsp += r->op[i].v; break;
        case R_SETFP: c->rsp = c->reg[r->freg] - r->foff * 16ULL; break;
        default: if (!stk(c, frame + r->op[i].v, &v)) return false; c->reg[r->op[i].reg] = v; break;
        }
    }
    uint64_t ret;
    if (!stk(c, c->rsp, &ret))
        return false;
    c->rip = ret;
    c->rsp += 8;
    return true;
}

/* The image, RUNTIME_FUNCTION (NULL: none) and decoded unwinding of a
 * frame at rip; NULL when rip is in no known PE image. */
static const struct fc_entry *frame_image(uint64_t rip, struct fc_entry *tmp)
{
    unsigned s0 = wm_pe_seq();
    struct fc_entry *e = fc_set(rip);
    if (fcache_seq == s0 && (e[0].rip == rip || e[1].rip == rip))
        return e[0].rip == rip ? &e[0] : &e[1];
    if (!wm_pe_span_of(rip, true, &tmp->sp, &s0))
        return NULL;
    tmp->rip = rip;
    tmp->rf = runtime_function(&tmp->sp, rip - tmp->sp.start);
    recipe_make(&tmp->rc, &tmp->sp, tmp->rf, rip);
    if (fcache_seq != s0) {
        memset(fcache, 0, sizeof fcache);
        fcache_seq = s0;
    }
    e[1] = e[0];
    e[0] = *tmp;
    return &e[0];
}

int wm_pe_unwind(uint64_t *pcs, int max)
{
    uint64_t teb = wm_teb(), frame;
    if (!teb)
        return 0;
    frame = *(const uint64_t *)(teb + WM_TEB_WINE_FRAME);
    if (!frame || (frame & 7))
        return 0;
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
        struct fc_entry tmp;
        const struct fc_entry *fe = frame_image(c.rip, &tmp);
        if (!fe)
            break;                              /* not PE code (winelib ELF, JIT): stop */
        uint64_t old_sp = c.rsp;
        c.reg[4] = c.rsp;
        /* Only the innermost frame may be a leaf without unwind data (the
         * syscall stub); past it the walk ends at the last frame the image's
         * data or a checked frame chain vouches for, never at a guess. */
        if (n > 1 && !fe->rf) {
            if (!frame_chain(&c))
                break;
            continue;
        }
        if (!(fe->rc.n != 0xff ? recipe_step(&c, &fe->rc) : step(&c, &fe->sp, fe->rf)) || c.rsp <= old_sp)
            break;
    }
    return n;
}
