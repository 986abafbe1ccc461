/*
 * core/dump_cpu.c — vCPU state from the notes QEMU writes into ELF and kdump
 * dumps: CORE/NT_PRSTATUS (one per vCPU, general registers only) and
 * QEMU/0 "QEMUCPUState" (one per vCPU, with control registers and the hidden
 * segment state). The QEMU note is preferred: it also has full 64-bit values
 * in EM_386 dumps. Layouts: see docs/savedstate.md and the research notes.
 */
#include <stdlib.h>
#include <string.h>
#include "dump.h"

#define NT_PRSTATUS 1
#define MAX_VPS 4096          /* far above any real guest; bounds hostile notes */

static uint64_t le64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static uint32_t le32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* Per note kind, the next vCPU index: notes come in vCPU order per kind. */
struct note_counts { uint32_t prstatus, qemu; };

static struct wm_vp *vp_at(struct wm_dump *d, uint32_t i)
{
    if (i >= MAX_VPS)
        return NULL;
    if (i >= d->nvps) {
        struct wm_vp *n = realloc(d->vps, (i + 1) * sizeof *n);
        if (!n)
            return NULL;
        memset(n + d->nvps, 0, (i + 1 - d->nvps) * sizeof *n);
        d->vps = n;
        d->nvps = i + 1;
    }
    return &d->vps[i];
}

static void set64(struct wm_vp *v, int id, uint64_t val)
{
    memset(&v->reg[id], 0, sizeof v->reg[id]);
    v->reg[id].Reg64 = val;
    v->have[id] = true;
}

static void prstatus(struct wm_vp *v, const uint8_t *desc, size_t len)
{
    if (v->have_qemu)
        return;
    if (len >= 336) {            /* x86-64: pr_reg[27] at 112 */
        static const int order[] = {
            X64_RegisterR15, X64_RegisterR14, X64_RegisterR13, X64_RegisterR12, X64_RegisterRbp,
            X64_RegisterRbx, X64_RegisterR11, X64_RegisterR10, X64_RegisterR9, X64_RegisterR8,
            X64_RegisterRax, X64_RegisterRcx, X64_RegisterRdx, X64_RegisterRsi, X64_RegisterRdi,
            -1 /* orig_rax */, X64_RegisterRip, -2 /* cs */, X64_RegisterRFlags, X64_RegisterRsp };
        for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
            uint64_t val = le64(desc + 112 + i * 8);
            if (order[i] >= 0)
                set64(v, order[i], val);
            else if (order[i] == -2)
                v->prstatus_cs = (uint16_t)val;
        }
        v->prstatus64 = true;
    } else if (len >= 144) {     /* i386: pr_reg[17] (u32) at 72 */
        static const int order[] = {
            X64_RegisterRbx, X64_RegisterRcx, X64_RegisterRdx, X64_RegisterRsi, X64_RegisterRdi,
            X64_RegisterRbp, X64_RegisterRax, -1, -1, -1, -1, -1 /* ds es fs gs orig_eax */,
            X64_RegisterRip, -2 /* cs */, X64_RegisterRFlags, X64_RegisterRsp };
        for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
            uint32_t val = le32(desc + 72 + i * 4);
            if (order[i] >= 0)
                set64(v, order[i], val);
            else if (order[i] == -2)
                v->prstatus_cs = (uint16_t)val;
        }
        v->prstatus64 = false;
    } else
        return;
    v->have_prstatus = true;
}

static void qemu_cpu(struct wm_vp *v, const uint8_t *p)
{
    static const int gpr[] = {
        X64_RegisterRax, X64_RegisterRbx, X64_RegisterRcx, X64_RegisterRdx, X64_RegisterRsi,
        X64_RegisterRdi, X64_RegisterRsp, X64_RegisterRbp, X64_RegisterR8, X64_RegisterR9,
        X64_RegisterR10, X64_RegisterR11, X64_RegisterR12, X64_RegisterR13, X64_RegisterR14,
        X64_RegisterR15, X64_RegisterRip, X64_RegisterRFlags };
    for (size_t i = 0; i < sizeof gpr / sizeof *gpr; i++)
        set64(v, gpr[i], le64(p + 8 + i * 8));
    /* QEMUCPUSegment {u32 selector, limit, flags, pad; u64 base} from 152. */
    static const int seg[] = { X64_RegisterCs, X64_RegisterDs, X64_RegisterEs, X64_RegisterFs,
                               X64_RegisterGs, X64_RegisterSs, X64_RegisterLdtr, X64_RegisterTr,
                               X64_RegisterGdtr, X64_RegisterIdtr };
    for (size_t i = 0; i < sizeof seg / sizeof *seg; i++) {
        const uint8_t *s = p + 152 + i * 24;
        VIRTUAL_PROCESSOR_REGISTER *r = &v->reg[seg[i]];
        memset(r, 0, sizeof *r);
        if (seg[i] == X64_RegisterGdtr || seg[i] == X64_RegisterIdtr) {
            r->X64.Table.Limit = (UINT16)le32(s + 4);
            r->X64.Table.Base = le64(s + 16);
        } else {
            r->X64.Segment.Selector = (UINT16)le32(s);
            r->X64.Segment.Limit = le32(s + 4);
            /* Descriptor high word (bits 8..23) → Hyper-V attribute layout. */
            r->X64.Segment.Attributes = (UINT16)((le32(s + 8) >> 8) & 0xF0FF);
            r->X64.Segment.Base = le64(s + 16);
        }
        v->have[seg[i]] = true;
    }
    v->cs_flags = le32(p + 152 + 8);
    v->ss_flags = le32(p + 152 + 5 * 24 + 8);
    set64(v, X64_RegisterCr0, le64(p + 392));
    set64(v, X64_RegisterCr2, le64(p + 392 + 16));
    set64(v, X64_RegisterCr3, le64(p + 392 + 24));
    set64(v, X64_RegisterCr4, le64(p + 392 + 32));
    v->have_qemu = true;
}

static HRESULT note(struct wm_dump *d, struct note_counts *nc, const char *name, uint32_t type,
                    const uint8_t *desc, size_t len)
{
    struct wm_vp *v;
    if (!strcmp(name, "CORE") && type == NT_PRSTATUS) {
        if (!(v = vp_at(d, nc->prstatus++)))
            return WM_HR_BAD_FORMAT;
        prstatus(v, desc, len);
    } else if (!strcmp(name, "QEMU") && type == 0 && len >= 432) {
        if (!(v = vp_at(d, nc->qemu++)))
            return WM_HR_BAD_FORMAT;
        qemu_cpu(v, desc);
    }
    return S_OK;
}

HRESULT wm_dump_notes(struct wm_dump *d, const uint8_t *buf, size_t len)
{
    struct note_counts nc = { 0, 0 };
    size_t off = 0;
    while (len - off >= 12) {
        uint32_t namesz = le32(buf + off), descsz = le32(buf + off + 4), type = le32(buf + off + 8);
        size_t nameoff = off + 12;
        size_t namepad = ((size_t)namesz + 3) & ~(size_t)3;
        size_t descpad = ((size_t)descsz + 3) & ~(size_t)3;
        if (namepad > len - nameoff || descpad > len - nameoff - namepad)
            return WM_HR_BAD_FORMAT;
        char name[16] = "";
        if (namesz && namesz <= sizeof name) {
            memcpy(name, buf + nameoff, namesz);
            name[namesz - 1] = 0;
        }
        HRESULT hr = note(d, &nc, name, type, buf + nameoff + namepad, descsz);
        if (FAILED(hr))
            return hr;
        off = nameoff + namepad + descpad;
    }
    return S_OK;
}

HRESULT wm_vp_paging(const struct wm_dump *d, uint32_t vp, PAGING_MODE *mode)
{
    const struct wm_vp *v = &d->vps[vp];
    *mode = Paging_Invalid;
    if (!v->have_qemu)
        return VM_SAVED_STATE_DUMP_E_INVALID_VP_STATE;
    uint64_t cr0 = v->reg[X64_RegisterCr0].Reg64, cr4 = v->reg[X64_RegisterCr4].Reg64;
    if (!(cr0 & (1ULL << 31)))
        *mode = Paging_NonPaged;
    else if (!(cr4 & (1ULL << 5)))
        *mode = Paging_32Bit;
    else if (cr4 & (1ULL << 12))
        return WM_HR_NOT_SUPPORTED;          /* LA57: no PAGING_MODE for 5 levels */
    else if ((v->cs_flags & (1u << 21)) || d->e_machine == 62 /* EM_X86_64: vCPU0 had EFER.LMA */)
        *mode = Paging_Long;
    else
        *mode = Paging_Pae;
    return S_OK;
}
