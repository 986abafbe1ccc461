/*
 * tests/fuzz/fuzz_common.h — what the dump-parser fuzzers share: the input
 * becomes a file (memfd, opened by path like any dump), then every API
 * function is exercised on whatever loaded. libFuzzer + ASan/UBSan find any
 * out-of-bounds read or crash; the API's answer itself is not judged here.
 */
#ifndef WINMEM_FUZZ_COMMON_H
#define WINMEM_FUZZ_COMMON_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "winmem/vmsavedstatedump.h"

/* A memfd holding prefix + data; *path names it. Returns the fd or -1. */
static int fuzz_file(const char *prefix, size_t plen, const uint8_t *data, size_t size, char path[64])
{
    int fd = memfd_create("dump", 0);
    if (fd < 0)
        return -1;
    if ((plen && write(fd, prefix, plen) != (ssize_t)plen) || (size && write(fd, data, size) != (ssize_t)size)) {
        close(fd);
        return -1;
    }
    snprintf(path, 64, "/proc/self/fd/%d", fd);
    return fd;
}

static void fuzz_exercise(VM_SAVED_STATE_DUMP_HANDLE h)
{
    static uint8_t buf[3 * 4096];
    UINT64 n = 0, ps, raw = 0, off;
    UINT32 got, vps = 0;
    GetGuestPhysicalMemoryChunks(h, &ps, NULL, &n);
    GPA_MEMORY_CHUNK c[8];
    if (n > 8)
        n = 8;
    if (GetGuestPhysicalMemoryChunks(h, &ps, c, &n) == S_OK)
        for (UINT64 i = 0; i < n; i++) {
            UINT64 a = c[i].GuestPhysicalStartPageIndex * 4096;
            ReadGuestPhysicalAddress(h, a, buf, sizeof buf, &got);
            ReadGuestPhysicalAddress(h, a + c[i].PageCount * 4096 - 100, buf, sizeof buf, &got);
            GuestPhysicalAddressToRawSavedMemoryOffset(h, a + 5, &off);
        }
    GetGuestRawSavedMemorySize(h, &raw);
    ReadGuestRawSavedMemory(h, 0, buf, sizeof buf, &got);
    if (raw)
        ReadGuestRawSavedMemory(h, raw - 1, buf, sizeof buf, &got);
    GetVpCount(h, &vps);
    for (UINT32 v = 0; v < vps && v < 4; v++) {
        VIRTUAL_PROCESSOR_REGISTER r;
        VIRTUAL_PROCESSOR_ARCH a;
        PAGING_MODE m;
        BOOL k;
        UINT64 pa, un;
        for (DWORD id = 0; id < X64_RegisterMax; id++)
            GetRegisterValue(h, v, id, &r);
        GetArchitecture(h, v, &a);
        GetPagingMode(h, v, &m);
        InKernelSpace(h, v, &k);
        GuestVirtualAddressToPhysicalAddress(h, v, 0xffffffffc0000010ULL, &pa, &un);
        GuestVirtualAddressToPhysicalAddress(h, v, 0x3008, &pa, &un);
        ForcePagingMode(h, v, Paging_Pae);
        GuestVirtualAddressToPhysicalAddress(h, v, 0x3008, &pa, &un);
        ForcePagingMode(h, v, Paging_32Bit);
        GuestVirtualAddressToPhysicalAddress(h, v, 0x3008, &pa, &un);
    }
}

/* Loads prefix+data as a dump file and exercises it. */
static void fuzz_dump(const char *prefix, size_t plen, const uint8_t *data, size_t size)
{
    char path[64];
    int fd = fuzz_file(prefix, plen, data, size, path);
    if (fd < 0)
        return;
    VM_SAVED_STATE_DUMP_HANDLE h;
    if (winmem_LoadSavedStateFileUtf8(path, &h) == S_OK) {
        fuzz_exercise(h);
        ReleaseSavedStateFiles(h);
    }
    close(fd);
}
#endif
