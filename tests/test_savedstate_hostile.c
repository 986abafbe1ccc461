/*
 * Hostile dumps: truncated, empty, wrong magic, offsets past the end,
 * overlapping segments, huge counts, a bitmap longer than the file, corrupt
 * pages, and random byte flips — made from the real QEMU fixtures. Each must
 * give an error HRESULT (never S_OK with made-up memory), and under ASan
 * nothing may read out of bounds. Where a format only finds the damage when
 * the page is read (kdump page data), the read must fail instead.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "unit.h"
#include "savedstate_fx.h"

#define BAD_FORMAT HRESULT_FROM_WIN32(ERROR_BAD_FORMAT)

static char dir[64];

static const char *tmp(const char *name)
{
    static char b[4][128];
    static int n;
    char *p = b[n++ % 4];
    snprintf(p, 128, "%s/%s", dir, name);
    return p;
}

static void put(const char *path, const void *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, buf, len) != (ssize_t)len)
        CU_FAIL("cannot write a test file");
    close(fd);
}

static void patch(const char *path, uint64_t off, const void *b, size_t n)
{
    int fd = open(path, O_WRONLY);
    if (fd < 0 || pwrite(fd, b, n, (off_t)off) != (ssize_t)n)
        CU_FAIL("cannot patch a test file");
    close(fd);
}

/*
 * Loads and, on success, exercises everything: every chunk (sampled), the
 * raw memory ends, registers, a VA walk. Returns the load HRESULT; *read_fail
 * tells whether any read failed.
 */
static HRESULT exercise(const char *path, const char *layout, bool raw, bool *read_fail)
{
    VM_SAVED_STATE_DUMP_HANDLE h;
    HRESULT hr = raw ? winmem_LoadSavedStateFilesUtf8(path, layout, &h) : winmem_LoadSavedStateFileUtf8(path, &h);
    *read_fail = false;
    if (hr != S_OK)
        return hr;
    static uint8_t b[1 << 16];
    UINT64 n = 0, ps;
    GetGuestPhysicalMemoryChunks(h, &ps, NULL, &n);
    GPA_MEMORY_CHUNK *c = calloc(n ? n : 1, sizeof *c);
    if (GetGuestPhysicalMemoryChunks(h, &ps, c, &n) != S_OK)
        *read_fail = true;
    for (UINT64 i = 0; i < n; i++) {
        uint64_t base = c[i].GuestPhysicalStartPageIndex * 4096, len = c[i].PageCount * 4096;
        /* Sampled: whole reads of big chunks would make 1000 mutations slow. */
        for (uint64_t o = 0; o < len; o += len > (1 << 20) ? (len / 16 & ~0xfffULL) + 4096 : sizeof b) {
            UINT32 got = 0;
            if (ReadGuestPhysicalAddress(h, base + o, b, sizeof b, &got) != S_OK || !got)
                *read_fail = true;
        }
        UINT32 got;
        if (len >= 4096 && ReadGuestPhysicalAddress(h, base + len - 4096, b, 4096, &got) != S_OK)
            *read_fail = true;
    }
    UINT64 size = 0;
    UINT32 got, vps = 0;
    GetGuestRawSavedMemorySize(h, &size);
    if (size && ReadGuestRawSavedMemory(h, size - 1, b, 16, &got) != S_OK)
        *read_fail = true;
    GetVpCount(h, &vps);
    for (UINT32 v = 0; v < vps && v < 4; v++) {
        VIRTUAL_PROCESSOR_REGISTER r;
        UINT64 pa;
        PAGING_MODE m;
        for (DWORD id = 0; id < X64_RegisterMax; id++)
            GetRegisterValue(h, v, id, &r);
        GetPagingMode(h, v, &m);
        GuestVirtualAddressToPhysicalAddress(h, v, 0xffffffffc0000010ULL, &pa, NULL);
        GuestVirtualAddressToPhysicalAddress(h, v, 0x3008, &pa, NULL);
    }
    free(c);
    CU_ASSERT_EQUAL(ReleaseSavedStateFiles(h), S_OK);
    return hr;
}

static HRESULT load(const char *path)
{
    bool rf;
    return exercise(path, NULL, false, &rf);
}

static uint8_t *copy_fixture(const char *name, const char *to, size_t *len)
{
    uint8_t *b = fx_slurp(fx(name), len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    put(tmp(to), b, *len);
    return b;
}

static void test_empty_and_magic(void)
{
    put(tmp("empty"), "", 0);
    CU_ASSERT_EQUAL(load(tmp("empty")), BAD_FORMAT);
    bool rf;
    CU_ASSERT_EQUAL(exercise(tmp("empty"), NULL, true, &rf), BAD_FORMAT);
    put(tmp("junk"), "hello, not a dump\n", 18);
    CU_ASSERT_EQUAL(load(tmp("junk")), BAD_FORMAT);

    struct { const char *fixture; size_t off; uint8_t val; } m[] = {
        { "lm16.kdump-zlib", 0, 'n' },       /* "makedumpfile" */
        { "lm16.kdump-zlib", 23, 2 },        /* flattened type (BE) */
        { "lm16.kdump-zlib", 4096 + 16, 'X' },  /* the KDUMP header inside the first record */
        { "lm16.kdump", 4, 'Q' },            /* "KDUMP   " */
        { "lm16.lime", 0, 'X' },
        { "lm16.lime", 4, 2 },               /* version */
    };
    for (size_t i = 0; i < sizeof m / sizeof *m; i++) {
        size_t len;
        uint8_t *b = fx_slurp(fx(m[i].fixture), &len);
        CU_ASSERT_PTR_NOT_NULL_FATAL(b);
        b[m[i].off] = m[i].val;
        put(tmp("magic"), b, len);
        free(b);
        HRESULT hr = load(tmp("magic"));
        if (hr != BAD_FORMAT)
            fprintf(stderr, "magic case %zu: %#x\n", i, (unsigned)hr);
        CU_ASSERT_EQUAL(hr, BAD_FORMAT);
    }
    /* ELF (16 MiB): patch in place, restore after. */
    size_t len;
    free(copy_fixture("lm16.elf", "m.elf", &len));
    for (int i = 0; i < 4; i++) {
        uint8_t orig[4] = { 0x7f, 'E', 'L', 'F' }, bad = orig[i] ^ 0x20;
        patch(tmp("m.elf"), i, &bad, 1);
        CU_ASSERT_EQUAL(load(tmp("m.elf")), BAD_FORMAT);
        patch(tmp("m.elf"), i, &orig[i], 1);
    }
    uint16_t et = 1;   /* ET_REL: not a core */
    patch(tmp("m.elf"), 16, &et, 2);
    CU_ASSERT_EQUAL(load(tmp("m.elf")), BAD_FORMAT);
    unlink(tmp("m.elf"));
}

/* Cuts a file at each size (largest first, on one copy): every cut fails to
 * load, or (kdump page data) fails when read. */
static void truncations(const char *fixture, bool load_must_fail)
{
    size_t len;
    free(copy_fixture(fixture, "trunc", &len));
    uint64_t cuts[] = { len - 1, len - 16, len / 2, 0x10100, 0x8e0 + 100, 8192, 0x8e0, 4097, 4096, 4095,
                        0x300, 0x100, 64, 63, 33, 32, 31, 12, 4, 1 };
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        if (cuts[i] >= len || (i && cuts[i] >= cuts[i - 1]))
            continue;
        CU_ASSERT_EQUAL_FATAL(truncate(tmp("trunc"), (off_t)cuts[i]), 0);
        bool rf;
        HRESULT hr = exercise(tmp("trunc"), NULL, false, &rf);
        bool ok = load_must_fail ? FAILED(hr) : (FAILED(hr) || rf);
        if (!ok)
            fprintf(stderr, "%s cut at %#llx: load %#x, read failure %d\n", fixture,
                    (unsigned long long)cuts[i], (unsigned)hr, rf);
        CU_ASSERT(ok);
    }
    unlink(tmp("trunc"));
}

static void test_truncated(void)
{
    truncations("lm16.elf", true);
    truncations("lm16-paging.elf", true);
    truncations("lm16.lime", true);
    truncations("lm16.kdump-zlib", true);   /* the -1/-1 terminator goes first */
    truncations("lm16.kdump", false);       /* page data is only looked at when read */
    truncations("t24.kdump", false);
}

static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static void test_elf_segments(void)
{
    size_t len;
    uint8_t *b = copy_fixture("lm16.elf", "seg.elf", &len);
    uint64_t phoff = rd64(b + 32);
    uint16_t phentsize, phnum;
    memcpy(&phentsize, b + 54, 2);
    memcpy(&phnum, b + 56, 2);
    CU_ASSERT_FATAL(phnum >= 3 && phentsize == 56);
    /* phdr[1] is the first PT_LOAD: p_offset @8, p_paddr @24, p_filesz @32. */
    uint64_t ph1 = phoff + 56, ph2 = phoff + 112;
    struct { uint64_t where; uint64_t val; const char *what; } m[] = {
        { ph1 + 8, 0xFFFFFFFFFFFF0000ULL, "p_offset far past the end" },
        { ph1 + 8, len - 10, "p_offset near the end" },
        { ph1 + 32, 0x7FFFFFFFFFFFFFFFULL, "huge p_filesz" },
        { ph1 + 24, 0xFFFFFFFFFFFFF000ULL, "p_paddr + p_filesz wraps" },
        { ph2 + 24, 0x1000, "overlaps the first PT_LOAD at another file offset" },
    };
    for (size_t i = 0; i < sizeof m / sizeof *m; i++) {
        uint8_t orig[8];
        memcpy(orig, b + m[i].where, 8);
        patch(tmp("seg.elf"), m[i].where, &m[i].val, 8);
        HRESULT hr = load(tmp("seg.elf"));
        if (hr != BAD_FORMAT)
            fprintf(stderr, "ELF %s: %#x\n", m[i].what, (unsigned)hr);
        CU_ASSERT_EQUAL(hr, BAD_FORMAT);
        patch(tmp("seg.elf"), m[i].where, orig, 8);
    }
    CU_ASSERT_EQUAL(load(tmp("seg.elf")), S_OK);   /* restored: loads again */

    /* Huge program-header counts: e_phnum just under PN_XNUM, and PN_XNUM with sh_info huge. */
    uint16_t big = 0xfffe, xnum = 0xffff;
    uint32_t huge = 0xffffffffu;
    patch(tmp("seg.elf"), 56, &big, 2);
    CU_ASSERT_EQUAL(load(tmp("seg.elf")), BAD_FORMAT);
    uint64_t shoff = rd64(b + 40);
    patch(tmp("seg.elf"), 56, &xnum, 2);
    patch(tmp("seg.elf"), shoff + 44, &huge, 4);
    CU_ASSERT_EQUAL(load(tmp("seg.elf")), BAD_FORMAT);
    patch(tmp("seg.elf"), 56, &phnum, 2);

    /* A note claiming more bytes than its segment: phdr[0] is PT_NOTE. */
    uint64_t note_off = rd64(b + phoff + 8);
    uint32_t descsz = 0x7ffffff0;
    patch(tmp("seg.elf"), note_off + 4, &descsz, 4);
    CU_ASSERT_EQUAL(load(tmp("seg.elf")), BAD_FORMAT);
    free(b);
    unlink(tmp("seg.elf"));
}

static void test_lime_ranges(void)
{
    size_t len;
    uint8_t *b = fx_slurp(fx("lm16.lime"), &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    uint64_t s0 = rd64(b + 8), e0 = rd64(b + 16), second = 32 + (e0 - s0 + 1);
    struct { uint64_t where, val; } m[] = {
        { 16, 0xFFFFFFFFFFFFFFFFULL },        /* end at 2^64-1: huge */
        { 16, 0x7FFFFFFFFFFFULL },            /* range longer than the file */
        { 8, e0 + 1 },                        /* start after end */
        { second + 8, 0x1000 },               /* overlaps the first range */
    };
    for (size_t i = 0; i < sizeof m / sizeof *m; i++) {
        uint8_t *c = malloc(len);
        memcpy(c, b, len);
        memcpy(c + m[i].where, &m[i].val, 8);
        put(tmp("l.lime"), c, len);
        free(c);
        CU_ASSERT_EQUAL(load(tmp("l.lime")), BAD_FORMAT);
    }
    free(b);
}

/* Offsets inside the standard kdump layout (64-bit disk_dump_header). */
struct kd_layout { uint32_t bs, sub_blocks, bm_blocks; uint64_t desc_off; };

static struct kd_layout kd_of(const uint8_t *b)
{
    struct kd_layout k;
    memcpy(&k.bs, b + 428, 4);
    memcpy(&k.sub_blocks, b + 432, 4);
    memcpy(&k.bm_blocks, b + 436, 4);
    k.desc_off = (1ULL + k.sub_blocks + k.bm_blocks) * k.bs;
    return k;
}

static void test_kdump_fields(void)
{
    size_t len;
    uint8_t *b = fx_slurp(fx("lm16.kdump"), &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    struct kd_layout k = kd_of(b);
    CU_ASSERT_EQUAL_FATAL(k.bs, 4096);
    uint32_t too_long = (uint32_t)(len / 4096 + 2) & ~1u, huge = 0xfffffffe, odd = 3, bs = 512, zero = 0;
    uint64_t huge64 = 0x7fffffffffffffffULL;
    struct { uint64_t where; const void *val; size_t n; const char *what; } m[] = {
        { 436, &too_long, 4, "bitmap longer than the file" },
        { 436, &huge, 4, "huge bitmap_blocks" },
        { 436, &odd, 4, "odd bitmap_blocks" },
        { 436, &zero, 4, "no bitmap" },
        { 428, &bs, 4, "block size not 4096" },
        { 428, &zero, 4, "block size 0" },
        { 432, &huge, 4, "huge sub-header" },
        { 4096 + 48, &huge64, 8, "notes offset past the end" },
        { 4096 + 56, &huge64, 8, "huge notes size" },
    };
    for (size_t i = 0; i < sizeof m / sizeof *m; i++) {
        uint8_t *c = malloc(len);
        memcpy(c, b, len);
        memcpy(c + m[i].where, m[i].val, m[i].n);
        put(tmp("k.kdump"), c, len);
        free(c);
        HRESULT hr = load(tmp("k.kdump"));
        if (!FAILED(hr))
            fprintf(stderr, "kdump %s: %#x\n", m[i].what, (unsigned)hr);
        CU_ASSERT(FAILED(hr));
    }
    /* A bitmap with every bit set: more pages than descriptors. */
    uint8_t *c = malloc(len);
    memcpy(c, b, len);
    memset(c + (1 + k.sub_blocks) * 4096ULL, 0xff, (size_t)k.bm_blocks * 4096);
    put(tmp("k.kdump"), c, len);
    CU_ASSERT_EQUAL(load(tmp("k.kdump")), BAD_FORMAT);

    /* Corrupt page descriptors: the page read fails, nothing else does. */
    struct { uint64_t field; uint64_t val; size_t n; } pd[] = {
        { 8, 5000, 4 },                   /* size > block size */
        { 8, 0, 4 },                      /* size 0 */
        { 0, 0x7fffffff0000ULL, 8 },      /* data past the end */
        { 0, 0xffffffffffff0000ULL, 8 },  /* negative offset */
        { 0, 0, 8 },                      /* "compressed" data = the header: not zlib */
    };
    for (size_t i = 0; i < sizeof pd / sizeof *pd; i++) {
        memcpy(c, b, len);
        memcpy(c + k.desc_off + pd[i].field, &pd[i].val, pd[i].n);   /* descriptor of pfn 0 */
        put(tmp("k.kdump"), c, len);
        VM_SAVED_STATE_DUMP_HANDLE h;
        CU_ASSERT_EQUAL_FATAL(winmem_LoadSavedStateFileUtf8(tmp("k.kdump"), &h), S_OK);
        uint8_t page[4096];
        UINT32 got = 7;
        HRESULT hr = ReadGuestPhysicalAddress(h, 0, page, sizeof page, &got);
        if (!FAILED(hr))
            fprintf(stderr, "page descriptor case %zu: %#x\n", i, (unsigned)hr);
        CU_ASSERT(FAILED(hr));
        CU_ASSERT_EQUAL(got, 0);
        CU_ASSERT_EQUAL(ReadGuestPhysicalAddress(h, 0x1000, page, sizeof page, &got), S_OK);
        CU_ASSERT(fx_pattern_ok(page, 0x1000, got));
        ReleaseSavedStateFiles(h);
    }
    free(c);
    free(b);
}

static void test_flattened_records(void)
{
    size_t len;
    uint8_t *b = fx_slurp(fx("lm16.kdump-zlib"), &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    /* The first record header is at 4096: {BE offset, BE size}. */
    struct { uint64_t where; uint64_t be; } m[] = {
        { 4096 + 8, 0x7fffffffffffffffULL },   /* size far past the end */
        { 4096 + 8, 0xffffffffffff0000ULL },   /* negative size */
        { 4096, 0x8000000000000000ULL },       /* negative offset */
    };
    for (size_t i = 0; i < sizeof m / sizeof *m; i++) {
        uint8_t *c = malloc(len);
        memcpy(c, b, len);
        uint64_t v = htobe64(m[i].be);
        memcpy(c + m[i].where, &v, 8);
        put(tmp("f.kdump"), c, len);
        free(c);
        CU_ASSERT_EQUAL(load(tmp("f.kdump")), BAD_FORMAT);
    }
    free(b);
}

static void test_raw_layouts(void)
{
    const char *bad[] = {
        "0x0 0x0\n",                          /* empty range */
        "0x0 0x100000000000\n",               /* longer than the image */
        "zero 0x1000\n",
        "0x0 0x1000 extra\n",
        "# nothing\n",
        "0x1000 0x2000\n0x2000 0x1000\n",     /* overlap at another offset */
        "0xffffffffffffffff 0x2000\n",        /* wraps */
    };
    put(tmp("img"), (uint8_t[16384]){ 0 }, 16384);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        put(tmp("layout"), bad[i], strlen(bad[i]));
        bool rf;
        HRESULT hr = exercise(tmp("img"), tmp("layout"), true, &rf);
        if (hr != BAD_FORMAT)
            fprintf(stderr, "layout %zu: %#x\n", i, (unsigned)hr);
        CU_ASSERT_EQUAL(hr, BAD_FORMAT);
    }
    const char *good = "0x100000 0x1000\n  # two ranges\n0x0 12288\n";
    put(tmp("layout"), good, strlen(good));
    bool rf;
    CU_ASSERT_EQUAL(exercise(tmp("img"), tmp("layout"), true, &rf), S_OK);
    CU_ASSERT(!rf);
}

/* Random byte flips in the headers of each format: any HRESULT, no crash. */
static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t next(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng;
}

static void flips(const char *fixture, size_t span, int rounds)
{
    size_t len;
    uint8_t *b = copy_fixture(fixture, "flip", &len);
    if (span > len)
        span = len;
    int loaded = 0;
    for (int r = 0; r < rounds; r++) {
        size_t at[4];
        uint8_t orig[4];
        int n = 1 + (int)(next() % 4);
        for (int i = 0; i < n; i++) {
            at[i] = next() % span;
            orig[i] = b[at[i]];
            uint8_t v = (uint8_t)next();
            patch(tmp("flip"), at[i], &v, 1);
        }
        bool rf;
        loaded += exercise(tmp("flip"), NULL, false, &rf) == S_OK;
        for (int i = n - 1; i >= 0; i--)
            patch(tmp("flip"), at[i], &orig[i], 1);
    }
    printf("  %s: %d of %d flipped copies still load\n", fixture, loaded, rounds);
    free(b);
    unlink(tmp("flip"));
}

static void test_flips(void)
{
    flips("lm16.elf", 0x8e0, 150);
    flips("lm16.kdump-zlib", 0x8000, 150);
    flips("lm16.kdump", 0x20000, 150);
    flips("lm16.lime", 64, 100);
}

static int setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/wm-hostile.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int cleanup(void)
{
    const char *names[] = { "empty", "junk", "magic", "img", "layout", "l.lime", "k.kdump", "f.kdump" };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        unlink(tmp(names[i]));
    return rmdir(dir);
}

void wm_register_tests(void)
{
    CU_pSuite s = wm_suite("savedstate-hostile", setup, cleanup);
    WM_TEST(s, test_empty_and_magic);
    WM_TEST(s, test_truncated);
    WM_TEST(s, test_elf_segments);
    WM_TEST(s, test_lime_ranges);
    WM_TEST(s, test_kdump_fields);
    WM_TEST(s, test_flattened_records);
    WM_TEST(s, test_raw_layouts);
    WM_TEST(s, test_flips);
}
