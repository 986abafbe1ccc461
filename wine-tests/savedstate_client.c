/*
 * A Windows-style client of vmsavedstatedumpprovider.dll, written as tools
 * like LeechCore use it: LoadLibrary + GetProcAddress, the two-call
 * GetGuestPhysicalMemoryChunks pattern, then every chunk read on 4 threads.
 * Natively it calls libwinmem; as a PE program under wine it needs winmem's
 * builtin DLL (WINEDLLPATH=build/wine or `make install`), and it only tries
 * when WM_SAVEDSTATE_WINE=1 says one is there — plain Wine has no such DLL,
 * so the conformance matrix's Wine runs report skip (listed in
 * expected-differences.txt). make check-savedstate runs it both ways.
 *
 * Dumps: lm16.elf and lm16.kdump-zlib from tools/make-dump-fixtures.sh in
 * WM_DUMP_FIXTURES (default build/fixtures). Expected values are QEMU's
 * (readelf -l of the dump, `info registers`, the bytes the script wrote).
 */
#include "wt.h"
#if !defined(WT_NATIVE)
#include "../include/winmem/vmsavedstatedump.h"
#else
#include <pthread.h>
#endif

typedef HRESULT (WINAPI *load_fn)(LPCWSTR, VM_SAVED_STATE_DUMP_HANDLE *);
typedef HRESULT (WINAPI *release_fn)(VM_SAVED_STATE_DUMP_HANDLE);
typedef HRESULT (WINAPI *chunks_fn)(VM_SAVED_STATE_DUMP_HANDLE, UINT64 *, GPA_MEMORY_CHUNK *, UINT64 *);
typedef HRESULT (WINAPI *read_fn)(VM_SAVED_STATE_DUMP_HANDLE, UINT64, LPVOID, UINT32, UINT32 *);
typedef HRESULT (WINAPI *size_fn)(VM_SAVED_STATE_DUMP_HANDLE, UINT64 *);
typedef HRESULT (WINAPI *vpcount_fn)(VM_SAVED_STATE_DUMP_HANDLE, UINT32 *);
typedef HRESULT (WINAPI *reg_fn)(VM_SAVED_STATE_DUMP_HANDLE, UINT32, DWORD, VIRTUAL_PROCESSOR_REGISTER *);
typedef HRESULT (WINAPI *va2pa_fn)(VM_SAVED_STATE_DUMP_HANDLE, UINT32, const GUEST_VIRTUAL_ADDRESS,
                                   GUEST_PHYSICAL_ADDRESS *, GUEST_VIRTUAL_ADDRESS *);
typedef HRESULT (WINAPI *paging_fn)(VM_SAVED_STATE_DUMP_HANDLE, UINT32, PAGING_MODE *);

static struct {
    load_fn Load;
    release_fn Release;
    chunks_fn Chunks;
    read_fn ReadPa, ReadRaw;
    size_fn RawSize;
    vpcount_fn VpCount;
    reg_fn Reg;
    va2pa_fn Va2Pa;
    paging_fn Paging;
} api;

static int bind_api(void)
{
#if defined(WT_NATIVE)
    api.Load = LoadSavedStateFile;
    api.Release = ReleaseSavedStateFiles;
    api.Chunks = GetGuestPhysicalMemoryChunks;
    api.ReadPa = ReadGuestPhysicalAddress;
    api.ReadRaw = ReadGuestRawSavedMemory;
    api.RawSize = GetGuestRawSavedMemorySize;
    api.VpCount = GetVpCount;
    api.Reg = GetRegisterValue;
    api.Va2Pa = GuestVirtualAddressToPhysicalAddress;
    api.Paging = GetPagingMode;
    return 1;
#else
    const char *w = getenv("WM_SAVEDSTATE_WINE");
    if (!w || strcmp(w, "1"))
        return 0;
    HMODULE m = LoadLibraryW(L"vmsavedstatedumpprovider.dll");
    if (!m)
        return 0;
#define GET(f, n) (api.f = (void *)GetProcAddress(m, n))
    return GET(Load, "LoadSavedStateFile") && GET(Release, "ReleaseSavedStateFiles") &&
           GET(Chunks, "GetGuestPhysicalMemoryChunks") && GET(ReadPa, "ReadGuestPhysicalAddress") &&
           GET(ReadRaw, "ReadGuestRawSavedMemory") && GET(RawSize, "GetGuestRawSavedMemorySize") &&
           GET(VpCount, "GetVpCount") && GET(Reg, "GetRegisterValue") &&
           GET(Va2Pa, "GuestVirtualAddressToPhysicalAddress") && GET(Paging, "GetPagingMode");
#undef GET
#endif
}

/* The dump's path as the program's own platform spells it. */
static void dump_path(const char *name, WCHAR *out, size_t max)
{
    const char *dir = getenv("WM_DUMP_FIXTURES");
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir && *dir ? dir : "build/fixtures", name);
#if defined(WT_NATIVE)
    size_t i = 0;
    for (; p[i] && i + 1 < max; i++)
        out[i] = (unsigned char)p[i];
    out[i] = 0;
#else
    WCHAR rel[1024];
    int i = 0;
    if (p[0] == '/')                       /* a Unix path: Wine's Z: is / */
        rel[i++] = 'Z', rel[i++] = ':';
    for (const char *s = p; *s && i < 1023; s++)
        rel[i++] = *s == '/' ? '\\' : (unsigned char)*s;
    rel[i] = 0;
    GetFullPathNameW(rel, (DWORD)max, out, NULL);
#endif
}

static int pattern_ok(const unsigned char *b, UINT64 gpa, UINT32 len)
{
    for (UINT32 i = 0; i + 16 <= len; i += 16) {
        UINT64 v;
        memcpy(&v, b + i + 8, 8);
        if (memcmp(b + i, "PATTERN!", 8) || v != gpa + i)
            return 0;
    }
    return 1;
}

/* FNV-1a over the bytes each reader saw, so the threads can be compared. */
static UINT64 fnv(UINT64 h, const unsigned char *b, UINT32 n)
{
    for (UINT32 i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

struct reader {
    VM_SAVED_STATE_DUMP_HANDLE h;
    GPA_MEMORY_CHUNK *chunks;
    UINT64 n, bytes, hash[8];
    int errors, id;
};

static void read_all(struct reader *r)
{
    static const UINT64 pat[] = { 0x1000, 0x7ff000, 0x100000000ULL, 0x1007ff000ULL };
    unsigned char *buf = malloc(0x10000);
    /* Threads walk the chunks in different orders; hashes are per chunk. */
    for (UINT64 k = 0; k < r->n; k++) {
        UINT64 c = (k + (UINT64)r->id) % r->n, h = 0xcbf29ce484222325ULL;
        UINT64 base = r->chunks[c].GuestPhysicalStartPageIndex * 4096, len = r->chunks[c].PageCount * 4096;
        for (UINT64 o = 0; o < len; o += 0x10000) {
            UINT32 got = 0, want = len - o < 0x10000 ? (UINT32)(len - o) : 0x10000;
            if (api.ReadPa(r->h, base + o, buf, 0x10000, &got) != S_OK || got != want) {
                r->errors++;
                break;
            }
            for (int p = 0; p < 4; p++)
                if (pat[p] >= base + o && pat[p] < base + o + got && !pattern_ok(buf + (pat[p] - base - o), pat[p], 4096))
                    r->errors++;
            h = fnv(h, buf, got);
            r->bytes += got;
        }
        r->hash[c] = h;
    }
    free(buf);
}

#if defined(WT_NATIVE)
static void *reader_thread(void *arg) { read_all(arg); return NULL; }
#else
static DWORD WINAPI reader_thread(void *arg) { read_all(arg); return 0; }
#endif

static void check_dump(const char *name)
{
    WCHAR path[1024];
    VM_SAVED_STATE_DUMP_HANDLE h = NULL;
    dump_path(name, path, 1024);
    HRESULT hr = api.Load(path, &h);
    if (hr == HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND) || hr == HRESULT_FROM_WIN32(ERROR_PATH_NOT_FOUND)) {
        skip("%s: no fixture (make dump-fixtures)\n", name);
        return;
    }
    if (!ok(hr == S_OK, "%s: LoadSavedStateFile %#x, expected S_OK\n", name, (unsigned)hr))
        return;

    /* The two-call pattern: size, allocate, fill. */
    UINT64 page = 0, count = 0;
    hr = api.Chunks(h, &page, NULL, &count);
    ok(hr == E_OUTOFMEMORY, "%s: sizing call %#x, expected E_OUTOFMEMORY (0x8007000e)\n", name, (unsigned)hr);
    ok(count == 2, "%s: %llu chunks needed, expected 2\n", name, (unsigned long long)count);
    GPA_MEMORY_CHUNK *c = calloc(count ? count : 1, sizeof *c);
    hr = api.Chunks(h, &page, c, &count);
    ok(hr == S_OK && page == 4096, "%s: %#x page size %llu, expected S_OK 4096\n", name, (unsigned)hr,
       (unsigned long long)page);
    ok(count == 2 && c[0].GuestPhysicalStartPageIndex == 0 && c[0].PageCount == 2048 &&
       c[1].GuestPhysicalStartPageIndex == 0xffff0 && c[1].PageCount == 2064,
       "%s: chunks (%llx,%llu)(%llx,%llu), expected (0,2048)(ffff0,2064)\n", name,
       (unsigned long long)c[0].GuestPhysicalStartPageIndex, (unsigned long long)c[0].PageCount,
       (unsigned long long)c[1].GuestPhysicalStartPageIndex, (unsigned long long)c[1].PageCount);
    UINT64 raw = 0;
    api.RawSize(h, &raw);
    ok(raw == 16842752, "%s: raw size %llu, expected 16842752\n", name, (unsigned long long)raw);

    /* Every chunk on 4 threads at once; each must see the same bytes. */
    struct reader r[5];
    memset(r, 0, sizeof r);
    for (int i = 0; i < 5; i++)
        r[i].h = h, r[i].chunks = c, r[i].n = count < 8 ? count : 8, r[i].id = i;
    read_all(&r[4]);                    /* single-threaded reference */
#if defined(WT_NATIVE)
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, reader_thread, &r[i]);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
#else
    HANDLE t[4];
    for (int i = 0; i < 4; i++)
        t[i] = CreateThread(NULL, 0, reader_thread, &r[i], 0, NULL);
    WaitForMultipleObjects(4, t, TRUE, INFINITE);
    for (int i = 0; i < 4; i++)
        CloseHandle(t[i]);
#endif
    for (int i = 0; i < 5; i++) {
        ok(r[i].errors == 0, "%s: reader %d had %d bad reads, expected 0\n", name, i, r[i].errors);
        ok(r[i].bytes == raw, "%s: reader %d read %llu bytes, expected %llu\n", name, i,
           (unsigned long long)r[i].bytes, (unsigned long long)raw);
        ok(!memcmp(r[i].hash, r[4].hash, sizeof r[i].hash), "%s: reader %d saw different bytes\n", name, i);
    }

    /* A hole fails with nothing read; a read off a chunk's end is short. */
    unsigned char b[64];
    UINT32 got = 99;
    hr = api.ReadPa(h, 0xa0000000ULL, b, 16, &got);
    ok(hr == VM_SAVED_STATE_DUMP_E_GUEST_MEMORY_NOT_FOUND && got == 0,
       "%s: hole read %#x got %u, expected 0xc0370501 and 0\n", name, (unsigned)hr, got);
    hr = api.ReadPa(h, 0x7ffff0, b, 64, &got);
    ok(hr == S_OK && got == 16 && pattern_ok(b, 0x7ffff0, 16), "%s: read at chunk end %#x got %u, expected S_OK 16\n",
       name, (unsigned)hr, got);
    hr = api.ReadRaw(h, 0x810000, b, 16, &got);
    ok(hr == S_OK && got == 16 && pattern_ok(b, 0x100000000ULL, 16), "%s: raw offset 0x810000 %#x, expected GPA 4 GiB\n",
       name, (unsigned)hr);

    /* Registers as QEMU's `info registers` printed them. */
    UINT32 vps = 0;
    VIRTUAL_PROCESSOR_REGISTER reg;
    api.VpCount(h, &vps);
    ok(vps == 2, "%s: %u processors, expected 2\n", name, vps);
    hr = api.Reg(h, 0, X64_RegisterRip, &reg);
    ok(hr == S_OK && reg.Reg64 == 0xffff0145, "%s: rip %#x %llx, expected ffff0145\n", name, (unsigned)hr,
       (unsigned long long)reg.Reg64);
    hr = api.Reg(h, 0, X64_RegisterCr3, &reg);
    ok(hr == S_OK && reg.Reg64 == 0x10000, "%s: cr3 %llx, expected 10000\n", name, (unsigned long long)reg.Reg64);
    hr = api.Reg(h, 0, X64_RegisterCs, &reg);
    ok(hr == S_OK && reg.X64.Segment.Selector == 8 && reg.X64.Segment.Attributes == 0xa09b,
       "%s: cs %04x attr %04x, expected 0008 a09b\n", name, reg.X64.Segment.Selector, reg.X64.Segment.Attributes);
    hr = api.Reg(h, 0, X64_RegisterEfer, &reg);
    ok(hr == HRESULT_FROM_WIN32(ERROR_NOT_SUPPORTED), "%s: EFER %#x, expected 0x80070032 (not in a QEMU dump)\n",
       name, (unsigned)hr);
    PAGING_MODE m = Paging_Invalid;
    api.Paging(h, 0, &m);
    ok(m == Paging_Long, "%s: paging mode %d, expected Paging_Long\n", name, (int)m);
    UINT64 pa = 0, unmapped = 0;
    hr = api.Va2Pa(h, 0, 0xffffffffc0000010ULL, &pa, &unmapped);
    ok(hr == S_OK && pa == 0x100000010ULL, "%s: va2pa %#x %llx, expected 100000010\n", name, (unsigned)hr,
       (unsigned long long)pa);
    hr = api.Va2Pa(h, 0, 0x5000, &pa, &unmapped);
    ok(hr == VM_SAVED_STATE_DUMP_E_VA_NOT_MAPPED && unmapped == 0x1000,
       "%s: va 0x5000 %#x unmapped %llx, expected 0xc0370505 1000\n", name, (unsigned)hr, (unsigned long long)unmapped);

    ok(api.Release(h) == S_OK, "%s: ReleaseSavedStateFiles, expected S_OK\n", name);
    free(c);
}

START_TEST(savedstate_client)
{
    if (!bind_api()) {
        wt_skip_section("elf", "no vmsavedstatedumpprovider.dll (Wine has none; set WM_SAVEDSTATE_WINE=1 with winmem's builtin)");
        wt_skip_section("kdump", "no vmsavedstatedumpprovider.dll");
        wt_skip_section("missing_file", "no vmsavedstatedumpprovider.dll");
        return;
    }
    wt_section("elf");
    check_dump("lm16.elf");
    wt_section("kdump");
    check_dump("lm16.kdump-zlib");
    wt_section("missing_file");
    WCHAR path[1024];
    VM_SAVED_STATE_DUMP_HANDLE h;
    dump_path("no-such-dump.elf", path, 1024);
    HRESULT hr = api.Load(path, &h);
    ok(hr == HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND), "LoadSavedStateFile of a missing file %#x, expected 0x80070002\n",
       (unsigned)hr);
}
