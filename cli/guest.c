/*
 * cli/guest.c — `winmem guest`: what a VM memory dump holds, through the
 * saved-state dump API (so the CLI sees exactly what a Windows tool would).
 *
 *   winmem guest [--raw [--layout FILE]] DUMP                summary
 *   winmem guest ... DUMP --read GPA LEN                     hex dump
 *   winmem guest ... DUMP --va2pa VP VA                      translate
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "winmem/winmem.h"
#include "commands.h"
#include "files.h"

static void usage(FILE *f)
{
    fputs("usage: winmem guest [--raw [--layout FILE]] DUMP [--read GPA LEN | --va2pa VP VA]\n"
          "\n"
          "Shows a guest-memory dump through the saved-state dump API: format,\n"
          "memory chunks, raw size, processors, architecture, paging mode and registers.\n"
          "DUMP: QEMU dump-guest-memory ELF, kdump-compressed (standard or flattened), LiME;\n"
          "      --raw: a flat image from GPA 0, or with --layout, ranges listed in FILE\n"
          "      (one \"START LENGTH\" per line, in file order).\n"
          "  --read GPA LEN   hex dump of guest-physical memory (short at a chunk's end)\n"
          "  --va2pa VP VA    translate a guest-virtual address with processor VP's page tables\n"
          "Numbers take 0x for hex. Exit status: 0 ok, 1 the address is not in the dump, 2 error.\n", f);
}

static bool num(const char *s, uint64_t *v)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 0);
    if (errno || end == s || *end || *s == '-')
        return false;
    *v = x;
    return true;
}

static const char *arch_name(VIRTUAL_PROCESSOR_ARCH a)
{
    return a == Arch_x86 ? "x86" : a == Arch_x64 ? "x64" : a == Arch_Armv8 ? "armv8" : "unknown";
}

static const char *paging_name(PAGING_MODE m)
{
    static const char *const n[] = { "invalid", "none", "32-bit", "PAE", "long (4-level)", "armv8" };
    return (unsigned)m < 6 ? n[m] : "?";
}

static void print_registers(VM_SAVED_STATE_DUMP_HANDLE h, UINT32 vp)
{
    static const char *const gpr[] = { "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9",
                                       "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags" };
    VIRTUAL_PROCESSOR_REGISTER r;
    int col = 0;
    for (DWORD id = 0; id <= X64_RegisterRFlags; id++)
        if (GetRegisterValue(h, vp, id, &r) == S_OK) {
            printf("%s%-6s %016" PRIx64, col % 4 ? "  " : "    ", gpr[id], (uint64_t)r.Reg64);
            if (++col % 4 == 0)
                putchar('\n');
        }
    if (col % 4)
        putchar('\n');
    static const struct { DWORD id; const char *name; } cr[] = {
        { X64_RegisterCr0, "cr0" }, { X64_RegisterCr2, "cr2" }, { X64_RegisterCr3, "cr3" }, { X64_RegisterCr4, "cr4" } };
    col = 0;
    for (size_t i = 0; i < 4; i++)
        if (GetRegisterValue(h, vp, cr[i].id, &r) == S_OK)
            printf("%s%-6s %016" PRIx64, col++ ? "  " : "    ", cr[i].name, (uint64_t)r.Reg64);
    if (col)
        putchar('\n');
    static const struct { DWORD id; const char *name; } seg[] = {
        { X64_RegisterCs, "cs" }, { X64_RegisterDs, "ds" }, { X64_RegisterEs, "es" }, { X64_RegisterFs, "fs" },
        { X64_RegisterGs, "gs" }, { X64_RegisterSs, "ss" }, { X64_RegisterLdtr, "ldtr" }, { X64_RegisterTr, "tr" } };
    for (size_t i = 0; i < 8; i++)
        if (GetRegisterValue(h, vp, seg[i].id, &r) == S_OK)
            printf("    %-6s sel %04x base %016" PRIx64 " limit %08x attr %04x\n", seg[i].name,
                   r.X64.Segment.Selector, (uint64_t)r.X64.Segment.Base, r.X64.Segment.Limit, r.X64.Segment.Attributes);
    if (GetRegisterValue(h, vp, X64_RegisterGdtr, &r) == S_OK)
        printf("    gdtr   base %016" PRIx64 " limit %04x\n", (uint64_t)r.X64.Table.Base, r.X64.Table.Limit);
    if (GetRegisterValue(h, vp, X64_RegisterIdtr, &r) == S_OK)
        printf("    idtr   base %016" PRIx64 " limit %04x\n", (uint64_t)r.X64.Table.Base, r.X64.Table.Limit);
}

static int summary(VM_SAVED_STATE_DUMP_HANDLE h, const char *path)
{
    const char *fmt = "?";
    winmem_GetSavedStateFormat(h, &fmt);
    printf("file:        %s\nformat:      %s\n", path, fmt);
    UINT64 n = 0, ps = 0, raw = 0;
    if (GetGuestPhysicalMemoryChunks(h, &ps, NULL, &n) != E_OUTOFMEMORY)
        return 2;
    GPA_MEMORY_CHUNK *c = calloc(n ? n : 1, sizeof *c);
    if (!c || GetGuestPhysicalMemoryChunks(h, &ps, c, &n) != S_OK) {
        free(c);
        return 2;
    }
    printf("chunks:      %" PRIu64 " (page size %" PRIu64 ")\n", (uint64_t)n, (uint64_t)ps);
    for (UINT64 i = 0; i < n; i++) {
        UINT64 start = c[i].GuestPhysicalStartPageIndex * ps, off = 0;
        GuestPhysicalAddressToRawSavedMemoryOffset(h, start, &off);
        printf("  GPA 0x%012" PRIx64 "-0x%012" PRIx64 "  %8" PRIu64 " pages  raw offset %#" PRIx64 "\n", (uint64_t)start,
               (uint64_t)(start + c[i].PageCount * ps - 1), (uint64_t)c[i].PageCount, (uint64_t)off);
    }
    free(c);
    GetGuestRawSavedMemorySize(h, &raw);
    printf("raw size:    %" PRIu64 " bytes\n", (uint64_t)raw);
    UINT32 vps = 0;
    GetVpCount(h, &vps);
    printf("processors:  %u%s\n", vps, vps ? "" : " (this format holds no processor state)");
    for (UINT32 vp = 0; vp < vps; vp++) {
        VIRTUAL_PROCESSOR_ARCH a = Arch_Unknown;
        PAGING_MODE m = Paging_Invalid;
        BOOL k = FALSE;
        GetArchitecture(h, vp, &a);
        HRESULT hp = GetPagingMode(h, vp, &m);
        HRESULT hk = InKernelSpace(h, vp, &k);
        printf("vp %u:        architecture %s, paging %s, %s\n", vp, arch_name(a),
               SUCCEEDED(hp) ? paging_name(m) : "unknown", SUCCEEDED(hk) ? (k ? "kernel mode" : "user mode") : "mode unknown");
        print_registers(h, vp);
    }
    return 0;
}

static int read_gpa(VM_SAVED_STATE_DUMP_HANDLE h, uint64_t gpa, uint64_t len)
{
    uint8_t buf[4096];
    while (len) {
        UINT32 want = len < sizeof buf ? (UINT32)len : sizeof buf, got = 0;
        HRESULT hr = ReadGuestPhysicalAddress(h, gpa, buf, want, &got);
        if (FAILED(hr)) {
            fprintf(stderr, "winmem guest: GPA %#" PRIx64 " is not in the dump (%#x)\n", gpa, (unsigned)hr);
            return 1;
        }
        for (UINT32 i = 0; i < got; i += 16) {
            printf("%016" PRIx64 " ", gpa + i);
            for (UINT32 j = 0; j < 16; j++)
                printf(i + j < got ? " %02x" : "   ", buf[i + j]);
            printf("  ");
            for (UINT32 j = 0; j < 16 && i + j < got; j++)
                putchar(buf[i + j] >= 32 && buf[i + j] < 127 ? buf[i + j] : '.');
            putchar('\n');
        }
        gpa += got, len -= got;
        if (got < want) {
            fprintf(stderr, "winmem guest: the chunk ends at %#" PRIx64 "\n", gpa);
            return 1;
        }
    }
    return 0;
}

static int va2pa(VM_SAVED_STATE_DUMP_HANDLE h, uint64_t vp, uint64_t va)
{
    UINT64 pa = 0, unmapped = 0;
    HRESULT hr = GuestVirtualAddressToPhysicalAddress(h, (UINT32)vp, va, &pa, &unmapped);
    if (hr == S_OK) {
        printf("%#" PRIx64 " -> %#" PRIx64 "\n", va, (uint64_t)pa);
        return 0;
    }
    if (hr == VM_SAVED_STATE_DUMP_E_VA_NOT_MAPPED) {
        printf("%#" PRIx64 " -> not mapped (next %#" PRIx64 " bytes)\n", va, (uint64_t)unmapped);
        return 1;
    }
    fprintf(stderr, "winmem guest: cannot translate %#" PRIx64 " on vp %" PRIu64 " (%#x)\n", va, vp, (unsigned)hr);
    return 2;
}

int cmd_guest(int argc, char **argv)
{
    const char *path = NULL, *layout = NULL;
    bool raw = false;
    int op = 0;
    uint64_t a1 = 0, a2 = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--raw"))
            raw = true;
        else if (!strcmp(argv[i], "--layout") && i + 1 < argc)
            layout = argv[++i], raw = true;
        else if ((!strcmp(argv[i], "--read") || !strcmp(argv[i], "--va2pa")) && i + 2 < argc && !op) {
            op = argv[i][2] == 'r' ? 1 : 2;
            if (!num(argv[i + 1], &a1) || !num(argv[i + 2], &a2)) {
                fprintf(stderr, "winmem guest: %s needs two numbers\n", argv[i]);
                return 2;
            }
            i += 2;
        } else if (argv[i][0] == '-' || path) {
            usage(stderr);
            return 2;
        } else
            path = argv[i];
    }
    if (!path) {
        usage(stderr);
        return 2;
    }
    /* Said plainly here; the loader refuses them too (HRESULT only). */
    struct stat st;
    const char *const named[2] = { path, layout };
    for (int i = 0; i < 2; i++)
        if (named[i] && stat(named[i], &st) == 0 && !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
            fprintf(stderr, "winmem guest: %s is %s, not a dump file\n", named[i], file_kind(&st));
            return 2;
        }
    VM_SAVED_STATE_DUMP_HANDLE h;
    HRESULT hr = raw ? winmem_LoadSavedStateFilesUtf8(path, layout, &h) : winmem_LoadSavedStateFileUtf8(path, &h);
    if (FAILED(hr)) {
        fprintf(stderr, "winmem guest: cannot open %s: HRESULT %#x%s\n", path, (unsigned)hr,
                hr == HRESULT_FROM_WIN32(ERROR_BAD_FORMAT) ? " (not a dump winmem knows; raw images need --raw)" : "");
        return 2;
    }
    int rc = op == 1 ? read_gpa(h, a1, a2) : op == 2 ? va2pa(h, a1, a2) : summary(h, path);
    ReleaseSavedStateFiles(h);
    return rc;
}
