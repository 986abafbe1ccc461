/*
 * tests/programs/ledger.c — a small Windows program whose memory story is
 * known, for `winmem report`'s ledger (tests/e2e/cli_ledger.sh). Built as a
 * mingw PE with -g, so the report can name its functions with file:line.
 *
 *   arena_reserve   reserves 4 MiB (VirtualAlloc MEM_RESERVE)
 *   arena_grow      commits it 64 KiB at a time, 16 times (1 MiB), from a
 *                   helper thread too
 *   jit_compile     commits 64 KiB read-write, writes code, flips it to
 *                   PAGE_EXECUTE_READ (VirtualProtect) — and one page
 *                   PAGE_EXECUTE_READWRITE, the writable+executable memory
 *   leak_buffer     commits 192 KiB and never frees it (held at exit)
 *   map_shared      a 256 KiB pagefile-backed section mapped with
 *                   MapViewOfFile (NtMapViewOfSection), left mapped
 *   heap_grow       HeapAlloc of 1 MiB: Wine's heap grows by a VirtualAlloc
 *                   of its own (RtlAllocateHeap), "HeapAlloc (heap growth)"
 *   bad_free        VirtualFree(MEM_RELEASE) of an address inside the arena:
 *                   fails with ERROR_INVALID_PARAMETER / STATUS_FREE_VM_NOT_AT_BASE
 *   main            releases the arena at the end (its commits are not held)
 */
#include <windows.h>
#include <stdio.h>
#include <string.h>

#define ARENA_SIZE (4u << 20)
#define STEP (64u << 10)

static char *arena;
static size_t arena_used;

static __attribute__((noinline)) char *arena_reserve(void)
{
    return VirtualAlloc(NULL, ARENA_SIZE, MEM_RESERVE, PAGE_NOACCESS);
}

static __attribute__((noinline)) int arena_grow(void)
{
    if (arena_used + STEP > ARENA_SIZE)
        return 0;
    if (!VirtualAlloc(arena + arena_used, STEP, MEM_COMMIT, PAGE_READWRITE))
        return 0;
    memset(arena + arena_used, 0x5a, 16);
    arena_used += STEP;
    return 1;
}

static __attribute__((noinline)) int jit_compile(void)
{
    unsigned char *code = VirtualAlloc(NULL, STEP, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    DWORD old;
    if (!code)
        return 0;
    code[0] = 0xc3;   /* ret */
    if (!VirtualProtect(code, STEP, PAGE_EXECUTE_READ, &old))
        return 0;
    ((void (*)(void))code)();
    /* the last page stays writable and executable: a patch area */
    return VirtualProtect(code + STEP - 4096, 4096, PAGE_EXECUTE_READWRITE, &old) != 0;
}

static __attribute__((noinline)) void *leak_buffer(void)
{
    return VirtualAlloc(NULL, 3 * STEP, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
}

static __attribute__((noinline)) void *map_shared(void)
{
    HANDLE s = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 256u << 10, NULL);
    return s ? MapViewOfFile(s, FILE_MAP_WRITE, 0, 0, 0) : NULL;
}

static __attribute__((noinline)) void *heap_grow(void)
{
    return HeapAlloc(GetProcessHeap(), 0, 1u << 20);
}

static __attribute__((noinline)) BOOL bad_free(void)
{
    return VirtualFree(arena + STEP, 0, MEM_RELEASE);
}

static DWORD WINAPI helper(void *arg)
{
    (void)arg;
    for (int i = 0; i < 4; i++)
        arena_grow();
    return 0;
}

int main(void)
{
    arena = arena_reserve();
    if (!arena)
        return 2;
    for (int i = 0; i < 12; i++)
        arena_grow();
    HANDLE h = CreateThread(NULL, 0, helper, NULL, 0, NULL);
    WaitForSingleObject(h, INFINITE);
    CloseHandle(h);
    if (!jit_compile())
        return 3;
    void *leak = leak_buffer();
    if (!heap_grow())
        return 5;
    if (!map_shared())
        return 6;
    BOOL freed = bad_free();
    printf("ledger: arena=%p used=%u leak=%p bad_free=%d error=%lu\n", (void *)arena, (unsigned)arena_used,
           leak, freed, GetLastError());
    VirtualFree(arena, 0, MEM_RELEASE);
    return freed ? 4 : 0;
}
