/*
 * The saved-state dump API on real QEMU dumps (tools/make-dump-fixtures.sh):
 * chunks against `readelf -l`, bytes against what the script wrote into the
 * guest and against the script's own flat copy (<name>.rawcat), registers
 * against QEMU's `info registers`, VA→PA against the ROM's page tables and
 * against QEMU's paging=true dump, in every format.
 */
#include <pthread.h>
#include <unistd.h>
#include "unit.h"
#include "savedstate_fx.h"

/* Every way the fixtures hold one guest. */
static const char *const lm16_forms[] = { "lm16.elf", "lm16.kdump-zlib", "lm16.kdump", "lm16.lime",
                                          "lm16.rawcat+lm16.layout" };
static const char *const t24_forms[] = { "t24.elf", "t24.kdump-zlib", "t24.kdump", "t24.lime",
                                         "t24.rawcat+t24.layout" };
#define NFORMS 5

/* Chunks from `readelf -lW` of the paging=false ELF: PT_LOADs coalesced. */
static size_t expected_chunks(const char *elf, GPA_MEMORY_CHUNK *out, size_t max)
{
    struct fx_load l[64];
    size_t n = fx_readelf_loads(fx(elf), l, 64), nc = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t first = l[i].paddr / 4096, count = l[i].filesz / 4096;
        if (nc && out[nc - 1].GuestPhysicalStartPageIndex + out[nc - 1].PageCount == first)
            out[nc - 1].PageCount += count;
        else if (nc < max)
            out[nc++] = (GPA_MEMORY_CHUNK){ first, count };
    }
    return nc;
}

static void check_chunks(const char *const *forms, const char *elf)
{
    GPA_MEMORY_CHUNK want[16];
    size_t nwant = expected_chunks(elf, want, 16);
    CU_ASSERT_FATAL(nwant >= 2);   /* both layouts split RAM at the 4 GiB hole */
    for (int f = 0; f < NFORMS; f++) {
        VM_SAVED_STATE_DUMP_HANDLE h = fx_open(forms[f]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(h);
        UINT64 ps = 0, n = 0;
        /* Sizing call: NULL buffer → E_OUTOFMEMORY, count filled, page size untouched. */
        CU_ASSERT_EQUAL(GetGuestPhysicalMemoryChunks(h, &ps, NULL, &n), E_OUTOFMEMORY);
        CU_ASSERT_EQUAL(n, nwant);
        CU_ASSERT_EQUAL(ps, 0);
        n = ~0ULL;
        CU_ASSERT_EQUAL(GetGuestPhysicalMemoryChunks(h, &ps, NULL, &n), E_OUTOFMEMORY);
        CU_ASSERT_EQUAL(n, nwant);
        GPA_MEMORY_CHUNK got[16];
        memset(got, 0xAB, sizeof got);
        n = nwant - 1;
        CU_ASSERT_EQUAL(GetGuestPhysicalMemoryChunks(h, &ps, got, &n), E_OUTOFMEMORY);
        CU_ASSERT_EQUAL(n, nwant);
        CU_ASSERT_EQUAL(got[0].PageCount, 0xABABABABABABABABULL);   /* buffer untouched */
        n = 16;
        CU_ASSERT_EQUAL(GetGuestPhysicalMemoryChunks(h, &ps, got, &n), S_OK);
        CU_ASSERT_EQUAL(n, nwant);
        CU_ASSERT_EQUAL(ps, 4096);
        for (size_t i = 0; i < nwant && i < n; i++) {
            CU_ASSERT_EQUAL(got[i].GuestPhysicalStartPageIndex, want[i].GuestPhysicalStartPageIndex);
            CU_ASSERT_EQUAL(got[i].PageCount, want[i].PageCount);
        }
        CU_ASSERT_EQUAL(GetGuestPhysicalMemoryChunks(h, NULL, got, &n), E_POINTER);
        CU_ASSERT_EQUAL(GetGuestPhysicalMemoryChunks(h, &ps, got, NULL), E_POINTER);
        CU_ASSERT_EQUAL(ReleaseSavedStateFiles(h), S_OK);
    }
}

static void test_chunks_lm16(void)
{
    check_chunks(lm16_forms, "lm16.elf");
    /* The research notes' numbers for this layout, as a second opinion. */
    GPA_MEMORY_CHUNK c[4];
    CU_ASSERT_EQUAL(expected_chunks("lm16.elf", c, 4), 2);
    CU_ASSERT(c[0].GuestPhysicalStartPageIndex == 0 && c[0].PageCount == 2048);
    CU_ASSERT(c[1].GuestPhysicalStartPageIndex == 0xFFFF0 && c[1].PageCount == 2064);
}

static void test_chunks_t24(void)
{
    check_chunks(t24_forms, "t24.elf");
    static const char *const pae[] = { "pae16.elf", "pae16.kdump-zlib", "pae16.kdump", "pae16.lime",
                                       "pae16.rawcat+pae16.layout" };
    check_chunks(pae, "pae16.elf");
}

static void test_raw_offsets(void)
{
    struct fx_load l[16];
    size_t nl = fx_readelf_loads(fx("lm16.elf"), l, 16);
    CU_ASSERT_FATAL(nl >= 2);
    for (int f = 0; f < NFORMS; f++) {
        VM_SAVED_STATE_DUMP_HANDLE h = fx_open(lm16_forms[f]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(h);
        UINT64 size = 0, off = 0, sum = 0;
        CU_ASSERT_EQUAL(GetGuestRawSavedMemorySize(h, &size), S_OK);
        for (size_t i = 0; i < nl; i++)
            sum += l[i].filesz;
        CU_ASSERT_EQUAL(size, sum);
        /* The ELF segments are back to back: raw offset = p_offset − first p_offset. */
        for (size_t i = 0; i < nl; i++) {
            CU_ASSERT_EQUAL(GuestPhysicalAddressToRawSavedMemoryOffset(h, l[i].paddr + 0x10, &off), S_OK);
            CU_ASSERT_EQUAL(off, l[i].off - l[0].off + 0x10);
        }
        CU_ASSERT_EQUAL(GuestPhysicalAddressToRawSavedMemoryOffset(h, 0x1007ff000ULL, &off), S_OK);
        CU_ASSERT_EQUAL(off, 0x100f000);
        CU_ASSERT_EQUAL(GuestPhysicalAddressToRawSavedMemoryOffset(h, 0xa0000000ULL, &off),
                        VM_SAVED_STATE_DUMP_E_GUEST_MEMORY_NOT_FOUND);
        CU_ASSERT_EQUAL(GuestPhysicalAddressToRawSavedMemoryOffset(h, 0, NULL), E_POINTER);
        CU_ASSERT_EQUAL(GetGuestRawSavedMemorySize(h, NULL), E_POINTER);
        ReleaseSavedStateFiles(h);
    }
}

/* The whole raw saved memory of every form equals the script's flat copy. */
static void test_raw_read_all(void)
{
    const char *const *sets[] = { lm16_forms, t24_forms };
    const char *cats[] = { "lm16.rawcat", "t24.rawcat" };
    for (int s = 0; s < 2; s++) {
        size_t clen;
        uint8_t *cat = fx_slurp(fx(cats[s]), &clen), *buf = malloc(1 << 20);
        CU_ASSERT_PTR_NOT_NULL_FATAL(cat);
        for (int f = 0; f < NFORMS; f++) {
            VM_SAVED_STATE_DUMP_HANDLE h = fx_open(sets[s][f]);
            CU_ASSERT_PTR_NOT_NULL_FATAL(h);
            UINT64 size;
            GetGuestRawSavedMemorySize(h, &size);
            CU_ASSERT_EQUAL(size, clen);
            int bad = 0;
            for (UINT64 off = 0; off < size; off += 1 << 20) {
                UINT32 got = 0;
                /* 1 MiB steps are not chunk-aligned: reads cross chunks. */
                if (ReadGuestRawSavedMemory(h, off, buf, 1 << 20, &got) != S_OK ||
                    got != (size - off < (1 << 20) ? size - off : 1 << 20) || memcmp(buf, cat + off, got))
                    bad++;
            }
            CU_ASSERT_EQUAL(bad, 0);
            UINT32 got = 99;
            CU_ASSERT_EQUAL(ReadGuestRawSavedMemory(h, size, buf, 16, &got), VM_SAVED_STATE_DUMP_E_GUEST_MEMORY_NOT_FOUND);
            CU_ASSERT_EQUAL(got, 0);
            CU_ASSERT_EQUAL(ReadGuestRawSavedMemory(h, size - 16, buf, 64, &got), S_OK);
            CU_ASSERT_EQUAL(got, 16);
            CU_ASSERT_EQUAL(ReadGuestRawSavedMemory(h, 0, NULL, 16, &got), E_POINTER);
            ReleaseSavedStateFiles(h);
        }
        free(cat);
        free(buf);
    }
}

static void test_known_bytes(void)
{
    const uint64_t lm16_pat[] = { 0x1000, 0x7ff000, 0x100000000ULL, 0x1007ff000ULL };
    const uint64_t t24_pat[] = { 0x1000, 0xbff000, 0x100000000ULL, 0x100bff000ULL };
    uint8_t b[4096];
    for (int s = 0; s < 2; s++)
        for (int f = 0; f < NFORMS; f++) {
            VM_SAVED_STATE_DUMP_HANDLE h = fx_open((s ? t24_forms : lm16_forms)[f]);
            CU_ASSERT_PTR_NOT_NULL_FATAL(h);
            const uint64_t *pat = s ? t24_pat : lm16_pat;
            UINT32 got;
            for (int i = 0; i < 4; i++) {
                CU_ASSERT_EQUAL(ReadGuestPhysicalAddress(h, pat[i], b, 4096, &got), S_OK);
                CU_ASSERT_EQUAL(got, 4096);
                CU_ASSERT(fx_pattern_ok(b, pat[i], 4096));
            }
            /* The ROM's known bytes, at 0xffff0000+ and at its alias below 1 MiB. */
            uint64_t rom_off = s ? 0 : 0x1000;
            for (int alias = 0; alias < 2; alias++) {
                uint64_t a = (alias ? 0xf0000ULL : 0xffff0000ULL) + rom_off, v;
                CU_ASSERT_EQUAL(ReadGuestPhysicalAddress(h, a, b, 16, &got), S_OK);
                memcpy(&v, b + 8, 8);
                CU_ASSERT(!memcmp(b, "ROMBYTES", 8) && v == rom_off);
            }
            if (!s) {   /* written by the guest itself through VA 0xffffffffc0001000 */
                uint64_t v;
                CU_ASSERT_EQUAL(ReadGuestPhysicalAddress(h, 0x100001000ULL, b, 16, &got), S_OK);
                memcpy(&v, b + 8, 8);
                CU_ASSERT(!memcmp(b, "SLM-MARK", 8) && v == 0xffffffffc0001000ULL);
            }
            /* A hole: failure, nothing read. */
            got = 123;
            CU_ASSERT_EQUAL(ReadGuestPhysicalAddress(h, 0xa0000000ULL, b, 16, &got), VM_SAVED_STATE_DUMP_E_GUEST_MEMORY_NOT_FOUND);
            CU_ASSERT_EQUAL(got, 0);
            /* Running off the end of a chunk: short. */
            uint64_t end1 = s ? 0xc00000 : 0x800000;
            CU_ASSERT_EQUAL(ReadGuestPhysicalAddress(h, end1 - 16, b, 64, &got), S_OK);
            CU_ASSERT_EQUAL(got, 16);
            CU_ASSERT(fx_pattern_ok(b, end1 - 16, 16));
            CU_ASSERT_EQUAL(ReadGuestPhysicalAddress(h, 0x100000000ULL + end1 - 16, b, 64, &got), S_OK);
            CU_ASSERT_EQUAL(got, 16);
            CU_ASSERT_EQUAL(ReadGuestPhysicalAddress(h, 0x1000, b, 0, &got), S_OK);
            CU_ASSERT_EQUAL(got, 0);
            CU_ASSERT_EQUAL(ReadGuestPhysicalAddress(h, 0x1000, b, 16, NULL), S_OK);
            ReleaseSavedStateFiles(h);
        }
}

/* QMP pmemsave of GPA [0, below-4G) is byte-identical to the dumps there. */
static void test_pmemsave_image(void)
{
    VM_SAVED_STATE_DUMP_HANDLE raw = fx_open("lm16.raw+"), elf = fx_open("lm16.kdump-zlib");
    CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
    CU_ASSERT_PTR_NOT_NULL_FATAL(elf);
    UINT64 n = 4, ps;
    GPA_MEMORY_CHUNK c[4];
    CU_ASSERT_EQUAL(GetGuestPhysicalMemoryChunks(raw, &ps, c, &n), S_OK);
    CU_ASSERT(n == 1 && c[0].GuestPhysicalStartPageIndex == 0 && c[0].PageCount == 2048);
    static uint8_t a[1 << 16], b[1 << 16];
    int bad = 0;
    for (uint64_t gpa = 0; gpa < 0x800000; gpa += sizeof a) {
        UINT32 ga, gb;
        if (ReadGuestPhysicalAddress(raw, gpa, a, sizeof a, &ga) || ReadGuestPhysicalAddress(elf, gpa, b, sizeof b, &gb) ||
            ga != gb || memcmp(a, b, ga))
            bad++;
    }
    CU_ASSERT_EQUAL(bad, 0);
    UINT32 vps = 7;
    CU_ASSERT_EQUAL(GetVpCount(raw, &vps), S_OK);
    CU_ASSERT_EQUAL(vps, 0);
    VIRTUAL_PROCESSOR_ARCH arch;
    CU_ASSERT_EQUAL(GetArchitecture(raw, 0, &arch), E_INVALIDARG);
    ReleaseSavedStateFiles(raw);
    ReleaseSavedStateFiles(elf);
}

/* ---- 4 threads reading every chunk, as LeechCore does ---- */

struct reader { VM_SAVED_STATE_DUMP_HANDLE h; const uint8_t *cat; int id, bad; };

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    GPA_MEMORY_CHUNK c[16];
    UINT64 n = 16, ps;
    uint8_t *buf = malloc(0x11000);
    if (GetGuestPhysicalMemoryChunks(r->h, &ps, c, &n) != S_OK)
        r->bad++;
    for (int pass = 0; pass < 2; pass++) {
        uint64_t raw = 0;
        for (UINT64 i = 0; i < n; i++) {
            uint64_t base = c[i].GuestPhysicalStartPageIndex * 4096, len = c[i].PageCount * 4096;
            /* Each thread starts at a different place and uses odd-sized reads. */
            for (uint64_t o = (uint64_t)r->id * 0x3000 % len; o < len; o += 0x11000) {
                UINT32 got = 0, want = len - o < 0x11000 ? (UINT32)(len - o) : 0x11000;
                if (ReadGuestPhysicalAddress(r->h, base + o, buf, 0x11000, &got) != S_OK || got != want ||
                    memcmp(buf, r->cat + raw + o, got))
                    r->bad++;
            }
            raw += len;
        }
    }
    free(buf);
    return NULL;
}

static void test_threads(void)
{
    size_t clen;
    uint8_t *cat = fx_slurp(fx("lm16.rawcat"), &clen);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cat);
    const char *forms[] = { "lm16.elf", "lm16.kdump-zlib", "lm16.lime" };
    for (int f = 0; f < 3; f++) {
        VM_SAVED_STATE_DUMP_HANDLE h = fx_open(forms[f]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(h);
        pthread_t t[4];
        struct reader r[4];
        for (int i = 0; i < 4; i++) {
            r[i] = (struct reader){ h, cat, i, 0 };
            pthread_create(&t[i], NULL, reader_main, &r[i]);
        }
        for (int i = 0; i < 4; i++) {
            pthread_join(t[i], NULL);
            CU_ASSERT_EQUAL(r[i].bad, 0);
        }
        ReleaseSavedStateFiles(h);
    }
    free(cat);
}

/* ---- registers: QEMU's `info registers -a` is the oracle ---- */

static void check_regs(const char *dump, const char *regs, int cpu)
{
    static const struct { int id; const char *key; } gpr[] = {
        { X64_RegisterRax, "RAX" }, { X64_RegisterRcx, "RCX" }, { X64_RegisterRdx, "RDX" }, { X64_RegisterRbx, "RBX" },
        { X64_RegisterRsp, "RSP" }, { X64_RegisterRbp, "RBP" }, { X64_RegisterRsi, "RSI" }, { X64_RegisterRdi, "RDI" },
        { X64_RegisterR8, "R8" }, { X64_RegisterR9, "R9" }, { X64_RegisterR10, "R10" }, { X64_RegisterR11, "R11" },
        { X64_RegisterR12, "R12" }, { X64_RegisterR13, "R13" }, { X64_RegisterR14, "R14" }, { X64_RegisterR15, "R15" },
        { X64_RegisterRip, "RIP" }, { X64_RegisterRFlags, "RFL" }, { X64_RegisterCr0, "CR0" }, { X64_RegisterCr2, "CR2" },
        { X64_RegisterCr3, "CR3" }, { X64_RegisterCr4, "CR4" } };
    static const char *const gpr32[] = { "EAX", "ECX", "EDX", "EBX", "ESP", "EBP", "ESI", "EDI" };
    static const struct { int id; const char *key; } seg[] = {
        { X64_RegisterEs, "ES" }, { X64_RegisterCs, "CS" }, { X64_RegisterSs, "SS" }, { X64_RegisterDs, "DS" },
        { X64_RegisterFs, "FS" }, { X64_RegisterGs, "GS" }, { X64_RegisterLdtr, "LDT" }, { X64_RegisterTr, "TR" } };
    VM_SAVED_STATE_DUMP_HANDLE h = fx_open(dump);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    const char *rf = fx(regs);
    VIRTUAL_PROCESSOR_REGISTER r;
    uint64_t want;
    bool long_mode = fx_reg(rf, cpu, "RAX", 0, &want);
    int checked = 0;
    for (size_t i = 0; i < sizeof gpr / sizeof *gpr; i++) {
        const char *key = gpr[i].key;
        if (!long_mode)   /* QEMU prints the 32-bit names outside long mode */
            key = i < 8 ? gpr32[i] : gpr[i].id == X64_RegisterRip ? "EIP" : gpr[i].id == X64_RegisterRFlags ? "EFL" : key;
        if (!fx_reg(rf, cpu, key, 0, &want))
            continue;
        CU_ASSERT_EQUAL(GetRegisterValue(h, cpu, gpr[i].id, &r), S_OK);
        if (r.Reg64 != want)
            fprintf(stderr, "%s cpu%d %s: %#llx, QEMU says %#llx\n", dump, cpu, key,
                    (unsigned long long)r.Reg64, (unsigned long long)want);
        CU_ASSERT_EQUAL(r.Reg64, want);
        checked++;
    }
    for (size_t i = 0; i < sizeof seg / sizeof *seg; i++) {
        uint64_t sel, base, limit, flags;
        CU_ASSERT_FATAL(fx_reg(rf, cpu, seg[i].key, 0, &sel) && fx_reg(rf, cpu, seg[i].key, 1, &base) &&
                        fx_reg(rf, cpu, seg[i].key, 2, &limit) && fx_reg(rf, cpu, seg[i].key, 3, &flags));
        CU_ASSERT_EQUAL(GetRegisterValue(h, cpu, seg[i].id, &r), S_OK);
        CU_ASSERT_EQUAL(r.X64.Segment.Selector, sel);
        CU_ASSERT_EQUAL(r.X64.Segment.Base, base);
        CU_ASSERT_EQUAL(r.X64.Segment.Limit, limit);
        CU_ASSERT_EQUAL(r.X64.Segment.Attributes, (flags >> 8) & 0xF0FF);
        checked++;
    }
    const struct { int id; const char *key; } tab[] = { { X64_RegisterGdtr, "GDT" }, { X64_RegisterIdtr, "IDT" } };
    for (int i = 0; i < 2; i++) {
        uint64_t base, limit;
        CU_ASSERT_FATAL(fx_reg(rf, cpu, tab[i].key, 0, &base) && fx_reg(rf, cpu, tab[i].key, 1, &limit));
        CU_ASSERT_EQUAL(GetRegisterValue(h, cpu, tab[i].id, &r), S_OK);
        CU_ASSERT_EQUAL(r.X64.Table.Base, base);
        CU_ASSERT_EQUAL(r.X64.Table.Limit, limit);
        checked++;
    }
    CU_ASSERT(checked >= (long_mode ? 32 : 24));
    /* In QEMU's output but not in the dump: a failure, never a value. */
    const int absent[] = { X64_RegisterEfer, X64_RegisterCr8, X64_RegisterDr0, X64_RegisterDr7, X64_RegisterXmm0,
                           X64_RegisterFpMmx0, X64_RegisterFpControlStatus, X64_RegisterXmmControlStatus };
    for (size_t i = 0; i < sizeof absent / sizeof *absent; i++)
        CU_ASSERT_EQUAL(GetRegisterValue(h, cpu, absent[i], &r), HRESULT_FROM_WIN32(ERROR_NOT_SUPPORTED));
    CU_ASSERT_EQUAL(GetRegisterValue(h, cpu, X64_RegisterMax, &r), E_INVALIDARG);
    CU_ASSERT_EQUAL(GetRegisterValue(h, cpu, X64_RegisterRax, NULL), E_POINTER);
    UINT32 vps;
    GetVpCount(h, &vps);
    CU_ASSERT_EQUAL(GetRegisterValue(h, vps, X64_RegisterRax, &r), E_INVALIDARG);
    ReleaseSavedStateFiles(h);
}

static void test_registers(void)
{
    const char *lm16[] = { "lm16.elf", "lm16.kdump-zlib", "lm16.kdump", "lm16-paging.elf" };
    for (int f = 0; f < 4; f++) {
        check_regs(lm16[f], "lm16.regs", 0);
        check_regs(lm16[f], "lm16.regs", 1);
    }
    check_regs("t24.elf", "t24.regs", 0);
    check_regs("t24.kdump-zlib", "t24.regs", 0);
}

static void test_vps_modes(void)
{
    const char *forms[] = { "lm16.elf", "lm16.kdump-zlib" };
    for (int f = 0; f < 2; f++) {
        VM_SAVED_STATE_DUMP_HANDLE h = fx_open(forms[f]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(h);
        UINT32 vps = 0;
        CU_ASSERT_EQUAL(GetVpCount(h, &vps), S_OK);
        CU_ASSERT_EQUAL(vps, 2);
        CU_ASSERT_EQUAL(GetVpCount(h, NULL), E_POINTER);
        VIRTUAL_PROCESSOR_ARCH a;
        PAGING_MODE m;
        BOOL k = FALSE;
        CU_ASSERT_EQUAL(GetArchitecture(h, 0, &a), S_OK);
        CU_ASSERT_EQUAL(a, Arch_x64);
        CU_ASSERT_EQUAL(GetArchitecture(h, 1, &a), S_OK);
        CU_ASSERT_EQUAL(a, Arch_x86);
        CU_ASSERT_EQUAL(GetPagingMode(h, 0, &m), S_OK);
        CU_ASSERT_EQUAL(m, Paging_Long);
        CU_ASSERT_EQUAL(GetPagingMode(h, 1, &m), S_OK);
        CU_ASSERT_EQUAL(m, Paging_NonPaged);
        CU_ASSERT_EQUAL(InKernelSpace(h, 0, &k), S_OK);
        CU_ASSERT_EQUAL(k, TRUE);
        CU_ASSERT_EQUAL(InKernelSpace(h, 0, NULL), E_POINTER);
        CU_ASSERT_EQUAL(GetArchitecture(h, 2, &a), E_INVALIDARG);
        CU_ASSERT_EQUAL(GetPagingMode(h, 2, &m), E_INVALIDARG);
        CU_ASSERT_EQUAL(InKernelSpace(h, 2, &k), E_INVALIDARG);
        CU_ASSERT_EQUAL(GetArchitecture(h, 0, NULL), E_POINTER);
        CU_ASSERT_EQUAL(GetPagingMode(h, 0, NULL), E_POINTER);
        /* Overrides */
        CU_ASSERT_EQUAL(ForceArchitecture(h, 0, Arch_x86), S_OK);
        CU_ASSERT_EQUAL(GetArchitecture(h, 0, &a), S_OK);
        CU_ASSERT_EQUAL(a, Arch_x86);
        CU_ASSERT_EQUAL(ForceArchitecture(h, 0, Arch_Armv8), E_INVALIDARG);
        CU_ASSERT_EQUAL(ForceArchitecture(h, 0, (VIRTUAL_PROCESSOR_ARCH)77), E_INVALIDARG);
        CU_ASSERT_EQUAL(ForceArchitecture(h, 5, Arch_x64), E_INVALIDARG);
        CU_ASSERT_EQUAL(ForcePagingMode(h, 0, Paging_Invalid), E_INVALIDARG);
        CU_ASSERT_EQUAL(ForcePagingMode(h, 0, Paging_Armv8), E_INVALIDARG);
        CU_ASSERT_EQUAL(ForcePagingMode(h, 5, Paging_Long), E_INVALIDARG);
        CU_ASSERT_EQUAL(ForcePagingMode(h, 0, Paging_NonPaged), S_OK);
        CU_ASSERT_EQUAL(GetPagingMode(h, 0, &m), S_OK);
        CU_ASSERT_EQUAL(m, Paging_NonPaged);
        UINT64 pa = 0;
        CU_ASSERT_EQUAL(GuestVirtualAddressToPhysicalAddress(h, 0, 0x3008, &pa, NULL), S_OK);
        CU_ASSERT_EQUAL(pa, 0x3008);   /* no paging: identity */
        /* The ROM's tables read as 32-bit paging: PDE 0 of CR3 0x10000 is PDPT_LO|P|RW → 4 KiB tables. */
        CU_ASSERT_EQUAL(ForcePagingMode(h, 0, Paging_32Bit), S_OK);
        CU_ASSERT_EQUAL(GuestVirtualAddressToPhysicalAddress(h, 0, 0x100000000ULL, &pa, NULL), VM_SAVED_STATE_DUMP_E_VA_NOT_MAPPED);
        ReleaseSavedStateFiles(h);
    }
}

static void test_cache_limit(void)
{
    VM_SAVED_STATE_DUMP_HANDLE h = fx_open("lm16.kdump-zlib");
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    UINT64 v = 99;
    CU_ASSERT_EQUAL(GetMemoryBlockCacheLimit(h, &v), S_OK);
    CU_ASSERT_EQUAL(v, 0);
    CU_ASSERT_EQUAL(SetMemoryBlockCacheLimit(h, 1 << 20), S_OK);
    CU_ASSERT_EQUAL(GetMemoryBlockCacheLimit(h, &v), S_OK);
    CU_ASSERT_EQUAL(v, 1 << 20);
    CU_ASSERT_EQUAL(GetMemoryBlockCacheLimit(h, NULL), E_POINTER);
    ReleaseSavedStateFiles(h);
}

/* ---- VA → PA ---- */

static void test_va_to_pa(void)
{
    static const struct { uint64_t va, pa, unmapped; HRESULT hr; } cases[] = {
        { 0x3008, 0x1008, 0, S_OK },                                   /* 4 KiB remap */
        { 0x5000, 0, 0x1000, VM_SAVED_STATE_DUMP_E_VA_NOT_MAPPED },    /* PTE clear */
        { 0x5ff8, 0, 0x8, VM_SAVED_STATE_DUMP_E_VA_NOT_MAPPED },
        { 0x201234, 0x201234, 0, S_OK },                               /* 2 MiB */
        { 0xffff800000001234ULL, 0x1234, 0, S_OK },                    /* 1 GiB */
        { 0xffff80003fffffffULL, 0x3fffffff, 0, S_OK },
        { 0xffffffffc0000010ULL, 0x100000010ULL, 0, S_OK },            /* 2 MiB onto RAM above 4 GiB */
        { 0xffff0144, 0xffff0144, 0, S_OK },
        { 0x8000000000ULL, 0, 0x8000000000ULL, VM_SAVED_STATE_DUMP_E_VA_NOT_MAPPED },   /* PML4E */
        { 0xffffffffffff0000ULL, 0, 0x10000, VM_SAVED_STATE_DUMP_E_VA_NOT_MAPPED },     /* PDE */
        { 0x0000800000000000ULL, 0, 0xffff800000000000ULL - 0x0000800000000000ULL,
          VM_SAVED_STATE_DUMP_E_VA_NOT_MAPPED },                                         /* non-canonical */
    };
    const char *forms[] = { "lm16.elf", "lm16.kdump-zlib", "lm16.kdump", "lm16-paging.elf" };
    for (int f = 0; f < 4; f++) {
        VM_SAVED_STATE_DUMP_HANDLE h = fx_open(forms[f]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(h);
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
            UINT64 pa = 0, un = 77;
            HRESULT hr = GuestVirtualAddressToPhysicalAddress(h, 0, cases[i].va, &pa, &un);
            CU_ASSERT_EQUAL(hr, cases[i].hr);
            if (hr == S_OK)
                CU_ASSERT_EQUAL(pa, cases[i].pa);
            CU_ASSERT_EQUAL(un, cases[i].unmapped);
        }
        UINT64 pa;
        CU_ASSERT_EQUAL(GuestVirtualAddressToPhysicalAddress(h, 0, 0x3008, NULL, NULL), E_POINTER);
        CU_ASSERT_EQUAL(GuestVirtualAddressToPhysicalAddress(h, 9, 0x3008, &pa, NULL), E_INVALIDARG);
        /* VP1 has paging off: identity. */
        CU_ASSERT_EQUAL(GuestVirtualAddressToPhysicalAddress(h, 1, 0xfff0, &pa, NULL), S_OK);
        CU_ASSERT_EQUAL(pa, 0xfff0);
        ReleaseSavedStateFiles(h);
    }
}

/* QEMU's paging=true dump lists (VA, PA) per mapping: every page must agree. */
static void va_to_pa_vs_qemu(const char *paging_elf, const char *dump, uint64_t min_pages)
{
    static struct fx_load l[4096];
    size_t n = fx_readelf_loads(fx(paging_elf), l, 4096);
    CU_ASSERT_FATAL(n > 0);
    VM_SAVED_STATE_DUMP_HANDLE h = fx_open(dump);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    uint64_t pages = 0, bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t va = l[i].vaddr;
        if ((va >> 48) == 0xffff && !(va & (1ULL << 47)))
            va &= 0x0000ffffffffffffULL;          /* QEMU 7.2 sign-extends low-half VAs wrongly */
        for (uint64_t o = 0; o < l[i].filesz; o += 4096) {
            UINT64 pa = 0;
            if (GuestVirtualAddressToPhysicalAddress(h, 0, va + o, &pa, NULL) != S_OK || pa != l[i].paddr + o)
                bad++;
            pages++;
        }
    }
    CU_ASSERT(pages >= min_pages);
    CU_ASSERT_EQUAL(bad, 0);
    ReleaseSavedStateFiles(h);
}

static void test_va_to_pa_vs_qemu(void)
{
    va_to_pa_vs_qemu("lm16-paging.elf", "lm16.elf", 500);
    va_to_pa_vs_qemu("lm16-paging.elf", "lm16.kdump-zlib", 500);
    va_to_pa_vs_qemu("pae16-paging.elf", "pae16.elf", 190);
    va_to_pa_vs_qemu("pse16-paging.elf", "pse16.kdump-zlib", 190);
}

/* 32-bit protected mode guests (tools/fixtures/pm32.S): QEMU writes EM_386
 * dumps with i386 NT_PRSTATUS notes; PAE and 4 MiB-page walks. */
static void test_pm32(void)
{
    static const struct { uint64_t va, pa, unmapped; HRESULT hr; } pae[] = {
        { 0x3008, 0x1008, 0, S_OK }, { 0x5000, 0, 0x1000, VM_SAVED_STATE_DUMP_E_VA_NOT_MAPPED },
        { 0x201234, 0x201234, 0, S_OK }, { 0xffff0069, 0xffff0069, 0, S_OK },
        { 0x400000, 0, 0x200000, VM_SAVED_STATE_DUMP_E_VA_NOT_MAPPED },        /* PDE */
        { 0x40000000, 0, 0x40000000, VM_SAVED_STATE_DUMP_E_VA_NOT_MAPPED },    /* PDPTE */
        { 0x100000000ULL, 0, 0, VM_SAVED_STATE_DUMP_E_VA_NOT_MAPPED },        /* beyond 32 bits */
    }, pse[] = {
        { 0x3008, 0x1008, 0, S_OK }, { 0x5000, 0, 0x1000, VM_SAVED_STATE_DUMP_E_VA_NOT_MAPPED },
        { 0x200000, 0x200000, 0, S_OK }, { 0x401234, 0x401234, 0, S_OK },       /* 4 MiB page */
        { 0xffff0069, 0xffff0069, 0, S_OK },
        { 0x800000, 0, 0x400000, VM_SAVED_STATE_DUMP_E_VA_NOT_MAPPED },        /* PDE */
    };
    const char *forms[][3] = { { "pae16.elf", "pae16.kdump-zlib", "pae16.regs" },
                               { "pse16.elf", "pse16.kdump-zlib", "pse16.regs" } };
    for (int k = 0; k < 2; k++)
        for (int f = 0; f < 2; f++) {
            check_regs(forms[k][f], forms[k][2], 0);
            VM_SAVED_STATE_DUMP_HANDLE h = fx_open(forms[k][f]);
            CU_ASSERT_PTR_NOT_NULL_FATAL(h);
            VIRTUAL_PROCESSOR_ARCH a;
            PAGING_MODE m;
            CU_ASSERT_EQUAL(GetArchitecture(h, 0, &a), S_OK);
            CU_ASSERT_EQUAL(a, Arch_x86);
            CU_ASSERT_EQUAL(GetPagingMode(h, 0, &m), S_OK);
            CU_ASSERT_EQUAL(m, k ? Paging_32Bit : Paging_Pae);
            size_t n = k ? sizeof pse / sizeof *pse : sizeof pae / sizeof *pae;
            for (size_t i = 0; i < n; i++) {
                uint64_t va = k ? pse[i].va : pae[i].va;
                UINT64 pa = 0, un = 77;
                HRESULT hr = GuestVirtualAddressToPhysicalAddress(h, 0, va, &pa, &un);
                CU_ASSERT_EQUAL(hr, k ? pse[i].hr : pae[i].hr);
                if (hr == S_OK)
                    CU_ASSERT_EQUAL(pa, k ? pse[i].pa : pae[i].pa);
                CU_ASSERT_EQUAL(un, k ? pse[i].unmapped : pae[i].unmapped);
            }
            uint8_t b[4096];
            UINT32 got;
            CU_ASSERT_EQUAL(ReadGuestPhysicalAddress(h, 0x100000000ULL, b, sizeof b, &got), S_OK);
            CU_ASSERT(got == sizeof b && fx_pattern_ok(b, 0x100000000ULL, got));
            ReleaseSavedStateFiles(h);
        }
}

/* ---- handles and loading ---- */

static void test_handles(void)
{
    VM_SAVED_STATE_DUMP_HANDLE h = fx_open("lm16.elf"), bogus = (VM_SAVED_STATE_DUMP_HANDLE)&h;
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    CU_ASSERT_EQUAL(ReleaseSavedStateFiles(h), S_OK);
    UINT64 u = 0;
    UINT32 w = 0;
    uint8_t b[16];
    VIRTUAL_PROCESSOR_REGISTER r;
    VIRTUAL_PROCESSOR_ARCH a;
    PAGING_MODE m;
    BOOL k;
    GPA_MEMORY_CHUNK c[4];
    const char *fmt;
    VM_SAVED_STATE_DUMP_HANDLE dead[] = { h, bogus, NULL };
    for (int i = 0; i < 3; i++) {
        VM_SAVED_STATE_DUMP_HANDLE x = dead[i];
        CU_ASSERT_EQUAL(ReleaseSavedStateFiles(x), E_HANDLE);
        CU_ASSERT_EQUAL(GetGuestPhysicalMemoryChunks(x, &u, c, &u), E_HANDLE);
        CU_ASSERT_EQUAL(GetGuestRawSavedMemorySize(x, &u), E_HANDLE);
        CU_ASSERT_EQUAL(ReadGuestRawSavedMemory(x, 0, b, 16, &w), E_HANDLE);
        CU_ASSERT_EQUAL(GuestPhysicalAddressToRawSavedMemoryOffset(x, 0, &u), E_HANDLE);
        CU_ASSERT_EQUAL(ReadGuestPhysicalAddress(x, 0, b, 16, &w), E_HANDLE);
        CU_ASSERT_EQUAL(GetVpCount(x, &w), E_HANDLE);
        CU_ASSERT_EQUAL(GetArchitecture(x, 0, &a), E_HANDLE);
        CU_ASSERT_EQUAL(ForceArchitecture(x, 0, Arch_x64), E_HANDLE);
        CU_ASSERT_EQUAL(GetRegisterValue(x, 0, 0, &r), E_HANDLE);
        CU_ASSERT_EQUAL(GetPagingMode(x, 0, &m), E_HANDLE);
        CU_ASSERT_EQUAL(ForcePagingMode(x, 0, Paging_Long), E_HANDLE);
        CU_ASSERT_EQUAL(InKernelSpace(x, 0, &k), E_HANDLE);
        CU_ASSERT_EQUAL(GuestVirtualAddressToPhysicalAddress(x, 0, 0, &u, NULL), E_HANDLE);
        CU_ASSERT_EQUAL(SetMemoryBlockCacheLimit(x, 0), E_HANDLE);
        CU_ASSERT_EQUAL(GetMemoryBlockCacheLimit(x, &u), E_HANDLE);
        CU_ASSERT_EQUAL(winmem_GetSavedStateFormat(x, &fmt), E_HANDLE);
    }
}

static void utf16(const char *s, WCHAR *w)
{
    while ((*w++ = (unsigned char)*s++))
        ;
}

static void test_loading(void)
{
    VM_SAVED_STATE_DUMP_HANDLE h = (VM_SAVED_STATE_DUMP_HANDLE)1;
    WCHAR w[600], wl[600];
    CU_ASSERT_EQUAL(winmem_LoadSavedStateFileUtf8("/etc/passwd/x.elf", &h), HRESULT_FROM_WIN32(ERROR_PATH_NOT_FOUND));
    CU_ASSERT_PTR_NULL(h);
    CU_ASSERT_EQUAL(winmem_LoadSavedStateFileUtf8("/tmp/wm-no-such-dump", &h), HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND));
    CU_ASSERT(FAILED(winmem_LoadSavedStateFileUtf8("/tmp", &h)));
    CU_ASSERT_EQUAL(winmem_LoadSavedStateFileUtf8(NULL, &h), E_POINTER);
    CU_ASSERT_EQUAL(winmem_LoadSavedStateFileUtf8(fx("lm16.elf"), NULL), E_POINTER);
    CU_ASSERT_EQUAL(LoadSavedStateFile(NULL, &h), E_POINTER);
    /* Raw images have no magic: LoadSavedStateFile refuses them. */
    CU_ASSERT_EQUAL(winmem_LoadSavedStateFileUtf8(fx("lm16.rawcat"), &h), HRESULT_FROM_WIN32(ERROR_BAD_FORMAT));
    const char *fmt = NULL;
    utf16(fx("lm16.kdump-zlib"), w);
    CU_ASSERT_EQUAL_FATAL(LoadSavedStateFile(w, &h), S_OK);
    CU_ASSERT_EQUAL(winmem_GetSavedStateFormat(h, &fmt), S_OK);
    CU_ASSERT_STRING_EQUAL(fmt, "kdump-flattened");
    CU_ASSERT_EQUAL(winmem_GetSavedStateFormat(h, NULL), E_POINTER);
    ReleaseSavedStateFiles(h);
    utf16(fx("lm16.rawcat"), w);
    utf16(fx("lm16.layout"), wl);
    CU_ASSERT_EQUAL_FATAL(LoadSavedStateFiles(w, wl, &h), S_OK);
    winmem_GetSavedStateFormat(h, &fmt);
    CU_ASSERT_STRING_EQUAL(fmt, "raw+layout");
    ReleaseSavedStateFiles(h);
    CU_ASSERT_EQUAL(LoadSavedStateFiles(NULL, wl, &h), E_POINTER);
    /* A lone surrogate is not a path. */
    WCHAR badw[] = { '/', 0xD800, 'x', 0 };
    CU_ASSERT_EQUAL(LoadSavedStateFile(badw, &h), E_INVALIDARG);
    /* The layout must fit the image: lm16's layout on t24's smaller image fails the other way round. */
    CU_ASSERT_EQUAL(winmem_LoadSavedStateFilesUtf8(fx("lm16.raw"), fx("t24.layout"), &h), HRESULT_FROM_WIN32(ERROR_BAD_FORMAT));
    const char *formats[][2] = { { "lm16.elf", "elf" }, { "lm16.kdump", "kdump" }, { "lm16.lime", "lime" } };
    for (int i = 0; i < 3; i++) {
        h = fx_open(formats[i][0]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(h);
        winmem_GetSavedStateFormat(h, &fmt);
        CU_ASSERT_STRING_EQUAL(fmt, formats[i][1]);
        ReleaseSavedStateFiles(h);
    }
}

/* Release while other threads read: the read lock keeps the dump alive. */
static void *release_reader(void *arg)
{
    uint8_t b[4096];
    for (int i = 0; i < 2000; i++) {
        UINT32 got;
        HRESULT hr = ReadGuestPhysicalAddress(arg, 0x1000, b, sizeof b, &got);
        if (hr == E_HANDLE)
            break;
        if (hr != S_OK || !fx_pattern_ok(b, 0x1000, got))
            return (void *)1;
    }
    return NULL;
}

static void test_release_race(void)
{
    VM_SAVED_STATE_DUMP_HANDLE h = fx_open("lm16.elf");
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, release_reader, h);
    CU_ASSERT_EQUAL(ReleaseSavedStateFiles(h), S_OK);
    for (int i = 0; i < 3; i++) {
        void *r;
        pthread_join(t[i], &r);
        CU_ASSERT_PTR_NULL(r);
    }
}

/* A copy of a fixture in /tmp, patched at one offset; returns its path. */
static const char *patched_copy(const char *fixture, const char *tag, uint64_t off, const void *val, size_t n)
{
    static char path[128];
    size_t len;
    uint8_t *b = fx_slurp(fx(fixture), &len);
    if (!b || off + n > len)
        return NULL;
    memcpy(b + off, val, n);
    snprintf(path, sizeof path, "/tmp/wm-ss-%s-%d", tag, (int)getpid());
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(b, 1, len, f) == len;
    if (f)
        fclose(f);
    free(b);
    return ok ? path : NULL;
}

/* PN_XNUM: e_phnum 0xFFFF with the real count in section 0's sh_info (QEMU
 * does this past 65534 headers); the paging=true dump, re-marked that way,
 * must give the same chunks. */
static void test_pn_xnum(void)
{
    size_t len;
    uint8_t *b = fx_slurp(fx("lm16-paging.elf"), &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    uint64_t shoff;
    uint16_t phnum, xnum = 0xffff;
    memcpy(&shoff, b + 40, 8);
    memcpy(&phnum, b + 56, 2);
    uint32_t count = phnum;
    free(b);
    CU_ASSERT_FATAL(shoff != 0);
    const char *p = patched_copy("lm16-paging.elf", "xnum", 56, &xnum, 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    FILE *f = fopen(p, "r+b");
    fseek(f, (long)(shoff + 44), SEEK_SET);         /* shdr[0].sh_info */
    fwrite(&count, 4, 1, f);
    fclose(f);
    VM_SAVED_STATE_DUMP_HANDLE a = fx_open("lm16-paging.elf"), x = NULL;
    CU_ASSERT_EQUAL_FATAL(winmem_LoadSavedStateFileUtf8(p, &x), S_OK);
    GPA_MEMORY_CHUNK ca[8], cx[8];
    UINT64 na = 8, nx = 8, ps;
    CU_ASSERT_EQUAL(GetGuestPhysicalMemoryChunks(a, &ps, ca, &na), S_OK);
    CU_ASSERT_EQUAL(GetGuestPhysicalMemoryChunks(x, &ps, cx, &nx), S_OK);
    CU_ASSERT(na == nx && !memcmp(ca, cx, na * sizeof *ca));
    ReleaseSavedStateFiles(a);
    ReleaseSavedStateFiles(x);
    unlink(p);
}

/* CR4.LA57 set in vCPU0's QEMU note: 5-level paging is refused, not walked as 4. */
static void test_la57_refused(void)
{
    size_t len;
    uint8_t *b = fx_slurp(fx("lm16.elf"), &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    uint8_t *q = memmem(b, len < 0x1000 ? len : 0x1000, "QEMU\0", 5);   /* first QEMU note's name */
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    uint64_t cr4_off = (uint64_t)(q - b) + 8 + 392 + 32, cr4;
    memcpy(&cr4, b + cr4_off, 8);
    free(b);
    CU_ASSERT_EQUAL_FATAL(cr4, 0x20);                 /* QEMU's CR4 for lm16's vCPU0 */
    cr4 |= 1ULL << 12;
    const char *p = patched_copy("lm16.elf", "la57", cr4_off, &cr4, 8);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    VM_SAVED_STATE_DUMP_HANDLE h;
    CU_ASSERT_EQUAL_FATAL(winmem_LoadSavedStateFileUtf8(p, &h), S_OK);
    PAGING_MODE m = Paging_Long;
    UINT64 pa;
    CU_ASSERT_EQUAL(GetPagingMode(h, 0, &m), HRESULT_FROM_WIN32(ERROR_NOT_SUPPORTED));
    CU_ASSERT_EQUAL(m, Paging_Invalid);
    CU_ASSERT_EQUAL(GuestVirtualAddressToPhysicalAddress(h, 0, 0x3008, &pa, NULL), HRESULT_FROM_WIN32(ERROR_NOT_SUPPORTED));
    ForcePagingMode(h, 0, Paging_Long);               /* forcing does not make LA57 tables 4-level */
    CU_ASSERT_EQUAL(GuestVirtualAddressToPhysicalAddress(h, 0, 0x3008, &pa, NULL), HRESULT_FROM_WIN32(ERROR_NOT_SUPPORTED));
    ReleaseSavedStateFiles(h);
    unlink(p);
}

void wm_register_tests(void)
{
    CU_pSuite s = wm_suite("savedstate", NULL, NULL);
    WM_TEST(s, test_chunks_lm16);
    WM_TEST(s, test_chunks_t24);
    WM_TEST(s, test_raw_offsets);
    WM_TEST(s, test_raw_read_all);
    WM_TEST(s, test_known_bytes);
    WM_TEST(s, test_pmemsave_image);
    WM_TEST(s, test_threads);
    WM_TEST(s, test_registers);
    WM_TEST(s, test_vps_modes);
    WM_TEST(s, test_cache_limit);
    WM_TEST(s, test_va_to_pa);
    WM_TEST(s, test_va_to_pa_vs_qemu);
    WM_TEST(s, test_pm32);
    WM_TEST(s, test_handles);
    WM_TEST(s, test_loading);
    WM_TEST(s, test_release_race);
    WM_TEST(s, test_pn_xnum);
    WM_TEST(s, test_la57_refused);
}
