/*
 * core/guest_paging.c — guest virtual → physical translation by walking a
 * vCPU's page tables in the dump: x86-64 4-level (1 GiB and 2 MiB pages),
 * PAE (2 MiB pages), 32-bit (4 MiB pages when CR4.PSE), or no paging.
 * 5-level paging (CR4.LA57) is refused rather than walked wrongly.
 * Accessed/dirty bits and permissions are ignored: the question is only
 * where the bytes are.
 */
#include <string.h>
#include "dump.h"

#define PTE_P    1ULL
#define PTE_PS   0x80ULL
#define ADDR_M   0x000ffffffffff000ULL   /* bits 12..51 */

static HRESULT rd(struct wm_dump *d, uint64_t gpa, void *v, size_t n)
{
    size_t got = 0;
    HRESULT hr = wm_dump_read_gpa(d, gpa, v, n, &got);
    return SUCCEEDED(hr) && got == n ? S_OK : VM_SAVED_STATE_DUMP_E_GUEST_MEMORY_NOT_FOUND;
}

static uint64_t rd64_ok(struct wm_dump *d, uint64_t gpa, HRESULT *hr)
{
    uint64_t v = 0;
    *hr = rd(d, gpa, &v, 8);
    return v;
}

/* A not-present entry covering `size` bytes: how much of it lies from va on. */
static HRESULT unmapped_in(uint64_t va, uint64_t size, uint64_t *unmapped)
{
    *unmapped = size - (va & (size - 1));
    return VM_SAVED_STATE_DUMP_E_VA_NOT_MAPPED;
}

/* One level of a 64-bit-entry page table: which VA bits index it, and
 * whether an entry with PS set maps a large page there. */
struct level { uint8_t shift; uint16_t index_mask; bool large_ok; };

static const struct level long_mode[] = { {39, 0x1ff, false}, {30, 0x1ff, true},
                                          {21, 0x1ff, true}, {12, 0x1ff, false} };
static const struct level pae_mode[] = { {30, 3, false}, {21, 0x1ff, true}, {12, 0x1ff, false} };

/* Walks n levels from the table at `table`; a not-present entry reports how
 * much of its span lies from va on. */
static HRESULT walk64(struct wm_dump *d, uint64_t table, const struct level *lv, int n,
                      uint64_t va, uint64_t *pa, uint64_t *unmapped)
{
    for (int i = 0; i < n; i++) {
        HRESULT hr;
        uint64_t span = 1ULL << lv[i].shift;
        uint64_t e = rd64_ok(d, table + ((va >> lv[i].shift) & lv[i].index_mask) * 8, &hr);
        if (FAILED(hr))
            return hr;
        if (!(e & PTE_P))
            return unmapped_in(va, span, unmapped);
        if (i == n - 1 || (lv[i].large_ok && (e & PTE_PS))) {
            *pa = (e & ADDR_M & ~(span - 1)) | (va & (span - 1));
            return S_OK;
        }
        table = e & ADDR_M;
    }
    return VM_SAVED_STATE_DUMP_E_VA_NOT_MAPPED;   /* n == 0: not reached */
}

static HRESULT walk_long(struct wm_dump *d, uint64_t cr3, uint64_t va, uint64_t *pa, uint64_t *unmapped)
{
    if ((uint64_t)((int64_t)(va << 16) >> 16) != va) {       /* non-canonical */
        *unmapped = 0xffff800000000000ULL - va;
        return VM_SAVED_STATE_DUMP_E_VA_NOT_MAPPED;
    }
    return walk64(d, cr3 & ADDR_M, long_mode, 4, va, pa, unmapped);
}

static HRESULT walk_pae(struct wm_dump *d, uint64_t cr3, uint64_t va, uint64_t *pa, uint64_t *unmapped)
{
    return walk64(d, cr3 & 0xffffffe0ULL, pae_mode, 3, va, pa, unmapped);
}

static HRESULT walk_32(struct wm_dump *d, uint64_t cr3, bool pse, uint64_t va, uint64_t *pa, uint64_t *unmapped)
{
    uint32_t e = 0;
    HRESULT hr = rd(d, (cr3 & 0xfffff000ULL) + ((va >> 22) & 0x3ff) * 4, &e, 4);
    if (FAILED(hr))
        return hr;
    if (!(e & PTE_P))
        return unmapped_in(va, 1ULL << 22, unmapped);
    if ((e & PTE_PS) && pse) {      /* PSE-36: PA bits 32..39 sit in PDE bits 13..20 */
        *pa = (e & 0xffc00000ULL) | ((uint64_t)((e >> 13) & 0xff) << 32) | (va & 0x3fffff);
        return S_OK;
    }
    hr = rd(d, (e & 0xfffff000ULL) + ((va >> 12) & 0x3ff) * 4, &e, 4);
    if (FAILED(hr))
        return hr;
    if (!(e & PTE_P))
        return unmapped_in(va, 1ULL << 12, unmapped);
    *pa = (e & 0xfffff000ULL) | (va & 0xfff);
    return S_OK;
}

HRESULT wm_guest_va_to_pa(struct wm_dump *d, uint32_t vp, uint64_t va, uint64_t *pa, uint64_t *unmapped)
{
    const struct wm_vp *v = &d->vps[vp];
    PAGING_MODE mode = __atomic_load_n(&v->forced_paging, __ATOMIC_RELAXED);
    HRESULT hr = S_OK;
    *unmapped = 0;
    if (mode == Paging_Invalid && FAILED(hr = wm_vp_paging(d, vp, &mode)))
        return hr;
    if (mode == Paging_NonPaged) {
        *pa = va;
        return S_OK;
    }
    if (!v->have[X64_RegisterCr3] || !v->have[X64_RegisterCr4])
        return VM_SAVED_STATE_DUMP_E_INVALID_VP_STATE;
    uint64_t cr3 = v->reg[X64_RegisterCr3].Reg64, cr4 = v->reg[X64_RegisterCr4].Reg64;
    if (cr4 & (1ULL << 12))
        return WM_HR_NOT_SUPPORTED;                 /* LA57 */
    switch (mode) {
    case Paging_Long:
        return walk_long(d, cr3, va, pa, unmapped);
    case Paging_Pae:
    case Paging_32Bit:
        if (va >> 32)
            return VM_SAVED_STATE_DUMP_E_VA_NOT_MAPPED;     /* outside a 32-bit space */
        return mode == Paging_Pae ? walk_pae(d, cr3, va, pa, unmapped)
                                  : walk_32(d, cr3, (cr4 >> 4) & 1, va, pa, unmapped);
    default:
        return WM_HR_NOT_SUPPORTED;
    }
}
