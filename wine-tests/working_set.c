/*
 * wine-tests/working_set.c — MemoryWorkingSetExInformation and psapi's
 * QueryWorkingSetEx: which pages are resident (Valid), with what protection,
 * shared or not, answered in the caller's order.
 *
 * Windows: a page is Valid only once touched; PAGE_NOACCESS pages are never
 * Valid, and after access is restored a page stays not Valid until touched
 * again; the exe header page is Valid, read-only and Shared with ShareCount
 * > 0; Node and LargePage are 0 for ordinary pages; ShareCount is 0 unless
 * the page is Valid and Shared.
 */
#include "wt.h"

typedef MEMORY_WORKING_SET_EX_INFORMATION WSINFO;

/* One page through NtQueryVirtualMemory; returns the status. */
static NTSTATUS ws_query(void *addr, WSINFO *info)
{
    SIZE_T len = 0;
    memset(info, 0, sizeof(*info));
    info->VirtualAddress = addr;
    NTSTATUS st = NtQueryVirtualMemory(GetCurrentProcess(), NULL, MemoryWorkingSetExInformation,
                                       info, sizeof(*info), &len);
    ok(st == STATUS_SUCCESS, "NtQueryVirtualMemory(WorkingSetEx, %p) status %#x, expected STATUS_SUCCESS (0)\n",
       addr, (unsigned)st);
    if (st == STATUS_SUCCESS)
        ok(len == sizeof(*info), "ReturnLength %llu, expected %llu\n", (unsigned long long)len,
           (unsigned long long)sizeof(*info));
    return st;
}

/* The fields that never depend on residency. */
static void check_plain(const char *what, const WSINFO *i)
{
    ok(i->VirtualAttributes.Node == 0, "%s: Node %u, expected 0\n", what, (unsigned)i->VirtualAttributes.Node);
    ok(i->VirtualAttributes.LargePage == 0, "%s: LargePage %u, expected 0\n", what,
       (unsigned)i->VirtualAttributes.LargePage);
    if (!i->VirtualAttributes.Valid || !i->VirtualAttributes.Shared)
        ok(i->VirtualAttributes.ShareCount == 0, "%s: ShareCount %u, expected 0 (not Valid and Shared)\n",
           what, (unsigned)i->VirtualAttributes.ShareCount);
}

START_TEST(working_set)
{
    WSINFO info, many[3];
    SIZE_T len;
    NTSTATUS st;

    wt_section("length_zero");
    len = 0xdeadbeef;
    memset(&info, 0, sizeof(info));
    info.VirtualAddress = wt_image_base();
    st = NtQueryVirtualMemory(GetCurrentProcess(), NULL, MemoryWorkingSetExInformation, &info, 0, &len);
    ok(st == STATUS_INFO_LENGTH_MISMATCH, "length 0: status %#x, expected STATUS_INFO_LENGTH_MISMATCH (0xc0000004)\n",
       (unsigned)st);
    ok(len == 0xdeadbeef, "length 0: ReturnLength %#llx, expected untouched 0xdeadbeef\n", (unsigned long long)len);
    /* One and a half entries: Windows answers the whole one and ignores the rest. */
    wt_section("length_partial");
    memset(many, 0, sizeof(many));
    many[0].VirtualAddress = wt_image_base();
    st = NtQueryVirtualMemory(GetCurrentProcess(), NULL, MemoryWorkingSetExInformation, many,
                              sizeof(WSINFO) + sizeof(WSINFO) / 2, &len);
    ok(st == STATUS_SUCCESS, "1.5 entries: status %#x, expected STATUS_SUCCESS (0)\n", (unsigned)st);

    wt_section("null");
    if (ws_query(NULL, &info) == STATUS_SUCCESS) {
        ok(!info.VirtualAttributes.Valid, "NULL: Valid %u, expected 0\n", (unsigned)info.VirtualAttributes.Valid);
        check_plain("NULL", &info);
    }

    wt_section("image_header");
    if (ws_query(wt_image_base(), &info) == STATUS_SUCCESS) {
        ok(info.VirtualAttributes.Valid, "exe header: Valid 0, expected 1\n");
        ok(info.VirtualAttributes.Win32Protection == PAGE_READONLY,
           "exe header: Win32Protection %#x, expected PAGE_READONLY (0x2)\n",
           (unsigned)info.VirtualAttributes.Win32Protection);
        check_plain("exe header", &info);
    }

    /* A file page every process maps: Windows counts its sharers. */
    wt_section("image_header_shared");
    if (ws_query(wt_image_base(), &info) == STATUS_SUCCESS) {
        ok(info.VirtualAttributes.Shared, "exe header: Shared 0, expected 1\n");
        ok(info.VirtualAttributes.ShareCount > 0, "exe header: ShareCount 0, expected > 0\n");
    }

    wt_section("fresh");
    char *p = VirtualAlloc(NULL, 0x10000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    ok(p != NULL, "VirtualAlloc failed, error %u\n", (unsigned)GetLastError());
    if (!p)
        return;
    if (ws_query(p, &info) == STATUS_SUCCESS) {
        ok(!info.VirtualAttributes.Valid, "untouched page: Valid 1, expected 0\n");
        ok(!info.VirtualAttributes.Shared, "untouched page: Shared 1, expected 0\n");
        check_plain("untouched page", &info);
    }
    p[0] = 1;
    if (ws_query(p, &info) == STATUS_SUCCESS) {
        ok(info.VirtualAttributes.Valid, "touched page: Valid 0, expected 1\n");
        ok(info.VirtualAttributes.Win32Protection == PAGE_READWRITE,
           "touched page: Win32Protection %#x, expected PAGE_READWRITE (0x4)\n",
           (unsigned)info.VirtualAttributes.Win32Protection);
        ok(!info.VirtualAttributes.Shared, "touched private page: Shared 1, expected 0\n");
        check_plain("touched page", &info);
    }

    wt_section("noaccess");
    DWORD old;
    p[0x1000] = 1;
    ok(VirtualProtect(p + 0x1000, 0x1000, PAGE_NOACCESS, &old), "VirtualProtect(NOACCESS) failed, error %u\n",
       (unsigned)GetLastError());
    if (ws_query(p + 0x1000, &info) == STATUS_SUCCESS)
        ok(!info.VirtualAttributes.Valid, "PAGE_NOACCESS page: Valid 1, expected 0\n");

    /* Restoring access does not bring the page back into the working set. */
    wt_section("noaccess_restored");
    ok(VirtualProtect(p + 0x1000, 0x1000, PAGE_READWRITE, &old), "VirtualProtect(READWRITE) failed, error %u\n",
       (unsigned)GetLastError());
    if (ws_query(p + 0x1000, &info) == STATUS_SUCCESS)
        ok(!info.VirtualAttributes.Valid, "restored page before a touch: Valid 1, expected 0\n");
    p[0x1000] = 2;
    if (ws_query(p + 0x1000, &info) == STATUS_SUCCESS)
        ok(info.VirtualAttributes.Valid, "restored page after a touch: Valid 0, expected 1\n");

    wt_section("order");
    memset(many, 0, sizeof(many));
    many[0].VirtualAddress = p + 0x2000;   /* untouched */
    many[1].VirtualAddress = p;            /* touched */
    many[2].VirtualAddress = NULL;
    st = NtQueryVirtualMemory(GetCurrentProcess(), NULL, MemoryWorkingSetExInformation, many, sizeof(many), &len);
    ok(st == STATUS_SUCCESS, "3 entries: status %#x, expected STATUS_SUCCESS (0)\n", (unsigned)st);
    ok(many[0].VirtualAddress == p + 0x2000 && many[1].VirtualAddress == p && many[2].VirtualAddress == NULL,
       "VirtualAddress changed: %p %p %p, expected %p %p NULL\n", many[0].VirtualAddress,
       many[1].VirtualAddress, many[2].VirtualAddress, p + 0x2000, p);
    ok(!many[0].VirtualAttributes.Valid && many[1].VirtualAttributes.Valid && !many[2].VirtualAttributes.Valid,
       "Valid %u %u %u, expected 0 1 0 (in the caller's order)\n", (unsigned)many[0].VirtualAttributes.Valid,
       (unsigned)many[1].VirtualAttributes.Valid, (unsigned)many[2].VirtualAttributes.Valid);

    wt_section("psapi");
    PSAPI_WORKING_SET_EX_INFORMATION pi[2];
    memset(pi, 0, sizeof(pi));
    pi[0].VirtualAddress = p;
    pi[1].VirtualAddress = p + 0x3000;
    ok(QueryWorkingSetEx(GetCurrentProcess(), pi, sizeof(pi)), "QueryWorkingSetEx failed, error %u, expected TRUE\n",
       (unsigned)GetLastError());
    ok(pi[0].VirtualAttributes.Valid, "QueryWorkingSetEx touched page: Valid 0, expected 1\n");
    ok(pi[0].VirtualAttributes.Win32Protection == PAGE_READWRITE,
       "QueryWorkingSetEx touched page: Win32Protection %#x, expected PAGE_READWRITE (0x4)\n",
       (unsigned)pi[0].VirtualAttributes.Win32Protection);
    ok(!pi[1].VirtualAttributes.Valid, "QueryWorkingSetEx untouched page: Valid 1, expected 0\n");

    wt_section("freed");
    ok(VirtualFree(p, 0, MEM_RELEASE), "VirtualFree failed, error %u\n", (unsigned)GetLastError());
    if (ws_query(p, &info) == STATUS_SUCCESS) {
        ok(!info.VirtualAttributes.Valid, "freed page: Valid 1, expected 0\n");
        check_plain("freed page", &info);
    }
}
