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
 * the 16-frame bench this took the Windows stack from +420 to +271 ns.
 * One decoder of the unwind format, decode(), both fills the cache and,
 * for a frame whose ops do not fit, unwinds it directly.
 */
#include <string.h>
#include "shim.h"
#include "wine_abi.h"

/* A frame's unwinding, decoded from its UNWIND_INFO (and the entries
 * chained to it) into the ops to apply, in order: the prolog ops already
 * executed at that offset into the function, each chain level starting by
 * choosing the base its register saves are relative to. */
enum { R_BASE_SP, R_BASE_FP, R_POP, R_ADD, R_SETFP, R_LOAD, R_MACHINE };
struct uop { uint8_t kind, reg; uint32_t v; };
#define RECIPE_OPS 10
struct recipe {
    uint8_t n;                  /* ops; 0xff: more than fit, decode each time */
    struct uop op[RECIPE_OPS];
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

/* Applies one op to c; *frame: the current chain level's save base.
 * UNDO_FRAME_DONE: a machine frame (an interrupt/exception entry) gave rip
 * and rsp outright. */
static inline __attribute__((always_inline)) enum undo apply(struct ctx *c, const struct uop *o, uint64_t *frame)
{
    uint64_t v, r, s;
    switch (o->kind) {
    case R_BASE_SP: *frame = c->rsp; break;
    case R_BASE_FP: *frame = c->reg[o->reg] - o->v * 16ULL; break;
    case R_POP: if (!stk(c, c->rsp, &v)) return UNDO_STOP; c->reg[o->reg] = v; c->rsp += 8; break;
    case R_ADD: c->rsp += o->v; break;
    case R_SETFP: c->rsp = c->reg[o->reg] - o->v * 16ULL; break;
    case R_LOAD: if (!stk(c, *frame + o->v, &v)) return UNDO_STOP; c->reg[o->reg] = v; break;
    default:
        if (!stk(c, c->rsp + (o->reg ? 8 : 0), &r) || !stk(c, c->rsp + (o->reg ? 8 : 0) + 24, &s))
            return UNDO_STOP;
        c->rip = r, c->rsp = s;
        return UNDO_FRAME_DONE;
    }
    return UNDO_ON;
}

/* One decoded op: into r while it has room (r->n = 0xff once it has not),
 * and applied to c at once when c is given. */
static enum undo emit(struct recipe *r, struct ctx *c, struct uop o, uint64_t *frame)
{
    if (r->n < RECIPE_OPS)
        r->op[r->n++] = o;
    else
        r->n = 0xff;
    return c ? apply(c, &o, frame) : UNDO_ON;
}

/* The one decoder of the x64 unwind format (push, alloc, set-frame,
 * save-register, machine-frame codes; xmm saves and epilog markers are
 * not tracked), through emit(). An op not yet executed at rip's offset is
 * skipped, unless its entry is chained (its prolog ran entirely). rf
 * NULL: a leaf, no ops. */
static enum undo decode(const struct wm_pe_span *m, const uint32_t *rf, uint64_t rip, struct recipe *r,
                        struct ctx *c)
{
    uint64_t size = m->end - m->start, off = rf ? rip - m->start - rf[0] : 0, frame = 0;
    r->n = 0;
    for (int chain = 0; rf && chain < 32; chain++) {
        uint32_t ui = rf[2];
        if (ui + 4 > size)
            return UNDO_STOP;
        const uint8_t *u = (const uint8_t *)(m->start + ui);
        uint8_t flags = u[0] >> 3, prolog = u[1], count = u[2], freg = u[3] & 15, foff = u[3] >> 4;
        if (ui + 4 + 2 * (uint64_t)count + 12 > size)
            return UNDO_STOP;
        bool fp = freg && (off >= prolog || chain);
        enum undo d = emit(r, c, fp ? (struct uop){ R_BASE_FP, freg, foff } : (struct uop){ R_BASE_SP, 0, 0 }, &frame);
        const uint16_t *code = (const uint16_t *)(u + 4);
        for (unsigned i = 0; i < count && d == UNDO_ON;) {
            uint8_t at = code[i] & 0xff, op = (code[i] >> 8) & 15, info = code[i] >> 12;
            const uint16_t *x = &code[i + 1];
            i += (unsigned)op_slots(op, info);
            if (!(chain || off >= at) || (op > 5 && op != 10))
                continue;
            struct uop o = { R_MACHINE, info, 0 };
            switch (op) {
            case 0: o.kind = R_POP; break;
            case 1: o.kind = R_ADD, o.v = info ? *(const uint32_t *)x : *x * 8u; break;
            case 2: o.kind = R_ADD, o.v = info * 8u + 8; break;
            case 3: o.kind = R_SETFP, o.reg = freg, o.v = foff; break;
            case 4: o.kind = R_LOAD, o.v = *x * 8u; break;
            case 5: o.kind = R_LOAD, o.v = *(const uint32_t *)x; break;
            default: break;                     /* 10: the machine frame ends the frame */
            }
            d = emit(r, c, o, &frame);
            if (o.kind == R_MACHINE)
                return d;
        }
        if (d != UNDO_ON)
            return d;
        if (!(flags & 4))          /* UNW_FLAG_CHAININFO */
            break;
        rf = (const uint32_t *)(m->start + ui + 4 + 2 * (((uint64_t)count + 1) & ~1ULL));
    }
    return UNDO_ON;
}

/* The return address, once the frame's ops are undone. */
static bool pop_return(struct ctx *c)
{
    uint64_t ret;
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

/* One PE frame, by its cached ops, or decoded again when they did not
 * fit (or the data was bad: the decode then says stop). Returns false
 * when the walk must stop. */
static bool step(struct ctx *c, const struct fc_entry *fe)
{
    enum undo d = UNDO_ON;
    if (fe->rc.n != 0xff) {
        uint64_t frame = 0;
        for (unsigned i = 0; i < fe->rc.n && d == UNDO_ON; i++)
            d = apply(c, &fe->rc.op[i], &frame);
    } else {
        struct recipe scratch;
        d = decode(&fe->sp, fe->rf, fe->rip, &scratch, c);
    }
    return d == UNDO_FRAME_DONE || (d == UNDO_ON && pop_return(c));
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
    if (decode(&tmp->sp, tmp->rf, rip, &tmp->rc, NULL) != UNDO_ON)
        tmp->rc.n = 0xff;                       /* bad data: step() decodes and stops */
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
        if (!step(&c, fe) || c.rsp <= old_sp)
            break;
    }
    return n;
}
