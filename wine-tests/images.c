/*
 * wine-tests/images.c — what VirtualQuery says about the program's own image,
 * its heap and its stack. The same code runs on a PE image (pe, winelib) and
 * on an ELF image (native): each section of the image is found through an
 * object that lives in it (a function, a const table, an initialised
 * variable, a zeroed one), so no section table has to be parsed.
 *
 * Windows: the header is one PAGE_READONLY page at the module base; every
 * section reports AllocationBase = module base, Type MEM_IMAGE and
 * AllocationProtect PAGE_EXECUTE_WRITECOPY; code is PAGE_EXECUTE_READ,
 * read-only data PAGE_READONLY, data and .bss PAGE_READWRITE or
 * PAGE_WRITECOPY. Heap and stack memory is MEM_COMMIT PAGE_READWRITE.
 */
#include "wt.h"

/* Not volatile: a const volatile object lands in .data. Taking the address
 * keeps each object alive in its own section. */
static const char rodata_table[64] = "read-only data lives in .rdata/.rodata";
static volatile int data_word = 42;
static volatile char bss_block[256];

static int __attribute__((noinline)) code_marker(int x) { return x * 3 + data_word; }

/* Checks shared by every part of the image. */
static void check_image_part(const char *what, const void *addr, void *base)
{
    MEMORY_BASIC_INFORMATION mbi;
    if (!wt_query(addr, &mbi))
        return;
    ok(mbi.AllocationBase == base, "%s: AllocationBase %p, expected the image base %p\n",
       what, mbi.AllocationBase, base);
    ok(mbi.Type == MEM_IMAGE, "%s: Type %#x, expected MEM_IMAGE (0x1000000)\n", what, (unsigned)mbi.Type);
    ok(mbi.State == MEM_COMMIT, "%s: State %#x, expected MEM_COMMIT (0x1000)\n", what, (unsigned)mbi.State);
    ok(mbi.AllocationProtect == PAGE_EXECUTE_WRITECOPY,
       "%s: AllocationProtect %#x, expected PAGE_EXECUTE_WRITECOPY (0x80)\n", what,
       (unsigned)mbi.AllocationProtect);
    ok((char *)mbi.BaseAddress <= (char *)addr &&
       (char *)addr < (char *)mbi.BaseAddress + mbi.RegionSize,
       "%s: region %p+%#llx does not hold %p\n", what, mbi.BaseAddress,
       (unsigned long long)mbi.RegionSize, addr);
}

static DWORD protect_of(const void *addr)
{
    MEMORY_BASIC_INFORMATION mbi;
    return wt_query(addr, &mbi) ? mbi.Protect : 0;
}

START_TEST(images)
{
    void *base = wt_image_base();
    MEMORY_BASIC_INFORMATION mbi;

    wt_section("header");
    check_image_part("header", base, base);
    if (wt_query(base, &mbi)) {
        ok(mbi.BaseAddress == base, "BaseAddress %p, expected the image base %p\n", mbi.BaseAddress, base);
        ok(mbi.Protect == PAGE_READONLY, "header Protect %#x, expected PAGE_READONLY (0x2)\n",
           (unsigned)mbi.Protect);
    }

    /* PE headers fill exactly one page; an ELF's first segment holds its
     * headers together with whatever read-only data the linker put there. */
    wt_section("header_size");
    if (wt_query(base, &mbi))
        ok(mbi.RegionSize == 0x1000, "header RegionSize %#llx, expected 0x1000 (one page)\n",
           (unsigned long long)mbi.RegionSize);

    wt_section("code");
    check_image_part("code", (const void *)code_marker, base);
    ok(protect_of((const void *)code_marker) == PAGE_EXECUTE_READ,
       "code Protect %#x, expected PAGE_EXECUTE_READ (0x20)\n", (unsigned)protect_of((const void *)code_marker));
    ok(code_marker(1) == 45, "code_marker(1) = %d, expected 45\n", code_marker(1));

    wt_section("rodata");
    check_image_part("rodata", (const void *)rodata_table, base);
    ok(protect_of((const void *)rodata_table) == PAGE_READONLY,
       "read-only data Protect %#x, expected PAGE_READONLY (0x2)\n",
       (unsigned)protect_of((const void *)rodata_table));

    wt_section("data");
    data_word++;   /* written: Windows then shows PAGE_READWRITE, before maybe PAGE_WRITECOPY */
    check_image_part("data", (const void *)&data_word, base);
    DWORD p = protect_of((const void *)&data_word);
    ok(p == PAGE_READWRITE || p == PAGE_WRITECOPY,
       "data Protect %#x, expected PAGE_READWRITE (0x4) or PAGE_WRITECOPY (0x8)\n", (unsigned)p);

    wt_section("bss");
    bss_block[10] = 1;
    check_image_part("bss", (const void *)bss_block, base);
    p = protect_of((const void *)bss_block);
    ok(p == PAGE_READWRITE || p == PAGE_WRITECOPY,
       ".bss Protect %#x, expected PAGE_READWRITE (0x4) or PAGE_WRITECOPY (0x8)\n", (unsigned)p);

    wt_section("heap");
    char *h = malloc(100);
    h[0] = 1;
    if (wt_query(h, &mbi)) {
        ok(mbi.State == MEM_COMMIT, "heap State %#x, expected MEM_COMMIT (0x1000)\n", (unsigned)mbi.State);
        ok(mbi.Protect == PAGE_READWRITE, "heap Protect %#x, expected PAGE_READWRITE (0x4)\n",
           (unsigned)mbi.Protect);
        ok(mbi.Type == MEM_PRIVATE, "heap Type %#x, expected MEM_PRIVATE (0x20000)\n", (unsigned)mbi.Type);
    }
    free(h);

    wt_section("stack");
    volatile int local = 7;
    if (wt_query((const void *)&local, &mbi)) {
        ok(mbi.State == MEM_COMMIT, "stack State %#x, expected MEM_COMMIT (0x1000)\n", (unsigned)mbi.State);
        ok(mbi.Protect == PAGE_READWRITE, "stack Protect %#x, expected PAGE_READWRITE (0x4)\n",
           (unsigned)mbi.Protect);
        ok(mbi.Type == MEM_PRIVATE, "stack Type %#x, expected MEM_PRIVATE (0x20000)\n", (unsigned)mbi.Type);
    }
}
